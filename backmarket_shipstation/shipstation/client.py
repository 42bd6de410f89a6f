"""The ShipStation V1 clients: :class:`ShipStationClient` and :class:`AsyncShipStationClient`.

Each endpoint is one pure builder below (``*_request`` functions); both clients are facades
that run them through the shared core. ShipStation allows 40 requests a minute per key pair:
every client of the same key pair in the process shares one limiter, steered by the
``X-Rate-Limit-*`` headers, so that normal use never meets a 429.

>>> with ShipStationClient(api_key="...", api_secret="...") as ss:   # doctest: +SKIP
...     for order in ss.orders.list(order_status=OrderStatus.AWAITING_SHIPMENT):
...         print(order.order_number)
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, cast

import attrs
from typing_extensions import Unpack

from .._convert import Model, to_camel
from .._http import (
    DEFAULT_CLOCK,
    AsyncClientBase,
    AsyncCore,
    AsyncPaginator,
    HeaderDrivenLimiter,
    Paginator,
    Request,
    RetryPolicy,
    SyncClientBase,
    SyncCore,
    basic_auth_value,
    limiter_for,
    no_content,
    query,
    shipstation_error,
)
from ..clock import Clock
from ..errors import ConfigurationError
from .models import (
    PACIFIC,
    Address,
    BulkUpsertOrderResult,
    BulkUpsertResult,
    Carrier,
    CarrierPackage,
    CarrierService,
    Confirmation,
    CreateLabelRequest,
    Fulfillment,
    FulfillmentPage,
    Label,
    MarkAsShippedRequest,
    MarkAsShippedResult,
    Marketplace,
    Order,
    OrderPage,
    OrderStatus,
    Product,
    ProductCategory,
    ProductPage,
    Shipment,
    ShipmentPage,
    Store,
    SuccessResponse,
    Tag,
    Warehouse,
    WebhookEvent,
    WebhookList,
    WebhookPayload,
    WebhookSubscription,
    WebhookSubscriptionResult,
)
from .webhooks import WebhookResource, webhook_resource_request

if TYPE_CHECKING:
    import httpx  # only in annotations: httpx loads when a client is built

    from ..rate_limits import RateLimits

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncShipStationClient",
    "ShipStationClient",
    "list_orders_request",
    "list_shipments_request",
    "list_fulfillments_request",
    "list_products_request",
    "update_product_request",
    "update_warehouse_request",
    "upsert_order_request",
    "upsert_orders_request",
]

DEFAULT_BASE_URL = "https://ssapi.shipstation.com"
PAGE_SIZE = 500
"""ShipStation's maximum ``pageSize`` (shipstation.md §1.3)."""
BULK_LIMIT = 100
"""At most 100 orders per ``createorders`` call."""

M = TypeVar("M", bound=Model)
T = TypeVar("T")
PageT = TypeVar("PageT", bound=OrderPage | ShipmentPage | FulfillmentPage | ProductPage)

SHIPSTATION_RETRY_POLICY = RetryPolicy()


