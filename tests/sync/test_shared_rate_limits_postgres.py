"""Rate budgets shared through the PostgreSQL state, by real processes on a served sandbox.

The sandbox's ShipStation enforces its limit per key pair in fixed windows and answers 429
beyond it, as ShipStation does. Its window is 2 s and its limit 10 here instead of 60 s and
40, so that several windows pass in seconds: the clients learn the window from
``X-Rate-Limit-Reset`` (whole seconds, rounded up, as ShipStation sends it), as they would
ShipStation's minute. Need a PostgreSQL server (``postgres_url``): skipped locally without
one, a failure under CI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from backmarket_shipstation._http import HeaderDrivenLimiter, SharedState, SlidingWindowLimiter
from backmarket_shipstation.clock import SystemClock, VirtualClock
from backmarket_shipstation.errors import StateStoreUnavailableError
from backmarket_shipstation.rate_limits import RateLimits
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync.postgres_rate_limits import PostgresRateLimitStore
from backmarket_shipstation.sync.postgres_store import SCHEMA_VERSION, PostgresStore

try:
    import psycopg
except ImportError:  # the cases that need it take postgres_url, which says so and skips
    psycopg = None  # type: ignore[assignment]

WORKER = str(Path(__file__).with_name("shared_budget_worker.py"))
LIMIT, WINDOW = 10, 2.0
TOKEN_A = "YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjpCTVQtYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh"
TOKEN_B = "MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1NjpCTVQtYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJi"


def run_workers(
    state: str, served: object, sandbox: Sandbox, *, workers: int, calls: int
) -> list[dict[str, float]]:
    start = time.time() + 3.0  # every worker imported and connected by then
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                WORKER,
                "shipstation",
                state,
                served.shipstation_url,  # type: ignore[attr-defined]
                sandbox.shipstation_api_key,
                sandbox.shipstation_api_secret,
                str(calls),
                str(start),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    return results


def window_usage(sandbox: Sandbox) -> tuple[list[int], int]:
    """Calls admitted in every window from the first to the last (empty ones as 0), and 429s."""
    seen = {
        round(start / WINDOW): (admitted, refused)
        for start, admitted, refused in sandbox.shipstation.rate_windows()
    }
    first, last = min(seen), max(seen)
    admitted = [seen.get(i, (0, 0))[0] for i in range(first, last + 1)]
    return admitted, sum(refused for _, refused in seen.values())


@pytest.mark.postgres
def test_three_processes_on_one_key_pair_spend_its_budget_without_a_429(postgres_url: str) -> None:
    PostgresStore(postgres_url).close()  # the state exists, as when a sync runs
    sandbox = Sandbox(
        orders=0, shipstation_options={"rate_limit": LIMIT, "rate_window_seconds": WINDOW}
    )
    with sandbox.serve(deliver_webhooks=False) as served:
        results = run_workers(postgres_url, served, sandbox, workers=3, calls=12)
    admitted, refused = window_usage(sandbox)
    assert refused == 0
    assert sum(admitted) == 36
    # While work waited (every window but the last, where it ran out), the budget was used:
    # at least 90 % of each window's calls (all of them, when the first window is whole).
    waited = admitted[1:-1]
    assert len(waited) >= 2
    assert all(n >= 0.9 * LIMIT for n in waited), admitted
    # Each call cost the shared store a reservation and an observation.
    assert all(r["store_updates"] >= 2 * r["calls"] for r in results)


@pytest.mark.postgres
def test_the_same_processes_with_budgets_of_their_own_draw_429s(postgres_url: str) -> None:
    # The control: what the shared budget prevents.
    sandbox = Sandbox(
        orders=0, shipstation_options={"rate_limit": LIMIT, "rate_window_seconds": WINDOW}
    )
    with sandbox.serve(deliver_webhooks=False) as served:
        run_workers("-", served, sandbox, workers=3, calls=8)
    admitted, refused = window_usage(sandbox)
    assert refused > 0, admitted


@pytest.fixture
def stores(postgres_url: str) -> Iterator[Callable[[], PostgresRateLimitStore]]:
    """Stores on the test's database (each its own connection, as a process has), closed after."""
    opened: list[PostgresRateLimitStore] = []

    def make() -> PostgresRateLimitStore:
        opened.append(PostgresRateLimitStore(postgres_url))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


