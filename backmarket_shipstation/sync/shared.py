"""What the accounts on one ShipStation key pair share in one cycle: polls, stores, createorders.

An agency's sellers are usually stores of one ShipStation account, behind one key pair whose
40 requests a minute they all share (shipstation.md §1.2). Polled store by store, K accounts
cost K times one account's calls. One :class:`KeyPairShare` per key pair and cycle (one
``run_sync`` call, one ``--watch`` iteration) makes those reads once for all of them:

- the labels created since the earliest window any account asks for (``GET /shipments``
  without ``storeId``: each shipment carries ``advancedOptions.storeId``, shipstation.md §3.5),
  the voided labels, the mark-as-shipped records (``GET /fulfillments`` has no store filter at
  all, §3.6: every account already read them unfiltered), and the shipped orders whose
  Internal Notes the notify loop reads;
- the orders the import lists before it writes (the first run's read, the deleted-copies
  check), routed by the ``advancedOptions.storeId`` every order carries (§2.5);
- the store check's ``GET /stores``, and the catalog of a source the accounts share
  (``catalog = "shipstation"``: the products are the ShipStation account's, not a store's);
- ``createorders``: orders of accounts importing at the same time go in batches of up to 100
  across accounts; each keeps its own account's ``orderKey`` and ``storeId``.

Each account still filters what it gets to its own store and window, keeps its own cursors,
records and report, and reads single orders itself. A shared poll was made at one instant, its
``as_of``: an account advances its notify cursor to no later than that instant, so a label
created after the poll (while other accounts ran) is in that account's next window, never
skipped. When an account asks further back than the poll went, only the missing span is read
(one bounded list), and the poll's ``as_of`` stays what it was.

A share lives in one process. Accounts on one key pair that run in different processes do not
share (each polls for itself, as one account alone does), and nothing is lost either way.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Generic, TypeVar

import attrs

from ..clock import Clock, Waiting, waiting_on_others
from ..errors import BackMarketShipStationError
from ..mapping import Catalog
from ..shipstation.client import ShipStationClient
from ..shipstation.models import (
    PACIFIC,
    BulkUpsertOrderResult,
    BulkUpsertResult,
    Fulfillment,
    OrderStatus,
    Shipment,
    Store,
)
from ..shipstation.models import Order as ShipStationOrder
from .catalog import CatalogSource

__all__ = ["UPSERT_CHUNK", "KeyPairShare", "Outcome", "aligned_outcomes"]

UPSERT_CHUNK = 100
"""ShipStation's createorders takes at most 100 orders per call."""
LIST_PAGE = 500
"""ShipStation's largest page."""
_SPAN_SLACK = timedelta(minutes=1)
"""A missing span's end reaches this far into the span already read (records read twice are
de-duplicated), so that a record at the seam is in one of the two whatever the end's rounding."""

Outcome = BulkUpsertOrderResult | BackMarketShipStationError | None
"""One order's outcome of createorders: ShipStation's result, the error of the call that
carried it (a combined batch can fail while another of the same account's orders went
through), or ``None`` when ShipStation gave no result for it."""

T = TypeVar("T")


def aligned_outcomes(orders: Sequence[ShipStationOrder], result: BulkUpsertResult) -> list[Outcome]:
    """Each order's result, by ``orderKey``, else by position (a result without a key)."""
    by_key = {r.order_key: r for r in result.results or () if r.order_key}
    found: list[Outcome] = []
    for index, order in enumerate(orders):
        outcome = by_key.get(order.order_key or "")
        if outcome is None and result.results and index < len(result.results):
            outcome = result.results[index]
        found.append(outcome)
    return found


def _wall(instant: datetime) -> datetime:
    """Pacific wall time, as ShipStation compares its date filters (shipstation.md §1.4)."""
    return instant.astimezone(PACIFIC).replace(tzinfo=None)


def _at_or_after(when: datetime | None, start: datetime | None) -> bool:
    """``when`` is in a window starting at ``start``, compared as ShipStation does."""
    return start is None or when is None or _wall(when) >= _wall(start)


def _store_of(record: Shipment | ShipStationOrder) -> int | None:
    options = record.advanced_options
    return options.store_id if options is not None else None


def _for_store(record: Shipment | ShipStationOrder, store_id: int | None) -> bool:
    """Routed by ``advancedOptions.storeId``; a record without one goes to every account,
    which keeps only what its own records prove its own (as it did with a store filter)."""
    found = _store_of(record)
    return found is None or found == store_id


