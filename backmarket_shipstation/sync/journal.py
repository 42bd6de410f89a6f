"""The Back Market write journal: every write sent at most once, and never lost.

Back Market's state POSTs and orderline PATCHes are not idempotent (a second ship POST is a
real second write, and an IMEI cannot be corrected once registered: backmarket.md §10.20), so
every write goes through :class:`WriteJournal`:

1. a write is recorded ``pending`` (under a key that names what it does: ``ship``,
   ``identifiers:<orderline>``, ``2:<sku>`` for an accept) before it is sent;
2. it is recorded ``done`` once Back Market answered with success; a write refused outright
   (400, 404) did not take effect and its record is deleted, so it may be planned again;
3. a ``pending`` record found by a later run means a run died with that write in flight:
   the order is read again and the write is sent only if its effect is missing
   (:func:`took_effect`).

A whole shipment reported (the ship write and every identifier) is marked by the
:data:`NOTIFIED` record, so the overlapping polling windows never report it twice.
Refunds (``POST /ws/sav/refund``, :mod:`backmarket_shipstation.sync.refunds`) are journalled
the same way under :func:`refund_key`; a shipment's records never settle them.
These rules live here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ..backmarket.client import BackMarketClient
from ..backmarket.models import (
    BackMarketWrite,
    OrderlineIdentifiersUpdate,
    OrderLineState,
    OrderState,
    OrderUpdate,
)
from ..backmarket.models import Order as BackMarketOrder
from ..clock import Clock
from ..errors import InvalidRequestError, NotFoundError
from .report import AccountReport
from .store import SyncStore, WriteRecord, WriteStatus

__all__ = [
    "NOTIFIED",
    "REFUND_PREFIX",
    "WriteJournal",
    "as_before_ship",
    "describe_write",
    "refund_key",
    "took_effect",
    "write_key",
]

NOTIFIED = "notified"
"""Write-record key marking a shipment fully reported (ship write and every identifier)."""

REFUND_PREFIX = "refund:"
"""Write-record keys of refunds start so: ``refund:<orderline id>[:<reference>]``."""


class WriteJournal:
    """The write records of one account: claims, ``pending``/``done``, crash recovery."""

    def __init__(
        self,
        *,
        account: str,
        backmarket: BackMarketClient,
        store: SyncStore,
        clock: Clock,
        dry_run: bool,
    ) -> None:
        self.account = account
        self.bm = backmarket
        self.store = store
        self.clock = clock
        self.dry_run = dry_run
        self._leftovers: dict[int, list[WriteRecord]] = {}
        """Writes a crashed run left ``pending``, by order: settled once the order is seen."""

    def __repr__(self) -> str:
        return f"WriteJournal(account={self.account!r})"

    def is_done(self, bm_order_id: int, key: str) -> bool:
        record = self.store.get_write(self.account, bm_order_id, key)
        return record is not None and record.status == "done"

    def was_sent(self, bm_order_id: int, key: str) -> bool:
        """A record exists (``pending`` or ``done``): the write went out or may have."""
        return self.store.get_write(self.account, bm_order_id, key) is not None

    def send(
        self, bm_order_id: int, write: BackMarketWrite, source: str, report: AccountReport
    ) -> None:
        """Send one Back Market write between a ``pending`` and a ``done`` record."""
        key = write_key(write)
        if self.dry_run:
            report.planned_writes.append(f"backmarket {describe_write(write)}")
            return
        self.record(bm_order_id, key, "pending", source)
        try:
            self.bm.send(write)
        except (InvalidRequestError, NotFoundError):
            # Refused outright: it did not take effect, so it may be sent again later.
            with self.store.transaction():
                self.store.delete_write(self.account, bm_order_id, key)
            raise
        # Other errors (timeouts, 5xx after retries) leave the record pending: the next run
        # re-reads the order before deciding.
        self.record(bm_order_id, key, "done", source)

    def run_plan(
        self,
        bm_order: BackMarketOrder,
        plan: Iterable[BackMarketWrite],
        source: str,
        report: AccountReport,
    ) -> None:
        """Send the writes of ``plan`` not done yet; a ``pending`` one only if it is missing."""
        fresh: BackMarketOrder | None = None
        for write in plan:
            key = write_key(write)
            previous = self.store.get_write(self.account, bm_order.order_id, key)
            if previous is not None and previous.status == "done":
                continue
            if previous is not None and previous.status == "pending" and not self.dry_run:
                # A run died while this write was in flight: did it take effect?
                fresh = fresh or self.bm.orders.get(bm_order.order_id)
                if took_effect(write, fresh):
                    self.record(bm_order.order_id, key, "done", source)
                    continue
            self.send(bm_order.order_id, write, source, report)

    def record(self, bm_order_id: int, key: str, status: WriteStatus, source: str) -> None:
        with self.store.transaction():
            self.store.put_write(
                WriteRecord(
                    account=self.account,
                    bm_order_id=bm_order_id,
                    key=key,
                    status=status,
                    source=source,
                    updated_at=self.clock.now(),
                )
            )

    def load_leftovers(self) -> None:
        """Read the writes earlier runs left ``pending``, once per loop."""
        self._leftovers = {}
        for write in self.store.pending_writes(self.account):
            self._leftovers.setdefault(write.bm_order_id, []).append(write)

    def settle_accepts(self, bm_order: BackMarketOrder) -> None:
        """A pending accept whose SKU has no paid line left took effect: record it done.

        A run that died after an accept was delivered leaves it ``pending``; the next run
        no longer plans it (the line is accepted), so nothing else would ever settle it.
        """
        leftovers = self._leftovers.get(bm_order.order_id)
        if not leftovers or self.dry_run:
            return
        paid = {
            write_key(OrderUpdate(order_id=0, new_state=OrderLineState.ACCEPTED, sku=line.listing))
            for line in bm_order.lines
            if line.state is OrderLineState.PAID and line.listing
        }
        for write in list(leftovers):
            if write.key.startswith(f"{int(OrderLineState.ACCEPTED)}:") and write.key not in paid:
                self.record(bm_order.order_id, write.key, "done", write.source)
                leftovers.remove(write)

    def mark_notified(self, bm_order_id: int, source: str) -> None:
        """The whole shipment is reported: writes a crashed run left pending are moot."""
        self.record(bm_order_id, NOTIFIED, "done", source)
        for write in self._leftovers.pop(bm_order_id, ()):
            # A refund in doubt is not part of the shipment: only a re-read settles it.
            if write.key != NOTIFIED and not write.key.startswith(REFUND_PREFIX):
                self.record(bm_order_id, write.key, "done", write.source)


def write_key(write: BackMarketWrite) -> str:
    """The journal key of a write: what it does, so that the same write has the same key."""
    if isinstance(write, OrderlineIdentifiersUpdate):
        return f"identifiers:{write.orderline_id}"
    if write.new_state is OrderLineState.SHIPPED:
        return "ship"
    return f"{int(write.new_state)}:{write.sku or ''}"


def refund_key(orderline_id: int, reference: str | None = None) -> str:
    """The journal key of a refund of one line; a ``reference`` tells a deliberate second
    (partial) refund of the same line from a repeat of the first."""
    key = f"{REFUND_PREFIX}{int(orderline_id)}"
    return f"{key}:{reference}" if reference else key


def describe_write(write: BackMarketWrite) -> str:
    """The request a write makes, for dry-run reports."""
    if isinstance(write, OrderlineIdentifiersUpdate):
        return f"PATCH /ws/orderlines/{write.orderline_id} {write.identifiers.to_dict()}"
    body = write.to_dict()
    return f"POST /ws/orders/{write.order_id} {body}"


def as_before_ship(bm_order: BackMarketOrder) -> BackMarketOrder:
    """The order as it was before its ship write: shipped lines back to accepted."""
    lines = tuple(
        attrs.evolve(line, state=OrderLineState.ACCEPTED)
        if line.state is OrderLineState.SHIPPED
        else line
        for line in bm_order.lines
    )
    return attrs.evolve(bm_order, state=OrderState.TO_SHIP, orderlines=lines)


def took_effect(write: BackMarketWrite, order: BackMarketOrder) -> bool:
    """Does the order as read now show the write's effect?"""
    if isinstance(write, OrderlineIdentifiersUpdate):
        wanted = write.identifiers
        return any(
            line.id == write.orderline_id
            and (wanted.imei is None or line.imei == wanted.imei)
            and (wanted.serial_number is None or line.serial_number == wanted.serial_number)
            for line in order.lines
        )
    if write.new_state is OrderLineState.SHIPPED:
        states = [line.state for line in order.lines]
        return OrderLineState.ACCEPTED not in states and OrderLineState.SHIPPED in states
    return not any(
        line.listing == write.sku and line.state is OrderLineState.PAID for line in order.lines
    )
