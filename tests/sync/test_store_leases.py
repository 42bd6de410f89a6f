"""Leases and write claims in every store: one run per account, one winner per write.

The scenarios are those of runs that overlap: a cron run still working when the next one
starts, a run killed with its lease held, a run paused past its expiry, and (the case the
claims exist for) two runs that both believe they hold the account. The races run in real
processes on one state, as cron (or several hosts) would start them. Each case runs on the
SQLite store and on a real PostgreSQL server (part of the store contract: see
test_store_contract.py); the upgrade of an old file is SQLite's own.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from backmarket_shipstation.errors import LeaseLostError
from backmarket_shipstation.sync.state import open_store
from backmarket_shipstation.sync.store import Lease, SQLiteStore, WriteRecord

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
TTL = timedelta(seconds=60)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty state on each store."""
    if request.param == "sqlite":
        return str(tmp_path / "state.sqlite3")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(state: str) -> Iterator[SQLiteStore]:
    with open_store(state) as opened:
        yield opened  # type: ignore[misc]


def _take(store: SQLiteStore, holder: str, now: datetime = T0, account: str = "eu") -> Lease:
    lease = store.acquire_lease(account, holder, host="web1", pid=41, ttl=TTL, now=now)
    assert lease is not None, f"{holder} could not take the lease"
    return lease


def _write(key: str = "ship", status: str = "pending", order: int = 7) -> WriteRecord:
    return WriteRecord(
        account="eu",
        bm_order_id=order,
        key=key,
        status="pending" if status == "pending" else "done",
        source="shipment:1",
        updated_at=T0,
    )


def test_a_second_run_finds_the_account_leased_and_learns_by_whom(store: SQLiteStore) -> None:
    first = _take(store, "run-a")
    assert store.acquire_lease("eu", "run-b", host="web2", pid=7, ttl=TTL, now=T0) is None
    assert store.get_lease("eu") == first
    assert first.describe() == "web1, pid 41, since 2026-03-01 12:00:00 UTC"
    # Another account is another lease.
    assert store.acquire_lease("us", "run-b", host="web2", pid=7, ttl=TTL, now=T0) is not None


def test_a_released_lease_is_free_at_once(store: SQLiteStore) -> None:
    first = _take(store, "run-a")
    store.release_lease(first)
    assert store.get_lease("eu") is None
    assert _take(store, "run-b").holder == "run-b"


def test_releasing_a_lease_taken_over_leaves_the_new_holder_alone(store: SQLiteStore) -> None:
    first = _take(store, "run-a")
    second = _take(store, "run-b", now=T0 + TTL)
    store.release_lease(first)
    assert store.get_lease("eu") == second


def test_a_dead_holders_lease_is_taken_over_only_once_it_expired(store: SQLiteStore) -> None:
    _take(store, "dead")
    just_before = T0 + TTL - timedelta(microseconds=1)
    assert store.acquire_lease("eu", "next", host="h", pid=2, ttl=TTL, now=just_before) is None
    taken = _take(store, "next", now=T0 + TTL)
    assert taken.holder == "next"
    assert taken.acquired_at == T0 + TTL
    assert taken.expires_at == T0 + 2 * TTL


def test_renewing_extends_the_lease_and_keeps_when_it_was_taken(store: SQLiteStore) -> None:
    lease = _take(store, "run-a")
    renewed = store.renew_lease(lease, ttl=TTL, now=T0 + timedelta(seconds=30))
    assert renewed is not None
    assert renewed.acquired_at == T0
    assert renewed.expires_at == T0 + timedelta(seconds=90)
    # Renewed in time, so still held when the first expiry has passed.
    assert store.acquire_lease("eu", "run-b", host="h", pid=2, ttl=TTL, now=T0 + TTL) is None


def test_a_holder_paused_past_its_expiry_cannot_renew_even_if_nobody_took_over(
    store: SQLiteStore,
) -> None:
    lease = _take(store, "paused")
    assert store.renew_lease(lease, ttl=TTL, now=T0 + TTL) is None
    _take(store, "next", now=T0 + TTL)
    assert store.renew_lease(lease, ttl=TTL, now=T0 + TTL) is None


def test_the_holder_taking_its_own_lease_again_extends_it(store: SQLiteStore) -> None:
    _take(store, "run-a")
    again = _take(store, "run-a", now=T0 + timedelta(seconds=10))
    assert again.acquired_at == T0
    assert again.expires_at == T0 + timedelta(seconds=70)


def test_check_lease_guards_what_a_transaction_writes(store: SQLiteStore) -> None:
    lease = _take(store, "run-a")
    with store.transaction():
        store.check_lease(lease, T0 + timedelta(seconds=59))
        store.set_cursor("eu", "import", T0)
    _take(store, "run-b", now=T0 + TTL)

    def step() -> None:
        with store.transaction():
            store.check_lease(lease, T0 + TTL)
            store.set_cursor("eu", "import", T0 + TTL)

    with pytest.raises(LeaseLostError) as caught:
        step()
    assert store.get_cursor("eu", "import") == T0  # nothing written by the run that lost
    assert caught.value.account == "eu"
    assert caught.value.current == "web1, pid 41, since 2026-03-01 12:01:00 UTC"


def test_check_lease_outside_a_transaction_is_a_programming_error(store: SQLiteStore) -> None:
    lease = _take(store, "run-a")
    with pytest.raises(RuntimeError):
        store.check_lease(lease, T0)


def test_a_write_is_claimed_once(store: SQLiteStore) -> None:
    lease = _take(store, "run-a")
    assert store.claim_write(_write(), lease, T0) is True
    assert store.claim_write(_write(), lease, T0) is False
    stored = store.get_write("eu", 7, "ship")
    assert stored is not None
    assert (stored.status, stored.claimant) == ("pending", "run-a")


