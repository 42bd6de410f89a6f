"""Celery workers: three real worker processes, a real Redis, the PostgreSQL state, one killed.

An agency of 20 sellers with 50 orders each (``AgencySandbox``) is served on loopback by the
test process. Three ``celery -A backmarket_shipstation.celery worker`` processes sync it, the
first with ``-B`` (the scheduler), all from one TOML file (``write_config`` plus a
``[celery]`` table naming the test's throw-away Redis) and one PostgreSQL state. The test
fans a cycle out with the function beat calls (``fan_out``): every order is imported. Every
seller's packer then labels its orders (every fifth one without its IMEIs), and the next
cycle reports them to Back Market; in it, on the third ship write of an account that a worker
without the scheduler is running, that worker is SIGKILLed (with its pool child) right after
Back Market applied the write, before the worker sees the answer. The survivors finish the
cycle; the killed account waits for its lease to expire, and the next *scheduled* cycle (beat's
``fan_out``, not the test's) finishes it. Then: every order is in ShipStation once, in its
own seller's store; every order packed with its identifiers had exactly one ship write (the
one the killed worker never heard back about included); no API answered a 429; and the
reports, read back from the result backend, account for every order: per account, the orders
imported are the orders in its store, and the orders notified, plus those the killed run had
claimed before it died (its report died with it), are the orders to ship.

All 20 stores are in one ShipStation account behind one key pair, as an agency's usually are,
and the three workers draw on its budget at once: they share it through the PostgreSQL state
(the rate budgets shared across processes, on by default with a PostgreSQL state), so none of
them meets a 429. The simulator's window is 4 s instead of 60 (40 requests per window, as
ShipStation's), the same budget logic in a fifteenth of the time: a cycle of 20 accounts makes
about 150 ShipStation requests, which take almost four minutes at 40 a minute.

The sandbox runs on the real clock: the workers are other processes and share no virtual one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("celery", reason="the [celery] extra is not installed")

from backmarket_shipstation import celery as bmss_celery
from backmarket_shipstation.sandbox import AgencySandbox, AgencySeller
from backmarket_shipstation.sync.journal import NOTIFIED
from backmarket_shipstation.sync.state import open_store

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

ACCOUNTS = 20
ORDERS = 50
WORKERS = 3
INTERVAL_SECONDS = 45
"""Beat's interval: long enough that the test's two cycles come first, short enough that the
scheduled one follows soon after the kill."""
LEASE_EXPIRY_SECONDS = 5
KILL_AT_SHIP_WRITE = 3
DEADLINE_SECONDS = 240
RATE_WINDOW_SECONDS = 4


class WorkerKiller:
    """Kills the worker running an account at that account's k-th ship write, once armed.

    It sits between the server and each seller's Back Market simulator: the write is applied,
    then the worker that sent it (found by the account's lease in the state: its pid, whose
    process group is the worker's) is SIGKILLed before the answer goes back.
    """

    def __init__(self, agency: AgencySandbox, state_url: str) -> None:
        self.state_url = state_url
        self.killable: dict[int, str] = {}
        """Process group -> worker name, of the workers that may be killed (not beat's)."""
        self.armed = False
        self.killed: dict[str, Any] | None = None
        self._writes: Counter[str] = Counter()
        self._lock = threading.Lock()
        for seller in agency.sellers:
            # ServedAgency mounts ``seller.handle_backmarket``: wrapping it on the instance
            # before serve() puts the killer in front of the simulator.
            seller.handle_backmarket = self._wrap(seller, seller.handle_backmarket)  # type: ignore[method-assign]

    def _wrap(
        self, seller: AgencySeller, handle: Callable[[httpx.Request], httpx.Response]
    ) -> Callable[[httpx.Request], httpx.Response]:
        def handle_and_maybe_kill(request: httpx.Request) -> httpx.Response:
            before = len(seller.ship_writes)
            response = handle(request)
            if len(seller.ship_writes) > before and response.status_code == 200:
                self._ship_write(seller, request)
            return response

        return handle_and_maybe_kill

    def _ship_write(self, seller: AgencySeller, request: httpx.Request) -> None:
        with self._lock:
            if not self.armed or self.killed is not None:
                return
            self._writes[seller.name] += 1
            if self._writes[seller.name] < KILL_AT_SHIP_WRITE:
                return
            with open_store(self.state_url) as store:
                lease = store.get_lease(seller.name)
            if lease is None:
                return
            try:
                group = os.getpgid(lease.pid)
            except ProcessLookupError:
                return
            if group not in self.killable:
                return  # beat's worker, or a run outside the workers: another account will do
            os.killpg(group, signal.SIGKILL)
            self.killed = {
                "account": seller.name,
                "worker": self.killable[group],
                "holder": lease.holder,
                "at": datetime.now(timezone.utc),
                "write": request.url.path,
                "writes_before": self._writes[seller.name] - 1,
            }
            self.armed = False


def worker_command(index: int, tmp_path: Path) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "backmarket_shipstation.celery",
        "worker",
        "--hostname",
        f"w{index}@%h",
        "--pool",
        "prefork",
        "--concurrency",
        "1",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
    ]
    if index == 0:
        command += ["--beat", "--schedule", str(tmp_path / "celerybeat-schedule")]
    return command


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[Path], list[subprocess.Popen[bytes]]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(config: Path) -> list[subprocess.Popen[bytes]]:
        env = {**os.environ, bmss_celery.CONFIG_VARIABLE: str(config)}
        env.pop("BACKMARKET_SHIPSTATION_BROKER_URL", None)
        env.pop("BACKMARKET_SHIPSTATION_RESULT_BACKEND", None)
        for index in range(WORKERS):
            log = open(tmp_path / f"w{index}.log", "wb")  # noqa: SIM115 - the worker writes it
            started.append(
                subprocess.Popen(
                    worker_command(index, tmp_path),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=tmp_path,
                    start_new_session=True,
                )
            )
            log.close()
        return started

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def logs(tmp_path: Path) -> str:
    tails = []
    for index in range(WORKERS):
        path = tmp_path / f"w{index}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        tails.append(f"--- w{index}\n" + "\n".join(text.splitlines()[-25:]))
    return "\n".join(tails)


def results(redis_url: str) -> list[dict[str, Any]]:
    """Every task result in the backend (``result_extended``: with its task name and args)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    found = []
    for key in client.scan_iter("celery-task-meta-*"):
        raw = client.get(key)
        if raw is not None:
            found.append(json.loads(raw))
    return found


def date_done(result: dict[str, Any]) -> datetime:
    done = datetime.fromisoformat(result["date_done"])
    return done if done.tzinfo else done.replace(tzinfo=timezone.utc)


def wait_for(what: str, ready: Callable[[], bool], tmp_path: Path, deadline: float) -> None:
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{logs(tmp_path)}")
        time.sleep(0.25)


def test_a_worker_killed_mid_cycle_never_doubles_a_write_and_the_schedule_finishes_its_work(
    tmp_path: Path,
    redis_url: str,
    postgres_url: str,
    workers: Callable[[Path], list[subprocess.Popen[bytes]]],
) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    agency = AgencySandbox(
        accounts=ACCOUNTS,
        orders_per_account=ORDERS,
        seed=15,
        shared_key_pair=True,
        shipstation_options={"rate_window_seconds": RATE_WINDOW_SECONDS},
    )
    killer = WorkerKiller(agency, postgres_url)
    with agency.serve() as served:
        config = served.write_config(
            tmp_path / "agency.toml",
            state=postgres_url,
            lease_expiry_seconds=LEASE_EXPIRY_SECONDS,
        )
        with config.open("a", encoding="utf-8") as file:
            file.write(
                f'\n[celery]\nbroker_url = "{redis_url}"\n'
                f"interval_minutes = {INTERVAL_SECONDS / 60}\n"
            )
        app = bmss_celery.create_app(config, env={})
        processes = workers(config)
        killer.killable = {p.pid: f"w{i}" for i, p in enumerate(processes) if i > 0}

        def all_ready() -> bool:
            replies = app.control.ping(timeout=0.5)
            return len({name for reply in replies for name in reply}) == WORKERS

        wait_for("the workers to start", all_ready, tmp_path, deadline)

        # Cycle 1, fanned out as beat does: every order imported, nothing to ship yet.
        first = bmss_celery.fan_out(app, config, env={})
        assert len(first) == ACCOUNTS
        reports = [
            app.AsyncResult(i).get(timeout=max(1.0, deadline - time.monotonic())) for i in first
        ]
        assert {r["account"] for r in reports} == {s.name for s in agency.sellers}
        assert sum(r["imported"] for r in reports if r["held_by"] is None) > 0

        # The packers label every order, every fifth without its IMEIs; cycle 2 reports them,
        # and one worker dies in it.
        packed = agency.pack(forget_every=5)
        assert packed
        killer.armed = True
        second = bmss_celery.fan_out(app, config, env={})
        wait_for("a worker to be killed", lambda: killer.killed is not None, tmp_path, deadline)
        killed = killer.killed
        assert killed is not None
        victim = next(p for i, p in enumerate(processes) if f"w{i}" == killed["worker"])
        victim.wait(timeout=10)
        assert victim.returncode == -signal.SIGKILL

        sent_by_test = set(first) | set(second)

        def scheduled_cycle_finished_the_killed_account() -> bool:
            found = results(redis_url)
            by_id = {r["task_id"]: r for r in found}
            for fan in found:
                if (
                    fan.get("name") != bmss_celery.FAN_OUT_TASK
                    or fan["task_id"] in sent_by_test
                    or fan["status"] != "SUCCESS"
                    or date_done(fan) <= killed["at"]
                ):
                    continue
                cycle = [by_id.get(i) for i in fan["result"]]
                if any(r is None or r["status"] not in ("SUCCESS", "REVOKED") for r in cycle):
                    continue
                if any(
                    r is not None
                    and r["status"] == "SUCCESS"
                    and r["result"]["account"] == killed["account"]
                    and r["result"]["held_by"] is None
                    for r in cycle
                ):
                    return True
            return False

        wait_for(
            "the next scheduled cycle to finish the killed worker's account",
            scheduled_cycle_finished_the_killed_account,
            tmp_path,
            deadline,
        )
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)

        check = agency.check()
        assert check.ok, check.to_text() + "\n" + logs(tmp_path)
        assert check.rate_limited == 0
        assert check.to_ship > 0
        assert check.ship_writes == check.to_ship

        # The reports account for every order.
        done = [
            r["result"]
            for r in results(redis_url)
            if r.get("name") == bmss_celery.SYNC_ACCOUNT_TASK and r["status"] == "SUCCESS"
        ]
        ran = [r for r in done if r["held_by"] is None]
        imported: Counter[str] = Counter()
        notified: Counter[str] = Counter()
        for report in ran:
            imported[report["account"]] += report["imported"]
            notified[report["account"]] += report["notified"]
        with open_store(postgres_url) as store:
            claimed_by_killed_run = sum(
                1
                for oid in agency.seller(killed["account"]).backmarket.order_ids()
                if (record := store.get_write(killed["account"], oid, NOTIFIED)) is not None
                and record.claimant == killed["holder"]
            )
        # The write in flight when it died was never claimed: its order is the next run's.
        assert claimed_by_killed_run <= killed["writes_before"]
        problems: defaultdict[str, list[str]] = defaultdict(list)
        for seller in agency.sellers:
            own = agency.check(seller.name)
            lost_report = claimed_by_killed_run if seller.name == killed["account"] else 0
            if imported[seller.name] != own.orders_in_shipstation:
                problems[seller.name].append(
                    f"imported {imported[seller.name]}, {own.orders_in_shipstation} in its store"
                )
            if notified[seller.name] + lost_report != own.to_ship:
                problems[seller.name].append(
                    f"notified {notified[seller.name]} (+{lost_report} by the killed run),"
                    f" {own.to_ship} to ship"
                )
        assert not problems, dict(problems)
