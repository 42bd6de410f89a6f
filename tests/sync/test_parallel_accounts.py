"""Accounts synced in parallel (issue 15, item 2): a slow, failing or refused account never
delays or stops the others, and the reports keep their shape and order.

Every account here is a seller of its own (its own Back Market token, its own ShipStation key
pair, both simulated), so nothing but the thread pool links them. Time is one
:class:`VirtualClock` whose workers are the accounts' threads: their waits overlap as they
would in real time, so durations are measured on the schedule, not summed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import attrs
import httpx
import pytest

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import FaultPlan, Sandbox
from backmarket_shipstation.sync import (
    AccountConfig,
    AccountReport,
    RunReport,
    SyncConfig,
    pack_and_ship,
    run_sync,
    sandbox_config,
)
from backmarket_shipstation.sync.state import open_store

from .conftest import START


class Agency:
    """Sellers, each with a sandbox of its own, on one virtual clock and one state file."""

    def __init__(
        self,
        state: Path,
        sellers: Mapping[str, FaultPlan | None],
        *,
        seeds: Mapping[str, int] | None = None,
    ) -> None:
        self.clock = VirtualClock(START, stall_grace=60)
        seeds = seeds or {name: 31 + i for i, name in enumerate(sellers)}
        self.sandboxes = {
            name: Sandbox(seed=seeds[name], orders=8, clock=self.clock, faults=faults)
            for name, faults in sellers.items()
        }
        accounts = tuple(
            attrs.evolve(sandbox_config(sandbox).accounts[0], name=name)
            for name, sandbox in self.sandboxes.items()
        )
        self.config = SyncConfig(accounts=accounts, state_path=str(state))
        self.broken: dict[str, Exception] = {}
        """Accounts whose transport raises this (not an SDK error: a bug somewhere)."""

    def transports(self, account: AccountConfig) -> tuple[httpx.BaseTransport, httpx.BaseTransport]:
        sandbox = self.sandboxes[account.name]
        if account.name in self.broken:
            return _Raising(self.broken[account.name]), sandbox.shipstation_transport()
        return sandbox.backmarket_transport(), sandbox.shipstation_transport()

    def refuse(self, name: str) -> None:
        """The account's ShipStation secret is wrong: every call is a 401."""
        self.config = attrs.evolve(
            self.config,
            accounts=tuple(
                attrs.evolve(a, shipstation_api_secret="wrong-secret-0000") if a.name == name else a
                for a in self.config.accounts
            ),
        )

    def sync(self, parallel: int) -> RunReport:
        return run_sync(
            self.config, clock=self.clock, transports=self.transports, parallel=parallel
        )


class _Raising(httpx.BaseTransport):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise self.error


def _slow(seconds: float) -> FaultPlan:
    """Every request of the account takes ``seconds`` on the clock (a slow link, a slow API)."""
    return FaultPlan(slow_rate=1.0, slow_seconds=seconds)


def _duration(report: AccountReport) -> timedelta:
    assert report.finished_at is not None
    return report.finished_at - report.started_at


def _alone(tmp_path: Path, name: str, faults: FaultPlan | None, seed_of: int) -> timedelta:
    """How long the account takes when it is the only one (the same seed, a fresh world)."""
    world = Agency(tmp_path / f"alone-{name}.sqlite3", {name: faults}, seeds={name: seed_of})
    report = world.sync(parallel=1)
    (account,) = report.accounts
    return _duration(account)


def test_a_slow_and_a_refused_account_neither_delay_nor_stop_the_others(tmp_path: Path) -> None:
    sellers = {"fast-1": _slow(1), "slow": _slow(20), "refused": _slow(1), "fast-2": _slow(1)}
    agency = Agency(tmp_path / "state.sqlite3", sellers)
    agency.refuse("refused")
    report = agency.sync(parallel=4)

    assert [a.account for a in report.accounts] == list(sellers), "config order, always"
    by_name = {a.account: a for a in report.accounts}
    for name in ("fast-1", "slow", "fast-2"):
        account = by_name[name]
        assert account.error is None, account.to_text()
        assert account.imported == len(agency.sandboxes[name].shipstation.orders())
        assert account.imported > 0
    refused = by_name["refused"]
    assert refused.error is not None
    assert refused.error.error == "AuthenticationError"
    assert refused.error.message.startswith("credentials refused: ")
    assert refused.imported == 0
    assert agency.sandboxes["refused"].shipstation.orders(include_deleted=True) == []
    assert report.exit_code == 2, "the worst outcome: a setting to fix"
    assert "ERROR credentials refused" in report.to_text()
    assert report.to_dict()["accounts"][2]["error"]["exit_code"] == 2

    # Each account took exactly as long as it does alone: nobody waited for the slow one.
    for name, seed in (("fast-1", 31), ("slow", 32), ("fast-2", 34)):
        assert _duration(by_name[name]) == _alone(tmp_path, name, sellers[name], seed), name
    slow, fast = _duration(by_name["slow"]), _duration(by_name["fast-1"])
    assert slow > 10 * fast
    # The whole run lasted as long as its slowest account, not the sum of them all.
    assert agency.clock.now() - START == max(_duration(a) for a in report.accounts)
    assert agency.clock.stalls == 0


