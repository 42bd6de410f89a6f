"""The export feed: Back Market orders read and mapped ahead of time, served page by page.

An export call must answer fast (shipstation-custom-store.md §1.2: no documented timeout,
keep pages small and quick), so no export page walks Back Market. :class:`FeedRefresher`
reads the orders modified since its cursor (the V1 import's overlap rules), accepts their
paid lines through the write journal (orders not accepted in time are lost), maps them with
the V1 import's rules and keeps each one's rendered ``<Order>`` in :class:`ExportFeed`.

Why a window over *our* record time: ShipStation asks for orders modified between two
instants, then reads the pages one by one. ``LastModified`` is the instant the feed recorded
the order's current content, so an order is in a window when any of its versions was
recorded in it. The set of orders of a past window only grows while ShipStation pages
(a version recorded now is outside it), and orders sort by OrderID: pages never shift, no
order is skipped between two pages. The latest content is always served.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import attrs

from .._convert import UTC
from ..backmarket.client import BackMarketClient
from ..backmarket.models import Order as BackMarketOrder
from ..backmarket.models import OrderLineState, OrderUpdate
from ..clock import Clock
from ..errors import BackMarketShipStationError, UnknownStatusError
from ..mapping import (
    DEFAULT_STATUS_MAP,
    CatalogProduct,
    StatusMap,
    to_shipstation_order,
)
from ..shipstation.models import OrderStatus
from ..sync.journal import WriteJournal, write_key
from ..sync.report import AccountReport
from ..sync.store import SyncStore
from .protocol import DEFAULT_STATUSES, CustomStoreStatuses, render_order

__all__ = [
    "EXPORT_STAGE",
    "PAGE_SIZE",
    "ExportFeed",
    "ExportPage",
    "FeedOptions",
    "FeedRefresher",
    "RefreshReport",
]

PAGE_SIZE = 100
"""Orders per export page: what ShipStation's own Magento plugin and WooCommerce use (§1.2)."""
EXPORT_STAGE = "export"
"""The failure stage of an order that could not be exported (``backmarket-shipstation status``)."""
_CURSOR = "customstore"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS customstore_orders (
    account TEXT NOT NULL, bm_order_id INTEGER NOT NULL, digest TEXT NOT NULL,
    recorded_us INTEGER NOT NULL, fragment TEXT NOT NULL, bm_snapshot TEXT NOT NULL,
    PRIMARY KEY (account, bm_order_id)
);
CREATE TABLE IF NOT EXISTS customstore_versions (
    account TEXT NOT NULL, bm_order_id INTEGER NOT NULL, recorded_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS customstore_versions_window
    ON customstore_versions (account, recorded_us, bm_order_id);
CREATE TABLE IF NOT EXISTS customstore_packages (
    account TEXT NOT NULL, bm_order_id INTEGER NOT NULL, orderline_id INTEGER NOT NULL,
    received_us INTEGER NOT NULL, notification TEXT NOT NULL,
    PRIMARY KEY (account, bm_order_id, orderline_id)
);
"""


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("the feed keeps timezone-aware datetimes only")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@attrs.frozen(kw_only=True)
class ExportPage:
    """One export answer: the rendered orders of page ``page`` of ``pages``."""

    page: int
    pages: int
    orders: tuple[str, ...]
    total: int


class ExportFeed:
    """The rendered orders of every account, in the state file (tables ``customstore_*``).

    Its own SQLite connection on the same file as the :class:`~backmarket_shipstation.sync.
    SQLiteStore` (WAL mode lets both work side by side); thread-safe.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"ExportFeed(path={self.path!r})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ExportFeed:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def digest(self, account: str, bm_order_id: int) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT digest FROM customstore_orders WHERE account = ? AND bm_order_id = ?",
                (account, bm_order_id),
            ).fetchone()
        return None if row is None else str(row[0])

    def snapshot(self, account: str, bm_order_id: int) -> str | None:
        """The Back Market order as last read (JSON), or ``None`` if it was never exported."""
        with self._lock:
            row = self._db.execute(
                "SELECT bm_snapshot FROM customstore_orders WHERE account = ? AND bm_order_id = ?",
                (account, bm_order_id),
            ).fetchone()
        return None if row is None else str(row[0])

    def put(
        self,
        account: str,
        bm_order_id: int,
        *,
        digest: str,
        recorded_at: datetime,
        fragment: str,
        bm_snapshot: str,
    ) -> None:
        """Record a new version of an order (its content changed)."""
        micros = _micros(recorded_at)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO customstore_orders"
                " (account, bm_order_id, digest, recorded_us, fragment, bm_snapshot)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, bm_order_id) DO UPDATE SET"
                " digest = excluded.digest, recorded_us = excluded.recorded_us,"
                " fragment = excluded.fragment, bm_snapshot = excluded.bm_snapshot",
                (account, bm_order_id, digest, micros, fragment, bm_snapshot),
            )
            db.execute(
                "INSERT INTO customstore_versions (account, bm_order_id, recorded_us)"
                " VALUES (?, ?, ?)",
                (account, bm_order_id, micros),
            )

    def touch_snapshot(self, account: str, bm_order_id: int, bm_snapshot: str) -> None:
        """Keep the latest Back Market copy without a new version (content unchanged)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE customstore_orders SET bm_snapshot = ?"
                " WHERE account = ? AND bm_order_id = ?",
                (bm_snapshot, account, bm_order_id),
            )

    def page(
        self,
        account: str,
        start: datetime,
        end: datetime,
        page: int,
        *,
        page_size: int = PAGE_SIZE,
    ) -> ExportPage:
        """Page ``page`` (from 1) of the orders with a version recorded in ``[start, end]``.

        Sorted by Back Market order id, ``page_size`` per page: see the module docstring for
        why pages cannot shift while ShipStation reads them.
        """
        if page < 1:
            raise ValueError("pages count from 1")
        window = (account, _micros(start), _micros(end))
        with self._lock:
            (total,) = self._db.execute(
                "SELECT COUNT(DISTINCT bm_order_id) FROM customstore_versions"
                " WHERE account = ? AND recorded_us BETWEEN ? AND ?",
                window,
            ).fetchone()
            # The ids of the page first, then their fragments by primary key: sorting the
            # whole window with its XML would move megabytes per page.
            ids = [
                int(row[0])
                for row in self._db.execute(
                    "SELECT DISTINCT bm_order_id FROM customstore_versions"
                    " WHERE account = ? AND recorded_us BETWEEN ? AND ?"
                    " ORDER BY bm_order_id LIMIT ? OFFSET ?",
                    (*window, page_size, (page - 1) * page_size),
                )
            ]
            fragments = [
                self._db.execute(
                    "SELECT fragment FROM customstore_orders WHERE account = ? AND bm_order_id = ?",
                    (account, order_id),
                ).fetchone()
                for order_id in ids
            ]
            rows = [row for row in fragments if row is not None]
        pages = max(1, -(-int(total) // page_size))
        return ExportPage(
            page=page, pages=pages, orders=tuple(str(row[0]) for row in rows), total=int(total)
        )

    def put_package(
        self,
        account: str,
        bm_order_id: int,
        orderline_ids: Iterable[int],
        *,
        notification: str,
        received_at: datetime,
    ) -> None:
        """Remember which notice (a split's package) shipped these lines, with its identifiers.

        A later notice for the same line replaces its notification (a corrected IMEI) but
        keeps the first arrival time, which decides the tracking number sent.
        """
        micros = _micros(received_at)
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO customstore_packages"
                " (account, bm_order_id, orderline_id, received_us, notification)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, bm_order_id, orderline_id)"
                " DO UPDATE SET notification = excluded.notification",
                [(account, bm_order_id, line, micros, notification) for line in orderline_ids],
            )

    def packages(self, account: str, bm_order_id: int) -> dict[int, tuple[int, str]]:
        """Orderline id → (arrival, notification JSON) of the notices of a split order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT orderline_id, received_us, notification FROM customstore_packages"
                " WHERE account = ? AND bm_order_id = ?",
                (account, bm_order_id),
            ).fetchall()
        return {int(row[0]): (int(row[1]), str(row[2])) for row in rows}

    def prune(self, account: str, before: datetime) -> int:
        """Forget versions older than ``before`` except each order's latest; returns how many."""
        with self._transaction() as db:
            cursor = db.execute(
                "DELETE FROM customstore_versions WHERE account = ? AND recorded_us < ?"
                " AND recorded_us < (SELECT recorded_us FROM customstore_orders o"
                " WHERE o.account = customstore_versions.account"
                " AND o.bm_order_id = customstore_versions.bm_order_id)",
                (account, _micros(before)),
            )
            return int(cursor.rowcount)


