"""Crash-resume: the real command in a subprocess, killed with SIGKILL, restarted until done.

The test process serves a sandbox over loopback and runs ``python -m backmarket_shipstation.cli
sync --config ... --state ...`` against it, again and again, while the seller's day goes on
between runs (new orders arrive, buyers cancel, the packer types IMEIs and buys labels). A
counter in front of each simulator kills the subprocess with SIGKILL when the server receives
the k-th request of a run (k and the moment drawn from a fixed seed): either before the
simulator sees the request, or after it applied it (the answer is lost with the process). After
20 kills the day ends: the packer ships what is left and the command runs until it exits 0
and writes nothing. Then nothing is lost, nothing is duplicated in ShipStation, no order had
a second ship POST reach Back Market, and SQLite says the state file is intact.

The sandbox runs on the real clock (the served simulators and the subprocess share no
virtual one); its rate limits are lifted so a score of short runs never waits for a window.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from reliability_support import (
    EXTENDED,
    SellerPacker,
    Sent,
    bm_order_id,
    delivered_ship_posts,
    invariant_violations,
    store_orders,
)

from backmarket_shipstation.sandbox import Sandbox, ServedSandbox

KILLS = 40 if EXTENDED else 20
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Killer:
    """Counts the requests each simulator receives and kills the running sync at the k-th."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.log: list[Sent] = []
        self.count = 0
        self.kill_at: int | None = None
        self.after_delivery = False
        self.process: subprocess.Popen[bytes] | None = None
        self.killed = False
        self._lock = threading.Lock()
        # The served pipelines call ``simulator.handle``: wrapping it on the instance puts the
        # counter between the server and the simulator.
        for api, simulator in (
            ("backmarket", sandbox.backmarket),
            ("shipstation", sandbox.shipstation),
        ):
            simulator.handle = self._wrap(api, simulator.handle)  # type: ignore[method-assign,assignment]

    def arm(self, process: subprocess.Popen[bytes], kill_at: int, after_delivery: bool) -> None:
        with self._lock:
            self.process = process
            self.count = 0
            self.kill_at = kill_at
            self.after_delivery = after_delivery
            self.killed = False

    def disarm(self) -> None:
        with self._lock:
            self.kill_at = None
            self.process = None

    def _kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.killed = True

    def _wrap(
        self, api: str, handle: Callable[[httpx.Request], httpx.Response]
    ) -> Callable[[httpx.Request], httpx.Response]:
        def counted(request: httpx.Request) -> httpx.Response:
            with self._lock:
                self.count += 1
                due = not self.killed and self.kill_at is not None and self.count == self.kill_at
                if due and not self.after_delivery:
                    self._kill()
                    return httpx.Response(503, text="killed before delivery\n")
            content = request.read()
            response = handle(request)
            body: Any = None
            if content:
                try:
                    body = httpx.Response(200, content=content).json()
                except ValueError:
                    body = content
            with self._lock:
                self.log.append(
                    Sent(api, request.method, request.url.path, body, str(response.status_code))
                )
                if due:
                    self._kill()
            return response

        return counted


def _config(served: ServedSandbox, path: Path) -> Path:
    sandbox = served.sandbox
    text = f"""
[[accounts]]
name = "crash"
backmarket_token = "{sandbox.backmarket_token}"
backmarket_region = "eu"
backmarket_user_agent = "{sandbox.backmarket_user_agent}"
backmarket_base_url = "{served.backmarket_url}"
shipstation_api_key = "{sandbox.shipstation_api_key}"
shipstation_api_secret = "{sandbox.shipstation_api_secret}"
shipstation_base_url = "{served.shipstation_url}"
shipstation_store_id = {sandbox.shipstation_store_id}
"""
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def served() -> Iterator[tuple[ServedSandbox, Killer]]:
    sandbox = Sandbox(
        seed=5,
        orders=10,
        backmarket_options={"rate_limit": None},
        shipstation_options={"rate_limit": 1_000_000},
    )
    killer = Killer(sandbox)  # before serving: the server's pipelines take the handlers now
    with sandbox.serve(port=0, deliver_webhooks=False) as running:
        yield running, killer


