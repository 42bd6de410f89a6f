"""``backmarket-shipstation status``: what the state says about each account, for 1 or 500.

Per account: its last run (when, how long, what it did), who holds its lease, the failures to
fix (orders missing an IMEI or serial number first: the packer's fix), the writes left
``pending``, and its cursors. One account (or ``--account NAME``) is shown as a block; many
accounts as a summary line and one line each, then the failures and pending writes to look
at. ``--json`` gives everything, always.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

import attrs

from .sync.store import FailureRecord, Lease, RunRecord, SyncStore, WriteRecord

__all__ = ["AccountStatus", "collect", "print_status", "status_json"]

_LISTED = 20
"""In the one-line-per-account view, at most this many failures and pending writes each."""


@attrs.frozen(kw_only=True)
class AccountStatus:
    """Everything ``status`` shows about one account."""

    account: str
    cursors: dict[str, datetime | None]
    lease: Lease | None
    last_run: RunRecord | None
    pending: tuple[WriteRecord, ...]
    failures: tuple[FailureRecord, ...]
    """Missing or invalid identifiers first, then by stage and order."""

    @property
    def identifier_failures(self) -> int:
        return sum(1 for f in self.failures if f.missing_identifier)


def _failure_order(failure: FailureRecord) -> tuple[bool, str, str]:
    return (not failure.missing_identifier, failure.stage, failure.ref)


def collect(store: SyncStore, extra_accounts: Iterable[str] = ()) -> list[AccountStatus]:
    """The status of every account the store knows, and of ``extra_accounts`` (those of the
    configuration file, synced or not), by name."""
    names = sorted(set(store.accounts()) | set(extra_accounts))
    return [
        AccountStatus(
            account=name,
            cursors={loop: store.get_cursor(name, loop) for loop in ("import", "notify")},
            lease=store.get_lease(name),
            last_run=store.last_run(name),
            pending=tuple(store.pending_writes(name)),
            failures=tuple(sorted(store.failures(name), key=_failure_order)),
        )
        for name in names
    ]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _run_json(run: RunRecord | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "seconds": round((run.finished_at - run.started_at).total_seconds(), 3),
        "host": run.host,
        "pid": run.pid,
        "outcome": run.outcome,
        "stopped": list(run.stopped),
        "error": run.error,
        **run.counts(),
    }


def _lease_json(lease: Lease | None, now: datetime) -> dict[str, Any] | None:
    if lease is None:
        return None
    return {
        "host": lease.host,
        "pid": lease.pid,
        "since": lease.acquired_at.isoformat(),
        "expires_at": lease.expires_at.isoformat(),
        "expired": not lease.is_live(now),
        "text": lease.describe(),
    }


def _summary(statuses: Sequence[AccountStatus], now: datetime) -> dict[str, int]:
    outcomes = [s.last_run.outcome if s.last_run else "never" for s in statuses]
    return {
        "accounts": len(statuses),
        "ok": outcomes.count("ok"),
        "failed": outcomes.count("failed"),
        "stopped": outcomes.count("stopped"),
        "error": outcomes.count("error"),
        "never_run": outcomes.count("never"),
        "leases_held": sum(1 for s in statuses if s.lease and s.lease.is_live(now)),
        "leases_expired": sum(1 for s in statuses if s.lease and not s.lease.is_live(now)),
        "failures": sum(len(s.failures) for s in statuses),
        "missing_identifiers": sum(s.identifier_failures for s in statuses),
        "pending_writes": sum(len(s.pending) for s in statuses),
    }


def status_json(state: str, statuses: Sequence[AccountStatus], now: datetime) -> dict[str, Any]:
    """The ``--json`` document: the state, a summary, and every account in full."""
    return {
        "state": state,
        "summary": _summary(statuses, now),
        "accounts": [
            {
                "account": s.account,
                "last_run": _run_json(s.last_run),
                "cursors": {loop: _iso(value) for loop, value in s.cursors.items()},
                "lease": _lease_json(s.lease, now),
                "pending_writes": [
                    {
                        "order_id": w.bm_order_id,
                        "write": w.key,
                        "source": w.source,
                        "since": w.updated_at.isoformat(),
                        "claimant": w.claimant,
                    }
                    for w in s.pending
                ],
                "failures": [
                    {
                        "stage": f.stage,
                        "order_id": f.ref,
                        "reason": f.reason,
                        "error": f.error,
                        "missing_identifier": f.missing_identifier,
                        "attempts": f.attempts,
                        "first_seen": f.first_seen.isoformat(),
                        "last_seen": f.last_seen.isoformat(),
                    }
                    for f in s.failures
                ],
            }
            for s in statuses
        ],
    }


def _when(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(run: RunRecord) -> str:
    seconds = (run.finished_at - run.started_at).total_seconds()
    return f"{seconds:.1f}s" if seconds < 600 else f"{seconds / 60:.0f}m"


def _run_text(run: RunRecord | None) -> str:
    if run is None:
        return "never (no run recorded yet)"
    counts = ", ".join(
        f"{name} {value}" for name, value in run.counts().items() if name != "unchanged"
    )
    stopped = f", stopped: {', '.join(run.stopped)}" if run.stopped else ""
    error = f" - {run.error}" if run.error else ""
    return (
        f"{_when(run.started_at)} UTC, {_seconds(run)} on {run.host} (pid {run.pid}):"
        f" {run.outcome}{stopped} ({counts}){error}"
    )


def _lease_text(lease: Lease | None, now: datetime, *, short: bool = False) -> str:
    if lease is None:
        return "free" if short else "free (no run holds this account)"
    if not lease.is_live(now):
        if short:
            return f"expired ({lease.host}, pid {lease.pid})"
        return f"expired ({lease.describe()}): the next run takes the account over"
    if short:
        return f"held by {lease.host}, pid {lease.pid}, until {_when(lease.expires_at)[11:]}"
    return f"held by {lease.describe()}, until {lease.expires_at.isoformat()}"


def _failure_text(failure: FailureRecord) -> str:
    error = f" [{failure.error}]" if failure.error else ""
    return (
        f"{failure.stage} order {failure.ref} (attempts {failure.attempts}):"
        f" {failure.reason}{error}"
    )


def _pending_text(write: WriteRecord) -> str:
    claimed = f", claimed by {write.claimant}" if write.claimant else ""
    return (
        f"order {write.bm_order_id}: {write.key} ({write.source}),"
        f" since {_when(write.updated_at)} UTC{claimed}"
    )


def _blocks(statuses: Sequence[AccountStatus], now: datetime, out: TextIO) -> None:
    for s in statuses:
        print(f"[{s.account}]", file=out)
        print(f"  last run: {_run_text(s.last_run)}", file=out)
        for loop, value in s.cursors.items():
            shown = value.isoformat() if value else "not set (first run looks back 14 days)"
            print(f"  {loop} cursor: {shown}", file=out)
        print(f"  lease: {_lease_text(s.lease, now)}", file=out)
        print(f"  pending writes: {len(s.pending)}", file=out)
        for write in s.pending:
            print(f"    {_pending_text(write)}", file=out)
        missing = s.identifier_failures
        about = f" ({missing} missing or invalid IMEI/serial)" if missing else ""
        print(f"  failures to retry: {len(s.failures)}{about}", file=out)
        for failure in s.failures:
            print(f"    {_failure_text(failure)}", file=out)


def _summary_lines(summary: dict[str, int]) -> str:
    return (
        f"{summary['accounts']} accounts, last runs: {summary['ok']} ok,"
        f" {summary['failed']} with failures, {summary['stopped']} stopped by an outage,"
        f" {summary['error']} stopped by an error to fix,"
        f" {summary['never_run']} never run\nleases: {summary['leases_held']} held,"
        f" {summary['leases_expired']} expired; {summary['failures']} failures to fix"
        f" ({summary['missing_identifiers']} missing or invalid IMEI/serial);"
        f" {summary['pending_writes']} pending writes"
    )


def _table(statuses: Sequence[AccountStatus], now: datetime, out: TextIO) -> None:
    print(_summary_lines(_summary(statuses, now)), file=out)
    width = max([len("account"), *(len(s.account) for s in statuses)])
    header = (
        f"{'account':<{width}}  {'last run (UTC)':<19}  {'took':>6}  {'outcome':<7}"
        f"  {'imported':>8}  {'notified':>8}  {'failed':>6}  {'IMEI':>4}  {'pending':>7}  lease"
    )
    print(file=out)
    print(header, file=out)
    for s in statuses:
        run = s.last_run
        when, took, outcome = (
            (_when(run.started_at), _seconds(run), run.outcome) if run else ("-", "-", "never")
        )
        imported = str(run.imported) if run else "-"
        notified = str(run.notified) if run else "-"
        print(
            f"{s.account:<{width}}  {when:<19}  {took:>6}  {outcome:<7}  {imported:>8}"
            f"  {notified:>8}  {len(s.failures):>6}  {s.identifier_failures:>4}"
            f"  {len(s.pending):>7}  {_lease_text(s.lease, now, short=True)}",
            file=out,
        )
    errors = [(s.account, s.last_run.error) for s in statuses if s.last_run and s.last_run.error]
    _listing(
        out, "accounts stopped by an error to fix (nothing else of theirs ran):", errors, width,
        more="--json lists them all",
    )  # fmt: skip
    failures = sorted(
        ((s.account, f) for s in statuses for f in s.failures),
        key=lambda pair: (not pair[1].missing_identifier, pair[0], pair[1].stage, pair[1].ref),
    )
    _listing(
        out, "failures to fix (missing or invalid IMEIs and serials first):",
        [(account, _failure_text(failure)) for account, failure in failures], width,
        more="status --account NAME or --json",
    )  # fmt: skip
    _listing(
        out, "pending writes (the next run of each account settles them):",
        [(s.account, _pending_text(w)) for s in statuses for w in s.pending], width,
        more="--json lists them all",
    )  # fmt: skip


def _listing(
    out: TextIO, heading: str, rows: Sequence[tuple[str, str]], width: int, *, more: str
) -> None:
    """A titled list of (account, text) rows under the table, at most ``_LISTED`` of them."""
    if not rows:
        return
    print(file=out)
    print(heading, file=out)
    for account, text in rows[:_LISTED]:
        print(f"  {account:<{width}}  {text}", file=out)
    if len(rows) > _LISTED:
        print(f"  ... {len(rows) - _LISTED} more: {more}", file=out)


def print_status(
    state: str,
    statuses: Sequence[AccountStatus],
    now: datetime,
    out: TextIO,
    *,
    blocks: bool,
) -> None:
    """The text view: a block per account (``blocks``), or a summary and a line each."""
    print(f"state: {state}", file=out)
    if not statuses:
        print("  (no accounts synced yet)", file=out)
        return
    if blocks:
        _blocks(statuses, now, out)
    else:
        _table(statuses, now, out)


def dump_json(state: str, statuses: Sequence[AccountStatus], now: datetime, out: TextIO) -> None:
    print(json.dumps(status_json(state, statuses, now), indent=2), file=out)