def backmarket_wait(state: str, token: str, scope: str, host: str) -> float:
    out = subprocess.run(
        [sys.executable, WORKER, "backmarket", state, token, scope, host],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return float(json.loads(out)["wait"])


@pytest.mark.postgres
def test_a_429_seen_by_one_process_holds_another(
    postgres_url: str, stores: Callable[[], PostgresRateLimitStore]
) -> None:
    limits = RateLimits(stores())
    key = limits.key("backmarket", _secret(TOKEN_A))
    told = SlidingWindowLimiter(SystemClock(), shared=SharedState(limits.store, key))
    told.observe(429, httpx.Headers({"Retry-After": "30"}))
    wait = backmarket_wait(postgres_url, TOKEN_A, "token", "-")
    assert 25.0 < wait <= 30.0


@pytest.mark.postgres
def test_per_host_scope_shares_across_tokens_and_per_token_does_not(
    postgres_url: str, stores: Callable[[], PostgresRateLimitStore]
) -> None:
    clock = SystemClock()
    store = stores()
    by_host = RateLimits(store, backmarket_scope="host", host="egress-1")
    spent = SlidingWindowLimiter(
        clock, shared=SharedState(store, by_host.key("backmarket", _secret(TOKEN_A)))
    )
    for _ in range(180):
        spent.reserve()
    # Another token leaving through the same address waits; per token, or elsewhere, not.
    assert backmarket_wait(postgres_url, TOKEN_B, "host", "egress-1") > 5.0
    assert backmarket_wait(postgres_url, TOKEN_B, "token", "egress-1") == 0.0
    assert backmarket_wait(postgres_url, TOKEN_B, "host", "egress-2") == 0.0


def _secret(token: str) -> object:
    from backmarket_shipstation._http import Secret

    return Secret("Basic " + token)


@pytest.mark.postgres
def test_threads_on_separate_connections_never_book_more_than_the_window(postgres_url: str) -> None:
    # Four connections (as four processes) race for one key's window: 40 go at once, the
    # rest are told to wait for the next window, none is lost or doubled.
    clock = SystemClock()
    waits: list[float] = []
    lock = threading.Lock()

    def spend() -> None:
        store = PostgresRateLimitStore(postgres_url)
        limiter = HeaderDrivenLimiter(clock, shared=SharedState(store, "shipstation:race"))
        mine = [limiter.reserve() for _ in range(25)]
        store.close()
        with lock:
            waits.extend(mine)

    threads = [threading.Thread(target=spend) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # By window (60 s apart, as no server has spoken yet): 40, 40 and the 20 left.
    by_window = [round(w / 60.0) for w in waits]
    assert [by_window.count(n) for n in range(3)] == [40, 40, 20]


@pytest.mark.postgres
def test_rate_limits_are_schema_version_4_and_keep_digests_only(
    postgres_url: str, stores: Callable[[], PostgresRateLimitStore]
) -> None:
    store = stores()  # migrates an empty database on first use
    limits = RateLimits(store)
    key = limits.key("backmarket", _secret(TOKEN_A))
    SlidingWindowLimiter(SystemClock(), shared=SharedState(store, key)).reserve()
    with psycopg.connect(postgres_url, autocommit=True) as db:
        rows = db.execute(
            "SELECT key, state::text FROM backmarket_shipstation.rate_limits"
        ).fetchall()
        version = db.execute(
            "SELECT max(version) FROM backmarket_shipstation.schema_version"
        ).fetchone()
    assert SCHEMA_VERSION >= 4
    assert version == (SCHEMA_VERSION,)
    assert [row[0] for row in rows] == [key]
    assert TOKEN_A not in " ".join(f"{k} {s}" for k, s in rows)


@pytest.mark.postgres
def test_a_lost_connection_is_opened_again_by_the_next_reservation(
    postgres_url: str, stores: Callable[[], PostgresRateLimitStore]
) -> None:
    store = stores()
    limiter = HeaderDrivenLimiter(SystemClock(), shared=SharedState(store, "shipstation:k"))
    limiter.reserve()
    assert store._db is not None
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (store._db.info.backend_pid,))
    with pytest.raises(StateStoreUnavailableError):
        store.update("shipstation:k", lambda record: (record or {}, None))
    limiter.reserve()  # a new connection, the state where it was
    assert limiter.remaining == 38


@pytest.mark.postgres
def test_sync_clients_of_a_postgresql_configuration_share_their_budgets(
    postgres_url: str, tmp_path: Path
) -> None:
    from backmarket_shipstation.sync.config import load_config
    from backmarket_shipstation.sync.runner import backmarket_client, shipstation_client

    sandbox = Sandbox(orders=0)
    env = {
        "BACKMARKET_TOKEN": sandbox.backmarket_token,
        "BACKMARKET_USER_AGENT": sandbox.backmarket_user_agent,
        "SHIPSTATION_API_KEY": sandbox.shipstation_api_key,
        "SHIPSTATION_API_SECRET": sandbox.shipstation_api_secret,
        "BACKMARKET_SHIPSTATION_STATE": postgres_url,
    }
    (account,) = load_config(env=env).accounts
    with (
        shipstation_client(account, sandbox.shipstation_transport()) as ss,
        backmarket_client(account, sandbox.backmarket_transport()) as bm,
    ):
        ss.stores.list()
        bm.orders.list().pages().__next__()
        again = shipstation_client(account, sandbox.shipstation_transport())
        # One store (one connection) per process for the configuration, one limiter per key.
        assert again._core.limiter is ss._core.limiter
        again.close()
    with psycopg.connect(postgres_url, autocommit=True) as db:
        kinds = {
            row[0].split(":")[0]
            for row in db.execute("SELECT key FROM backmarket_shipstation.rate_limits")
        }
    assert kinds == {"shipstation", "backmarket"}
    opted_out = load_config(env={**env, "BACKMARKET_SHIPSTATION_SHARED_RATE_LIMITS": "0"})
    with shipstation_client(opted_out.accounts[0], sandbox.shipstation_transport()) as alone:
        assert alone._core.limiter.shared is None
    # A virtual clock's time is its own: its clients share in the process only.
    with shipstation_client(account, sandbox.shipstation_transport(), VirtualClock()) as virtual:
        assert virtual._core.limiter.shared is None
