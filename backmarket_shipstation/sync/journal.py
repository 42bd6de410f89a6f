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

Runs that overlap (a slow cron run and the next, a ``--watch`` and a manual sync, two hosts
on one store) are kept apart by two more rules:

4. **one run per account**: a run holds the account's lease (:class:`AccountLease`) from
   before its first read to after its last write, renewing it as it goes; every state write
   of the run checks the lease in its own transaction, so a run that lost the lease (paused
   past its expiry, then taken over) raises ``LeaseLostError`` at its next write and stops;
5. **one winner per write**: step 1 is an atomic claim (``SyncStore.claim_write``: insert
   if absent, with the claimant's lease). A ``pending`` record whose claimant holds the live
   lease is in flight and never sent again; one whose claimant is gone is read again (step
   3) and taken over by a compare-and-set on its claimant, so a single run re-sends it. The
   :data:`NOTIFIED` marker is claimed the same way: exactly one run counts a shipment.

These rules live here and nowhere else.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta

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
from ..errors import AccountBusyError, InvalidRequestError, LeaseLostError, NotFoundError
from .report import AccountReport
from .store import Lease, SyncStore, WriteRecord, WriteStatus

__all__ = [
    "NOTIFIED",
    "REFUND_PREFIX",
    "AccountLease",
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

logger = logging.getLogger("backmarket_shipstation.sync")


def new_holder() -> tuple[str, str, int]:
    """A lease holder identity unique to this run: ``(holder, host, pid)``."""
    host = socket.gethostname() or "localhost"
    pid = os.getpid()
    return f"{host}:{pid}:{secrets.token_hex(6)}", host, pid


class AccountLease:
    """A run's hold on one account: taken, renewed while the run works, given back.

    :meth:`check` renews the lease when a third of its expiry has passed since the last
    renewal (the loops call it before each write and as they advance), and
    :meth:`start_renewing` does the same from a background thread, so that a long read
    (a slow listing, a back-off sleep) does not let it expire. :meth:`writing` is the
    transaction every state write of the run goes through: it commits only while the lease
    is still this run's.
    """

    def __init__(self, store: SyncStore, lease: Lease, *, ttl: timedelta, clock: Clock) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._lease = lease
        self._renewed_at = clock.now()
        self._lost: LeaseLostError | None = None
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"AccountLease(account={self.account!r}, holder={self.holder!r})"

    @classmethod
    def acquire(
        cls, store: SyncStore, account: str, *, ttl: timedelta, wait: timedelta, clock: Clock
    ) -> AccountLease | Lease | None:
        """This run's lease on ``account``, or the lease another run holds (or ``None`` if
        that run let go at the very moment we looked), waiting up to ``wait`` for it."""
        holder, host, pid = new_holder()
        deadline = clock.now() + wait
        while True:
            now = clock.now()
            lease = store.acquire_lease(account, holder, host=host, pid=pid, ttl=ttl, now=now)
            if lease is not None:
                return cls(store, lease, ttl=ttl, clock=clock)
            current = store.get_lease(account)
            if current is None:
                continue  # released between the two looks: it is free now
            if now >= deadline:
                return current
            # Poll often enough to follow a run that finishes, and never past the moment
            # the lease it holds would expire.
            pause = timedelta(seconds=0.5)
            if current is not None:
                pause = min(pause, max(current.expires_at - now, timedelta(milliseconds=10)))
            clock.sleep(min(pause, deadline - now).total_seconds())

    @property
    def account(self) -> str:
        return self._lease.account

    @property
    def holder(self) -> str:
        return self._lease.holder

    @property
    def lease(self) -> Lease:
        with self._guard:
            return self._lease

    def check(self) -> None:
        """Raise ``LeaseLostError`` if the lease is lost; renew it when a third is used."""
        # No lock of ours is held while the store works: the other thread (the renewer, or
        # the run) may be inside a store transaction and need this object meanwhile.
        with self._guard:
            if self._lost is not None:
                raise self._lost
            now = self.clock.now()
            if now - self._renewed_at < self.ttl / 3:
                return
            lease = self._lease
        renewed = self.store.renew_lease(lease, ttl=self.ttl, now=now)
        if renewed is None:
            lost = self._lost_error()
            with self._guard:
                self._lost = self._lost or lost
                raise self._lost
        with self._guard:
            if renewed.expires_at > self._lease.expires_at:
                self._lease = renewed
                self._renewed_at = now

    @contextmanager
    def writing(self) -> Iterator[None]:
        """A store transaction that commits only if this run still holds the lease."""
        self.check()
        lease = self.lease
        with self.store.transaction():
            self.store.check_lease(lease, self.clock.now())
            yield

    def claim(self, record: WriteRecord, *, replacing: WriteRecord | None = None) -> bool:
        """Claim a write for this run (see ``SyncStore.claim_write``)."""
        self.check()
        lease = self.lease
        return self.store.claim_write(record, lease, self.clock.now(), replacing=replacing)

    def in_flight(self, record: WriteRecord) -> bool:
        """A ``pending`` record another live run claimed: it is sending it now."""
        if record.status != "pending" or record.claimant in (None, self.holder):
            return False
        current = self.store.get_lease(record.account)
        return (
            current is not None
            and current.holder == record.claimant
            and current.is_live(self.clock.now())
        )

    def start_renewing(self) -> None:
        """Renew from a background thread too, every third of the expiry (real time)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._renew_loop, name=f"lease-{self.account}", daemon=True
        )
        self._thread.start()

    def _renew_loop(self) -> None:
        interval = self.ttl.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                self.check()
            except LeaseLostError:
                return  # the run's next write raises it
            except Exception:  # a store hiccup: the run's own checks decide
                logger.warning("renewing the lease of %s failed", self.account, exc_info=True)

    def release(self) -> None:
        """Stop renewing and give the lease back (a lease lost stays with its new holder)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.store.release_lease(self.lease)

    def _lost_error(self) -> LeaseLostError:
        current = self.store.get_lease(self.account)
        now = self.clock.now()
        other = (
            current.describe()
            if current is not None and current.holder != self.holder and current.is_live(now)
            else None
        )
        return LeaseLostError(self.account, self._lease.describe(), current=other)


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
        self.held: AccountLease | None = None
        """The lease of the run using the journal (set by the engine for each run)."""
        self._leftovers: dict[int, list[WriteRecord]] = {}
        """Writes a crashed run left ``pending``, by order: settled once the order is seen."""

    def __repr__(self) -> str:
        return f"WriteJournal(account={self.account!r})"

    @property
    def lease(self) -> AccountLease:
        if self.held is None:
            raise RuntimeError(f"no run holds the lease of account {self.account} here")
        return self.held

    @contextmanager
    def holding(
        self,
        *,
        ttl: timedelta = timedelta(seconds=60),
        wait: timedelta = timedelta(seconds=30),
        clock: Clock | None = None,
    ) -> Iterator[AccountLease]:
        """Hold the account's lease for the ``with`` block (re-entrant: a lease this journal
        already holds is used as is). For writers outside the sync engine (the Custom Store
        feed and its notices), which hold it for one order at a time.

        Raises ``AccountBusyError`` when another run keeps it for longer than ``wait``.
        """
        if self.held is not None:
            yield self.held
            return
        got = AccountLease.acquire(
            self.store, self.account, ttl=ttl, wait=wait, clock=clock or SystemClock()
        )
        if not isinstance(got, AccountLease):
            raise AccountBusyError(self.account, held_by=got.describe() if got else None)
        self.held = got
        try:
            yield got
        finally:
            self.held = None
            got.release()

    def is_done(self, bm_order_id: int, key: str) -> bool:
        record = self.store.get_write(self.account, bm_order_id, key)
        return record is not None and record.status == "done"

    def was_sent(self, bm_order_id: int, key: str) -> bool:
        """A record exists (``pending`` or ``done``): the write went out or may have."""
        return self.store.get_write(self.account, bm_order_id, key) is not None

    def send(
        self,
        bm_order_id: int,
        write: BackMarketWrite,
        source: str,
        report: AccountReport,
        *,
        replacing: WriteRecord | None = None,
    ) -> bool:
        """Claim one Back Market write, send it, record it ``done``.

        ``False`` (nothing sent) when the claim is lost: another run recorded the write
        first. ``replacing`` is the ``pending`` record of a gone run whose effect was found
        missing: it is taken over only if no other run took it over first.
        """
        key = write_key(write)
        if self.dry_run:
            report.planned_writes.append(f"backmarket {describe_write(write)}")
            return True
        lease = self.lease
        if not lease.claim(
            self.new_record(bm_order_id, key, "pending", source), replacing=replacing
        ):
            logger.info(
                "order %s: write %s already claimed by another run, not sent", bm_order_id, key
            )
            return False
        try:
            self.bm.send(write)
        except (InvalidRequestError, NotFoundError):
            # Refused outright: it did not take effect, so it may be sent again later. Only
            # this run's own claim is forgotten, never one another run made since.
            with self.store.transaction():
                self.store.delete_write(self.account, bm_order_id, key, claimant=lease.holder)
            raise
        # Other errors (timeouts, 5xx after retries) leave the record pending: the next run
        # re-reads the order before deciding. Sent means done, lease or not: it is a fact.
        with self.store.transaction():
            self.store.put_write(self.new_record(bm_order_id, key, "done", source))
        return True

    def run_plan(
        self,
        bm_order: BackMarketOrder,
        plan: Iterable[BackMarketWrite],
        source: str,
        report: AccountReport,
    ) -> bool:
        """Send the writes of ``plan`` not done yet; a ``pending`` one only if it is missing.

        ``False`` when another run has a write of the plan in hand (in flight, or claimed
        first): this run stops the plan there and must not count the order.
        """
        fresh: BackMarketOrder | None = None
        for write in plan:
            key = write_key(write)
            previous = self.store.get_write(self.account, bm_order.order_id, key)
            if previous is not None and previous.status == "done":
                continue
            replacing = None
            if previous is not None and previous.status == "pending" and not self.dry_run:
                if self.lease.in_flight(previous):
                    return False  # its claimant is alive and sending it: never a second one
                # Its run is gone (or this run's own try failed): did it take effect?
                fresh = fresh or self.bm.orders.get(bm_order.order_id)
                if took_effect(write, fresh):
                    self.record(bm_order.order_id, key, "done", source)
                    continue
                replacing = previous
            if not self.send(bm_order.order_id, write, source, report, replacing=replacing):
                return False
        return True

    def record(self, bm_order_id: int, key: str, status: WriteStatus, source: str) -> None:
        """Record a write's state, in a transaction that commits only under the lease."""
        with self.lease.writing():
            self.store.put_write(self.new_record(bm_order_id, key, status, source))

    def new_record(
        self, bm_order_id: int, key: str, status: WriteStatus, source: str
    ) -> WriteRecord:
        """A record of this account's write, claimed by this run's lease holder."""
        return WriteRecord(
            account=self.account,
            bm_order_id=bm_order_id,
            key=key,
            status=status,
            source=source,
            updated_at=self.clock.now(),
            claimant=self.lease.holder,
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

    def mark_notified(self, bm_order_id: int, source: str) -> bool:
        """The whole shipment is reported: claim the :data:`NOTIFIED` marker.

        ``True`` when this run claimed it, so this run (and no other) counts the shipment.
        Writes a crashed run left pending for the order are moot now: recorded done.
        """
        claimed = self.lease.claim(self.new_record(bm_order_id, NOTIFIED, "done", source))
        for write in self._leftovers.pop(bm_order_id, ()):
            # A refund in doubt is not part of the shipment: only a re-read settles it.
            if write.key != NOTIFIED and not write.key.startswith(REFUND_PREFIX):
                self.record(bm_order_id, write.key, "done", write.source)
        return claimed


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
