"""Two hosts: two ``sync --watch --parallel 4`` processes on one PostgreSQL state (issue 15).

What an agency runs for availability: the same configuration of many sellers on two
machines, both watching, sharing one PostgreSQL state. A "host" here is a process with a lease
holder identity of its own (``host:pid:random``, see ``sync/journal.py``); both talk to one
served agency sandbox over loopback, on the real clock, as separate machines would.

- Both run: each account is synced by whichever host takes its lease first in a cycle; the
  other skips it (``held_by`` in its report) and moves on, so the two share the accounts and
  both do work. Every order reaches its seller's ShipStation store once, every packed order
  gets one ship write.
- One host is SIGKILLed while it holds accounts, mid-cycle: its leases stay in the state
  until they expire (``--lease-expiry 2``), then the survivor takes those accounts over and
  finishes the work, still writing nothing twice.

ShipStation's 40 requests a minute are raised in the simulator for this test: two watches
cycling every 0.2 s would spend a minute's budget in seconds, and this test is about leases,
not budgets (those are tested where the budgets are).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backmarket_shipstation.sandbox import AgencySandbox, ServedAgency
from backmarket_shipstation.sync.state import open_store

pytestmark = pytest.mark.postgres

ACCOUNTS = 8
ORDERS = 12
LEASE_EXPIRY = "2"
GIVE_UP = 120.0
"""Real seconds after which a wait fails the test instead of hanging it."""


class Host:
    """One ``sync --watch --parallel 4`` process; its JSON reports, read as they come."""

    def __init__(self, name: str, config: Path, workdir: Path) -> None:
        self.name = name
        workdir.mkdir()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("BACKMARKET_", "SHIPSTATION_"))
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backmarket_shipstation.cli",
                "sync",
                "--config",
                str(config),
                "--watch",
                "--interval",
                "0.2",
                "--parallel",
                "4",
                "--lease-expiry",
                LEASE_EXPIRY,
                "--json",
            ],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.reports: list[dict[str, Any]] = []
        self.err = b""
        self._lock = threading.Lock()
        # Drained all along: a watch prints a report per cycle and would fill the pipe.
        self._readers = [
            threading.Thread(target=self._read_reports, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read_reports(self) -> None:
        assert self.process.stdout is not None
        decoder = json.JSONDecoder()
        buffer = ""
        for chunk in iter(lambda: self.process.stdout.read1(65536), b""):  # type: ignore[union-attr]
            buffer += chunk.decode()
            while True:
                stripped = buffer.lstrip()
                try:
                    report, end = decoder.raw_decode(stripped)
                except ValueError:
                    break
                with self._lock:
                    self.reports.append(report)
                buffer = stripped[end:]

    def _read_err(self) -> None:
        assert self.process.stderr is not None
        for chunk in iter(lambda: self.process.stderr.read1(65536), b""):  # type: ignore[union-attr]
            self.err += chunk

    def synced(self, since: int = 0) -> set[str]:
        """Accounts this host synced (held their lease) in its reports from ``since`` on."""
        with self._lock:
            return {
                a["account"]
                for report in self.reports[since:]
                for a in report["accounts"]
                if a["held_by"] is None and a["error"] is None
            }

    def skipped_for(self, pid: int, since: int = 0) -> set[str]:
        """Accounts this host skipped because the process ``pid`` held them."""
        with self._lock:
            return {
                a["account"]
                for report in self.reports[since:]
                for a in report["accounts"]
                if a["held_by"] is not None and a["held_by"]["pid"] == pid
            }

    def cycles(self) -> int:
        with self._lock:
            return len(self.reports)

    def problems(self) -> list[str]:
        """Accounts a run stopped as a whole, or failed orders: none are expected here."""
        with self._lock:
            return [
                f"{self.name} {a['account']}: {a['error'] or a['failures']}"
                for report in self.reports
                for a in report["accounts"]
                if a["error"] is not None or a["failures"]
            ]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=GIVE_UP)
        self.close()
        return code

    def close(self) -> None:
        """Once the process is gone: the last reports read, its pipes closed."""
        for reader in self._readers:
            reader.join(timeout=10)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def _until(condition: Callable[[], bool], what: str, hosts: list[Host]) -> None:
    deadline = time.monotonic() + GIVE_UP
    while not condition():
        for host in hosts:
            if host.process.poll() is not None and host.process.returncode != -signal.SIGKILL:
                raise AssertionError(f"{host.name} exited: {host.err.decode()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.05)


@pytest.fixture
def agency() -> Iterator[ServedAgency]:
    world = AgencySandbox(
        accounts=ACCOUNTS,
        orders_per_account=ORDERS,
        seed=23,
        shipstation_options={"rate_limit": 100_000},
    )
    with world.serve() as served:
        yield served


def _leases(state: str) -> dict[str, int]:
    """The live leases' holders, as pids, by account."""
    with open_store(state, read_only=True) as store:
        found = {name: store.get_lease(name) for name in store.accounts()}
    return {name: lease.pid for name, lease in found.items() if lease is not None}


