"""How an account is synced: :class:`SyncOptions`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

import attrs

from ..mapping import (
    DEFAULT_CARRIER_MAP,
    DEFAULT_STATUS_MAP,
    CarrierMap,
    Catalog,
    CatalogProduct,
    IdentifiableLine,
    StatusMap,
    as_catalog,
    device_lines,
)
from .catalog import CatalogSource


def _catalog(
    value: Mapping[str, CatalogProduct] | CatalogSource | None,
) -> Catalog | CatalogSource | None:
    if isinstance(value, CatalogSource):
        return value
    return as_catalog(value)


__all__ = ["SyncOptions"]


@attrs.frozen(kw_only=True)
class SyncOptions:
    """How an account is synced. The defaults are those of ShipStation's own connector."""

    accept_orders: bool = True
    """Accept new orders on Back Market as they are imported (orders not accepted in time
    are lost). Turn off if you accept them in the Back Market back office."""
    overlap: timedelta = timedelta(minutes=10)
    initial_lookback: timedelta = timedelta(days=14)
    status_map: StatusMap = DEFAULT_STATUS_MAP
    catalog: Catalog | CatalogSource | None = attrs.field(default=None, converter=_catalog)
    """SKU → unit weight, stock location and extra item options: any mapping (kept as a
    :class:`~backmarket_shipstation.mapping.Catalog`, matched in any case in one lookup), or
    a source read at the start of each run, such as
    :class:`~backmarket_shipstation.sync.catalog.ShipStationCatalog` (the account's product
    records) or :func:`~backmarket_shipstation.sync.catalog.load_catalog` for a file."""
    carrier_map: CarrierMap = DEFAULT_CARRIER_MAP
    requires_identifier: Callable[[IdentifiableLine], bool] = device_lines
    """Which quantity-1 lines need an IMEI or serial number: by default every line but those
    whose title names an accessory (see :func:`~backmarket_shipstation.mapping.device_lines`)."""
    notify_fulfillments: bool = True
    """Also report orders marked as shipped without a label (ShipStation fulfillments)."""
    dry_run: bool = False
    """Read everything, write nothing: the report lists the writes that would be made."""
    lease_expiry: timedelta = timedelta(seconds=60)
    """How long the account's lease lasts unless renewed. A run renews it every third of
    this while it works; a run that died is taken over this long after its last renewal, and
    a run paused (or stalled) for longer loses the account and writes nothing more."""
    lease_wait: timedelta = timedelta(0)
    """How long a run waits for an account another run holds; after that it skips it."""
    order_key_prefix: str = "backmarket-"
    """``orderKey`` = prefix + Back Market order id. Give each account its own prefix (say
    ``"backmarket-us-"``) when several Back Market accounts feed one ShipStation account:
    order ids of different platforms may collide, and ShipStation upserts on the key."""
