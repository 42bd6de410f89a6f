"""How many accounts one Celery worker process holds: its CPU and memory per account run.

One ``celery -A backmarket_shipstation.celery worker --concurrency C`` syncs an agency
sandbox served on loopback by this process (K sellers of N orders, each with its own
ShipStation key pair), through a throw-away Redis and the PostgreSQL state (both from
tests/*_server.py; SQLite with --sqlite). Three cycles, each fanned out as beat does and timed
until every report is back: the first imports every order, the packers then label them, the
second reports them to Back Market, the third finds nothing new (an agency's usual cycle).
Printed per cycle: the wall time, the worker's CPU time (main process and pool children, read
from /proc), and per account run; then the pool processes' resident memory.

The sandbox answers in well under a millisecond and runs in this process: the wall times are
the worker's and the sandbox's CPU, not an API's latency, and the real bound of a worker is
the APIs' latency and rate limits (see the guide). The CPU per account run is the worker's
own cost, the figure that says how many accounts a core can carry per interval.

    .venv/bin/python benchmarks/celery_workers.py [--accounts 40] [--orders 50] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _test_servers import load_test_server

from backmarket_shipstation import celery as bmss_celery
from backmarket_shipstation.sandbox import AgencySandbox

TICKS = os.sysconf("SC_CLK_TCK")


def group_pids(group: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == group:
                    pids.append(int(entry.name))
            except ProcessLookupError:
                continue
    return pids


def cpu_seconds(group: int) -> float:
    """User + system CPU of every live process of the worker's group."""
    total = 0
    for pid in group_pids(group):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cycle(app: Any, config: Path, group: int) -> tuple[float, float, float, list[dict[str, Any]]]:
    cpu = cpu_seconds(group)
    own = time.process_time()
    started = time.perf_counter()
    ids = bmss_celery.fan_out(app, config, env={})
    reports = [app.AsyncResult(i).get(timeout=600) for i in ids]
    wall = time.perf_counter() - started
    return wall, cpu_seconds(group) - cpu, time.process_time() - own, reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite state file instead")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bmss-celery-bench-"))
    redis = load_test_server("redis_server").start_server()
    postgres = None if args.sqlite else load_test_server("postgres_server").start_server()
    state = str(work / "state.sqlite3") if postgres is None else postgres.create_database()
    agency = AgencySandbox(
        accounts=args.accounts, orders_per_account=args.orders, seed=3, shared_key_pair=False
    )
    worker = None
    try:
        with agency.serve() as served:
            config = served.write_config(work / "agency.toml", state=state)
            with config.open("a", encoding="utf-8") as file:
                file.write(f'\n[celery]\nbroker_url = "{redis.url()}"\ninterval_minutes = 60\n')
            app = bmss_celery.create_app(config, env={})
            log = open(work / "worker.log", "wb")  # noqa: SIM115
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "backmarket_shipstation.celery",
                    "worker",
                    "--concurrency",
                    str(args.concurrency),
                    "--loglevel",
                    "WARNING",
                    "--without-gossip",
                    "--without-mingle",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, bmss_celery.CONFIG_VARIABLE: str(config)},
                cwd=work,
                start_new_session=True,
            )
            while not app.control.ping(timeout=0.5):
                time.sleep(0.2)
            kind = "SQLite" if postgres is None else "PostgreSQL"
            print(
                f"{args.accounts} accounts x {args.orders} orders, one worker with"
                f" {args.concurrency} pool processes, state: {kind}"
            )
            rows = []
            for name in ("import", "notify", "nothing new"):
                if name == "notify":
                    agency.pack()
                requests = agency.counters.total
                wall, cpu, sandbox_cpu, reports = cycle(app, config, worker.pid)
                requests = agency.counters.total - requests
                imported = sum(r["imported"] for r in reports)
                notified = sum(r["notified"] for r in reports)
                held = sum(1 for r in reports if r["held_by"] is not None)
                rows.append((name, wall, cpu, sandbox_cpu, requests, imported, notified, held))
            print(
                f"{'cycle':<12} {'wall s':>7} {'worker CPU s':>13} {'CPU ms/account':>15}"
                f" {'sandbox CPU s':>14} {'requests/account':>17} {'imported':>9}"
                f" {'notified':>9} {'held':>5}"
            )
            for name, wall, cpu, sandbox_cpu, requests, imported, notified, held in rows:
                print(
                    f"{name:<12} {wall:7.2f} {cpu:13.2f} {1000 * cpu / args.accounts:15.1f}"
                    f" {sandbox_cpu:14.2f} {requests / args.accounts:17.1f} {imported:9}"
                    f" {notified:9} {held:5}"
                )
            children = [p for p in group_pids(worker.pid) if p != worker.pid]
            print(
                f"resident memory: worker main {rss_mb(worker.pid):.0f} MB, pool processes "
                + ", ".join(f"{rss_mb(p):.0f}" for p in children)
                + " MB"
            )
            check = agency.check()
            print(f"invariants: {check.to_text().splitlines()[0]}")
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        redis.stop()
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    main()
