"""What a sync run did: counts per account, every failure with its reason, as JSON or text."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import attrs

from ..errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BackMarketShipStationError,
    ConfigurationError,
    FirewallBlockedError,
    PermissionDeniedError,
    StateStoreError,
    StateStoreUnavailableError,
)
from .store import Lease

__all__ = ["AccountError", "AccountReport", "Failure", "ReportWarning", "RunReport"]

EXIT_SEVERITY = (0, 1, 3, 2)
"""Exit codes from the mildest to the worst: a run of several accounts keeps the worst. A
setting to fix (2: retrying cannot help) outranks an outage (3: the next run resumes), which
outranks orders that failed (1)."""


@attrs.frozen(kw_only=True)
class Failure:
    """One order a loop could not handle this run; it is retried on the next one."""

    stage: str
    """``import`` or ``notify``."""
    order_id: int | str
    """The Back Market order id (or the ShipStation reference when there is none)."""
    error: str
    """The error class, e.g. ``MissingIdentifierError``."""
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "order_id": self.order_id,
            "error": self.error,
            "reason": self.reason,
        }


@attrs.frozen(kw_only=True)
class ReportWarning:
    """Something a person should look at though no write failed (shown once)."""

    stage: str
    order_id: int | str
    kind: str
    """``shipped_after_cancel``, ``label_after_report``, ``recreated``..."""
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "order_id": self.order_id,
            "kind": self.kind,
            "message": self.message,
        }


@attrs.frozen(kw_only=True)
class AccountError:
    """An error that stopped one account's whole run (refused credentials, a wrong store id,
    the state store out of reach): the other accounts of the run went on."""

    error: str
    """The error class, e.g. ``AuthenticationError``."""
    message: str
    """What a person reads: ``credentials refused: ...``, ``configuration error: ...``."""
    exit_code: int
    """2 for a setting to fix (retrying will not help), 3 for an outage (the next run
    resumes): the command's codes (docs/cli.md#exit-codes)."""

    @classmethod
    def of(cls, exc: BackMarketShipStationError) -> AccountError:
        """Classified as the command classifies errors it catches."""
        exit_code, label = 3, "error"
        if isinstance(exc, ConfigurationError):
            exit_code, label = 2, "configuration error"
        elif isinstance(exc, FirewallBlockedError):
            # A page the API did not state (backmarket.md §6.4): passing, not a bad setting.
            label = f"blocked on the way to {exc.api} (firewall or proxy, try again later)"
        elif isinstance(exc, (AuthenticationError, PermissionDeniedError)):
            exit_code, label = 2, "credentials refused"
        elif isinstance(exc, (APIError, APIConnectionError)):
            label = "stopped on an API error"
        elif isinstance(exc, StateStoreUnavailableError):
            label = "stopped: the state store is out of reach"
        elif isinstance(exc, StateStoreError):
            exit_code, label = 2, "configuration error"
        return cls(error=type(exc).__name__, message=f"{label}: {exc}", exit_code=exit_code)

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, "exit_code": self.exit_code}


