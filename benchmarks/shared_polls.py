"""ShipStation calls per cycle for K accounts on one key pair: shared polls against per-store.

On the agency sandbox (one simulated ShipStation account, one store per seller, one key
pair; each seller its own Back Market account of N orders), it runs a day: a cycle that
imports and accepts every order, the packers buy every label, then a cycle that reports them.
It prints, for each K, the ShipStation calls of each cycle by endpoint and against the bound
of issue 15: ⌈new orders / 100⌉ createorders + the list pages (500 a page) + a constant that
does not grow with K; with ``--compare``, the same day with every account polling its own
store (``share_polls=False``), as before.

By default the accounts run one after another (``--parallel 1``): each sends its own
createorders batches (⌈its orders / 100⌉), the one line that then grows with K. With
``--parallel N`` they run N at a time and their partial batches combine across accounts.

Run::

    .venv/bin/python benchmarks/shared_polls.py                    # K = 1, 10, 50; 200 orders
    .venv/bin/python benchmarks/shared_polls.py --accounts 10 --orders 200 --compare
    .venv/bin/python benchmarks/shared_polls.py --accounts 10 50 --parallel 8
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox.agency import AgencySandbox
from backmarket_shipstation.sync import SQLiteStore, run_sync

UPSERT = "POST /orders/createorders"
_LOOKBACK = timedelta(days=150)
"""Every generated order is listed (the sandbox's history spans up to 120 days)."""


def _calls(agency: AgencySandbox, before: dict[str, int]) -> Counter[str]:
    now = agency.key_pairs[0].counters.by_endpoint(api="shipstation")
    return Counter({k: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0)})


def day(accounts: int, orders: int, *, shared: bool, seed: int, parallel: int) -> dict[str, Any]:
    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    agency = AgencySandbox(
        accounts=accounts, orders_per_account=orders, seed=seed, clock=clock, shared_key_pair=True
    )
    counters = agency.key_pairs[0].counters
    wall = time.perf_counter()
    cycles: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = agency.config(str(Path(tmp) / "state.sqlite3"), initial_lookback=_LOOKBACK)
        with SQLiteStore(config.state_path) as store:
            for step in ("import", "notify"):
                if step == "notify":
                    agency.pack()
                    clock.advance(300)
                before = counters.by_endpoint(api="shipstation")
                started = clock.monotonic()
                report = run_sync(
                    config,
                    store=store,
                    clock=clock,
                    transports=agency.transports,
                    share_polls=shared,
                    parallel=parallel,
                )
                cycles.append(
                    {
                        "step": step,
                        "calls": _calls(agency, before),
                        "seconds": clock.monotonic() - started,
                        "imported": sum(a.imported for a in report.accounts),
                        "notified": sum(a.notified for a in report.accounts),
                        "failed": sum(a.failed for a in report.accounts),
                    }
                )
    check = agency.check()
    return {
        "accounts": accounts,
        "orders": orders,
        "shared": shared,
        "parallel": parallel,
        "stalls": clock.stalls,
        "cycles": cycles,
        "check": check,
        "wall": time.perf_counter() - wall,
    }


def bound(cycle: dict[str, Any], in_shipstation: int) -> tuple[int, str]:
    """⌈new orders / 100⌉ + list pages + the constant, for one cycle of the day."""
    upserts = math.ceil(cycle["imported"] / 100)
    pages = max(1, math.ceil(in_shipstation / 500))
    if cycle["step"] == "import":
        # the store check; the first run's read of what the stores hold (pages); the label,
        # voided-label and fulfillment polls (nothing shipped yet: one call each)
        constant = 1 + 3
        text = f"{upserts} upserts + {pages} pages + {constant}"
        return upserts + pages + constant, text
    # the store check; the deleted-copies check (the open orders, the orders modified:
    # pages each); the label poll and the shipped orders' notes (pages each); the voided
    # labels and the fulfillments (one call each)
    constant = 1 + 2
    text = f"{upserts} upserts + 4 x {pages} pages + {constant}"
    return upserts + 4 * pages + constant, text


def print_day(result: dict[str, Any]) -> None:
    mode = "shared polls" if result["shared"] else "every account polls its store"
    print(
        f"\n== K = {result['accounts']} accounts x {result['orders']} orders, {mode}, "
        f"parallel {result['parallel']} =="
    )
    in_shipstation = result["check"].orders_in_shipstation
    for cycle in result["cycles"]:
        calls: Counter[str] = cycle["calls"]
        total = sum(calls.values())
        limit, text = bound(cycle, in_shipstation)
        print(
            f"  {cycle['step']} cycle: {total} ShipStation calls "
            f"(bound {limit} = {text}; {total / limit:.2f}x), "
            f"{cycle['imported']} imported, {cycle['notified']} notified, "
            f"{cycle['failed']} failed, {cycle['seconds']:,.0f} s on the virtual clock"
        )
        for endpoint, count in sorted(calls.items()):
            print(f"      {endpoint:<32} {count:>5}")
        polls = total - calls.get(UPSERT, 0)
        print(f"      all but createorders       {polls:>5}")
    check = result["check"]
    print(
        f"  check: {'ok' if check.ok else 'VIOLATIONS'}; {check.orders_in_shipstation} orders "
        f"in ShipStation, {check.ship_writes} ship writes for {check.to_ship} shipped, "
        f"{check.rate_limited} x 429; clock stalls {result['stalls']}; "
        f"wall {result['wall']:.1f} s"
    )
    for problem in check.violations[:5]:
        print("   ", problem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="*", default=[1, 10, 50])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parallel", type=int, default=1, help="accounts at a time")
    parser.add_argument(
        "--compare", action="store_true", help="also run every account on its own polls"
    )
    args = parser.parse_args()
    for accounts in args.accounts:
        print_day(day(accounts, args.orders, shared=True, seed=args.seed, parallel=args.parallel))
        if args.compare and accounts > 1:
            print_day(
                day(accounts, args.orders, shared=False, seed=args.seed, parallel=args.parallel)
            )


if __name__ == "__main__":
    main()
