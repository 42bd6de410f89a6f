"""ShipStation API V2 inventory: the available quantity of each SKU (shipstation.md A.5).

Only what the stock sync needs: ``GET /v2/inventory`` on ``https://api.shipstation.com``,
authenticated with the V2 key in the ``api-key`` header (V2 keys are not the V1 key pair:
Settings > API Settings > "V2 API"). Limits and paging are V2's own:

- **200 requests per minute** per key ([V2-RATE]); the client stays under
  ``max_requests_per_minute`` (190 by default) and honours ``Retry-After`` on a 429.
- Paging by **links**: each page carries ``total``, ``page``, ``pages`` and
  ``links.next.href``; the paginator follows ``next`` (its query only, on the configured host:
  an answer never sends the client elsewhere) until there is none. ``limit`` is the page size.
- Errors: ``{request_id, errors: [{error_source, error_type, error_code, message,
  field_name, field_value}]}``, mapped to the SDK's :class:`~backmarket_shipstation.errors.APIError`
  family like every other answer.

>>> with ShipStationInventoryClient(api_key="...") as v2:   # doctest: +SKIP
...     available = v2.inventory.available()                # {"IP13-128-MID-EXC": 3, ...}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit

import attrs

from .._convert import UTC, DatetimeCodec, Model, ModelConverter, extras_field
from .._http import (
    DEFAULT_CLOCK,
    AsyncClientBase,
    AsyncCore,
    AsyncPaginator,
    Paginator,
    Request,
    RetryPolicy,
    Secret,
    SlidingWindowLimiter,
    SyncClientBase,
    SyncCore,
    _decode_json,
    _short,
    _status_class,
    query,
    server_wait,
    shared_limiter,
)
from ..clock import Clock
from ..errors import APIError, ConfigurationError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "SHIPSTATION_V2_BASE_URL",
    "AsyncShipStationInventoryClient",
    "InventoryLevel",
    "InventoryPage",
    "MonetaryValue",
    "PageLink",
    "PageLinks",
    "ShipStationInventoryClient",
    "list_inventory_request",
    "shipstation_v2_error",
]

SHIPSTATION_V2_BASE_URL = "https://api.shipstation.com"
DEFAULT_LIMIT = 100
"""Rows per page asked for (``limit``); the documentation gives no maximum (INFERRED)."""

SHIPSTATION_V2_CONVERTER = ModelConverter(
    api="shipstation_v2",
    naming="snake",
    money="number",
    datetimes=DatetimeCodec(UTC, "rfc3339"),
)
"""The V2 API's converter: snake_case keys, amounts as JSON numbers, RFC 3339 dates."""


class ShipStationV2Model(Model):
    """Base of the V2 models."""

    __slots__ = ()
    _converter = SHIPSTATION_V2_CONVERTER


@attrs.frozen(kw_only=True)
class MonetaryValue(ShipStationV2Model):
    """``{amount, currency}``."""

    amount: Decimal | None = None
    currency: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class InventoryLevel(ShipStationV2Model):
    """One row of ``GET /v2/inventory``: a SKU's counts in a warehouse or location.

    ``available`` is what can still be sold (``on_hand`` minus ``allocated`` to open orders).
    """

    sku: str
    on_hand: int | None = None
    allocated: int | None = None
    available: int | None = None
    average_cost: MonetaryValue | None = None
    inventory_warehouse_id: str | None = None
    inventory_location_id: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class PageLink(ShipStationV2Model):
    """A paging link (``{"href": ...}``; empty when there is no such page)."""

    href: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class PageLinks(ShipStationV2Model):
    first: PageLink | None = None
    last: PageLink | None = None
    prev: PageLink | None = None
    next: PageLink | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class InventoryPage(ShipStationV2Model):
    """One page of ``GET /v2/inventory``."""

    inventory: tuple[InventoryLevel, ...]
    total: int | None = None
    page: int | None = None
    pages: int | None = None
    links: PageLinks | None = None
    extras: Mapping[str, Any] = extras_field()

    @property
    def next_href(self) -> str | None:
        link = self.links.next if self.links is not None else None
        return link.href if link is not None and link.href else None


