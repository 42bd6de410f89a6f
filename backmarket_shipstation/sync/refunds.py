"""Refunds sent exactly once, also across a killed run: :func:`refund_orderline`.

``POST /ws/sav/refund`` is not idempotent and Back Market has no idempotency key: a second
call is a second refund. So a refund goes through the write journal
(:mod:`backmarket_shipstation.sync.journal`) under the key ``refund:<orderline id>``:

1. the order is read; the line's state gives ``refund_type`` (1 → 4, 2 → 5, 3 → 6);
2. ``pending`` is recorded, then the refund is sent; ``done`` once Back Market answered 201;
   refused outright (400, 404, a 429 or the client's budget: nothing took effect) the record
   is deleted, so it may be asked again;
3. a ``pending`` record left by a run that died with the refund in flight is settled by
   re-reading the order: a full refund moved the line to 4, 5 or 6 (then it is recorded
   ``done`` and not sent again), or the line is still refundable in its old state (then it
   did not happen and is sent). A partial refund leaves a shipped line in state 3, so Back
   Market shows no trace of it through this API (INFERRED from the documentation): such a
   refund in doubt is never resent automatically; :class:`RefundInDoubtError` asks a person
   to look in the Back Office and to say ``settle="done"`` or ``settle="resend"``.

A second refund of the same line on purpose (two partial refunds) needs its own
``reference``; without one, asking again reports the first as ``already_done``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import attrs

from .._http import DEFAULT_CLOCK
from ..backmarket.care import (
    RefundType,
    refund_amount_text,
    refund_took_effect,
    refund_type_for,
)
from ..backmarket.client import BackMarketClient
from ..backmarket.models import Order, OrderLine
from ..clock import Clock
from ..errors import (
    AccountBusyError,
    BudgetExhaustedError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    RefundError,
    RefundInDoubtError,
)
from .journal import WriteJournal, refund_key
from .store import SyncStore, WriteRecord

__all__ = ["RefundOutcome", "RefundStatus", "refund_orderline"]

RefundStatus = Literal["refunded", "already_done", "confirmed", "planned"]
"""``refunded``: sent now and accepted. ``already_done``: an earlier run's refund, recorded
done. ``confirmed``: an earlier run's refund in doubt, found done on Back Market (or settled
``done`` by the caller). ``planned``: a dry run; nothing was sent."""


@attrs.frozen(kw_only=True)
class RefundOutcome:
    """What :func:`refund_orderline` did for one line."""

    account: str
    order_id: int
    orderline_id: int
    sku: str | None
    refund_type: RefundType | None
    """``None`` when an earlier run's record does not say (``already_done``)."""
    amount: Decimal | None
    """The partial amount; ``None`` for a full refund."""
    status: RefundStatus
    summary: str | None
    """Back Market's ``text/plain`` answer, e.g. ``99€ refunded on the sku 123456``."""
    journal_key: str


def _source(kind: RefundType, amount: Decimal | None) -> str:
    # The record says what was asked, so that a later run can settle it (and a person read it).
    return f"refund type {int(kind)} " + (refund_amount_text(amount) if amount else "full")


def _from_source(source: str) -> tuple[RefundType | None, Decimal | None, bool]:
    """(type, amount, partial) of a recorded refund; (None, None, True) when unreadable."""
    parts = source.split()
    if len(parts) == 4 and parts[:2] == ["refund", "type"] and parts[2].isdigit():
        kind = RefundType(int(parts[2]))
        if parts[3] == "full":
            return kind, None, False
        try:
            return kind, Decimal(parts[3]), True
        except ArithmeticError:
            pass
    return None, None, True


def _pick_line(order: Order, orderline_id: int | None, sku: str | None) -> OrderLine:
    if (orderline_id is None) == (sku is None):
        raise ValueError("name the line to refund: its orderline id or its SKU (one of them)")
    if orderline_id is not None:
        for line in order.lines:
            if line.id == orderline_id:
                return line
        raise RefundError(
            f"orderline {orderline_id} is not in this order",
            order_id=order.order_id,
            orderline_id=orderline_id,
        )
    assert sku is not None
    lines = [x for x in order.lines if (x.listing or "").lower() == sku.lower()]
    if len(lines) != 1:
        found = "no line" if not lines else f"{len(lines)} lines"
        raise RefundError(
            f"{found} with SKU {sku!r}: name the orderline id instead", order_id=order.order_id
        )
    return lines[0]


