"""API calls, rate-limited duration and memory of a full sync round trip on the sandbox.

For N sandbox orders it runs what a seller runs in a day: a sync that imports and accepts the
orders, a packer who types the IMEIs and buys every label, then a sync that notifies Back
Market. It prints, per API:

- the calls made, by endpoint, against the **lower bound** of issue 6: ``ceil(N/50)`` Back
  Market list calls + one accept per distinct SKU of each order to accept + one ship write per
  shipped order (+ one orderline PATCH per device of a multi-line order, which Back Market
  requires); ``ceil(N/100)`` ShipStation upserts, the first run's read of the orders the
  store already holds (a run without a cursor must look before createorders overwrites
  anything), plus the fewest list calls the notify loop needs (shipments, fulfillments and
  the shipped orders' notes, 500 per page) and one store check per run;
- the run's duration on the virtual clock against the bound the rate limits set: Back Market
  about 200 requests per 10 s, ShipStation 40 per minute (the first 40 free); the bound is
  the slower side's, since the two APIs could be worked in parallel;
- 429 responses seen (target 0);
- peak memory (tracemalloc) and the engine's transient share (peak minus what the sandbox
  still holds at the end).

Run::

    .venv/bin/python benchmarks/sync.py            # 1,000 and 10,000 orders
    .venv/bin/python benchmarks/sync.py --orders 500
"""

from __future__ import annotations

import argparse
import math
import time
import tracemalloc
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync import (
    SQLiteStore,
    SyncOptions,
    pack_and_ship,
    run_sync,
    sandbox_config,
)

MB = 1024 * 1024


def lower_bound(sandbox: Sandbox) -> dict[str, int]:
    """The fewest calls a correct sync can make for the sandbox's orders."""
    importable = to_accept = ship_writes = patches = 0
    for order in sandbox.backmarket.orders():
        lines = order.get("orderlines") or []
        states = [line.get("state") for line in lines]
        if order.get("state") not in (1, 3) or all(s in (4, 5, 6, 7) for s in states):
            continue
        importable += 1
        to_accept += len({line["listing"] for line in lines if line.get("state") == 1})
        ship_writes += 1
        if len(lines) > 1:
            patches += sum(
                1
                for line in lines
                if line["id"] in sandbox.backmarket.device_imeis
                or line["id"] in sandbox.backmarket.device_serials
            )
    listed = sandbox.backmarket.order_count
    return {
        "importable": importable,
        "bm_list": math.ceil(listed / 50),
        "bm_accept": to_accept,
        "bm_ship": ship_writes,
        "bm_patch": patches,
        "ss_upsert": math.ceil(importable / 100),
        # A first run has no cursor: before writing it must read what the store already holds
        # (one page per 500 orders, at least one call), or a lost state file would let
        # createorders replace orders the seller has edited since (their IMEIs in the notes).
        "ss_first_run_read": math.ceil(max(len(sandbox.shipstation.orders()), 1) / 500),
        # Each of the two runs polls labels, fulfillments and voided labels once (even when
        # there are none: a label voided after its order was reported must be said, issue 13);
        # the notify run also reads the shipped orders' notes, 500 per page.
        "ss_notify_lists": 2 * 3 + math.ceil(importable / 500),
        # Each run checks its store once before any write (a wrong id must not let it accept
        # orders on Back Market that ShipStation then refuses): one GET /stores, any N.
        "ss_store_check": 2,
        # A run with a cursor and open orders in the store looks for copies the seller
        # deleted (issue 13): one list of the open orders (at least one page) and one of the
        # orders modified since the cursor (those shipped since, 500 per page), never a call
        # per order. Only the second run has a cursor here.
        "ss_deleted_check": 1 + math.ceil(importable / 500),
    }


