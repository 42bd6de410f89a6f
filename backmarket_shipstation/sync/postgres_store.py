"""The PostgreSQL state store: one state shared by runs on several hosts.

:class:`PostgresStore` keeps the same records as :class:`~.store.SQLiteStore` (the same
:class:`~.store.SyncStore` contract, checked by one test suite run on both) in a schema of its
own, ``backmarket_shipstation``, so that it can live in a database other applications use.

**Schema versions.** The schema is versioned: each entry of :data:`MIGRATIONS` takes the
database from one version to the next, and ``schema_version`` records which were applied.
Opening a store (``backmarket-shipstation state migrate`` does only that) applies the missing
ones in one transaction under an advisory lock, so that several hosts starting at once
migrate once and a failed upgrade leaves the previous version intact (PostgreSQL's DDL is
transactional). A database made by a newer release is refused rather than written with
rules it does not know.

**Isolation.** Every :meth:`~PostgresStore.transaction` is ``READ COMMITTED``, and every
decision that runs may race on is one statement that locks the row it decides on:

- a lease is taken with ``INSERT ... ON CONFLICT (account) DO UPDATE ... WHERE`` the recorded
  lease is the taker's own or expired: the conflicting row is locked and the ``WHERE``
  re-read on its latest committed version, so of runs racing for a free lease exactly one
  gets a row back; renewing is an ``UPDATE ... WHERE holder = me AND expires_at > now``;
- :meth:`~PostgresStore.check_lease` reads the lease row ``FOR UPDATE``: until the
  transaction ends no other run can take the lease over (its upsert waits for the lock), so
  what the transaction writes is written by the lease holder or not at all;
- a write is claimed with ``INSERT ... ON CONFLICT DO NOTHING`` (a second claimant waits for
  the first to commit, then finds the key taken), and a gone claimant's ``pending`` record
  is taken over with ``UPDATE ... WHERE status = 'pending' AND claimant IS NOT DISTINCT
  FROM`` the one read, which only one run can match.

``SERIALIZABLE`` would add serialization failures that every caller would have to retry, for
no anomaly these statements leave. Statements outside a transaction commit one by one, as
with SQLite.

**Connection loss.** Any lost or refused connection raises
:class:`~..errors.StateStoreUnavailableError`: the open transaction dies with the connection
and PostgreSQL rolls it back, so nothing is half-written; a Back Market write recorded
``pending`` before the loss is settled by the next run like after a crash. The store does not
reconnect behind the engine's back: a run that lost its state stops, and the next one resumes.

psycopg 3 is imported when a store is opened: without the ``postgres`` extra, opening one
raises a :class:`~..errors.ConfigurationError` that names it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ..errors import (
    ConfigurationError,
    LeaseLostError,
    StateStoreError,
    StateStoreUnavailableError,
)
from .state import describe_state
from .store import (
    FailureRecord,
    Lease,
    OrderRecord,
    RunRecord,
    WriteRecord,
    run_columns,
    run_record,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["MIGRATIONS", "SCHEMA", "SCHEMA_VERSION", "PostgresStore"]

SCHEMA = "backmarket_shipstation"
"""The PostgreSQL schema (namespace) that holds the state's tables."""

