"""What sharing rate budgets through the PostgreSQL state costs, and what it buys.

Two parts:

1. **The cost of a shared reservation**: a limiter whose state is a row of the PostgreSQL state
   (``SELECT ... FOR UPDATE``, the limiter's logic, ``UPDATE``, ``COMMIT``), timed over many
   reservations, against the same limiter in the process's memory; then with several
   connections (as processes) reserving on one key at once, which queue on its row lock.
   A ShipStation request costs two updates (its reservation, and the observation of the
   answer's ``X-Rate-Limit-*`` headers).
2. **N real processes on one ShipStation key pair** against the served sandbox, whose
   ShipStation enforces ``--limit`` calls per fixed window of ``--window`` seconds per key pair
   and answers 429 beyond (ShipStation: 40 per 60 s; 40 per 10 s here, so that windows pass
   in seconds, the clients learning the window from ``X-Rate-Limit-Reset`` as they would
   ShipStation's minute). The processes make ``--total`` requests between them. Printed:
   429s, calls given up after the retry policy's attempts, the budget used in each window
   while work waited (every window but the last), and the duration
   against the bound the budget sets; once with the budget shared through PostgreSQL, once
   with each process limiting itself (today's behaviour without the store).

PostgreSQL is a throw-away local server (tests/postgres_server.py: loopback, no fsync), so the
figures are a local socket's round trips; ``--postgres URL`` measures a server of yours (its
``backmarket_shipstation`` schema is dropped first: give it an empty database).

Run::

    .venv/bin/python benchmarks/shared_budgets.py
    .venv/bin/python benchmarks/shared_budgets.py --processes 1 2 3 4 --total 160
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from _test_servers import load_test_server

from backmarket_shipstation._http import HeaderDrivenLimiter, SharedState, SlidingWindowLimiter
from backmarket_shipstation.clock import SystemClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync.postgres_rate_limits import PostgresRateLimitStore

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "sync" / "shared_budget_worker.py"


def reservation_cost(url: str, rounds: int) -> None:
    clock = SystemClock()
    local = SlidingWindowLimiter(clock, limit=10**9, window=10.0)
    started = time.perf_counter()
    for _ in range(rounds):
        local.reserve()
    local_us = (time.perf_counter() - started) / rounds * 1e6
    store = PostgresRateLimitStore(url)
    # A huge limit: the reservations never wait, so the loop measures the store only; a
    # window of 0.05 s keeps the record as small as a busy Back Market token's (~180 slots).
    shared = SlidingWindowLimiter(
        clock, limit=10**9, window=0.05, shared=SharedState(store, "bench:cost")
    )
    shared.reserve()  # the row exists, the connection is open
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(rounds):
            shared.reserve()
        best = min(best, (time.perf_counter() - started) / rounds)
    ss = HeaderDrivenLimiter(clock, limit=10**9, shared=SharedState(store, "bench:ss"))
    headers = _headers()
    started = time.perf_counter()
    for _ in range(rounds):
        ss.reserve()
        ss.observe(200, headers)
    per_request = (time.perf_counter() - started) / rounds
    store.close()
    print("Cost of a shared reservation (one process, one connection, best of 3)")
    print(f"  in-process limiter          {local_us:8.1f} µs per reservation")
    print(f"  PostgreSQL row FOR UPDATE   {best * 1000:8.3f} ms per reservation")
    print(f"  ShipStation request (2 ups) {per_request * 1000:8.3f} ms per request")
    for connections in (2, 4, 8):
        total, seconds = contended(url, connections, rounds // connections)
        print(
            f"  {connections} connections on one key  {seconds / total * 1000:8.3f} ms per"
            f" reservation overall ({total / seconds:,.0f} reservations/s)"
        )


def _headers() -> Any:
    import httpx

    return httpx.Headers(
        {"X-Rate-Limit-Limit": "40", "X-Rate-Limit-Remaining": "39", "X-Rate-Limit-Reset": "59"}
    )


def contended(url: str, connections: int, each: int) -> tuple[int, float]:
    clock = SystemClock()
    stores = [PostgresRateLimitStore(url) for _ in range(connections)]
    limiters = [
        SlidingWindowLimiter(
            clock, limit=10**9, window=0.05, shared=SharedState(store, "bench:race")
        )
        for store in stores
    ]
    for limiter in limiters:
        limiter.reserve()
    barrier = threading.Barrier(connections)

    def run(limiter: SlidingWindowLimiter) -> None:
        barrier.wait()
        for _ in range(each):
            limiter.reserve()

    threads = [threading.Thread(target=run, args=(limiter,)) for limiter in limiters]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    for store in stores:
        store.close()
    return connections * each, seconds


def processes(url: str, count: int, calls: int, limit: int, window: float, shared: bool) -> None:
    sandbox = Sandbox(
        orders=0, shipstation_options={"rate_limit": limit, "rate_window_seconds": window}
    )
    with sandbox.serve(deliver_webhooks=False) as served:
        start = time.time() + 3.0  # every worker imported and connected by then
        # The sandbox's windows are fixed on its monotonic clock: where the work begins in one.
        begins = time.monotonic() + (start - time.time())
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(WORKER),
                    "shipstation",
                    url if shared else "-",
                    served.shipstation_url,
                    sandbox.shipstation_api_key,
                    sandbox.shipstation_api_secret,
                    str(calls),
                    str(start),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        results = [json.loads(proc.communicate(timeout=600)[0]) for proc in procs]
    seen = {
        round(begin / window): (admitted, refused)
        for begin, admitted, refused in sandbox.shipstation.rate_windows()
    }
    first, last = min(seen), max(seen)
    admitted = [seen.get(i, (0, 0))[0] for i in range(first, last + 1)]
    refused = sum(r for _, r in seen.values())
    failed = sum(r["failed"] for r in results)
    total = count * calls
    waited = admitted[:-1]  # work waited through every window but the last
    used = sum(waited) / (limit * len(waited)) if waited else 1.0
    # From the agreed start to the last call's answer (a worker that woke late still counts).
    duration = max(r["finished"] for r in results) - start
    # The first window's calls go at once, the next at the start of each following window:
    # the bound is the start of the window of the last call (the rest of the first window,
    # then whole ones).
    rest = math.ceil(begins / window) * window - begins
    windows = math.ceil(total / limit)
    bound = 0.0 if windows == 1 else rest + (windows - 2) * window
    ratio = duration / bound if bound else float("nan")
    print(
        f"  {count} process{'es' if count > 1 else '  '} {'shared' if shared else 'own   '}"
        f"  {total:4d} calls  429s {refused:3d}  lost {failed:2d}  budget used {used:6.1%} "
        f"({'/'.join(map(str, admitted))})  {duration:5.1f} s vs bound {bound:4.1f} s"
        f" ({ratio:.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="a libpq URL of an empty database of yours")
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--total", type=int, default=120, help="requests, split between processes")
    parser.add_argument("--limit", type=int, default=40, help="ShipStation calls per window")
    parser.add_argument("--window", type=float, default=10.0, help="ShipStation window (s)")
    args = parser.parse_args()
    server = None
    if args.postgres:
        url = args.postgres
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:
            db.execute("DROP SCHEMA IF EXISTS backmarket_shipstation CASCADE")
    else:
        server = load_test_server("postgres_server").start_server()
        url = server.fresh_state()
    try:
        reservation_cost(url, args.rounds)
        print()
        print(
            f"N processes on one ShipStation key pair ({args.limit} calls per {args.window:g} s"
            f" window, {args.total} calls split between them)"
        )
        for count in args.processes:
            for shared in (True, False):
                calls = math.ceil(args.total / count)
                processes(url, count, calls, args.limit, args.window, shared)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