class _Window(Generic[T]):
    """One unfiltered list over the widest window asked for so far in this cycle."""

    def __init__(self, ident: Callable[[T], int | None], clock: Clock) -> None:
        self._ident = ident
        self._clock = clock
        self._lock = _Lock(clock)
        self.start: datetime | None = None
        self.read = False
        self.as_of: datetime | None = None
        self.records: list[T] = []
        self._seen: set[int] = set()

    def covers(self, start: datetime | None) -> bool:
        return self.read and (self.start is None or (start is not None and start >= self.start))

    def get(
        self,
        start: datetime | None,
        fetch: Callable[[datetime | None, datetime | None], Iterable[T]],
    ) -> tuple[list[T], datetime]:
        """The records from ``start`` on (or all, without one) and the instant they are as of.

        ``fetch(start, end)`` lists the records from ``start`` up to ``end`` (no end: up to
        now). The first call reads from ``start``; a later one further back reads only the
        span before what was read. An error propagates and leaves nothing recorded: the next
        asker tries again.
        """
        with self._lock.held():
            if not self.read:
                as_of = self._clock.now()
                self._add(fetch(start, None))
                self.start, self.as_of, self.read = start, as_of, True
            elif not self.covers(start):
                assert self.start is not None
                self._add(fetch(start, self.start + _SPAN_SLACK))
                self.start = start
            assert self.as_of is not None
            return list(self.records), self.as_of  # a copy: another asker may extend it

    def _add(self, records: Iterable[T]) -> None:
        for record in records:
            ident = self._ident(record)
            if ident is not None:
                if ident in self._seen:
                    continue
                self._seen.add(ident)
            self.records.append(record)


class _Lock:
    """A lock whose waiters tell the clock they wait on another worker (the holder, making a
    poll), and are woken on the clock before they are signalled (see ``clock.Waiting``)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._held = False
        self._waiters: set[Waiting] = set()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._cond:
            while self._held:
                with waiting_on_others(self._clock) as waiting:
                    self._waiters.add(waiting)
                    try:
                        self._cond.wait()
                    finally:
                        self._waiters.discard(waiting)
            self._held = True
        try:
            yield
        finally:
            with self._cond:
                self._held = False
                for waiting in self._waiters:
                    waiting.wake()
                self._cond.notify_all()


@attrs.define(eq=False)
class _Entry:
    """One account's orders at the combiner, and what became of each."""

    orders: list[ShipStationOrder]
    outcomes: list[Outcome]
    taken: int = 0
    """Orders handed to a batch so far (taken in order)."""
    answered: int = 0
    crashed: BaseException | None = None
    """Not an API error (the process is going down): raised in the submitter too."""

    @property
    def done(self) -> bool:
        return self.answered == len(self.orders) or self.crashed is not None


