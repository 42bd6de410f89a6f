"""Memory and time of a sandbox serving 100,000 Back Market orders (target: under 500 MB).

Generates the orders, serves them over loopback, lists every page (page-size 50), reads
1,000 orders one by one, and accepts then ships 500 orders (changed orders are the only ones
kept as full dicts). Prints the time to generate, the request rate, and the memory: the
process's peak resident set (resource.getrusage) and the Python allocations of the sandbox
traced by tracemalloc. tracemalloc slows Python code about tenfold, so by default it traces
the generation only; ``--trace-all`` traces the whole run (slow, but the peak covers serving).

    .venv/bin/python benchmarks/sandbox_memory.py [--orders 100000] [--in-process] [--trace-all]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc

import httpx

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import OrderGenerator, Sandbox

MB = 1024 * 1024


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / MB if sys.platform == "darwin" else peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--in-process", action="store_true", help="no sockets")
    parser.add_argument("--trace-all", action="store_true", help="tracemalloc the whole run")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {args.orders:,} orders, seed {args.seed}")
    rss_start = peak_rss_mb()
    started = time.perf_counter()
    generator = OrderGenerator(args.seed, args.orders, VirtualClock().now())
    summaries = time.perf_counter() - started
    started = time.perf_counter()
    orderlines = sum(len(order["orderlines"]) for order in generator)
    building = time.perf_counter() - started
    print(
        f"generate          {summaries:8.2f} s   summaries of {args.orders:,} orders (untraced)\n"
        f"build every dict  {building:8.2f} s   {args.orders:,} orders, {orderlines:,} lines, "
        f"one at a time ({args.orders / building:,.0f} orders/s; the sandbox builds on demand)"
    )
    del generator
    tracemalloc.start()
    started = time.perf_counter()
    # The rate limit is off: this measures the sandbox, not a client's pacing.
    sandbox = Sandbox(
        seed=args.seed,
        orders=args.orders,
        clock=VirtualClock(),
        backmarket_options={"rate_limit": None},
    )
    generated = time.perf_counter() - started
    after_generation, generation_peak = tracemalloc.get_traced_memory()
    print(
        f"sandbox           {generated:8.2f} s   sandbox holds {after_generation / MB:.1f} MB "
        f"(peak {generation_peak / MB:.1f} MB, traced; generation is ~10x faster untraced)"
    )
    if not args.trace_all:
        tracemalloc.stop()

    served = None
    if args.in_process:
        client = httpx.Client(
            base_url=sandbox.backmarket_base_url,
            transport=sandbox.backmarket_transport(),
            headers=sandbox.backmarket_headers,
        )
    else:
        served = sandbox.serve(deliver_webhooks=False)
        client = httpx.Client(base_url=served.backmarket_url, headers=sandbox.backmarket_headers)

    with client:
        started = time.perf_counter()
        listed: list[int] = []
        url: str | None = "/ws/orders?page-size=50"
        while url:
            page = client.get(url).json()
            listed += [order["order_id"] for order in page["results"]]
            url = page["next"]
        listing = time.perf_counter() - started
        pages = -(-len(listed) // 50)
        print(
            f"list all pages    {listing:8.2f} s   {len(listed):,} orders in {pages:,} pages "
            f"({pages / listing:,.0f} pages/s)"
        )

        rng = random.Random(args.seed)
        started = time.perf_counter()
        for order_id in rng.sample(listed, min(1000, len(listed))):
            client.get(f"/ws/orders/{order_id}").raise_for_status()
        reading = time.perf_counter() - started
        print(f"read 1,000        {reading:8.2f} s   ({1000 / reading:,.0f} requests/s)")

        started = time.perf_counter()
        to_accept = client.get("/ws/orders", params={"state": 1, "page-size": 50}).json()
        written = 0
        page_number = 1
        while written < 500 and to_accept["results"]:
            for order in to_accept["results"]:
                for sku in {line["listing"] for line in order["orderlines"] if line["state"] == 1}:
                    client.post(
                        f"/ws/orders/{order['order_id']}",
                        json={"order_id": order["order_id"], "new_state": 2, "sku": sku},
                    ).raise_for_status()
                client.post(
                    f"/ws/orders/{order['order_id']}",
                    json={"order_id": order["order_id"], "new_state": 3, "tracking_number": "1"},
                ).raise_for_status()
                written += 1
            page_number += 1
            to_accept = client.get(
                "/ws/orders", params={"state": 1, "page-size": 50, "page": page_number}
            ).json()
        writing = time.perf_counter() - started
        print(f"accept+ship {written:<5} {writing:8.2f} s")

    if served is not None:
        served.stop()
    if args.trace_all:
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"traced now        {current / MB:8.1f} MB")
        print(f"traced peak       {peak / MB:8.1f} MB   (target: under 500 MB)")
    print(
        f"peak RSS          {peak_rss_mb():8.1f} MB   (interpreter and imports: {rss_start:.1f} MB)"
    )
    print(f"requests          {sandbox.counters.total:,}: {sandbox.counters.by_outcome()}")


if __name__ == "__main__":
    main()
