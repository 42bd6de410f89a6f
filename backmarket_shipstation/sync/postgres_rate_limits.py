"""Rate-limit records in the PostgreSQL state: budgets shared by every process and host.

One row per limiter (``rate_limits``, schema version 4 of the state), keyed by a digest of the
credential (or of the host, see :mod:`backmarket_shipstation.rate_limits`) and holding the
limiter's state as JSON. A reservation is one short ``READ COMMITTED`` transaction: the row
is read ``FOR UPDATE`` (so the reservations of every process queue on the row lock, each
seeing the state the previous one wrote), the limiter's own logic runs on it in Python, and
the new state is written back before ``COMMIT``. The row lock is held for the few hundred
microseconds of one round trip per statement, never across a request or a sleep: the caller
sleeps after the commit, until the slot it was given.

No daemon, no extension: the database the sync already shares is the coordinator. Each
process opens one connection of its own for the limiters (not the state store's, whose
transactions hold other locks), lazily, and opens it again after it was lost; while the
database cannot be reached the limiters fall back to limiting in their process (see
``_StoreCell`` in ``_http.py``) and the server's 429s, which still reach the retry policy,
protect the credential.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .._http import RateRecord
from ..errors import StateStoreUnavailableError
from .postgres_store import SCHEMA, _import_psycopg, _secrets_of
from .state import describe_state

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresRateLimitStore"]

T = TypeVar("T")

_LOCK_ROW = "SELECT state FROM rate_limits WHERE key = %s FOR UPDATE"


class PostgresRateLimitStore:
    """A :class:`~backmarket_shipstation._http.RateLimitStore` in the PostgreSQL state at
    ``url`` (a libpq URL; its password never shown). Thread-safe: the threads of a process
    share its one connection, one reservation at a time."""

    blocking = True

    def __init__(
        self,
        url: str,
        *,
        application_name: str = "backmarket-shipstation-rate-limits",
        connect_timeout: int = 5,
    ) -> None:
        self._url = url
        self.state = describe_state(url)
        """The URL as it may be shown, password masked."""
        self._psycopg = _import_psycopg()
        from psycopg.types.json import Jsonb

        self._jsonb = Jsonb
        self._secrets = _secrets_of(url, self._psycopg)
        self._application_name = application_name
        self._connect_timeout = connect_timeout
        self._db: psycopg.Connection[tuple[Any, ...]] | None = None
        self._lock = threading.Lock()
        self.updates = 0
        """Reservations and observations made, for benchmarks."""

    def __repr__(self) -> str:
        return f"PostgresRateLimitStore({self.state!r})"

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._db is not None and not self._db.closed:
            return self._db
        db: psycopg.Connection[tuple[Any, ...]] = self._psycopg.connect(
            self._url,
            autocommit=True,
            application_name=self._application_name,
            connect_timeout=self._connect_timeout,
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )
        try:
            db.execute("SET TIME ZONE 'UTC'")
            db.execute(f"SET search_path TO {SCHEMA}")
            present = db.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.rate_limits",)).fetchone()
            if present is None or present[0] is None:
                # An older or empty state: migrate it as opening the store does (once, under
                # the migration lock, whichever process comes first).
                from .postgres_store import PostgresStore

                PostgresStore(self._url).close()
        except BaseException:
            db.close()
            raise
        self._db = db
        return db

    def update(self, key: str, step: Callable[[RateRecord | None], tuple[RateRecord, T]]) -> T:
        psycopg = self._psycopg
        with self._lock:
            try:
                db = self._connect()
                with db.transaction():
                    row = db.execute(_LOCK_ROW, (key,)).fetchone()
                    if row is None:
                        # The first use of this key anywhere: make the row, then lock it like
                        # any other (a racing first use waits on the inserted key, then finds
                        # the row the winner committed).
                        db.execute(
                            "INSERT INTO rate_limits (key, state) VALUES (%s, '{}')"
                            " ON CONFLICT (key) DO NOTHING",
                            (key,),
                        )
                        row = db.execute(_LOCK_ROW, (key,)).fetchone()
                    current: RateRecord | None = (row[0] if row is not None else None) or None
                    record, result = step(current)
                    if record != current:
                        db.execute(
                            "UPDATE rate_limits SET state = %s, updated_at = now() WHERE key = %s",
                            (self._jsonb(record), key),
                        )
            except psycopg.Error as exc:
                self._drop()
                message = " ".join(str(exc).split()) or type(exc).__name__
                for secret in self._secrets:
                    message = message.replace(secret, "***")
                raise StateStoreUnavailableError(
                    f"shared rate limits: {message}", state=self.state
                ) from None
            self.updates += 1
            return result

    def _drop(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(self._psycopg.Error):  # already gone
                db.close()

    def close(self) -> None:
        """Close the connection (the next update opens another)."""
        with self._lock:
            self._drop()
