"""What the sync engine remembers between runs, and the embedded SQLite store that keeps it.

The engine's exactly-once guarantees rest on three records:

- :class:`OrderRecord`: which Back Market order went to which ShipStation ``orderKey`` and
  ``orderId``, with a digest of what was last pushed, so an unchanged order costs no write.
- :class:`WriteRecord`: a Back Market write (accept, ship, identifiers) is recorded as
  ``pending`` *before* it is sent and ``done`` after. A ``pending`` record found on the next
  run means the process died mid-write: the engine re-reads the order on Back Market to learn
  whether the write took effect instead of sending it again.
- :class:`FailureRecord`: an order that could not be handled, with the reason, retried on
  later runs until it succeeds.

:class:`RunRecord` (each account's last run: when, by whom, what it did) is for people
(``backmarket-shipstation status``); the engine never reads it back.

Cursors (the last instant each loop has seen) complete the picture. Every engine step runs in
one :meth:`SyncStore.transaction`.

Runs that overlap (a slow cron run and the next one, a ``--watch`` and a manual sync, two
servers) are kept apart by two more rules, which every store implements the same way:

- **One lease per account** (:class:`Lease`). A run takes the account's lease
  (:meth:`SyncStore.acquire_lease`) before it reads or writes anything for it, renews it while
  it works (:meth:`SyncStore.renew_lease`) and gives it back when done
  (:meth:`SyncStore.release_lease`). A lease not renewed for its expiry (the holder died or
  was paused) may be taken over; its former holder can then write nothing more: every write
  it tries checks the lease in the same transaction (:meth:`SyncStore.check_lease`) and
  raises :class:`~backmarket_shipstation.errors.LeaseLostError`.
- **Atomic write claims** (:meth:`SyncStore.claim_write`). A Back Market write is claimed by
  inserting its record if absent, under its unique key, with the claimant's lease: exactly
  one run can win it, even if two runs somehow both believe they hold the account.

Times are compared as instants (timezone-aware ``datetime``), given by the caller's clock:
hosts that share one store need clocks in step to well within the lease expiry.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal, Protocol

import attrs

from ..errors import LeaseLostError

__all__ = [
    "FailureRecord",
    "Lease",
    "OrderRecord",
    "PushedStock",
    "RunRecord",
    "SQLiteStore",
    "StockStore",
    "SyncStore",
    "WriteRecord",
    "WriteStatus",
]

WriteStatus = Literal["pending", "done"]

DEFAULT_STATE_PATH = "backmarket-shipstation.sqlite3"
"""The state file when none is configured, in the working directory."""


@attrs.frozen(kw_only=True)
class OrderRecord:
    """A Back Market order as last pushed to ShipStation."""

    account: str
    bm_order_id: int
    order_key: str
    ss_order_id: int | None
    digest: str
    """Digest of the last ShipStation payload pushed: equal digest, no write."""
    ss_status: str
    """The ShipStation status last pushed (``awaiting_shipment``, ``cancelled``...)."""
    updated_at: datetime
    bm_snapshot: str | None = None
    """The Back Market order as last read (JSON), so that notifying a shipment needs no
    second read of the order; any doubt about it (a refused write) triggers a fresh read."""


@attrs.frozen(kw_only=True)
class WriteRecord:
    """One Back Market write, recorded before it is sent (``pending``) and after (``done``)."""

    account: str
    bm_order_id: int
    key: str
    """What the write is: ``accept:<sku>``, ``ship``, ``identifiers:<orderline id>``."""
    status: WriteStatus
    source: str
    """What caused it: ``import``, ``shipment:<id>``, ``fulfillment:<id>``."""
    updated_at: datetime
    claimant: str | None = None
    """The :attr:`Lease.holder` of the run that claimed (or completed) the write. A
    ``pending`` record whose claimant holds the account's live lease is in flight; any other
    ``pending`` record was left by a run that is gone. ``None``: recorded before leases
    existed (such a run is gone too)."""


@attrs.frozen(kw_only=True)
class PushedStock:
    """A listing quantity the stock sync knows Back Market shows (it wrote it, or found it
    already equal to the source)."""

    account: str
    sku: str
    """Lower case: Back Market compares SKUs case-insensitively."""
    listing_id: str
    quantity: int
    pushed_at: datetime


class StockStore(Protocol):
    """What :func:`~backmarket_shipstation.sync.stock.sync_stock` needs from a state store,
    apart from :class:`SyncStore` so that a store can add it on its own (:class:`SQLiteStore`
    has it; a server store may add the table later)."""

    def pushed_stock(self, account: str) -> dict[str, PushedStock]:
        """The last known quantity of each listing, by lower-case SKU."""
        ...

    def record_stock(self, records: Iterable[PushedStock]) -> None:
        """Remember these quantities, atomically."""
        ...


@attrs.frozen(kw_only=True)
class FailureRecord:
    """An order a loop could not handle; retried on later runs."""

    account: str
    stage: str
    """``import`` or ``notify``."""
    ref: str
    """The order concerned (Back Market order id, or ShipStation order id)."""
    reason: str
    attempts: int
    first_seen: datetime
    last_seen: datetime
    error: str | None = None
    """The error class (``MissingIdentifierError``...); ``None`` for failures recorded
    before this was kept."""

    @property
    def missing_identifier(self) -> bool:
        """An IMEI or serial number to type or correct in ShipStation: the packer's fix."""
        return self.error in IDENTIFIER_ERRORS


