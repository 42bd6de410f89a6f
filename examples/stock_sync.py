"""Stock sync: push the warehouse's available quantities to Back Market, only what changed.

    .venv/bin/python examples/stock_sync.py

Runs on the built-in sandbox (1,000 listings, virtual time, no credentials):

1. the warehouse exports a CSV (``sku,available``) in which 30 quantities differ from Back
   Market's: 10 sold out, 10 down, 10 up;
2. ``sync_stock`` writes exactly those 30, sell-outs and decreases first, within the hourly
   SKU-line budget, and remembers them in the state file;
3. an order on Back Market lowers a listing by itself; the next run, with the same file,
   writes nothing (it does not put the sold unit back on sale);
4. the listings client directly: one listing by SKU, its German price, a CSV batch and the
   task's per-SKU result.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from backmarket_shipstation.backmarket import BackMarketClient
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync import SQLiteStore
from backmarket_shipstation.sync.stock import file_stock_source, sync_stock


def main() -> None:
    sandbox = Sandbox(
        seed=4, orders=20, clock=VirtualClock(), backmarket_options={"listings": 1000}
    )
    listings = sandbox.backmarket.listings
    bm = BackMarketClient(
        token=sandbox.backmarket_token,
        user_agent=sandbox.backmarket_user_agent,
        transport=sandbox.backmarket_transport(),
        clock=sandbox.clock,
    )
    with bm, tempfile.TemporaryDirectory() as tmp:
        # 1. The warehouse's numbers.
        warehouse = listings.quantities()
        stocked = sorted(sku for sku, quantity in warehouse.items() if quantity >= 2)[:30]
        for n, sku in enumerate(stocked):
            warehouse[sku] = 0 if n < 10 else warehouse[sku] - 1 if n < 20 else warehouse[sku] + 2
        stock_file = Path(tmp) / "stock.csv"
        stock_file.write_text(
            "sku,available\n" + "".join(f"{sku},{q}\n" for sku, q in warehouse.items()), "utf-8"
        )
        source = file_stock_source(stock_file)

        with SQLiteStore(Path(tmp) / "state.sqlite3") as store:
            # 2. The first run: the 30 changes, sell-outs first.
            started = sandbox.clock.monotonic()
            report = sync_stock(bm, source, store)
            print(
                f"run 1: {report.listings} listings read, {len(report.written)} written "
                f"in {sandbox.clock.monotonic() - started:.0f} s (virtual), "
                f"{len(report.deferred)} deferred"
            )
            for change in report.written[:3]:
                print(f"  {change.kind:<7} {change.sku}: {change.current} -> {change.target}")
            assert [c.kind for c in report.written[:10]] == ["to_zero"] * 10
            assert listings.quantities() == warehouse

            # 3. A sale on Back Market, not yet in the warehouse file.
            order = sandbox.backmarket.new_order()
            sold = order["orderlines"][0]["listing"]
            print(f"an order sells {sold}: Back Market now shows {listings.quantities()[sold]}")
            again = sync_stock(bm, source, store)
            print(f"run 2 (same file): {len(again.written)} written")
            assert again.written == ()

        # 4. The listings client.
        listing = bm.listings.get_by_sku(stocked[-1])
        german = bm.listings.get(listing.id, market="de-de")
        print(f"{listing.sku}: {listing.quantity} in stock, {german.price} {german.currency} in DE")
        bm.listings.edit(listing.id, price="219.00", market="de-de")
        task = bm.listings.batch([{"sku": stocked[-1], "price": "229.00"}, {"sku": "NO-SUCH"}])
        outcome = bm.tasks.wait(task.task_id)
        print(f"batch task {task.task_id}: {outcome.outcome} after {outcome.polls} polls")
        for line in outcome.skus:
            print(f"  {line.sku}: {'ok' if line.ok else line.message}")
        print(f"requests: {sandbox.counters.total}, 429s: {sandbox.counters.count(outcome='429')}")


if __name__ == "__main__":
    main()
