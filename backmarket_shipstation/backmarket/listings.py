"""Back Market listings and batch tasks: ``bm.listings`` and ``bm.tasks``.

Endpoints as data (pure ``*_request`` builders), then thin sync and async facades over the
shared core, as in :mod:`.client`. Back Market's own limits (backmarket.md §6.2, A.1) are
enforced by the client's budgets before anything is sent, never discovered through 429s:

- every listing endpoint (``/ws/listings...``) spends one request of the **catalog** budget,
  about 20 requests per 10 s (a TypeScript community limiter buckets ``/ws/listings`` as
  catalog; which endpoints Back Market counts is not documented);
- a listing update spends one **SKU line** and a CSV batch one per data line, of about 2,000
  per hour across both update endpoints. Beyond the budget a write waits for room, or is
  refused with :class:`~backmarket_shipstation.errors.BudgetExhaustedError` (``over_budget``).

Task polling (``GET /ws/tasks/{id}``) is not a catalog endpoint and only counts towards the
general limit of the client.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Generator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import attrs

from .._http import AsyncCore, AsyncPaginator, Paginator, Recheck, Request, SyncCore, query
from .listing_models import (
    BatchTask,
    Listing,
    ListingPage,
    ListingUpdate,
    Task,
    TaskOutcome,
    TaskOutcomeKind,
    TaskStatus,
)
from .regions import ALL_COUNTRY_CODES

if TYPE_CHECKING:
    from .._http import Budget

__all__ = [
    "CATALOG",
    "MAX_BATCH_LINES",
    "SKU_LINES",
    "AsyncListings",
    "AsyncTasks",
    "Listings",
    "OverBudget",
    "Tasks",
    "WaitSchedule",
    "batch_request",
    "get_listing_request",
    "get_task_request",
    "list_listings_request",
    "listing_detail_request",
    "update_listing_request",
]

CATALOG = "catalog"
"""The budget of requests to catalog endpoints (about 20 per 10 s)."""
SKU_LINES = "sku_lines"
"""The budget of SKU lines written by listing updates (about 2,000 per hour)."""
MAX_BATCH_LINES = 15_000
"""At most this many lines in one CSV file of ``POST /ws/listings`` (header included)."""
PAGE_SIZE = 50

OverBudget = Literal["wait", "refuse"]
"""What a listing write does when the hourly SKU-line budget has no room: wait for it, or
raise :class:`~backmarket_shipstation.errors.BudgetExhaustedError` without sending."""

_CATALOG_SPEND = ((CATALOG, 1),)


def _sku_wait(over_budget: OverBudget) -> tuple[tuple[str, float | None], ...]:
    # "wait" may mean most of an hour: the client's max_budget_wait does not apply.
    return ((SKU_LINES, None if over_budget == "wait" else 0.0),)


def _market(market: str | None) -> tuple[tuple[str, str], ...]:
    if market is None:
        return ()
    code = market.lower()
    if code not in ALL_COUNTRY_CODES:
        raise ValueError(f"unknown Back Market market {market!r} (e.g. fr-fr, de-de, en-us)")
    return (("Accept-Language", code),)


def _listing_path(listing_id: str | int) -> str:
    text = str(listing_id).strip()
    if not text or "/" in text or "?" in text:
        raise ValueError(f"not a listing id: {listing_id!r}")
    return f"/ws/listings/{text}"


def _parse_listing(body: Any) -> Listing:
    return Listing.from_dict(body)


def _parse_page(body: Any) -> ListingPage:
    return ListingPage.from_dict(body)


def list_listings_request(
    *,
    publication_state: int | None = None,
    min_quantity: int | None = None,
    max_quantity: int | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    market: str | None = None,
) -> Request[ListingPage]:
    """``GET /ws/listings``: one page. ``market`` (an ``Accept-Language`` code) picks the
    market whose prices and comments are exported."""
    if not 1 <= page_size <= PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {PAGE_SIZE}")
    if publication_state is not None and not 0 <= publication_state <= 4:
        raise ValueError("publication_state is 0 to 4")
    params = query(
        publication_state=publication_state,
        min_quantity=min_quantity,
        max_quantity=max_quantity,
        page=page,
        **{"page-size": page_size},
    )
    return Request(
        method="GET",
        path="/ws/listings",
        params=params,
        parse=_parse_page,
        idempotent=True,
        headers=_market(market),
        budgets=_CATALOG_SPEND,
    )


def next_listings_page(
    request: Request[ListingPage], page: ListingPage, seen: int
) -> Request[ListingPage] | None:
    """Page ``n + 1`` while ``next`` is set and the page was not empty."""
    if not page.next or not page.results:
        return None
    current = int(request.param("page") or "1")
    return request.with_param("page", str(current + 1))


def get_listing_request(listing_id: str | int, *, market: str | None = None) -> Request[Listing]:
    """``GET /ws/listings/{listingId}``: by UUID (preferred) or deprecated integer id."""
    return Request(
        method="GET",
        path=_listing_path(listing_id),
        parse=_parse_listing,
        idempotent=True,
        headers=_market(market),
        budgets=_CATALOG_SPEND,
    )


def listing_detail_request(
    *,
    sku: str | None = None,
    listing_id: int | None = None,
    id: str | None = None,
    market: str | None = None,
) -> Request[Listing]:
    """``GET /ws/listings/detail``: one listing by exactly one of ``sku``, ``listing_id``
    (deprecated integer) or ``id`` (UUID)."""
    given = {"sku": sku, "listing_id": listing_id, "id": id}
    chosen = {k: v for k, v in given.items() if v is not None}
    if len(chosen) != 1:
        raise ValueError("give exactly one of sku, listing_id and id")
    if sku is not None and not sku.strip():
        raise ValueError("sku is empty")
    return Request(
        method="GET",
        path="/ws/listings/detail",
        params=query(**chosen),
        parse=_parse_listing,
        idempotent=True,
        headers=_market(market),
        budgets=_CATALOG_SPEND,
    )


def _check_update(update: ListingUpdate) -> None:
    body = update.to_dict()
    if not body:
        raise ValueError("a listing update needs at least one field to change")
    if update.quantity is not None and update.quantity < 0:
        raise ValueError("quantity cannot be negative (0 takes the listing offline)")
    if update.price is not None and update.price <= 0:
        raise ValueError("price must be positive")
    if update.comment is not None and len(update.comment) > 500:
        raise ValueError("comment is at most 500 characters")
    if update.warranty_delay is not None and update.warranty_delay < 12:
        raise ValueError("warranty_delay is at least 12 months")


def _update_took_effect(listing: Listing, update: ListingUpdate) -> bool:
    """Whether a re-read listing shows the update, leaning towards "yes" for stock.

    A quantity at or below the one written counts as applied: Back Market lowers stock by
    itself on each order, so a listing that took the write and then sold one shows less, and
    sending the write again would put the sold unit back on sale (an oversale). The price and
    text fields must be equal.
    """
    if update.quantity is not None and (
        listing.quantity is None or listing.quantity > update.quantity
    ):
        return False
    checks: tuple[tuple[object, object], ...] = (
        (update.price, listing.price),
        (update.comment, listing.comment),
        (update.warranty_delay, listing.warranty_delay),
        (update.min_price, listing.min_price),
    )
    return all(wanted is None or wanted == seen for wanted, seen in checks)


def update_listing_request(
    listing_id: str | int,
    update: ListingUpdate,
    *,
    market: str | None = None,
    over_budget: OverBudget = "wait",
) -> Request[Listing]:
    """``POST /ws/listings/{listingId}``: change one listing in real time.

    Spends one catalog request and one SKU line. Not resent blindly after an unclear
    failure (a timeout, a 5xx): the core re-reads the listing and sends again only if the
    write did not take effect (see :func:`_update_took_effect`).
    """
    _check_update(update)
    headers = _market(market)

    def confirm(listing: Listing) -> Listing | None:
        return listing if _update_took_effect(listing, update) else None

    return Request(
        method="POST",
        path=_listing_path(listing_id),
        json=update.to_dict(),
        parse=_parse_listing,
        idempotent=False,
        recheck=Recheck(request=get_listing_request(listing_id, market=market), confirm=confirm),
        headers=headers,
        budgets=(*_CATALOG_SPEND, (SKU_LINES, 1)),
        budget_waits=_sku_wait(over_budget),
    )


def _render_catalog(
    rows: Sequence[Mapping[str, object]], delimiter: str, quotechar: str
) -> tuple[str, int]:
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    if "sku" not in columns:
        raise ValueError("every catalog row needs a sku column")
    out = io.StringIO()
    writer = csv.writer(
        out,
        delimiter=delimiter,
        quotechar=quotechar,
        lineterminator="\n",
        quoting=csv.QUOTE_MINIMAL,
    )
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else str(row.get(c)) for c in columns])
    return out.getvalue().rstrip("\n"), len(rows)


def _count_lines(catalog: str, delimiter: str, quotechar: str) -> int:
    reader = csv.reader(io.StringIO(catalog), delimiter=delimiter, quotechar=quotechar)
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    if not rows or "sku" not in [c.strip().lower() for c in rows[0]]:
        raise ValueError("the catalog's first line names the columns, and one of them is sku")
    return len(rows) - 1


def batch_request(
    catalog: str | Sequence[Mapping[str, object]],
    *,
    delimiter: str = ",",
    quotechar: str = '"',
    encoding: str = "utf-8",
    over_budget: OverBudget = "wait",
) -> Request[BatchTask]:
    """``POST /ws/listings``: create or update listings from CSV, asynchronously.

    ``catalog`` is the CSV text (first line: the column names, one of them ``sku``) or rows
    to render as CSV (``[{"sku": "A1", "quantity": 3, "price": "129.00"}, ...]``). At most
    15,000 lines. Spends one catalog request and one SKU line per data line; a catalog
    larger than the hourly budget can never fit (``ValueError``: split it). Back Market
    advises against batches for stock (not real time): use :func:`update_listing_request`.
    """
    if len(delimiter) != 1 or len(quotechar) != 1:
        raise ValueError("delimiter and quotechar are one character each")
    if isinstance(catalog, str):
        text, lines = catalog, _count_lines(catalog, delimiter, quotechar)
    else:
        if not catalog:
            raise ValueError("the catalog has no rows")
        text, lines = _render_catalog(catalog, delimiter, quotechar)
    if lines < 1:
        raise ValueError("the catalog has no data line")
    if lines + 1 > MAX_BATCH_LINES:
        raise ValueError(f"a catalog has at most {MAX_BATCH_LINES} lines (header included)")

    def parse(body: Any) -> BatchTask:
        task_id = body.get("bodymessage") if isinstance(body, Mapping) else None
        if isinstance(task_id, str) and task_id.strip().isdigit():
            task_id = int(task_id)
        if not isinstance(task_id, int) or isinstance(task_id, bool):
            from ..errors import PayloadError

            raise PayloadError("backmarket.BatchTask", "bodymessage", "expected the task id")
        return BatchTask(task_id=task_id, lines=lines)

    return Request(
        method="POST",
        path="/ws/listings",
        json={
            "catalog": text,
            "quotechar": quotechar,
            "delimiter": delimiter,
            "encoding": encoding,
        },
        parse=parse,
        idempotent=False,
        budgets=(*_CATALOG_SPEND, (SKU_LINES, lines)),
        budget_waits=_sku_wait(over_budget),
    )


def get_task_request(task_id: int) -> Request[Task]:
    """``GET /ws/tasks/{taskId}``: the state of a batch task."""
    return Request(
        method="GET",
        path=f"/ws/tasks/{int(task_id)}",
        parse=lambda body: Task.from_dict(body),
        idempotent=True,
    )


# --------------------------------------------------------------------------------------
# Waiting for a task: one schedule for both modes
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class WaitSchedule:
    """How to poll a batch task: first after ``first`` seconds, then each wait ``factor``
    times longer up to ``longest``, giving up after ``timeout`` seconds.

    Back Market says a task takes about 5 minutes on average; the defaults poll at 15 s,
    22 s, 34 s... then every 2 minutes, for up to 30 minutes (about 20 polls).
    """

    timeout: float = 1800.0
    first: float = 15.0
    factor: float = 1.5
    longest: float = 120.0

    def __attrs_post_init__(self) -> None:
        if self.timeout < 0 or self.first <= 0 or self.factor < 1 or self.longest <= 0:
            raise ValueError("a wait schedule needs positive waits and a factor of at least 1")


_Poll = Request[Task]
_Step = float | _Poll


def _wait_steps(task_id: int, schedule: WaitSchedule) -> Generator[_Step, Any, TaskOutcome]:
    """Sleep, poll, repeat: yields a float (seconds to sleep) or the poll request (the
    caller sends back the :class:`Task`)."""
    waited = 0.0
    polls = 0
    wait = schedule.first
    while True:
        pause = min(wait, schedule.timeout - waited)
        if pause > 0:
            yield pause
            waited += pause
        task: Task = yield get_task_request(task_id)
        polls += 1
        status = task.action_status
        if (
            status is TaskStatus.SUCCESS
            or status is TaskStatus.FAILED
            or waited >= schedule.timeout
        ):
            kind: TaskOutcomeKind = (
                "success"
                if status is TaskStatus.SUCCESS
                else "failure"
                if status is TaskStatus.FAILED
                else "timeout"
            )
            return TaskOutcome(
                outcome=kind,
                task_id=task_id,
                task=task,
                skus=task.sku_results,
                polls=polls,
                waited=waited,
            )
        wait = min(schedule.longest, wait * schedule.factor)


# --------------------------------------------------------------------------------------
# Facades
# --------------------------------------------------------------------------------------


class _ListingsBase:
    _core: SyncCore | AsyncCore
    _over_budget: OverBudget

    def _choice(self, over_budget: OverBudget | None) -> OverBudget:
        return self._over_budget if over_budget is None else over_budget

    @property
    def _sku_budget(self) -> Budget:
        return self._core.budgets[SKU_LINES]

    def sku_lines_available(self) -> int:
        """SKU lines that can be written right now without waiting (shared by every client
        of the same token in the process)."""
        return self._sku_budget.available()

    @property
    def sku_lines_per_hour(self) -> int:
        """The hourly SKU-line budget this client keeps to."""
        limit, seconds = self._sku_budget.windows[0]
        return math.floor(limit * 3600 / seconds)


def _update(
    quantity: int | None,
    price: Decimal | str | None,
    currency: str | None,
    comment: str | None,
    warranty_delay: int | None,
    min_price: Decimal | str | None,
) -> ListingUpdate:
    return ListingUpdate(
        quantity=quantity,
        price=None if price is None else Decimal(price),
        currency=currency,
        comment=comment,
        warranty_delay=warranty_delay,
        min_price=None if min_price is None else Decimal(min_price),
    )


class Listings(_ListingsBase):
    """``bm.listings``: read and change the seller's listings."""

    def __init__(self, core: SyncCore, *, over_budget: OverBudget = "wait") -> None:
        self._core: SyncCore = core
        self._over_budget = over_budget

    def list(
        self,
        *,
        publication_state: int | None = None,
        min_quantity: int | None = None,
        max_quantity: int | None = None,
        page_size: int = PAGE_SIZE,
        market: str | None = None,
    ) -> Paginator[ListingPage, Listing]:
        """Every matching listing, fetched lazily 50 per page (one catalog request each)."""
        first = list_listings_request(
            publication_state=publication_state,
            min_quantity=min_quantity,
            max_quantity=max_quantity,
            page_size=page_size,
            market=market,
        )
        return Paginator(self._core.send, first, lambda p: p.results, next_listings_page)

    def get(self, listing_id: str | int, *, market: str | None = None) -> Listing:
        """One listing by its UUID (or deprecated integer id)."""
        return self._core.send(get_listing_request(listing_id, market=market))

    def get_by_sku(self, sku: str, *, market: str | None = None) -> Listing:
        """One listing by the seller's SKU (``/ws/listings/detail?sku=``)."""
        return self._core.send(listing_detail_request(sku=sku, market=market))

    def update(
        self,
        listing_id: str | int,
        update: ListingUpdate,
        *,
        market: str | None = None,
        over_budget: OverBudget | None = None,
    ) -> Listing:
        """Send a :class:`ListingUpdate`; ``market`` is the market of its price and comment."""
        request = update_listing_request(
            listing_id, update, market=market, over_budget=self._choice(over_budget)
        )
        return self._core.send(request)

    def edit(
        self,
        listing_id: str | int,
        *,
        quantity: int | None = None,
        price: Decimal | str | None = None,
        currency: str | None = None,
        comment: str | None = None,
        warranty_delay: int | None = None,
        min_price: Decimal | str | None = None,
        market: str | None = None,
        over_budget: OverBudget | None = None,
    ) -> Listing:
        """Change some fields of one listing: ``quantity`` for every market (0 = offline),
        the others for ``market`` (default: the client's ``Accept-Language``)."""
        update = _update(quantity, price, currency, comment, warranty_delay, min_price)
        return self.update(listing_id, update, market=market, over_budget=over_budget)

    def set_quantity(
        self, listing_id: str | int, quantity: int, *, over_budget: OverBudget | None = None
    ) -> Listing:
        """Set the stock of one listing, for every market (0 takes it offline)."""
        return self.update(listing_id, ListingUpdate(quantity=quantity), over_budget=over_budget)

    def take_offline(
        self, listing_id: str | int, *, over_budget: OverBudget | None = None
    ) -> Listing:
        """Quantity 0: the listing goes offline on every market."""
        return self.set_quantity(listing_id, 0, over_budget=over_budget)

    def batch(
        self,
        catalog: str | Sequence[Mapping[str, object]],
        *,
        delimiter: str = ",",
        quotechar: str = '"',
        encoding: str = "utf-8",
        over_budget: OverBudget | None = None,
    ) -> BatchTask:
        """Submit a CSV batch (``POST /ws/listings``); poll it with ``bm.tasks.wait``."""
        request = batch_request(
            catalog,
            delimiter=delimiter,
            quotechar=quotechar,
            encoding=encoding,
            over_budget=self._choice(over_budget),
        )
        return self._core.send(request)


