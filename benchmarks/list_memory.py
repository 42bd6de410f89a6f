"""Memory while iterating 100,000 Back Market orders with the SDK's lazy paginator.

A BackMarketClient walks ``client.orders.list()`` (50 orders a page, 2,000 pages) against the
sandbox's Back Market simulator, in-process, on a VirtualClock (the 180-per-10-s throttle
waits cost no real time), parsing every order into its model and dropping it. The growth is
the resident set's peak minus the resident set after the first page (so imports, the
generated sandbox and the first model parse are the baseline); the sandbox serving in the
same process is counted in the growth too, so the figure is an upper bound for the SDK
(target: under 30 MB). The resident set is also sampled every 200 pages to show that it is
flat, not climbing. ``--tracemalloc`` adds the Python allocations' peak (about ten times
slower).

    .venv/bin/python benchmarks/list_memory.py [--orders 100000] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from datetime import datetime, timezone

from sandbox_memory import MB, peak_rss_mb

from backmarket_shipstation.backmarket import BackMarketClient
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox


def rss_mb() -> float:
    """The current resident set (Linux: /proc/self/statm; elsewhere the peak)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * resource.getpagesize() / MB
    except OSError:
        return peak_rss_mb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()

    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    sandbox = Sandbox(seed=0, orders=args.orders, clock=clock)
    listed = sandbox.backmarket.order_count
    with BackMarketClient(
        token=sandbox.backmarket_token,
        user_agent=sandbox.backmarket_user_agent,
        transport=sandbox.backmarket_transport(),
        clock=clock,
    ) as client:
        pages = client.orders.list()
        orders = iter(pages)
        count = 0
        for _ in range(50):  # the first page: baseline after it
            if next(orders, None) is not None:
                count += 1
        baseline = rss_mb()
        if args.tracemalloc:
            tracemalloc.start()
        samples = [baseline]
        started = time.perf_counter()
        for _order in orders:
            count += 1
            if count % (200 * 50) == 0:
                samples.append(rss_mb())
        wall = time.perf_counter() - started
        traced_peak = tracemalloc.get_traced_memory()[1] / MB if args.tracemalloc else None
        tracemalloc.stop()
    peak = peak_rss_mb()
    print(f"Back Market list iteration: {count:,} orders parsed ({listed:,} in the sandbox)")
    print(f"  wall time                 {wall:,.1f} s ({count / wall:,.0f} orders/s)")
    print(f"  virtual time (throttle)   {clock.slept:,.0f} s")
    print(f"  resident set after page 1 {baseline:,.1f} MB")
    print(f"  resident set, peak        {peak:,.1f} MB")
    print(f"  growth                    {peak - baseline:,.1f} MB (target < 30 MB)")
    print("  samples every 200 pages   " + " ".join(f"{s:.0f}" for s in samples))
    if traced_peak is not None:
        print(f"  tracemalloc peak          {traced_peak:,.1f} MB of Python allocations")


if __name__ == "__main__":
    main()
