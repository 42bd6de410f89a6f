"""shipnotify: a ``<ShipNotice>`` reported to Back Market exactly once, whatever is retried.

ShipStation retries a failed shipnotify hourly and the XML carries no notification id
(shipstation-custom-store.md §1.4, gotcha 4); an order split in ShipStation sends one notice
per shipment, each with its own items (gotcha 6). So every notice runs the Back Market write
plan (:func:`~backmarket_shipstation.mapping.to_backmarket_updates`) through the sync
engine's write journal (:class:`~backmarket_shipstation.sync.journal.WriteJournal`): each
write has a key (``2:<sku>``, ``ship``, ``identifiers:<orderline>``), recorded ``pending``
before it is sent and ``done`` after, so

- the same notice again, or another with the same tracking number and carrier, finds every
  write done and sends nothing;
- the second notice of a split finds ``ship`` done and sends only its own lines' IMEIs;
- a notice whose IMEI is missing or invalid sends nothing and is recorded as a failure
  (stage ``shipnotify``, shown by ``backmarket-shipstation status``); a corrected notice
  later runs the same plan, sends it and clears the failure;
- a server killed mid-write leaves a ``pending`` record: the retried notice re-reads the
  order and sends the write only if Back Market does not show it (``took_effect``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

import attrs

from ..backmarket.client import BackMarketClient
from ..backmarket.models import BackMarketWrite, OrderLineState, OrderUpdate
from ..backmarket.models import Order as BackMarketOrder
from ..clock import Clock
from ..errors import (
    AccountBusyError,
    APIConnectionError,
    BackMarketShipStationError,
    InvalidRequestError,
    MappingError,
    RateLimitedError,
    ServerError,
)
from ..mapping import (
    DEFAULT_CARRIER_MAP,
    CarrierMap,
    IdentifiableLine,
    ShipmentNotification,
    ShippedLine,
    device_lines,
    to_backmarket_updates,
)
from ..sync.journal import WriteJournal, as_before_ship, took_effect, write_key
from ..sync.report import AccountReport
from ..sync.store import SyncStore
from .feed import ExportFeed
from .protocol import ShipNotice, notice_lines, to_notification

__all__ = ["SHIPNOTIFY_STAGE", "NoticeHandler", "NoticeOutcome", "NotifyOptions"]

logger = logging.getLogger("backmarket_shipstation.customstore")

SHIPNOTIFY_STAGE = "shipnotify"
"""The failure stage of a notice that could not be reported (``backmarket-shipstation status``)."""


@attrs.frozen(kw_only=True)
class NotifyOptions:
    """How notices become Back Market writes: the V1 notify loop's settings."""

    carrier_map: CarrierMap = DEFAULT_CARRIER_MAP
    requires_identifier: Callable[[IdentifiableLine], bool] = device_lines


@attrs.frozen(kw_only=True)
class NoticeOutcome:
    """What a notice did: the writes it sent (none for a repeat) or why it failed."""

    order_id: int | None
    writes_sent: int
    """Writes this notice ran through the journal (0 for a repeat; 0 on failure, when a
    write may still have gone out before it: the journal knows which)."""
    error: str | None = None
    """The typed error's class name when the notice failed (nothing was sent then)."""
    reason: str | None = None
    transient: bool = False
    """True when Back Market did not answer (network, 5xx, 429): worth retrying as is."""
    waiting_for: tuple[int, ...] = ()
    """A split's package noticed: the orderlines whose notices are still to come (nothing
    is sent to Back Market before every line to ship is noticed)."""
    known_order: bool = True
    """False when the order is not one this store exported (ShipStation gets a 400)."""

    @property
    def ok(self) -> bool:
        return self.error is None