def _pacific(value: datetime | date | str | None) -> str | None:
    """A filter date as ShipStation reads it: Pacific wall time, ``YYYY-MM-DD HH:MM:SS``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("ShipStation date filters need a timezone-aware datetime")
        return value.astimezone(PACIFIC).strftime("%Y-%m-%d %H:%M:%S")
    return value.strftime("%Y-%m-%d")


def _status(value: OrderStatus | str | None) -> str | None:
    if isinstance(value, OrderStatus):
        return str(value.value)
    return value


# --------------------------------------------------------------------------------------
# Endpoints as data (pure builders)
# --------------------------------------------------------------------------------------


def _one(cls: type[M]) -> Callable[[Any], M]:
    def parse(body: Any) -> M:
        return cls.from_dict(body)

    return parse


def _many(cls: type[M]) -> Callable[[Any], list[M]]:
    def parse(body: Any) -> list[M]:
        return [cls.from_dict(item) for item in (body or [])]

    return parse


def _success(body: Any) -> SuccessResponse:
    # DELETE /orders/{id} may answer with an empty body: that is a success too.
    if not body:
        return SuccessResponse(success=True)
    return SuccessResponse.from_dict(body)


def _page_request(
    path: str, parse: Callable[[Any], PageT], page_size: int, **filters: object
) -> Request[PageT]:
    if not 1 <= page_size <= PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {PAGE_SIZE}")
    params = query(**filters, page=1, pageSize=page_size)
    return Request(method="GET", path=path, params=params, parse=parse, idempotent=True)


def _page_items(page: OrderPage | ShipmentPage | FulfillmentPage | ProductPage) -> Sequence[Any]:
    if isinstance(page, OrderPage):
        return page.orders
    if isinstance(page, ShipmentPage):
        return page.shipments
    if isinstance(page, ProductPage):
        return page.products
    return page.fulfillments


def next_page(request: Request[PageT], page: PageT, seen: int) -> Request[PageT] | None:
    """The next page, or ``None`` at the end.

    ``pages`` alone is not trusted (documented examples say ``pages: 0`` next to items): the
    walk stops on a short or empty page, or when ``total`` and ``pages`` both say it is done.
    """
    count = len(_page_items(page))
    size = int(request.param("pageSize") or PAGE_SIZE)
    if count == 0 or count < size:
        return None
    if page.total and seen >= page.total and page.pages and page.page >= page.pages:
        return None
    return request.with_param("page", str(int(request.param("page") or "1") + 1))


class OrderFilters(TypedDict, total=False):
    """The filters of ``ss.orders.list()``, all optional (dates in any zone: they are sent
    as US Pacific wall time)."""

    customer_name: str | None
    item_keyword: str | None
    create_date_start: datetime | str | None
    create_date_end: datetime | str | None
    modify_date_start: datetime | str | None
    modify_date_end: datetime | str | None
    order_date_start: datetime | str | None
    order_date_end: datetime | str | None
    order_number: str | None
    order_status: OrderStatus | str | None
    payment_date_start: datetime | str | None
    payment_date_end: datetime | str | None
    store_id: int | None
    sort_by: str | None
    sort_dir: str | None
    page_size: int


class ShipmentFilters(TypedDict, total=False):
    """The filters of ``ss.shipments.list()``, all optional (dates in any zone: they are sent
    as US Pacific wall time)."""

    recipient_name: str | None
    recipient_country_code: str | None
    order_number: str | None
    order_id: int | None
    carrier_code: str | None
    service_code: str | None
    tracking_number: str | None
    create_date_start: datetime | str | None
    create_date_end: datetime | str | None
    ship_date_start: datetime | date | str | None
    ship_date_end: datetime | date | str | None
    void_date_start: datetime | str | None
    void_date_end: datetime | str | None
    store_id: int | None
    batch_id: int | None
    include_shipment_items: bool | None
    sort_by: str | None
    sort_dir: str | None
    page_size: int


class FulfillmentFilters(TypedDict, total=False):
    """The filters of ``ss.fulfillments.list()``, all optional (dates in any zone: they are sent
    as US Pacific wall time)."""

    fulfillment_id: int | None
    order_id: int | None
    order_number: str | None
    tracking_number: str | None
    recipient_name: str | None
    create_date_start: datetime | str | None
    create_date_end: datetime | str | None
    ship_date_start: datetime | date | str | None
    ship_date_end: datetime | date | str | None
    sort_by: str | None
    sort_dir: str | None
    page_size: int


def _list_params(filters: Mapping[str, object]) -> dict[str, object]:
    """Filter arguments as ShipStation's query parameters: each name in camelCase (the API's
    names are exactly that), dates as Pacific wall time, statuses as their text."""
    params: dict[str, object] = {}
    for name, value in filters.items():
        if name == "page_size":
            continue
        if name.endswith(("_start", "_end")):
            value = _pacific(cast("datetime | date | str | None", value))
        elif name == "order_status":
            value = _status(cast("OrderStatus | str | None", value))
        params[to_camel(name)] = value
    return params


def list_orders_request(**filters: Unpack[OrderFilters]) -> Request[OrderPage]:
    """``GET /orders`` with every documented filter; dates become Pacific wall time."""
    page_size = filters.get("page_size", PAGE_SIZE)
    return _page_request("/orders", _one(OrderPage), page_size, **_list_params(filters))


def list_shipments_request(**filters: Unpack[ShipmentFilters]) -> Request[ShipmentPage]:
    """``GET /shipments`` (labels made in ShipStation; not mark-as-shipped orders)."""
    page_size = filters.get("page_size", PAGE_SIZE)
    return _page_request("/shipments", _one(ShipmentPage), page_size, **_list_params(filters))


def list_fulfillments_request(**filters: Unpack[FulfillmentFilters]) -> Request[FulfillmentPage]:
    """``GET /fulfillments`` (orders marked as shipped, by API or UI)."""
    page_size = filters.get("page_size", PAGE_SIZE)
    return _page_request("/fulfillments", _one(FulfillmentPage), page_size, **_list_params(filters))


def get_order_request(order_id: int) -> Request[Order]:
    """``GET /orders/{orderId}``: by the internal orderId, not the order number."""
    return Request(
        method="GET", path=f"/orders/{int(order_id)}", parse=_one(Order), idempotent=True
    )


def upsert_order_request(order: Order) -> Request[Order]:
    """``POST /orders/createorder``: create, or replace the order with the same ``orderKey``.

    Retried after an unclear failure only when ``orderKey`` is set: then it is an upsert and
    idempotent; without it every call creates a new order.
    """
    return Request(
        method="POST",
        path="/orders/createorder",
        json=order.to_dict(),
        parse=_one(Order),
        idempotent=bool(order.order_key),
    )


def upsert_orders_request(orders: Sequence[Order]) -> Request[BulkUpsertResult]:
    """``POST /orders/createorders`` with at most 100 orders (a JSON array)."""
    if not 1 <= len(orders) <= BULK_LIMIT:
        raise ValueError(f"createorders takes 1 to {BULK_LIMIT} orders, not {len(orders)}")
    return Request(
        method="POST",
        path="/orders/createorders",
        json=[order.to_dict() for order in orders],
        parse=_one(BulkUpsertResult),
        idempotent=all(order.order_key for order in orders),
    )


def _chunks(orders: Iterable[Order]) -> Iterable[list[Order]]:
    chunk: list[Order] = []
    for order in orders:
        chunk.append(order)
        if len(chunk) == BULK_LIMIT:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _merge(results: Sequence[BulkUpsertResult]) -> BulkUpsertResult:
    merged: list[BulkUpsertOrderResult] = [r for result in results for r in result.results]
    return BulkUpsertResult(
        has_errors=any(result.has_errors for result in results)
        or any(not r.success for r in merged),
        results=tuple(merged),
    )


def mark_as_shipped_request(body: MarkAsShippedRequest) -> Request[MarkAsShippedResult]:
    """``POST /orders/markasshipped``: records a fulfillment (no label, no SHIP_NOTIFY)."""
    return Request(
        method="POST",
        path="/orders/markasshipped",
        json=body.to_dict(),
        parse=_one(MarkAsShippedResult),
    )


def _post(path: str, body: Mapping[str, Any], parse: Callable[[Any], T]) -> Request[T]:
    return Request(method="POST", path=path, json=dict(body), parse=parse)


def hold_until_request(order_id: int, hold_until_date: date) -> Request[SuccessResponse]:
    """``POST /orders/holduntil``: on hold until that day, then back to awaiting shipment."""
    day = hold_until_date.date() if isinstance(hold_until_date, datetime) else hold_until_date
    body = {"orderId": int(order_id), "holdUntilDate": day.isoformat()}
    return _post("/orders/holduntil", body, _success)


def create_label_request(body: CreateLabelRequest) -> Request[Label]:
    """``POST /orders/createlabelfororder``: buys a label; never resent blindly."""
    return Request(
        method="POST", path="/orders/createlabelfororder", json=body.to_dict(), parse=_one(Label)
    )


def subscribe_request(body: WebhookSubscription) -> Request[WebhookSubscriptionResult]:
    """``POST /webhooks/subscribe``."""
    return Request(
        method="POST",
        path="/webhooks/subscribe",
        json=body.to_dict(),
        parse=_one(WebhookSubscriptionResult),
    )


def _get(path: str, parse: Callable[[Any], T], **params: object) -> Request[T]:
    return Request(method="GET", path=path, params=query(**params), parse=parse, idempotent=True)


def _subscription(
    target_url: str,
    event: WebhookEvent | str,
    store_id: int | None,
    friendly_name: str | None,
) -> WebhookSubscription:
    return WebhookSubscription(
        target_url=target_url,
        event=WebhookEvent(event),
        store_id=store_id,
        friendly_name=friendly_name,
    )


def _mark_as_shipped(
    order_id: int,
    carrier_code: str,
    notify_customer: bool,
    notify_sales_channel: bool,
    ship_date: date | None,
    tracking_number: str | None,
) -> MarkAsShippedRequest:
    return MarkAsShippedRequest(
        order_id=order_id,
        carrier_code=carrier_code,
        ship_date=ship_date,
        tracking_number=tracking_number,
        notify_customer=notify_customer,
        notify_sales_channel=notify_sales_channel,
    )


def refresh_store_request(
    store_id: int | None, refresh_date: datetime | date | str | None
) -> Request[SuccessResponse]:
    """``POST /stores/refreshstore``: its arguments go in the query, not a body."""
    params = query(storeId=store_id, refreshDate=_pacific(refresh_date))
    return Request(method="POST", path="/stores/refreshstore", params=params, parse=_success)


# Products, warehouses, tags and order users (shipstation.md appendix A.2-A.4) ---------------


class ProductFilters(TypedDict, total=False):
    """The filters of ``ss.products.list()``, all optional [A.2]. ``start_date`` and
    ``end_date`` bound the creation date (sent as US Pacific wall time); ``sort_by`` is
    ``SKU``, ``ModifyDate`` or ``CreateDate``."""

    sku: str | None
    name: str | None
    product_category_id: int | None
    product_type_id: int | None
    tag_id: int | None
    start_date: datetime | date | str | None
    end_date: datetime | date | str | None
    show_inactive: bool | None
    sort_by: str | None
    sort_dir: str | None
    page_size: int


class ProductChanges(TypedDict, total=False):
    """What ``ss.products.update()`` may change; every other field is sent back as read."""

    sku: str | None
    name: str | None
    price: Decimal | None
    default_cost: Decimal | None
    length: Decimal | None
    width: Decimal | None
    height: Decimal | None
    weight_oz: Decimal | None
    internal_notes: str | None
    fulfillment_sku: str | None
    active: bool | None
    product_category: ProductCategory | None
    warehouse_location: str | None
    default_carrier_code: str | None
    default_service_code: str | None
    default_package_code: str | None
    default_intl_carrier_code: str | None
    default_intl_service_code: str | None
    default_intl_package_code: str | None
    default_confirmation: Confirmation | None
    default_intl_confirmation: Confirmation | None
    customs_description: str | None
    customs_value: Decimal | None
    customs_tariff_no: str | None
    customs_country_code: str | None
    no_customs: bool | None
    tags: tuple[Tag, ...] | None
    upc: str | None
    aliases: Any | None
    product_type: Any | None


class WarehouseChanges(TypedDict, total=False):
    """What ``ss.warehouses.update()`` may change; every other field is sent back as read."""

    warehouse_name: str | None
    origin_address: Address | None
    return_address: Address | None
    is_default: bool | None


def list_products_request(**filters: Unpack[ProductFilters]) -> Request[ProductPage]:
    """``GET /products``: pages of up to 500 [A.2]."""
    page_size = filters.get("page_size", PAGE_SIZE)
    params: dict[str, object] = {}
    for name, value in filters.items():
        if name == "page_size":
            continue
        if name in ("start_date", "end_date"):
            value = _pacific(cast("datetime | date | str | None", value))
        params[to_camel(name)] = value
    return _page_request("/products", _one(ProductPage), page_size, **params)


# Fields a caller may not change: ShipStation sets them [A.2][A.3].
_READ_ONLY = {
    Product: frozenset({"product_id", "create_date", "modify_date", "extras"}),
    Warehouse: frozenset({"warehouse_id", "create_date", "extras"}),
}

R = TypeVar("R", Product, Warehouse)


def with_changes(record: R, changes: Mapping[str, Any]) -> R:
    """``record`` with ``changes`` applied, every other field (known or not) as it was.

    V1's PUT replaces the whole resource and wipes what is left out [A.6 #13], so an update is
    always this: the record as read, with only the named fields changed.
    """
    kind = type(record)
    names = attrs.fields_dict(kind)
    for name in changes:
        if name not in names:
            raise ValueError(f"{kind.__name__} has no field {name!r}")
        if name in _READ_ONLY[kind]:
            raise ValueError(f"{kind.__name__}.{name} is read-only")
    return attrs.evolve(record, **changes)


def get_product_request(product_id: int) -> Request[Product]:
    """``GET /products/{productId}``."""
    return _get(f"/products/{int(product_id)}", _one(Product))


def update_product_request(product: Product) -> Request[SuccessResponse]:
    """``PUT /products/{productId}`` with the whole record [A.2]; a PUT of the same record
    twice leaves it as once, so it is retried after an unclear failure."""
    return Request(
        method="PUT",
        path=f"/products/{int(product.product_id)}",
        json=product.to_dict(),
        parse=_success,
        idempotent=True,
    )


def _warehouse_id(warehouse: Warehouse) -> int:
    if warehouse.warehouse_id is None:
        raise ValueError("the warehouse has no warehouse_id: create it first")
    return int(warehouse.warehouse_id)


def get_warehouse_request(warehouse_id: int) -> Request[Warehouse]:
    """``GET /warehouses/{warehouseId}``."""
    return _get(f"/warehouses/{int(warehouse_id)}", _one(Warehouse))


def create_warehouse_request(warehouse: Warehouse) -> Request[Warehouse]:
    """``POST /warehouses/createwarehouse``: ``originAddress`` is required [A.3]. Not
    idempotent: a resend after an unclear failure could make two."""
    if warehouse.origin_address is None:
        raise ValueError("a warehouse needs an origin_address (rates are computed from it)")
    if warehouse.warehouse_id is not None:
        raise ValueError("warehouse_id is set by ShipStation: update that warehouse instead")
    return Request(
        method="POST",
        path="/warehouses/createwarehouse",
        json=warehouse.to_dict(),
        parse=_one(Warehouse),
    )


def update_warehouse_request(warehouse: Warehouse) -> Request[Warehouse]:
    """``PUT /warehouses/{warehouseId}`` with the whole record [A.3]."""
    return Request(
        method="PUT",
        path=f"/warehouses/{_warehouse_id(warehouse)}",
        json=warehouse.to_dict(),
        parse=_one(Warehouse),
        idempotent=True,
    )


def delete_warehouse_request(warehouse_id: int) -> Request[SuccessResponse]:
    """``DELETE /warehouses/{warehouseId}``: a soft delete (the location becomes inactive)."""
    return Request(
        method="DELETE", path=f"/warehouses/{int(warehouse_id)}", parse=_success, idempotent=True
    )


def create_tag_request(name: str, color: str | None) -> Request[Tag]:
    """``POST /accounts/createtag`` [A.4]. The V1 body is not spelled out in the docs we
    have; ``{name, color}`` and a ``{tagId, name, color}`` answer follow the tag model of
    ``listtags`` (shipstation.md A.4, INFERRED)."""
    if not name.strip():
        raise ValueError("a tag needs a name")
    body: dict[str, Any] = {"name": name}
    if color is not None:
        body["color"] = color
    return _post("/accounts/createtag", body, _one(Tag))


def _order_ids(order_ids: Iterable[int]) -> list[int]:
    ids = [int(order_id) for order_id in order_ids]
    if not ids:
        raise ValueError("give at least one order id")
    return ids


def assign_user_request(order_ids: Iterable[int], user_id: str) -> Request[SuccessResponse]:
    """``POST /orders/assignuser``: all or nothing, no order is assigned if one id is unknown
    [A.4]. Assigning the same user again changes nothing, so it is safe to resend."""
    try:
        uuid.UUID(user_id)
    except (TypeError, ValueError):
        raise ValueError(f"user_id must be a ShipStation user GUID, not {user_id!r}") from None
    body = {"orderIds": _order_ids(order_ids), "userId": user_id}
    return attrs.evolve(_post("/orders/assignuser", body, _success), idempotent=True)


def unassign_user_request(order_ids: Iterable[int]) -> Request[SuccessResponse]:
    """``POST /orders/unassignuser`` [A.4]."""
    body = {"orderIds": _order_ids(order_ids)}
    return attrs.evolve(_post("/orders/unassignuser", body, _success), idempotent=True)


# --------------------------------------------------------------------------------------
# Configuration shared by both clients
# --------------------------------------------------------------------------------------


def _core_settings(
    *,
    api_key: str | None,
    api_secret: str | None,
    base_url: str | None,
    clock: Clock | None,
    retry_policy: RetryPolicy | None,
    rate_limits: RateLimits | None = None,
) -> dict[str, Any]:
    if not api_key or not api_secret:
        raise ConfigurationError(
            "ShipStation needs api_key and api_secret (Settings > Account > API Settings, V1)"
        )
    authorization = basic_auth_value(api_key, api_secret)
    clock = clock or DEFAULT_CLOCK
    limiter = limiter_for(
        rate_limits,
        "shipstation",
        authorization,
        clock,
        lambda c, shared: HeaderDrivenLimiter(c, shared=shared),
    )
    return {
        "api": "ShipStation",
        "base_url": base_url or DEFAULT_BASE_URL,
        "headers": {"Accept": "application/json", "Content-Type": "application/json"},
        "authorization": authorization,
        "limiter": limiter,
        "retry_policy": retry_policy or SHIPSTATION_RETRY_POLICY,
        "error_mapper": shipstation_error,
        "clock": clock,
    }


class _RateLimitView:
    """ShipStation's own addition: how many requests this minute's window still allows."""

    _core: SyncCore | AsyncCore

    @property
    def rate_limit_remaining(self) -> int | None:
        """Requests the shared limiter believes are left in this minute's window."""
        limiter = self._core.limiter
        return limiter.remaining if isinstance(limiter, HeaderDrivenLimiter) else None


