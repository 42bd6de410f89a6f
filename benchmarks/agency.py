"""An agency's cycle on the agency sandbox: K accounts of 200 orders, on a virtual clock.

A cycle is what every seller does in a day: a sync that imports and accepts the orders, the
packers who type the IMEIs and buy every label, a sync that notifies Back Market (as in
benchmarks/sync.py; the packers work between the two runs without the clock moving, so the
two runs share the rate-limit windows, as the single-account bound assumes). For K = 1, 10 and
50 accounts it prints:

(a) every account with its own ShipStation key pair (``shared_key_pair=False``): the cycle's
    duration on the virtual clock against one account's alone (target: at most 1.1x);
(b) every account on one ShipStation key pair, one store each (the usual agency): the
    ShipStation calls of the cycle by endpoint, against ``ceil(new orders / 100)`` upserts
    plus the list pages (500 records a page: three lists grow with the records, so with K)
    plus a constant; the 429s; the share of the 40-a-minute budget used in the windows where work
    waited for it; and the duration against the bound that budget sets;
(c) for K = 50, the CPU time of the two sync runs per order, and the process's peak memory
    (resident set: the simulated world, both runs and the packers).

The virtual clock moves only when the work waits for a rate limit: a duration is the time the
limits impose, not the CPU time (printed apart, with the wall time on this shared machine).

Each configuration runs in a fresh process (``--one``), so its CPU time and peak memory are
its own. Every run ends with ``AgencySandbox.check()``: each order once in its own store, one
ship write per packed order on its own Back Market account, no 429; a violation is printed.

Run::

    .venv/bin/python benchmarks/agency.py                 # K = 1, 10, 50
    .venv/bin/python benchmarks/agency.py --accounts 1 10 --parallel 8
    .venv/bin/python benchmarks/agency.py --json          # one JSON document
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import AgencySandbox, endpoint_of
from backmarket_shipstation.sync import AccountConfig, SQLiteStore, run_sync

ORDERS = 200
SS_LIMIT, SS_WINDOW = 40, 60.0
BM_LIMIT, BM_WINDOW = 200, 10.0
START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


class _Timed(httpx.BaseTransport):
    """Notes the virtual instant of every request, in front of a sandbox transport."""

    def __init__(self, inner: httpx.BaseTransport, clock: VirtualClock, log: list[Any]) -> None:
        self.inner, self.clock, self.log = inner, clock, log

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.log.append((self.clock.monotonic(), endpoint_of(request.method, request.url.path)))
        return response


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _parallel_supported() -> bool:
    return "parallel" in inspect.signature(run_sync).parameters


def one(accounts: int, shared: bool, parallel: int | None, seed: int) -> dict[str, Any]:
    """One cycle of ``accounts`` accounts; the figures as a JSON-able dict."""
    clock = VirtualClock(START)
    agency = AgencySandbox(
        accounts=accounts,
        orders_per_account=ORDERS,
        seed=seed,
        clock=clock,
        shared_key_pair=shared,
    )
    config = agency.config()
    ss_log: list[tuple[float, str]] = []

    def transports(account: AccountConfig) -> tuple[httpx.BaseTransport, httpx.BaseTransport]:
        bm, ss = agency.transports(account)
        return bm, _Timed(ss, clock, ss_log)

    workers = accounts if parallel is None else parallel
    kwargs: dict[str, Any] = {"parallel": workers} if _parallel_supported() else {}
    rss_before = _rss_mb()
    t0 = clock.monotonic()
    with SQLiteStore(":memory:") as store:
        cpu, wall = time.process_time(), time.perf_counter()
        first = run_sync(config, store=store, transports=transports, clock=clock, **kwargs)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        t1 = clock.monotonic()
        packed = agency.pack()  # the sellers' work: not the sync's CPU time
        cpu_2, wall_2 = time.process_time(), time.perf_counter()
        second = run_sync(config, store=store, transports=transports, clock=clock, **kwargs)
        cpu += time.process_time() - cpu_2
        wall += time.perf_counter() - wall_2
        t2 = clock.monotonic()
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    check = agency.check()

    ss_calls = Counter(endpoint for _, endpoint in ss_log)
    bm_calls = [s.counters.count(api="backmarket") for s in agency.sellers]
    per_window = Counter(math.floor(t / SS_WINDOW) for t, _ in ss_log)
    imported = sum(a.imported for a in first.accounts)
    shipped = sum(p.shipped for p in packed.values())
    return {
        "accounts": accounts,
        "shared_key_pair": shared,
        "parallel": workers if kwargs else 1,
        "parallel_supported": bool(kwargs),
        "orders": accounts * ORDERS,
        "imported": imported,
        "notified": sum(a.notified for a in second.accounts),
        "shipped": shipped,
        "import_s": t1 - t0,
        "notify_s": t2 - t1,
        "cycle_s": t2 - t0,
        "ss_calls": dict(ss_calls),
        "ss_windows": sorted(per_window.items()),
        "ss_429": sum(kp.counters.count(outcome="429") for kp in agency.key_pairs),
        "bm_429": sum(s.counters.count(api="backmarket", outcome="429") for s in agency.sellers),
        "bm_calls_max": max(bm_calls),
        "bm_calls_total": sum(bm_calls),
        "key_pairs": len(agency.key_pairs),
        "ss_calls_per_key_pair": [kp.counters.count() for kp in agency.key_pairs],
        "cpu_s": cpu,
        "wall_s": wall,
        "rss_before_mb": rss_before,
        "rss_peak_mb": rss_peak,
        "check": check.to_text(),
        "ok": check.ok,
        "errors": [a.account for r in (first, second) for a in r.accounts if a.stopped],
    }


def _spawn(accounts: int, shared: bool, parallel: int | None, seed: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--one", str(accounts), "--seed", str(seed)]
    if shared:
        command.append("--shared")
    if parallel is not None:
        command += ["--parallel", str(parallel)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _budget_use(result: dict[str, Any]) -> tuple[float, float, int]:
    """Mean and lowest share of the 40 a window used, over the windows where work waited:
    every window from the first ShipStation call to the last but the last one (which the
    work left early), for a cycle that needed more than one window."""
    windows = result["ss_windows"]
    if len(windows) < 2:
        return float("nan"), float("nan"), 0
    first, last = windows[0][0], windows[-1][0]
    used = dict(windows)
    full = [used.get(index, 0) / SS_LIMIT for index in range(first, last)]
    return sum(full) / len(full), min(full), len(full)


def _ss_bound_s(calls: int) -> float:
    """Whole windows that must pass: the first 40 calls go at once, each further 40 waits
    for the next 60 s window (as benchmarks/sync.py)."""
    return (calls - 1) // SS_LIMIT * SS_WINDOW if calls else 0.0


def _bm_bound_s(calls: int) -> float:
    return (calls - 1) // BM_LIMIT * BM_WINDOW if calls else 0.0


def report(results: list[dict[str, Any]], out: Callable[[str], None] = print) -> None:
    own = [r for r in results if not r["shared_key_pair"]]
    shared = [r for r in results if r["shared_key_pair"]]
    mode = (
        "run_sync(parallel=" + "/".join(str(r["parallel"]) for r in (own or shared)) + ")"
        if results and results[0]["parallel_supported"]
        else "SEQUENTIAL (run_sync has no parallel= yet)"
    )
    if own:
        alone = next((r for r in own if r["accounts"] == 1), own[0])
        out(f"\n(a) each account with its own ShipStation key pair, {ORDERS} orders each ({mode})")
        out(
            f"{'K':>3}  {'orders':>6}  {'import s':>8}  {'notify s':>8}  {'cycle s':>8}"
            f"  {'vs K=1':>7}  {'SS 429':>6}  {'BM 429':>6}  {'wall s':>7}  check"
        )
        for r in own:
            out(
                f"{r['accounts']:>3}  {r['orders']:>6}  {r['import_s']:>8.0f}"
                f"  {r['notify_s']:>8.0f}"
                f"  {r['cycle_s']:>8.0f}  {r['cycle_s'] / alone['cycle_s']:>6.2f}x"
                f"  {r['ss_429']:>6}  {r['bm_429']:>6}  {r['wall_s']:>7.1f}"
                f"  {'ok' if r['ok'] else 'VIOLATIONS'}"
            )
    if shared:
        out(f"\n(b) every account on one ShipStation key pair, one store each ({mode})")
        endpoints = sorted({e for r in shared for e in r["ss_calls"]})
        header = f"{'ShipStation calls per cycle':<34}" + "".join(
            f"  {'K=' + str(r['accounts']):>7}" for r in shared
        )
        out(header)
        for endpoint in endpoints:
            out(
                f"  {endpoint:<32}"
                + "".join(f"  {r['ss_calls'].get(endpoint, 0):>7}" for r in shared)
            )
        totals = [sum(r["ss_calls"].values()) for r in shared]
        out(f"  {'total':<32}" + "".join(f"  {t:>7}" for t in totals))
        upserts = [math.ceil(r["imported"] / 100) for r in shared]
        out(f"  {'ceil(new orders / 100)':<32}" + "".join(f"  {u:>7}" for u in upserts))
        # Three lists grow with the records, 500 a page: the labels of the notify run, the
        # shipped orders whose notes it reads, the orders modified since the cursor (the
        # deleted-copies check).
        pages = [3 * math.ceil(r["shipped"] / 500) for r in shared]
        out(f"  {'3 x ceil(labels / 500)':<32}" + "".join(f"  {p:>7}" for p in pages))
        rest = [t - u - p for t, u, p in zip(totals, upserts, pages, strict=True)]
        out(f"  {'the rest':<32}" + "".join(f"  {c:>7}" for c in rest))
        out("")
        out(
            f"{'K':>3}  {'new':>6}  {'SS calls':>8}  {'429':>4}  {'budget used':>16}"
            f"  {'cycle s':>8}  {'bound s':>8}  {'vs bound':>8}  {'wall s':>7}  check"
        )
        for r, total in zip(shared, totals, strict=True):
            mean, low, windows = _budget_use(r)
            bound = max(_ss_bound_s(total), _bm_bound_s(r["bm_calls_max"]))
            use = f"{mean:.0%} (min {low:.0%}, {windows}w)" if windows else "one window"
            ratio = f"{r['cycle_s'] / bound:.2f}x" if bound else "-"
            out(
                f"{r['accounts']:>3}  {r['imported']:>6}  {total:>8}"
                f"  {r['ss_429'] + r['bm_429']:>4}  {use:>16}  {r['cycle_s']:>8.0f}"
                f"  {bound:>8.0f}  {ratio:>8}  {r['wall_s']:>7.1f}"
                f"  {'ok' if r['ok'] else 'VIOLATIONS'}"
            )
    biggest = max(results, key=lambda r: (r["accounts"], r["shared_key_pair"]))
    out(f"\n(c) K={biggest['accounts']}: the two sync runs")
    for r in [r for r in results if r["accounts"] == biggest["accounts"]]:
        kind = "one key pair " if r["shared_key_pair"] else "own key pairs"
        out(
            f"  {kind}: CPU {r['cpu_s']:.1f} s for {r['orders']:,} orders"
            f" ({r['imported']:,} imported, {r['notified']:,} notified):"
            f" {r['cpu_s'] / r['orders'] * 1000:.2f} ms per order,"
            f" {r['cpu_s'] / max(r['imported'], 1) * 1000:.2f} ms per imported order;"
            f" peak RSS {r['rss_peak_mb']:.0f} MB ({r['rss_before_mb']:.0f} MB before the cycle)"
        )
    for r in results:
        if not r["ok"]:
            out(f"\nK={r['accounts']} shared={r['shared_key_pair']}: {r['check']}")


def svg(results: list[dict[str, Any]]) -> str:
    """A stacked bar chart of (b): ShipStation calls per cycle by K, split into the upserts,
    the list pages and the rest, with the 40-a-minute windows they fill. Plain SVG."""
    shared = [r for r in results if r["shared_key_pair"]]
    width, height, left, bottom, top = 580, 300, 60, 250, 30
    most = max(sum(r["ss_calls"].values()) for r in shared)
    scale = (bottom - top) / (math.ceil(most / 40) * 40)
    colours = (("upserts: ceil(new / 100)", "#4878a8"), ("list pages (500 a page)", "#e0a040"),
               ("the rest (constant)", "#909090"))  # fmt: skip
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        ' font-family="sans-serif" font-size="12">',
        f'<text x="{left}" y="18">ShipStation calls per cycle, K accounts on one key pair'
        " (200 orders each)</text>",
    ]
    for calls in range(0, math.ceil(most / 40) * 40 + 1, 40):
        y = bottom - calls * scale
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 190}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{calls}</text>'
        )
    bar = 60
    for index, r in enumerate(shared):
        total = sum(r["ss_calls"].values())
        upserts = math.ceil(r["imported"] / 100)
        pages = 3 * math.ceil(r["shipped"] / 500)
        x = left + 20 + index * (bar + 40)
        y = float(bottom)
        for value, (_, colour) in zip(
            (upserts, pages, total - upserts - pages), colours, strict=True
        ):
            h = value * scale
            y -= h
            parts.append(
                f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{h:.1f}" fill="{colour}"/>'
            )
        parts.append(
            f'<text x="{x + bar / 2}" y="{y - 4:.1f}" text-anchor="middle">{total}</text>'
            f'<text x="{x + bar / 2}" y="{bottom + 16}" text-anchor="middle">K={r["accounts"]}'
            "</text>"
        )
    for index, (label, colour) in enumerate(colours):
        y = top + 20 + index * 20
        parts.append(
            f'<rect x="{width - 180}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{width - 162}" y="{y}">{label.split(":")[0]}</text>'
        )
    parts.append(
        f'<text x="{left}" y="{height - 10}">grid: 40 calls, one minute of the key pair\'s'
        " budget</text></svg>"
    )
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="*", default=[1, 10, 50])
    parser.add_argument("--parallel", type=int, default=None, help="default: K (every account)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=("own", "shared"), default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--svg", metavar="FILE", help="also draw (b) as an SVG bar chart")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--shared", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.shared, args.parallel, args.seed)))
        return
    results = [
        _spawn(k, shared, args.parallel, args.seed)
        for shared in (False, True)
        if args.only is None or args.only == ("shared" if shared else "own")
        for k in args.accounts
    ]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        report(results)
    if args.svg and any(r["shared_key_pair"] for r in results):
        with open(args.svg, "w", encoding="utf-8") as target:
            target.write(svg(results))


if __name__ == "__main__":
    main()