# --------------------------------------------------------------------------------------
# Endpoint as data
# --------------------------------------------------------------------------------------


def list_inventory_request(
    *,
    sku: str | Sequence[str] | None = None,
    inventory_warehouse_id: str | None = None,
    inventory_location_id: str | None = None,
    group_by: Literal["warehouse", "location"] | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Request[InventoryPage]:
    """``GET /v2/inventory``: the first page. ``sku`` filters to one SKU or a list of them."""
    if limit < 1:
        raise ValueError("limit is at least 1")
    if group_by not in (None, "warehouse", "location"):
        raise ValueError("group_by is 'warehouse' or 'location'")
    skus = ",".join([sku] if isinstance(sku, str) else list(sku)) if sku else None
    params = query(
        sku=skus,
        inventory_warehouse_id=inventory_warehouse_id,
        inventory_location_id=inventory_location_id,
        group_by=group_by,
        limit=limit,
    )
    return Request(
        method="GET",
        path="/v2/inventory",
        params=params,
        parse=InventoryPage.from_dict,
        idempotent=True,
    )


def next_inventory_page(
    request: Request[InventoryPage], page: InventoryPage, seen: int
) -> Request[InventoryPage] | None:
    """The request of ``links.next``: its query on the same endpoint and host, or ``None``.

    Only the query is taken from the link, so a link to another host (or path) cannot make
    the client send its key anywhere else.
    """
    href = page.next_href
    if href is None or not page.inventory:
        return None
    params = tuple(parse_qsl(urlsplit(href).query, keep_blank_values=True))
    if params == request.params:
        return None  # a link to the same page would loop forever
    return attrs.evolve(request, params=params)


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def shipstation_v2_error(method: str, path: str, response: httpx.Response) -> APIError:
    """The SDK error for a V2 answer: ``errors[].message`` (with ``field_name``) joined."""
    status = response.status_code
    body = _decode_json(response)
    parts: list[str] = []
    request_id = None
    if isinstance(body, Mapping):
        request_id = body.get("request_id") if isinstance(body.get("request_id"), str) else None
        for item in body.get("errors") or ():
            if isinstance(item, Mapping):
                text = str(item.get("message") or item.get("error_code") or "")
                field = item.get("field_name")
                parts.append(f"{field}: {text}" if field else text)
    if not parts:
        parts.append(response.reason_phrase or "error")
    return _status_class(status)(
        _short("; ".join(p for p in parts if p)),
        api="ShipStation V2",
        method=method,
        path=path,
        status_code=status,
        request_id=request_id or response.headers.get("x-request-id"),
        response=response,
        details=body,
        retry_after=server_wait(response.headers, None) if status == 429 else None,
    )


# --------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------


def _settings(
    *,
    api_key: str | None,
    base_url: str | None,
    clock: Clock | None,
    retry_policy: RetryPolicy | None,
    max_requests_per_minute: int,
) -> dict[str, Any]:
    if not api_key or not api_key.strip():
        raise ConfigurationError(
            "ShipStation V2 needs its API key (Settings > API Settings > V2 API): it is not "
            "the V1 key and secret"
        )
    key = Secret(api_key.strip())
    clock = clock or DEFAULT_CLOCK
    limiter = shared_limiter(
        "shipstation-v2",
        key,
        clock,
        lambda c: SlidingWindowLimiter(c, limit=max_requests_per_minute, window=60.0),
    )
    return {
        "api": "ShipStation V2",
        "base_url": base_url or SHIPSTATION_V2_BASE_URL,
        "headers": {"Accept": "application/json"},
        "authorization": key,
        "auth_header": "api-key",
        "limiter": limiter,
        "retry_policy": retry_policy or RetryPolicy(),
        "error_mapper": shipstation_v2_error,
        "clock": clock,
    }


def _available(rows: Sequence[InventoryLevel]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.sku] = totals.get(row.sku, 0) + (row.available or 0)
    return totals


class Inventory:
    """``v2.inventory``: inventory levels."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def list(
        self,
        *,
        sku: str | Sequence[str] | None = None,
        inventory_warehouse_id: str | None = None,
        inventory_location_id: str | None = None,
        group_by: Literal["warehouse", "location"] | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> Paginator[InventoryPage, InventoryLevel]:
        """Every matching row, lazily, following ``links.next``."""
        first = list_inventory_request(
            sku=sku,
            inventory_warehouse_id=inventory_warehouse_id,
            inventory_location_id=inventory_location_id,
            group_by=group_by,
            limit=limit,
        )
        return Paginator(self._core.send, first, lambda p: p.inventory, next_inventory_page)

    def available(self, *, inventory_warehouse_id: str | None = None) -> dict[str, int]:
        """``{sku: available}`` summed over the account's warehouses (or the one given)."""
        return _available(
            tuple(self.list(inventory_warehouse_id=inventory_warehouse_id, group_by="warehouse"))
        )


class ShipStationInventoryClient(SyncClientBase):
    """Blocking client of ShipStation's V2 inventory (``api-key`` header, 200 requests/min).

    ``base_url`` defaults to ``https://api.shipstation.com``; ``transport``/``http_client``,
    ``timeout``, ``clock`` and ``retry_policy`` as on the other clients.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        timeout: httpx.Timeout | float | None = None,
        clock: Clock | None = None,
        retry_policy: RetryPolicy | None = None,
        max_requests_per_minute: int = 190,
    ) -> None:
        settings = _settings(
            api_key=api_key,
            base_url=base_url,
            clock=clock,
            retry_policy=retry_policy,
            max_requests_per_minute=max_requests_per_minute,
        )
        self._core: SyncCore = SyncCore(
            http_client=http_client, transport=transport, timeout=timeout, **settings
        )
        self.inventory = Inventory(self._core)


class AsyncInventory:
    """``v2.inventory`` of :class:`AsyncShipStationInventoryClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    def list(
        self,
        *,
        sku: str | Sequence[str] | None = None,
        inventory_warehouse_id: str | None = None,
        inventory_location_id: str | None = None,
        group_by: Literal["warehouse", "location"] | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> AsyncPaginator[InventoryPage, InventoryLevel]:
        """Every matching row (``async for``)."""
        first = list_inventory_request(
            sku=sku,
            inventory_warehouse_id=inventory_warehouse_id,
            inventory_location_id=inventory_location_id,
            group_by=group_by,
            limit=limit,
        )
        return AsyncPaginator(self._core.send, first, lambda p: p.inventory, next_inventory_page)

    async def available(self, *, inventory_warehouse_id: str | None = None) -> dict[str, int]:
        """``{sku: available}`` summed over the warehouses (or the one given)."""
        rows = [
            row
            async for row in self.list(
                inventory_warehouse_id=inventory_warehouse_id, group_by="warehouse"
            )
        ]
        return _available(rows)


class AsyncShipStationInventoryClient(AsyncClientBase):
    """The asyncio twin of :class:`ShipStationInventoryClient`."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout | float | None = None,
        clock: Clock | None = None,
        retry_policy: RetryPolicy | None = None,
        max_requests_per_minute: int = 190,
    ) -> None:
        settings = _settings(
            api_key=api_key,
            base_url=base_url,
            clock=clock,
            retry_policy=retry_policy,
            max_requests_per_minute=max_requests_per_minute,
        )
        self._core: AsyncCore = AsyncCore(
            http_client=http_client, transport=transport, timeout=timeout, **settings
        )
        self.inventory = AsyncInventory(self._core)
