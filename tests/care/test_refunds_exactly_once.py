"""Refunds through the write journal: exactly once, also when a run is killed mid-refund.

A "killed run" is a process that dies (:class:`Killed`, not an Exception) at the refund
request: before it reached Back Market, or after Back Market applied it and before the
answer came back. The next run starts from the state file alone.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from care_support import Killed, KillingTransport, care_sandbox, client, line_in_state

from backmarket_shipstation.errors import (
    InvalidRequestError,
    RefundError,
    RefundInDoubtError,
)
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync import SQLiteStore
from backmarket_shipstation.sync.journal import WriteJournal, refund_key
from backmarket_shipstation.sync.refunds import refund_orderline

ACCOUNT = "main"


def _is_refund(request: object) -> bool:
    return getattr(request, "url").path == "/ws/sav/refund"  # noqa: B009


def _refund(sandbox: Sandbox, state: Path, order_id: int, line_id: int, **kwargs: object):  # type: ignore[no-untyped-def]
    transport = kwargs.pop("transport", None)
    with SQLiteStore(state) as store, client(sandbox, transport) as bm:  # type: ignore[arg-type]
        return refund_orderline(
            bm, store, account=ACCOUNT, order_id=order_id, orderline_id=line_id,
            clock=sandbox.clock, **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip


def _refunds_of(sandbox: Sandbox, line_id: int) -> int:
    return sum(1 for r in sandbox.backmarket.refunds if r["orderline_pk"] == line_id)


def test_a_refund_asked_twice_is_sent_once(tmp_path: Path) -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, 2)
    first = _refund(sandbox, tmp_path / "s.db", order_id, line["id"])
    second = _refund(sandbox, tmp_path / "s.db", order_id, line["id"])
    assert first.status == "refunded"
    assert first.summary
    assert first.refund_type == 5
    assert first.amount is None
    assert second.status == "already_done"
    assert _refunds_of(sandbox, line["id"]) == 1
    assert sandbox.counters.count(endpoint="POST /ws/sav/refund") == 1


@pytest.mark.parametrize("state", [1, 2, 3])
def test_killed_after_back_market_refunded_the_next_run_does_not_refund_again(
    tmp_path: Path, state: int
) -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, state)
    killer = KillingTransport(sandbox.backmarket_transport(), _is_refund, after_delivery=True)
    with pytest.raises(Killed):
        _refund(sandbox, tmp_path / "s.db", order_id, line["id"], transport=killer)
    assert _refunds_of(sandbox, line["id"]) == 1
    with SQLiteStore(tmp_path / "s.db") as store:
        record = store.get_write(ACCOUNT, order_id, refund_key(line["id"]))
    assert record is not None
    assert record.status == "pending"

    again = _refund(sandbox, tmp_path / "s.db", order_id, line["id"])
    assert again.status == "confirmed"
    assert _refunds_of(sandbox, line["id"]) == 1
    assert sandbox.counters.count(endpoint="POST /ws/sav/refund") == 1
    third = _refund(sandbox, tmp_path / "s.db", order_id, line["id"])
    assert third.status == "already_done"
    assert _refunds_of(sandbox, line["id"]) == 1


def test_killed_before_the_refund_left_the_next_run_sends_it_once(tmp_path: Path) -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, 2)
    killer = KillingTransport(sandbox.backmarket_transport(), _is_refund, after_delivery=False)
    with pytest.raises(Killed):
        _refund(sandbox, tmp_path / "s.db", order_id, line["id"], transport=killer)
    assert _refunds_of(sandbox, line["id"]) == 0
    again = _refund(sandbox, tmp_path / "s.db", order_id, line["id"])
    assert again.status == "refunded"
    assert _refunds_of(sandbox, line["id"]) == 1


def test_a_partial_refund_in_doubt_waits_for_a_person(tmp_path: Path) -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, 3)
    amount = Decimal("15.00")
    killer = KillingTransport(sandbox.backmarket_transport(), _is_refund, after_delivery=True)
    with pytest.raises(Killed):
        _refund(sandbox, tmp_path / "s.db", order_id, line["id"], amount=amount, transport=killer)
    for _ in range(2):  # however often it is asked again
        with pytest.raises(RefundInDoubtError) as doubt:
            _refund(sandbox, tmp_path / "s.db", order_id, line["id"], amount=amount)
        assert doubt.value.order_id == order_id
        assert doubt.value.orderline_id == line["id"]
    assert _refunds_of(sandbox, line["id"]) == 1
    # the person saw it in the Back Office
    settled = _refund(
        sandbox, tmp_path / "s.db", order_id, line["id"], amount=amount, settle="done"
    )
    assert settled.status == "confirmed"
    assert settled.amount == amount
    assert _refund(sandbox, tmp_path / "s.db", order_id, line["id"], amount=amount).status == (
        "already_done"
    )
    assert _refunds_of(sandbox, line["id"]) == 1


def test_a_partial_refund_in_doubt_can_be_resent_on_purpose(tmp_path: Path) -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, 3)
    killer = KillingTransport(sandbox.backmarket_transport(), _is_refund, after_delivery=False)
    with pytest.raises(Killed):
        _refund(
            sandbox, tmp_path / "s.db", order_id, line["id"], amount=Decimal("5"), transport=killer
        )
    resent = _refund(
        sandbox, tmp_path / "s.db", order_id, line["id"], amount=Decimal("5"), settle="resend"
    )
    assert resent.status == "refunded"
    assert _refunds_of(sandbox, line["id"]) == 1


def test_a_second_partial_refund_needs_its_own_reference(tmp_path: Path) -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, 3)
    state = tmp_path / "s.db"
    _refund(sandbox, state, order_id, line["id"], amount=Decimal("5"))
    assert _refund(sandbox, state, order_id, line["id"], amount=Decimal("5")).status == (
        "already_done"
    )
    second = _refund(sandbox, state, order_id, line["id"], amount=Decimal("7"), reference="r2")
    assert second.status == "refunded"
    assert [r["amount"] for r in sandbox.backmarket.refunds] == [Decimal("5"), Decimal("7")]


def test_what_cannot_be_refunded_is_refused_and_leaves_no_record(tmp_path: Path) -> None:
    sandbox = care_sandbox(folders=0)
    accepted_order, accepted = line_in_state(sandbox, 2)
    shipped_order, shipped = line_in_state(sandbox, 3)
    cancelled_order, cancelled = line_in_state(sandbox, 4)
    state = tmp_path / "s.db"
    with pytest.raises(RefundError, match="state 2"):
        _refund(sandbox, state, accepted_order, accepted["id"], amount=Decimal("5"))
    with pytest.raises(RefundError, match="cannot be refunded"):
        _refund(sandbox, state, cancelled_order, cancelled["id"])
    with pytest.raises(RefundError, match="more than"):
        _refund(sandbox, state, shipped_order, shipped["id"], amount=Decimal("99999"))
    with pytest.raises(RefundError, match="not in this order"):
        _refund(sandbox, state, shipped_order, accepted["id"])
    with SQLiteStore(state) as store:
        assert store.pending_writes(ACCOUNT) == []
    assert sandbox.backmarket.refunds == []


def test_a_refusal_by_back_market_deletes_the_pending_record(tmp_path: Path) -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, 2)
    state = tmp_path / "s.db"
    # Back Market moves the line on between our read and our refund: refused with a 400.
    real = sandbox.backmarket_transport()

    class Racing(KillingTransport):
        def handle_request(self, request):  # type: ignore[no-untyped-def]
            if _is_refund(request) and not self.killed:
                self.killed = True
                sandbox.backmarket.set_line_state(order_id, line["id"], 3)
            return self.inner.handle_request(request)

    with pytest.raises(InvalidRequestError):
        _refund(
            sandbox,
            state,
            order_id,
            line["id"],
            transport=Racing(real, _is_refund, after_delivery=False),
        )
    with SQLiteStore(state) as store:
        assert store.get_write(ACCOUNT, order_id, refund_key(line["id"])) is None
    assert sandbox.backmarket.refunds == []


def test_a_dry_run_sends_nothing(tmp_path: Path) -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, 3)
    planned = _refund(sandbox, tmp_path / "s.db", order_id, line["id"], dry_run=True)
    assert planned.status == "planned"
    assert planned.refund_type == 6
    assert sandbox.backmarket.refunds == []


def test_a_finished_shipment_does_not_settle_a_refund_in_doubt(tmp_path: Path) -> None:
    sandbox = care_sandbox(folders=0)
    with SQLiteStore(tmp_path / "s.db") as store, client(sandbox) as bm:
        journal = WriteJournal(
            account=ACCOUNT, backmarket=bm, store=store, clock=sandbox.clock, dry_run=False
        )
        with journal.holding():  # the journal writes under the account's lease
            journal.record(41, refund_key(7), "pending", "refund type 6 5.00")
            journal.record(41, "ship", "pending", "shipment:1")
            journal.load_leftovers()
            journal.mark_notified(41, "shipment:1")
        assert store.get_write(ACCOUNT, 41, "ship").status == "done"  # type: ignore[union-attr]
        assert store.get_write(ACCOUNT, 41, refund_key(7)).status == "pending"  # type: ignore[union-attr]
