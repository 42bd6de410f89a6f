"""The two-way sync: Back Market orders into ShipStation, ShipStation shipments back, once.

One :class:`SyncEngine` serves one account (a Back Market account bound to one ShipStation
store). :meth:`SyncEngine.run` does two loops:

**import**
    List the Back Market orders modified since the import cursor (minus an overlap window),
    accept the new ones (``new_state`` 2 per SKU: orders not accepted in time are lost), read
    them back once accepted (Back Market reveals the buyer's details then), map them, and upsert
    them to ShipStation in bulk (100 per call) under deterministic ``orderKey`` s. An order whose
    mapped payload has not changed since the last push costs no write; one that changed is
    merged over the order as ShipStation holds it, so the seller's Internal Notes (their IMEIs)
    and other edits survive. An order whose lines were all cancelled or refunded on Back
    Market is set to cancelled in ShipStation while it is still open there.

**notify**
    List the labels (shipments) of the Back Market store and the mark-as-shipped fulfillments
    created since the notify cursor (overlapping, de-duplicated), build the notification with
    the IMEIs and serial numbers from the order's Internal Notes, and run the Back Market
    write plan. An order whose identifiers are missing or invalid is reported and retried on
    the next run; nothing is sent for it, and it never holds the others back.

Exactly once: each Back Market write is recorded ``pending`` before it is sent and ``done``
after; a ``pending`` record left by a crash makes the next run re-read the order to learn
whether the write took effect. ShipStation upserts are keyed by ``orderKey`` so repeating one
never duplicates an order. Cursors move only after a loop has finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta

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
from ..clock import Clock, SystemClock
from ..errors import (
    AuthenticationError,
    BackMarketShipStationError,
    InvalidRequestError,
    MappingError,
    NotFoundError,
    PermissionDeniedError,
)
from ..mapping import (
    DEFAULT_CARRIER_MAP,
    DEFAULT_STATUS_MAP,
    CarrierMap,
    CatalogProduct,
    IdentifiableLine,
    ShipmentNotification,
    StatusMap,
    device_lines,
    order_key_for,
    to_backmarket_updates,
    to_shipment_notification,
    to_shipstation_order,
)
from ..shipstation.client import ShipStationClient
from ..shipstation.models import Fulfillment, OrderStatus, Shipment
from ..shipstation.models import Order as ShipStationOrder
from .report import AccountReport, Failure
from .store import OrderRecord, SyncStore, WriteRecord, WriteStatus

__all__ = ["SyncEngine", "SyncOptions"]

logger = logging.getLogger("backmarket_shipstation.sync")

_UPSERT_CHUNK = 100
"""ShipStation's createorders takes at most 100 orders per call."""
_OPEN = frozenset(
    {OrderStatus.AWAITING_PAYMENT, OrderStatus.AWAITING_SHIPMENT, OrderStatus.ON_HOLD}
)
_NOTIFIED = "notified"
"""Write-record key marking a shipment fully reported (ship write and every identifier)."""
_LIST_PAGE = 500
"""ShipStation's largest page: one list call replaces up to this many single reads."""

Progress = Callable[[str, int], None]
"""Called as ``progress(stage, count)`` while a loop advances (``count`` orders so far)."""


@attrs.frozen(kw_only=True)
class SyncOptions:
    """How an account is synced. The defaults are those of ShipStation's own connector."""

    accept_orders: bool = True
    """Accept new orders on Back Market as they are imported (orders not accepted in time
    are lost). Turn off if you accept them in the Back Market back office."""
    overlap: timedelta = timedelta(minutes=10)
    initial_lookback: timedelta = timedelta(days=14)
    status_map: StatusMap = DEFAULT_STATUS_MAP
    catalog: Mapping[str, CatalogProduct] | None = None
    """SKU → unit weight, stock location and extra item options."""
    carrier_map: CarrierMap = DEFAULT_CARRIER_MAP
    requires_identifier: Callable[[IdentifiableLine], bool] = device_lines
    """Which quantity-1 lines need an IMEI or serial number: by default every line but those
    whose title names an accessory (see :func:`~backmarket_shipstation.mapping.device_lines`)."""
    notify_fulfillments: bool = True
    """Also report orders marked as shipped without a label (ShipStation fulfillments)."""
    dry_run: bool = False
    """Read everything, write nothing: the report lists the writes that would be made."""
    order_key_prefix: str = "backmarket-"
    """``orderKey`` = prefix + Back Market order id. Give each account its own prefix (say
    ``"backmarket-us-"``) when several Back Market accounts feed one ShipStation account:
    order ids of different platforms may collide, and ShipStation upserts on the key."""