def run(orders: int, seed: int) -> dict[str, Any]:
    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    sandbox = Sandbox(seed=seed, orders=orders, clock=clock)
    bound = lower_bound(sandbox)
    config = sandbox_config(sandbox)
    # Look back over the sandbox's whole history (up to 120 days), so that every one of the N
    # orders is listed, as the lower bound assumes.
    options = SyncOptions(initial_lookback=timedelta(days=150))

    def transports(_: Any) -> Any:
        return sandbox.backmarket_transport(), sandbox.shipstation_transport()

    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    wall = time.perf_counter()
    virtual_start = clock.monotonic()
    with SQLiteStore(":memory:") as store:
        first = run_sync(config, store=store, options=options, clock=clock, transports=transports)
        sync_1 = clock.monotonic() - virtual_start
        pack_and_ship(sandbox)
        second_start = clock.monotonic()
        second = run_sync(config, store=store, options=options, clock=clock, transports=transports)
        sync_2 = clock.monotonic() - second_start
    wall = time.perf_counter() - wall
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    snapshot = sandbox.counters.snapshot()
    calls: Counter[tuple[str, str]] = Counter()
    status: Counter[tuple[str, str]] = Counter()
    for (api, endpoint, outcome), count in snapshot.items():
        calls[(api, endpoint)] += count
        status[(api, outcome)] += count
    return {
        "orders": orders,
        "bound": bound,
        "calls": calls,
        "status": status,
        "virtual_sync_1": sync_1,
        "virtual_sync_2": sync_2,
        "wall": wall,
        "peak_mb": (peak - baseline) / MB,
        "engine_mb": (peak - current) / MB,
        "reports": (first, second),
    }


def print_result(result: dict[str, Any]) -> None:
    bound = result["bound"]
    calls: Counter[tuple[str, str]] = result["calls"]
    status: Counter[tuple[str, str]] = result["status"]
    bm_calls = sum(c for (api, _), c in calls.items() if api == "backmarket")
    ss_calls = sum(c for (api, _), c in calls.items() if api == "shipstation")
    bm_bound = bound["bm_list"] + bound["bm_accept"] + bound["bm_ship"] + bound["bm_patch"]
    ss_bound = (
        bound["ss_upsert"]
        + bound["ss_first_run_read"]
        + bound["ss_notify_lists"]
        + bound["ss_store_check"]
        + bound["ss_deleted_check"]
    )
    print(f"\n== {result['orders']:,} sandbox orders ({bound['importable']:,} to import) ==")
    for api in ("backmarket", "shipstation"):
        print(f"  {api} calls by endpoint:")
        for (name, endpoint), count in sorted(calls.items()):
            if name == api:
                print(f"    {endpoint:<45} {count:>7,}")
    print(
        f"  Back Market: {bm_calls:,} calls, lower bound {bm_bound:,} "
        f"(list {bound['bm_list']}, accept {bound['bm_accept']}, ship {bound['bm_ship']}, "
        f"patch {bound['bm_patch']}) -> {bm_calls / bm_bound:.3f}x"
    )
    print(
        f"  ShipStation: {ss_calls:,} calls, lower bound {ss_bound:,} "
        f"(upserts {bound['ss_upsert']}, first-run read {bound['ss_first_run_read']}, "
        f"notify lists {bound['ss_notify_lists']}, store check {bound['ss_store_check']}, "
        f"deleted check {bound['ss_deleted_check']}) "
        f"-> {ss_calls / max(ss_bound, 1):.3f}x"
    )
    # Whole windows that must pass: the first 200 (40) requests go at once, each further
    # block of 200 (40) waits for the next 10 s (60 s) window.
    rate_bm = (bm_calls - 1) // 200 * 10
    rate_ss = (ss_calls - 1) // 40 * 60
    bound_s = max(rate_bm, rate_ss)
    duration = result["virtual_sync_1"] + result["virtual_sync_2"]
    print(
        f"  duration on the virtual clock: {duration:,.0f} s "
        f"(import {result['virtual_sync_1']:,.0f} s, notify {result['virtual_sync_2']:,.0f} s); "
        f"rate-limit bound {bound_s:,.0f} s "
        f"(Back Market {rate_bm:,.0f} s, ShipStation {rate_ss:,.0f} s) -> "
        f"{duration / bound_s if bound_s else float('nan'):.2f}x"
    )
    too_many = {api: status[(api, "429")] for api in ("backmarket", "shipstation")}
    print(f"  429 responses: {too_many}")
    print(
        f"  memory: peak {result['peak_mb']:.1f} MB above baseline; engine transient "
        f"{result['engine_mb']:.1f} MB; wall time {result['wall']:.1f} s"
    )
    first, second = result["reports"]
    print("  run 1:", first.to_text().splitlines()[0])
    print("  run 2:", second.to_text().splitlines()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for orders in args.orders:
        print_result(run(orders, args.seed))


if __name__ == "__main__":
    main()