# --------------------------------------------------------------------------------------
# Sync facade
# --------------------------------------------------------------------------------------


class Orders:
    """``ss.orders``."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def list(self, **filters: Unpack[OrderFilters]) -> Paginator[OrderPage, Order]:
        """Every matching order, fetched lazily (500 per page). ``order_number`` is a
        starts-with match on ShipStation's side: compare exactly yourself."""
        first = list_orders_request(**filters)
        return Paginator(self._core.send, first, lambda p: p.orders, next_page)

    def get(self, order_id: int) -> Order:
        """One order by its internal ``orderId``."""
        return self._core.send(get_order_request(order_id))

    def upsert(self, order: Order) -> Order:
        """Create the order, or replace the one with its ``orderKey`` (send the whole order)."""
        return self._core.send(upsert_order_request(order))

    def upsert_many(self, orders: Iterable[Order]) -> BulkUpsertResult:
        """Upsert any number of orders, 100 per call; one result per order, in order.

        A failed order does not raise: look at ``has_errors`` and each result's ``success``.
        """
        return _merge([self._core.send(upsert_orders_request(c)) for c in _chunks(orders)])

    def mark_as_shipped(
        self,
        order_id: int,
        *,
        carrier_code: str,
        notify_customer: bool,
        notify_sales_channel: bool,
        ship_date: date | None = None,
        tracking_number: str | None = None,
    ) -> MarkAsShippedResult:
        """Mark an order shipped without a label. Both notify flags are explicit: ShipStation
        tells the marketplace only with ``notify_sales_channel=True``."""
        body = _mark_as_shipped(
            order_id, carrier_code, notify_customer, notify_sales_channel, ship_date,
            tracking_number,
        )  # fmt: skip
        return self._core.send(mark_as_shipped_request(body))

    def hold_until(self, order_id: int, hold_until_date: date) -> SuccessResponse:
        """Put the order on hold until that day."""
        return self._core.send(hold_until_request(order_id, hold_until_date))

    def restore_from_hold(self, order_id: int) -> SuccessResponse:
        """Move an on-hold order back to awaiting shipment."""
        return self._core.send(_post("/orders/restorefromhold", {"orderId": order_id}, _success))

    def delete(self, order_id: int) -> SuccessResponse:
        """Soft-delete an order (it disappears from lists)."""
        request = Request(method="DELETE", path=f"/orders/{int(order_id)}", parse=_success)
        return self._core.send(request)

    def add_tag(self, order_id: int, tag_id: int) -> SuccessResponse:
        """Add a tag to an order."""
        body = {"orderId": order_id, "tagId": tag_id}
        return self._core.send(_post("/orders/addtag", body, _success))

    def remove_tag(self, order_id: int, tag_id: int) -> SuccessResponse:
        """Remove a tag from an order."""
        body = {"orderId": order_id, "tagId": tag_id}
        return self._core.send(_post("/orders/removetag", body, _success))

    def create_label(self, request: CreateLabelRequest) -> Label:
        """Buy a label for an order (fires SHIP_NOTIFY). Never resent after an unclear failure."""
        return self._core.send(create_label_request(request))

    def assign_user(self, order_ids: Iterable[int], user_id: str) -> SuccessResponse:
        """Assign the orders to a user (GUID). All or nothing: if one order id is unknown,
        none is assigned."""
        return self._core.send(assign_user_request(order_ids, user_id))

    def unassign_user(self, order_ids: Iterable[int]) -> SuccessResponse:
        """Remove the assigned user from the orders."""
        return self._core.send(unassign_user_request(order_ids))