def test_k_accounts_with_their_own_credentials_take_one_accounts_duration(tmp_path: Path) -> None:
    sellers = {f"seller-{i}": _slow(2) for i in range(6)}
    parallel = Agency(tmp_path / "parallel.sqlite3", sellers)
    report = parallel.sync(parallel=6)
    assert report.exit_code == 0, report.to_text()
    durations = [_duration(a) for a in report.accounts]
    assert parallel.clock.now() - START == max(durations)

    one_by_one = Agency(tmp_path / "sequential.sqlite3", sellers)
    sequential = one_by_one.sync(parallel=1)
    assert [_duration(a) for a in sequential.accounts] == durations
    assert one_by_one.clock.now() - START == sum(durations, timedelta())
    assert [a.to_dict()["imported"] for a in sequential.accounts] == [
        a.to_dict()["imported"] for a in report.accounts
    ]

    # Two at a time: each account starts as soon as one of the two threads is free.
    paired = Agency(tmp_path / "paired.sqlite3", sellers)
    paired.sync(parallel=2)
    assert paired.clock.now() - START == _two_threads(durations)


def _two_threads(durations: list[timedelta]) -> timedelta:
    """When accounts of these durations, taken in order by two threads, are all done."""
    free = [timedelta(), timedelta()]
    for duration in durations:
        free.sort()
        free[0] += duration
    return max(free)


def test_the_next_run_of_parallel_accounts_sends_each_shipment_once(tmp_path: Path) -> None:
    sellers = {f"seller-{i}": _slow(1) for i in range(3)}
    agency = Agency(tmp_path / "state.sqlite3", sellers)
    first = agency.sync(parallel=3)
    assert first.exit_code == 0, first.to_text()
    shipped = {name: pack_and_ship(sandbox)[0] for name, sandbox in agency.sandboxes.items()}
    second = agency.sync(parallel=3)
    assert second.exit_code == 0, second.to_text()
    assert {a.account: a.notified for a in second.accounts} == shipped
    third = agency.sync(parallel=3)
    assert [a.notified for a in third.accounts] == [0, 0, 0], "nothing sent twice"
    with open_store(agency.config.state_path) as store:
        assert sorted(store.accounts()) == sorted(sellers)
        for name in sellers:
            assert store.pending_writes(name) == []
            assert store.get_lease(name) is None, "every lease given back"


def test_an_unexpected_error_in_one_account_is_raised_after_the_others_finish(
    tmp_path: Path,
) -> None:
    sellers = {"first": _slow(1), "broken": None, "last": _slow(5)}
    agency = Agency(tmp_path / "state.sqlite3", sellers)
    agency.broken["broken"] = RuntimeError("a bug in a custom transport")
    with pytest.raises(RuntimeError, match="a bug in a custom transport"):
        agency.sync(parallel=3)
    for name in ("first", "last"):
        assert agency.sandboxes[name].shipstation.orders(), f"{name} was synced all the same"


def test_progress_of_accounts_at_once_names_each_account(tmp_path: Path) -> None:
    agency = Agency(tmp_path / "state.sqlite3", {"eu": _slow(1), "us": _slow(1)})
    seen: list[tuple[str, int]] = []
    active = 0
    overlapping = False
    lock = threading.Lock()

    def progress(stage: str, count: int) -> None:
        nonlocal active, overlapping
        with lock:
            active += 1
            overlapping = overlapping or active > 1
        seen.append((stage, count))
        with lock:
            active -= 1

    run_sync(
        agency.config,
        clock=agency.clock,
        transports=agency.transports,
        parallel=2,
        progress=progress,
    )
    stages = {stage for stage, _ in seen}
    assert {"[eu] import", "[us] import"} <= stages, stages
    assert not overlapping, "a progress line is drawn by one thread at a time"


def test_parallel_must_be_at_least_one(tmp_path: Path) -> None:
    agency = Agency(tmp_path / "state.sqlite3", {"one": None})
    with pytest.raises(ValueError, match="parallel"):
        agency.sync(parallel=0)
