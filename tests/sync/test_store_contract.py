"""The SyncStore contract, one suite run on every store: SQLite and a real PostgreSQL server.

Every test is what the engine relies on when it resumes a run, whatever store holds its
state: what was written reads back the same (instants, big order ids, JSON snapshots), a
transaction commits whole or not at all, a second process sees only what was committed, and
concurrent runs do not lose each other's updates. The PostgreSQL cases need a server
(``postgres_url`` in tests/conftest.py): locally they skip when none can be started.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from backmarket_shipstation.sync.state import CopyableStore, open_store
from backmarket_shipstation.sync.store import OrderRecord, RunRecord, WriteRecord

T0 = datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=timezone.utc)
PARIS = timezone(timedelta(hours=1))

Opener = Callable[[], CopyableStore]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The state setting of a new, empty state on each store."""
    if request.param == "sqlite":
        return str(tmp_path / "state.sqlite3")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def opener(state: str) -> Iterator[Opener]:
    """Opens the state again, as another process would (its own connection)."""
    opened: list[CopyableStore] = []

    def open_again() -> CopyableStore:
        store = open_store(state)
        opened.append(store)
        return store

    yield open_again
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Opener) -> CopyableStore:
    return opener()


def order(account: str = "eu", bm_order_id: int = 1, **changes: object) -> OrderRecord:
    fields: dict[str, object] = {
        "account": account,
        "bm_order_id": bm_order_id,
        "order_key": f"bm-{account}-{bm_order_id}",
        "ss_order_id": 900 + bm_order_id,
        "digest": "d1",
        "ss_status": "awaiting_shipment",
        "updated_at": T0,
        "bm_snapshot": None,
    }
    fields.update(changes)
    return OrderRecord(**fields)  # type: ignore[arg-type]


def write(
    bm_order_id: int = 1, key: str = "ship", status: str = "pending", account: str = "eu"
) -> WriteRecord:
    return WriteRecord(
        account=account,
        bm_order_id=bm_order_id,
        key=key,
        status=status,  # type: ignore[arg-type]
        source="shipment:77",
        updated_at=T0,
    )


# --- a new state ------------------------------------------------------------------------


def test_a_new_state_holds_nothing(store: CopyableStore) -> None:
    assert store.accounts() == []
    assert store.get_cursor("eu", "import") is None
    assert store.get_order("eu", 1) is None
    assert store.get_write("eu", 1, "ship") is None
    assert store.open_orders("eu") == []
    assert store.pending_writes("eu") == []
    assert store.failures() == []


def test_reopening_a_state_keeps_it(store: CopyableStore, opener: Opener) -> None:
    store.set_cursor("eu", "import", T0)
    store.put_order(order())
    store.close()
    again = opener()
    assert again.get_cursor("eu", "import") == T0
    assert again.get_order("eu", 1) == order()


# --- cursors ----------------------------------------------------------------------------


def test_a_cursor_is_the_same_instant_to_the_microsecond(store: CopyableStore) -> None:
    in_paris = datetime(2026, 3, 2, 9, 30, 15, 654321, tzinfo=PARIS)
    store.set_cursor("eu", "notify", in_paris)
    read = store.get_cursor("eu", "notify")
    assert read == in_paris
    assert read is not None
    assert read.utcoffset() == timedelta(0)


def test_setting_a_cursor_again_moves_it(store: CopyableStore) -> None:
    store.set_cursor("eu", "import", T0)
    store.set_cursor("eu", "import", T0 - timedelta(hours=1))
    assert store.get_cursor("eu", "import") == T0 - timedelta(hours=1)
    assert store.get_cursor("eu", "notify") is None
    assert store.get_cursor("us", "import") is None