class Shipments:
    """``ss.shipments``."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def list(self, **filters: Unpack[ShipmentFilters]) -> Paginator[ShipmentPage, Shipment]:
        """Every matching shipment (label), fetched lazily."""
        first = list_shipments_request(**filters)
        return Paginator(self._core.send, first, lambda p: p.shipments, next_page)


class Fulfillments:
    """``ss.fulfillments``."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def list(
        self, **filters: Unpack[FulfillmentFilters]
    ) -> Paginator[FulfillmentPage, Fulfillment]:
        """Every matching fulfillment (mark-as-shipped record), fetched lazily."""
        first = list_fulfillments_request(**filters)
        return Paginator(self._core.send, first, lambda p: p.fulfillments, next_page)


class Carriers:
    """``ss.carriers``."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def list(self) -> builtins.list[Carrier]:
        """The carrier accounts (a code may appear twice, told apart by nickname)."""
        return self._core.send(_get("/carriers", _many(Carrier)))

    def services(self, carrier_code: str) -> builtins.list[CarrierService]:
        """The services of one carrier."""
        return self._core.send(
            _get("/carriers/listservices", _many(CarrierService), carrierCode=carrier_code)
        )

    def packages(self, carrier_code: str) -> builtins.list[CarrierPackage]:
        """The package types of one carrier."""
        return self._core.send(
            _get("/carriers/listpackages", _many(CarrierPackage), carrierCode=carrier_code)
        )


class Stores:
    """``ss.stores``."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def list(
        self, *, show_inactive: bool | None = None, marketplace_id: int | None = None
    ) -> builtins.list[Store]:
        """The stores of the account."""
        request = _get(
            "/stores", _many(Store), showInactive=show_inactive, marketplaceId=marketplace_id
        )
        return self._core.send(request)

    def get(self, store_id: int) -> Store:
        """One store, with its status mappings."""
        return self._core.send(_get(f"/stores/{int(store_id)}", _one(Store)))

    def marketplaces(self) -> builtins.list[Marketplace]:
        """Every marketplace ShipStation connects (look Back Market up by name)."""
        return self._core.send(_get("/stores/marketplaces", _many(Marketplace)))

    def refresh(
        self, store_id: int | None = None, *, refresh_date: datetime | date | str | None = None
    ) -> SuccessResponse:
        """Start a store refresh (all refreshable stores when ``store_id`` is None)."""
        return self._core.send(refresh_store_request(store_id, refresh_date))