class AsyncListings(_ListingsBase):
    """``bm.listings`` of the asyncio client."""

    def __init__(self, core: AsyncCore, *, over_budget: OverBudget = "wait") -> None:
        self._core: AsyncCore = core
        self._over_budget = over_budget

    def list(
        self,
        *,
        publication_state: int | None = None,
        min_quantity: int | None = None,
        max_quantity: int | None = None,
        page_size: int = PAGE_SIZE,
        market: str | None = None,
    ) -> AsyncPaginator[ListingPage, Listing]:
        """Every matching listing (``async for``), fetched lazily 50 per page."""
        first = list_listings_request(
            publication_state=publication_state,
            min_quantity=min_quantity,
            max_quantity=max_quantity,
            page_size=page_size,
            market=market,
        )
        return AsyncPaginator(self._core.send, first, lambda p: p.results, next_listings_page)

    async def get(self, listing_id: str | int, *, market: str | None = None) -> Listing:
        """One listing by its UUID (or deprecated integer id)."""
        return await self._core.send(get_listing_request(listing_id, market=market))

    async def get_by_sku(self, sku: str, *, market: str | None = None) -> Listing:
        """One listing by the seller's SKU."""
        return await self._core.send(listing_detail_request(sku=sku, market=market))

    async def update(
        self,
        listing_id: str | int,
        update: ListingUpdate,
        *,
        market: str | None = None,
        over_budget: OverBudget | None = None,
    ) -> Listing:
        """Send a :class:`ListingUpdate`."""
        request = update_listing_request(
            listing_id, update, market=market, over_budget=self._choice(over_budget)
        )
        return await self._core.send(request)

    async def edit(
        self,
        listing_id: str | int,
        *,
        quantity: int | None = None,
        price: Decimal | str | None = None,
        currency: str | None = None,
        comment: str | None = None,
        warranty_delay: int | None = None,
        min_price: Decimal | str | None = None,
        market: str | None = None,
        over_budget: OverBudget | None = None,
    ) -> Listing:
        """Change some fields of one listing (see :meth:`Listings.edit`)."""
        update = _update(quantity, price, currency, comment, warranty_delay, min_price)
        return await self.update(listing_id, update, market=market, over_budget=over_budget)

    async def set_quantity(
        self, listing_id: str | int, quantity: int, *, over_budget: OverBudget | None = None
    ) -> Listing:
        """Set the stock of one listing, for every market (0 takes it offline)."""
        return await self.update(
            listing_id, ListingUpdate(quantity=quantity), over_budget=over_budget
        )

    async def take_offline(
        self, listing_id: str | int, *, over_budget: OverBudget | None = None
    ) -> Listing:
        """Quantity 0: the listing goes offline on every market."""
        return await self.set_quantity(listing_id, 0, over_budget=over_budget)

    async def batch(
        self,
        catalog: str | Sequence[Mapping[str, object]],
        *,
        delimiter: str = ",",
        quotechar: str = '"',
        encoding: str = "utf-8",
        over_budget: OverBudget | None = None,
    ) -> BatchTask:
        """Submit a CSV batch (``POST /ws/listings``)."""
        request = batch_request(
            catalog,
            delimiter=delimiter,
            quotechar=quotechar,
            encoding=encoding,
            over_budget=self._choice(over_budget),
        )
        return await self._core.send(request)