MIGRATIONS: tuple[str, ...] = (
    # 1: the records of SQLiteStore, with PostgreSQL types (BIGINT ids, TIMESTAMPTZ instants).
    """
    CREATE TABLE cursors (
        account TEXT NOT NULL, name TEXT NOT NULL, value TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (account, name)
    );
    CREATE TABLE orders (
        account TEXT NOT NULL, bm_order_id BIGINT NOT NULL, order_key TEXT NOT NULL,
        ss_order_id BIGINT, digest TEXT NOT NULL, ss_status TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL, bm_snapshot TEXT,
        PRIMARY KEY (account, bm_order_id)
    );
    CREATE INDEX orders_status ON orders (account, ss_status);
    CREATE TABLE writes (
        account TEXT NOT NULL, bm_order_id BIGINT NOT NULL, key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'done')), source TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (account, bm_order_id, key)
    );
    CREATE INDEX writes_status ON writes (account, status);
    CREATE TABLE failures (
        account TEXT NOT NULL, stage TEXT NOT NULL, ref TEXT NOT NULL, reason TEXT NOT NULL,
        attempts INTEGER NOT NULL, first_seen TIMESTAMPTZ NOT NULL,
        last_seen TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (account, stage, ref)
    );
    """,
    # 2: leases per account and write claims (issue 14): who claimed each write.
    """
    ALTER TABLE writes ADD COLUMN claimant TEXT;
    CREATE TABLE leases (
        account TEXT NOT NULL PRIMARY KEY, holder TEXT NOT NULL, host TEXT NOT NULL,
        pid INTEGER NOT NULL, acquired_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL
    );
    """,
    # 3: each account's last run, for `status` (issue 15), and the error class of failures.
    """
    ALTER TABLE failures ADD COLUMN error TEXT;
    CREATE TABLE runs (
        account TEXT NOT NULL PRIMARY KEY, started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
        counts TEXT NOT NULL, stopped TEXT NOT NULL
    );
    """,
    # 4: rate budgets shared by every process and host (issue 15): one limiter's state per
    # row, keyed by a digest of the credential or host (sync/postgres_rate_limits.py).
    """
    CREATE TABLE rate_limits (
        key TEXT NOT NULL PRIMARY KEY, state JSONB NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    """,
    # 5: what stopped an account's last run as a whole (refused credentials...), for `status`.
    """
    ALTER TABLE runs ADD COLUMN error TEXT;
    """,
)
"""Migration ``n`` (1-based) takes the schema from version ``n - 1`` to ``n``. Append only."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this release reads and writes."""

# Any constant both hosts agree on: the advisory lock that serializes migrations.
_MIGRATION_LOCK = 0x626D7373  # "bmss"
_MISSING_EXTRA = (
    "a postgresql:// state needs the postgres extra: pip install 'backmarket-shipstation[postgres]'"
)
_SELECT_ORDERS = (
    "SELECT account, bm_order_id, order_key, ss_order_id, digest, ss_status, updated_at,"
    " bm_snapshot FROM orders"
)
_SELECT_WRITES = (
    "SELECT account, bm_order_id, key, status, source, updated_at, claimant FROM writes"
)
_SELECT_RUNS = (
    "SELECT account, started_at, finished_at, host, pid, counts, stopped, error FROM runs"
)
_SELECT_LEASES = "SELECT account, holder, host, pid, acquired_at, expires_at FROM leases"
_OPEN_STATUSES = ("awaiting_payment", "awaiting_shipment", "on_hold")


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigurationError(_MISSING_EXTRA) from None
    return psycopg


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("the store keeps timezone-aware datetimes only")
    return value.astimezone(timezone.utc)


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