@attrs.define
class _Pending:
    """An order to push to ShipStation in the current chunk."""

    bm_order: BackMarketOrder
    order: ShipStationOrder
    digest: str
    record: OrderRecord | None
    cancelling: bool = False
    adopted: bool = False
    """Already in ShipStation though the store had no record of it (a lost state file)."""


class SyncEngine:
    """Syncs one Back Market account with its ShipStation store. See the module docstring."""

    def __init__(
        self,
        *,
        account: str,
        backmarket: BackMarketClient,
        shipstation: ShipStationClient,
        store: SyncStore,
        store_id: int | None,
        options: SyncOptions | None = None,
        clock: Clock | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.account = account
        self.bm = backmarket
        self.ss = shipstation
        self.store = store
        self.store_id = store_id
        self.options = options or SyncOptions()
        self.clock = clock or SystemClock()
        self._progress = progress
        self._adoptable: dict[int, ShipStationOrder] = {}
        self._leftovers: dict[int, list[WriteRecord]] = {}
        """Writes a crashed run left ``pending``, by order: settled once the order is seen."""

    def __repr__(self) -> str:
        return f"SyncEngine(account={self.account!r}, store_id={self.store_id!r})"

    # ------------------------------------------------------------------------------------
    # The run
    # ------------------------------------------------------------------------------------

    def run(self) -> AccountReport:
        """Import, then notify. Errors of single orders are in the report, never raised."""
        report = AccountReport(
            account=self.account, started_at=self.clock.now(), dry_run=self.options.dry_run
        )
        for stage, loop in (("import", self.import_orders), ("notify", self.notify_shipments)):
            try:
                loop(report)
            except (AuthenticationError, PermissionDeniedError):
                raise  # wrong credentials: every loop would fail the same way
            except BackMarketShipStationError as exc:
                # An API that stays down (after the client's retries) stops this loop only;
                # its cursor did not move, so the next run covers the same window again.
                logger.warning("%s loop of account %s stopped: %s", stage, self.account, exc)
                report.failures.append(
                    Failure(
                        stage=stage,
                        order_id="-",
                        error=type(exc).__name__,
                        reason=f"the {stage} loop stopped ({exc}); the next run starts over",
                    )
                )
        report.finished_at = self.clock.now()
        return report

    # ------------------------------------------------------------------------------------
    # Import
    # ------------------------------------------------------------------------------------

    def import_orders(self, report: AccountReport) -> None:
        """The import loop (see the module docstring)."""
        started = self.clock.now()
        self._load_leftovers()
        since = self._since("import", started)
        self._adoptable = {}
        if self.store.get_cursor(self.account, "import") is None:
            self._adoptable = self._orders_already_in_shipstation(since)
        seen: set[int] = set()
        deferred: set[int] = set()  # accepted this run: pushed once read back
        pending: list[_Pending] = []

        def handle(orders: Iterable[BackMarketOrder], *, may_accept: bool) -> None:
            for bm_order in orders:
                self._progress_tick("import", len(seen))
                if bm_order.order_id in seen and bm_order.order_id not in deferred:
                    continue
                seen.add(bm_order.order_id)
                deferred.discard(bm_order.order_id)
                if may_accept and self._accept(bm_order, report):
                    deferred.add(bm_order.order_id)
                    continue
                self._plan_push(bm_order, report, pending)
                if len(pending) >= _UPSERT_CHUNK:
                    self._push(pending, report)
                    pending.clear()

        handle(self._retry_orders("import", report), may_accept=True)
        handle(self.bm.orders.list(date_modification=since), may_accept=True)
        if deferred:
            # Accepting bumps date_modification: one more listing reads every accepted order
            # back (with the buyer's details) for a fiftieth of a read per order.
            handle(self.bm.orders.list(date_modification=started), may_accept=False)
            for order_id in sorted(deferred):
                handle(self._read_orders([order_id], "import", report), may_accept=False)
        if pending:
            self._push(pending, report)
        self._advance("import", started)

    def _orders_already_in_shipstation(self, since: datetime) -> dict[int, ShipStationOrder]:
        """ShipStation's copies of this store's Back Market orders, on a run with no cursor.

        No cursor means a first run or a lost state file. ShipStation may then already hold
        some of these orders, edited by the seller since (their IMEIs in the notes): such an
        order is updated over its own copy, never replaced. One list call per 500 orders of
        the store modified in the look-back window; none when no store is configured.
        """
        if self.store_id is None:
            return {}
        found: dict[int, ShipStationOrder] = {}
        for order in self.ss.orders.list(
            store_id=self.store_id, modify_date_start=since, page_size=_LIST_PAGE
        ):
            bm_order_id = _backmarket_id(order.order_number)
            if bm_order_id is not None and order.order_key == self._order_key(bm_order_id):
                found[bm_order_id] = order
        return found

    def _accept(self, bm_order: BackMarketOrder, report: AccountReport) -> bool:
        """Accept the paid lines of an importable order; True when a write was made."""
        self._settle_accepts(bm_order)
        if not self.options.accept_orders:
            return False
        if self.options.status_map.status_of(bm_order) is not OrderStatus.AWAITING_SHIPMENT:
            return False
        skus = sorted(
            {
                line.listing
                for line in bm_order.lines
                if line.state is OrderLineState.PAID and line.listing
            }
        )
        if not skus:
            return False
        writes = [
            OrderUpdate(order_id=bm_order.order_id, new_state=OrderLineState.ACCEPTED, sku=s)
            for s in skus
        ]
        try:
            for write in writes:
                self._send_write(bm_order.order_id, write, "import", report)
        except BackMarketShipStationError as exc:
            self._fail(report, "import", bm_order.order_id, exc)
            return False
        report.accepted += 1
        return not self.options.dry_run

    def _plan_push(
        self, bm_order: BackMarketOrder, report: AccountReport, pending: list[_Pending]
    ) -> None:
        order_id = bm_order.order_id
        record = self.store.get_order(self.account, order_id)
        status = self.options.status_map.status_of(bm_order)
        if status is OrderStatus.CANCELLED:
            if record is None or OrderStatus(record.ss_status) not in _OPEN:
                report.skipped += 1
                return
            self._plan_cancel(bm_order, record, report, pending)
            return
        if status not in _OPEN:
            # Not importable (0, 10, 8) or already shipped on Back Market.
            if record is not None and status is OrderStatus.SHIPPED:
                self._remember(record, bm_order)
            report.skipped += 1
            return
        try:
            fresh = self._map(bm_order, existing=None)
        except BackMarketShipStationError as exc:
            self._fail(report, "import", order_id, exc)
            return
        digest = _digest(fresh)
        if record is not None and record.digest == digest:
            self._remember(record, bm_order)
            self._clear_failure("import", order_id)
            report.unchanged += 1
            return
        order = fresh
        existing = self._adoptable.pop(order_id, None) if record is None else None
        adopted = existing is not None
        if record is not None and record.ss_order_id is not None:
            existing = self._read_shipstation_order(record.ss_order_id, order_id, "import", report)
            if existing is None:
                return
        if existing is not None:
            if existing.order_status not in _OPEN:
                self._remember_locked(bm_order, record, existing, digest, report)
                return
            try:
                order = self._map(bm_order, existing=existing)
            except BackMarketShipStationError as exc:
                self._fail(report, "import", order_id, exc)
                return
        pending.append(
            _Pending(bm_order=bm_order, order=order, digest=digest, record=record, adopted=adopted)
        )

    def _remember_locked(
        self,
        bm_order: BackMarketOrder,
        record: OrderRecord | None,
        existing: ShipStationOrder,
        digest: str,
        report: AccountReport,
    ) -> None:
        """Shipped or cancelled in ShipStation: locked there, nothing to update. An order the
        store did not know is remembered too: the notify loop needs its ShipStation id."""
        record = record or OrderRecord(
            account=self.account,
            bm_order_id=bm_order.order_id,
            order_key=existing.order_key or self._order_key(bm_order.order_id),
            ss_order_id=existing.order_id,
            digest=digest,
            ss_status=str(existing.order_status),
            updated_at=self.clock.now(),
        )
        self._remember(record, bm_order, ss_status=existing.order_status)
        report.skipped += 1

    def _plan_cancel(
        self,
        bm_order: BackMarketOrder,
        record: OrderRecord,
        report: AccountReport,
        pending: list[_Pending],
    ) -> None:
        if record.ss_order_id is None:
            report.skipped += 1
            return
        existing = self._read_shipstation_order(
            record.ss_order_id, bm_order.order_id, "import", report
        )
        if existing is None:
            return
        if existing.order_status not in _OPEN:
            self._remember(record, bm_order, ss_status=existing.order_status)
            report.skipped += 1
            return
        # Only the status changes: everything the seller set in ShipStation stays.
        cancelled = attrs.evolve(existing, order_status=OrderStatus.CANCELLED)
        pending.append(
            _Pending(
                bm_order=bm_order,
                order=cancelled,
                digest=record.digest,
                record=record,
                cancelling=True,
            )
        )

    def _push(self, pending: list[_Pending], report: AccountReport) -> None:
        """One createorders call for up to 100 orders; record each outcome."""
        if self.options.dry_run:
            for item in pending:
                verb = (
                    "cancel"
                    if item.cancelling
                    else "update"
                    if item.record is not None
                    else "create"
                )
                report.planned_writes.append(
                    f"shipstation {verb} order {item.order.order_key} "
                    f"(Back Market {item.bm_order.order_id})"
                )
            return
        try:
            result = self.ss.orders.upsert_many([item.order for item in pending])
        except BackMarketShipStationError as exc:
            for item in pending:
                self._fail(report, "import", item.bm_order.order_id, exc)
            return
        by_key = {r.order_key: r for r in result.results or () if r.order_key}
        now = self.clock.now()
        refused_unknown: list[tuple[_Pending, str]] = []
        with self.store.transaction():
            for index, item in enumerate(pending):
                outcome = by_key.get(item.order.order_key or "")
                if outcome is None and result.results and index < len(result.results):
                    outcome = result.results[index]
                order_id = item.bm_order.order_id
                if outcome is None or not outcome.success:
                    reason = (
                        (outcome.error_message or "rejected without a message")
                        if outcome
                        else "no result for this order"
                    )
                    if item.record is None:
                        refused_unknown.append((item, reason))
                    else:
                        self._fail_reason(report, "import", order_id, "ShipStationRejected", reason)
                    continue
                status = item.order.order_status
                self.store.put_order(
                    OrderRecord(
                        account=self.account,
                        bm_order_id=order_id,
                        order_key=item.order.order_key or self._order_key(order_id),
                        ss_order_id=outcome.order_id,
                        digest=item.digest,
                        ss_status=str(status),
                        updated_at=now,
                        bm_snapshot=_snapshot(item.bm_order),
                    )
                )
                self.store.clear_failure(self.account, "import", str(order_id))
                if item.cancelling:
                    report.cancelled += 1
                elif item.record is None and not item.adopted:
                    report.imported += 1
                else:
                    report.updated += 1
        for item, reason in refused_unknown:
            if not self._claim_locked(item, report):
                self._fail_reason(
                    report, "import", item.bm_order.order_id, "ShipStationRejected", reason
                )

    def _claim_locked(self, item: _Pending, report: AccountReport) -> bool:
        """Store the id of an order ShipStation refused because it is shipped or cancelled.

        A run that dies after createorders took effect, before the ids were stored, leaves
        orders the state file does not know; once the packer ships one, ShipStation refuses
        every update of it, so no upsert will ever return its id. It is found by its order
        number (one list call, once) and proved ours by its ``orderKey``, then remembered like
        any order locked in ShipStation. A shipped one is also marked for the notify loop, which
        then looks up its label or mark-as-shipped record even outside its polling window.
        """
        order_id = item.bm_order.order_id
        number = str(order_id)
        try:
            found = next(
                (
                    order
                    for order in self.ss.orders.list(order_number=number, store_id=self.store_id)
                    if order.order_number == number and order.order_key == item.order.order_key
                ),
                None,
            )
        except BackMarketShipStationError:
            return False  # reported as the refusal it is; the next run looks again
        if found is None or found.order_id is None or found.order_status in _OPEN:
            return False
        self._remember_locked(item.bm_order, None, found, item.digest, report)
        self._clear_failure("import", order_id)
        if found.order_status is OrderStatus.SHIPPED:
            self.store.record_failure(
                self.account,
                "notify",
                number,
                "shipped in ShipStation before its id was stored: looking up its shipment",
                self.clock.now(),
            )
        return True

    # ------------------------------------------------------------------------------------
    # Notify
    # ------------------------------------------------------------------------------------

    def notify_shipments(
        self,
        report: AccountReport,
        shipments: Iterable[Shipment | Fulfillment] | None = None,
    ) -> None:
        """The notify loop (see the module docstring).

        With ``shipments`` (say, the labels a SHIP_NOTIFY webhook announced), only those are
        reported and the cursor stays where it is: the next poll still covers them, so a
        notification lost on the way is caught up, and one already sent is not sent again.
        """
        started = self.clock.now()
        self._load_leftovers()
        polling = shipments is None
        if shipments is None:
            shipments = self._shipped_since(self._since("notify", started))
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
            self._progress_tick("notify", count)
            ss_order = orders.get(ss_order_id)
            if ss_order is None:
                ss_order = self._read_shipstation_order(
                    ss_order_id, record.bm_order_id, "notify", report
                )
                if ss_order is None:
                    continue
            self._notify(record, ss_order, source, report)
        if polling:
            self._advance("notify", started)

    def _shipped_since(self, since: datetime) -> Iterator[Shipment | Fulfillment]:
        """Labels of the store, then (if enabled) fulfillments, created since ``since``."""
        yield from self.ss.shipments.list(store_id=self.store_id, create_date_start=since)
        if self.options.notify_fulfillments:
            # Fulfillments cannot be filtered by store: orders that are not ours are skipped.
            yield from self.ss.fulfillments.list(create_date_start=since)

    def _notifications_to_send(
        self, shipped: Mapping[int, Shipment | Fulfillment]
    ) -> dict[int, tuple[OrderRecord, Shipment | Fulfillment]]:
        """Keep the shipments of our orders whose ship write is not done yet."""
        todo: dict[int, tuple[OrderRecord, Shipment | Fulfillment]] = {}
        for ss_order_id, source in shipped.items():
            bm_order_id = _backmarket_id(source.order_number)
            record = (
                None if bm_order_id is None else self.store.get_order(self.account, bm_order_id)
            )
            if bm_order_id is not None and (record is None or record.ss_order_id is None):
                record = self._claim_shipped(bm_order_id, ss_order_id, source, record)
            if record is None or record.ss_order_id != ss_order_id:
                continue  # another store's order, or not imported by us
            done = self.store.get_write(self.account, record.bm_order_id, _NOTIFIED)
            if done is not None and done.status == "done":
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
        leaves no record (see :meth:`_claim_locked`, which the next import runs). A label
        carries the ``orderKey``, which proves the order is ours, so it is claimed here at no
        cost, even in a run whose import did not get that far. A mark-as-shipped record has no
        ``orderKey``: such an order is found by the import.
        """
        if getattr(source, "order_key", None) != self._order_key(bm_order_id):
            return record
        claimed = OrderRecord(
            account=self.account,
            bm_order_id=bm_order_id,
            order_key=self._order_key(bm_order_id),
            ss_order_id=ss_order_id,
            digest=record.digest if record is not None else "",
            ss_status=str(OrderStatus.SHIPPED),
            updated_at=self.clock.now(),
            bm_snapshot=record.bm_snapshot if record is not None else None,
        )
        if not self.options.dry_run:
            self.store.put_order(claimed)
        return claimed

    def _retry_notifications(
        self, report: AccountReport
    ) -> dict[int, tuple[OrderRecord, Shipment | Fulfillment]]:
        """Orders that failed to notify before: look up their shipment again."""
        todo: dict[int, tuple[OrderRecord, Shipment | Fulfillment]] = {}
        for ref in self._failed_refs("notify"):
            record = self.store.get_order(self.account, int(ref))
            if record is None or record.ss_order_id is None:
                self._clear_failure("notify", int(ref))
                continue
            try:
                source = self._shipment_of(record.ss_order_id)
            except BackMarketShipStationError as exc:
                self._fail(report, "notify", record.bm_order_id, exc)
                continue
            if source is not None:
                todo[record.ss_order_id] = (record, source)
        return todo

    def _shipment_of(self, ss_order_id: int) -> Shipment | Fulfillment | None:
        for shipment in self.ss.shipments.list(order_id=ss_order_id):
            if not shipment.voided:
                return shipment
        for fulfillment in self.ss.fulfillments.list(order_id=ss_order_id):
            if not fulfillment.voided:
                return fulfillment
        return None

    def _shipstation_orders(
        self, todo: Mapping[int, tuple[OrderRecord, Shipment | Fulfillment]], window: int
    ) -> dict[int, ShipStationOrder]:
        """The ShipStation orders to notify, read in bulk when that takes fewer calls."""
        if not todo:
            return {}
        bulk_calls = max(1, -(-window // _LIST_PAGE))
        if len(todo) <= bulk_calls:
            return {}  # read one by one: fewer calls
        since = min(
            (source.create_date for _, source in todo.values() if source.create_date),
            default=None,
        )
        found: dict[int, ShipStationOrder] = {}
        for order in self.ss.orders.list(
            store_id=self.store_id,
            order_status=OrderStatus.SHIPPED,
            modify_date_start=since - self.options.overlap if since else None,
            page_size=_LIST_PAGE,
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
        bm_order_id = record.bm_order_id
        try:
            bm_order = self._backmarket_order(record, report)
            if bm_order is None:
                return
            notification = to_shipment_notification(
                ss_order,
                source,
                carrier_map=self.options.carrier_map,
                currency=bm_order.currency,
                requires_identifier=self.options.requires_identifier,
            )
            try:
                plan = self._plan(notification, bm_order)
            except BackMarketShipStationError:
                if record.bm_snapshot is None:
                    raise
                # The stored copy may be stale: plan again from a fresh read.
                bm_order = self.bm.orders.get(bm_order_id)
                plan = self._plan(notification, bm_order)
            source_name = (
                f"shipment:{notification.shipment_id}"
                if notification.shipment_id is not None
                else f"fulfillment:{notification.fulfillment_id}"
            )
            if not plan:
                self._mark_shipped(record, bm_order, source_name)
                report.skipped += 1
                return
            try:
                self._run_plan(bm_order, plan, source_name, report)
            except InvalidRequestError:
                # Refused: the order moved on Back Market since it was read. Read it again
                # and plan once more; what is already done is not repeated.
                fresh = self.bm.orders.get(bm_order_id)
                self._run_plan(fresh, self._plan(notification, fresh), source_name, report)
        except BackMarketShipStationError as exc:
            self._fail(report, "notify", bm_order_id, exc)
            return
        if not self.options.dry_run:
            with self.store.transaction():
                self.store.clear_failure(self.account, "notify", str(bm_order_id))
            self._record_write(bm_order_id, _NOTIFIED, "done", source_name)
            self._settle_all(bm_order_id)
        report.notified += 1

    def _plan(
        self, notification: ShipmentNotification, bm_order: BackMarketOrder
    ) -> tuple[BackMarketWrite, ...]:
        """The writes still to make; the identifier PATCHes too once our ship write went out.

        The plan ships first, then sets each line's identifiers. When a run dies between the
        two, Back Market already shows the order shipped and plans nothing more; so an order
        we shipped (or were shipping) is planned again as of before its ship write, whose
        record makes :meth:`_run_plan` skip it, leaving the identifiers still missing.
        """
        plan = to_backmarket_updates(notification, bm_order)
        if plan or self.store.get_write(self.account, bm_order.order_id, "ship") is None:
            return plan
        return to_backmarket_updates(notification, _as_before_ship(bm_order))

    def _run_plan(
        self,
        bm_order: BackMarketOrder,
        plan: Iterable[BackMarketWrite],
        source: str,
        report: AccountReport,
    ) -> None:
        fresh: BackMarketOrder | None = None
        for write in plan:
            key = _write_key(write)
            previous = self.store.get_write(self.account, bm_order.order_id, key)
            if previous is not None and previous.status == "done":
                continue
            if previous is not None and previous.status == "pending" and not self.options.dry_run:
                # A run died while this write was in flight: did it take effect?
                fresh = fresh or self.bm.orders.get(bm_order.order_id)
                if _took_effect(write, fresh):
                    self._record_write(bm_order.order_id, key, "done", source)
                    continue
            self._send_write(bm_order.order_id, write, source, report)

    def _send_write(
        self, bm_order_id: int, write: BackMarketWrite, source: str, report: AccountReport
    ) -> None:
        """Send one Back Market write between a ``pending`` and a ``done`` record."""
        key = _write_key(write)
        if self.options.dry_run:
            report.planned_writes.append(f"backmarket {_describe_write(write)}")
            return
        self._record_write(bm_order_id, key, "pending", source)
        try:
            self.bm.send(write)
        except (InvalidRequestError, NotFoundError):
            # Refused outright: it did not take effect, so it may be sent again later.
            with self.store.transaction():
                self.store.delete_write(self.account, bm_order_id, key)
            raise
        # Other errors (timeouts, 5xx after retries) leave the record pending: the next run
        # re-reads the order before deciding.
        self._record_write(bm_order_id, key, "done", source)

    def _record_write(self, bm_order_id: int, key: str, status: WriteStatus, source: str) -> None:
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

    def _load_leftovers(self) -> None:
        self._leftovers = {}
        for write in self.store.pending_writes(self.account):
            self._leftovers.setdefault(write.bm_order_id, []).append(write)

    def _settle_accepts(self, bm_order: BackMarketOrder) -> None:
        """A pending accept whose SKU has no paid line left took effect: record it done.

        A run that died after an accept was delivered leaves it ``pending``; the next run
        no longer plans it (the line is accepted), so nothing else would ever settle it.
        """
        leftovers = self._leftovers.get(bm_order.order_id)
        if not leftovers or self.options.dry_run:
            return
        paid = {
            _write_key(OrderUpdate(order_id=0, new_state=OrderLineState.ACCEPTED, sku=line.listing))
            for line in bm_order.lines
            if line.state is OrderLineState.PAID and line.listing
        }
        for write in list(leftovers):
            if write.key.startswith(f"{int(OrderLineState.ACCEPTED)}:") and write.key not in paid:
                self._record_write(bm_order.order_id, write.key, "done", write.source)
                leftovers.remove(write)

    def _settle_all(self, bm_order_id: int) -> None:
        """The whole shipment is reported: writes a crashed run left pending are moot."""
        for write in self._leftovers.pop(bm_order_id, ()):
            if write.key != _NOTIFIED:
                self._record_write(bm_order_id, write.key, "done", write.source)

    def _mark_shipped(self, record: OrderRecord, bm_order: BackMarketOrder, source: str) -> None:
        """Nothing left to write (Back Market already knows): never look at it again."""
        if self.options.dry_run:
            return
        self._record_write(record.bm_order_id, _NOTIFIED, "done", source)
        self._settle_all(record.bm_order_id)
        self._remember(record, bm_order)

    # ------------------------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------------------------

    def _map(
        self, bm_order: BackMarketOrder, *, existing: ShipStationOrder | None
    ) -> ShipStationOrder:
        return to_shipstation_order(
            bm_order,
            existing=existing,
            store_id=self.store_id,
            catalog=self.options.catalog,
            status_map=self.options.status_map,
            order_key_prefix=self.options.order_key_prefix,
        )

    def _order_key(self, bm_order_id: int) -> str:
        return order_key_for(bm_order_id, prefix=self.options.order_key_prefix)

    def _backmarket_order(
        self, record: OrderRecord, report: AccountReport
    ) -> BackMarketOrder | None:
        if record.bm_snapshot is not None:
            try:
                return BackMarketOrder.from_dict(json.loads(record.bm_snapshot))
            except (ValueError, BackMarketShipStationError):
                logger.warning(
                    "stored copy of order %s unreadable; reading it again", record.bm_order_id
                )
        try:
            return self.bm.orders.get(record.bm_order_id)
        except BackMarketShipStationError as exc:
            self._fail(report, "notify", record.bm_order_id, exc)
            return None

    def _read_shipstation_order(
        self, ss_order_id: int, bm_order_id: int, stage: str, report: AccountReport
    ) -> ShipStationOrder | None:
        """The order, or ``None`` once the failure is recorded for ``stage`` to retry."""
        try:
            return self.ss.orders.get(ss_order_id)
        except BackMarketShipStationError as exc:
            self._fail(report, stage, bm_order_id, exc)
            return None

    def _read_orders(
        self, order_ids: Iterable[int], stage: str, report: AccountReport
    ) -> Iterator[BackMarketOrder]:
        for order_id in order_ids:
            try:
                yield self.bm.orders.get(order_id)
            except BackMarketShipStationError as exc:
                self._fail(report, stage, order_id, exc)

    def _retry_orders(self, stage: str, report: AccountReport) -> Iterator[BackMarketOrder]:
        refs = self._failed_refs(stage)
        return self._read_orders((int(ref) for ref in refs if ref.isdigit()), stage, report)

    def _failed_refs(self, stage: str) -> list[str]:
        """The orders ``stage`` failed on in earlier runs (to retry them)."""
        return [f.ref for f in self.store.failures(self.account) if f.stage == stage]

    def _remember(
        self,
        record: OrderRecord,
        bm_order: BackMarketOrder,
        *,
        ss_status: OrderStatus | None = None,
    ) -> None:
        if self.options.dry_run:
            return
        with self.store.transaction():
            self.store.put_order(
                attrs.evolve(
                    record,
                    bm_snapshot=_snapshot(bm_order),
                    ss_status=str(ss_status) if ss_status is not None else record.ss_status,
                    updated_at=self.clock.now(),
                )
            )

    def _since(self, loop: str, started: datetime) -> datetime:
        cursor = self.store.get_cursor(self.account, loop)
        if cursor is None:
            return started - self.options.initial_lookback
        return cursor - self.options.overlap

    def _advance(self, loop: str, started: datetime) -> None:
        if self.options.dry_run:
            return
        with self.store.transaction():
            self.store.set_cursor(self.account, loop, started)

    def _fail(self, report: AccountReport, stage: str, order_id: int, exc: BaseException) -> None:
        reason = exc.detail if isinstance(exc, MappingError) else str(exc)
        self._fail_reason(report, stage, order_id, type(exc).__name__, reason)

    def _fail_reason(
        self, report: AccountReport, stage: str, order_id: int, error: str, reason: str
    ) -> None:
        logger.warning("%s failed for order %s: %s", stage, order_id, reason)
        report.failures.append(Failure(stage=stage, order_id=order_id, error=error, reason=reason))
        if not self.options.dry_run:
            with self.store.transaction():
                self.store.record_failure(
                    self.account, stage, str(order_id), reason, self.clock.now()
                )

    def _clear_failure(self, stage: str, order_id: int) -> None:
        if not self.options.dry_run:
            self.store.clear_failure(self.account, stage, str(order_id))

    def _progress_tick(self, stage: str, count: int) -> None:
        if self._progress is not None:
            self._progress(stage, count)


def _digest(order: ShipStationOrder) -> str:
    payload = json.dumps(order.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _snapshot(bm_order: BackMarketOrder) -> str:
    return json.dumps(bm_order.to_dict(), separators=(",", ":"))


def _backmarket_id(order_number: str | None) -> int | None:
    text = (order_number or "").strip()
    return int(text) if text.isdigit() else None


def _write_key(write: BackMarketWrite) -> str:
    if isinstance(write, OrderlineIdentifiersUpdate):
        return f"identifiers:{write.orderline_id}"
    if write.new_state is OrderLineState.SHIPPED:
        return "ship"
    return f"{int(write.new_state)}:{write.sku or ''}"


def _describe_write(write: BackMarketWrite) -> str:
    if isinstance(write, OrderlineIdentifiersUpdate):
        return f"PATCH /ws/orderlines/{write.orderline_id} {write.identifiers.to_dict()}"
    body = write.to_dict()
    return f"POST /ws/orders/{write.order_id} {body}"


def _as_before_ship(bm_order: BackMarketOrder) -> BackMarketOrder:
    """The order as it was before its ship write: shipped lines back to accepted."""
    lines = tuple(
        attrs.evolve(line, state=OrderLineState.ACCEPTED)
        if line.state is OrderLineState.SHIPPED
        else line
        for line in bm_order.lines
    )
    return attrs.evolve(bm_order, state=OrderState.TO_SHIP, orderlines=lines)


def _took_effect(write: BackMarketWrite, order: BackMarketOrder) -> bool:
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