class Tasks:
    """``bm.tasks``: the CSV batch tasks."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def get(self, task_id: int) -> Task:
        """The state of one task."""
        return self._core.send(get_task_request(task_id))

    def wait(self, task_id: int, schedule: WaitSchedule | None = None) -> TaskOutcome:
        """Poll until the task succeeds or fails, or the schedule's timeout passes."""
        steps = _wait_steps(task_id, schedule or WaitSchedule())
        answer: Any = None
        while True:
            try:
                step = steps.send(answer)
            except StopIteration as done:
                outcome: TaskOutcome = done.value
                return outcome
            if isinstance(step, Request):
                answer = self._core.send(step)
            else:
                self._core.clock.sleep(step)
                answer = None


class AsyncTasks:
    """``bm.tasks`` of the asyncio client."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    async def get(self, task_id: int) -> Task:
        """The state of one task."""
        return await self._core.send(get_task_request(task_id))

    async def wait(self, task_id: int, schedule: WaitSchedule | None = None) -> TaskOutcome:
        """Poll until the task succeeds or fails, or the schedule's timeout passes."""
        steps = _wait_steps(task_id, schedule or WaitSchedule())
        answer: Any = None
        while True:
            try:
                step = steps.send(answer)
            except StopIteration as done:
                outcome: TaskOutcome = done.value
                return outcome
            if isinstance(step, Request):
                answer = await self._core.send(step)
            else:
                await self._core.clock.asleep(step)
                answer = None
