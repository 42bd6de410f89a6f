"""What only the PostgreSQL store has: schema versions, a lost connection, copies to and fro.

The contract both stores share is in test_store_contract.py; these need a real server
(``postgres_url``), and skip locally when none can be started.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from backmarket_shipstation.errors import (
    ConfigurationError,
    StateStoreError,
    StateStoreUnavailableError,
)
from backmarket_shipstation.sync import postgres_store
from backmarket_shipstation.sync.postgres_store import MIGRATIONS, SCHEMA_VERSION, PostgresStore
from backmarket_shipstation.sync.state import (
    copy_state,
    describe_state,
    is_postgres,
    open_store,
    sqlite_path,
)
from backmarket_shipstation.sync.store import RunRecord, SQLiteStore

from .test_store_contract import T0, order, write

try:
    import psycopg
except ImportError:  # the cases that need it take postgres_url, which says so and skips
    psycopg = None  # type: ignore[assignment]


def with_password(url: str, password: str = "s3cr3t-Pa55") -> str:
    """The same URL with a password (trust authentication ignores it)."""
    return url.replace("postgresql://bmss@", f"postgresql://bmss:{password}@", 1)


def terminate(store: PostgresStore, admin_url: str) -> None:
    """The server ends the store's session, as a restart or a lost network would."""
    pid = store._db.info.backend_pid
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def schema_rows(url: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as db:
        rows = db.execute(
            "SELECT version FROM backmarket_shipstation.schema_version ORDER BY version"
        ).fetchall()
    return [int(row[0]) for row in rows]


# --- which store a state setting names, and how it is shown -----------------------------


@pytest.mark.parametrize(
    ("setting", "postgres"),
    [
        ("postgresql://u:p@db.example/state", True),
        ("postgres://u@db/state", True),
        ("  PostgreSQL://db/state", True),
        ("state.sqlite3", False),
        ("sqlite:///state.sqlite3", False),
        ("/var/lib/postgresql-backup/state.sqlite3", False),
    ],
)
def test_the_setting_picks_the_store(setting: str, postgres: bool) -> None:
    assert is_postgres(setting) is postgres


def test_sqlite_urls_name_files_as_sqlalchemy_does() -> None:
    assert sqlite_path("sqlite:///state.sqlite3") == "state.sqlite3"
    assert sqlite_path("sqlite:////var/lib/bmss/state.sqlite3") == "/var/lib/bmss/state.sqlite3"
    assert sqlite_path("plain/path.sqlite3") == "plain/path.sqlite3"
    with pytest.raises(ConfigurationError, match="names no file"):
        sqlite_path("sqlite:///")


@pytest.mark.parametrize(
    ("setting", "shown"),
    [
        ("postgresql://sync:hunter2@db:5432/bm", "postgresql://sync:***@db:5432/bm"),
        ("postgresql://sync@db/bm", "postgresql://sync@db/bm"),
        (
            "postgresql://db/bm?sslmode=require&password=hunter2",
            "postgresql://db/bm?sslmode=require&password=***",
        ),
        ("postgresql://a:b%40c@db/bm", "postgresql://a:***@db/bm"),
        ("state.sqlite3", "state.sqlite3"),
    ],
)
def test_a_password_is_never_shown(setting: str, shown: str) -> None:
    assert describe_state(setting) == shown
    assert "hunter2" not in describe_state(setting)


def test_a_refused_connection_is_typed_and_names_no_password(postgres_server: object) -> None:
    # Nothing listens on port 1 of loopback: refused at once.
    url = "postgresql://sync:hunter2@127.0.0.1:1/state?connect_timeout=3"
    with pytest.raises(StateStoreUnavailableError) as caught:
        PostgresStore(url)
    assert "hunter2" not in str(caught.value)
    assert "sync:***@127.0.0.1:1" in str(caught.value)
    assert caught.value.__cause__ is None


def test_repr_masks_the_password(postgres_url: str) -> None:
    with PostgresStore(with_password(postgres_url)) as store:
        assert "s3cr3t" not in repr(store)
        assert ":***@" in repr(store)


# --- schema versions ----------------------------------------------------------------------


def make_schema_at(url: str, version: int) -> None:
    """A database as an older release left it: migrations 1..``version`` only."""
    with psycopg.connect(url, autocommit=True) as db, db.transaction():
        db.execute("CREATE SCHEMA backmarket_shipstation")
        db.execute("SET search_path TO backmarket_shipstation")
        db.execute(
            "CREATE TABLE schema_version ("
            " version INTEGER PRIMARY KEY, migrated_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        for number in range(1, version + 1):
            db.execute(MIGRATIONS[number - 1])
            db.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))


