"""The notify loop: ShipStation labels and mark-as-shipped records reported to Back Market.

List the labels (shipments) of the Back Market store and the mark-as-shipped fulfillments
created since the notify cursor (overlapping, de-duplicated), gather them per Back Market
order, build the notification with the IMEIs and serial numbers from the Internal Notes, and
run the Back Market write plan through the write journal (:mod:`.journal`). A BackShip order
marked as shipped (no ShipStation label) is reported with Back Market's label (``GET
/ws/shipping/v1/deliveries``). An order whose identifiers are missing or invalid, or one of
whose lines is in no shipped ShipStation order, is reported and retried on the next run;
nothing is sent for it, and it never holds the others back.

Sellers edit orders in ShipStation (docs/guides/what-happens-when.md):

- **split orders**: a part split off an order is a ShipStation order of its own, numbered
  ``<id>-<n>`` with ``advancedOptions.parentId`` set (docs/api-notes/shipstation.md, "Split
  orders"). Its labels are gathered with the imported order's: the order is reported once
  every part is shipped, in one ship write (the earliest live label's tracking number) and
  one identifier write per line;
- **several labels** of one order: the same rule, the earliest live label is sent;
- **a label voided after the order was reported**: Back Market keeps the tracking number it
  holds (a shipped line's only next state is a refund: backmarket.md §3.3, §5.2), so the
  run reports a failure to fix by hand, once, saying what Back Market holds; a replacement
  label is not sent and is reported the same way;
- **an order labelled after the buyer cancelled it** on Back Market: nothing is written, and
  the run reports a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import attrs

from ..backmarket.models import BackMarketWrite, OrderLineState
from ..backmarket.models import Order as BackMarketOrder
from ..errors import BackMarketShipStationError, InvalidRequestError
from ..mapping import (
    ShipmentNotification,
    order_number_id,
    to_backmarket_updates,
    to_order_notification,
)
from ..shipstation.models import Fulfillment, OrderStatus, Shipment
from ..shipstation.models import Order as ShipStationOrder
from ..shipstation.windows import pacific_window_start
from .context import LIST_PAGE, AccountContext
from .journal import NOTIFIED, as_before_ship
from .report import AccountReport, Failure, ReportWarning
from .store import OrderRecord

__all__ = ["NotifyLoop"]

logger = logging.getLogger("backmarket_shipstation.sync")

Record = Shipment | Fulfillment
_Labels = dict[int, list[Record]]
"""ShipStation order id → its live labels (or mark-as-shipped records) seen."""

_NOT_SHIPPED_FINAL = frozenset(
    {
        OrderLineState.CANCELLED,
        OrderLineState.REFUNDED_BEFORE_SHIPPING,
        OrderLineState.NOT_PAID,
    }
)


@attrs.define
class _Job:
    """One Back Market order to report, and the labels of its ShipStation orders seen."""

    record: OrderRecord
    labels: _Labels = attrs.field(factory=dict)
    """Empty when the order is retried: its labels are looked up."""


class NotifyLoop:
    """One run of the notify loop of one account (see the module docstring)."""

    def __init__(self, ctx: AccountContext) -> None:
        self.ctx = ctx

    def __repr__(self) -> str:
        return f"NotifyLoop(account={self.ctx.account!r})"

    def run(
        self,
        report: AccountReport,
        shipments: Iterable[Record] | None = None,
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
        since = ctx.since("notify", started)
        covered = started
        """The instant up to which the polls saw everything: a poll shared with the other
        accounts of the key pair may be older than this run (:mod:`.shared`)."""
        if shipments is None:
            # Voids first: a replacement label is then named in its void's failure, once.
            covered = min(covered, self._voided_since(since, started, report))
            shipments, as_of = self._shipped_since(since, started)
            covered = min(covered, as_of)
        labels = _live_labels(shipments)
        window = len(labels)
        todo = self._jobs(labels, report)
        if polling:
            for bm_order_id, job in self._retry_notifications().items():
                todo.setdefault(bm_order_id, job)
        orders = self._shipstation_orders(todo, window)
        for count, (_, job) in enumerate(sorted(todo.items())):
            ctx.progress_tick("notify", count)
            self._notify(job, orders, report)
        if polling:
            # Never past what the polls saw: a label made after a shared poll is in the
            # next run's window.
            ctx.advance("notify", covered)

    def _shipped_since(self, since: datetime, until: datetime) -> tuple[list[Record], datetime]:
        """Labels of the store, then (if enabled) fulfillments, created since ``since``, and
        the instant they are as of (``until``, or an earlier poll's shared by the key pair).

        ShipStation compares Pacific wall times (shipstation.md §1.4): across the night US
        clocks go back, the window starts at the first 01:00 so that a label of the second
        01:00-01:59 is not skipped (``shipstation.windows.pacific_window_start``). The labels
        seen twice are reported once: the journal's done records are the guard (``_jobs``).
        """
        ctx = self.ctx
        start = pacific_window_start(since, until)
        share = ctx.share
        records: list[Record] = []
        as_of = until
        if share is not None:
            labels, as_of = share.shipments(ctx.ss, start, ctx.store_id)
            records.extend(labels)
        else:
            records.extend(ctx.ss.shipments.list(store_id=ctx.store_id, create_date_start=start))
        if ctx.options.notify_fulfillments:
            # Fulfillments cannot be filtered by store: orders that are not ours are skipped.
            if share is not None:
                marked, marked_as_of = share.fulfillments(ctx.ss, start)
                records.extend(marked)
                as_of = min(as_of, marked_as_of)
            else:
                records.extend(ctx.ss.fulfillments.list(create_date_start=start))
        return records, as_of

    def _jobs(self, labels: _Labels, report: AccountReport) -> dict[int, _Job]:
        """The Back Market orders of these labels whose report is not done yet."""
        ctx = self.ctx
        todo: dict[int, _Job] = {}
        for ss_order_id, records in labels.items():
            first = records[0]
            number = (first.order_number or "").strip()
            bm_order_id = order_number_id(number)
            if bm_order_id is None:
                continue  # another store's order
            imported = number.isdigit()  # not a part split off it (``<id>-<n>``)
            record = ctx.store.get_order(ctx.account, bm_order_id)
            if imported and (record is None or record.ss_order_id is None):
                record = self._claim_shipped(bm_order_id, ss_order_id, first, record)
            if record is None or record.ss_order_id is None:
                continue  # not imported by us
            if imported and record.ss_order_id != ss_order_id:
                continue  # another order with the same number
            if ctx.journal.is_done(bm_order_id, NOTIFIED):
                self._late_labels(record, records, report)
                continue
            todo.setdefault(bm_order_id, _Job(record)).labels[ss_order_id] = records
        return todo

    def _claim_shipped(
        self,
        bm_order_id: int,
        ss_order_id: int,
        source: Record,
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

    def _retry_notifications(self) -> dict[int, _Job]:
        """Orders that failed to notify before: their labels are looked up again."""
        ctx = self.ctx
        todo: dict[int, _Job] = {}
        for ref in ctx.failed_refs("notify"):
            record = ctx.store.get_order(ctx.account, int(ref))
            if record is None or record.ss_order_id is None:
                ctx.clear_failure("notify", int(ref))
                continue
            todo[record.bm_order_id] = _Job(record)
        return todo

    def _live_records(self, ss_order_id: int) -> list[Record]:
        """The live labels of an order, else its live mark-as-shipped records."""
        ss = self.ctx.ss
        labels: list[Record] = [s for s in ss.shipments.list(order_id=ss_order_id) if not s.voided]
        if labels:
            return labels
        return [f for f in ss.fulfillments.list(order_id=ss_order_id) if not f.voided]

    def _shipstation_orders(
        self, todo: dict[int, _Job], window: int
    ) -> dict[int, ShipStationOrder]:
        """The ShipStation orders to notify, read in bulk when that takes fewer calls."""
        ctx = self.ctx
        wanted = {ss_order_id for job in todo.values() for ss_order_id in job.labels}
        if not wanted:
            return {}
        share = ctx.share
        since = min(
            (
                record.create_date
                for job in todo.values()
                for records in job.labels.values()
                for record in records
                if record.create_date
            ),
            default=None,
        )
        if share is not None and since is not None:
            # From the oldest label any account of the key pair polled: one list serves all.
            since = min(since, share.earliest_label() or since)
        start = (
            pacific_window_start(since - ctx.options.overlap, ctx.clock.now()) if since else None
        )
        if share is not None and share.has_shipped_orders(start):
            listed: Iterable[ShipStationOrder] = share.shipped_orders(ctx.ss, start, ctx.store_id)
        else:
            reads = len(wanted)
            if share is not None:
                # The key pair's list costs its pages once for every account's orders: set
                # against the reads of them all, estimated from this account's share of the
                # labels polled that are still to report.
                polled = share.labelled()
                reads = -(-len(wanted) * max(polled, window) // max(window, 1))
                window = max(window, polled)
            bulk_calls = max(1, -(-window // LIST_PAGE))
            if reads <= bulk_calls:
                return {}  # read one by one: fewer calls
            listed = (
                share.shipped_orders(ctx.ss, start, ctx.store_id)
                if share is not None
                else ctx.ss.orders.list(
                    store_id=ctx.store_id,
                    order_status=OrderStatus.SHIPPED,
                    modify_date_start=start,
                    page_size=LIST_PAGE,
                )
            )
        found: dict[int, ShipStationOrder] = {}
        for order in listed:
            if order.order_id is not None and order.order_id in wanted:
                found[order.order_id] = order
        return found

    def _parts(
        self, job: _Job, orders: dict[int, ShipStationOrder]
    ) -> list[tuple[ShipStationOrder, Record]]:
        """Every shipped ShipStation order of the Back Market order, with its live labels.

        The usual order is one ShipStation order, read as before (in bulk or alone). When
        a label belongs to a part split off it, or the order says it was split
        (``mergedOrSplit``), its parts are listed by number (``orderNumber`` filters by
        prefix: one call) and each shipped part brings its labels; a part not shipped yet
        brings none, so its lines stay uncovered and the plan ships nothing.
        """
        ctx = self.ctx
        record = job.record
        parent_id = record.ss_order_id
        assert parent_id is not None
        split = any(ss_order_id != parent_id for ss_order_id in job.labels)
        if not split:
            parent = orders.get(parent_id) or ctx.ss.orders.get(parent_id)
            options = parent.advanced_options
            split = bool(options is not None and options.merged_or_split)
            if not split:
                records = job.labels.get(parent_id) or self._live_records(parent_id)
                return [(parent, label) for label in records]
        family = {parent_id}
        parts: list[tuple[ShipStationOrder, Record]] = []
        listed = ctx.ss.orders.list(
            order_number=str(record.bm_order_id), store_id=ctx.store_id, page_size=LIST_PAGE
        )
        for order in sorted(listed, key=lambda o: o.order_id or 0):
            if order.order_id is None or order_number_id(order.order_number) != record.bm_order_id:
                continue
            options = order.advanced_options
            parent_of = options.parent_id if options is not None else None
            if order.order_id != parent_id and parent_of not in family:
                continue  # not split off this order
            family.add(order.order_id)
            if order.order_status is not OrderStatus.SHIPPED:
                continue
            records = job.labels.get(order.order_id) or self._live_records(order.order_id)
            parts.extend((order, label) for label in records)
        return parts

    def _notify(
        self, job: _Job, orders: dict[int, ShipStationOrder], report: AccountReport
    ) -> None:
        ctx = self.ctx
        record = job.record
        bm_order_id = record.bm_order_id
        try:
            parts = self._parts(job, orders)
            if not parts:
                return  # nothing shipped (any more): a retried failure stays recorded
            bm_order = ctx.backmarket_order(record, report)
            if bm_order is None:
                return
            notification = to_order_notification(
                parts,
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
                self._nothing_to_write(record, bm_order, notification, source_name, report)
                return
            try:
                ours = ctx.journal.run_plan(bm_order, plan, source_name, report)
            except InvalidRequestError:
                # Refused: the order moved on Back Market since it was read. Read it again
                # and plan once more; what is already done is not repeated.
                fresh = ctx.bm.orders.get(bm_order_id)
                again = self._plan(notification, fresh)
                if not again:
                    self._nothing_to_write(record, fresh, notification, source_name, report)
                    return
                ours = ctx.journal.run_plan(fresh, again, source_name, report)
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

    def _nothing_to_write(
        self,
        record: OrderRecord,
        bm_order: BackMarketOrder,
        notification: ShipmentNotification,
        source: str,
        report: AccountReport,
    ) -> None:
        """Back Market already knows, or the buyer cancelled: never look at it again."""
        ctx = self.ctx
        if _cancelled_unshipped(bm_order):
            report.warnings.append(
                ReportWarning(
                    stage="notify",
                    order_id=record.bm_order_id,
                    kind="shipped_after_cancel",
                    message=(
                        f"labelled in ShipStation (tracking {notification.tracking_number}) "
                        "but cancelled or refunded on Back Market before it shipped: nothing "
                        "was sent; stop the parcel if you can, the buyer is refunded"
                    ),
                )
            )
            logger.warning(
                "order %s shipped in ShipStation after it was cancelled on Back Market",
                record.bm_order_id,
            )
        if ctx.dry_run:
            report.skipped += 1
            return
        claimed = ctx.journal.mark_notified(record.bm_order_id, source)
        ctx.remember(record, bm_order)
        if claimed:  # else another run marked it first (and counted it)
            report.skipped += 1

    def _late_labels(
        self, record: OrderRecord, records: list[Record], report: AccountReport
    ) -> None:
        """Labels bought for an order after Back Market was told it shipped: said once.

        Back Market takes a tracking number only with the ship write, and a shipped line's
        only next state is a refund (backmarket.md §3.3, §5.2): a second or replacement label
        cannot be sent.
        """
        ctx = self.ctx
        bm_order_id = record.bm_order_id
        notified = ctx.store.get_write(ctx.account, bm_order_id, NOTIFIED)
        if notified is None:
            return
        for label in records:
            if not isinstance(label, Shipment) or label.shipment_id is None:
                continue
            if f"shipment:{label.shipment_id}" == notified.source:
                continue
            if label.create_date is None or label.create_date <= notified.updated_at:
                continue  # there when the order was reported (a split part's label)
            key = f"late:{label.shipment_id}"
            if ctx.journal.was_sent(bm_order_id, key):
                continue
            report.warnings.append(
                ReportWarning(
                    stage="notify",
                    order_id=bm_order_id,
                    kind="label_after_report",
                    message=(
                        f"label {label.shipment_id} (tracking {label.tracking_number}) was "
                        "bought after Back Market was told the order shipped; Back Market "
                        "keeps the tracking number it holds and takes no other once an order "
                        "is shipped: give the buyer the new one through Back Market's "
                        "customer service"
                    ),
                )
            )
            if not ctx.dry_run:
                ctx.journal.record(bm_order_id, key, "done", f"shipment:{label.shipment_id}")

    def _voided_since(self, since: datetime, until: datetime, report: AccountReport) -> datetime:
        """Labels voided since ``since`` whose order Back Market already holds as shipped;
        returns the instant the poll is as of (``until``, or a shared poll's).

        Each is a failure to fix by hand, reported once: Back Market keeps the tracking
        number it was sent (backmarket.md §3.3, §5.2). One list call per run (per key pair
        and cycle for accounts sharing one, :mod:`.shared`).
        """
        ctx = self.ctx
        start = pacific_window_start(since, until)
        voided: Iterable[Shipment]
        as_of = until
        if ctx.share is not None:
            voided, as_of = ctx.share.voided(ctx.ss, start, ctx.store_id)
        else:
            voided = ctx.ss.shipments.list(store_id=ctx.store_id, void_date_start=start)
        for label in voided:
            if not label.voided or label.shipment_id is None or label.order_id is None:
                continue
            bm_order_id = order_number_id(label.order_number)
            if bm_order_id is None:
                continue
            notified = ctx.store.get_write(ctx.account, bm_order_id, NOTIFIED)
            if notified is None or notified.status != "done":
                continue  # voided before it was reported: nothing was sent
            if label.create_date is not None and label.create_date > notified.updated_at:
                continue  # a label bought after the report (warned then), voided since
            if (
                notified.source != f"shipment:{label.shipment_id}"
                and label.void_date is not None
                and label.void_date <= notified.updated_at
            ):
                # Voided before the report, which sent another label: nothing to fix. The
                # window of this poll starts at the previous run, so it still lists a void
                # made just before the run that reported the order.
                continue
            key = f"void:{label.shipment_id}"
            if ctx.journal.was_sent(bm_order_id, key):
                continue
            try:
                self._report_void(bm_order_id, label, notified.source, report)
            except BackMarketShipStationError as exc:
                ctx.fail(report, "notify", bm_order_id, exc)
                continue
            if not ctx.dry_run:
                ctx.journal.record(bm_order_id, key, "done", f"shipment:{label.shipment_id}")
        return as_of

    def _report_void(
        self, bm_order_id: int, label: Shipment, reported: str, report: AccountReport
    ) -> None:
        ctx = self.ctx
        if reported == f"shipment:{label.shipment_id}":
            holds = label.tracking_number or "?"
        else:
            holds = ctx.bm.orders.get(bm_order_id).tracking_number or "?"
        assert label.order_id is not None
        newer = [
            other
            for other in ctx.ss.shipments.list(order_id=label.order_id)
            if not other.voided and other.shipment_id != label.shipment_id
        ]
        if newer:
            replacement = (
                f"; the replacement label's tracking {newer[-1].tracking_number} was not "
                "sent: give it to the buyer through Back Market's customer service"
            )
            if not ctx.dry_run:
                for other in newer:
                    ctx.journal.record(bm_order_id, f"late:{other.shipment_id}", "done", reported)
        else:
            replacement = "; a new label's tracking number cannot be sent either"
        reason = (
            f"label {label.shipment_id} (tracking {label.tracking_number}) was voided after "
            f"Back Market was told the order shipped; Back Market holds tracking {holds} and "
            f"takes no other once an order is shipped{replacement}"
        )
        logger.warning("notify: order %s: %s", bm_order_id, reason)
        report.failures.append(
            Failure(
                stage="notify",
                order_id=bm_order_id,
                error="LabelVoidedAfterReport",
                reason=reason,
            )
        )


def _live_labels(records: Iterable[Record]) -> _Labels:
    """Live records per ShipStation order; an order's labels win over its fulfillments."""
    found: _Labels = {}
    seen: set[tuple[str, int]] = set()
    for record in records:
        if record.order_id is None or record.voided:
            continue
        ident = (
            ("shipment", record.shipment_id or 0)
            if isinstance(record, Shipment)
            else ("fulfillment", record.fulfillment_id or 0)
        )
        if ident[1] and ident in seen:
            continue
        seen.add(ident)
        found.setdefault(record.order_id, []).append(record)
    for ss_order_id, records_of in found.items():
        labels = [r for r in records_of if isinstance(r, Shipment)]
        if labels:
            found[ss_order_id] = list(labels)
    return found


def _cancelled_unshipped(bm_order: BackMarketOrder) -> bool:
    """Every line cancelled, refunded before shipping or unpaid: the buyer gets no parcel."""
    lines = bm_order.lines
    return bool(lines) and all(line.state in _NOT_SHIPPED_FINAL for line in lines)
