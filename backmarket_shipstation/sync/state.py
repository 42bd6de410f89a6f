"""Which store a state setting names, how to show it without its password, and copying a state.

The state setting (``state_path`` in the configuration file, ``--state``,
``BACKMARKET_SHIPSTATION_STATE``) is one of:

- a file path, or ``sqlite:///relative/path`` / ``sqlite:////absolute/path`` (SQLAlchemy's
  spelling), or ``:memory:``: the embedded :class:`~.store.SQLiteStore`, the default;
- ``postgresql://user:password@host:port/dbname?sslmode=...`` (or ``postgres://``): a
  :class:`~.postgres_store.PostgresStore`, for several hosts sharing one state. It needs the
  ``postgres`` extra (psycopg 3).

The password of a PostgreSQL URL is never printed: :func:`describe_state` is what reprs,
logs, errors and ``config check`` show.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import attrs

from ..errors import ConfigurationError, StateStoreError
from .store import FailureRecord, OrderRecord, RunRecord, SQLiteStore, SyncStore, WriteRecord

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "CopyableStore",
    "CopyResult",
    "copy_state",
    "describe_state",
    "is_postgres",
    "open_store",
    "sqlite_path",
]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_SQLITE_SCHEME = "sqlite:///"
# libpq connection parameters that carry a secret (https://www.postgresql.org/docs/current/
# libpq-connect.html#LIBPQ-PARAMKEYWORDS).
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


class CopyableStore(SyncStore, Protocol):
    """A store that can be opened, closed, read in full and filled: what ``state copy`` needs."""

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def all_cursors(self) -> list[tuple[str, str, datetime]]:
        """Every cursor as ``(account, name, value)``."""
        ...

    def all_orders(self) -> Iterator[OrderRecord]:
        """Every order record, open or not."""
        ...

    def all_writes(self) -> list[WriteRecord]:
        """Every write record, ``pending`` or ``done``."""
        ...

    def restore_failure(self, record: FailureRecord) -> None:
        """Write a failure as it is (attempts and first sighting kept), for copies."""
        ...

    def all_runs(self) -> list[RunRecord]:
        """Every account's last run."""
        ...


def is_postgres(state: str) -> bool:
    """Does the state setting name a PostgreSQL database?"""
    return state.strip().lower().startswith(_POSTGRES_SCHEMES)


def sqlite_path(state: str) -> str:
    """The SQLite file of a state setting: a path, or a ``sqlite:///`` URL's path."""
    if state.lower().startswith(_SQLITE_SCHEME):
        path = state[len(_SQLITE_SCHEME) :]
        if not path:
            raise ConfigurationError(f"state {state!r} names no file (sqlite:///path/to/file)")
        return path
    return state


def describe_state(state: str) -> str:
    """The state setting as it may be shown: a PostgreSQL URL's password becomes ``***``."""
    if not is_postgres(state):
        return state
    try:
        parts = urlsplit(state.strip())
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostinfo = netloc.rpartition("@")
            user, has_password, _ = userinfo.partition(":")
            netloc = f"{user}:***@{hostinfo}" if has_password else netloc
        query = parts.query
        if query:
            pairs = [
                (key, "***" if key.lower() in _SECRET_PARAMETERS else value)
                for key, value in parse_qsl(query, keep_blank_values=True)
            ]
            query = urlencode(pairs, safe="*", quote_via=quote)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        # A URL too broken to take apart: show its scheme only, never what may be a secret.
        return state.split("://", 1)[0] + "://(unreadable URL)"


def open_store(
    state: str, *, read_only: bool = False, application_name: str = "backmarket-shipstation"
) -> CopyableStore:
    """Open the store a state setting names; a PostgreSQL schema is created or upgraded.

    ``read_only`` (``status``, the source of ``state copy``): SQLite opens the file read-only;
    PostgreSQL runs read-only transactions and does not migrate (a database whose schema is
    not the current one is refused with a :class:`~..errors.StateStoreError` naming
    ``state migrate``).
    """
    if is_postgres(state):
        from .postgres_store import PostgresStore

        return PostgresStore(state, read_only=read_only, application_name=application_name)
    path = sqlite_path(state)
    if read_only and path != ":memory:" and not Path(path).is_file():
        raise StateStoreError("no such state file (nothing synced yet?)", state=path)
    return SQLiteStore(path, read_only=read_only and path != ":memory:")


@attrs.frozen(kw_only=True)
class CopyResult:
    """What ``state copy`` moved."""

    accounts: int
    cursors: int
    orders: int
    writes: int
    pending: int
    """Of ``writes``, those ``pending``: the next run settles them as after a crash."""
    failures: int


def copy_state(source: CopyableStore, target: CopyableStore, *, target_name: str) -> CopyResult:
    """Copy every cursor, order, write (``pending`` ones too), failure and last run to an
    empty store.

    The target is filled in one transaction: a copy that fails half-way leaves it empty.
    A target that holds any state is refused (:class:`~..errors.StateStoreError`): merging
    two states could pair one Back Market order with two ShipStation orders.
    """
    with target.transaction():
        held = target.accounts()
        if held:
            raise StateStoreError(
                f"not empty (accounts {', '.join(held)}): copy into an empty state only",
                state=describe_state(target_name),
            )
        cursors = source.all_cursors()
        for account, name, value in cursors:
            target.set_cursor(account, name, value)
        orders = 0
        for order in source.all_orders():
            target.put_order(order)
            orders += 1
        writes = source.all_writes()
        for write in writes:
            target.put_write(write)
        failures = source.failures()
        for failure in failures:
            target.restore_failure(failure)
        for run in source.all_runs():
            target.record_run(run)
        accounts = len(target.accounts())
    return CopyResult(
        accounts=accounts,
        cursors=len(cursors),
        orders=orders,
        writes=len(writes),
        pending=sum(1 for w in writes if w.status == "pending"),
        failures=len(failures),
    )
