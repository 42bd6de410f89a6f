"""What both loops of one account's run share: clients, state, options and the bookkeeping.

The import loop (:mod:`.import_loop`) and the notify loop (:mod:`.notify_loop`) each hold an
:class:`AccountContext`; it owns the write journal (:mod:`.journal`) and the helpers both loops
use to read orders, remember them, record failures and move cursors, so that each rule is
written once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import cast

import attrs

from ..backmarket.client import BackMarketClient
from ..backmarket.models import Delivery, OrderLineState
from ..backmarket.models import Order as BackMarketOrder
from ..clock import Clock
from ..errors import BackMarketShipStationError, LeaseLostError, MappingError, StateStoreError
from ..mapping import Catalog, order_key_for, to_shipstation_order
from ..shipstation.client import ShipStationClient
from ..shipstation.models import Order as ShipStationOrder
from ..shipstation.models import OrderStatus
from .catalog import CatalogSource
from .journal import AccountLease, WriteJournal
from .options import SyncOptions
from .report import AccountReport, Failure
from .shared import KeyPairShare, Outcome, aligned_outcomes
from .store import OrderRecord, SyncStore

__all__ = ["AccountContext", "Progress"]

logger = logging.getLogger("backmarket_shipstation.sync")

Progress = Callable[[str, int], None]
"""Called as ``progress(stage, count)`` while a loop advances (``count`` orders so far)."""

OPEN_STATUSES = frozenset(
    {OrderStatus.AWAITING_PAYMENT, OrderStatus.AWAITING_SHIPMENT, OrderStatus.ON_HOLD}
)
"""ShipStation statuses in which an order can still be changed."""
_UNREAD = object()
"""The catalog of a source not read yet this run."""
LIST_PAGE = 500
"""ShipStation's largest page: one list call replaces up to this many single reads."""


