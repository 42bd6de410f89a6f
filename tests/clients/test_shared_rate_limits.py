"""Rate budgets kept in a shared store: limiters of different processes spend one budget.

"Processes" here are separate limiter objects that share nothing but the store (a
``MemoryRateLimitStore``, which keeps records as JSON would: no object is shared), on one
virtual clock. The same with real processes and PostgreSQL:
tests/sync/test_shared_rate_limits_postgres.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

from backmarket_shipstation import AsyncShipStationClient, BackMarketClient, ShipStationClient
from backmarket_shipstation._http import (
    Budget,
    HeaderDrivenLimiter,
    RateRecord,
    SharedState,
    SlidingWindowLimiter,
)
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.errors import StateStoreUnavailableError
from backmarket_shipstation.rate_limits import MemoryRateLimitStore, RateLimits
from backmarket_shipstation.sandbox import Sandbox

T = TypeVar("T")

TOKEN_A = "YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjpCTVQtYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh"
TOKEN_B = "MTIzNDU2Nzg5MGFiY2RlZjEyMzQ1NjpCTVQtYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJi"
AGENT = "BM-Acme-ShipStation;ops@acme.example"


def test_two_limiters_on_one_store_spend_one_shipstation_window() -> None:
    clock = VirtualClock()
    store = MemoryRateLimitStore()
    first = HeaderDrivenLimiter(clock, shared=SharedState(store, "ss:k"))
    second = HeaderDrivenLimiter(clock, shared=SharedState(store, "ss:k"))
    waits = [(first if n % 2 else second).reserve() for n in range(41)]
    # The first 40 go at once whoever sends them; the 41st waits for the next window.
    assert waits[:40] == [0.0] * 40
    assert waits[40] == pytest.approx(60.0)
    assert first.remaining == second.remaining == 39


def test_limiters_in_their_own_memory_do_not_share_a_window() -> None:
    clock = VirtualClock()
    first, second = HeaderDrivenLimiter(clock), HeaderDrivenLimiter(clock)
    waits = [(first if n % 2 else second).reserve() for n in range(41)]
    assert waits == [0.0] * 41  # each believes it has 40: together they would draw 429s


def test_the_server_reset_steers_every_limiter_of_the_store() -> None:
    clock = VirtualClock()
    store = MemoryRateLimitStore()
    first = HeaderDrivenLimiter(clock, shared=SharedState(store, "ss:k"))
    second = HeaderDrivenLimiter(clock, shared=SharedState(store, "ss:k"))
    first.reserve()
    # ShipStation says: 2 left in this window, which ends in 7 s.
    headers = httpx.Headers(
        {"X-Rate-Limit-Limit": "40", "X-Rate-Limit-Remaining": "2", "X-Rate-Limit-Reset": "7"}
    )
    first.observe(200, headers)
    assert [second.reserve(), second.reserve()] == [0.0, 0.0]
    assert second.reserve() == pytest.approx(7.0)


def test_a_429_seen_by_one_holds_every_limiter_of_the_store() -> None:
    clock = VirtualClock()
    store = MemoryRateLimitStore()
    told = SlidingWindowLimiter(clock, shared=SharedState(store, "bm:k"))
    other = SlidingWindowLimiter(clock, shared=SharedState(store, "bm:k"))
    # Back Market's Cloudflare 429 names no wait: the limiter holds a whole window (10 s).
    told.observe(429, httpx.Headers({}))
    assert other.reserve() == pytest.approx(10.0)
    clock.advance(10.0)
    assert other.reserve() == 0.0


def test_a_shipstation_429_holds_the_other_limiters_until_its_reset() -> None:
    clock = VirtualClock()
    store = MemoryRateLimitStore()
    told = HeaderDrivenLimiter(clock, shared=SharedState(store, "ss:k"))
    other = HeaderDrivenLimiter(clock, shared=SharedState(store, "ss:k"))
    other.reserve()
    headers = {
        "X-Rate-Limit-Limit": "40",
        "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Reset": "25",
    }
    told.observe(429, httpx.Headers(headers))
    assert other.reserve() == pytest.approx(25.0)


def test_an_endpoint_budget_is_shared_through_the_store() -> None:
    clock = VirtualClock()
    store = MemoryRateLimitStore()
    first = Budget(clock, "care.refund", [(3, 86400.0)], shared=SharedState(store, "r"))
    second = Budget(clock, "care.refund", [(3, 86400.0)], shared=SharedState(store, "r"))
    for _ in range(3):
        first.book(first.earliest())
    assert second.available() == 0
    assert second.used(86400.0) == 3
    # A day after the first call, there is room again (instants are kept rounded up, never
    # down: at most 1/200 of the window later).
    assert second.earliest() - clock.monotonic() == pytest.approx(86400.0, abs=86400 / 200)


def _shipstation(sandbox: Sandbox, clock: VirtualClock, limits: RateLimits) -> ShipStationClient:
    return ShipStationClient(
        api_key=sandbox.shipstation_api_key,
        api_secret=sandbox.shipstation_api_secret,
        transport=sandbox.shipstation_transport(),
        clock=clock,
        rate_limits=limits,
    )


@pytest.mark.parametrize("shared", [True, False])
def test_two_clients_of_one_key_pair_on_one_store_never_draw_a_429(shared: bool) -> None:
    clock = VirtualClock()
    sandbox = Sandbox(orders=0, clock=clock)
    store = MemoryRateLimitStore()
    # Two RateLimits: two limiter objects, like two processes; only the store is common.
    one = _shipstation(sandbox, clock, RateLimits(store))
    two = _shipstation(sandbox, clock, RateLimits(store if shared else MemoryRateLimitStore()))
    for n in range(120):
        (one if n % 2 else two).stores.list()
    refused = sandbox.counters.count(api="shipstation", outcome="429")
    windows = sandbox.shipstation.rate_windows()
    if shared:
        assert refused == 0
        # Three windows' worth of work: every window the work waited through was used up.
        assert [admitted for _, admitted, _ in windows] == [40, 40, 40]
    else:
        assert refused > 0  # the same work without the shared store: each client's own 40


def test_per_host_scope_shares_one_budget_across_tokens_and_per_token_does_not() -> None:
    clock = VirtualClock()
    store = MemoryRateLimitStore()

    def limiter(token: str, limits: RateLimits) -> Any:
        client = BackMarketClient(token=token, user_agent=AGENT, clock=clock, rate_limits=limits)
        return client._core.limiter

    by_host = [
        limiter(t, RateLimits(store, backmarket_scope="host", host="edge-1"))
        for t in (TOKEN_A, TOKEN_B)
    ]
    for _ in range(180):
        by_host[0].reserve()
    assert by_host[1].reserve() > 0  # the other token leaves through the same address
    by_token = [limiter(t, RateLimits(store)) for t in (TOKEN_A, TOKEN_B)]
    for _ in range(180):
        by_token[0].reserve()
    assert by_token[1].reserve() == 0.0
    # Another host has its own budget.
    elsewhere = limiter(TOKEN_B, RateLimits(store, backmarket_scope="host", host="edge-2"))
    assert elsewhere.reserve() == 0.0


def test_store_keys_and_records_hold_digests_never_credentials() -> None:
    clock = VirtualClock()
    store = MemoryRateLimitStore()
    client = BackMarketClient(
        token=TOKEN_A, user_agent=AGENT, clock=clock, rate_limits=RateLimits(store)
    )
    client._core.limiter.reserve()
    ss = ShipStationClient(
        api_key="key-0123456789",
        api_secret="secret-0123456789",
        clock=clock,
        rate_limits=RateLimits(store),
    )
    ss._core.limiter.reserve()
    kept = json.dumps({key: store._records[key] for key in store.keys()})  # noqa: SIM118
    for secret in (TOKEN_A, "key-0123456789", "secret-0123456789"):
        assert secret not in kept
    assert len(store.keys()) == 2


class _ThreadRecordingStore(MemoryRateLimitStore):
    """A store that says it blocks, and remembers the threads its updates ran on."""

    blocking = True

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def update(self, key: str, step: Callable[[RateRecord | None], tuple[RateRecord, T]]) -> T:
        self.threads.add(threading.get_ident())
        return super().update(key, step)


def test_the_async_client_calls_a_blocking_store_off_the_event_loop() -> None:
    clock = VirtualClock()
    sandbox = Sandbox(orders=0, clock=clock)
    store = _ThreadRecordingStore()

    async def main() -> int:
        async with AsyncShipStationClient(
            api_key=sandbox.shipstation_api_key,
            api_secret=sandbox.shipstation_api_secret,
            transport=sandbox.shipstation_transport(),
            clock=clock,
            rate_limits=RateLimits(store),
        ) as ss:
            await ss.stores.list()
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert store.updates >= 2  # a reservation and an observation
    assert store.threads
    assert loop_thread not in store.threads


class _DownStore:
    blocking = False

    def __init__(self) -> None:
        self.calls = 0

    def update(self, key: str, step: Callable[[RateRecord | None], tuple[RateRecord, T]]) -> T:
        self.calls += 1
        raise StateStoreUnavailableError("connection refused", state="postgresql://db/state")


def test_an_unreachable_store_falls_back_to_limiting_in_the_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    store = _DownStore()
    limiter = HeaderDrivenLimiter(clock, shared=SharedState(store, "ss:k"))
    with caplog.at_level(logging.WARNING, logger="backmarket_shipstation"):
        waits = [limiter.reserve() for _ in range(41)]
    assert waits[:40] == [0.0] * 40
    assert waits[40] == pytest.approx(60.0)
    assert store.calls == 41  # the store is asked again each time, to come back as soon as it can
    warnings = [r for r in caplog.records if "shared rate limit" in r.getMessage()]
    assert len(warnings) == 1


def _headers(remaining: int, reset: int) -> httpx.Headers:
    return httpx.Headers(
        {
            "X-Rate-Limit-Limit": "40",
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": str(reset),
        }
    )


@pytest.mark.parametrize("shared", [False, True])
def test_a_late_answer_from_the_previous_window_leaves_the_next_one_whole(shared: bool) -> None:
    # Two workers on one key pair: one sends the last call of a window, whose answer comes
    # back after the next window began and the other worker has spent some of it.
    clock = VirtualClock()
    store = MemoryRateLimitStore()
    cell = SharedState(store, "ss:k") if shared else None
    limiter = HeaderDrivenLimiter(clock, shared=cell)
    limiter.reserve()
    limiter.observe(200, _headers(39, 10), sent=clock.monotonic())  # the window ends in 10 s
    clock.advance(9.99)
    limiter.reserve()
    sent = clock.monotonic()  # the window's last call goes out...
    clock.advance(0.02)  # ...the next window begins
    assert [limiter.reserve() for _ in range(5)] == [0.0] * 5
    # ...and the late answer says 0 left in its window (which ended), Reset rounded up to 1 s.
    limiter.observe(200, _headers(0, 1), sent=sent)
    assert [limiter.reserve() for _ in range(35)] == [0.0] * 35  # this window's 40 in all
    assert limiter.reserve() > 50.0
