"""The SQLite state store: persistence across connections, transactions, records."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from backmarket_shipstation.sync.store import OrderRecord, RunRecord, SQLiteStore, WriteRecord

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store() -> Iterator[SQLiteStore]:
    with SQLiteStore(":memory:") as opened:
        yield opened


def _order(bm_order_id: int, status: str = "awaiting_shipment") -> OrderRecord:
    return OrderRecord(
        account="eu",
        bm_order_id=bm_order_id,
        order_key=f"backmarket-eu-{bm_order_id}",
        ss_order_id=1000 + bm_order_id,
        digest="abc",
        ss_status=status,
        updated_at=T0,
    )


def test_state_survives_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with SQLiteStore(path) as store, store.transaction():
        store.set_cursor("eu", "import", T0)
        store.put_order(_order(1))
        store.put_write(
            WriteRecord(
                account="eu",
                bm_order_id=1,
                key="ship",
                status="pending",
                source="s:1",
                updated_at=T0,
            )
        )
    with SQLiteStore(path) as reopened:
        assert reopened.get_cursor("eu", "import") == T0
        assert reopened.get_cursor("us", "import") is None
        assert reopened.get_order("eu", 1) == _order(1)
        assert [w.key for w in reopened.pending_writes("eu")] == ["ship"]


def test_a_failed_step_leaves_nothing_behind(store: SQLiteStore) -> None:

    def step() -> None:
        with store.transaction():
            store.put_order(_order(1))
            store.set_cursor("eu", "import", T0)
            raise RuntimeError("crash in the middle of a step")

    with pytest.raises(RuntimeError):
        step()
    assert store.get_order("eu", 1) is None
    assert store.get_cursor("eu", "import") is None


def test_nested_transactions_commit_once_with_the_outermost(store: SQLiteStore) -> None:

    def step() -> None:
        with store.transaction():
            with store.transaction():
                store.put_order(_order(1))
            raise RuntimeError("outer step fails after the inner one finished")

    with pytest.raises(RuntimeError):
        step()
    assert store.get_order("eu", 1) is None


def test_upserts_replace_and_open_orders_filter_by_status(store: SQLiteStore) -> None:
    store.put_order(_order(1))
    store.put_order(_order(2, status="shipped"))
    store.put_order(_order(3, status="on_hold"))
    store.put_order(_order(1, status="cancelled"))
    assert [o.bm_order_id for o in store.open_orders("eu")] == [3]
    assert store.open_orders("us") == []


def test_writes_move_from_pending_to_done(store: SQLiteStore) -> None:
    pending = WriteRecord(
        account="eu",
        bm_order_id=7,
        key="accept:SKU-1",
        status="pending",
        source="import",
        updated_at=T0,
    )
    store.put_write(pending)
    store.put_write(WriteRecord(**{**_fields(pending), "status": "done"}))
    assert store.pending_writes("eu") == []
    done = store.get_write("eu", 7, "accept:SKU-1")
    assert done is not None
    assert done.status == "done"


def test_failures_count_attempts_and_clear(store: SQLiteStore) -> None:
    store.record_failure("eu", "notify", "42", "no IMEI for line 1", T0)
    store.record_failure("eu", "notify", "42", "IMEI fails the check digit", T0 + timedelta(1))
    store.record_failure("us", "import", "43", "no shipping address", T0)
    (failure,) = store.failures("eu")
    assert failure.attempts == 2
    assert failure.reason == "IMEI fails the check digit"
    assert failure.first_seen == T0
    assert len(store.failures()) == 2
    store.clear_failure("eu", "notify", "42")
    assert [f.ref for f in store.failures()] == ["43"]


def test_naive_datetimes_are_refused(store: SQLiteStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.set_cursor("eu", "import", datetime(2026, 1, 1))


def _fields(record: WriteRecord) -> dict[str, object]:
    return {
        "account": record.account,
        "bm_order_id": record.bm_order_id,
        "key": record.key,
        "status": record.status,
        "source": record.source,
        "updated_at": record.updated_at,
    }


def test_accounts_lists_every_account_with_state(store: SQLiteStore) -> None:
    assert store.accounts() == []
    store.set_cursor("us", "import", T0)
    store.put_order(_order(1))
    store.record_failure("ap", "notify", "9", "no IMEI", T0)
    assert store.accounts() == ["ap", "eu", "us"]


def test_a_state_file_from_before_run_records_is_read_then_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    SQLiteStore(path).close()
    old = sqlite3.connect(path)
    # As the release before left it: no runs table, failures without their error class.
    old.executescript(
        "DROP TABLE runs; DROP TABLE failures;"
        "CREATE TABLE failures (account TEXT NOT NULL, stage TEXT NOT NULL, ref TEXT NOT NULL,"
        " reason TEXT NOT NULL, attempts INTEGER NOT NULL, first_seen TEXT NOT NULL,"
        " last_seen TEXT NOT NULL, PRIMARY KEY (account, stage, ref));"
        "INSERT INTO failures VALUES ('eu', 'notify', '7', 'no IMEI', 2,"
        " '2026-03-01T12:00:00+00:00', '2026-03-01T13:00:00+00:00');"
    )
    old.commit()
    old.close()
    # status reads it as it is (this user may not be able to upgrade it).
    with SQLiteStore(path, read_only=True) as looking:
        assert [(f.ref, f.error) for f in looking.failures("eu")] == [("7", None)]
        assert looking.last_run("eu") is None
        assert looking.accounts() == ["eu"]
    with SQLiteStore(path) as upgraded:
        upgraded.record_failure("eu", "notify", "7", "no IMEI", T0, error="MissingIdentifierError")
        (failure,) = upgraded.failures("eu")
        assert (failure.attempts, failure.missing_identifier) == (3, True)
        upgraded.record_run(
            RunRecord(account="us", started_at=T0, finished_at=T0, host="h", pid=1, imported=4)
        )
        assert upgraded.accounts() == ["eu", "us"]
        assert upgraded.last_run("us") is not None