def test_a_done_write_is_never_claimed_again(store: SQLiteStore) -> None:
    lease = _take(store, "run-a")
    store.put_write(_write(status="done"))
    assert store.claim_write(_write(), lease, T0) is False
    assert store.claim_write(_write(), lease, T0, replacing=_write()) is False


def test_a_run_that_lost_its_lease_cannot_claim(store: SQLiteStore) -> None:
    lease = _take(store, "paused")
    with pytest.raises(LeaseLostError):
        store.claim_write(_write(), lease, T0 + TTL)
    assert store.get_write("eu", 7, "ship") is None


def test_a_gone_claimants_pending_write_is_taken_over_by_one_run(store: SQLiteStore) -> None:
    dead = _take(store, "dead")
    assert store.claim_write(_write(), dead, T0)
    left = store.get_write("eu", 7, "ship")
    assert left is not None
    successor = _take(store, "next", now=T0 + TTL)
    assert store.claim_write(_write(), successor, T0 + TTL, replacing=left) is True
    # The same stale record cannot be taken over twice.
    assert store.claim_write(_write(), successor, T0 + TTL, replacing=left) is False
    stored = store.get_write("eu", 7, "ship")
    assert stored is not None
    assert stored.claimant == "next"


def test_a_pending_write_from_before_leases_can_be_taken_over(store: SQLiteStore) -> None:
    store.put_write(_write())  # claimant None: an earlier version's record
    lease = _take(store, "run-a")
    legacy = store.get_write("eu", 7, "ship")
    assert legacy is not None
    assert legacy.claimant is None
    assert store.claim_write(_write(), lease, T0, replacing=legacy) is True


def test_a_done_marker_is_claimed_by_one_run(store: SQLiteStore) -> None:
    lease = _take(store, "run-a")
    assert store.claim_write(_write("notified", "done"), lease, T0) is True
    assert store.claim_write(_write("notified", "done"), lease, T0) is False


def test_deleting_an_own_refused_claim_spares_another_runs_claim(store: SQLiteStore) -> None:
    first = _take(store, "run-a")
    store.claim_write(_write(), first, T0)
    second = _take(store, "run-b", now=T0 + TTL)
    left = store.get_write("eu", 7, "ship")
    store.claim_write(_write(), second, T0 + TTL, replacing=left)
    store.delete_write("eu", 7, "ship", claimant="run-a")
    assert store.get_write("eu", 7, "ship") is not None
    store.delete_write("eu", 7, "ship", claimant="run-b")
    assert store.get_write("eu", 7, "ship") is None


def test_a_state_file_from_before_leases_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE writes (account TEXT NOT NULL, bm_order_id INTEGER NOT NULL,"
        " key TEXT NOT NULL, status TEXT NOT NULL, source TEXT NOT NULL,"
        " updated_at TEXT NOT NULL, PRIMARY KEY (account, bm_order_id, key));"
        "INSERT INTO writes VALUES ('eu', 7, 'ship', 'pending', 'shipment:1',"
        " '2026-03-01T12:00:00+00:00');"
    )
    old.commit()
    old.close()
    with SQLiteStore(path, read_only=True) as looking:
        assert [w.claimant for w in looking.pending_writes("eu")] == [None]
        assert looking.get_lease("eu") is None
    with SQLiteStore(path) as upgraded:
        assert [w.claimant for w in upgraded.pending_writes("eu")] == [None]
        lease = _take(upgraded, "run-a")
        left = upgraded.get_write("eu", 7, "ship")
        assert upgraded.claim_write(_write(), lease, T0, replacing=left)


# Real processes on one file: what cron does. -----------------------------------------------


def _race_for_lease(path: str, holder: str, start: object, results: object) -> None:
    with open_store(path) as store:
        start.wait()  # type: ignore[attr-defined]
        lease = store.acquire_lease("eu", holder, host="h", pid=1, ttl=TTL, now=T0)
        results.put((holder, lease is not None))  # type: ignore[attr-defined]


def _race_for_claim(path: str, holder: str, start: object, results: object) -> None:
    with open_store(path) as store:
        lease = store.get_lease("eu")
        assert lease is not None
        start.wait()  # type: ignore[attr-defined]
        won = [store.claim_write(_write(order=order), lease, T0) for order in range(20)]
        results.put((holder, won))  # type: ignore[attr-defined]


def _run_racers(target: object, path: str, count: int) -> list[tuple[str, object]]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(count)
    results = context.Queue()
    racers = [
        context.Process(target=target, args=(str(path), f"run-{i}", start, results))  # type: ignore[arg-type]
        for i in range(count)
    ]
    for racer in racers:
        racer.start()
    outcome = [results.get(timeout=60) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    return outcome


def test_processes_racing_for_a_free_lease_get_exactly_one(state: str) -> None:
    open_store(state).close()
    outcome = _run_racers(_race_for_lease, state, 4)
    assert sorted(won for _, won in outcome) == [False, False, False, True]


def test_processes_that_all_think_they_hold_the_lease_still_claim_each_write_once(
    state: str,
) -> None:
    # The worst case the claims are for: every process has the same lease in hand (as if the
    # lease had failed), and each tries to claim the same 20 writes at once.
    with open_store(state) as store:
        _take(store, "shared")  # type: ignore[arg-type]
    outcome = _run_racers(_race_for_claim, state, 4)
    wins = [0] * 20
    for _, won in outcome:
        for order, ok in enumerate(won):  # type: ignore[arg-type]
            wins[order] += bool(ok)
    assert wins == [1] * 20