class Webhooks:
    """``ss.webhooks``."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def subscribe(
        self,
        target_url: str,
        event: WebhookEvent | str,
        *,
        store_id: int | None = None,
        friendly_name: str | None = None,
    ) -> WebhookSubscriptionResult:
        """Ask ShipStation to POST ``event`` notifications to ``target_url``."""
        body = _subscription(target_url, event, store_id, friendly_name)
        return self._core.send(subscribe_request(body))

    def list(self) -> WebhookList:
        """The subscriptions of the account."""
        return self._core.send(_get("/webhooks", _one(WebhookList)))

    def unsubscribe(self, webhook_id: int) -> None:
        """Delete a subscription."""
        request = Request(method="DELETE", path=f"/webhooks/{int(webhook_id)}", parse=no_content)
        self._core.send(request)

    def fetch(self, payload: WebhookPayload | bytes | str | Mapping[str, Any]) -> WebhookResource:
        """Fetch what a webhook POST points at, after checking that ``resource_url`` is on the
        configured ShipStation host (else :class:`UntrustedWebhookURLError`, nothing sent).

        Returns the first page (``OrderPage``, ``ShipmentPage`` or ``FulfillmentPage``);
        :meth:`fetch_all` walks every page.
        """
        return self._core.send(webhook_resource_request(payload, self._core.base_url))

    def fetch_all(
        self, payload: WebhookPayload | bytes | str | Mapping[str, Any]
    ) -> Paginator[WebhookResource, Order | Shipment | Fulfillment]:
        """Every order, shipment or fulfillment a webhook POST points at, page by page (lazy),
        after the same host check as :meth:`fetch`."""
        first = webhook_resource_request(payload, self._core.base_url)
        return Paginator(self._core.send, first, _page_items, next_page)


class Products:
    """``ss.products``: the product records ShipStation keeps per SKU [A.2]."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def list(self, **filters: Unpack[ProductFilters]) -> Paginator[ProductPage, Product]:
        """Every matching product, fetched lazily (500 per page)."""
        first = list_products_request(**filters)
        return Paginator(self._core.send, first, lambda p: p.products, next_page)

    def get(self, product_id: int) -> Product:
        """One product by its ``productId``."""
        return self._core.send(get_product_request(product_id))

    def update(self, product_id: int, **changes: Unpack[ProductChanges]) -> SuccessResponse:
        """Change the named fields and nothing else: reads the record, applies ``changes``
        and PUTs it back whole (V1 wipes any field a PUT leaves out). Two calls."""
        current = self.get(product_id)
        return self._core.send(update_product_request(with_changes(current, changes)))

    def replace(self, product: Product) -> SuccessResponse:
        """PUT ``product`` as it is: every field it lacks is wiped. Give it a record you
        read (``get``/``list``) and changed with ``attrs.evolve``."""
        return self._core.send(update_product_request(product))