class _Combiner:
    """createorders batches of up to 100 orders across the accounts importing at once.

    A full batch of one account goes at once. Smaller ones wait here until 100 orders are
    gathered or every account of the key pair that runs and has not finished its import is
    waiting here (none will add more before it gets its answers; :meth:`expect`,
    :meth:`finished`); then the waiter that sees it sends the batch, with
    its own client, and the outcomes go back order by order. Not concurrent (accounts run
    one after another): every call goes at once, nothing ever waits.
    """

    def __init__(self, clock: Clock, *, concurrent: bool) -> None:
        self._clock = clock
        self._concurrent = concurrent
        self._cond = threading.Condition()
        self._expected: set[str] = set()
        """Accounts running now that have not finished their import: they may still come."""
        self._waiting = 0
        self._queue: deque[_Entry] = deque()
        self._sleepers: set[Waiting] = set()
        self.calls = 0
        """createorders calls sent through the combiner (for the benchmark's figures)."""

    def _wake_all(self) -> None:
        """Under the lock: every waiter runs again (on the clock first, then signalled), to
        look whether its orders are answered or a batch is due."""
        for waiting in self._sleepers:
            waiting.wake()
        self._cond.notify_all()

    def expect(self, account: str) -> None:
        with self._cond:
            self._expected.add(account)

    def finished(self, account: str) -> None:
        with self._cond:
            if account in self._expected:
                self._expected.discard(account)
                self._wake_all()  # the waiters may be all that is left

    def upsert(self, ss: ShipStationClient, orders: Sequence[ShipStationOrder]) -> list[Outcome]:
        orders = list(orders)
        if not orders:
            return []
        if not self._concurrent or len(orders) >= UPSERT_CHUNK:
            with self._cond:
                self.calls += 1
            return aligned_outcomes(orders, ss.orders.upsert_many(orders))
        entry = _Entry(orders=orders, outcomes=[None] * len(orders))
        with self._cond:
            self._queue.append(entry)
            self._waiting += 1
            try:
                while not entry.done:
                    batch = self._take()
                    if batch:
                        self._cond.release()
                        try:
                            self._send(ss, batch)
                        finally:
                            self._cond.acquire()
                            self._wake_all()
                        continue
                    # Waiting for the other accounts' orders or answers, not for time.
                    with waiting_on_others(self._clock) as waiting:
                        self._sleepers.add(waiting)
                        try:
                            self._cond.wait()
                        finally:
                            self._sleepers.discard(waiting)
            finally:
                self._waiting -= 1
                if not entry.done and entry in self._queue:
                    self._queue.remove(entry)  # the submitter is going down: nothing left to send
                self._wake_all()
        if entry.crashed is not None:
            raise entry.crashed
        first = entry.outcomes[0]
        if isinstance(first, BackMarketShipStationError) and all(
            o is first for o in entry.outcomes
        ):
            raise first  # the one call that carried them all failed: as if sent alone
        return entry.outcomes

    def _take(self) -> list[tuple[_Entry, int]]:
        """The next batch, when one is due (called with the lock held)."""
        queued = sum(len(e.orders) - e.taken for e in self._queue)
        if not queued or (queued < UPSERT_CHUNK and self._waiting < len(self._expected)):
            return []
        batch: list[tuple[_Entry, int]] = []
        keys: set[str] = set()
        for entry in self._queue:
            while entry.taken < len(entry.orders) and len(batch) < UPSERT_CHUNK:
                key = entry.orders[entry.taken].order_key or ""
                if key and key in keys:
                    break  # two accounts with one orderKey: never in one call (the next batch)
                keys.add(key)
                batch.append((entry, entry.taken))
                entry.taken += 1
            if len(batch) >= UPSERT_CHUNK:
                break
        while self._queue and self._queue[0].taken == len(self._queue[0].orders):
            self._queue.popleft()
        return batch

    def _send(self, ss: ShipStationClient, batch: list[tuple[_Entry, int]]) -> None:
        orders = [entry.orders[index] for entry, index in batch]
        with self._cond:
            self.calls += 1
        outcomes: list[Outcome]
        try:
            outcomes = aligned_outcomes(orders, ss.orders.upsert_many(orders))
        except BackMarketShipStationError as exc:
            outcomes = [exc] * len(orders)
        except BaseException as exc:
            with self._cond:
                for entry, _ in batch:
                    entry.crashed = exc
            raise
        with self._cond:
            for (entry, index), outcome in zip(batch, outcomes, strict=True):
                entry.outcomes[index] = outcome
                entry.answered += 1