class PostgresStore:
    """The sync state in a PostgreSQL database (psycopg 3), shared by runs on several hosts.

    ``url`` is a libpq URL, ``postgresql://user:password@host:port/dbname?sslmode=require``;
    its password is never shown (``repr``, errors). The schema is created or upgraded when
    the store opens, unless ``read_only``: then a schema that is missing or not the current
    version is refused, and every transaction is read-only.
    """

    def __init__(
        self,
        url: str,
        *,
        read_only: bool = False,
        application_name: str = "backmarket-shipstation",
        connect_timeout: int = 10,
    ) -> None:
        self.state = describe_state(url)
        """The URL as it may be shown, password masked."""
        self.read_only = read_only
        self.found_version = 0
        """The schema version the database had when the store opened it (0: none)."""
        self._psycopg = _import_psycopg()
        self._lock = threading.RLock()
        self._depth = 0
        self._owner = 0
        """The thread whose transaction is open (while ``_depth`` > 0)."""
        self._begin = "BEGIN ISOLATION LEVEL READ COMMITTED" + (" READ ONLY" if read_only else "")
        self._secrets = _secrets_of(url, self._psycopg)
        try:
            self._db: psycopg.Connection[tuple[Any, ...]] = self._psycopg.connect(
                url,
                autocommit=True,
                application_name=application_name,
                connect_timeout=connect_timeout,
                # A peer that vanishes (a lost host, a dropped route) is noticed within about
                # a minute instead of the kernel's two hours.
                keepalives=1,
                keepalives_idle=30,
                keepalives_interval=10,
                keepalives_count=3,
            )
        except self._psycopg.Error as exc:
            raise self._error(exc, "cannot connect") from None
        try:
            self._execute("SET TIME ZONE 'UTC'")
            # Unqualified names resolve in our schema only, never in another application's.
            self._execute(f"SET search_path TO {SCHEMA}")
            if read_only:
                self._execute("SET default_transaction_read_only = on")
                self.found_version = self._check_version()
            else:
                self.found_version, _ = self.migrate()
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self.state!r})"

    # schema -------------------------------------------------------------------------------

    def schema_version(self) -> int:
        """The version of the schema in the database; 0 when there is none yet."""
        present = self._execute("SELECT to_regclass(%s)", (f"{SCHEMA}.schema_version",))
        row = present.fetchone()
        if row is None or row[0] is None:
            return 0
        found = self._execute("SELECT max(version) FROM schema_version").fetchone()
        return 0 if found is None or found[0] is None else int(found[0])

    def migrate(self) -> tuple[int, int]:
        """Create or upgrade the schema to :data:`SCHEMA_VERSION`: ``(before, after)``."""
        with self.transaction():
            self._execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            self._execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            self._execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, migrated_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            before = self.schema_version()
            self._refuse_newer(before)
            for version in range(before + 1, SCHEMA_VERSION + 1):
                self._execute(MIGRATIONS[version - 1])
                self._execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
        return before, SCHEMA_VERSION

    def _check_version(self) -> int:
        version = self.schema_version()
        self._refuse_newer(version)
        if version == 0:
            raise StateStoreError(
                "no backmarket-shipstation state in this database (nothing synced yet?)",
                state=self.state,
            )
        if version < SCHEMA_VERSION:
            raise StateStoreError(
                f"schema version {version}, this release needs {SCHEMA_VERSION}:"
                " run `backmarket-shipstation state migrate` first",
                state=self.state,
            )
        return version

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StateStoreError(
                f"schema version {version} was made by a newer backmarket-shipstation"
                f" (this one knows up to {SCHEMA_VERSION}): upgrade the package",
                state=self.state,
            )

    # plumbing -----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # One connection for every thread: a transaction holds the lock from BEGIN to COMMIT,
        # so another thread's statements wait for it instead of running inside it. (Rows are
        # fetched with each statement, client-side, so a result read later is safe.)
        with self._lock:
            outermost = self._depth == 0
            if outermost:
                self._execute(self._begin)
                self._owner = threading.get_ident()
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outermost:
                    self._rollback()
                raise
            self._depth -= 1
            if outermost:
                self._execute("COMMIT")

    def _rollback(self) -> None:
        # A failed ROLLBACK means the connection is gone: the server rolled back with it.
        with contextlib.suppress(self._psycopg.Error):
            self._db.execute("ROLLBACK")

    def _execute(
        self, sql: str, params: tuple[object, ...] = ()
    ) -> psycopg.Cursor[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params or None)
            except self._psycopg.Error as exc:
                raise self._error(exc, "query failed") from None

    def _error(self, exc: Exception, doing: str) -> StateStoreError:
        message = " ".join(str(exc).split()) or type(exc).__name__
        for secret in self._secrets:
            message = message.replace(secret, "***")
        unavailable = isinstance(exc, self._psycopg.OperationalError) or self._db_closed()
        cls = StateStoreUnavailableError if unavailable else StateStoreError
        if unavailable and doing == "query failed":
            doing = "connection lost (nothing uncommitted was kept; the next run resumes)"
        return cls(f"{doing}: {message}", state=self.state)

    def _db_closed(self) -> bool:
        db = getattr(self, "_db", None)
        return db is None or bool(db.closed)

    def accounts(self) -> list[str]:
        rows = self._execute(
            "SELECT account FROM cursors UNION SELECT account FROM orders "
            "UNION SELECT account FROM writes UNION SELECT account FROM failures "
            "UNION SELECT account FROM runs ORDER BY 1"
        ).fetchall()
        return [str(row[0]) for row in rows]

    # cursors ------------------------------------------------------------------------------

    def get_cursor(self, account: str, name: str) -> datetime | None:
        row = self._execute(
            "SELECT value FROM cursors WHERE account = %s AND name = %s", (account, name)
        ).fetchone()
        return None if row is None else _utc(row[0])

    def set_cursor(self, account: str, name: str, value: datetime) -> None:
        self._execute(
            "INSERT INTO cursors (account, name, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (account, name) DO UPDATE SET value = excluded.value",
            (account, name, _aware(value)),
        )

    # orders -------------------------------------------------------------------------------

    def get_order(self, account: str, bm_order_id: int) -> OrderRecord | None:
        row = self._execute(
            _SELECT_ORDERS + " WHERE account = %s AND bm_order_id = %s", (account, bm_order_id)
        ).fetchone()
        return None if row is None else _order(row)

    def put_order(self, record: OrderRecord) -> None:
        self._execute(
            "INSERT INTO orders (account, bm_order_id, order_key, ss_order_id, digest, ss_status,"
            " updated_at, bm_snapshot) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
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
                _aware(record.updated_at),
                record.bm_snapshot,
            ),
        )

    def open_orders(self, account: str) -> list[OrderRecord]:
        rows = self._execute(
            _SELECT_ORDERS + " WHERE account = %s AND ss_status = ANY(%s) ORDER BY bm_order_id",
            (account, list(_OPEN_STATUSES)),
        ).fetchall()
        return [_order(row) for row in rows]

    # writes -------------------------------------------------------------------------------

    def get_write(self, account: str, bm_order_id: int, key: str) -> WriteRecord | None:
        row = self._execute(
            _SELECT_WRITES + " WHERE account = %s AND bm_order_id = %s AND key = %s",
            (account, bm_order_id, key),
        ).fetchone()
        return None if row is None else _write(row)

    def put_write(self, record: WriteRecord) -> None:
        self._execute(
            "INSERT INTO writes (account, bm_order_id, key, status, source, updated_at,"
            " claimant) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (account, bm_order_id, key) DO UPDATE"
            " SET status = excluded.status, source = excluded.source,"
            " updated_at = excluded.updated_at, claimant = excluded.claimant",
            _write_params(record, record.claimant),
        )

    def delete_write(
        self, account: str, bm_order_id: int, key: str, *, claimant: str | None = None
    ) -> None:
        if claimant is None:
            self._execute(
                "DELETE FROM writes WHERE account = %s AND bm_order_id = %s AND key = %s",
                (account, bm_order_id, key),
            )
            return
        self._execute(
            "DELETE FROM writes WHERE account = %s AND bm_order_id = %s AND key = %s"
            " AND status = 'pending' AND claimant = %s",
            (account, bm_order_id, key, claimant),
        )

    def pending_writes(self, account: str) -> list[WriteRecord]:
        rows = self._execute(
            _SELECT_WRITES + " WHERE account = %s AND status = 'pending' ORDER BY bm_order_id, key",
            (account,),
        ).fetchall()
        return [_write(row) for row in rows]

    # leases and claims (see the module text for why each is one locking statement) -------

    def acquire_lease(
        self, account: str, holder: str, *, host: str, pid: int, ttl: timedelta, now: datetime
    ) -> Lease | None:
        now = _aware(now)
        with self.transaction():
            row = self._execute(
                "INSERT INTO leases AS current (account, holder, host, pid, acquired_at,"
                " expires_at) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (account) DO UPDATE SET holder = excluded.holder,"
                " host = excluded.host, pid = excluded.pid,"
                " acquired_at = CASE WHEN current.holder = excluded.holder"
                " THEN current.acquired_at ELSE excluded.acquired_at END,"
                " expires_at = excluded.expires_at"
                " WHERE current.holder = excluded.holder OR current.expires_at <= %s"
                " RETURNING account, holder, host, pid, acquired_at, expires_at",
                (account, holder, host, pid, now, now + ttl, now),
            ).fetchone()
        return None if row is None else _lease(row)

    def get_lease(self, account: str) -> Lease | None:
        row = self._execute(_SELECT_LEASES + " WHERE account = %s", (account,)).fetchone()
        return None if row is None else _lease(row)

    def renew_lease(self, lease: Lease, *, ttl: timedelta, now: datetime) -> Lease | None:
        now = _aware(now)
        with self.transaction():
            row = self._execute(
                "UPDATE leases SET expires_at = %s"
                " WHERE account = %s AND holder = %s AND expires_at > %s"
                " RETURNING account, holder, host, pid, acquired_at, expires_at",
                (now + ttl, lease.account, lease.holder, now),
            ).fetchone()
        return None if row is None else _lease(row)

    def release_lease(self, lease: Lease) -> None:
        with self.transaction():
            self._execute(
                "DELETE FROM leases WHERE account = %s AND holder = %s",
                (lease.account, lease.holder),
            )

    def check_lease(self, lease: Lease, now: datetime) -> None:
        if self._depth == 0 or self._owner != threading.get_ident():
            raise RuntimeError("check_lease() belongs inside transaction()")
        now = _aware(now)
        # FOR UPDATE: the row stays locked until this transaction ends, so nobody can take
        # the lease over between this check and the writes that follow it.
        row = self._execute(
            _SELECT_LEASES + " WHERE account = %s FOR UPDATE", (lease.account,)
        ).fetchone()
        current = None if row is None else _lease(row)
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
            if replacing is None:
                row = self._execute(
                    "INSERT INTO writes (account, bm_order_id, key, status, source, updated_at,"
                    " claimant) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (account, bm_order_id, key) DO NOTHING RETURNING 1",
                    _write_params(record, lease.holder),
                ).fetchone()
            else:
                row = self._execute(
                    "UPDATE writes SET status = %s, source = %s, updated_at = %s, claimant = %s"
                    " WHERE account = %s AND bm_order_id = %s AND key = %s"
                    " AND status = 'pending' AND claimant IS NOT DISTINCT FROM %s RETURNING 1",
                    (
                        record.status,
                        record.source,
                        _aware(record.updated_at),
                        lease.holder,
                        record.account,
                        record.bm_order_id,
                        record.key,
                        replacing.claimant,
                    ),
                ).fetchone()
        return row is not None

    # failures -----------------------------------------------------------------------------

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
        at = _aware(at)
        self._execute(
            "INSERT INTO failures (account, stage, ref, reason, attempts, first_seen, last_seen,"
            " error) VALUES (%s, %s, %s, %s, 1, %s, %s, %s) ON CONFLICT (account, stage, ref)"
            " DO UPDATE SET reason = excluded.reason, attempts = failures.attempts + 1,"
            " last_seen = excluded.last_seen, error = excluded.error",
            (account, stage, ref, reason, at, at, error),
        )

    def clear_failure(self, account: str, stage: str, ref: str) -> None:
        self._execute(
            "DELETE FROM failures WHERE account = %s AND stage = %s AND ref = %s",
            (account, stage, ref),
        )

    def failures(self, account: str | None = None) -> list[FailureRecord]:
        sql = (
            "SELECT account, stage, ref, reason, attempts, first_seen, last_seen, error"
            " FROM failures"
        )
        params: tuple[object, ...] = ()
        if account is not None:
            sql += " WHERE account = %s"
            params = (account,)
        rows = self._execute(sql + " ORDER BY account, stage, ref", params).fetchall()
        return [
            FailureRecord(
                account=str(row[0]),
                stage=str(row[1]),
                ref=str(row[2]),
                reason=str(row[3]),
                attempts=int(row[4]),
                first_seen=_utc(row[5]),
                last_seen=_utc(row[6]),
                error=None if row[7] is None else str(row[7]),
            )
            for row in rows
        ]

    # runs ---------------------------------------------------------------------------------

    def record_run(self, record: RunRecord) -> None:
        counts, stopped = run_columns(record)
        self._execute(
            "INSERT INTO runs"
            " (account, started_at, finished_at, host, pid, counts, stopped, error)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (account) DO UPDATE SET"
            " started_at = excluded.started_at, finished_at = excluded.finished_at,"
            " host = excluded.host, pid = excluded.pid, counts = excluded.counts,"
            " stopped = excluded.stopped, error = excluded.error",
            (
                record.account,
                _aware(record.started_at),
                _aware(record.finished_at),
                record.host,
                record.pid,
                counts,
                stopped,
                record.error,
            ),
        )

    def last_run(self, account: str) -> RunRecord | None:
        row = self._execute(_SELECT_RUNS + " WHERE account = %s", (account,)).fetchone()
        return None if row is None else run_record(row, _utc)

    def all_runs(self) -> list[RunRecord]:
        rows = self._execute(_SELECT_RUNS + " ORDER BY account").fetchall()
        return [run_record(row, _utc) for row in rows]

    # whole-state reads and writes, for ``state copy`` ---------------------------------------

    def all_cursors(self) -> list[tuple[str, str, datetime]]:
        rows = self._execute("SELECT account, name, value FROM cursors ORDER BY 1, 2").fetchall()
        return [(str(row[0]), str(row[1]), _utc(row[2])) for row in rows]

    def all_orders(self) -> Iterator[OrderRecord]:
        rows = self._execute(_SELECT_ORDERS + " ORDER BY account, bm_order_id").fetchall()
        return (_order(row) for row in rows)

    def all_writes(self) -> list[WriteRecord]:
        rows = self._execute(_SELECT_WRITES + " ORDER BY account, bm_order_id, key").fetchall()
        return [_write(row) for row in rows]

    def restore_failure(self, record: FailureRecord) -> None:
        self._execute(
            "INSERT INTO failures (account, stage, ref, reason, attempts, first_seen, last_seen,"
            " error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (account, stage, ref)"
            " DO UPDATE SET reason = excluded.reason, attempts = excluded.attempts,"
            " first_seen = excluded.first_seen, last_seen = excluded.last_seen,"
            " error = excluded.error",
            (
                record.account,
                record.stage,
                record.ref,
                record.reason,
                record.attempts,
                _aware(record.first_seen),
                _aware(record.last_seen),
                record.error,
            ),
        )