class Warehouses:
    """``ss.warehouses``: Ship From Locations [A.3]."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def list(self) -> builtins.list[Warehouse]:
        """Every Ship From Location (one call: the list is not paged)."""
        return self._core.send(_get("/warehouses", _many(Warehouse)))

    def get(self, warehouse_id: int) -> Warehouse:
        """One Ship From Location."""
        return self._core.send(get_warehouse_request(warehouse_id))

    def create(
        self,
        origin_address: Address,
        *,
        warehouse_name: str | None = None,
        return_address: Address | None = None,
        is_default: bool | None = None,
    ) -> Warehouse:
        """Add a Ship From Location; the return address defaults to the origin. Never
        resent after an unclear failure (it could make two)."""
        body = Warehouse(
            warehouse_name=warehouse_name,
            origin_address=origin_address,
            return_address=return_address,
            is_default=is_default,
        )
        return self._core.send(create_warehouse_request(body))

    def update(self, warehouse_id: int, **changes: Unpack[WarehouseChanges]) -> Warehouse:
        """Change the named fields and nothing else (read, change, PUT the whole record)."""
        current = self.get(warehouse_id)
        return self._core.send(update_warehouse_request(with_changes(current, changes)))

    def delete(self, warehouse_id: int) -> SuccessResponse:
        """Deactivate a Ship From Location (a soft delete)."""
        return self._core.send(delete_warehouse_request(warehouse_id))


class Tags:
    """``ss.tags``: the account's order tags [A.4]."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def list(self) -> builtins.list[Tag]:
        """Every tag of the account."""
        return self._core.send(_get("/accounts/listtags", _many(Tag)))

    def create(self, name: str, *, color: str | None = None) -> Tag:
        """Create a tag (``color`` as ``"#RRGGBB"``)."""
        return self._core.send(create_tag_request(name, color))


class ShipStationClient(_RateLimitView, SyncClientBase):
    """Blocking client of ShipStation API V1.

    ``api_key``/``api_secret`` are a V1 key pair (HTTP Basic). ``base_url`` defaults to
    ``https://ssapi.shipstation.com``. Every client of the same key pair in the process shares
    one rate limiter (40 requests a minute, steered by ``X-Rate-Limit-*``); with
    ``rate_limits`` (a :class:`~backmarket_shipstation.rate_limits.RateLimits`), every process
    and host whose clients use the same store shares it too. ``transport`` /
    ``http_client`` let you add proxies or test transports; ``timeout`` defaults to 5 s to
    connect and 30 s to read; ``clock`` drives throttling and back-off waits.
    """

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        timeout: httpx.Timeout | float | None = None,
        clock: Clock | None = None,
        retry_policy: RetryPolicy | None = None,
        rate_limits: RateLimits | None = None,
    ) -> None:
        settings = _core_settings(
            rate_limits=rate_limits,
            api_key=api_key,
            api_secret=api_secret,
            base_url=base_url,
            clock=clock,
            retry_policy=retry_policy,
        )
        self._core: SyncCore = SyncCore(
            http_client=http_client, transport=transport, timeout=timeout, **settings
        )
        self.orders = Orders(self._core)
        self.shipments = Shipments(self._core)
        self.fulfillments = Fulfillments(self._core)
        self.carriers = Carriers(self._core)
        self.stores = Stores(self._core)
        self.webhooks = Webhooks(self._core)
        self.products = Products(self._core)
        self.warehouses = Warehouses(self._core)
        self.tags = Tags(self._core)