def test_sigkill_at_twenty_points_then_restart_loses_nothing(
    served: tuple[ServedSandbox, Killer], tmp_path: Path
) -> None:
    running, killer = served
    sandbox = running.sandbox
    config = _config(running, tmp_path / "crash.toml")
    state = tmp_path / "crash.sqlite3"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BACKMARKET_", "SHIPSTATION_"))
    }
    command = [
        sys.executable,
        "-m",
        "backmarket_shipstation.cli",
        "sync",
        "--config",
        str(config),
        "--state",
        str(state),
        "--json",
        # A killed run cannot give its account's lease back: the next one, started at once,
        # waits for it to expire (as a cron run with --wait-for-lease does), then resumes.
        "--lease-expiry",
        "1",
        "--wait-for-lease",
        "5",
    ]
    rng = random.Random(20)
    bm = sandbox.backmarket
    packer = SellerPacker(sandbox, random.Random(21))

    def run(kill_at: int | None = None, after_delivery: bool = False) -> int:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if kill_at is not None:
            killer.arm(process, kill_at, after_delivery)
        try:
            out, err = process.communicate(timeout=120)
        finally:
            killer.disarm()
        outputs.append(out.decode(errors="replace"))
        if process.returncode not in (0, 1, -signal.SIGKILL):
            raise AssertionError(f"sync exited {process.returncode}: {err.decode()[-3000:]}")
        return process.returncode

    for _ in range(20):
        bm.new_order()
    kills = completed = 0
    kill_points: list[tuple[int, bool]] = []
    cancelled: set[int] = set()
    outputs: list[str] = []
    for _attempt in range(KILLS * 3):
        if kills == KILLS:
            break
        # The day goes on between runs.
        for _ in range(rng.randint(0, 2)):
            bm.new_order()
        # The packer ships what ShipStation shows open, except what buyers cancelled (a
        # killed run may not have carried the cancellation to ShipStation yet).
        opened = [
            o
            for o in store_orders(sandbox)
            if o["orderStatus"] == "awaiting_shipment" and bm_order_id(o) not in cancelled
        ]
        rng.shuffle(opened)
        if opened and rng.random() < 0.2 and bm_order_id(opened[-1]) not in packer.edited:
            cancelled.add(bm_order_id(opened[-1]))
            victim = bm.get_order(bm_order_id(opened.pop()))
            assert victim is not None
            for line in victim["orderlines"]:
                if line["state"] in (0, 1, 2, 8, 9):
                    bm.cancel_line_as_buyer(victim["order_id"], line["id"])
        for ss_order in opened[: rng.randint(0, 4)]:
            packer.ship(ss_order)
        kill_at, after_delivery = rng.randint(1, 30), rng.random() < 0.5
        code = run(kill_at=kill_at, after_delivery=after_delivery)
        if code == -signal.SIGKILL:
            assert killer.killed
            kills += 1
            kill_points.append((kill_at, after_delivery))
        else:
            completed += 1
    assert kills == KILLS
    # Both kinds of death, early and late in a run, and runs that finished in between.
    assert {after for _, after in kill_points} == {False, True}
    assert min(k for k, _ in kill_points) <= 5 < max(k for k, _ in kill_points)
    assert completed > 0

    for ss_order in store_orders(sandbox):
        if ss_order["orderStatus"] == "awaiting_shipment" and (
            bm_order_id(ss_order) not in cancelled
        ):
            packer.ship(ss_order)

    def settle(uncovered: frozenset[int]) -> None:
        """Runs until one writes nothing and fails nothing but the orders in ``uncovered``
        (each an UncoveredLinesError: exit 1 then)."""
        for _ in range(5):
            before = len(killer.log)
            code = run()
            writes = [s for s in killer.log[before:] if s.method in WRITE_METHODS]
            failed = {
                f["order_id"]: f["error"]
                for account in json.loads(outputs[-1])["accounts"]
                for f in account["failures"]
            }
            as_expected = set(failed) == uncovered and set(failed.values()) <= {
                "UncoveredLinesError"
            }
            if code == (1 if uncovered else 0) and as_expected and not writes:
                return
        raise AssertionError(f"the sync never settled after the crashes: {outputs[-1][-3000:]}")

    # The orders labelled without a removed item stay unsent while that line is uncovered,
    # and are reported once their buyers cancel the removed lines.
    uncovered = frozenset(packer.uncovered)
    settle(uncovered)
    ships = delivered_ship_posts(killer.log)
    assert {oid: ships[oid] for oid in uncovered if ships[oid]} == {}
    assert invariant_violations(sandbox, killer.log) == []
    packer.resolve_uncovered()
    settle(frozenset())
    print(f"\ncrash seller mix: {packer.summary()}")
    assert packer.mix["split"] > 0, packer.mix
    assert packer.mix["second_label"] > 0, packer.mix

    assert invariant_violations(sandbox, killer.log) == []
    shipped = [o for o in store_orders(sandbox) if o["orderStatus"] == "shipped"]
    assert len(shipped) >= 20
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        pending = db.execute("SELECT COUNT(*) FROM writes WHERE status = 'pending'").fetchone()
        assert pending == (0,)
