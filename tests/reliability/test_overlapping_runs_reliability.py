"""Overlapping runs: several real ``backmarket-shipstation sync`` processes on one state file.

What a seller's setup produces: a slow run under a ``*/5`` cron entry and the next one, a
``--watch`` left running while someone syncs by hand, a second server during a migration.
The test process serves the sandbox over loopback (default rate limits: a 429 would show) and
starts ``python -m backmarket_shipstation.cli sync --config ... --state ... --json`` 2 or 4
times at once, or a few hundred milliseconds apart (the next one starting while the first is
mid-notify), each process in a working directory of its own and all on one state: one SQLite
file, and again one PostgreSQL database (the throw-away server of tests/conftest.py). Every
request is logged at the simulators, so writes are counted where Back Market and ShipStation
receive them, not in the reports. Then: every packed order has exactly one delivered ship
POST, nothing is refused as already shipped, no 429, the reports' ``notified`` add up to the
orders shipped, and ShipStation holds each order once.

Two more: a lease holder SIGKILLed mid-notify is taken over after its lease expired (a short
``--lease-expiry``), with the same totals; and a holder paused (SIGSTOP) past its expiry while
another run takes over writes nothing once it wakes (SIGCONT).

The sandbox runs on the real clock, as the processes do.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from reliability_support import (
    Sent,
    delivered_ship_posts,
    invariant_violations,
    pack,
    store_orders,
)

from backmarket_shipstation.sandbox import Sandbox, ServedSandbox
from backmarket_shipstation.sync.state import open_store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The one state every process shares: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "state.sqlite3")
    url: str = request.getfixturevalue("postgres_url")
    return url


ORDERS = 150
PACKED = 72
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Wire:
    """Every request the simulators receive, with its answer; a hook at chosen requests."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.log: list[Sent] = []
        self.times: list[datetime] = []
        """When each request of :attr:`log` was answered."""
        self.hook: Callable[[Sent], None] | None = None
        """Called with each request after the simulator answered it, before the answer is
        sent back (so a process can be stopped or killed while it waits for it)."""
        self._lock = threading.Lock()
        for api, simulator in (
            ("backmarket", sandbox.backmarket),
            ("shipstation", sandbox.shipstation),
        ):
            simulator.handle = self._wrap(api, simulator.handle)  # type: ignore[method-assign,assignment]

    def _wrap(
        self, api: str, handle: Callable[[httpx.Request], httpx.Response]
    ) -> Callable[[httpx.Request], httpx.Response]:
        def logged(request: httpx.Request) -> httpx.Response:
            content = request.read()
            response = handle(request)
            body: Any = None
            if content:
                try:
                    body = json.loads(content)
                except ValueError:
                    body = content
            sent = Sent(api, request.method, request.url.path, body, str(response.status_code))
            with self._lock:
                self.log.append(sent)
                self.times.append(datetime.now(timezone.utc))
                hook = self.hook
            if hook is not None:
                hook(sent)
            return response

        return logged

    def ship_posts(self) -> list[Sent]:
        return [
            s
            for s in self.log
            if s.api == "backmarket"
            and s.method == "POST"
            and isinstance(s.body, dict)
            and s.body.get("new_state") == 3
        ]


@pytest.fixture
def served() -> Iterator[tuple[ServedSandbox, Wire]]:
    sandbox = Sandbox(seed=14, orders=ORDERS)
    wire = Wire(sandbox)  # before serving: the server's pipelines take the handlers now
    with sandbox.serve(port=0, deliver_webhooks=False) as running:
        yield running, wire