class KeyPairShare:
    """The reads and writes the accounts of one ShipStation key pair share in one cycle.

    Made by :func:`~backmarket_shipstation.sync.run_sync` for every key pair two or more of
    its accounts use, and given to each of those accounts' runs; see the module docstring.
    ``concurrent`` says whether the accounts run at the same time (``parallel`` > 1): only
    then do createorders calls wait for each other.
    """

    def __init__(self, *, clock: Clock, concurrent: bool = False) -> None:
        self._clock = clock
        self._stores_lock = _Lock(clock)
        self._stores: list[Store] | None = None
        self._shipments: _Window[Shipment] = _Window(lambda s: s.shipment_id, clock)
        self._voided: _Window[Shipment] = _Window(lambda s: s.shipment_id, clock)
        self._fulfillments: _Window[Fulfillment] = _Window(lambda f: f.fulfillment_id, clock)
        self._shipped: _Window[ShipStationOrder] = _Window(lambda o: o.order_id, clock)
        self._modified: _Window[ShipStationOrder] = _Window(lambda o: o.order_id, clock)
        self._by_status: dict[str, _Window[ShipStationOrder]] = {}
        self._status_lock = threading.Lock()
        self._combiner = _Combiner(clock, concurrent=concurrent)
        self._catalogs_lock = _Lock(clock)
        self._catalogs: dict[int, tuple[CatalogSource, Catalog]] = {}

    def __repr__(self) -> str:
        return f"KeyPairShare(concurrent={self._combiner._concurrent})"

    @property
    def upsert_calls(self) -> int:
        """createorders calls made through this share so far."""
        return self._combiner.calls

    def catalog(self, source: CatalogSource, ss: ShipStationClient) -> Catalog:
        """``source.load(ss)``, once per cycle and source: accounts given the same source
        (``catalog = "shipstation"`` in one configuration) read the products once."""
        with self._catalogs_lock.held():
            found = self._catalogs.get(id(source))
            if found is None:
                found = (source, source.load(ss))  # the source is kept: its id stays its own
                self._catalogs[id(source)] = found
            return found[1]

    def stores(self, ss: ShipStationClient) -> list[Store]:
        """``GET /stores?showInactive=true``, once per cycle (the store check's list)."""
        with self._stores_lock.held():
            if self._stores is None:
                self._stores = ss.stores.list(show_inactive=True)
            return self._stores

    def shipments(
        self, ss: ShipStationClient, start: datetime, store_id: int | None
    ) -> tuple[list[Shipment], datetime]:
        """The store's labels created from ``start`` on, and the instant the poll is as of."""
        records, as_of = self._shipments.get(
            start,
            lambda since, end: ss.shipments.list(
                create_date_start=since, create_date_end=end, page_size=LIST_PAGE
            ),
        )
        return [
            s for s in records if _for_store(s, store_id) and _at_or_after(s.create_date, start)
        ], as_of

    def voided(
        self, ss: ShipStationClient, start: datetime, store_id: int | None
    ) -> tuple[list[Shipment], datetime]:
        """The store's labels voided from ``start`` on, and the instant the poll is as of."""
        records, as_of = self._voided.get(
            start,
            lambda since, end: ss.shipments.list(
                void_date_start=since, void_date_end=end, page_size=LIST_PAGE
            ),
        )
        return [
            s for s in records if _for_store(s, store_id) and _at_or_after(s.void_date, start)
        ], as_of

    def fulfillments(
        self, ss: ShipStationClient, start: datetime
    ) -> tuple[list[Fulfillment], datetime]:
        """Every mark-as-shipped record from ``start`` on (no store filter exists: each
        account keeps those of its own orders), and the instant the poll is as of."""
        records, as_of = self._fulfillments.get(
            start,
            lambda since, end: ss.fulfillments.list(
                create_date_start=since, create_date_end=end, page_size=LIST_PAGE
            ),
        )
        return [f for f in records if _at_or_after(f.create_date, start)], as_of

    def labelled(self) -> int:
        """ShipStation orders with a live label or mark-as-shipped record in the polls, every
        store's: those the notify loops of the key pair may have to read."""
        records: list[Shipment | Fulfillment] = [*self._shipments.records]
        records.extend(self._fulfillments.records)
        return len({r.order_id for r in records if not r.voided and r.order_id is not None})

    def earliest_label(self) -> datetime | None:
        """The creation of the oldest record the label polls hold, every store's: reading the
        shipped orders from there (less the overlap) serves every account with one list."""
        records: list[Shipment | Fulfillment] = [*self._shipments.records]
        records.extend(self._fulfillments.records)
        return min((r.create_date for r in records if r.create_date), default=None)

    def has_shipped_orders(self, start: datetime | None) -> bool:
        """The shipped orders modified from ``start`` on were read already (no call)."""
        return self._shipped.covers(start)

    def shipped_orders(
        self, ss: ShipStationClient, start: datetime | None, store_id: int | None
    ) -> list[ShipStationOrder]:
        """The store's shipped orders modified from ``start`` on (their Internal Notes)."""
        records, _ = self._shipped.get(
            start,
            lambda since, end: ss.orders.list(
                order_status=OrderStatus.SHIPPED,
                modify_date_start=since,
                modify_date_end=end,
                page_size=LIST_PAGE,
            ),
        )
        return [o for o in records if _for_store(o, store_id)]

    def modified_orders(
        self, ss: ShipStationClient, start: datetime, store_id: int | None
    ) -> list[ShipStationOrder]:
        """The store's orders modified from ``start`` on (the import's reads before it writes)."""
        records, _ = self._modified.get(
            start,
            lambda since, end: ss.orders.list(
                modify_date_start=since, modify_date_end=end, page_size=LIST_PAGE
            ),
        )
        return [
            o for o in records if _for_store(o, store_id) and _at_or_after(o.modify_date, start)
        ]

    def orders_in_status(
        self, ss: ShipStationClient, status: str, store_id: int | None
    ) -> list[ShipStationOrder]:
        """The store's orders in ``status`` now (the deleted-copies check)."""
        with self._status_lock:
            window = self._by_status.setdefault(status, _Window(lambda o: o.order_id, self._clock))
        records, _ = window.get(
            None, lambda _since, _end: ss.orders.list(order_status=status, page_size=LIST_PAGE)
        )
        return [o for o in records if _for_store(o, store_id)]

    def expect(self, account: str) -> None:
        """``account`` runs now and will import: partial createorders batches wait for it.

        The runner calls it for the accounts it starts at once before their threads start
        (so that none is missed by a batch sent before its thread got going), and each
        account's run calls it again as it begins (idempotent)."""
        self._combiner.expect(account)

    def finished(self, account: str) -> None:
        """``account`` will send no more orders this cycle (its import is over, it was
        skipped, or its run stopped): the batches no longer wait for it (idempotent)."""
        self._combiner.finished(account)

    def upsert(self, ss: ShipStationClient, orders: Sequence[ShipStationOrder]) -> list[Outcome]:
        """createorders for these orders, in batches across accounts (see :class:`_Combiner`);
        each order's outcome, in order. Raises the call's error when it carried them all."""
        return self._combiner.upsert(ss, orders)