@attrs.frozen(kw_only=True)
class FeedOptions:
    """How one account's orders are read, accepted and exported."""

    accept_orders: bool = True
    """Accept paid lines on Back Market (``new_state`` 2) when they are read: orders not
    accepted in time are lost. Off if you accept them in the Back Market back office."""
    overlap: timedelta = timedelta(minutes=10)
    """How far behind its cursor each read of Back Market reaches (the V1 import's overlap),
    and how much each export window is widened on both sides."""
    initial_lookback: timedelta = timedelta(days=14)
    retention: timedelta = timedelta(days=90)
    """Versions older than this are forgotten (each order's latest is kept): an export
    window reaching further back finds each order by its current version only."""
    statuses: CustomStoreStatuses = DEFAULT_STATUSES
    status_map: StatusMap = DEFAULT_STATUS_MAP
    catalog: Mapping[str, CatalogProduct] | None = None
    order_key_prefix: str = "backmarket-"


@attrs.define(kw_only=True)
class RefreshReport:
    """What one refresh of the feed did."""

    read: int = 0
    recorded: int = 0
    """Orders whose exported content changed (a new ``LastModified``)."""
    accepted: int = 0
    failures: int = 0


class FeedRefresher:
    """Reads an account's orders from Back Market into the :class:`ExportFeed`."""

    def __init__(
        self,
        *,
        account: str,
        backmarket: BackMarketClient,
        store: SyncStore,
        feed: ExportFeed,
        clock: Clock,
        options: FeedOptions = FeedOptions(),
        write_lock: threading.Lock | None = None,
    ) -> None:
        self.account = account
        self.write_lock = write_lock or threading.Lock()
        """Held around each order's Back Market writes; share it with the account's
        :class:`~.shipnotify.NoticeHandler` so that the two never write one order at once."""
        self.bm = backmarket
        self.store = store
        self.feed = feed
        self.clock = clock
        self.options = options
        self.journal = WriteJournal(
            account=account, backmarket=backmarket, store=store, clock=clock, dry_run=False
        )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FeedRefresher(account={self.account!r})"

    def refresh(self) -> RefreshReport:
        """One pass: every order modified since the cursor (minus the overlap), then the
        orders that failed before. One pass at a time per account."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> RefreshReport:
        started = self.clock.now()
        cursor = self.store.get_cursor(self.account, _CURSOR)
        since = (
            started - self.options.initial_lookback
            if cursor is None
            else cursor - self.options.overlap
        )
        result = RefreshReport()
        report = AccountReport(account=self.account, started_at=started)
        self.journal.load_leftovers()
        failed = [
            int(f.ref)
            for f in self.store.failures(self.account)
            if f.stage == EXPORT_STAGE and f.ref.isdigit()
        ]
        seen: set[int] = set()
        for bm_order in self.bm.orders.list(date_modification=since):
            seen.add(bm_order.order_id)
            self._handle(bm_order, result, report)
        for order_id in failed:
            if order_id in seen:
                continue
            try:
                self._handle(self.bm.orders.get(order_id), result, report)
            except BackMarketShipStationError as exc:
                self._fail(order_id, exc, result)
        with self.store.transaction():
            self.store.set_cursor(self.account, _CURSOR, started)
        self.feed.prune(self.account, started - self.options.retention)
        return result

    def _handle(
        self, bm_order: BackMarketOrder, result: RefreshReport, report: AccountReport
    ) -> None:
        result.read += 1
        order_id = bm_order.order_id
        # One writer per account at a time: a notice of this order may be running its plan
        # (which may accept lines too) through the same journal.
        # Across processes (a second server, a sync run on the same state), the account's
        # lease, held for this order's writes only.
        with self.write_lock:
            try:
                with self.journal.holding():
                    accepted = self._accept(bm_order, report)
            except BackMarketShipStationError as exc:
                # Exported all the same (as the V1 import pushes it): the accept is retried
                # with the failure, and the packer can see the order meanwhile.
                self._fail(order_id, exc, result)
                accepted = None
            try:
                if accepted:
                    result.accepted += 1
                    # Back Market reveals the buyer's details once a line is accepted.
                    bm_order = self.bm.orders.get(order_id)
                self._record(bm_order, result)
            except BackMarketShipStationError as exc:
                self._fail(order_id, exc, result)
                return
        if accepted is not None:
            with self.store.transaction():
                self.store.clear_failure(self.account, EXPORT_STAGE, str(order_id))

    def _accept(self, bm_order: BackMarketOrder, report: AccountReport) -> bool:
        """Accept the paid lines of an importable order (as the V1 import does)."""
        self.journal.settle_accepts(bm_order)
        if not self.options.accept_orders:
            return False
        if self.options.status_map.status_of(bm_order) is not OrderStatus.AWAITING_SHIPMENT:
            return False
        writes = [
            OrderUpdate(order_id=bm_order.order_id, new_state=OrderLineState.ACCEPTED, sku=sku)
            for sku in sorted(
                {
                    line.listing
                    for line in bm_order.lines
                    if line.state is OrderLineState.PAID and line.listing
                }
            )
        ]
        sent = False
        for write in writes:
            previous = self.store.get_write(self.account, bm_order.order_id, write_key(write))
            if previous is not None and previous.status == "done":
                continue
            if previous is not None and self.journal.lease.in_flight(previous):
                continue  # another live run is sending it now
            # A pending one (a pass died or Back Market did not answer) whose line is still
            # paid, as just read, did not take effect: it is sent again, as the import does,
            # by taking over its claim (which only one run can do).
            if self.journal.send(
                bm_order.order_id, write, "customstore", report, replacing=previous
            ):
                sent = True
        return sent

    def _record(self, bm_order: BackMarketOrder, result: RefreshReport) -> None:
        options = self.options
        try:
            order = to_shipstation_order(
                bm_order,
                catalog=options.catalog,
                status_map=options.status_map,
                order_key_prefix=options.order_key_prefix,
            )
        except UnknownStatusError:
            return  # not exportable yet (new, pending payment, fraud check): read again later
        snapshot = json.dumps(bm_order.to_dict(), separators=(",", ":"))
        # The content without LastModified decides whether a new version is due.
        fingerprint = hashlib.sha256(
            render_order(
                order,
                last_modified=datetime(2000, 1, 1, tzinfo=UTC),
                statuses=options.statuses,
                currency=bm_order.currency,
                custom_fields=self._custom_fields(bm_order),
            ).encode()
        ).hexdigest()
        if self.feed.digest(self.account, bm_order.order_id) == fingerprint:
            self.feed.touch_snapshot(self.account, bm_order.order_id, snapshot)
            return
        now = self.clock.now()
        fragment = render_order(
            order,
            last_modified=now,
            statuses=options.statuses,
            currency=bm_order.currency,
            custom_fields=self._custom_fields(bm_order),
        )
        self.feed.put(
            self.account,
            bm_order.order_id,
            digest=fingerprint,
            recorded_at=now,
            fragment=fragment,
            bm_snapshot=snapshot,
        )
        result.recorded += 1

    def _custom_fields(self, bm_order: BackMarketOrder) -> tuple[str | None, ...]:
        """CustomField1: the account (for automation rules across accounts);
        CustomField2: Back Market's expected dispatch date, the deadline packers sort by."""
        dispatch = bm_order.expected_dispatch_date
        return (
            self.account,
            dispatch.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if dispatch else None,
        )

    def _fail(self, order_id: int, exc: BackMarketShipStationError, result: RefreshReport) -> None:
        result.failures += 1
        with self.store.transaction():
            self.store.record_failure(
                self.account, EXPORT_STAGE, str(order_id), str(exc), self.clock.now()
            )
