"""The two-way sync: Back Market orders into ShipStation, ShipStation shipments back, once.

One :class:`SyncEngine` serves one account (a Back Market account bound to one ShipStation
store). :meth:`SyncEngine.run` runs two loops, each in a module of its own:

**import** (:mod:`.import_loop`)
    Back Market orders modified since the import cursor are accepted, read back, mapped and
    upserted to ShipStation in bulk under deterministic ``orderKey`` s; the seller's edits in
    ShipStation survive; orders cancelled on Back Market are cancelled in ShipStation.

**notify** (:mod:`.notify_loop`)
    ShipStation labels and mark-as-shipped records since the notify cursor become shipment
    notifications (IMEIs and serial numbers from the Internal Notes, checked) and Back
    Market writes. An order whose identifiers are missing or invalid is reported and retried
    on the next run; nothing is sent for it, and it never holds the others back.

Exactly once: every Back Market write goes through the write journal (:mod:`.journal`),
claimed ``pending`` before it is sent and recorded ``done`` after; a ``pending`` record left
by a crash makes the next run re-read the order to learn whether the write took effect.
One run at a time per account: :meth:`SyncEngine.run` takes the account's lease before its
first read and gives it back after its last write; an account another run holds is skipped
(``AccountReport.held_by``) or waited for (``SyncOptions.lease_wait``).
ShipStation upserts are keyed by ``orderKey`` so repeating one never duplicates an order.
Cursors move only after a loop has finished.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from ..backmarket.client import BackMarketClient
from ..clock import Clock, SystemClock
from ..errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BackMarketShipStationError,
    FirewallBlockedError,
    LeaseLostError,
    PayloadError,
    PermissionDeniedError,
    StateStoreError,
)
from ..shipstation.client import ShipStationClient
from ..shipstation.models import Fulfillment, Shipment, Store
from .context import AccountContext, Progress
from .import_loop import ImportLoop
from .journal import AccountLease
from .notify_loop import NotifyLoop
from .options import SyncOptions
from .report import AccountError, AccountReport, Failure
from .shared import KeyPairShare
from .store import RunRecord, SyncStore
from .store_check import check_store

__all__ = ["Progress", "SyncEngine", "SyncOptions"]

logger = logging.getLogger("backmarket_shipstation.sync")


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
        lease_clock: Clock | None = None,
    ) -> None:
        self._lease_clock = lease_clock or SystemClock()
        """The account lease's time: real time by default, whatever ``clock`` is, since a
        lease is about whether a process is alive (a virtual clock's sleeps jump ahead)."""
        self._ctx = AccountContext(
            account=account,
            backmarket=backmarket,
            shipstation=shipstation,
            store=store,
            store_id=store_id,
            options=options or SyncOptions(),
            clock=clock or SystemClock(),
            progress=progress,
        )

    def __repr__(self) -> str:
        return f"SyncEngine(account={self.account!r}, store_id={self.store_id!r})"

    @property
    def account(self) -> str:
        return self._ctx.account

    @property
    def bm(self) -> BackMarketClient:
        return self._ctx.bm

    @property
    def ss(self) -> ShipStationClient:
        return self._ctx.ss

    @property
    def store(self) -> SyncStore:
        return self._ctx.store

    @property
    def store_id(self) -> int | None:
        return self._ctx.store_id

    @property
    def options(self) -> SyncOptions:
        return self._ctx.options

    @property
    def clock(self) -> Clock:
        return self._ctx.clock

    def run(self, *, share: KeyPairShare | None = None) -> AccountReport:
        """Import, then notify. Errors of single orders are in the report, never raised.

        The account's lease is taken first: when another run holds it (and does not let go
        within ``options.lease_wait``) nothing is read or written and the report says who
        holds it (:attr:`AccountReport.held_by`). A run that loses the lease midway (paused
        past its expiry, and taken over) stops at its next write, with a ``lease`` failure.
        An error that stops the whole account (credentials the API refused, a wrong store
        id, the state store out of reach) ends the run and is the report's
        :attr:`~AccountReport.error`, with the counts of what was done before: in a run of
        several accounts, the others go on.

        ``share``: the polls and createorders batches of the other accounts on this
        ShipStation key pair in this cycle (:mod:`.shared`; ``run_sync`` makes it); without
        it the account reads for itself.
        """
        report = AccountReport(
            account=self.account, started_at=self.clock.now(), dry_run=self.options.dry_run
        )
        self._ctx.share = share
        if share is not None:
            share.expect(self.account)
        try:
            with self._holding(report) as held:
                try:
                    # The store check is a read: under the lease, as everything else.
                    if held and self._store_checked(report):
                        self._loops(report)
                except BackMarketShipStationError as exc:
                    self._account_stopped(report, exc)
                report.finished_at = self.clock.now()
                if held:
                    # A run stopped by an error is recorded too: `status` then shows the
                    # setting to fix, not the last run that went well.
                    self._record_run(report)
        except BackMarketShipStationError as exc:
            self._account_stopped(report, exc)
            report.finished_at = self.clock.now()
        finally:
            if share is not None:
                share.finished(self.account)  # skipped or stopped: nothing more to batch
            self._ctx.share = None  # a share is one cycle's: never kept for the next
        return report

    def _account_stopped(self, report: AccountReport, exc: BackMarketShipStationError) -> None:
        logger.warning("account %s stopped: %s", self.account, exc)
        report.error = AccountError.of(exc)

    def _record_run(self, report: AccountReport) -> None:
        """Keep the run as the account's last one (for ``status``), under the lease: a run
        that lost the account to another records nothing (the other's run is the last).
        A dry run changes no state, this record included."""
        lease = self._ctx.journal.held
        if self.options.dry_run or lease is None or report.finished_at is None:
            return
        record = RunRecord(
            account=self.account,
            started_at=report.started_at,
            finished_at=report.finished_at,
            host=lease.lease.host,
            pid=lease.lease.pid,
            imported=report.imported,
            updated=report.updated,
            unchanged=report.unchanged,
            accepted=report.accepted,
            cancelled=report.cancelled,
            notified=report.notified,
            skipped=report.skipped,
            failed=report.failed,
            warnings=len(report.warnings),
            stopped=tuple(report.stopped),
            error=None if report.error is None else report.error.message,
        )
        try:
            with lease.writing():
                self.store.record_run(record)
        except LeaseLostError:
            logger.info(
                "account %s: lease lost, this run is not recorded as the last", self.account
            )

    def _loops(self, report: AccountReport) -> None:
        for stage, loop in (("import", self.import_orders), ("notify", self.notify_shipments)):
            try:
                loop(report)
            except LeaseLostError as exc:
                logger.warning("account %s: %s; stopping", self.account, exc)
                report.failures.append(
                    Failure(
                        stage="lease",
                        order_id="-",
                        error=type(exc).__name__,
                        reason=f"{exc}: stopped before its next write, the new holder goes on",
                    )
                )
                return
            except (AuthenticationError, PermissionDeniedError) as exc:
                if not isinstance(exc, FirewallBlockedError):
                    raise  # credentials the API refused: every loop would fail the same way
                self._stopped(report, stage, exc)
            except StateStoreError:
                raise  # the state is out of reach: the next run resumes from what was committed
            except (APIError, APIConnectionError, PayloadError) as exc:
                # An API that stays down (after the client's retries), answers garbage, or a
                # base URL that is not the API (404): an outage, exit code 3, not an order's
                # failure. Its cursor did not move, so the next run covers the same window.
                self._stopped(report, stage, exc)
            except BackMarketShipStationError as exc:
                # Not the APIs (a catalog file that cannot be read...): the orders failed.
                self._stopped(report, stage, exc, outage=False)

    @contextmanager
    def _holding(self, report: AccountReport) -> Iterator[bool]:
        """Hold the account's lease for the ``with`` block: ``True``, or ``False`` (and
        ``report.held_by`` set) when another run holds it. Re-entrant within one run."""
        journal = self._ctx.journal
        if journal.held is not None:
            yield True
            return
        got = AccountLease.acquire(
            self.store,
            self.account,
            ttl=self.options.lease_expiry,
            wait=self.options.lease_wait,
            clock=self._lease_clock,
        )
        if not isinstance(got, AccountLease):
            report.held_by = got
            logger.info(
                "account %s skipped: another run holds it (%s)",
                self.account,
                got.describe() if got else "?",
            )
            yield False
            return
        journal.held = got
        got.start_renewing()
        try:
            yield True
        finally:
            journal.held = None
            got.release()

    def check_store(self) -> Store:
        """The account's ShipStation store, if it exists, is active and this key pair sees it
        (one ``GET /stores``); ``ConfigurationError`` naming the id otherwise, and when no
        store id is set. :meth:`run` calls it first; a long-running caller (the webhook
        receiver) calls it once at start."""
        share = self._ctx.share
        stores = share.stores(self.ss) if share is not None else None
        return check_store(self.ss, self.store_id, account=self.account, stores=stores)

    def _store_checked(self, report: AccountReport) -> bool:
        """The ShipStation store is checked before anything is accepted on Back Market (see
        :mod:`.store_check`); False when an outage prevented the check (both loops stop).

        A store id that is unset, unknown or inactive raises ``ConfigurationError`` (exit 2),
        as refused credentials do: every run would fail the same way.
        """
        try:
            self.check_store()
        except (AuthenticationError, PermissionDeniedError) as exc:
            if not isinstance(exc, FirewallBlockedError):
                raise
            outage: BackMarketShipStationError = exc
        except (APIError, APIConnectionError, PayloadError) as exc:
            outage = exc
        else:
            return True
        logger.warning("ShipStation store of account %s not checked: %s", self.account, outage)
        report.stopped.extend(("import", "notify"))
        report.failures.append(
            Failure(
                stage="import",
                order_id="-",
                error=type(outage).__name__,
                reason=(
                    f"could not check ShipStation store {self.store_id} ({outage}); nothing was"
                    " accepted or sent, the next run starts over"
                ),
            )
        )
        return False

    def _stopped(
        self,
        report: AccountReport,
        stage: str,
        exc: BackMarketShipStationError,
        *,
        outage: bool = True,
    ) -> None:
        logger.warning("%s loop of account %s stopped: %s", stage, self.account, exc)
        if outage:
            report.stopped.append(stage)
        report.failures.append(
            Failure(
                stage=stage,
                order_id="-",
                error=type(exc).__name__,
                reason=f"the {stage} loop stopped ({exc}); the next run starts over",
            )
        )

    def import_orders(self, report: AccountReport) -> None:
        """The import loop (see :mod:`.import_loop`), under the account's lease."""
        with self._holding(report) as held:
            if held:
                ImportLoop(self._ctx).run(report)

    def notify_shipments(
        self,
        report: AccountReport,
        shipments: Iterable[Shipment | Fulfillment] | None = None,
    ) -> None:
        """The notify loop (see :mod:`.notify_loop`), under the account's lease.

        With ``shipments`` (say, the labels a SHIP_NOTIFY webhook announced), only those are
        reported and the cursor stays where it is: the next poll still covers them, so a
        notification lost on the way is caught up, and one already sent is not sent again.
        Called outside :meth:`run`, it takes the lease for the call; when another run holds
        the account it does nothing (``report.held_by``): that run's poll reports them.
        """
        with self._holding(report) as held:
            if held:
                NotifyLoop(self._ctx).run(report, shipments)