def _secrets_of(url: str, psycopg: Any) -> tuple[str, ...]:
    """The URL's password (raw and decoded), to scrub from any message that might echo it."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return ()
    found = {str(params[key]) for key in ("password", "sslpassword") if params.get(key)}
    return tuple(sorted(found, key=len, reverse=True))


def _order(row: tuple[Any, ...]) -> OrderRecord:
    account, bm_order_id, order_key, ss_order_id, digest, ss_status, updated_at, snapshot = row
    return OrderRecord(
        account=str(account),
        bm_order_id=int(bm_order_id),
        order_key=str(order_key),
        ss_order_id=None if ss_order_id is None else int(ss_order_id),
        digest=str(digest),
        ss_status=str(ss_status),
        updated_at=_utc(updated_at),
        bm_snapshot=None if snapshot is None else str(snapshot),
    )


def _write(row: tuple[Any, ...]) -> WriteRecord:
    account, bm_order_id, key, status, source, updated_at, claimant = row
    return WriteRecord(
        account=str(account),
        bm_order_id=int(bm_order_id),
        key=str(key),
        status="pending" if status == "pending" else "done",
        source=str(source),
        updated_at=_utc(updated_at),
        claimant=None if claimant is None else str(claimant),
    )


def _write_params(record: WriteRecord, claimant: str | None) -> tuple[object, ...]:
    return (
        record.account,
        record.bm_order_id,
        record.key,
        record.status,
        record.source,
        _aware(record.updated_at),
        claimant,
    )


def _lease(row: tuple[Any, ...]) -> Lease:
    account, holder, host, pid, acquired_at, expires_at = row
    return Lease(
        account=str(account),
        holder=str(holder),
        host=str(host),
        pid=int(pid),
        acquired_at=_utc(acquired_at),
        expires_at=_utc(expires_at),
    )