# --------------------------------------------------------------------------------------
# Async facade
# --------------------------------------------------------------------------------------


class AsyncOrders:
    """``ss.orders`` of :class:`AsyncShipStationClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    def list(self, **filters: Unpack[OrderFilters]) -> AsyncPaginator[OrderPage, Order]:
        """Every matching order (``async for``), fetched lazily."""
        first = list_orders_request(**filters)
        return AsyncPaginator(self._core.send, first, lambda p: p.orders, next_page)

    async def get(self, order_id: int) -> Order:
        """One order by its internal ``orderId``."""
        return await self._core.send(get_order_request(order_id))

    async def upsert(self, order: Order) -> Order:
        """Create the order, or replace the one with its ``orderKey``."""
        return await self._core.send(upsert_order_request(order))

    async def upsert_many(self, orders: Iterable[Order]) -> BulkUpsertResult:
        """Upsert any number of orders, 100 per call; one result per order, in order."""
        return _merge([await self._core.send(upsert_orders_request(c)) for c in _chunks(orders)])

    async def mark_as_shipped(
        self,
        order_id: int,
        *,
        carrier_code: str,
        notify_customer: bool,
        notify_sales_channel: bool,
        ship_date: date | None = None,
        tracking_number: str | None = None,
    ) -> MarkAsShippedResult:
        """Mark an order shipped without a label; both notify flags explicit."""
        body = _mark_as_shipped(
            order_id, carrier_code, notify_customer, notify_sales_channel, ship_date,
            tracking_number,
        )  # fmt: skip
        return await self._core.send(mark_as_shipped_request(body))

    async def hold_until(self, order_id: int, hold_until_date: date) -> SuccessResponse:
        """Put the order on hold until that day."""
        return await self._core.send(hold_until_request(order_id, hold_until_date))

    async def restore_from_hold(self, order_id: int) -> SuccessResponse:
        """Move an on-hold order back to awaiting shipment."""
        request = _post("/orders/restorefromhold", {"orderId": order_id}, _success)
        return await self._core.send(request)

    async def delete(self, order_id: int) -> SuccessResponse:
        """Soft-delete an order."""
        request = Request(method="DELETE", path=f"/orders/{int(order_id)}", parse=_success)
        return await self._core.send(request)

    async def add_tag(self, order_id: int, tag_id: int) -> SuccessResponse:
        """Add a tag to an order."""
        body = {"orderId": order_id, "tagId": tag_id}
        return await self._core.send(_post("/orders/addtag", body, _success))

    async def remove_tag(self, order_id: int, tag_id: int) -> SuccessResponse:
        """Remove a tag from an order."""
        body = {"orderId": order_id, "tagId": tag_id}
        return await self._core.send(_post("/orders/removetag", body, _success))

    async def create_label(self, request: CreateLabelRequest) -> Label:
        """Buy a label for an order. Never resent after an unclear failure."""
        return await self._core.send(create_label_request(request))

    async def assign_user(self, order_ids: Iterable[int], user_id: str) -> SuccessResponse:
        """Assign the orders to a user (GUID); all or nothing."""
        return await self._core.send(assign_user_request(order_ids, user_id))

    async def unassign_user(self, order_ids: Iterable[int]) -> SuccessResponse:
        """Remove the assigned user from the orders."""
        return await self._core.send(unassign_user_request(order_ids))


class AsyncShipments:
    """``ss.shipments`` of :class:`AsyncShipStationClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    def list(self, **filters: Unpack[ShipmentFilters]) -> AsyncPaginator[ShipmentPage, Shipment]:
        """Every matching shipment (``async for``)."""
        first = list_shipments_request(**filters)
        return AsyncPaginator(self._core.send, first, lambda p: p.shipments, next_page)


class AsyncFulfillments:
    """``ss.fulfillments`` of :class:`AsyncShipStationClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    def list(
        self, **filters: Unpack[FulfillmentFilters]
    ) -> AsyncPaginator[FulfillmentPage, Fulfillment]:
        """Every matching fulfillment (``async for``)."""
        first = list_fulfillments_request(**filters)
        return AsyncPaginator(self._core.send, first, lambda p: p.fulfillments, next_page)