class NoticeHandler:
    """Reports the notices of one account to Back Market (see the module docstring)."""

    def __init__(
        self,
        *,
        account: str,
        backmarket: BackMarketClient,
        store: SyncStore,
        feed: ExportFeed,
        clock: Clock,
        options: NotifyOptions = NotifyOptions(),
        write_lock: threading.Lock | None = None,
    ) -> None:
        self.account = account
        self.bm = backmarket
        self.store = store
        self.feed = feed
        self.clock = clock
        self.options = options
        self.journal = WriteJournal(
            account=account, backmarket=backmarket, store=store, clock=clock, dry_run=False
        )
        # Notices of one account run one at a time, and never beside the refresher's accepts
        # (give both the same lock): the journal's claim is a read then a write, which two
        # threads could interleave. (Several processes need the store's atomic claims; see
        # docs/guides/custom-store.md, "Deployment".)
        self._lock = write_lock or threading.Lock()

    def __repr__(self) -> str:
        return f"NoticeHandler(account={self.account!r})"

    def handle(self, notice: ShipNotice) -> NoticeOutcome:
        with self._lock:
            return self._handle(notice)

    def _handle(self, notice: ShipNotice) -> NoticeOutcome:
        number = notice.order_number.strip()
        order_id = int(number) if number.isascii() and number.isdigit() else None
        if order_id is None or self.feed.snapshot(self.account, order_id) is None:
            return NoticeOutcome(
                order_id=order_id,
                writes_sent=0,
                error="UnknownOrder",
                reason=f"order {number!r} was not exported by this store",
                known_order=False,
            )
        report = AccountReport(account=self.account, started_at=self.clock.now())
        source = f"shipnotify:{notice.tracking_number}"
        try:
            # Fresh: the plan depends on the line states, and a state POST repeated by
            # mistake is a real second write (mapping/plan.py).
            bm_order = self.bm.orders.get(order_id)
            lines = _lines(bm_order)
            notification = to_notification(
                notice,
                lines,
                carrier_map=self.options.carrier_map,
                currency=bm_order.currency,
                requires_identifier=self.options.requires_identifier,
            )
            shipped_now = {int(line.key) for line in notice_lines(notice, lines)}
            combined = self._combine_packages(bm_order, shipped_now, notification)
            if isinstance(combined, tuple):
                logger.info("order %s: package noticed, waiting for lines %s", order_id, combined)
                return NoticeOutcome(order_id=order_id, writes_sent=0, waiting_for=combined)
            # Across processes (a second server, a sync run on the same state): the
            # account's lease, held for this notice's writes.
            with self.journal.holding():
                writes = self._run(combined, bm_order, source, report)
                self._settle_leftovers(order_id)
        except BackMarketShipStationError as exc:
            reason = exc.detail if isinstance(exc, MappingError) else str(exc)
            logger.warning("shipnotify failed for order %s: %s", order_id, reason)
            with self.store.transaction():
                self.store.record_failure(
                    self.account, SHIPNOTIFY_STAGE, str(order_id), reason, self.clock.now()
                )
            return NoticeOutcome(
                order_id=order_id,
                writes_sent=0,
                error=type(exc).__name__,
                reason=reason,
                transient=isinstance(
                    exc, (APIConnectionError, ServerError, RateLimitedError, AccountBusyError)
                ),
            )
        with self.store.transaction():
            self.store.clear_failure(self.account, SHIPNOTIFY_STAGE, str(order_id))
        return NoticeOutcome(order_id=order_id, writes_sent=writes)

    def _run(
        self,
        notification: ShipmentNotification,
        bm_order: BackMarketOrder,
        source: str,
        report: AccountReport,
    ) -> int:
        """Send the writes not done yet; returns how many went out."""
        plan = self._plan(notification, bm_order)
        todo = [w for w in plan if not self._done(bm_order.order_id, w)]
        try:
            ours = self.journal.run_plan(bm_order, todo, source, report)
        except InvalidRequestError:
            # Refused: the order moved on Back Market since it was read. Read it again and
            # plan once more; what is already done is not repeated.
            fresh = self.bm.orders.get(bm_order.order_id)
            again = [
                w for w in self._plan(notification, fresh) if not self._done(fresh.order_id, w)
            ]
            ours = self.journal.run_plan(fresh, again, source, report)
            todo += again
        if not ours:
            # Another run has one of these writes in hand: ShipStation's retry of the notice
            # finds it done (and sends nothing), or sends what is still missing.
            raise AccountBusyError(self.account, held_by=None)
        return len(todo)

    def _combine_packages(
        self,
        bm_order: BackMarketOrder,
        shipped_now: set[int],
        notification: ShipmentNotification,
    ) -> ShipmentNotification | tuple[int, ...]:
        """The notification to report, or the lines still waiting for their package.

        Back Market ships an order in one write that covers every accepted line, with one
        tracking number (mapping/plan.py). A notice for part of the order (a split in
        ShipStation) is therefore kept until the notices cover every line to ship, as
        WooCommerce counts shipped quantities before completing an order (§1.4): shipping
        earlier would mark lines shipped whose IMEI Back Market may never get. Then one
        notification goes out: the first package's tracking number, each line's identifiers
        from its own notice.
        """
        order_id = bm_order.order_id
        to_ship = {
            line.id
            for line in bm_order.lines
            if line.state in (OrderLineState.PAID, OrderLineState.ACCEPTED)
        }
        packages = self.feed.packages(self.account, order_id)
        if not packages and to_ship <= shipped_now:
            return notification  # the whole order in one notice: the usual case
        self.feed.put_package(
            self.account,
            order_id,
            shipped_now,
            notification=json.dumps(notification.to_dict()),
            received_at=self.clock.now(),
        )
        packages = self.feed.packages(self.account, order_id)
        waiting = tuple(sorted(to_ship - set(packages)))
        if waiting:
            return waiting
        first = min(packages.values())
        base = ShipmentNotification.from_dict(json.loads(first[1]))
        identifiers = []
        for line_id, (_, raw) in sorted(packages.items()):
            package = ShipmentNotification.from_dict(json.loads(raw))
            found = package.identifiers_by_line.get(line_id)
            if found is not None:
                identifiers.append(found)
        quantities = {line.id: line.quantity or 1 for line in bm_order.lines}
        return attrs.evolve(
            base,
            identifiers=tuple(identifiers),
            # Every package's lines: together they cover the order (``waiting`` is empty).
            shipped_lines=tuple(
                ShippedLine(orderline_id=line_id, quantity=quantities.get(line_id, 1))
                for line_id in sorted(packages)
            ),
        )

    def _settle_leftovers(self, bm_order_id: int) -> None:
        """Record done the writes a killed server left pending whose effect Back Market shows.

        A PATCH delivered just before the process died is pending; once Back Market holds
        the identifier the plan no longer contains it, so nothing else would settle it. (The
        notify loop settles these with ``mark_notified``, which would also close the pending
        writes of a split's other notices: here each is checked on the order as read now.)
        """
        leftovers = [
            w for w in self.store.pending_writes(self.account) if w.bm_order_id == bm_order_id
        ]
        if not leftovers:
            return
        fresh = self.bm.orders.get(bm_order_id)
        holding = {str(line.id) for line in fresh.lines if line.imei or line.serial_number}
        shipped = took_effect(
            OrderUpdate(order_id=bm_order_id, new_state=OrderLineState.SHIPPED), fresh
        )
        for write in leftovers:
            kind, _, target = write.key.partition(":")
            if (kind == "identifiers" and target in holding) or (write.key == "ship" and shipped):
                self.journal.record(bm_order_id, write.key, "done", write.source)
        self.journal.load_leftovers()
        self.journal.settle_accepts(fresh)

    def _done(self, bm_order_id: int, write: BackMarketWrite) -> bool:
        return self.journal.is_done(bm_order_id, write_key(write))

    def _plan(
        self, notification: ShipmentNotification, bm_order: BackMarketOrder
    ) -> tuple[BackMarketWrite, ...]:
        """The plan; planned as of before our ship write when that went out already.

        The notify loop's rule (``NotifyLoop._plan``): once Back Market shows the order
        shipped it plans nothing, yet a split's later notice, or a server killed between the
        ship write and the identifier PATCHes, still has identifiers to register.
        """
        plan = to_backmarket_updates(notification, bm_order)
        if plan or not self.journal.was_sent(bm_order.order_id, "ship"):
            return plan
        return to_backmarket_updates(notification, as_before_ship(bm_order))


def _lines(bm_order: BackMarketOrder) -> tuple[IdentifiableLine, ...]:
    """The order's lines as the exported items were (``LineItemID`` = orderline id)."""
    return tuple(
        IdentifiableLine(
            key=str(line.id),
            sku=line.listing,
            quantity=line.quantity if line.quantity is not None else 1,
            name=line.product,
        )
        for line in bm_order.lines
    )