IDENTIFIER_ERRORS = frozenset(
    {
        "MissingIdentifierError",
        "InvalidIMEIError",
        "InvalidSerialNumberError",
        "IdentifierCountError",
        "DuplicateIdentifierError",
        "DeviceIdentifierError",
    }
)
"""The errors of :class:`~..errors.DeviceIdentifierError`: an identifier to fix in the notes."""


@attrs.frozen(kw_only=True)
class RunRecord:
    """An account's last run that held its lease: when, where, and what it did."""

    account: str
    started_at: datetime
    finished_at: datetime
    host: str
    pid: int
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    accepted: int = 0
    cancelled: int = 0
    notified: int = 0
    skipped: int = 0
    failed: int = 0
    warnings: int = 0
    stopped: tuple[str, ...] = ()
    """The loops an API or network outage stopped (``import``, ``notify``)."""
    error: str | None = None
    """What stopped the account as a whole (``AuthenticationError: 401 ...``): credentials the
    API refused, a wrong store id; ``None`` when the run went to its end."""

    @property
    def outcome(self) -> str:
        """``error`` (the account stopped as a whole: a setting to fix), ``stopped`` (an
        outage), ``failed`` (orders to retry) or ``ok``."""
        if self.error is not None:
            return "error"
        if self.stopped:
            return "stopped"
        return "failed" if self.failed else "ok"

    def counts(self) -> dict[str, int]:
        """The order counts, by name (as in the run's report)."""
        return {name: int(getattr(self, name)) for name in RUN_COUNTS}


RUN_COUNTS = (
    "imported", "updated", "unchanged", "accepted", "cancelled", "notified", "skipped",
    "failed", "warnings",
)  # fmt: skip


@attrs.frozen(kw_only=True)
class Lease:
    """The exclusive right of one run to sync one account, until :attr:`expires_at`."""

    account: str
    holder: str
    """Unique per run (``host:pid:random``): the identity every check compares."""
    host: str
    pid: int
    acquired_at: datetime
    """When this holder took the lease (kept across renewals)."""
    expires_at: datetime
    """After this instant the lease may be taken over by another run."""

    def describe(self) -> str:
        """``host, pid N, since 2026-03-02 08:00:00 UTC``: for reports and errors."""
        since = self.acquired_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{self.host}, pid {self.pid}, since {since}"

    def is_live(self, now: datetime) -> bool:
        """Not expired at ``now``."""
        return now < self.expires_at