def test_two_hosts_split_the_accounts_and_one_takes_over_when_the_other_dies(
    agency: ServedAgency, postgres_url: str, tmp_path: Path
) -> None:
    world = agency.agency
    names = [seller.name for seller in world.sellers]
    first_half, second_half = names[: ACCOUNTS // 2], names[ACCOUNTS // 2 :]
    config = agency.write_config(tmp_path / "agency.toml", state=postgres_url)
    a = Host("host-a", config, tmp_path / "a")
    b = Host("host-b", config, tmp_path / "b")
    hosts = [a, b]
    try:
        # Both hosts watch: every order is imported, each account by one host at a time.
        _until(lambda: world.check().ok, "every order imported", hosts)
        world.pack(first_half[0])
        for name in first_half[1:]:
            world.pack(name)
        _until(
            lambda: world.check().ok and world.check().ship_writes == world.check().to_ship > 0,
            "the first half's packed orders reported",
            hosts,
        )
        assert a.synced(), "host A held accounts"
        assert b.synced(), "host B held accounts"
        assert a.synced() | b.synced() == set(names)
        assert a.skipped_for(b.pid) | b.skipped_for(a.pid), "each skips what the other holds"

        # The second half is packed; host A dies while it holds some of the accounts.
        for name in second_half:
            world.pack(name)
        orphaned: set[str] = set()

        def a_stopped_holding_accounts() -> bool:
            if a.pid not in _leases(postgres_url).values():
                return False
            # Stopped first, so that it cannot give a lease back between the look and the kill.
            a.process.send_signal(signal.SIGSTOP)
            orphaned.update(n for n, pid in _leases(postgres_url).items() if pid == a.pid)
            if not orphaned:
                a.process.send_signal(signal.SIGCONT)
            return bool(orphaned)

        _until(a_stopped_holding_accounts, "host A holding an account", hosts)
        a.process.send_signal(signal.SIGKILL)
        assert a.process.wait(timeout=GIVE_UP) == -signal.SIGKILL
        after_kill = b.cycles()

        # Host B alone finishes everything once the dead host's leases expired.
        _until(
            lambda: world.check().ok and world.check().ship_writes == world.check().to_ship,
            "every packed order reported after the kill",
            hosts,
        )
        _until(lambda: orphaned <= b.synced(after_kill), "host B took A's accounts", hosts)
        assert world.check().to_ship == sum(
            1
            for seller in world.sellers
            for order in seller.shipstation.orders()
            if order.get("orderStatus") == "shipped"
            and (order.get("advancedOptions") or {}).get("storeId") == seller.shipstation_store_id
        )
        with open_store(postgres_url, read_only=True) as store:
            for name in names:
                assert store.pending_writes(name) == [], name
        assert b.stop() in (0, 1)
        check = world.check()
        assert check.ok, check.to_text()
        assert check.ship_writes == check.to_ship
        assert a.problems() == []
        assert b.problems() == []
    finally:
        for host in hosts:
            if host.process.poll() is None:
                host.process.kill()
                host.process.wait(timeout=30)
            host.close()
