"""The import loop: Back Market orders into ShipStation, accepted in time, cancelled when due.

List the Back Market orders modified since the import cursor (minus an overlap window),
accept the new ones (``new_state`` 2 per SKU: orders not accepted in time are lost), read
them back once accepted (Back Market reveals the buyer's details then), map them, and upsert
them to ShipStation in bulk (100 per call; with the other accounts of the key pair that import
at the same time, :mod:`.shared`) under deterministic ``orderKey`` s. An order whose
mapped payload has not changed since the last push costs no write; one that changed is
merged over the order as ShipStation holds it, so the seller's Internal Notes (their IMEIs)
and other edits survive. A BackShip order (``is_backship``) carries Back Market's label
(carrier, tracking number, PDF) in its notes once accepted, so that the packer buys none.
An order whose lines were all cancelled or refunded on Back Market is set to cancelled in
ShipStation while it is still open there.

A copy the seller deleted in ShipStation (a soft delete: it leaves every list and ``GET``
answers 404, shipstation.md §3) while the order is still to ship on Back Market is created
again under the same ``orderKey`` and the new ``orderId`` stored; the report warns of each
one (``recreated``), or names it as a failure when ShipStation refuses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from ..backmarket.models import Order as BackMarketOrder
from ..backmarket.models import OrderLineState, OrderUpdate
from ..errors import BackMarketShipStationError, NotFoundError
from ..shipstation.models import Order as ShipStationOrder
from ..shipstation.models import OrderStatus
from ..shipstation.windows import pacific_window_start
from .context import LIST_PAGE, OPEN_STATUSES, AccountContext, backmarket_id, digest, snapshot
from .report import AccountReport, ReportWarning
from .shared import UPSERT_CHUNK as _UPSERT_CHUNK
from .store import OrderRecord

__all__ = ["ImportLoop"]


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
    recreated: bool = False
    """The store knew the order but its ShipStation copy is gone (deleted by the seller)."""


class ImportLoop:
    """One run of the import loop of one account (see the module docstring)."""

    def __init__(self, ctx: AccountContext) -> None:
        self.ctx = ctx
        self._adoptable: dict[int, ShipStationOrder] = {}
        self._gone: set[int] = set()

    def __repr__(self) -> str:
        return f"ImportLoop(account={self.ctx.account!r})"

    def run(self, report: AccountReport) -> None:
        share = self.ctx.share
        try:
            self._run(report)
        finally:
            if share is not None:
                # The other accounts' createorders batches stop waiting for this one.
                share.finished(self.ctx.account)

    def _run(self, report: AccountReport) -> None:
        ctx = self.ctx
        started = ctx.clock.now()
        ctx.catalog()  # a catalog source is read now: if it fails, the loop stops here
        ctx.journal.load_leftovers()
        since = ctx.since("import", started)
        self._adoptable = {}
        self._gone = set()
        if ctx.store.get_cursor(ctx.account, "import") is None:
            self._adoptable = self._orders_already_in_shipstation(since, started)
        else:
            self._gone = self._deleted_copies(since, started, report)
        seen: set[int] = set()
        deferred: set[int] = set()  # accepted this run: pushed once read back
        pending: list[_Pending] = []

        def handle(orders: Iterable[BackMarketOrder], *, may_accept: bool) -> None:
            for bm_order in orders:
                ctx.progress_tick("import", len(seen))
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

        handle(ctx.retry_orders("import", report), may_accept=True)
        # Read again from Back Market, as they may have shipped or been cancelled there since.
        handle(ctx.read_orders(sorted(self._gone), "import", report), may_accept=False)
        handle(ctx.bm.orders.list(date_modification=since), may_accept=True)
        if deferred:
            # Accepting bumps date_modification: one more listing reads every accepted order
            # back (with the buyer's details) for a fiftieth of a read per order.
            handle(ctx.bm.orders.list(date_modification=started), may_accept=False)
            for order_id in sorted(deferred):
                handle(ctx.read_orders([order_id], "import", report), may_accept=False)
        if pending:
            self._push(pending, report)
        ctx.advance("import", started)

    def _orders_already_in_shipstation(
        self, since: datetime, until: datetime
    ) -> dict[int, ShipStationOrder]:
        """ShipStation's copies of this store's Back Market orders, on a run with no cursor.

        No cursor means a first run or a lost state file. ShipStation may then already hold
        some of these orders, edited by the seller since (their IMEIs in the notes): such an
        order is updated over its own copy, never replaced. One list call per 500 orders of
        the store modified in the look-back window; none when no store is configured.
        """
        ctx = self.ctx
        if ctx.store_id is None:
            return {}
        found: dict[int, ShipStationOrder] = {}
        for order in self._modified_orders(since, until):
            bm_order_id = backmarket_id(order.order_number)
            if bm_order_id is not None and order.order_key == ctx.order_key(bm_order_id):
                found[bm_order_id] = order
        return found

    def _deleted_copies(self, since: datetime, until: datetime, report: AccountReport) -> set[int]:
        """The open orders of the store whose ShipStation copy is gone (the seller deleted it).

        A deleted order leaves every list and answers 404 by id (shipstation.md §3,
        [WMS-MERGE]). So: one paged list per open status the store holds orders in (usually
        just Awaiting Shipment) and one of the orders modified since the cursor (those shipped
        or cancelled since the last run, which the notify loop handles), never one call per
        order. Only an order missing from every list is read by id; a 404 proves it deleted.
        A list that fails leaves the check to the next run: nothing is re-created on doubt.
        """
        ctx = self.ctx
        records = [r for r in ctx.store.open_orders(ctx.account) if r.ss_order_id is not None]
        if not records:
            return set()
        listed: set[int] = set()
        share = ctx.share
        try:
            for status in sorted({r.ss_status for r in records}):
                for order in (
                    share.orders_in_status(ctx.ss, status, ctx.store_id)
                    if share is not None
                    else ctx.ss.orders.list(
                        store_id=ctx.store_id, order_status=status, page_size=LIST_PAGE
                    )
                ):
                    listed.add(order.order_id or 0)
            for order in self._modified_orders(since, until):
                listed.add(order.order_id or 0)
        except BackMarketShipStationError:
            return set()
        gone: set[int] = set()
        for record in records:
            if record.ss_order_id in listed or record.ss_order_id is None:
                continue
            try:
                ctx.ss.orders.get(record.ss_order_id)
            except NotFoundError:
                gone.add(record.bm_order_id)
            except BackMarketShipStationError as exc:
                ctx.fail(report, "import", record.bm_order_id, exc)
        return gone

    def _modified_orders(self, since: datetime, until: datetime) -> Iterable[ShipStationOrder]:
        """The store's orders modified since ``since``: one paged list, or the key pair's
        one list for every account sharing it (:mod:`.shared`)."""
        ctx = self.ctx
        # Pacific wall time, widened across a fall-back (shipstation.md §1.4).
        start = pacific_window_start(since, until)
        if ctx.share is not None:
            return ctx.share.modified_orders(ctx.ss, start, ctx.store_id)
        return ctx.ss.orders.list(
            store_id=ctx.store_id, modify_date_start=start, page_size=LIST_PAGE
        )

    def _accept(self, bm_order: BackMarketOrder, report: AccountReport) -> bool:
        """Accept the paid lines of an importable order; True when a write was made."""
        ctx = self.ctx
        ctx.journal.settle_accepts(bm_order)
        if not ctx.options.accept_orders:
            return False
        if ctx.options.status_map.status_of(bm_order) is not OrderStatus.AWAITING_SHIPMENT:
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
            if not ctx.journal.run_plan(bm_order, writes, "import", report):
                return False  # another run holds these writes: it counts the order
        except BackMarketShipStationError as exc:
            ctx.fail(report, "import", bm_order.order_id, exc)
            return False
        report.accepted += 1
        return not ctx.dry_run

    def _plan_push(
        self, bm_order: BackMarketOrder, report: AccountReport, pending: list[_Pending]
    ) -> None:
        ctx = self.ctx
        order_id = bm_order.order_id
        record = ctx.store.get_order(ctx.account, order_id)
        status = ctx.options.status_map.status_of(bm_order)
        if status is OrderStatus.CANCELLED:
            if record is None or OrderStatus(record.ss_status) not in OPEN_STATUSES:
                report.skipped += 1
                return
            self._plan_cancel(bm_order, record, report, pending)
            return
        if status not in OPEN_STATUSES:
            # Not importable (0, 10, 8) or already shipped on Back Market.
            if record is not None and status is OrderStatus.SHIPPED:
                ctx.remember(record, bm_order)
            report.skipped += 1
            return
        try:
            # A BackShip order carries Back Market's label, so that no second one is bought.
            label = ctx.backship_label(bm_order)
            fresh = ctx.map(bm_order, existing=None, backship=label)
        except BackMarketShipStationError as exc:
            ctx.fail(report, "import", order_id, exc)
            return
        fingerprint = digest(fresh)
        gone = order_id in self._gone
        if record is not None and record.digest == fingerprint and not gone:
            ctx.remember(record, bm_order)
            ctx.clear_failure("import", order_id)
            report.unchanged += 1
            return
        order = fresh
        existing = self._adoptable.pop(order_id, None) if record is None else None
        adopted = existing is not None
        if record is not None and record.ss_order_id is not None and not gone:
            try:
                existing = ctx.ss.orders.get(record.ss_order_id)
            except NotFoundError:
                # Deleted in ShipStation: created again below, never retried against the
                # dead id (which would fail the same way on every run).
                gone = True
            except BackMarketShipStationError as exc:
                ctx.fail(report, "import", order_id, exc)
                return
        if existing is not None:
            if existing.order_status not in OPEN_STATUSES:
                self._remember_locked(bm_order, record, existing, fingerprint, report)
                return
            try:
                order = ctx.map(bm_order, existing=existing, backship=label)
            except BackMarketShipStationError as exc:
                ctx.fail(report, "import", order_id, exc)
                return
        pending.append(
            _Pending(
                bm_order=bm_order,
                order=order,
                digest=fingerprint,
                record=record,
                adopted=adopted,
                recreated=gone and record is not None,
            )
        )

    def _remember_locked(
        self,
        bm_order: BackMarketOrder,
        record: OrderRecord | None,
        existing: ShipStationOrder,
        fingerprint: str,
        report: AccountReport,
    ) -> None:
        """Shipped or cancelled in ShipStation: locked there, nothing to update. An order the
        store did not know is remembered too: the notify loop needs its ShipStation id."""
        ctx = self.ctx
        record = record or OrderRecord(
            account=ctx.account,
            bm_order_id=bm_order.order_id,
            order_key=existing.order_key or ctx.order_key(bm_order.order_id),
            ss_order_id=existing.order_id,
            digest=fingerprint,
            ss_status=str(existing.order_status),
            updated_at=ctx.clock.now(),
        )
        ctx.remember(record, bm_order, ss_status=existing.order_status)
        report.skipped += 1

    def _plan_cancel(
        self,
        bm_order: BackMarketOrder,
        record: OrderRecord,
        report: AccountReport,
        pending: list[_Pending],
    ) -> None:
        ctx = self.ctx
        if record.ss_order_id is None:
            report.skipped += 1
            return
        try:
            existing = ctx.ss.orders.get(record.ss_order_id)
        except NotFoundError:
            # Deleted in ShipStation and cancelled on Back Market: nothing left to cancel.
            ctx.remember(record, bm_order, ss_status=OrderStatus.CANCELLED)
            ctx.clear_failure("import", bm_order.order_id)
            report.skipped += 1
            return
        except BackMarketShipStationError as exc:
            ctx.fail(report, "import", bm_order.order_id, exc)
            return
        if existing.order_status not in OPEN_STATUSES:
            ctx.remember(record, bm_order, ss_status=existing.order_status)
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
        ctx = self.ctx
        if ctx.dry_run:
            for item in pending:
                verb = (
                    "cancel"
                    if item.cancelling
                    else "re-create"
                    if item.recreated
                    else "update"
                    if item.record is not None
                    else "create"
                )
                # Counted as the real run would count them, as accepts already are: a dry
                # run's report says what would happen.
                if item.cancelling:
                    report.cancelled += 1
                elif item.recreated or (item.record is None and not item.adopted):
                    report.imported += 1
                else:
                    report.updated += 1
                report.planned_writes.append(
                    f"shipstation {verb} order {item.order.order_key} "
                    f"(Back Market {item.bm_order.order_id})"
                )
            return
        ctx.lease.check()  # a run that lost the account pushes nothing more
        try:
            outcomes = ctx.upsert_orders([item.order for item in pending])
        except BackMarketShipStationError as exc:
            for item in pending:
                ctx.fail(report, "import", item.bm_order.order_id, exc)
            return
        now = ctx.clock.now()
        refused_unknown: list[tuple[_Pending, str]] = []
        counts = {"cancelled": 0, "imported": 0, "updated": 0}
        recreated: list[tuple[int, int | None]] = []
        # The outcomes are recorded under the lease, and counted only once committed: a run
        # that lost the account meanwhile records and counts none (the new holder pushes
        # them again, unchanged for ShipStation, and counts them).
        with ctx.writing():
            for item, outcome in zip(pending, outcomes, strict=True):
                order_id = item.bm_order.order_id
                if isinstance(outcome, BackMarketShipStationError):
                    # Its batch, shared with other accounts' orders, failed; others went.
                    ctx.fail(report, "import", order_id, outcome)
                    continue
                if outcome is None or not outcome.success:
                    reason = (
                        (outcome.error_message or "rejected without a message")
                        if outcome
                        else "no result for this order"
                    )
                    if item.record is None:
                        refused_unknown.append((item, reason))
                    elif item.recreated:
                        ctx.fail_reason(
                            report,
                            "import",
                            order_id,
                            "ShipStationRejected",
                            "its ShipStation copy was deleted and could not be created again"
                            f" ({reason}); it is still to ship on Back Market",
                        )
                    else:
                        ctx.fail_reason(report, "import", order_id, "ShipStationRejected", reason)
                    continue
                status = item.order.order_status
                ctx.store.put_order(
                    OrderRecord(
                        account=ctx.account,
                        bm_order_id=order_id,
                        order_key=item.order.order_key or ctx.order_key(order_id),
                        ss_order_id=outcome.order_id,
                        digest=item.digest,
                        ss_status=str(status),
                        updated_at=now,
                        bm_snapshot=snapshot(item.bm_order),
                    )
                )
                ctx.store.clear_failure(ctx.account, "import", str(order_id))
                if item.cancelling:
                    counts["cancelled"] += 1
                elif item.recreated or (item.record is None and not item.adopted):
                    counts["imported"] += 1
                    if item.recreated:
                        recreated.append((order_id, outcome.order_id))
                else:
                    counts["updated"] += 1
        report.cancelled += counts["cancelled"]
        report.imported += counts["imported"]
        report.updated += counts["updated"]
        for order_id, ss_order_id in recreated:
            report.warnings.append(
                ReportWarning(
                    stage="import",
                    order_id=order_id,
                    kind="recreated",
                    message=(
                        "its ShipStation copy was deleted while it is still to ship on Back"
                        f" Market: created again as ShipStation order {ss_order_id}"
                        " (the notes typed in the deleted copy are not in it)"
                    ),
                )
            )
        for item, reason in refused_unknown:
            if not self._claim_locked(item, report):
                ctx.fail_reason(
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
        ctx = self.ctx
        order_id = item.bm_order.order_id
        number = str(order_id)
        try:
            found = next(
                (
                    order
                    for order in ctx.ss.orders.list(order_number=number, store_id=ctx.store_id)
                    if order.order_number == number and order.order_key == item.order.order_key
                ),
                None,
            )
        except BackMarketShipStationError:
            return False  # reported as the refusal it is; the next run looks again
        if found is None or found.order_id is None or found.order_status in OPEN_STATUSES:
            return False
        self._remember_locked(item.bm_order, None, found, item.digest, report)
        ctx.clear_failure("import", order_id)
        if found.order_status is OrderStatus.SHIPPED:
            with ctx.writing():
                ctx.store.record_failure(
                    ctx.account,
                    "notify",
                    number,
                    "shipped in ShipStation before its id was stored: looking up its shipment",
                    ctx.clock.now(),
                )
        return True