class SyncStore(Protocol):
    """Storage for the sync engine's state. :class:`SQLiteStore` is the default."""

    def transaction(self) -> AbstractContextManager[None]:
        """A context manager: everything inside commits together or not at all."""
        ...

    def accounts(self) -> list[str]:
        """The names of the accounts the store holds any state for."""
        ...

    def get_cursor(self, account: str, name: str) -> datetime | None: ...

    def set_cursor(self, account: str, name: str, value: datetime) -> None: ...

    def get_order(self, account: str, bm_order_id: int) -> OrderRecord | None: ...

    def put_order(self, record: OrderRecord) -> None: ...

    def open_orders(self, account: str) -> list[OrderRecord]:
        """Orders last pushed with a status that can still change."""
        ...

    def get_write(self, account: str, bm_order_id: int, key: str) -> WriteRecord | None: ...

    def put_write(self, record: WriteRecord) -> None:
        """Insert or replace the record (every field, ``claimant`` included)."""
        ...

    def delete_write(
        self, account: str, bm_order_id: int, key: str, *, claimant: str | None = None
    ) -> None:
        """Forget a write that the API refused (it did not take effect).

        With ``claimant``, only a ``pending`` record claimed by that lease holder is deleted
        (a run forgets its own refused claim, never one another run made since).
        """
        ...

    def pending_writes(self, account: str) -> list[WriteRecord]: ...

    def record_failure(
        self,
        account: str,
        stage: str,
        ref: str,
        reason: str,
        at: datetime,
        *,
        error: str | None = None,
    ) -> None:
        """Record (or count again) a failure; ``error`` is the error class's name."""
        ...

    def clear_failure(self, account: str, stage: str, ref: str) -> None: ...

    def failures(self, account: str | None = None) -> list[FailureRecord]: ...

    def record_run(self, record: RunRecord) -> None:
        """Keep ``record`` as its account's last run (replacing the one before)."""
        ...

    def last_run(self, account: str) -> RunRecord | None:
        """The account's last recorded run, or ``None`` if none was recorded."""
        ...

    # leases and claims: see the module docstring. Each of these runs in a transaction of its
    # own, or joins the caller's :meth:`transaction` when called inside one.

    def acquire_lease(
        self, account: str, holder: str, *, host: str, pid: int, ttl: timedelta, now: datetime
    ) -> Lease | None:
        """Take the account's lease for ``holder`` until ``now + ttl``, if it is free.

        Free means: no lease recorded for the account, or the recorded one expired
        (``expires_at <= now``), or it is ``holder``'s own (then it is extended, keeping its
        ``acquired_at``). Returns the lease now held, or ``None`` when another holder's
        unexpired lease stands (see :meth:`get_lease` for who). Atomic: of runs racing for
        a free lease exactly one gets it.
        """
        ...

    def get_lease(self, account: str) -> Lease | None:
        """The lease recorded for the account, expired or not; ``None`` when there is none."""
        ...

    def renew_lease(self, lease: Lease, *, ttl: timedelta, now: datetime) -> Lease | None:
        """Extend ``lease`` to ``now + ttl`` if it is still held: the recorded lease of
        ``lease.account`` has ``lease.holder`` and has not expired (``now < expires_at``).

        Returns the renewed lease, or ``None`` when it was lost (expired, taken over or
        released): nothing is changed then. An expired lease is never revived, even when
        no other run took it yet: its holder was paused past the expiry and must stop.
        """
        ...

    def release_lease(self, lease: Lease) -> None:
        """Give the lease back: delete it if ``lease.holder`` still holds it, else nothing."""
        ...

    def check_lease(self, lease: Lease, now: datetime) -> None:
        """Inside :meth:`transaction`: raise ``LeaseLostError`` unless ``lease.holder`` holds
        the account's lease, unexpired at ``now``.

        The store guarantees that no other run can acquire the lease between this check and
        the end of the transaction (SQLite: ``BEGIN IMMEDIATE`` holds the write lock;
        PostgreSQL: the lease row locked ``FOR UPDATE``), so everything the transaction
        writes is written by the lease holder or not at all.
        """
        ...

    def claim_write(
        self,
        record: WriteRecord,
        lease: Lease,
        now: datetime,
        *,
        replacing: WriteRecord | None = None,
    ) -> bool:
        """Claim a write atomically: the one step that exactly one run can win.

        First :meth:`check_lease` (``LeaseLostError`` when ``lease`` is not held at ``now``).
        Then, under the unique key ``(account, bm_order_id, key)``, with the record stored
        with ``claimant = lease.holder`` (whatever ``record.claimant`` says):

        - ``replacing is None``: insert the record if no record has that key; ``True`` if
          inserted, ``False`` if one exists (``pending`` or ``done``), which is left as is.
        - ``replacing`` given (a ``pending`` record the caller read, and whose effect it
          found missing on Back Market): replace the stored record if it is still
          ``pending`` with ``claimant`` equal to ``replacing.claimant`` (``None`` matching
          ``None``); ``True`` if replaced, ``False`` otherwise (another run got there first,
          or it is ``done``).

        ``record.status`` is usually ``pending``; a ``done`` record claims something that
        needs no Back Market write (the ``notified`` marker of the write journal), so that exactly
        one run counts it.
        """
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    account TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE IF NOT EXISTS orders (
    account TEXT NOT NULL, bm_order_id INTEGER NOT NULL, order_key TEXT NOT NULL,
    ss_order_id INTEGER, digest TEXT NOT NULL, ss_status TEXT NOT NULL, updated_at TEXT NOT NULL,
    bm_snapshot TEXT,
    PRIMARY KEY (account, bm_order_id)
);
CREATE INDEX IF NOT EXISTS orders_status ON orders (account, ss_status);
CREATE TABLE IF NOT EXISTS writes (
    account TEXT NOT NULL, bm_order_id INTEGER NOT NULL, key TEXT NOT NULL,
    status TEXT NOT NULL, source TEXT NOT NULL, updated_at TEXT NOT NULL, claimant TEXT,
    PRIMARY KEY (account, bm_order_id, key)
);
CREATE INDEX IF NOT EXISTS writes_status ON writes (account, status);
CREATE TABLE IF NOT EXISTS leases (
    account TEXT NOT NULL PRIMARY KEY, holder TEXT NOT NULL, host TEXT NOT NULL,
    pid INTEGER NOT NULL, acquired_at TEXT NOT NULL, expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    account TEXT NOT NULL, stage TEXT NOT NULL, ref TEXT NOT NULL, reason TEXT NOT NULL,
    attempts INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, error TEXT,
    PRIMARY KEY (account, stage, ref)
);
CREATE TABLE IF NOT EXISTS runs (
    account TEXT NOT NULL PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
    host TEXT NOT NULL, pid INTEGER NOT NULL, counts TEXT NOT NULL, stopped TEXT NOT NULL,
    error TEXT
);
CREATE TABLE IF NOT EXISTS stock_pushed (
    account TEXT NOT NULL, sku TEXT NOT NULL, listing_id TEXT NOT NULL,
    quantity INTEGER NOT NULL, pushed_at TEXT NOT NULL,
    PRIMARY KEY (account, sku)
);
"""

_SELECT_ORDERS = (
    "SELECT account, bm_order_id, order_key, ss_order_id, digest, ss_status, updated_at,"
    " bm_snapshot FROM orders"
)
_SELECT_WRITES = (
    "SELECT account, bm_order_id, key, status, source, updated_at, claimant FROM writes"
)
_SELECT_FAILURES = (
    "SELECT account, stage, ref, reason, attempts, first_seen, last_seen, error FROM failures"
)
_ACCOUNTS_BEFORE_RUNS = (
    "SELECT account FROM cursors UNION SELECT account FROM orders "
    "UNION SELECT account FROM writes UNION SELECT account FROM failures ORDER BY 1"
)
_ACCOUNTS = _ACCOUNTS_BEFORE_RUNS.replace(
    " ORDER BY 1", " UNION SELECT account FROM runs ORDER BY 1"
)
_SELECT_RUNS = (
    "SELECT account, started_at, finished_at, host, pid, counts, stopped, error FROM runs"
)
_OPEN_STATUSES = ("awaiting_payment", "awaiting_shipment", "on_hold")


def _text(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("the store keeps timezone-aware datetimes only")
    return value.astimezone(timezone.utc).isoformat()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


class SQLiteStore:
    """The embedded default store: one SQLite file (standard-library ``sqlite3``, WAL mode).

    ``path=":memory:"`` keeps the state in memory (tests). Safe to share between threads of
    one process; several processes may open the same file (SQLite locks it): leases and
    claims are decided in ``BEGIN IMMEDIATE`` transactions, one writer at a time. The file
    must be on a local disk (SQLite's locks are unreliable on network file systems): runs on
    several hosts need a shared server store.
    """

    def __init__(self, path: str | Path = DEFAULT_STATE_PATH, *, read_only: bool = False) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._depth = 0
        self._owner = 0
        """The thread whose transaction is open (while ``_depth`` > 0)."""
        self._select_writes = _SELECT_WRITES
        self._select_failures = _SELECT_FAILURES
        self._has_leases = True
        self._has_runs = True
        self._select_runs = _SELECT_RUNS
        if read_only:
            # For looking only (``status``): works on a file this user cannot write; any
            # write raises sqlite3.OperationalError.
            uri = Path(self.path).resolve().as_uri() + "?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout=10000")
            # A file from an earlier version, which this user may not be able to upgrade.
            if "claimant" not in self._columns("writes"):
                self._select_writes = _SELECT_WRITES.replace("claimant", "NULL AS claimant")
            self._has_leases = bool(self._columns("leases"))
            runs = self._columns("runs")
            self._has_runs = bool(runs)
            if runs and "error" not in runs:
                self._select_runs = _SELECT_RUNS.replace(", error", ", NULL AS error")
            if "error" not in self._columns("failures"):
                self._select_failures = _SELECT_FAILURES.replace(", error", ", NULL AS error")
            return
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per step.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # The busy timeout first: processes started at once (cron, several servers) all open
        # a new file together, and switching it to WAL waits for the others' locks.
        self._db.execute("PRAGMA busy_timeout=10000")
        self._wal()
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._upgrade()

    def _upgrade(self) -> None:
        """Bring a state file made by an earlier version up to this schema."""
        with self.transaction():
            if "claimant" not in self._columns("writes"):
                # Records from before leases: claimant NULL, i.e. left by a run that is gone.
                self._execute("ALTER TABLE writes ADD COLUMN claimant TEXT")
            if "error" not in self._columns("failures"):
                # Failures from before error classes were kept: NULL, shown by their reason.
                self._execute("ALTER TABLE failures ADD COLUMN error TEXT")
            if "error" not in self._columns("runs"):
                # Runs recorded before an account's error was kept: they ran to their end.
                self._execute("ALTER TABLE runs ADD COLUMN error TEXT")

    def _wal(self) -> None:
        # SQLite answers "database is locked" at once, without waiting, when another
        # connection is changing the journal mode of a new file at the same moment.
        for attempt in range(100):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)

    def _columns(self, table: str) -> set[str]:
        return {str(row[1]) for row in self._execute(f"PRAGMA table_info({table})").fetchall()}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore(path={self.path!r})"

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # One connection for every thread: a transaction holds the lock from BEGIN to COMMIT,
        # so another thread's statements wait for it instead of joining it.
        with self._lock:
            outermost = self._depth == 0
            if outermost:
                self._db.execute("BEGIN IMMEDIATE")
                self._owner = threading.get_ident()
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outermost:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outermost:
                self._db.execute("COMMIT")

    def _execute(self, sql: str, params: tuple[object, ...] = ()) -> _Rows:
        # The rows are read under the lock: a cursor stepped later, outside it, would run on
        # the shared connection in the middle of another thread's transaction.
        with self._lock:
            return _Rows(self._db.execute(sql, params).fetchall())

    def accounts(self) -> list[str]:
        """The names of the accounts this store holds any state for."""
        rows = self._execute(_ACCOUNTS if self._has_runs else _ACCOUNTS_BEFORE_RUNS).fetchall()
        return [str(row[0]) for row in rows]

    # cursors ----------------------------------------------------------------------------

    def get_cursor(self, account: str, name: str) -> datetime | None:
        row = self._execute(
            "SELECT value FROM cursors WHERE account = ? AND name = ?", (account, name)
        ).fetchone()
        return None if row is None else _time(row[0])

    def set_cursor(self, account: str, name: str, value: datetime) -> None:
        self._execute(
            "INSERT INTO cursors (account, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT (account, name) DO UPDATE SET value = excluded.value",
            (account, name, _text(value)),
        )

    # orders -----------------------------------------------------------------------------

    def get_order(self, account: str, bm_order_id: int) -> OrderRecord | None:
        row = self._execute(
            _SELECT_ORDERS + " WHERE account = ? AND bm_order_id = ?",
            (account, bm_order_id),
        ).fetchone()
        return None if row is None else _order(row)

    def put_order(self, record: OrderRecord) -> None:
        self._execute(
            "INSERT INTO orders (account, bm_order_id, order_key, ss_order_id, digest, ss_status,"
            " updated_at, bm_snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account, bm_order_id) DO UPDATE"
            " SET order_key = excluded.order_key, ss_order_id = excluded.ss_order_id,"
            " digest = excluded.digest, ss_status = excluded.ss_status,"
            " updated_at = excluded.updated_at, bm_snapshot = excluded.bm_snapshot",
            (
                record.account,
                record.bm_order_id,
                record.order_key,
                record.ss_order_id,
                record.digest,
                record.ss_status,
                _text(record.updated_at),
                record.bm_snapshot,
            ),
        )

    def open_orders(self, account: str) -> list[OrderRecord]:
        rows = self._execute(
            _SELECT_ORDERS + " WHERE account = ? AND ss_status IN (?, ?, ?) ORDER BY bm_order_id",
            (account, *_OPEN_STATUSES),
        ).fetchall()
        return [_order(row) for row in rows]

    # writes -----------------------------------------------------------------------------

    def get_write(self, account: str, bm_order_id: int, key: str) -> WriteRecord | None:
        row = self._execute(
            self._select_writes + " WHERE account = ? AND bm_order_id = ? AND key = ?",
            (account, bm_order_id, key),
        ).fetchone()
        return None if row is None else _write(row)

    def put_write(self, record: WriteRecord) -> None:
        self._execute(
            "INSERT INTO writes (account, bm_order_id, key, status, source, updated_at,"
            " claimant) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, bm_order_id, key)"
            " DO UPDATE SET status = excluded.status, source = excluded.source,"
            " updated_at = excluded.updated_at, claimant = excluded.claimant",
            (
                record.account,
                record.bm_order_id,
                record.key,
                record.status,
                record.source,
                _text(record.updated_at),
                record.claimant,
            ),
        )

    def delete_write(
        self, account: str, bm_order_id: int, key: str, *, claimant: str | None = None
    ) -> None:
        if claimant is None:
            self._execute(
                "DELETE FROM writes WHERE account = ? AND bm_order_id = ? AND key = ?",
                (account, bm_order_id, key),
            )
            return
        self._execute(
            "DELETE FROM writes WHERE account = ? AND bm_order_id = ? AND key = ?"
            " AND status = 'pending' AND claimant = ?",
            (account, bm_order_id, key, claimant),
        )

    def pending_writes(self, account: str) -> list[WriteRecord]:
        rows = self._execute(
            self._select_writes
            + " WHERE account = ? AND status = 'pending' ORDER BY bm_order_id, key",
            (account,),
        ).fetchall()
        return [_write(row) for row in rows]

    # leases and claims ------------------------------------------------------------------
    # Each decision reads and writes inside one BEGIN IMMEDIATE transaction: SQLite lets one
    # writer at a time into the file, so no other process can act between the read and the
    # write. Instants are compared in Python, not as text.

    def acquire_lease(
        self, account: str, holder: str, *, host: str, pid: int, ttl: timedelta, now: datetime
    ) -> Lease | None:
        with self.transaction():
            current = self.get_lease(account)
            if current is not None and current.holder != holder and current.is_live(now):
                return None
            own = current is not None and current.holder == holder
            lease = Lease(
                account=account,
                holder=holder,
                host=host,
                pid=pid,
                acquired_at=current.acquired_at if current is not None and own else now,
                expires_at=now + ttl,
            )
            self._put_lease(lease)
            return lease

    def get_lease(self, account: str) -> Lease | None:
        if not self._has_leases:
            return None
        row = self._execute(
            "SELECT account, holder, host, pid, acquired_at, expires_at FROM leases"
            " WHERE account = ?",
            (account,),
        ).fetchone()
        if row is None:
            return None
        return Lease(
            account=str(row[0]),
            holder=str(row[1]),
            host=str(row[2]),
            pid=int(row[3]),
            acquired_at=_time(str(row[4])),
            expires_at=_time(str(row[5])),
        )

    def renew_lease(self, lease: Lease, *, ttl: timedelta, now: datetime) -> Lease | None:
        with self.transaction():
            current = self.get_lease(lease.account)
            if current is None or current.holder != lease.holder or not current.is_live(now):
                return None
            renewed = attrs.evolve(current, expires_at=now + ttl)
            self._put_lease(renewed)
            return renewed

    def release_lease(self, lease: Lease) -> None:
        with self.transaction():
            self._execute(
                "DELETE FROM leases WHERE account = ? AND holder = ?",
                (lease.account, lease.holder),
            )

    def check_lease(self, lease: Lease, now: datetime) -> None:
        if self._depth == 0 or self._owner != threading.get_ident():
            raise RuntimeError("check_lease() belongs inside transaction()")
        current = self.get_lease(lease.account)
        if current is None or current.holder != lease.holder or not current.is_live(now):
            other = current if current is not None and current.holder != lease.holder else None
            raise LeaseLostError(
                lease.account,
                lease.describe(),
                current=other.describe() if other is not None and other.is_live(now) else None,
            )

    def claim_write(
        self,
        record: WriteRecord,
        lease: Lease,
        now: datetime,
        *,
        replacing: WriteRecord | None = None,
    ) -> bool:
        with self.transaction():
            self.check_lease(lease, now)
            existing = self.get_write(record.account, record.bm_order_id, record.key)
            if replacing is None:
                if existing is not None:
                    return False
            elif (
                existing is None
                or existing.status != "pending"
                or existing.claimant != replacing.claimant
            ):
                return False
            self.put_write(attrs.evolve(record, claimant=lease.holder))
            return True

    def _put_lease(self, lease: Lease) -> None:
        self._execute(
            "INSERT INTO leases (account, holder, host, pid, acquired_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account) DO UPDATE"
            " SET holder = excluded.holder, host = excluded.host, pid = excluded.pid,"
            " acquired_at = excluded.acquired_at, expires_at = excluded.expires_at",
            (
                lease.account,
                lease.holder,
                lease.host,
                lease.pid,
                _text(lease.acquired_at),
                _text(lease.expires_at),
            ),
        )

    # failures ---------------------------------------------------------------------------

    def record_failure(
        self,
        account: str,
        stage: str,
        ref: str,
        reason: str,
        at: datetime,
        *,
        error: str | None = None,
    ) -> None:
        self._execute(
            "INSERT INTO failures (account, stage, ref, reason, attempts, first_seen, last_seen,"
            " error) VALUES (?, ?, ?, ?, 1, ?, ?, ?) ON CONFLICT (account, stage, ref) DO UPDATE"
            " SET reason = excluded.reason, attempts = failures.attempts + 1,"
            " last_seen = excluded.last_seen, error = excluded.error",
            (account, stage, ref, reason, _text(at), _text(at), error),
        )

    def clear_failure(self, account: str, stage: str, ref: str) -> None:
        self._execute(
            "DELETE FROM failures WHERE account = ? AND stage = ? AND ref = ?",
            (account, stage, ref),
        )

    def failures(self, account: str | None = None) -> list[FailureRecord]:
        sql = self._select_failures
        params: tuple[object, ...] = ()
        if account is not None:
            sql += " WHERE account = ?"
            params = (account,)
        rows = self._execute(sql + " ORDER BY account, stage, ref", params).fetchall()
        return [
            FailureRecord(
                account=row[0],
                stage=row[1],
                ref=row[2],
                reason=row[3],
                attempts=row[4],
                first_seen=_time(row[5]),
                last_seen=_time(row[6]),
                error=None if row[7] is None else str(row[7]),
            )
            for row in rows
        ]

    # runs -------------------------------------------------------------------------------

    def record_run(self, record: RunRecord) -> None:
        counts, stopped = run_columns(record)
        self._execute(
            "INSERT INTO runs"
            " (account, started_at, finished_at, host, pid, counts, stopped, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET"
            " started_at = excluded.started_at, finished_at = excluded.finished_at,"
            " host = excluded.host, pid = excluded.pid, counts = excluded.counts,"
            " stopped = excluded.stopped, error = excluded.error",
            (
                record.account,
                _text(record.started_at),
                _text(record.finished_at),
                record.host,
                record.pid,
                counts,
                stopped,
                record.error,
            ),
        )

    def last_run(self, account: str) -> RunRecord | None:
        if not self._has_runs:
            return None
        row = self._execute(self._select_runs + " WHERE account = ?", (account,)).fetchone()
        return None if row is None else run_record(row, _time)

    def all_runs(self) -> list[RunRecord]:
        if not self._has_runs:
            return []
        rows = self._execute(self._select_runs + " ORDER BY account").fetchall()
        return [run_record(row, _time) for row in rows]

    # whole-state reads and writes, for ``state copy`` --------------------------------------

    def all_cursors(self) -> list[tuple[str, str, datetime]]:
        rows = self._execute("SELECT account, name, value FROM cursors ORDER BY 1, 2").fetchall()
        return [(str(row[0]), str(row[1]), _time(row[2])) for row in rows]

    def all_orders(self) -> Iterator[OrderRecord]:
        rows = self._execute(_SELECT_ORDERS + " ORDER BY account, bm_order_id").fetchall()
        return (_order(row) for row in rows)

    def all_writes(self) -> list[WriteRecord]:
        rows = self._execute(self._select_writes + " ORDER BY account, bm_order_id, key").fetchall()
        return [_write(row) for row in rows]

    def restore_failure(self, record: FailureRecord) -> None:
        self._execute(
            "INSERT INTO failures (account, stage, ref, reason, attempts, first_seen, last_seen,"
            " error) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, stage, ref) DO UPDATE"
            " SET reason = excluded.reason, attempts = excluded.attempts,"
            " first_seen = excluded.first_seen, last_seen = excluded.last_seen,"
            " error = excluded.error",
            (
                record.account,
                record.stage,
                record.ref,
                record.reason,
                record.attempts,
                _text(record.first_seen),
                _text(record.last_seen),
                record.error,
            ),
        )

    # --- StockStore (backmarket_shipstation.sync.stock) ------------------------------------

    def pushed_stock(self, account: str) -> dict[str, PushedStock]:
        """What the stock sync last made each listing say, by lower-case SKU."""
        rows = self._execute(
            "SELECT account, sku, listing_id, quantity, pushed_at FROM stock_pushed"
            " WHERE account = ?",
            (account,),
        ).fetchall()
        return {
            str(row[1]): PushedStock(
                account=str(row[0]),
                sku=str(row[1]),
                listing_id=str(row[2]),
                quantity=int(row[3]),
                pushed_at=_time(str(row[4])),
            )
            for row in rows
        }

    def record_stock(self, records: Iterable[PushedStock]) -> None:
        """Remember quantities Back Market now shows (one transaction for them all)."""
        with self.transaction():
            for record in records:
                self._execute(
                    "INSERT INTO stock_pushed (account, sku, listing_id, quantity, pushed_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, sku) DO UPDATE SET"
                    " listing_id = excluded.listing_id, quantity = excluded.quantity,"
                    " pushed_at = excluded.pushed_at",
                    (
                        record.account,
                        record.sku,
                        record.listing_id,
                        record.quantity,
                        _text(record.pushed_at),
                    ),
                )


def run_columns(record: RunRecord) -> tuple[str, str]:
    """The ``counts`` and ``stopped`` columns of a run (JSON text, both stores)."""
    return json.dumps(record.counts(), sort_keys=True), json.dumps(list(record.stopped))


def run_record(row: Sequence[Any], to_time: Callable[[Any], datetime]) -> RunRecord:
    """A run from its row ``(account, started_at, finished_at, host, pid, counts, stopped,
    error)``.

    Counts this release does not know (written by a newer one) are left out."""
    account, started_at, finished_at, host, pid, counts, stopped, error = row
    known = {k: int(v) for k, v in json.loads(str(counts)).items() if k in RUN_COUNTS}
    return RunRecord(
        account=str(account),
        started_at=to_time(started_at),
        finished_at=to_time(finished_at),
        host=str(host),
        pid=int(pid),
        stopped=tuple(str(stage) for stage in json.loads(str(stopped))),
        error=None if error is None else str(error),
        **known,
    )


class _Rows:
    """A statement's rows, read in full while the store's lock was held."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


def _order(row: tuple[object, ...]) -> OrderRecord:
    account, bm_order_id, order_key, ss_order_id, digest, ss_status, updated_at, snapshot = row
    return OrderRecord(
        account=str(account),
        bm_order_id=int(str(bm_order_id)),
        order_key=str(order_key),
        ss_order_id=None if ss_order_id is None else int(str(ss_order_id)),
        digest=str(digest),
        ss_status=str(ss_status),
        updated_at=_time(str(updated_at)),
        bm_snapshot=None if snapshot is None else str(snapshot),
    )


def _write(row: tuple[object, ...]) -> WriteRecord:
    account, bm_order_id, key, status, source, updated_at, claimant = row
    if status not in ("pending", "done"):
        raise ValueError(f"unknown write status {status!r} in the store")
    return WriteRecord(
        account=str(account),
        bm_order_id=int(str(bm_order_id)),
        key=str(key),
        status="pending" if status == "pending" else "done",
        source=str(source),
        updated_at=_time(str(updated_at)),
        claimant=None if claimant is None else str(claimant),
    )