@attrs.define(kw_only=True)
class AccountReport:
    """The outcome of one account's run. Counts are of orders, not of API calls."""

    account: str
    started_at: datetime
    finished_at: datetime | None = None
    dry_run: bool = False
    imported: int = 0
    """Orders created in ShipStation."""
    updated: int = 0
    """Orders already in ShipStation that changed on Back Market and were updated."""
    unchanged: int = 0
    """Orders seen again with nothing new: no write made."""
    accepted: int = 0
    """Orders whose lines were accepted on Back Market (``new_state`` 2)."""
    cancelled: int = 0
    """Orders cancelled on Back Market and set to cancelled in ShipStation."""
    notified: int = 0
    """Shipments reported to Back Market (ship write and identifiers)."""
    skipped: int = 0
    """Orders seen but not for this connector (not importable, not ours, already done)."""
    failures: list[Failure] = attrs.field(factory=list)
    stopped: list[str] = attrs.field(factory=list)
    """The loops (``import``, ``notify``) that an API or network outage stopped before they
    finished: their cursors did not move, and the next run covers the same window again."""
    warnings: list[ReportWarning] = attrs.field(factory=list)
    """Orders to look at though nothing failed: a cancelled order labelled, a new label for an
    order Back Market already holds as shipped. Each is reported once."""
    planned_writes: list[str] = attrs.field(factory=list)
    """In a dry run, every write the run would have made, one line each."""
    held_by: Lease | None = None
    """Set when the account was skipped because another run holds its lease: that lease.
    Nothing was read or written for the account; it is neither a failure nor work done."""
    error: AccountError | None = None
    """Set when an error stopped the account's whole run (see :class:`AccountError`); the
    counts say what it did before."""

    @property
    def exit_code(self) -> int:
        """This account's part of the command's exit code (see :attr:`RunReport.exit_code`)."""
        if self.error is not None:
            return self.error.exit_code
        if self.stopped:
            return 3
        return 1 if self.failed else 0

    @property
    def skipped_held(self) -> bool:
        """Skipped: another run holds the account."""
        return self.held_by is not None

    @property
    def failed(self) -> int:
        return len(self.failures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "dry_run": self.dry_run,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "accepted": self.accepted,
            "cancelled": self.cancelled,
            "notified": self.notified,
            "skipped": self.skipped,
            "failed": self.failed,
            "failures": [f.to_dict() for f in self.failures],
            "stopped": list(self.stopped),
            "warnings": [w.to_dict() for w in self.warnings],
            "planned_writes": list(self.planned_writes),
            "held_by": None if self.held_by is None else _holder(self.held_by),
            "error": None if self.error is None else self.error.to_dict(),
        }

    def to_text(self) -> str:
        if self.held_by is not None:
            return (
                f"[{self.account}] skipped: another run holds this account"
                f" ({self.held_by.describe()})"
            )
        counts = (
            f"imported {self.imported}, updated {self.updated}, unchanged {self.unchanged}, "
            f"accepted {self.accepted}, cancelled {self.cancelled}, notified {self.notified}, "
            f"skipped {self.skipped}, failed {self.failed}"
        )
        lines = [f"[{self.account}]{' (dry run)' if self.dry_run else ''} {counts}"]
        if self.error is not None:
            lines.append(f"  ERROR {self.error.message} ({self.error.error})")
        if self.stopped:
            lines.append(
                f"  STOPPED by an API or network error: {', '.join(self.stopped)}"
                " (nothing lost; the next run starts over)"
            )
        for failure in self.failures:
            lines.append(
                f"  FAILED {failure.stage} order {failure.order_id}: {failure.reason}"
                f" ({failure.error})"
            )
        for warning in self.warnings:
            lines.append(
                f"  WARNING {warning.stage} order {warning.order_id}: {warning.message}"
                f" ({warning.kind})"
            )
        if self.planned_writes:
            lines.append(f"  would write ({len(self.planned_writes)}):")
            lines.extend(f"    {line}" for line in self.planned_writes)
        return "\n".join(lines)


@attrs.define(kw_only=True)
class RunReport:
    """A whole run: one :class:`AccountReport` per account."""

    accounts: list[AccountReport] = attrs.field(factory=list)

    @property
    def failed(self) -> int:
        return sum(a.failed for a in self.accounts)

    @property
    def stopped(self) -> bool:
        """Whether an API or network outage stopped a loop of some account."""
        return any(a.stopped for a in self.accounts)

    @property
    def errors(self) -> list[AccountReport]:
        """The accounts an error stopped as a whole (:attr:`AccountReport.error`)."""
        return [a for a in self.accounts if a.error is not None]

    @property
    def exit_code(self) -> int:
        """The command's exit code (docs/cli.md), the worst of the accounts': 2 when an
        account's settings or credentials must be fixed, else 3 when an API or network outage
        (or the state store out of reach) stopped an account or a loop (an alert must not
        read an outage as missing IMEIs), else 1 when some orders failed (they are retried
        next run), else 0."""
        return max((a.exit_code for a in self.accounts), key=EXIT_SEVERITY.index, default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accounts": [a.to_dict() for a in self.accounts],
            "failed": self.failed,
            "stopped": self.stopped,
            "exit_code": self.exit_code,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        return "\n".join(a.to_text() for a in self.accounts)


def _holder(lease: Lease) -> dict[str, Any]:
    return {
        "host": lease.host,
        "pid": lease.pid,
        "since": lease.acquired_at.isoformat(),
        "expires_at": lease.expires_at.isoformat(),
        "text": f"skipped: another run holds this account ({lease.describe()})",
    }
