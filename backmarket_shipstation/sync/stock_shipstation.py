"""ShipStation's V2 inventory as a stock source for :func:`~.stock.sync_stock`.

``shipstation_stock_source(v2)`` is a :class:`~.stock.StockSource`: each call reads
``GET /v2/inventory`` (grouped by warehouse, every page) and returns ``{sku: available}``,
summed over the account's inventory warehouses, or for the one given. ``available`` is
ShipStation's own figure: on hand minus what is allocated to open orders, so a unit already
sold on another channel and waiting to ship is not offered again on Back Market.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..shipstation.inventory import ShipStationInventoryClient

__all__ = ["shipstation_stock_source"]


class _ShipStationSource:
    def __init__(self, client: ShipStationInventoryClient, warehouse_id: str | None) -> None:
        self.client = client
        self.warehouse_id = warehouse_id

    def __repr__(self) -> str:
        where = f", inventory_warehouse_id={self.warehouse_id!r}" if self.warehouse_id else ""
        return f"shipstation_stock_source({self.client!r}{where})"

    def __call__(self) -> Mapping[str, int]:
        return self.client.inventory.available(inventory_warehouse_id=self.warehouse_id)


def shipstation_stock_source(
    client: ShipStationInventoryClient, *, inventory_warehouse_id: str | None = None
) -> _ShipStationSource:
    """A stock source reading ShipStation V2's available quantities on each call."""
    return _ShipStationSource(client, inventory_warehouse_id)
