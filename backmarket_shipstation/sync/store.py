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

Cursors (the last instant each loop has seen) complete the picture. Every engine step runs in
one :meth:`SyncStore.transaction`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, Protocol

import attrs

__all__ = [
    "FailureRecord",
    "OrderRecord",
    "SQLiteStore",
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

    def put_write(self, record: WriteRecord) -> None: ...

    def delete_write(self, account: str, bm_order_id: int, key: str) -> None:
        """Forget a write that the API refused (it did not take effect)."""
        ...

    def pending_writes(self, account: str) -> list[WriteRecord]: ...

    def record_failure(
        self, account: str, stage: str, ref: str, reason: str, at: datetime
    ) -> None: ...

    def clear_failure(self, account: str, stage: str, ref: str) -> None: ...

    def failures(self, account: str | None = None) -> list[FailureRecord]: ...


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
    status TEXT NOT NULL, source TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (account, bm_order_id, key)
);
CREATE INDEX IF NOT EXISTS writes_status ON writes (account, status);
CREATE TABLE IF NOT EXISTS failures (
    account TEXT NOT NULL, stage TEXT NOT NULL, ref TEXT NOT NULL, reason TEXT NOT NULL,
    attempts INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    PRIMARY KEY (account, stage, ref)
);
"""

_SELECT_ORDERS = (
    "SELECT account, bm_order_id, order_key, ss_order_id, digest, ss_status, updated_at,"
    " bm_snapshot FROM orders"
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
    one process; several processes may open the same file (SQLite locks it).
    """

    def __init__(self, path: str | Path = DEFAULT_STATE_PATH, *, read_only: bool = False) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._depth = 0
        if read_only:
            # For looking only (``status``): works on a file this user cannot write; any
            # write raises sqlite3.OperationalError.
            uri = Path(self.path).resolve().as_uri() + "?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout=10000")
            return
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per step.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)

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
        with self._lock:
            outermost = self._depth == 0
            if outermost:
                self._db.execute("BEGIN IMMEDIATE")
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

    def _execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)

    def accounts(self) -> list[str]:
        """The names of the accounts this store holds any state for."""
        rows = self._execute(
            "SELECT account FROM cursors UNION SELECT account FROM orders "
            "UNION SELECT account FROM writes UNION SELECT account FROM failures ORDER BY 1"
        ).fetchall()
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
            "SELECT account, bm_order_id, key, status, source, updated_at FROM writes "
            "WHERE account = ? AND bm_order_id = ? AND key = ?",
            (account, bm_order_id, key),
        ).fetchone()
        return None if row is None else _write(row)

    def put_write(self, record: WriteRecord) -> None:
        self._execute(
            "INSERT INTO writes (account, bm_order_id, key, status, source, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, bm_order_id, key) DO UPDATE "
            "SET status = excluded.status, source = excluded.source, "
            "updated_at = excluded.updated_at",
            (
                record.account,
                record.bm_order_id,
                record.key,
                record.status,
                record.source,
                _text(record.updated_at),
            ),
        )

    def delete_write(self, account: str, bm_order_id: int, key: str) -> None:
        self._execute(
            "DELETE FROM writes WHERE account = ? AND bm_order_id = ? AND key = ?",
            (account, bm_order_id, key),
        )

    def pending_writes(self, account: str) -> list[WriteRecord]:
        rows = self._execute(
            "SELECT account, bm_order_id, key, status, source, updated_at FROM writes "
            "WHERE account = ? AND status = 'pending' ORDER BY bm_order_id, key",
            (account,),
        ).fetchall()
        return [_write(row) for row in rows]

    # failures ---------------------------------------------------------------------------

    def record_failure(self, account: str, stage: str, ref: str, reason: str, at: datetime) -> None:
        self._execute(
            "INSERT INTO failures (account, stage, ref, reason, attempts, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (account, stage, ref) DO UPDATE "
            "SET reason = excluded.reason, attempts = failures.attempts + 1, "
            "last_seen = excluded.last_seen",
            (account, stage, ref, reason, _text(at), _text(at)),
        )

    def clear_failure(self, account: str, stage: str, ref: str) -> None:
        self._execute(
            "DELETE FROM failures WHERE account = ? AND stage = ? AND ref = ?",
            (account, stage, ref),
        )

    def failures(self, account: str | None = None) -> list[FailureRecord]:
        sql = "SELECT account, stage, ref, reason, attempts, first_seen, last_seen FROM failures"
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
            )
            for row in rows
        ]


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
    account, bm_order_id, key, status, source, updated_at = row
    if status not in ("pending", "done"):
        raise ValueError(f"unknown write status {status!r} in the store")
    return WriteRecord(
        account=str(account),
        bm_order_id=int(str(bm_order_id)),
        key=str(key),
        status="pending" if status == "pending" else "done",
        source=str(source),
        updated_at=_time(str(updated_at)),
    )
