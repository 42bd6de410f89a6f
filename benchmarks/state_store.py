"""What the PostgreSQL state store costs against SQLite, on a seller's day of N sandbox orders.

The same day as benchmarks/sync.py (a sync that imports and accepts, the packer buys every
label, a sync that notifies Back Market), once on a SQLite file and once on a PostgreSQL
database, with the APIs simulated in-process on a virtual clock: so the wall time is the
engine's and the store's own, never the rate limits'. Every call the engine makes to the store
goes through a meter that counts it and times it (a transaction: its BEGIN and its COMMIT,
not the work inside). It prints, per store:

- store calls per order, and by method;
- time inside the store per order, and the whole day's wall time per order;
- the API calls (the same on both stores: the store changes nothing the APIs see).

PostgreSQL is a throw-away local server (initdb in a temporary directory, loopback, no fsync:
tests/postgres_server.py), so its figures are the round trips of a local socket, the least a
database on another host adds; ``--postgres URL`` measures a server of yours instead (its
``backmarket_shipstation`` schema is dropped first: give it an empty database).

Run::

    .venv/bin/python benchmarks/state_store.py                 # 10,000 orders
    .venv/bin/python benchmarks/state_store.py --orders 1000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from _test_servers import load_test_server

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync import (
    SyncOptions,
    open_store,
    pack_and_ship,
    run_sync,
    sandbox_config,
)


class Metered:
    """A store whose every call is counted and timed."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr
        if name == "transaction":
            return self._transaction
        meter = self

        def call(*args: Any, **kwargs: Any) -> Any:
            meter.calls[name] += 1
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                meter.seconds += time.perf_counter() - started

        return call

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.calls["transaction"] += 1
        started = time.perf_counter()
        manager = self._inner.transaction()
        manager.__enter__()
        self.seconds += time.perf_counter() - started
        try:
            yield
        except BaseException:
            started = time.perf_counter()
            manager.__exit__(*sys.exc_info())
            self.seconds += time.perf_counter() - started
            raise
        started = time.perf_counter()
        manager.__exit__(None, None, None)
        self.seconds += time.perf_counter() - started


def day(orders: int, seed: int, state: str) -> dict[str, Any]:
    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    sandbox = Sandbox(seed=seed, orders=orders, clock=clock)
    config = sandbox_config(sandbox, state_path=state)
    options = SyncOptions(initial_lookback=timedelta(days=150))

    def transports(_: Any) -> Any:
        return sandbox.backmarket_transport(), sandbox.shipstation_transport()

    with open_store(state) as inner:
        store = Metered(inner)
        wall = time.perf_counter()
        first = run_sync(config, store=store, options=options, clock=clock, transports=transports)
        pack_and_ship(sandbox)
        clock.advance(3600)
        second = run_sync(config, store=store, options=options, clock=clock, transports=transports)
        wall = time.perf_counter() - wall
    api = sum(sandbox.counters.snapshot().values())
    return {
        "store": store,
        "wall": wall,
        "api_calls": api,
        "reports": (first, second),
    }


def print_result(name: str, orders: int, result: dict[str, Any]) -> None:
    store: Metered = result["store"]
    calls = sum(store.calls.values())
    first, second = result["reports"]
    imported = sum(account.imported for account in first.accounts)
    print(f"\n== {name}: {orders:,} sandbox orders ({imported:,} imported and shipped) ==")
    print(
        f"  store calls: {calls:,} ({calls / orders:.2f} per listed order,"
        f" {calls / max(imported, 1):.1f} per imported order)"
    )
    for method, count in store.calls.most_common():
        print(f"    {method:<20} {count:>8,}  ({count / orders:.2f} per order)")
    print(
        f"  time in the store: {store.seconds:.2f} s ({store.seconds * 1000 / orders:.3f} ms"
        f" per listed order, {store.seconds * 1000 / max(imported, 1):.2f} ms per imported"
        f" order); the whole day: {result['wall']:.1f} s"
        f" ({result['wall'] * 1000 / orders:.2f} ms per listed order)"
    )
    print(f"  API calls: {result['api_calls']:,}")
    print("  run 1:", first.to_text().splitlines()[0])
    print("  run 2:", second.to_text().splitlines()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--postgres", metavar="URL", help="a server of yours (default: a local one)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        sqlite = day(args.orders, args.seed, str(Path(directory) / "state.sqlite3"))
    print_result("SQLite (a file, WAL)", args.orders, sqlite)

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
        postgres = day(args.orders, args.seed, url)
    finally:
        if server is not None:
            server.stop()
    print_result("PostgreSQL (local server, loopback TCP)", args.orders, postgres)

    s_store: Metered = sqlite["store"]
    p_store: Metered = postgres["store"]
    extra = (p_store.seconds - s_store.seconds) * 1000 / args.orders
    print(
        f"\nPostgreSQL against SQLite: {sum(p_store.calls.values()) / args.orders:.2f} vs"
        f" {sum(s_store.calls.values()) / args.orders:.2f} store calls per order;"
        f" {p_store.seconds * 1000 / args.orders:.3f} vs"
        f" {s_store.seconds * 1000 / args.orders:.3f} ms per order in the store"
        f" ({extra:+.3f} ms per order); the day {postgres['wall']:.1f} s vs {sqlite['wall']:.1f} s;"
        f" API calls {postgres['api_calls']:,} vs {sqlite['api_calls']:,}"
    )


if __name__ == "__main__":
    main()