class AsyncCarriers:
    """``ss.carriers`` of :class:`AsyncShipStationClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    async def list(self) -> builtins.list[Carrier]:
        """The carrier accounts."""
        return await self._core.send(_get("/carriers", _many(Carrier)))

    async def services(self, carrier_code: str) -> builtins.list[CarrierService]:
        """The services of one carrier."""
        return await self._core.send(
            _get("/carriers/listservices", _many(CarrierService), carrierCode=carrier_code)
        )

    async def packages(self, carrier_code: str) -> builtins.list[CarrierPackage]:
        """The package types of one carrier."""
        return await self._core.send(
            _get("/carriers/listpackages", _many(CarrierPackage), carrierCode=carrier_code)
        )


class AsyncStores:
    """``ss.stores`` of :class:`AsyncShipStationClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    async def list(
        self, *, show_inactive: bool | None = None, marketplace_id: int | None = None
    ) -> builtins.list[Store]:
        """The stores of the account."""
        request = _get(
            "/stores", _many(Store), showInactive=show_inactive, marketplaceId=marketplace_id
        )
        return await self._core.send(request)

    async def get(self, store_id: int) -> Store:
        """One store, with its status mappings."""
        return await self._core.send(_get(f"/stores/{int(store_id)}", _one(Store)))

    async def marketplaces(self) -> builtins.list[Marketplace]:
        """Every marketplace ShipStation connects."""
        return await self._core.send(_get("/stores/marketplaces", _many(Marketplace)))

    async def refresh(
        self, store_id: int | None = None, *, refresh_date: datetime | date | str | None = None
    ) -> SuccessResponse:
        """Start a store refresh."""
        return await self._core.send(refresh_store_request(store_id, refresh_date))


class AsyncWebhooks:
    """``ss.webhooks`` of :class:`AsyncShipStationClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    async def subscribe(
        self,
        target_url: str,
        event: WebhookEvent | str,
        *,
        store_id: int | None = None,
        friendly_name: str | None = None,
    ) -> WebhookSubscriptionResult:
        """Ask ShipStation to POST ``event`` notifications to ``target_url``."""
        body = _subscription(target_url, event, store_id, friendly_name)
        return await self._core.send(subscribe_request(body))

    async def list(self) -> WebhookList:
        """The subscriptions of the account."""
        return await self._core.send(_get("/webhooks", _one(WebhookList)))

    async def unsubscribe(self, webhook_id: int) -> None:
        """Delete a subscription."""
        request = Request(method="DELETE", path=f"/webhooks/{int(webhook_id)}", parse=no_content)
        await self._core.send(request)

    async def fetch(
        self, payload: WebhookPayload | bytes | str | Mapping[str, Any]
    ) -> WebhookResource:
        """Fetch what a webhook POST points at, after the host check (see the sync twin)."""
        return await self._core.send(webhook_resource_request(payload, self._core.base_url))

    def fetch_all(
        self, payload: WebhookPayload | bytes | str | Mapping[str, Any]
    ) -> AsyncPaginator[WebhookResource, Order | Shipment | Fulfillment]:
        """Every item a webhook POST points at (``async for``), after the host check."""
        first = webhook_resource_request(payload, self._core.base_url)
        return AsyncPaginator(self._core.send, first, _page_items, next_page)


class AsyncProducts:
    """``ss.products`` of :class:`AsyncShipStationClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    def list(self, **filters: Unpack[ProductFilters]) -> AsyncPaginator[ProductPage, Product]:
        """Every matching product (``async for``)."""
        first = list_products_request(**filters)
        return AsyncPaginator(self._core.send, first, lambda p: p.products, next_page)

    async def get(self, product_id: int) -> Product:
        """One product by its ``productId``."""
        return await self._core.send(get_product_request(product_id))

    async def update(self, product_id: int, **changes: Unpack[ProductChanges]) -> SuccessResponse:
        """Change the named fields and nothing else (read, change, PUT the whole record)."""
        current = await self.get(product_id)
        return await self._core.send(update_product_request(with_changes(current, changes)))

    async def replace(self, product: Product) -> SuccessResponse:
        """PUT ``product`` as it is (see the sync twin)."""
        return await self._core.send(update_product_request(product))


class AsyncWarehouses:
    """``ss.warehouses`` of :class:`AsyncShipStationClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    async def list(self) -> builtins.list[Warehouse]:
        """Every Ship From Location."""
        return await self._core.send(_get("/warehouses", _many(Warehouse)))

    async def get(self, warehouse_id: int) -> Warehouse:
        """One Ship From Location."""
        return await self._core.send(get_warehouse_request(warehouse_id))

    async def create(
        self,
        origin_address: Address,
        *,
        warehouse_name: str | None = None,
        return_address: Address | None = None,
        is_default: bool | None = None,
    ) -> Warehouse:
        """Add a Ship From Location (never resent after an unclear failure)."""
        body = Warehouse(
            warehouse_name=warehouse_name,
            origin_address=origin_address,
            return_address=return_address,
            is_default=is_default,
        )
        return await self._core.send(create_warehouse_request(body))

    async def update(self, warehouse_id: int, **changes: Unpack[WarehouseChanges]) -> Warehouse:
        """Change the named fields and nothing else (read, change, PUT the whole record)."""
        current = await self.get(warehouse_id)
        return await self._core.send(update_warehouse_request(with_changes(current, changes)))

    async def delete(self, warehouse_id: int) -> SuccessResponse:
        """Deactivate a Ship From Location."""
        return await self._core.send(delete_warehouse_request(warehouse_id))


class AsyncTags:
    """``ss.tags`` of :class:`AsyncShipStationClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    async def list(self) -> builtins.list[Tag]:
        """Every tag of the account."""
        return await self._core.send(_get("/accounts/listtags", _many(Tag)))

    async def create(self, name: str, *, color: str | None = None) -> Tag:
        """Create a tag."""
        return await self._core.send(create_tag_request(name, color))


class AsyncShipStationClient(_RateLimitView, AsyncClientBase):
    """The asyncio twin of :class:`ShipStationClient` (same arguments)."""

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout | float | None = None,
        clock: Clock | None = None,
        retry_policy: RetryPolicy | None = None,
        rate_limits: RateLimits | None = None,
    ) -> None:
        settings = _core_settings(
            rate_limits=rate_limits,
            api_key=api_key,
            api_secret=api_secret,
            base_url=base_url,
            clock=clock,
            retry_policy=retry_policy,
        )
        self._core: AsyncCore = AsyncCore(
            http_client=http_client, transport=transport, timeout=timeout, **settings
        )
        self.orders = AsyncOrders(self._core)
        self.shipments = AsyncShipments(self._core)
        self.fulfillments = AsyncFulfillments(self._core)
        self.carriers = AsyncCarriers(self._core)
        self.stores = AsyncStores(self._core)
        self.webhooks = AsyncWebhooks(self._core)
        self.products = AsyncProducts(self._core)
        self.warehouses = AsyncWarehouses(self._core)
        self.tags = AsyncTags(self._core)