def test_a_naive_datetime_is_refused(store: CopyableStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.set_cursor("eu", "import", datetime(2026, 3, 2, 8, 0))
    assert store.get_cursor("eu", "import") is None


# --- orders -----------------------------------------------------------------------------


def test_an_order_reads_back_as_written(store: CopyableStore) -> None:
    snapshot = '{"order_id": 1, "shipping_address": {"city": "Zürich"}, "note": "☎ \\u00e9"}'
    record = order(bm_order_id=3_000_000_001, ss_order_id=None, bm_snapshot=snapshot)
    store.put_order(record)
    assert store.get_order("eu", 3_000_000_001) == record


def test_an_order_id_beyond_32_bits_is_kept(store: CopyableStore) -> None:
    big = order(bm_order_id=2**40 + 7, ss_order_id=2**41 + 3)
    store.put_order(big)
    assert store.get_order("eu", 2**40 + 7) == big


def test_putting_an_order_again_replaces_every_field(store: CopyableStore) -> None:
    store.put_order(order(bm_snapshot='{"a": 1}'))
    changed = order(
        ss_order_id=4242,
        digest="d2",
        ss_status="shipped",
        updated_at=T0 + timedelta(minutes=5),
        bm_snapshot=None,
        order_key="bm-eu-1-b",
    )
    store.put_order(changed)
    assert store.get_order("eu", 1) == changed


def test_open_orders_are_those_that_can_still_change_in_id_order(store: CopyableStore) -> None:
    statuses = {
        5: "awaiting_shipment",
        2: "awaiting_payment",
        9: "on_hold",
        4: "shipped",
        7: "cancelled",
    }
    for bm_order_id, status in statuses.items():
        store.put_order(order(bm_order_id=bm_order_id, ss_status=status))
    store.put_order(order(account="us", bm_order_id=1))
    assert [r.bm_order_id for r in store.open_orders("eu")] == [2, 5, 9]
    assert [r.bm_order_id for r in store.open_orders("us")] == [1]


def test_accounts_are_kept_apart(store: CopyableStore) -> None:
    store.put_order(order(account="eu", bm_order_id=1, digest="eu"))
    store.put_order(order(account="us", bm_order_id=1, digest="us"))
    eu, us = store.get_order("eu", 1), store.get_order("us", 1)
    assert eu is not None
    assert eu.digest == "eu"
    assert us is not None
    assert us.digest == "us"


# --- writes -----------------------------------------------------------------------------


def test_a_write_goes_from_pending_to_done(store: CopyableStore) -> None:
    store.put_write(write(status="pending"))
    assert store.pending_writes("eu") == [write(status="pending")]
    store.put_write(write(status="done"))
    assert store.get_write("eu", 1, "ship") == write(status="done")
    assert store.pending_writes("eu") == []


def test_a_refused_write_is_forgotten(store: CopyableStore) -> None:
    store.put_write(write(key="identifiers:5"))
    store.put_write(write(key="ship"))
    store.delete_write("eu", 1, "identifiers:5")
    assert store.get_write("eu", 1, "identifiers:5") is None
    assert store.get_write("eu", 1, "ship") == write(key="ship")


def test_pending_writes_come_in_order_and_key_order(store: CopyableStore) -> None:
    for bm_order_id, key in [(3, "ship"), (1, "ship"), (1, "2:SKU-B"), (2, "ship")]:
        store.put_write(write(bm_order_id=bm_order_id, key=key))
    store.put_write(write(bm_order_id=4, status="done"))
    store.put_write(write(bm_order_id=5, account="us"))
    found = [(w.bm_order_id, w.key) for w in store.pending_writes("eu")]
    assert found == [(1, "2:SKU-B"), (1, "ship"), (2, "ship"), (3, "ship")]


# --- failures ---------------------------------------------------------------------------


def test_a_failure_seen_again_counts_its_attempts(store: CopyableStore) -> None:
    store.record_failure("eu", "import", "17", "no ship-to address", T0)
    store.record_failure("eu", "import", "17", "invalid IMEI", T0 + timedelta(hours=1))
    (failure,) = store.failures("eu")
    assert (failure.stage, failure.ref, failure.reason) == ("import", "17", "invalid IMEI")
    assert failure.attempts == 2
    assert failure.first_seen == T0
    assert failure.last_seen == T0 + timedelta(hours=1)


def test_a_cleared_failure_is_gone_and_only_it(store: CopyableStore) -> None:
    store.record_failure("eu", "import", "17", "r", T0)
    store.record_failure("eu", "notify", "17", "r", T0)
    store.record_failure("us", "import", "17", "r", T0)
    store.clear_failure("eu", "import", "17")
    assert [(f.account, f.stage) for f in store.failures()] == [("eu", "notify"), ("us", "import")]
    assert [(f.account, f.stage) for f in store.failures("us")] == [("us", "import")]


def test_a_failures_error_class_is_kept_and_tells_a_missing_imei(store: CopyableStore) -> None:
    store.record_failure("eu", "notify", "17", "no IMEI", T0, error="MissingIdentifierError")
    store.record_failure("eu", "import", "18", "no ship-to", T0, error="MissingShipToAddressError")
    store.record_failure("eu", "import", "19", "from an earlier release", T0)
    by_ref = {f.ref: f for f in store.failures("eu")}
    assert by_ref["17"].error == "MissingIdentifierError"
    assert by_ref["17"].missing_identifier
    assert not by_ref["18"].missing_identifier
    assert by_ref["19"].error is None
    # Seen again with another error: the latest error is the one to fix.
    store.record_failure("eu", "import", "18", "bad IMEI", T0, error="InvalidIMEIError")
    assert {f.ref: f.error for f in store.failures("eu")}["18"] == "InvalidIMEIError"


def test_every_kind_of_record_makes_an_account_known(store: CopyableStore) -> None:
    store.set_cursor("c", "import", T0)
    store.put_order(order(account="a"))
    store.put_write(write(account="d"))
    store.record_failure("b", "import", "1", "r", T0)
    store.record_run(run(account="e"))
    assert store.accounts() == ["a", "b", "c", "d", "e"]


# --- runs -------------------------------------------------------------------------------


def run(account: str = "eu", **changes: object) -> RunRecord:
    fields: dict[str, object] = {
        "account": account,
        "started_at": T0,
        "finished_at": T0 + timedelta(seconds=42, microseconds=5),
        "host": "worker-3",
        "pid": 4242,
        "imported": 12,
        "accepted": 9,
        "notified": 30,
        "failed": 2,
        "warnings": 1,
        "stopped": (),
    }
    fields.update(changes)
    return RunRecord(**fields)  # type: ignore[arg-type]


def test_an_accounts_last_run_reads_back_and_the_next_one_replaces_it(
    store: CopyableStore, opener: Opener
) -> None:
    assert store.last_run("eu") is None
    store.record_run(run())
    assert store.last_run("eu") == run()
    assert store.last_run("eu") is not None
    assert run().outcome == "failed"
    later = run(started_at=T0 + timedelta(hours=1), finished_at=T0 + timedelta(hours=1, seconds=3),
                failed=0, stopped=("notify",), host="worker-1", pid=7)  # fmt: skip
    store.record_run(later)
    store.record_run(run(account="us", failed=0))
    again = opener()  # another process sees it
    assert again.last_run("eu") == later
    assert later.outcome == "stopped"
    assert again.last_run("us") is not None
    assert again.last_run("us").outcome == "ok"  # type: ignore[union-attr]
    assert [r.account for r in again.all_runs()] == ["eu", "us"]


def test_a_run_an_error_stopped_keeps_the_error(store: CopyableStore, opener: Opener) -> None:
    store.record_run(run())
    refused = run(
        started_at=T0 + timedelta(hours=1),
        finished_at=T0 + timedelta(hours=1, seconds=1),
        imported=0, accepted=0, notified=0, failed=0, warnings=0,
        error="credentials refused: 401 Unauthorized on GET /ws/orders",
    )  # fmt: skip
    store.record_run(refused)
    assert refused.outcome == "error"
    assert opener().last_run("eu") == refused
    # The next run that goes well clears it.
    store.record_run(run(started_at=T0 + timedelta(hours=2), failed=0))
    again = opener().last_run("eu")
    assert again is not None
    assert (again.error, again.outcome) == (None, "ok")


# --- transactions -----------------------------------------------------------------------


class Boom(Exception):
    pass


def test_a_transaction_that_fails_leaves_nothing(store: CopyableStore) -> None:
    store.put_write(write(bm_order_id=1, status="pending"))

    def step() -> None:
        with store.transaction():
            store.put_write(write(bm_order_id=1, status="done"))
            store.put_order(order())
            store.set_cursor("eu", "notify", T0)
            with store.transaction():  # nested: part of the outer one
                store.record_failure("eu", "notify", "1", "r", T0)
            raise Boom

    with pytest.raises(Boom):
        step()
    assert store.get_write("eu", 1, "ship") == write(status="pending")
    assert store.get_order("eu", 1) is None
    assert store.get_cursor("eu", "notify") is None
    assert store.failures() == []


def test_another_process_sees_a_transaction_only_once_committed(
    store: CopyableStore, opener: Opener
) -> None:
    other = opener()
    with store.transaction():
        store.put_order(order())
        store.put_write(write())
        assert other.get_order("eu", 1) is None
        assert other.pending_writes("eu") == []
    assert other.get_order("eu", 1) == order()
    assert other.pending_writes("eu") == [write()]


def test_concurrent_runs_lose_no_failure_attempt(opener: Opener) -> None:
    runs, each = 4, 15
    stores = [opener() for _ in range(runs)]
    errors: list[BaseException] = []

    def run(store: CopyableStore) -> None:
        try:
            for _ in range(each):
                with store.transaction():
                    store.record_failure("eu", "notify", "9", "down", T0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    (failure,) = stores[0].failures()
    assert failure.attempts == runs * each


# --- the whole state, for copies --------------------------------------------------------


def test_the_whole_state_reads_back(store: CopyableStore) -> None:
    store.set_cursor("eu", "import", T0)
    store.set_cursor("eu", "notify", T0 + timedelta(seconds=1))
    store.put_order(order(bm_order_id=2, ss_status="shipped"))
    store.put_order(order(bm_order_id=1))
    store.put_write(write(bm_order_id=1, status="done"))
    store.put_write(write(bm_order_id=2, status="pending"))
    assert store.all_cursors() == [
        ("eu", "import", T0),
        ("eu", "notify", T0 + timedelta(seconds=1)),
    ]
    assert [o.bm_order_id for o in store.all_orders()] == [1, 2]
    assert store.all_writes() == [write(1, status="done"), write(2, status="pending")]


def test_a_restored_failure_keeps_its_history(store: CopyableStore) -> None:
    store.record_failure("eu", "import", "5", "r", T0)
    (failure,) = store.failures()
    later = type(failure)(
        account="eu",
        stage="import",
        ref="5",
        reason="r2",
        attempts=7,
        first_seen=T0 - timedelta(days=3),
        last_seen=T0,
        error="MissingIdentifierError",
    )
    store.restore_failure(later)
    assert store.failures() == [later]
