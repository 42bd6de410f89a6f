"""The Back Market seller API clients: :class:`BackMarketClient` and :class:`AsyncBackMarketClient`.

Every endpoint is described once, by a pure builder below (``*_request`` functions return a
:class:`~backmarket_shipstation._http.Request`); the two clients are thin facades that run
those requests through the shared core (auth, throttle, retry, errors) in their own mode.

>>> with BackMarketClient(token="...", user_agent="BM-Acme-Sync;ops@acme.example") as bm:
...     for order in bm.orders.list(state=OrderState.TO_ACCEPT):   # doctest: +SKIP
...         bm.orders.accept(order.order_id, order.lines[0].listing)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeAlias

from .._http import (
    DEFAULT_CLOCK,
    AsyncClientBase,
    AsyncCore,
    AsyncPaginator,
    Budget,
    Paginator,
    Recheck,
    Request,
    RetryPolicy,
    Secret,
    SharedState,
    SlidingWindowLimiter,
    SyncClientBase,
    SyncCore,
    backmarket_error,
    limiter_for,
    no_content,
    query,
)
from .._imei import is_valid_imei
from ..clock import Clock
from ..errors import ConfigurationError, InvalidIMEIError, InvalidSerialNumberError
from .care import CARE_BUDGETS, AsyncCare, Care
from .listings import CATALOG, SKU_LINES, AsyncListings, AsyncTasks, Listings, OverBudget, Tasks
from .models import (
    BackMarketWrite,
    Order,
    OrderlineIdentifiers,
    OrderlineIdentifiersUpdate,
    OrderLineState,
    OrderPage,
    OrderState,
    OrderUpdate,
    ReturnReason,
)
from .regions import ALL_COUNTRY_CODES, Region
from .shipping import AsyncShipping, Shipping

if TYPE_CHECKING:
    import httpx  # only in annotations: httpx loads when a client is built

    from ..rate_limits import RateLimits

__all__ = [
    "AsyncBackMarketClient",
    "BackMarketClient",
    "InvoiceFile",
    "get_order_request",
    "list_orders_request",
    "update_order_request",
    "update_orderline_request",
    "upload_invoice_request",
    "validate_user_agent",
    "write_request",
]

PAGE_SIZE = 50
"""Back Market's maximum ``page-size`` (the default is 10: never rely on it)."""

BACKMARKET_RETRY_POLICY = RetryPolicy(rate_limited_wait=10.0)
"""Cloudflare blocks for 10 s after a 429 and says so in no header."""

_USER_AGENT_RE = re.compile(r"BM-[^-;\s]+-[^;\s][^;]*;[^@;\s]+@[^@;\s]+\.[^@;\s]+")
_USER_AGENT_FORM = "BM-{Company}-{Integration};{contact email}, e.g. BM-Acme-ShipSync;ops@acme.com"

InvoiceFile: TypeAlias = bytes | tuple[str, bytes]
"""An invoice to upload: the PDF bytes, or ``(file name, bytes)``."""


def validate_user_agent(user_agent: str | None) -> str:
    """Check the User-Agent Back Market requires; :class:`ConfigurationError` naming the form."""
    if not user_agent or not user_agent.strip():
        raise ConfigurationError(
            f"Back Market requires a User-Agent of the form {_USER_AGENT_FORM}"
        )
    value = user_agent.strip()
    if _USER_AGENT_RE.fullmatch(value) is None:
        raise ConfigurationError(
            f"malformed Back Market User-Agent {value!r}: expected {_USER_AGENT_FORM}"
        )
    return value


