"""Stock sync on the sandbox: API calls and duration on the virtual clock vs the budget's bound.

    .venv/bin/python benchmarks/stock_sync.py [--listings 5000] [--changed 300]

The seller has ``--listings`` listings; the warehouse source differs from Back Market on
``--changed`` of them (a third sold out, a third down by one, a third up by three). Run 1
reads every listing and writes the changes; run 2, with the same source, must write nothing.
The bound is what the client's own budgets allow at best: the catalog budget (18 requests
per 10 s on listing endpoints) for ``pages + writes`` requests, and the SKU-line budget
(2,000 an hour) for the writes. Prints calls per endpoint, 429s, and the virtual duration
against that bound.
"""

from __future__ import annotations

import argparse
import math
import time

from backmarket_shipstation.backmarket import BackMarketClient
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync.stock import sync_stock
from backmarket_shipstation.sync.store import SQLiteStore

CATALOG_PER_10S = 18
SKU_LINES_PER_HOUR = 2000


def bound_seconds(requests: int, writes: int) -> float:
    """The least virtual time ``requests`` catalog requests and ``writes`` SKU lines need."""
    catalog = max(0, math.ceil(requests / CATALOG_PER_10S) - 1) * 10.0
    lines = max(0, math.ceil(writes / SKU_LINES_PER_HOUR) - 1) * 3600.0
    return max(catalog, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=5000)
    parser.add_argument("--changed", type=int, default=300)
    args = parser.parse_args()

    box = Sandbox(
        seed=7, orders=0, clock=VirtualClock(), backmarket_options={"listings": args.listings}
    )
    desk = box.backmarket.listings
    quantities = desk.quantities()
    source = dict(quantities)
    stocked = sorted(sku for sku, q in quantities.items() if q >= 2)[: args.changed]
    third = len(stocked) // 3
    for index, sku in enumerate(stocked):
        kind = 0 if index < third else 1 if index < 2 * third else 2
        source[sku] = (0, quantities[sku] - 1, quantities[sku] + 3)[kind]

    with (
        SQLiteStore(":memory:") as store,
        BackMarketClient(
            token=box.backmarket_token,
            user_agent=box.backmarket_user_agent,
            transport=box.backmarket_transport(),
            clock=box.clock,
        ) as bm,
    ):
        for run in (1, 2):
            box.counters.reset()
            started, wall = box.clock.monotonic(), time.perf_counter()
            report = sync_stock(bm, source, store)
            virtual = box.clock.monotonic() - started
            wall = time.perf_counter() - wall
            calls = box.counters.by_endpoint(api="backmarket")
            pages = calls.get("GET /ws/listings", 0)
            writes = calls.get("POST /ws/listings/{id}", 0)
            bound = bound_seconds(pages + writes, writes)
            ratio = virtual / bound if bound else float("nan")
            downs_first = all(
                a.kind != "up" or b.kind == "up"
                for a, b in zip(report.written, report.written[1:], strict=False)
            )
            print(
                f"run {run}: {args.listings} listings, {len(report.planned)} planned, "
                f"{len(report.written)} written, {len(report.deferred)} deferred, "
                f"decreases first: {downs_first}"
            )
            print(f"  calls: {dict(sorted(calls.items()))}, total {sum(calls.values())}")
            print(f"  429s: {box.counters.count(api='backmarket', outcome='429')}")
            print(
                f"  virtual duration {virtual:.1f} s, bound {bound:.1f} s "
                f"({pages + writes} catalog requests at {CATALOG_PER_10S}/10 s, {writes} SKU "
                f"lines at {SKU_LINES_PER_HOUR}/h): {ratio:.3f}x; wall {wall:.2f} s"
            )


if __name__ == "__main__":
    main()
