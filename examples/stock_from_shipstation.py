"""Stock from ShipStation's V2 inventory to the Back Market listings.

    .venv/bin/python examples/stock_from_shipstation.py

On the built-in sandbox: ShipStation's inventory holds the stock of every listed SKU (two
warehouses, units allocated to open orders); three things happen there (a sell-out on another
channel, units arriving in a second warehouse, a unit received and allocated to an order at
once, which leaves what can be sold as it was); ``sync_stock`` with ``shipstation_stock_source``
writes the two that change the available quantity, the sell-out first, and a second run
writes nothing.
"""

from __future__ import annotations

from backmarket_shipstation.backmarket import BackMarketClient
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.shipstation import ShipStationInventoryClient
from backmarket_shipstation.sync.stock import sync_stock
from backmarket_shipstation.sync.stock_shipstation import shipstation_stock_source
from backmarket_shipstation.sync.store import SQLiteStore


def main() -> None:
    box = Sandbox(seed=5, orders=0, clock=VirtualClock(), backmarket_options={"listings": 30})
    quantities = box.backmarket.listings.quantities()
    inventory = box.shipstation_inventory
    inventory.seed_from(quantities)  # ShipStation and Back Market agree to start with
    skus = sorted(quantities)
    inventory.set_stock(skus[0], 1, allocated=1)  # its last unit sold on another channel
    inventory.set_stock(skus[1], quantities[skus[1]] + 5, warehouse_id="se-200")  # 2nd warehouse
    inventory.set_stock(skus[2], quantities[skus[2]] + 1, allocated=1)  # same available
    bm = BackMarketClient(
        token=box.backmarket_token,
        user_agent=box.backmarket_user_agent,
        transport=box.backmarket_transport(),
        clock=box.clock,
    )
    v2 = ShipStationInventoryClient(
        api_key=box.shipstation_v2_api_key,
        transport=box.shipstation_v2_transport(),
        clock=box.clock,
    )
    with bm, v2, SQLiteStore(":memory:") as store:
        source = shipstation_stock_source(v2)
        for run in (1, 2):
            report = sync_stock(bm, source, store)
            print(f"run {run}: {report.listings} listings, {len(report.written)} written")
            for change in report.written:
                print(f"  {change.kind:<7} {change.sku}: {change.current} -> {change.target}")
    calls = box.counters.count(api="shipstation_v2")
    print(f"ShipStation V2 calls: {calls}, 429s: {box.counters.count(outcome='429')}")


if __name__ == "__main__":
    main()