def _rfc3339(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("Back Market date filters need a timezone-aware datetime")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------
# Endpoints as data (pure builders)
# --------------------------------------------------------------------------------------


def _parse_order(body: Any) -> Order:
    return Order.from_dict(body)


def _parse_order_page(body: Any) -> OrderPage:
    return OrderPage.from_dict(body)


def list_orders_request(
    *,
    state: OrderState | int | None = None,
    date_creation: datetime | str | None = None,
    date_modification: datetime | str | None = None,
    country_code: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Request[OrderPage]:
    """``GET /ws/orders``: one page, filtered. Dates are sent as RFC 3339 UTC (``...Z``)."""
    if not 1 <= page_size <= PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {PAGE_SIZE}")
    if country_code is not None and country_code.lower() not in ALL_COUNTRY_CODES:
        raise ValueError(f"unknown Back Market country code {country_code!r}")
    params = query(
        state=None if state is None else int(state),
        date_creation=None if date_creation is None else _rfc3339(date_creation),
        date_modification=None if date_modification is None else _rfc3339(date_modification),
        country_code=None if country_code is None else country_code.lower(),
        page=page,
        **{"page-size": page_size},
    )
    return Request(
        method="GET", path="/ws/orders", params=params, parse=_parse_order_page, idempotent=True
    )


def next_orders_page(
    request: Request[OrderPage], page: OrderPage, seen: int
) -> Request[OrderPage] | None:
    """Page ``n + 1`` while ``next`` is set and the page was not empty (backmarket.md §3.1)."""
    if not page.next or not page.results:
        return None
    current = int(request.param("page") or "1")
    return request.with_param("page", str(current + 1))


def get_order_request(order_id: int) -> Request[Order]:
    """``GET /ws/orders/{order_id}``: one order, not wrapped."""
    return Request(
        method="GET", path=f"/ws/orders/{int(order_id)}", parse=_parse_order, idempotent=True
    )


_TARGET_STATES: Mapping[OrderLineState, frozenset[OrderLineState]] = {
    # A state the line can only have reached through the write (or after it).
    OrderLineState.ACCEPTED: frozenset(
        {
            OrderLineState.ACCEPTED,
            OrderLineState.SHIPPED,
            OrderLineState.REFUNDED_BEFORE_SHIPPING,
            OrderLineState.REFUNDED_AFTER_SHIPPING,
        }
    ),
    OrderLineState.SHIPPED: frozenset(
        {OrderLineState.SHIPPED, OrderLineState.REFUNDED_AFTER_SHIPPING}
    ),
    OrderLineState.CANCELLED: frozenset({OrderLineState.CANCELLED}),
    OrderLineState.REFUNDED_BEFORE_SHIPPING: frozenset({OrderLineState.REFUNDED_BEFORE_SHIPPING}),
    OrderLineState.REFUNDED_AFTER_SHIPPING: frozenset({OrderLineState.REFUNDED_AFTER_SHIPPING}),
}


def update_took_effect(order: Order, update: OrderUpdate) -> bool:
    """Whether a re-read ``order`` shows that ``update`` was applied.

    With a SKU: every line of that SKU (case-insensitive) is in the target state or beyond.
    Shipping (3, no SKU) acts on every accepted line: none is left in state 2 and one shipped.
    """
    targets = _TARGET_STATES.get(OrderLineState(update.new_state))
    if targets is None:
        return False
    lines = order.lines
    if update.sku is not None:
        sku = update.sku.lower()
        lines = tuple(line for line in lines if (line.listing or "").lower() == sku)
        return bool(lines) and all(line.state in targets for line in lines)
    return any(line.state in targets for line in lines) and not any(
        line.state == OrderLineState.ACCEPTED for line in lines
    )


def check_order_update(update: OrderUpdate) -> None:
    """The rules production enforces, checked before anything is sent (backmarket.md §3.3)."""
    state = OrderLineState(update.new_state)
    if not state.is_settable:
        raise ValueError(f"new_state {int(state)} must be in 2,3,4,5,6 (orderline states)")
    if state is OrderLineState.ACCEPTED and not update.sku:
        raise ValueError("accepting a line (new_state 2) needs its sku")
    if state is OrderLineState.SHIPPED and not (update.tracking_number or "").strip():
        raise ValueError("shipping (new_state 3) needs a tracking_number")
    if update.imei is not None or update.serial_number is not None:
        if state is not OrderLineState.SHIPPED:
            raise ValueError("imei and serial_number are only processed with new_state 3")
        _check_identifiers(update.order_id, update.imei, update.serial_number)


def update_order_request(update: OrderUpdate) -> Request[Order | None]:
    """``POST /ws/orders/{order_id}``: accept, cancel, ship or refund order lines.

    Not idempotent (a repeated state POST is a second write, and Back Market has no idempotency
    key), so after an unclear failure the core re-reads the order and resends only if the
    write did not take effect. The answer is the order when Back Market returns it.
    """
    check_order_update(update)

    def parse(body: Any) -> Order | None:
        if isinstance(body, Mapping) and "order_id" in body:
            return Order.from_dict(body)
        return None

    def confirm(order: Order) -> Order | None:
        return order if update_took_effect(order, update) else None

    return Request(
        method="POST",
        path=f"/ws/orders/{int(update.order_id)}",
        json=update.to_dict(),
        parse=parse,
        idempotent=False,
        recheck=Recheck(request=get_order_request(update.order_id), confirm=confirm),
    )


def _check_identifiers(
    owner: int | None, imei: str | None, serial_number: str | None, *, line: int | None = None
) -> None:
    # Back Market cannot correct an identifier once registered: refuse a typo before sending.
    if imei is not None and not is_valid_imei(imei):
        raise InvalidIMEIError(
            "an IMEI is 15 digits with a valid Luhn check digit",
            order_id=owner,
            line=line,
            value=imei,
        )
    if serial_number is not None and not 0 < len(serial_number.strip()) <= 50:
        raise InvalidSerialNumberError(
            "a serial number has 1 to 50 characters", order_id=owner, line=line, value=serial_number
        )


def update_orderline_request(
    orderline_id: int, identifiers: OrderlineIdentifiers
) -> Request[OrderlineIdentifiers]:
    """``PATCH /ws/orderlines/{orderline_id}``: set the IMEI and/or serial number of a line.

    Never resent blindly: an identifier cannot be corrected, and a second PATCH is answered 422.
    """
    if identifiers.imei is None and identifiers.serial_number is None:
        raise ValueError("give an imei, a serial_number or both")
    _check_identifiers(None, identifiers.imei, identifiers.serial_number, line=orderline_id)
    return Request(
        method="PATCH",
        path=f"/ws/orderlines/{int(orderline_id)}",
        json=identifiers.to_dict(),
        parse=lambda body: OrderlineIdentifiers.from_dict(body or {}),
        idempotent=False,
    )


def upload_invoice_request(order_id: int, invoices: Sequence[InvoiceFile]) -> Request[None]:
    """``POST /ws/orders/{order_id}/invoice``: multipart, field ``invoice`` (one or more files)."""
    if not invoices:
        raise ValueError("give at least one invoice file")
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    for index, invoice in enumerate(invoices, start=1):
        name, content = invoice if isinstance(invoice, tuple) else (f"invoice-{index}.pdf", invoice)
        files.append(("invoice", (name, content, "application/pdf")))
    return Request(
        method="POST",
        path=f"/ws/orders/{int(order_id)}/invoice",
        files=files,
        parse=no_content,
        idempotent=False,
    )


def write_request(write: BackMarketWrite) -> Request[Any]:
    """The request carrying one planned write of the mapping layer."""
    if isinstance(write, OrderUpdate):
        return update_order_request(write)
    if isinstance(write, OrderlineIdentifiersUpdate):
        return update_orderline_request(write.orderline_id, write.identifiers)
    raise TypeError(f"not a Back Market write: {type(write).__name__}")


def _accept(order_id: int, sku: str) -> OrderUpdate:
    return OrderUpdate(order_id=order_id, new_state=OrderLineState.ACCEPTED, sku=sku)


def _cancel(order_id: int, sku: str, message: str | None) -> OrderUpdate:
    return OrderUpdate(
        order_id=order_id, new_state=OrderLineState.CANCELLED, sku=sku, return_message=message
    )


def _ship(
    order_id: int,
    tracking_number: str,
    shipper: str | None,
    tracking_url: str | None,
    date_shipping: datetime | None,
    imei: str | None,
    serial_number: str | None,
    sku: str | None,
) -> OrderUpdate:
    return OrderUpdate(
        order_id=order_id,
        new_state=OrderLineState.SHIPPED,
        sku=sku,
        tracking_number=tracking_number.replace(" ", ""),
        tracking_url=tracking_url,
        shipper=shipper,
        date_shipping=date_shipping,
        imei=imei,
        serial_number=serial_number,
    )


def _refund(
    order_id: int,
    sku: str,
    after_shipping: bool,
    return_reason: ReturnReason | int | None,
    return_message: str | None,
) -> OrderUpdate:
    if after_shipping and return_reason is None:
        raise ValueError("a refund after shipping (new_state 6) needs a return_reason")
    return OrderUpdate(
        order_id=order_id,
        new_state=(
            OrderLineState.REFUNDED_AFTER_SHIPPING
            if after_shipping
            else OrderLineState.REFUNDED_BEFORE_SHIPPING
        ),
        sku=sku,
        return_reason=None if return_reason is None else ReturnReason(return_reason),
        return_message=return_message,
    )


# --------------------------------------------------------------------------------------
# Configuration shared by both clients
# --------------------------------------------------------------------------------------


def _budget_factory(
    name: str, windows: Sequence[tuple[int, float]]
) -> Callable[[Clock, SharedState | None], Budget]:
    return lambda clock, shared: Budget(clock, name, windows, shared=shared)


def _core_settings(
    *,
    token: str | None,
    user_agent: str | None,
    region: Region | str,
    sandbox: bool,
    base_url: str | None,
    accept_language: str | None,
    clock: Clock | None,
    retry_policy: RetryPolicy | None,
    max_requests_per_10s: int,
    max_budget_wait: float | None = 120.0,
    max_catalog_requests_per_10s: int = 18,
    max_sku_lines_per_hour: int = 2000,
    rate_limits: RateLimits | None = None,
) -> dict[str, Any]:
    if not token or not token.strip():
        raise ConfigurationError(
            "Back Market needs the API token from Back Office > Options > Integrations"
        )
    raw = token.strip()
    # Some people store the whole header value; the token goes after "Basic " as issued.
    if raw.lower().startswith("basic "):
        raw = raw[6:].strip()
    authorization = Secret("Basic " + raw)
    agent = validate_user_agent(user_agent)
    try:
        platform = Region(region)
    except ValueError:
        raise ConfigurationError(f"unknown Back Market region {region!r}: eu, us or ap") from None
    language = (accept_language or platform.default_language).lower()
    if language not in ALL_COUNTRY_CODES:
        raise ConfigurationError(f"unknown Accept-Language {language!r} (e.g. fr-fr, en-us)")
    clock = clock or DEFAULT_CLOCK
    limiter = limiter_for(
        rate_limits,
        "backmarket",
        authorization,
        clock,
        lambda c, shared: SlidingWindowLimiter(
            c, limit=max_requests_per_10s, window=10.0, shared=shared
        ),
    )
    # Each endpoint's documented budget, shared by every client of the token in the process.
    budgets: dict[str, Budget] = {}
    listing_budgets = {
        # Catalog endpoints: about 20 requests per 10 s; listing writes: about 2,000 SKU lines
        # an hour across both update endpoints (backmarket.md §6.2, A.1).
        CATALOG: ((max_catalog_requests_per_10s, 10.0),),
        SKU_LINES: ((max_sku_lines_per_hour, 3600.0),),
    }
    for name, windows in {**CARE_BUDGETS, **listing_budgets}.items():
        budgets[name] = limiter_for(
            rate_limits, f"backmarket:{name}", authorization, clock, _budget_factory(name, windows)
        )
    return {
        "api": "Back Market",
        "base_url": base_url or platform.base_url(sandbox),
        "headers": {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Accept-Language": language,
            "User-Agent": agent,
        },
        "authorization": authorization,
        "limiter": limiter,
        "retry_policy": retry_policy or BACKMARKET_RETRY_POLICY,
        "error_mapper": backmarket_error,
        "clock": clock,
        "budgets": budgets,
        "max_budget_wait": max_budget_wait,
    }


# --------------------------------------------------------------------------------------
# Sync facade
# --------------------------------------------------------------------------------------


class Orders:
    """``bm.orders``: list, read and act on orders."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def list(
        self,
        *,
        state: OrderState | int | None = None,
        date_creation: datetime | str | None = None,
        date_modification: datetime | str | None = None,
        country_code: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Paginator[OrderPage, Order]:
        """Every matching order, fetched lazily 50 per page. ``date_*`` are lower bounds.

        The list never shows orders in state 0 or 8 (Back Market hides them).
        """
        first = list_orders_request(
            state=state,
            date_creation=date_creation,
            date_modification=date_modification,
            country_code=country_code,
            page_size=page_size,
        )
        return Paginator(self._core.send, first, lambda p: p.results, next_orders_page)

    def get(self, order_id: int) -> Order:
        """One order by its id."""
        return self._core.send(get_order_request(order_id))

    def update(self, update: OrderUpdate) -> Order | None:
        """Send an :class:`OrderUpdate` as is (after the production rules are checked)."""
        return self._core.send(update_order_request(update))

    def accept(self, order_id: int, sku: str) -> Order | None:
        """Accept the lines of ``sku`` (``new_state`` 2); call once per distinct SKU."""
        return self.update(_accept(order_id, sku))

    def cancel(self, order_id: int, sku: str, *, message: str | None = None) -> Order | None:
        """Cancel the unaccepted lines of ``sku`` (``new_state`` 4)."""
        return self.update(_cancel(order_id, sku, message))

    def ship(
        self,
        order_id: int,
        *,
        tracking_number: str,
        shipper: str | None = None,
        tracking_url: str | None = None,
        date_shipping: datetime | None = None,
        imei: str | None = None,
        serial_number: str | None = None,
        sku: str | None = None,
    ) -> Order | None:
        """Ship every accepted line (``new_state`` 3). ``imei``/``serial_number`` only for an
        order of one quantity-1 line; use :meth:`Orderlines.update` for the others."""
        return self.update(
            _ship(order_id, tracking_number, shipper, tracking_url, date_shipping, imei,
                  serial_number, sku)
        )  # fmt: skip

    def refund(
        self,
        order_id: int,
        sku: str,
        *,
        after_shipping: bool,
        return_reason: ReturnReason | int | None = None,
        return_message: str | None = None,
    ) -> Order | None:
        """Refund the lines of ``sku``: before shipping (5) or after (6, needs a reason)."""
        return self.update(_refund(order_id, sku, after_shipping, return_reason, return_message))

    def upload_invoice(self, order_id: int, *invoices: InvoiceFile) -> None:
        """Upload the customer invoice (PDF bytes, or ``(file name, bytes)``)."""
        self._core.send(upload_invoice_request(order_id, invoices))


class Orderlines:
    """``bm.orderlines``: device identifiers of single lines."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def update(
        self, orderline_id: int, *, imei: str | None = None, serial_number: str | None = None
    ) -> OrderlineIdentifiers:
        """Set the IMEI and/or serial number of one quantity-1 line (cannot be corrected later)."""
        identifiers = OrderlineIdentifiers(imei=imei, serial_number=serial_number)
        return self._core.send(update_orderline_request(orderline_id, identifiers))


class BackMarketClient(SyncClientBase):
    """Blocking client of the Back Market seller API.

    ``token`` is the integration token, sent as ``Authorization: Basic <token>``; ``user_agent``
    is required, as ``BM-{Company}-{Integration};{email}``. ``region`` picks the platform (EU
    ``.fr``, US ``.com``, AP ``.co.jp``), ``sandbox=True`` its preprod host, ``base_url`` any
    other host. ``accept_language`` defaults to the platform's (fr-fr, en-us, ja-jp).
    ``transport``/``http_client`` let you add proxies or test transports; ``timeout`` defaults
    to 5 s to connect and 30 s to read; ``clock`` drives throttling and back-off waits.
    Requests stay under ``max_requests_per_10s`` per token in the process (Cloudflare blocks
    above about 200), and each endpoint with a documented budget of its own (the care
    endpoints: 500 refunds a day...) within it: a call waits for its budget up to
    ``max_budget_wait`` seconds (``None``: as long as it takes), beyond which it is refused
    with :class:`~backmarket_shipstation.errors.BudgetExhaustedError` before being sent.
    Listing endpoints stay under ``max_catalog_requests_per_10s`` (about 20) and listing writes
    under ``max_sku_lines_per_hour`` SKU lines (about 2,000); ``over_budget`` says whether a
    write beyond that hour's lines waits for room (``"wait"``, however long) or is refused at
    once (``"refuse"``); each call can override it. ``rate_limits`` (a
    :class:`~backmarket_shipstation.rate_limits.RateLimits`) shares these budgets with every
    process and host whose clients use the same store, per token or per host.
    """

    def __init__(
        self,
        *,
        token: str,
        user_agent: str,
        region: Region | str = Region.EU,
        sandbox: bool = False,
        base_url: str | None = None,
        accept_language: str | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        timeout: httpx.Timeout | float | None = None,
        clock: Clock | None = None,
        retry_policy: RetryPolicy | None = None,
        max_requests_per_10s: int = 180,
        max_budget_wait: float | None = 120.0,
        max_catalog_requests_per_10s: int = 18,
        max_sku_lines_per_hour: int = 2000,
        over_budget: OverBudget = "wait",
        rate_limits: RateLimits | None = None,
    ) -> None:
        settings = _core_settings(
            rate_limits=rate_limits,
            token=token,
            user_agent=user_agent,
            region=region,
            sandbox=sandbox,
            base_url=base_url,
            accept_language=accept_language,
            clock=clock,
            retry_policy=retry_policy,
            max_requests_per_10s=max_requests_per_10s,
            max_budget_wait=max_budget_wait,
            max_catalog_requests_per_10s=max_catalog_requests_per_10s,
            max_sku_lines_per_hour=max_sku_lines_per_hour,
        )
        self._core: SyncCore = SyncCore(
            http_client=http_client, transport=transport, timeout=timeout, **settings
        )
        self.orders = Orders(self._core)
        self.orderlines = Orderlines(self._core)
        self.care = Care(self._core)
        self.listings = Listings(self._core, over_budget=over_budget)
        self.tasks = Tasks(self._core)
        self.shipping = Shipping(self._core)

    def send(self, write: BackMarketWrite) -> Order | OrderlineIdentifiers | None:
        """Send one planned write: an :class:`OrderUpdate` or an orderline identifiers update."""
        result: Order | OrderlineIdentifiers | None = self._core.send(write_request(write))
        return result

    def apply(self, plan: Iterable[BackMarketWrite]) -> list[Order | OrderlineIdentifiers | None]:
        """Send a write plan in order; stops at the first error (later writes may depend on it)."""
        return [self.send(write) for write in plan]


# --------------------------------------------------------------------------------------
# Async facade
# --------------------------------------------------------------------------------------


class AsyncOrders:
    """``bm.orders`` of :class:`AsyncBackMarketClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    def list(
        self,
        *,
        state: OrderState | int | None = None,
        date_creation: datetime | str | None = None,
        date_modification: datetime | str | None = None,
        country_code: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncPaginator[OrderPage, Order]:
        """Every matching order (``async for``), fetched lazily 50 per page."""
        first = list_orders_request(
            state=state,
            date_creation=date_creation,
            date_modification=date_modification,
            country_code=country_code,
            page_size=page_size,
        )
        return AsyncPaginator(self._core.send, first, lambda p: p.results, next_orders_page)

    async def get(self, order_id: int) -> Order:
        """One order by its id."""
        return await self._core.send(get_order_request(order_id))

    async def update(self, update: OrderUpdate) -> Order | None:
        """Send an :class:`OrderUpdate` as is (after the production rules are checked)."""
        return await self._core.send(update_order_request(update))

    async def accept(self, order_id: int, sku: str) -> Order | None:
        """Accept the lines of ``sku`` (``new_state`` 2)."""
        return await self.update(_accept(order_id, sku))

    async def cancel(self, order_id: int, sku: str, *, message: str | None = None) -> Order | None:
        """Cancel the unaccepted lines of ``sku`` (``new_state`` 4)."""
        return await self.update(_cancel(order_id, sku, message))

    async def ship(
        self,
        order_id: int,
        *,
        tracking_number: str,
        shipper: str | None = None,
        tracking_url: str | None = None,
        date_shipping: datetime | None = None,
        imei: str | None = None,
        serial_number: str | None = None,
        sku: str | None = None,
    ) -> Order | None:
        """Ship every accepted line (``new_state`` 3)."""
        return await self.update(
            _ship(order_id, tracking_number, shipper, tracking_url, date_shipping, imei,
                  serial_number, sku)
        )  # fmt: skip

    async def refund(
        self,
        order_id: int,
        sku: str,
        *,
        after_shipping: bool,
        return_reason: ReturnReason | int | None = None,
        return_message: str | None = None,
    ) -> Order | None:
        """Refund the lines of ``sku``: before shipping (5) or after (6, needs a reason)."""
        return await self.update(
            _refund(order_id, sku, after_shipping, return_reason, return_message)
        )

    async def upload_invoice(self, order_id: int, *invoices: InvoiceFile) -> None:
        """Upload the customer invoice (PDF bytes, or ``(file name, bytes)``)."""
        await self._core.send(upload_invoice_request(order_id, invoices))


class AsyncOrderlines:
    """``bm.orderlines`` of :class:`AsyncBackMarketClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    async def update(
        self, orderline_id: int, *, imei: str | None = None, serial_number: str | None = None
    ) -> OrderlineIdentifiers:
        """Set the IMEI and/or serial number of one quantity-1 line."""
        identifiers = OrderlineIdentifiers(imei=imei, serial_number=serial_number)
        return await self._core.send(update_orderline_request(orderline_id, identifiers))


class AsyncBackMarketClient(AsyncClientBase):
    """The asyncio twin of :class:`BackMarketClient` (same arguments, ``await`` and
    ``async for``)."""

    def __init__(
        self,
        *,
        token: str,
        user_agent: str,
        region: Region | str = Region.EU,
        sandbox: bool = False,
        base_url: str | None = None,
        accept_language: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout | float | None = None,
        clock: Clock | None = None,
        retry_policy: RetryPolicy | None = None,
        max_requests_per_10s: int = 180,
        max_budget_wait: float | None = 120.0,
        max_catalog_requests_per_10s: int = 18,
        max_sku_lines_per_hour: int = 2000,
        over_budget: OverBudget = "wait",
        rate_limits: RateLimits | None = None,
    ) -> None:
        settings = _core_settings(
            rate_limits=rate_limits,
            token=token,
            user_agent=user_agent,
            region=region,
            sandbox=sandbox,
            base_url=base_url,
            accept_language=accept_language,
            clock=clock,
            retry_policy=retry_policy,
            max_requests_per_10s=max_requests_per_10s,
            max_budget_wait=max_budget_wait,
            max_catalog_requests_per_10s=max_catalog_requests_per_10s,
            max_sku_lines_per_hour=max_sku_lines_per_hour,
        )
        self._core: AsyncCore = AsyncCore(
            http_client=http_client, transport=transport, timeout=timeout, **settings
        )
        self.orders = AsyncOrders(self._core)
        self.orderlines = AsyncOrderlines(self._core)
        self.care = AsyncCare(self._core)
        self.listings = AsyncListings(self._core, over_budget=over_budget)
        self.tasks = AsyncTasks(self._core)
        self.shipping = AsyncShipping(self._core)

    async def send(self, write: BackMarketWrite) -> Order | OrderlineIdentifiers | None:
        """Send one planned write."""
        result: Order | OrderlineIdentifiers | None = await self._core.send(write_request(write))
        return result

    async def apply(
        self, plan: Iterable[BackMarketWrite]
    ) -> list[Order | OrderlineIdentifiers | None]:
        """Send a write plan in order; stops at the first error."""
        return [await self.send(write) for write in plan]