class Runs:
    """Starts ``sync`` processes, each in its own working directory, on one state file."""

    def __init__(self, served: ServedSandbox, tmp_path: Path, state: str) -> None:
        self.tmp_path = tmp_path
        (tmp_path / "shared").mkdir()
        self.state = state
        sandbox = served.sandbox
        self.config = tmp_path / "shared" / "sync.toml"
        self.config.write_text(
            f"""
[[accounts]]
name = "eu"
backmarket_token = "{sandbox.backmarket_token}"
backmarket_region = "eu"
backmarket_user_agent = "{sandbox.backmarket_user_agent}"
backmarket_base_url = "{served.backmarket_url}"
shipstation_api_key = "{sandbox.shipstation_api_key}"
shipstation_api_secret = "{sandbox.shipstation_api_secret}"
shipstation_base_url = "{served.shipstation_url}"
shipstation_store_id = {sandbox.shipstation_store_id}
""",
            encoding="utf-8",
        )
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("BACKMARKET_", "SHIPSTATION_"))
        }
        self.count = 0

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        self.count += 1
        workdir = self.tmp_path / f"run{self.count}"
        workdir.mkdir()
        command = [
            sys.executable,
            "-m",
            "backmarket_shipstation.cli",
            "sync",
            "--config",
            str(self.config),
            "--state",
            str(self.state),
            "--json",
            *extra,
        ]
        return subprocess.Popen(
            command, cwd=workdir, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    @staticmethod
    def report(process: subprocess.Popen[bytes]) -> dict[str, Any]:
        out, err = process.communicate(timeout=300)
        if process.returncode not in (0, 1):
            raise AssertionError(f"sync exited {process.returncode}: {err.decode()[-3000:]}")
        account: dict[str, Any] = json.loads(out)["accounts"][0]
        account["exit"] = process.returncode
        return account

    def notified_in_state(self) -> set[int]:
        with open_store(self.state, read_only=True) as store:
            return {
                w.bm_order_id
                for w in store.all_writes()
                if w.key == "notified" and w.status == "done"
            }

    def lease(self) -> tuple[str, datetime] | None:
        with open_store(self.state, read_only=True) as store:
            found = store.get_lease("eu")
        return None if found is None else (found.holder, found.expires_at)


def _import_and_pack(runs: Runs, served: ServedSandbox) -> set[int]:
    """One sync imports (and accepts) the orders; the packer labels PACKED of them."""
    first = runs.report(runs.start())
    assert first["exit"] == 0, first
    opened = [o for o in store_orders(served.sandbox) if o["orderStatus"] == "awaiting_shipment"]
    assert len(opened) >= PACKED
    chosen = sorted(opened, key=lambda o: int(o["orderNumber"]))[:PACKED]
    for ss_order in chosen:
        pack(served.sandbox, ss_order)
    return {int(o["orderNumber"]) for o in chosen}


def _assert_each_order_once(wire: Wire, served: ServedSandbox, packed: set[int]) -> None:
    ships = delivered_ship_posts(wire.log)
    assert set(ships) == packed
    assert all(count == 1 for count in ships.values()), {o: n for o, n in ships.items() if n > 1}
    refused = [s for s in wire.ship_posts() if not s.outcome.startswith("2")]
    assert refused == []  # no second ship write refused as already shipped
    assert [s for s in wire.log if s.outcome == "429"] == []
    per_key = Counter(o["orderKey"] for o in store_orders(served.sandbox))
    assert [key for key, n in per_key.items() if n > 1] == []
    assert invariant_violations(served.sandbox, wire.log) == []


@pytest.mark.parametrize("processes", [2, 4])
def test_runs_started_at_once_write_and_count_each_order_once(
    served: tuple[ServedSandbox, Wire], tmp_path: Path, state: str, processes: int
) -> None:
    running, wire = served
    runs = Runs(running, tmp_path, state)

    # Imports at once, on a fresh state file: ShipStation holds each order once, and the
    # reports' imports add up to the orders in ShipStation.
    started = [runs.start() for _ in range(processes)]
    imports = [runs.report(p) for p in started]
    assert all(r["exit"] == 0 for r in imports), imports
    in_shipstation = store_orders(running.sandbox)
    assert sum(r["imported"] for r in imports) == len(in_shipstation) > 0
    accepted_orders = {
        s.path
        for s in wire.log
        if s.method == "POST" and isinstance(s.body, dict) and s.body.get("new_state") == 2
    }
    assert sum(r["accepted"] for r in imports) == len(accepted_orders) > 0
    ran = [r for r in imports if r["held_by"] is None]
    skipped = [r for r in imports if r["held_by"] is not None]
    assert ran
    for report in skipped:
        assert report["held_by"]["text"].startswith("skipped: another run holds this account (")
        assert (report["imported"], report["failed"]) == (0, 0)

    opened = [o for o in in_shipstation if o["orderStatus"] == "awaiting_shipment"]
    packed = {int(o["orderNumber"]) for o in opened[:PACKED]}
    for ss_order in opened[:PACKED]:
        pack(running.sandbox, ss_order)

    started = [runs.start() for _ in range(processes)]
    notifies = [runs.report(p) for p in started]
    assert all(r["exit"] == 0 for r in notifies), notifies
    assert sum(r["notified"] for r in notifies) == len(packed)
    _assert_each_order_once(wire, running, packed)


def test_runs_started_a_few_hundred_ms_apart_while_one_is_mid_notify(
    served: tuple[ServedSandbox, Wire], tmp_path: Path, state: str
) -> None:
    running, wire = served
    runs = Runs(running, tmp_path, state)
    packed = _import_and_pack(runs, running)

    # The first run's first ship write is the signal: the others start from then on, 300 ms
    # apart, while it is notifying. Its answer is held back until the first of them has
    # exited, so that one surely starts (and meets the lease) mid-notify, however fast the
    # machine; the others may find it running or finished.
    mid_notify = threading.Event()
    later: list[subprocess.Popen[bytes]] = []

    def on_request(sent: Sent) -> None:
        if sent in wire.ship_posts()[:1] and not mid_notify.is_set():
            mid_notify.set()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and (not later or later[0].poll() is None):
                time.sleep(0.05)

    wire.hook = on_request
    first = runs.start()
    assert mid_notify.wait(timeout=120)
    for _ in range(3):
        later.append(runs.start())
        time.sleep(0.3)
    reports = [runs.report(first)] + [runs.report(p) for p in later]
    assert all(r["exit"] == 0 for r in reports), reports
    assert reports[0]["held_by"] is None
    assert reports[1]["held_by"] is not None  # it started mid-notify
    assert sum(r["notified"] for r in reports) == len(packed)
    _assert_each_order_once(wire, running, packed)


def test_a_holder_killed_mid_notify_is_taken_over_after_its_lease_expires(
    served: tuple[ServedSandbox, Wire], tmp_path: Path, state: str
) -> None:
    running, wire = served
    runs = Runs(running, tmp_path, state)
    packed = _import_and_pack(runs, running)

    holder = runs.start("--lease-expiry", "3")
    killed = threading.Event()

    def kill_at_the_tenth_ship_write(sent: Sent) -> None:
        if not killed.is_set() and len(wire.ship_posts()) == 10:
            holder.send_signal(signal.SIGKILL)  # its ship write went out; its answer is lost
            killed.set()

    wire.hook = kill_at_the_tenth_ship_write
    holder.communicate(timeout=300)
    assert killed.is_set()
    assert holder.returncode == -signal.SIGKILL
    wire.hook = None
    # Its lease is still in the state file: a run started now must wait for it to expire.
    dead = runs.lease()
    assert dead is not None
    done_by_killed = runs.notified_in_state()
    assert len(done_by_killed) < len(packed)

    before = len(wire.log)
    started_at = datetime.now(timezone.utc)
    successor = runs.report(runs.start("--lease-expiry", "3", "--wait-for-lease", "30"))
    assert started_at < dead[1]  # it started while the dead run's lease still stood...
    assert min(wire.times[before:]) >= dead[1]  # ...and sent nothing before it expired
    assert successor["exit"] == 0, successor
    assert successor["held_by"] is None  # took the account over
    assert successor["notified"] + len(done_by_killed) == len(packed)
    assert runs.notified_in_state() == packed
    assert runs.lease() is None  # given back
    _assert_each_order_once(wire, running, packed)


def test_a_holder_paused_past_its_lease_writes_nothing_after_waking(
    served: tuple[ServedSandbox, Wire], tmp_path: Path, state: str
) -> None:
    running, wire = served
    runs = Runs(running, tmp_path, state)
    packed = _import_and_pack(runs, running)

    paused = runs.start("--lease-expiry", "2")
    stopped = threading.Event()
    successor: subprocess.Popen[bytes] | None = None
    woke_at: list[int] = []

    def on_request(sent: Sent) -> None:
        ships = len(wire.ship_posts())
        if not stopped.is_set() and ships == 5:
            paused.send_signal(signal.SIGSTOP)  # frozen while it waits for this answer
            stopped.set()
        elif stopped.is_set() and not woke_at and ships == 8:
            # The successor is mid-notify with the account: freeze it, and wake the old
            # holder. Every write from now until the successor is woken is the old holder's.
            assert successor is not None
            successor.send_signal(signal.SIGSTOP)
            woke_at.append(len(wire.log))
            paused.send_signal(signal.SIGCONT)

    wire.hook = on_request
    try:
        assert stopped.wait(timeout=120)
        # Another run waits for the frozen holder's lease to expire, then does the work.
        successor = runs.start("--lease-expiry", "30", "--wait-for-lease", "30")
        woken = runs.report(paused)
    finally:
        wire.hook = None
        paused.send_signal(signal.SIGCONT)
        if successor is not None:
            successor.send_signal(signal.SIGCONT)
    assert woke_at, "the successor never got going"
    after_waking = [s for s in wire.log[woke_at[0] :] if s.method in WRITE_METHODS]
    assert after_waking == []  # not one write once it woke
    assert woken["exit"] == 1
    assert [f["stage"] for f in woken["failures"]] == ["lease"]
    assert woken["failures"][0]["error"] == "LeaseLostError"

    assert successor is not None
    finished = runs.report(successor)
    assert finished["exit"] == 0, finished
    assert finished["held_by"] is None
    assert finished["notified"] + woken["notified"] == len(packed)
    assert runs.notified_in_state() == packed
    _assert_each_order_once(wire, running, packed)