def test_a_new_database_gets_every_migration_once(postgres_url: str) -> None:
    with PostgresStore(postgres_url) as store:
        assert store.found_version == 0
        assert store.schema_version() == SCHEMA_VERSION
    with PostgresStore(postgres_url) as again:
        assert again.found_version == SCHEMA_VERSION
    assert schema_rows(postgres_url) == list(range(1, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("previous", range(SCHEMA_VERSION))
def test_a_database_of_an_older_version_is_upgraded_with_its_state(
    postgres_url: str, previous: int
) -> None:
    make_schema_at(postgres_url, previous)
    if previous >= 1:
        # What a version-1 release wrote, in its own SQL (its tables exist in every version).
        with psycopg.connect(postgres_url, autocommit=True) as db:
            db.execute("SET search_path TO backmarket_shipstation")
            db.execute(
                "INSERT INTO writes (account, bm_order_id, key, status, source, updated_at)"
                " VALUES ('eu', 1, 'ship', 'pending', 'shipment:77', %s)",
                (T0,),
            )
            db.execute("INSERT INTO cursors VALUES ('eu', 'import', %s)", (T0,))
    with PostgresStore(postgres_url) as store:
        assert store.found_version == previous
        assert store.schema_version() == SCHEMA_VERSION
        if previous >= 1:
            # Left by a run from before leases: no claimant, so a run now may take it over.
            assert store.pending_writes("eu") == [write()]
            assert store.get_cursor("eu", "import") == T0
            lease = store.acquire_lease(
                "eu", "run-a", host="h", pid=1, ttl=timedelta(minutes=1), now=T0
            )
            assert lease is not None
            assert store.claim_write(write(), lease, T0, replacing=write())
            claimed = store.get_write("eu", 1, "ship")
            assert claimed is not None
            assert claimed.claimant == "run-a"
        store.put_order(order())
        assert store.get_order("eu", 1) == order()
    assert schema_rows(postgres_url) == list(range(1, SCHEMA_VERSION + 1))


def test_a_reader_refuses_an_old_schema_and_names_the_command(postgres_url: str) -> None:
    make_schema_at(postgres_url, SCHEMA_VERSION - 1)
    with pytest.raises(StateStoreError, match=r"state migrate|nothing synced yet"):
        PostgresStore(postgres_url, read_only=True)
    assert schema_rows(postgres_url) == list(range(1, SCHEMA_VERSION))


def test_a_database_from_a_newer_release_is_refused(postgres_url: str) -> None:
    PostgresStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(
            "INSERT INTO backmarket_shipstation.schema_version (version) VALUES (%s)",
            (SCHEMA_VERSION + 1,),
        )
    with pytest.raises(StateStoreError, match="newer backmarket-shipstation"):
        PostgresStore(postgres_url)
    with pytest.raises(StateStoreError, match="newer backmarket-shipstation"):
        PostgresStore(postgres_url, read_only=True)


def test_a_failed_upgrade_leaves_the_previous_version_whole(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    PostgresStore(postgres_url).close()
    broken = "CREATE TABLE half_done (account TEXT PRIMARY KEY); SELECT * FROM no_such_table;"
    monkeypatch.setattr(postgres_store, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(postgres_store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StateStoreError, match="no_such_table"):
        PostgresStore(postgres_url)
    assert schema_rows(postgres_url) == list(range(1, SCHEMA_VERSION + 1))
    with psycopg.connect(postgres_url, autocommit=True) as db:
        row = db.execute("SELECT to_regclass('backmarket_shipstation.half_done')").fetchone()
    assert row == (None,), "the half of the migration that worked was rolled back"


def test_hosts_starting_at_once_migrate_once(postgres_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        try:
            barrier.wait()
            PostgresStore(postgres_url).close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert schema_rows(postgres_url) == list(range(1, SCHEMA_VERSION + 1))


def test_the_store_keeps_to_its_own_schema(postgres_url: str) -> None:
    # Another application's "orders" table in the same database is not ours to touch.
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE TABLE public.orders (id INTEGER)")
        db.execute("INSERT INTO public.orders VALUES (42)")
    with PostgresStore(postgres_url) as store:
        store.put_order(order())
    with psycopg.connect(postgres_url, autocommit=True) as db:
        assert db.execute("SELECT id FROM public.orders").fetchall() == [(42,)]


# --- a lost connection ---------------------------------------------------------------------


def test_a_lost_connection_is_a_typed_error_and_the_open_step_is_not_kept(
    postgres_url: str,
) -> None:
    store = PostgresStore(with_password(postgres_url))
    store.put_write(write(status="pending"))

    def step() -> None:
        with store.transaction():
            store.put_write(write(status="done"))
            store.put_order(order())
            terminate(store, postgres_url)
            store.set_cursor("eu", "notify", T0)

    with pytest.raises(StateStoreUnavailableError) as caught:
        step()
    assert "s3cr3t" not in str(caught.value)
    assert "next run resumes" in str(caught.value)
    with pytest.raises(StateStoreUnavailableError):
        store.get_write("eu", 1, "ship")
    store.close()
    with PostgresStore(postgres_url) as next_run:
        assert next_run.get_write("eu", 1, "ship") == write(status="pending")
        assert next_run.get_order("eu", 1) is None
        assert next_run.get_cursor("eu", "notify") is None


def test_a_sync_that_loses_its_state_mid_notify_stops_and_the_next_run_sends_nothing_twice(
    postgres_url: str, make_world: Callable[..., Any]
) -> None:
    world = make_world(orders=12, seed=3, state=postgres_url)
    world.sync()
    world.pack()
    ships = 0

    def lose_the_state_at_the_second_ship_write(sent: Any) -> bool:
        nonlocal ships
        if sent.api == "backmarket" and sent.method == "POST" and sent.body.get("new_state") == 3:
            ships += 1
            if ships == 2:
                terminate(world.store, postgres_url)
        return False  # the process lives on: only its database connection died

    world.wire.crash_when = lose_the_state_at_the_second_ship_write
    lost = world.sync()
    (account,) = lost.accounts
    assert account.error is not None
    assert account.error.error == "StateStoreUnavailableError"
    assert lost.exit_code == 3, "an outage: the next run resumes"
    # The ship write in flight went out, its "done" record did not: it is left pending.
    world.restart()
    assert [w.key for w in world.store.pending_writes("sandbox")] == ["ship"]
    world.clock.advance(timedelta(minutes=5).total_seconds())
    report = world.sync()
    assert report.exit_code == 0
    posts = world.wire.ship_posts()
    shipped = {o for o in world.ids_in_state(1, 3) if world.bm_order(o)["state"] == 9}
    assert shipped, "the scenario ships orders"
    assert set(posts) == shipped
    assert all(count == 1 for count in posts.values()), posts
    assert world.store.pending_writes("sandbox") == []


# --- copies between stores ------------------------------------------------------------------


def fill(store: Any) -> None:
    """A state mid-life: cursors, open and closed orders, pending and done writes, failures."""
    store.set_cursor("eu", "import", T0)
    store.set_cursor("eu", "notify", T0 - timedelta(minutes=10))
    store.set_cursor("us", "import", T0 + timedelta(microseconds=7))
    store.put_order(order(bm_order_id=1, bm_snapshot='{"order_id": 1, "city": "Zürich"}'))
    store.put_order(order(bm_order_id=2**40, ss_status="shipped", ss_order_id=None))
    store.put_order(order(account="us", bm_order_id=3))
    # In flight when its run died: its claimant's lease is gone, the next run settles it.
    store.put_write(attrs.evolve(write(bm_order_id=1, key="ship"), claimant="web1:41:dead"))
    store.put_write(write(bm_order_id=1, key="identifiers:11", status="done"))
    store.put_write(write(bm_order_id=2**40, key="notified", status="done"))
    store.put_write(write(account="us", bm_order_id=3, key="2:SKU-A", status="pending"))
    store.record_failure("eu", "import", "5", "no ship-to address", T0 - timedelta(days=1))
    store.record_failure("eu", "import", "5", "no ship-to address", T0)
    store.record_failure("us", "notify", "3", "invalid IMEI", T0, error="InvalidIMEIError")
    store.record_run(
        RunRecord(
            account="us", started_at=T0, finished_at=T0 + timedelta(seconds=9), host="web1",
            pid=41, imported=3, notified=1, failed=1, stopped=("import",),
        )
    )  # fmt: skip


def everything(store: Any) -> tuple[Any, ...]:
    return (
        store.accounts(),
        store.all_cursors(),
        list(store.all_orders()),
        store.all_writes(),
        store.failures(),
        store.all_runs(),
    )


def test_a_state_goes_to_postgresql_and_back_whole(postgres_url: str, tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "before.sqlite3") as original:
        fill(original)
        expected = everything(original)
    with (
        open_store(str(tmp_path / "before.sqlite3"), read_only=True) as source,
        open_store(postgres_url) as target,
    ):
        result = copy_state(source, target, target_name=postgres_url)
        assert everything(target) == expected
    assert (result.accounts, result.cursors, result.orders) == (2, 3, 3)
    assert (result.writes, result.pending, result.failures) == (4, 2, 2)
    after = f"sqlite:///{tmp_path / 'after.sqlite3'}"
    with open_store(postgres_url, read_only=True) as source, open_store(after) as target:
        copy_state(source, target, target_name=after)
    with open_store(after, read_only=True) as back:
        assert everything(back) == expected
        assert [(w.key, w.claimant) for w in back.pending_writes("eu")] == [
            ("ship", "web1:41:dead")
        ]
        (failure, _) = back.failures()
        assert failure.attempts == 2
        assert failure.first_seen == T0 - timedelta(days=1)


def test_a_copy_never_overwrites_a_state(postgres_url: str, tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "source.sqlite3") as source:
        fill(source)
    with PostgresStore(postgres_url) as target:
        target.record_failure("other", "import", "9", "r", T0)
    with (
        open_store(str(tmp_path / "source.sqlite3"), read_only=True) as source,
        open_store(with_password(postgres_url)) as target,
    ):
        with pytest.raises(StateStoreError, match="not empty") as caught:
            copy_state(source, target, target_name=with_password(postgres_url))
        assert "s3cr3t" not in str(caught.value)
        assert target.accounts() == ["other"]


def test_a_copy_that_fails_half_way_leaves_the_target_empty(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SQLiteStore(tmp_path / "source.sqlite3") as source:
        fill(source)
    with (
        open_store(str(tmp_path / "source.sqlite3"), read_only=True) as source,
        open_store(postgres_url) as target,
    ):

        def broken(*_: object) -> None:
            raise StateStoreUnavailableError("connection lost", state="test")

        monkeypatch.setattr(target, "restore_failure", broken)
        with pytest.raises(StateStoreUnavailableError):
            copy_state(source, target, target_name=postgres_url)
        assert target.accounts() == []