class AccountContext:
    """One account's clients, store, options and journal, and the helpers both loops use."""

    def __init__(
        self,
        *,
        account: str,
        backmarket: BackMarketClient,
        shipstation: ShipStationClient,
        store: SyncStore,
        store_id: int | None,
        options: SyncOptions,
        clock: Clock,
        progress: Progress | None,
    ) -> None:
        self.account = account
        self.bm = backmarket
        self.ss = shipstation
        self.store = store
        self.store_id = store_id
        self.options = options
        self.clock = clock
        self.progress = progress
        self.journal = WriteJournal(
            account=account,
            backmarket=backmarket,
            store=store,
            clock=clock,
            dry_run=options.dry_run,
        )
        self._catalog: Catalog | CatalogSource | object | None = _UNREAD
        self.share: KeyPairShare | None = None
        """The polls and createorders batches of the accounts on this ShipStation key pair,
        for the current run (:mod:`.shared`); ``None``: the account reads for itself."""

    def __repr__(self) -> str:
        return f"AccountContext(account={self.account!r}, store_id={self.store_id!r})"

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    @property
    def lease(self) -> AccountLease:
        """The account's lease, held by this run (the engine takes it before the loops)."""
        return self.journal.lease

    def writing(self) -> AbstractContextManager[None]:
        """The transaction of every state write: it commits only while the lease is ours."""
        return self.lease.writing()

    def map(
        self,
        bm_order: BackMarketOrder,
        *,
        existing: ShipStationOrder | None,
        backship: Delivery | None = None,
    ) -> ShipStationOrder:
        return to_shipstation_order(
            bm_order,
            existing=existing,
            store_id=self.store_id,
            catalog=self.catalog(),
            status_map=self.options.status_map,
            order_key_prefix=self.options.order_key_prefix,
            backship=backship,
        )

    def backship_label(self, bm_order: BackMarketOrder) -> Delivery | None:
        """The Back Market label of a BackShip order, once a line is accepted (one call);
        ``None`` for any other order and before Back Market made it."""
        if not bm_order.is_backship or not any(
            line.state in (OrderLineState.ACCEPTED, OrderLineState.SHIPPED)
            for line in bm_order.lines
        ):
            return None
        return self.bm.shipping.label_for(bm_order.order_id)

    def catalog(self) -> Catalog | None:
        """This run's catalog; a :class:`CatalogSource` is read once, at the first call
        (the import loop makes it first, so that a failure stops the loop, not each order)."""
        if self._catalog is _UNREAD:
            source = self.options.catalog
            if isinstance(source, CatalogSource):
                share = self.share
                self._catalog = share.catalog(source, self.ss) if share else source.load(self.ss)
            else:
                self._catalog = source
        return cast("Catalog | None", self._catalog)

    def order_key(self, bm_order_id: int) -> str:
        return order_key_for(bm_order_id, prefix=self.options.order_key_prefix)

    def backmarket_order(
        self, record: OrderRecord, report: AccountReport
    ) -> BackMarketOrder | None:
        """The order as stored at its last import, or read again when that copy is unusable."""
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
            self.fail(report, "notify", record.bm_order_id, exc)
            return None

    def read_shipstation_order(
        self, ss_order_id: int, bm_order_id: int, stage: str, report: AccountReport
    ) -> ShipStationOrder | None:
        """The order, or ``None`` once the failure is recorded for ``stage`` to retry."""
        try:
            return self.ss.orders.get(ss_order_id)
        except BackMarketShipStationError as exc:
            self.fail(report, stage, bm_order_id, exc)
            return None

    def read_orders(
        self, order_ids: Iterable[int], stage: str, report: AccountReport
    ) -> Iterator[BackMarketOrder]:
        for order_id in order_ids:
            try:
                yield self.bm.orders.get(order_id)
            except BackMarketShipStationError as exc:
                self.fail(report, stage, order_id, exc)

    def retry_orders(self, stage: str, report: AccountReport) -> Iterator[BackMarketOrder]:
        refs = self.failed_refs(stage)
        return self.read_orders((int(ref) for ref in refs if ref.isdigit()), stage, report)

    def failed_refs(self, stage: str) -> list[str]:
        """The orders ``stage`` failed on in earlier runs (to retry them)."""
        return [f.ref for f in self.store.failures(self.account) if f.stage == stage]

    def remember(
        self,
        record: OrderRecord,
        bm_order: BackMarketOrder,
        *,
        ss_status: OrderStatus | None = None,
    ) -> None:
        if self.dry_run:
            return
        with self.writing():
            self.store.put_order(
                attrs.evolve(
                    record,
                    bm_snapshot=snapshot(bm_order),
                    ss_status=str(ss_status) if ss_status is not None else record.ss_status,
                    updated_at=self.clock.now(),
                )
            )

    def upsert_orders(self, orders: list[ShipStationOrder]) -> list[Outcome]:
        """createorders for up to 100 orders: each one's outcome, in order. Through the
        key pair's share when there is one (batched with other accounts' orders)."""
        if self.share is not None:
            return self.share.upsert(self.ss, orders)
        return aligned_outcomes(orders, self.ss.orders.upsert_many(orders))

    def since(self, loop: str, started: datetime) -> datetime:
        cursor = self.store.get_cursor(self.account, loop)
        if cursor is None:
            return started - self.options.initial_lookback
        return cursor - self.options.overlap

    def advance(self, loop: str, started: datetime) -> None:
        if self.dry_run:
            return
        with self.writing():
            self.store.set_cursor(self.account, loop, started)

    def fail(self, report: AccountReport, stage: str, order_id: int, exc: BaseException) -> None:
        if isinstance(exc, (StateStoreError, LeaseLostError)):
            # Not this order's fault: the run stops (a store it cannot use, or a lease lost
            # to another run, which goes on with the work).
            raise exc
        reason = exc.detail if isinstance(exc, MappingError) else str(exc)
        self.fail_reason(report, stage, order_id, type(exc).__name__, reason)

    def fail_reason(
        self, report: AccountReport, stage: str, order_id: int, error: str, reason: str
    ) -> None:
        logger.warning("%s failed for order %s: %s", stage, order_id, reason)
        report.failures.append(Failure(stage=stage, order_id=order_id, error=error, reason=reason))
        if not self.dry_run:
            with self.writing():
                self.store.record_failure(
                    self.account, stage, str(order_id), reason, self.clock.now(), error=error
                )

    def clear_failure(self, stage: str, order_id: int) -> None:
        if not self.dry_run:
            with self.writing():
                self.store.clear_failure(self.account, stage, str(order_id))

    def progress_tick(self, stage: str, count: int) -> None:
        self.lease.check()  # renews the lease as the loop advances; stops a run that lost it
        if self.progress is not None:
            self.progress(stage, count)


def digest(order: ShipStationOrder) -> str:
    """A fingerprint of a mapped order: an unchanged one costs no write."""
    payload = json.dumps(order.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def snapshot(bm_order: BackMarketOrder) -> str:
    return json.dumps(bm_order.to_dict(), separators=(",", ":"))


def backmarket_id(order_number: str | None) -> int | None:
    """The Back Market order id a ShipStation ``orderNumber`` names, if it names one."""
    text = (order_number or "").strip()
    return int(text) if text.isdigit() else None
