"""The notify loop: ShipStation labels and mark-as-shipped records reported to Back Market.

List the labels (shipments) of the Back Market store and the mark-as-shipped fulfillments
created since the notify cursor (overlapping, de-duplicated), build the notification with
the IMEIs and serial numbers from the order's Internal Notes, and run the Back Market
write plan through the write journal (:mod:`.journal`). A BackShip order marked as shipped
(no ShipStation label) is reported with Back Market's label (``GET
/ws/shipping/v1/deliveries``). An order whose identifiers are missing or invalid is reported
and retried on the next run; nothing is sent for it, and it never holds the others back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime

from ..backmarket.models import BackMarketWrite
from ..backmarket.models import Order as BackMarketOrder
from ..errors import BackMarketShipStationError, InvalidRequestError
from ..mapping import ShipmentNotification, to_backmarket_updates, to_shipment_notification
from ..shipstation.models import Fulfillment, OrderStatus, Shipment
from ..shipstation.models import Order as ShipStationOrder
from ..shipstation.windows import pacific_window_start
from .context import LIST_PAGE, AccountContext, backmarket_id
from .journal import NOTIFIED, as_before_ship
from .report import AccountReport
from .store import OrderRecord

__all__ = ["NotifyLoop"]

_Todo = dict[int, tuple[OrderRecord, Shipment | Fulfillment]]
"""ShipStation order id → our record of it and the shipment to report."""


class NotifyLoop:
    """One run of the notify loop of one account (see the module docstring)."""

    def __init__(self, ctx: AccountContext) -> None:
        self.ctx = ctx

    def __repr__(self) -> str:
        return f"NotifyLoop(account={self.ctx.account!r})"

    def run(
        self,
        report: AccountReport,
        shipments: Iterable[Shipment | Fulfillment] | None = None,
    ) -> None:
        """Report the shipments polled since the cursor, or only ``shipments`` when given.

        With ``shipments`` (say, the labels a SHIP_NOTIFY webhook announced), the cursor stays
        where it is: the next poll still covers them, so a notification lost on the way is
        caught up, and one already sent is not sent again.
        """
        ctx = self.ctx
        started = ctx.clock.now()
        ctx.journal.load_leftovers()
        polling = shipments is None
        if shipments is None:
            shipments = self._shipped_since(ctx.since("notify", started), started)
        shipped: dict[int, Shipment | Fulfillment] = {}
        for shipped_record in shipments:
            order_id = shipped_record.order_id
            # A label wins over a mark-as-shipped record of the same order.
            if (
                order_id is not None
                and not shipped_record.voided
                and (isinstance(shipped_record, Shipment) or order_id not in shipped)
            ):
                shipped[order_id] = shipped_record
        window = len(shipped)
        todo = self._notifications_to_send(shipped)
        if polling:
            todo.update(self._retry_notifications(report))
        orders = self._shipstation_orders(todo, window)
        for count, (ss_order_id, (record, source)) in enumerate(sorted(todo.items())):
            ctx.progress_tick("notify", count)
            ss_order = orders.get(ss_order_id)
            if ss_order is None:
                ss_order = ctx.read_shipstation_order(
                    ss_order_id, record.bm_order_id, "notify", report
                )
                if ss_order is None:
                    continue
            self._notify(record, ss_order, source, report)
        if polling:
            ctx.advance("notify", started)

    def _shipped_since(self, since: datetime, until: datetime) -> Iterator[Shipment | Fulfillment]:
        """Labels of the store, then (if enabled) fulfillments, created since ``since``.

        ShipStation compares Pacific wall times (shipstation.md §1.4): across the night US
        clocks go back, the window starts at the first 01:00 so that a label of the second
        01:00-01:59 is not skipped (``shipstation.windows.pacific_window_start``). The labels
        seen twice are reported once: the journal's done records are the guard
        (``_notifications_to_send``).
        """
        ctx = self.ctx
        start = pacific_window_start(since, until)
        yield from ctx.ss.shipments.list(store_id=ctx.store_id, create_date_start=start)
        if ctx.options.notify_fulfillments:
            # Fulfillments cannot be filtered by store: orders that are not ours are skipped.
            yield from ctx.ss.fulfillments.list(create_date_start=start)

    def _notifications_to_send(self, shipped: Mapping[int, Shipment | Fulfillment]) -> _Todo:
        """Keep the shipments of our orders whose ship write is not done yet."""
        ctx = self.ctx
        todo: _Todo = {}
        for ss_order_id, source in shipped.items():
            bm_order_id = backmarket_id(source.order_number)
            record = None if bm_order_id is None else ctx.store.get_order(ctx.account, bm_order_id)
            if bm_order_id is not None and (record is None or record.ss_order_id is None):
                record = self._claim_shipped(bm_order_id, ss_order_id, source, record)
            if record is None or record.ss_order_id != ss_order_id:
                continue  # another store's order, or not imported by us
            if ctx.journal.is_done(record.bm_order_id, NOTIFIED):
                continue  # seen again through the overlap window
            todo[ss_order_id] = (record, source)
        return todo

    def _claim_shipped(
        self,
        bm_order_id: int,
        ss_order_id: int,
        source: Shipment | Fulfillment,
        record: OrderRecord | None,
    ) -> OrderRecord | None:
        """The record of one of our orders labelled in ShipStation whose id the store lacks.

        A run that dies after ShipStation created the order and before its id was stored
        leaves no record (see ``ImportLoop._claim_locked``, which the next import runs). A
        label carries the ``orderKey``, which proves the order is ours, so it is claimed here
        at no cost, even in a run whose import did not get that far. A mark-as-shipped record
        has no ``orderKey``: such an order is found by the import.
        """
        ctx = self.ctx
        if getattr(source, "order_key", None) != ctx.order_key(bm_order_id):
            return record
        claimed = OrderRecord(
            account=ctx.account,
            bm_order_id=bm_order_id,
            order_key=ctx.order_key(bm_order_id),
            ss_order_id=ss_order_id,
            digest=record.digest if record is not None else "",
            ss_status=str(OrderStatus.SHIPPED),
            updated_at=ctx.clock.now(),
            bm_snapshot=record.bm_snapshot if record is not None else None,
        )
        if not ctx.dry_run:
            with ctx.writing():
                ctx.store.put_order(claimed)
        return claimed

    def _retry_notifications(self, report: AccountReport) -> _Todo:
        """Orders that failed to notify before: look up their shipment again."""
        ctx = self.ctx
        todo: _Todo = {}
        for ref in ctx.failed_refs("notify"):
            record = ctx.store.get_order(ctx.account, int(ref))
            if record is None or record.ss_order_id is None:
                ctx.clear_failure("notify", int(ref))
                continue
            try:
                source = self._shipment_of(record.ss_order_id)
            except BackMarketShipStationError as exc:
                ctx.fail(report, "notify", record.bm_order_id, exc)
                continue
            if source is not None:
                todo[record.ss_order_id] = (record, source)
        return todo

    def _shipment_of(self, ss_order_id: int) -> Shipment | Fulfillment | None:
        ss = self.ctx.ss
        for shipment in ss.shipments.list(order_id=ss_order_id):
            if not shipment.voided:
                return shipment
        for fulfillment in ss.fulfillments.list(order_id=ss_order_id):
            if not fulfillment.voided:
                return fulfillment
        return None

    def _shipstation_orders(self, todo: _Todo, window: int) -> dict[int, ShipStationOrder]:
        """The ShipStation orders to notify, read in bulk when that takes fewer calls."""
        ctx = self.ctx
        if not todo:
            return {}
        bulk_calls = max(1, -(-window // LIST_PAGE))
        if len(todo) <= bulk_calls:
            return {}  # read one by one: fewer calls
        since = min(
            (source.create_date for _, source in todo.values() if source.create_date),
            default=None,
        )
        found: dict[int, ShipStationOrder] = {}
        for order in ctx.ss.orders.list(
            store_id=ctx.store_id,
            order_status=OrderStatus.SHIPPED,
            modify_date_start=(
                pacific_window_start(since - ctx.options.overlap, ctx.clock.now())
                if since
                else None
            ),
            page_size=LIST_PAGE,
        ):
            if order.order_id is not None and order.order_id in todo:
                found[order.order_id] = order
        return found

    def _notify(
        self,
        record: OrderRecord,
        ss_order: ShipStationOrder,
        source: Shipment | Fulfillment,
        report: AccountReport,
    ) -> None:
        ctx = self.ctx
        bm_order_id = record.bm_order_id
        try:
            bm_order = ctx.backmarket_order(record, report)
            if bm_order is None:
                return
            notification = to_shipment_notification(
                ss_order,
                source,
                carrier_map=ctx.options.carrier_map,
                currency=bm_order.currency,
                requires_identifier=ctx.options.requires_identifier,
                # Marked as shipped without a label: Back Market's own label went out.
                backship=ctx.backship_label(bm_order),
            )
            try:
                plan = self._plan(notification, bm_order)
            except BackMarketShipStationError:
                if record.bm_snapshot is None:
                    raise
                # The stored copy may be stale: plan again from a fresh read.
                bm_order = ctx.bm.orders.get(bm_order_id)
                plan = self._plan(notification, bm_order)
            source_name = (
                f"shipment:{notification.shipment_id}"
                if notification.shipment_id is not None
                else f"fulfillment:{notification.fulfillment_id}"
            )
            if not plan:
                if self._mark_shipped(record, bm_order, source_name):
                    report.skipped += 1
                return
            try:
                ours = ctx.journal.run_plan(bm_order, plan, source_name, report)
            except InvalidRequestError:
                # Refused: the order moved on Back Market since it was read. Read it again
                # and plan once more; what is already done is not repeated.
                fresh = ctx.bm.orders.get(bm_order_id)
                ours = ctx.journal.run_plan(
                    fresh, self._plan(notification, fresh), source_name, report
                )
        except BackMarketShipStationError as exc:
            ctx.fail(report, "notify", bm_order_id, exc)
            return
        if not ours:
            return  # another run has this shipment in hand: it reports it, not this one
        if not ctx.dry_run:
            with ctx.writing():
                ctx.store.clear_failure(ctx.account, "notify", str(bm_order_id))
            if not ctx.journal.mark_notified(bm_order_id, source_name):
                return  # another run reported it first and counted it
        report.notified += 1

    def _plan(
        self, notification: ShipmentNotification, bm_order: BackMarketOrder
    ) -> tuple[BackMarketWrite, ...]:
        """The writes still to make; the identifier PATCHes too once our ship write went out.

        The plan ships first, then sets each line's identifiers. When a run dies between the
        two, Back Market already shows the order shipped and plans nothing more; so an order
        we shipped (or were shipping) is planned again as of before its ship write, whose
        record makes the journal skip it, leaving the identifiers still missing.
        """
        plan = to_backmarket_updates(notification, bm_order)
        if plan or not self.ctx.journal.was_sent(bm_order.order_id, "ship"):
            return plan
        return to_backmarket_updates(notification, as_before_ship(bm_order))

    def _mark_shipped(self, record: OrderRecord, bm_order: BackMarketOrder, source: str) -> bool:
        """Nothing left to write (Back Market already knows): never look at it again.

        ``False`` when another run marked it first (and counted it)."""
        ctx = self.ctx
        if ctx.dry_run:
            return True
        claimed = ctx.journal.mark_notified(record.bm_order_id, source)
        ctx.remember(record, bm_order)
        return claimed