def refund_orderline(
    bm: BackMarketClient,
    store: SyncStore,
    *,
    account: str,
    order_id: int,
    orderline_id: int | None = None,
    sku: str | None = None,
    amount: Decimal | None = None,
    reference: str | None = None,
    clock: Clock | None = None,
    dry_run: bool = False,
    settle: Literal["done", "resend"] | None = None,
) -> RefundOutcome:
    """Refund one line of a Back Market order, at most once (see the module text).

    ``amount`` (a :class:`~decimal.Decimal`) makes it a partial refund, only for a shipped
    line; without it the line is refunded in full. ``dry_run`` reads the order and says what
    would be sent. ``settle`` resolves a partial refund an earlier run left in doubt, after a
    person checked the Back Office: ``"done"`` records it, ``"resend"`` sends it again.

    Raises :class:`~backmarket_shipstation.errors.RefundError` when the line cannot be
    refunded (unknown, ambiguous SKU, wrong state, amount above the line's price),
    :class:`~backmarket_shipstation.errors.RefundInDoubtError` for a refund in doubt,
    :class:`~backmarket_shipstation.errors.AccountBusyError` when another run holds the
    account (for more than 30 seconds) or recorded this refund first, and the client's
    errors; a refusal by Back Market leaves nothing recorded.
    """
    journal = WriteJournal(
        account=account, backmarket=bm, store=store, clock=clock or DEFAULT_CLOCK, dry_run=dry_run
    )
    # The account's lease, as a sync run holds it: no other run refunds (or ships) this
    # account's orders meanwhile, and the refund's claim is one atomic step.
    with journal.holding():
        order = bm.orders.get(order_id)
        line = _pick_line(order, orderline_id, sku)
        key = refund_key(line.id, reference)
        previous = store.get_write(account, order_id, key)

        def outcome(
            status: RefundStatus,
            kind: RefundType | None,
            asked: Decimal | None,
            summary: str | None = None,
        ) -> RefundOutcome:
            return RefundOutcome(
                account=account,
                order_id=order_id,
                orderline_id=line.id,
                sku=line.listing,
                refund_type=kind,
                amount=asked,
                status=status,
                summary=summary,
                journal_key=key,
            )

        if previous is not None and previous.status == "done":
            kind, asked, _ = _from_source(previous.source)
            return outcome("already_done", kind, asked, previous.source)
        if previous is not None and not dry_run:
            settled = _settle_pending(journal, previous, order, line, settle)
            if settled is not None:
                return outcome("confirmed", settled[0], settled[1])
        try:
            kind = refund_type_for(line.state)
        except ValueError as exc:
            raise RefundError(str(exc), order_id=order_id, orderline_id=line.id) from None
        if amount is not None:
            if not isinstance(amount, Decimal):
                raise TypeError("give the refund amount as a Decimal (money is never a float)")
            if kind is not RefundType.AFTER_SHIPPING:
                raise RefundError(
                    "a partial amount is only for a shipped line (state 3); this one is in state "
                    f"{int(line.state or 0)} and can only be refunded in full",
                    order_id=order_id,
                    orderline_id=line.id,
                )
            ceiling = (line.price or Decimal(0)) * (line.quantity or 1)
            if line.price is not None and amount > ceiling:
                raise RefundError(
                    f"amount {amount} is more than the line's price {ceiling}",
                    order_id=order_id,
                    orderline_id=line.id,
                )
        if dry_run:
            return outcome("planned", kind, amount)
        claim = journal.new_record(order_id, key, "pending", _source(kind, amount))
        if not journal.lease.claim(claim, replacing=previous):
            # Another run recorded this refund between our look and our claim: not ours to send.
            raise AccountBusyError(account, held_by=None)
        try:
            receipt = bm.care.refund(line.id, kind, amount=amount, order_id=order_id)
        except (InvalidRequestError, NotFoundError, RateLimitedError, BudgetExhaustedError):
            # Refused (or never sent): no refund happened, so it may be asked again later.
            with store.transaction():
                store.delete_write(account, order_id, key, claimant=journal.lease.holder)
            raise
        # Any other error (a timeout, a 5xx after the retries) leaves the record pending: the
        # next call re-reads the order before deciding.
        journal.record(order_id, key, "done", _source(kind, amount))
        return outcome("refunded", kind, amount, receipt.summary)


def _settle_pending(
    journal: WriteJournal,
    previous: WriteRecord,
    order: Order,
    line: OrderLine,
    settle: Literal["done", "resend"] | None,
) -> tuple[RefundType | None, Decimal | None] | None:
    """A refund an earlier run left in flight: (type, amount) if it is done now, or None to
    send it (it did not happen, or the caller says to resend)."""
    kind, asked, partial = _from_source(previous.source)
    if settle == "done":
        journal.record(order.order_id, previous.key, "done", previous.source)
        return kind, asked
    if settle == "resend":
        return None
    if not partial and kind is not None and refund_took_effect(order, line.id, kind, None):
        journal.record(order.order_id, previous.key, "done", previous.source)
        return kind, asked
    if not partial and kind is not None and line.state is not None:
        try:
            still_refundable = refund_type_for(line.state) is kind
        except ValueError:
            still_refundable = False
        if still_refundable:
            return None  # the line is as before: the refund never reached Back Market
    raise RefundInDoubtError(
        f"a refund ({previous.source}) was in flight when an earlier run stopped, and the "
        "order does not show whether it happened: check the Back Office, then settle it "
        "as done or resend it",
        order_id=order.order_id,
        orderline_id=line.id,
    )
