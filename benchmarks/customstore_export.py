"""Custom Store export latency per 100-order page: p50 and p99, warm and cold.

    python benchmarks/customstore_export.py [--orders 20000] [--samples 300] [--http]

The sandbox's Back Market orders are read into the export feed once (a state file in a
temporary directory), then ShipStation's export call is timed page by page:

- warm: the same application answers page after page (SQLite's page cache and the OS
  cache are warm), ``--samples`` calls over every page of the window;
- cold: before each call the state file is opened anew (a new SQLite connection and a new
  application, as in a freshly started worker), so SQLite's page cache is empty and the
  pages are read from the file; the OS cache stays warm, which no script can drop
  without root.

Each call goes through the WSGI application in-process: authentication, query parsing,
the feed query and the XML answer. ``--http`` times the warm case over a real loopback
socket too (wsgiref server, httpx client), which adds the HTTP stack.
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.customstore import (
    CustomStoreApp,
    ExportFeed,
    StoreAccount,
    StoreCredentials,
)
from backmarket_shipstation.customstore.config import StoreAccountConfig, StoreConfig
from backmarket_shipstation.customstore.server import StoreServer, build_store
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync.store import SQLiteStore

USER, PASSWORD = "bench", "bench-password"


def _config(sandbox: Sandbox, state: Path) -> StoreConfig:
    return StoreConfig(
        accounts=(
            StoreAccountConfig(
                name="bench",
                backmarket_token=sandbox.backmarket_token,
                backmarket_user_agent=sandbox.backmarket_user_agent,
                backmarket_base_url=sandbox.backmarket_base_url,
            ),
        ),
        credentials=StoreCredentials(USER, PASSWORD),
        state_path=str(state),
    )


def _environ(query: dict[str, str]) -> dict[str, Any]:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/bench",
        "QUERY_STRING": urlencode(query),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Basic {token}",
        "wsgi.input": io.BytesIO(),
    }


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {p50 * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms   ({len(ordered)} calls)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--http", action="store_true", help="also time over loopback HTTP")
    args = parser.parse_args()

    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    sandbox = Sandbox(seed=7, orders=args.orders, clock=clock)
    window = {
        "action": "export",
        "start_date": f"{clock.now() - timedelta(days=30):%m/%d/%Y %H:%M}",
        "end_date": f"{clock.now() + timedelta(minutes=5):%m/%d/%Y %H:%M}",
    }
    with tempfile.TemporaryDirectory() as directory:
        state = Path(directory) / "state.sqlite3"
        config = _config(sandbox, state)
        started = time.perf_counter()
        with (
            SQLiteStore(state) as store,
            build_store(
                config, store=store, clock=clock, transport=lambda _: sandbox.backmarket_transport()
            ) as running,
        ):
            running.refresh_all()
            filled = time.perf_counter() - started
            first = running.app.accounts["bench"].feed.page(
                "bench", clock.now() - timedelta(days=30), clock.now() + timedelta(minutes=5), 1
            )
            pages, total = first.pages, first.total
            print(f"feed: {total} orders in {pages} pages of 100, filled in {filled:.1f} s")
            print(f"  (reading Back Market, accepting, mapping and rendering {args.orders} orders)")

            app = running.app
            samples: list[float] = []
            sizes: list[int] = []
            for n in range(args.samples):
                query = {**window, "page": str(n % pages + 1)}
                begin = time.perf_counter()
                body = b"".join(app(_environ(query), lambda status, headers: None))
                samples.append(time.perf_counter() - begin)
                sizes.append(len(body))
            print(f"warm, in-process:  {_percentiles(samples)}")
            print(f"  answer size: {statistics.mean(sizes) / 1024:.0f} KiB per page on average")

            if args.http:
                import httpx

                server = StoreServer(running, port=0, refresh_seconds=3600)
                server.start(refresh_first=False)
                try:
                    with httpx.Client(auth=(USER, PASSWORD)) as client:
                        http_samples = []
                        for n in range(args.samples):
                            query = {**window, "page": str(n % pages + 1)}
                            begin = time.perf_counter()
                            client.get(server.url("bench"), params=query).raise_for_status()
                            http_samples.append(time.perf_counter() - begin)
                    print(f"warm, loopback HTTP: {_percentiles(http_samples)}")
                finally:
                    server.stop()

            cold: list[float] = []
            notices = app.accounts["bench"].notices
            for n in range(max(30, args.samples // 5)):
                query = {**window, "page": str(n % pages + 1)}
                begin = time.perf_counter()
                with ExportFeed(state) as feed:
                    fresh = CustomStoreApp(
                        [StoreAccount(name="bench", feed=feed, notices=notices)],
                        credentials=config.credentials,
                    )
                    b"".join(fresh(_environ(query), lambda status, headers: None))
                cold.append(time.perf_counter() - begin)
            print(f"cold (state file opened per call): {_percentiles(cold)}")


if __name__ == "__main__":
    main()
