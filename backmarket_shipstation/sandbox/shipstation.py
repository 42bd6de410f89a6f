"""A local simulator of the ShipStation API V1, on raw JSON and httpx.

:class:`ShipStationSimulator` answers ``httpx.Request`` objects the way ``ssapi.shipstation.com``
does (shipstation.md §1 to §3 and §8): HTTP Basic auth, the 40-per-minute fixed window with the
``X-Rate-Limit-*`` headers, orders with upsert on ``orderKey``, mark-as-shipped fulfillments,
labels that make shipments and queue ``SHIP_NOTIFY`` webhooks, stores, carriers, webhooks, US
Pacific dates without offsets and ASP.NET-shaped error bodies.

It is an independent implementation of the documented behaviour: it never imports the SDK's
ShipStation client, models or mapping, so the two cannot share a bug. Behaviours the
documentation leaves open are constructor options; docs/sandbox-shipstation.md lists them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import random
import re
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import httpx

from backmarket_shipstation.clock import Clock
from backmarket_shipstation.sandbox._ss_catalog import (
    CARRIERS,
    MARKETPLACES,
    PACKAGES,
    SERVICES,
    TAGS,
    WEIGHT_UNIT_CODES,
    marketplace_entry,
)
from backmarket_shipstation.sandbox._ss_dates import (
    OffsetHandling,
    format_date,
    format_item_timestamp,
    format_timestamp,
    now_pacific,
    parse_date,
    parse_timestamp,
)

__all__ = [
    "DEFAULT_BACKMARKET_MARKETPLACE_ID",
    "DEFAULT_BACKMARKET_STORE_ID",
    "DEFAULT_MANUAL_STORE_ID",
    "ShipStationSimulator",
    "SimulatorRequestError",
]

DEFAULT_BACKMARKET_STORE_ID = 310001
DEFAULT_MANUAL_STORE_ID = 310000
# No source gives Back Market's marketplaceId (shipstation.md §3.8, §9): an invented value that
# clients must look up by name, never hard-code.
DEFAULT_BACKMARKET_MARKETPLACE_ID = 316

ORDER_STATUSES = frozenset(
    {
        "awaiting_payment",
        "awaiting_shipment",
        "pending_fulfillment",
        "on_hold",
        "shipped",
        "cancelled",
    }
)
LOCKED_STATUSES = frozenset({"shipped", "cancelled"})
CONFIRMATIONS = frozenset({"none", "delivery", "signature", "adult_signature", "direct_signature"})
WEBHOOK_EVENTS = frozenset(
    {
        "ORDER_NOTIFY",
        "ITEM_ORDER_NOTIFY",
        "SHIP_NOTIFY",
        "ITEM_SHIP_NOTIFY",
        "FULFILLMENT_SHIPPED",
        "FULFILLMENT_REJECTED",
    }
)
MAX_BULK_ORDERS = 100
_OUNCES_PER_UNIT = {"ounces": Decimal(1), "pounds": Decimal(16), "grams": Decimal("0.035274")}
_CENT = Decimal("0.01")
_INVALID = "The request is invalid."
_CARRIER_BASE_COST = {
    "stamps_com": Decimal("5.20"),
    "usps": Decimal("5.40"),
    "ups": Decimal("9.85"),
    "fedex": Decimal("9.50"),
    "dhl_express": Decimal("24.90"),
    "royal_mail": Decimal("3.95"),
    "colissimo": Decimal("6.55"),
    "chronopost": Decimal("11.90"),
    "dpd": Decimal("6.95"),
    "gls": Decimal("6.20"),
}
# A minimal one-page PDF, so labelData decodes to something a PDF reader recognises.
_LABEL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 288 432]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)

WebhookSend = Callable[[str, dict[str, Any]], None]


class SimulatorRequestError(ValueError):
    """A direct simulator call (``buy_label``, ``add_order``) failed as the endpoint would.

    ``status_code`` and ``body`` are what the HTTP endpoint answers for the same input.
    """

    def __init__(self, status_code: int, body: Any) -> None:
        self.status_code = status_code
        self.body = body
        message = body.get("Message") or body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{status_code}: {message}")


class _Reply(Exception):
    """Raised inside a handler to answer with an error status and body at once."""

    def __init__(self, status_code: int, body: Any) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.body = body


def _bad_request(message: str, model_state: Mapping[str, list[str]] | None = None) -> _Reply:
    body: dict[str, Any] = {"Message": message}
    if model_state is not None:
        body["ModelState"] = dict(model_state)
    return _Reply(400, body)


def _invalid(key: str, message: str) -> _Reply:
    return _bad_request(_INVALID, {key: [message]})


class _OrderInvalid(Exception):
    """One order of a create call does not bind: the ModelState key and message."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _pack(data: Any) -> bytes:
    text = json.dumps(data, default=_json_default, separators=(",", ":"))
    # Level 1: the null-heavy JSON still shrinks by half or more, for a few microseconds.
    return zlib.compress(text.encode("utf-8"), 1)


def _unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


class _Packed:
    """A record whose wire form is kept as compact JSON bytes.

    Dicts per order, address and item cost about 6 KB an order; compressed JSON about 1 KB, so
    a simulator holding 100,000 orders stays around 200 MB. The fields that filters and state
    changes read live beside it as attributes.
    """

    __slots__ = ()
    blob: bytes

    @property
    def data(self) -> dict[str, Any]:
        """A fresh dict of the wire form, as a client would parse it."""
        loaded: dict[str, Any] = _unpack(self.blob)
        return loaded

    def update(self, **changes: Any) -> None:
        data = self.data
        data.update(changes)
        # The slot itself is made by each slotted dataclass below, which mypy cannot see here.
        self.blob = _pack(data)  # type: ignore[misc]


@dataclass(slots=True)
class _Order(_Packed):
    order_id: int
    order_key: str
    order_number: str
    store_id: int
    status: str
    order_date: datetime
    create_date: datetime
    modify_date: datetime
    payment_date: datetime | None
    blob: bytes
    # Lower-cased text searched by the customerName and itemKeyword filters.
    search_names: str
    search_items: str
    hold_until: date | None = None
    active: bool = True
    import_batch: str | None = None
    tag_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Shipment(_Packed):
    shipment_id: int
    order_id: int
    order_number: str
    store_id: int
    batch_id: int
    create_date: datetime
    ship_date: date
    carrier_code: str
    service_code: str
    tracking_number: str
    recipient_name: str
    recipient_country: str
    blob: bytes
    items_blob: bytes
    void_date: datetime | None = None


@dataclass(slots=True)
class _Fulfillment(_Packed):
    fulfillment_id: int
    order_id: int
    order_number: str
    tracking_number: str | None
    recipient_name: str
    create_date: datetime
    ship_date: date
    blob: bytes


@dataclass
class _Webhook:
    webhook_id: int
    target_url: str
    event: str
    store_id: int | None
    name: str | None


@dataclass
class _Delivery:
    due: float
    url: str
    payload: dict[str, Any]
    attempts: int = 0


@dataclass
class _Window:
    index: int
    used: int


@dataclass
class _Request:
    method: str
    path: str
    url: str
    query: dict[str, str]
    content: bytes
    params: dict[str, str]

    def json(self, model_key: str) -> Any:
        if not self.content.strip():
            return None
        try:
            return json.loads(self.content, parse_float=Decimal)
        except ValueError as exc:
            raise _invalid(
                model_key, f"Unexpected character encountered while parsing value: {exc}"
            ) from None


class ShipStationSimulator:
    """The ShipStation V1 API in memory, behind ``handle(httpx.Request) -> httpx.Response``.

    Thread-safe: one lock guards all state. Time comes only from ``clock`` (rate-limit windows,
    timestamps, hold release, webhook delays), so a ``VirtualClock`` makes every behaviour
    testable without waiting.

    Seeds a manual store (``marketplaceId`` 0, "ShipStation") and a Back Market store; carriers,
    services and packages of the US and European carriers. Options for behaviours the docs leave
    open are keyword arguments, described in docs/sandbox-shipstation.md.

    Args:
        clock: the time source.
        api_key, api_secret: the one V1 key pair accepted (HTTP Basic ``key:secret``).
        base_url: external base URL, used in webhook ``resource_url`` and 404 messages.
        seed: makes generated keys, GUIDs and tracking numbers deterministic.
        backmarket_store_id, backmarket_marketplace_id, manual_store_id: ids of the seeded stores.
        rate_limit, rate_window_seconds: the fixed window per key pair (40 per 60 s).
        date_offsets: ``"ignore"`` drops a ``Z`` or offset and keeps the wall time (ShipStation's
            observed behaviour); ``"convert"`` converts the instant to Pacific time.
        order_date_filters: ``"inclusive"`` (``>=``/``<=`` on every order date filter) or
            ``"documented"`` (``>`` for Start filters and ``<`` for End filters, except
            ``orderDateEnd`` which is ``<=``, word for word from the docs).
        page_size_over_max: ``"clamp"`` serves 500 when more is asked, ``"error"`` answers 400.
        accept_path_aliases: also answer ``/orders/markshipped`` and ``/orders/list``.
        keep_item_ids_on_update: an upsert keeps the ``orderItemId`` of items whose
            ``lineItemKey`` is unchanged instead of numbering them anew.
        mark_shipped_from: statuses ``markasshipped`` accepts.
        list_voided_shipments: whether ``GET /shipments`` lists voided labels.
        order_notify_on_create: whether creating orders through the API queues ORDER_NOTIFY.
        webhook_delay_seconds: how long after the action a webhook becomes deliverable.
        webhook_max_attempts: how many times ``deliver_webhooks`` tries one delivery.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        api_key: str,
        api_secret: str,
        base_url: str = "https://ssapi.shipstation.com",
        seed: int = 0,
        backmarket_store_id: int = DEFAULT_BACKMARKET_STORE_ID,
        backmarket_marketplace_id: int = DEFAULT_BACKMARKET_MARKETPLACE_ID,
        manual_store_id: int = DEFAULT_MANUAL_STORE_ID,
        rate_limit: int = 40,
        rate_window_seconds: float = 60.0,
        date_offsets: OffsetHandling = "ignore",
        order_date_filters: Literal["inclusive", "documented"] = "inclusive",
        page_size_over_max: Literal["clamp", "error"] = "clamp",
        accept_path_aliases: bool = False,
        keep_item_ids_on_update: bool = False,
        mark_shipped_from: Iterable[str] = ("awaiting_shipment", "on_hold"),
        list_voided_shipments: bool = True,
        order_notify_on_create: bool = True,
        webhook_delay_seconds: float = 0.0,
        webhook_max_attempts: int = 5,
    ) -> None:
        if not api_key or not api_secret:
            raise ValueError("api_key and api_secret must be non-empty")
        if date_offsets not in ("ignore", "convert"):
            raise ValueError(f"date_offsets must be 'ignore' or 'convert', not {date_offsets!r}")
        if order_date_filters not in ("inclusive", "documented"):
            raise ValueError(f"unknown order_date_filters {order_date_filters!r}")
        if page_size_over_max not in ("clamp", "error"):
            raise ValueError(f"unknown page_size_over_max {page_size_over_max!r}")
        if rate_limit < 1 or rate_window_seconds <= 0 or webhook_max_attempts < 1:
            raise ValueError(
                "rate_limit, rate_window_seconds and webhook_max_attempts must be positive"
            )
        unknown_statuses = set(mark_shipped_from) - ORDER_STATUSES
        if unknown_statuses:
            raise ValueError(f"unknown order statuses in mark_shipped_from: {unknown_statuses}")
        self.clock = clock
        self.base_url = base_url
        self._api_key = api_key
        self._api_secret = api_secret
        self._rng = random.Random(seed)
        self.backmarket_store_id = backmarket_store_id
        self.backmarket_marketplace_id = backmarket_marketplace_id
        self.manual_store_id = manual_store_id
        self.rate_limit = rate_limit
        self.rate_window_seconds = rate_window_seconds
        self.date_offsets: OffsetHandling = date_offsets
        self.order_date_filters = order_date_filters
        self.page_size_over_max = page_size_over_max
        self.accept_path_aliases = accept_path_aliases
        self.keep_item_ids_on_update = keep_item_ids_on_update
        self.mark_shipped_from = frozenset(mark_shipped_from)
        self.list_voided_shipments = list_voided_shipments
        self.order_notify_on_create = order_notify_on_create
        self.webhook_delay_seconds = webhook_delay_seconds
        self.webhook_max_attempts = webhook_max_attempts

        self._lock = threading.RLock()
        self._windows: dict[str, _Window] = {}
        self._orders: dict[int, _Order] = {}
        self._orders_by_key: dict[str, int] = {}
        self._held: set[int] = set()
        self._shipments: dict[int, _Shipment] = {}
        self._fulfillments: dict[int, _Fulfillment] = {}
        self._webhooks: dict[int, _Webhook] = {}
        self._deliveries: list[_Delivery] = []
        self._customers: dict[str, int] = {}
        self._stores: dict[int, dict[str, Any]] = {}
        self._status_mappings: dict[int, list[dict[str, str]] | None] = {}
        self._next = {
            "order": 100_000_001,
            "item": 200_000_001,
            "shipment": 300_000_001,
            "fulfillment": 400_000_001,
            "webhook": 500_001,
            "batch": 600_001,
            "customer": 700_000_001,
            "customs": 800_000_001,
        }
        self.user_id = self._guid()
        self.warehouse_id = 499_995
        self._route_table = self._routes()
        self._marketplaces = [dict(m) for m in MARKETPLACES]
        self._marketplaces.append(marketplace_entry("Back Market", backmarket_marketplace_id))
        self.add_store(
            store_name="Manual Orders",
            marketplace_id=0,
            store_id=manual_store_id,
            status_mappings=None,
        )
        # Back Market's two mapped statuses, from ShipStation's help page (the seed text).
        self.add_store(
            store_name="Back Market",
            marketplace_id=backmarket_marketplace_id,
            store_id=backmarket_store_id,
            status_mappings=[
                {"orderStatus": "awaiting_shipment", "statusKey": "1"},
                {"orderStatus": "shipped", "statusKey": "9"},
            ],
        )

    def __repr__(self) -> str:
        # Never the key pair.
        return f"ShipStationSimulator(base_url={self.base_url!r}, orders={len(self._orders)})"

    # ------------------------------------------------------------------ public helpers

    def add_store(
        self,
        *,
        store_name: str,
        marketplace_id: int = 0,
        store_id: int | None = None,
        active: bool = True,
        status_mappings: list[dict[str, str]] | None = None,
    ) -> int:
        """Add a store (not rate-limited, not counted) and return its ``storeId``."""
        with self._lock:
            marketplace = next(
                (m for m in self._marketplaces if m["marketplaceId"] == marketplace_id), None
            )
            if marketplace is None:
                raise ValueError(f"unknown marketplaceId {marketplace_id}")
            if store_id is None:
                store_id = max(self._stores, default=310_000) + 1
            if store_id in self._stores:
                raise ValueError(f"storeId {store_id} already exists")
            now = format_timestamp(now_pacific(self.clock))
            self._stores[store_id] = {
                "storeId": store_id,
                "storeName": store_name,
                "marketplaceId": marketplace_id,
                "marketplaceName": marketplace["name"],
                "accountName": None,
                "email": None,
                "integrationUrl": None,
                "active": active,
                "companyName": "",
                "phone": "",
                "publicEmail": "",
                "website": "",
                "refreshDate": None,
                "lastRefreshAttempt": None,
                "createDate": now,
                "modifyDate": now,
                "autoRefresh": marketplace_id != 0,
            }
            self._status_mappings[store_id] = status_mappings
            return store_id

    def add_order(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """Upsert one order exactly as ``POST /orders/createorder`` does, without HTTP or limits.

        Returns the stored order as the endpoint would; raises :class:`SimulatorRequestError`
        with the endpoint's status and body when it would fail.
        """
        body = json.loads(json.dumps(dict(order), default=_json_default), parse_float=Decimal)
        with self._lock:
            created: dict[str, Any] = self._direct(lambda: self._create_one(body))
            return created

    def set_internal_notes(self, order_id: int, notes: str) -> dict[str, Any]:
        """Edit an order's Internal Notes as a seller does in ShipStation's web app.

        Unlike createorder, the web app edits notes of shipped orders too (a packer adding
        the IMEI after the label was bought). Bumps ``modifyDate``; raises ``KeyError`` for an
        unknown order.
        """
        with self._lock:
            order = self._orders[order_id]
            now = now_pacific(self.clock)
            order.modify_date = now
            order.update(internalNotes=notes, modifyDate=format_timestamp(now))
            return self._render_order(order)

    def buy_label(
        self,
        order_id: int,
        *,
        carrier_code: str = "ups",
        service_code: str = "ups_ground",
        package_code: str = "package",
        confirmation: str = "none",
        ship_date: str | None = None,
        weight: Mapping[str, Any] | None = None,
        test_label: bool = False,
    ) -> dict[str, Any]:
        """Buy a label for an order, exactly as ``POST /orders/createlabelfororder`` does.

        The order becomes shipped, a shipment is stored and SHIP_NOTIFY queued. Not rate-limited.
        Raises :class:`SimulatorRequestError` where the endpoint would answer an error.
        """
        body: dict[str, Any] = {
            "orderId": order_id,
            "carrierCode": carrier_code,
            "serviceCode": service_code,
            "packageCode": package_code,
            "confirmation": confirmation,
            "shipDate": ship_date,
            "weight": None if weight is None else dict(weight),
            "testLabel": test_label,
        }
        body = json.loads(json.dumps(body, default=_json_default), parse_float=Decimal)
        with self._lock:
            label: dict[str, Any] = _plain(self._direct(lambda: self._create_label(body)))
            return label

    @property
    def webhook_deliveries(self) -> list[tuple[str, dict[str, Any]]]:
        """Pending webhook POSTs that are due now, as ``(target_url, payload)`` pairs."""
        with self._lock:
            now = self.clock.monotonic()
            return [(d.url, dict(d.payload)) for d in self._deliveries if d.due <= now]

    def deliver_webhooks(self, send: WebhookSend) -> int:
        """POST every due webhook through ``send(url, payload)``; return how many succeeded.

        A delivery whose ``send`` raises stays queued for the next call, up to
        ``webhook_max_attempts`` attempts in all (V1's retry policy is not documented; retrying
        a few times is the conservative choice). ``send`` runs outside the lock, so it may call
        the simulator back (a receiver fetching ``resource_url``).
        """
        with self._lock:
            now = self.clock.monotonic()
            due = [d for d in self._deliveries if d.due <= now]
            self._deliveries = [d for d in self._deliveries if d.due > now]
        delivered = 0
        failed: list[_Delivery] = []
        for delivery in due:
            delivery.attempts += 1
            try:
                send(delivery.url, dict(delivery.payload))
            except Exception:
                if delivery.attempts < self.webhook_max_attempts:
                    failed.append(delivery)
            else:
                delivered += 1
        if failed:
            with self._lock:
                self._deliveries[:0] = failed
        return delivered

    def orders(self, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every stored order as ``GET /orders/{id}`` returns it, ascending ``orderId``."""
        with self._lock:
            self._release_holds()
            return [
                self._render_order(o) for o in self._orders.values() if o.active or include_deleted
            ]

    def get_order(self, order_id: int) -> dict[str, Any] | None:
        """One stored order (deleted ones included), or None."""
        with self._lock:
            self._release_holds()
            order = self._orders.get(order_id)
            return None if order is None else self._render_order(order)

    def shipments(self) -> list[dict[str, Any]]:
        """Every shipment (voided ones included), with ``shipmentItems``."""
        with self._lock:
            return [self._render_shipment(s, items=True) for s in self._shipments.values()]

    def fulfillments(self) -> list[dict[str, Any]]:
        """Every fulfillment made by ``markasshipped``."""
        with self._lock:
            return [f.data for f in self._fulfillments.values()]

    def stores(self) -> list[dict[str, Any]]:
        """Every store, active or not."""
        with self._lock:
            return [_plain(s) for s in self._stores.values()]

    def webhooks(self) -> list[dict[str, Any]]:
        """Webhook subscriptions as ``GET /webhooks`` lists them (PascalCase)."""
        with self._lock:
            return [self._render_webhook(w) for w in self._webhooks.values()]

    # ------------------------------------------------------------------ HTTP entry point

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request whose URL path is relative to the API root (``/orders``...)."""
        try:
            content = request.content
        except httpx.RequestNotRead:
            content = request.read()
        path = "/" + request.url.path.strip("/")
        req = _Request(
            method=request.method.upper(),
            path=path.lower(),
            url=f"{self.base_url.rstrip('/')}{path}"
            + (f"?{request.url.query.decode('ascii', 'replace')}" if request.url.query else ""),
            # ASP.NET binds query parameters case-insensitively.
            query={k.lower(): v for k, v in request.url.params.multi_items()},
            content=content,
            params={},
        )
        with self._lock:
            key_pair = self._authenticate(request.headers.get("authorization"))
            if key_pair is None:
                return _response(
                    401, {"Message": "Authorization has been denied for this request."}
                )
            limit_headers, allowed = self._count_request(key_pair)
            if not allowed:
                return _response(429, {"message": "Too Many Requests"}, limit_headers)
            self._release_holds()
            try:
                status, body = self._dispatch(req)
            except _Reply as reply:
                status, body = reply.status_code, reply.body
            except Exception as exc:  # an internal error answers like ASP.NET, never crashes
                status, body = (
                    500,
                    {
                        "Message": "An error has occurred.",
                        "ExceptionMessage": str(exc),
                        "ExceptionType": f"System.{type(exc).__name__}",
                        "StackTrace": None,
                    },
                )
        return _response(status, body, limit_headers)

    # ------------------------------------------------------------------ auth and limits

    def _authenticate(self, header: str | None) -> str | None:
        if not header:
            return None
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        key, sep, secret = decoded.partition(":")
        if not sep:
            return None
        ok_key = hmac.compare_digest(key.encode(), self._api_key.encode())
        ok_secret = hmac.compare_digest(secret.encode(), self._api_secret.encode())
        return key if ok_key and ok_secret else None

    def _count_request(self, key: str) -> tuple[dict[str, str], bool]:
        now = self.clock.monotonic()
        index = math.floor(now / self.rate_window_seconds)
        window = self._windows.get(key)
        if window is None or window.index != index:
            window = self._windows[key] = _Window(index=index, used=0)
        allowed = window.used < self.rate_limit
        if allowed:
            window.used += 1
        reset = max(1, math.ceil((index + 1) * self.rate_window_seconds - now))
        headers = {
            "X-Rate-Limit-Limit": str(self.rate_limit),
            "X-Rate-Limit-Remaining": str(self.rate_limit - window.used),
            "X-Rate-Limit-Reset": str(reset),
        }
        return headers, allowed

    # ------------------------------------------------------------------ routing

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[[_Request], Any]]]:
        routes: list[tuple[str, str, Callable[[_Request], Any]]] = [
            ("GET", r"/orders", self._list_orders),
            ("GET", r"/orders/listbytag", self._list_orders_by_tag),
            ("GET", r"/orders/(?P<id>-?\d+)", self._get_order),
            ("DELETE", r"/orders/(?P<id>-?\d+)", self._delete_order),
            ("POST", r"/orders/createorder", self._post_create_order),
            ("POST", r"/orders/createorders", self._post_create_orders),
            ("POST", r"/orders/markasshipped", self._mark_as_shipped),
            ("POST", r"/orders/holduntil", self._hold_until),
            ("POST", r"/orders/restorefromhold", self._restore_from_hold),
            ("POST", r"/orders/addtag", self._add_tag),
            ("POST", r"/orders/removetag", self._remove_tag),
            ("POST", r"/orders/createlabelfororder", self._post_create_label),
            ("GET", r"/shipments", self._list_shipments),
            ("POST", r"/shipments/voidlabel", self._void_label),
            ("GET", r"/fulfillments", self._list_fulfillments),
            ("GET", r"/carriers", self._list_carriers),
            ("GET", r"/carriers/getcarrier", self._get_carrier),
            ("GET", r"/carriers/listservices", self._list_services),
            ("GET", r"/carriers/listpackages", self._list_packages),
            ("GET", r"/stores", self._list_stores),
            ("GET", r"/stores/marketplaces", self._list_marketplaces),
            ("POST", r"/stores/refreshstore", self._refresh_store),
            ("GET", r"/stores/getrefreshstatus", self._refresh_status),
            ("GET", r"/stores/(?P<id>-?\d+)", self._get_store),
            ("GET", r"/webhooks", self._list_webhooks),
            ("POST", r"/webhooks/subscribe", self._subscribe),
            ("DELETE", r"/webhooks/(?P<id>-?\d+)", self._unsubscribe),
            ("GET", r"/accounts/listtags", self._list_tags),
        ]
        if self.accept_path_aliases:
            routes += [
                ("GET", r"/orders/list", self._list_orders),
                ("POST", r"/orders/markshipped", self._mark_as_shipped),
            ]
        return [(m, re.compile(p + r"\Z"), h) for m, p, h in routes]

    def _dispatch(self, req: _Request) -> tuple[int, Any]:
        path_matched = False
        for method, pattern, handler in self._route_table:
            match = pattern.match(req.path)
            if match is None:
                continue
            if method != req.method:
                path_matched = True
                continue
            req.params = match.groupdict()
            result = handler(req)
            if isinstance(result, tuple):
                return result
            return 200, result
        if path_matched:
            raise _Reply(
                405,
                {"Message": f"The requested resource does not support http method '{req.method}'."},
            )
        raise _Reply(
            404,
            {"Message": f"No HTTP resource was found that matches the request URI '{req.url}'."},
        )

    def _direct(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except _Reply as reply:
            raise SimulatorRequestError(reply.status_code, reply.body) from None

    # ------------------------------------------------------------------ query parsing

    def _query_int(self, req: _Request, name: str) -> int | None:
        raw = req.query.get(name.lower())
        if raw is None or raw == "":
            return None
        try:
            return int(raw)
        except ValueError:
            raise _bad_request(
                _INVALID, {name: [f"The value '{raw}' is not valid for {name}."]}
            ) from None

    def _query_bool(self, req: _Request, name: str) -> bool | None:
        raw = req.query.get(name.lower())
        if raw is None or raw == "":
            return None
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise _bad_request(_INVALID, {name: [f"The value '{raw}' is not valid for {name}."]})

    def _query_datetime(self, req: _Request, name: str) -> datetime | None:
        raw = req.query.get(name.lower())
        if raw is None or raw == "":
            return None
        try:
            return parse_timestamp(raw, self.date_offsets)
        except ValueError:
            raise _bad_request(
                _INVALID, {name: [f"The value '{raw}' is not valid for {name}."]}
            ) from None

    def _paging(self, req: _Request) -> tuple[int, int]:
        page = self._query_int(req, "page") or 1
        page_size = self._query_int(req, "pageSize") or 100
        if page < 1 or page_size < 1:
            raise _bad_request("page and pageSize must be positive.")
        if page_size > 500:
            if self.page_size_over_max == "error":
                raise _bad_request("The maximum pageSize is 500.")
            page_size = 500
        return page, page_size

    def _sorting(self, req: _Request, allowed: Mapping[str, str]) -> tuple[str | None, bool]:
        sort_by = req.query.get("sortby")
        sort_dir = (req.query.get("sortdir") or "ASC").upper()
        if sort_dir not in ("ASC", "DESC"):
            raise _bad_request(_INVALID, {"sortDir": [f"The value '{sort_dir}' is not valid."]})
        if sort_by:
            canonical = allowed.get(sort_by.lower())
            if canonical is None:
                raise _bad_request(_INVALID, {"sortBy": [f"The value '{sort_by}' is not valid."]})
            return canonical, sort_dir == "DESC"
        return None, sort_dir == "DESC"

    @staticmethod
    def _page(
        items: list[Any], name: str, page: int, page_size: int, render: Callable[[Any], Any]
    ) -> dict[str, Any]:
        total = len(items)
        start = (page - 1) * page_size
        return {
            name: [render(item) for item in items[start : start + page_size]],
            "total": total,
            "page": page,
            "pages": math.ceil(total / page_size),
        }

    # ------------------------------------------------------------------ orders: reads

    def _date_filter(
        self, values: Iterable[Any], req: _Request, field_name: str, attr: str, *, exclusive: bool
    ) -> Iterable[Any]:
        start = self._query_datetime(req, f"{field_name}Start")
        end = self._query_datetime(req, f"{field_name}End")
        if start is None and end is None:
            return values
        strict_start = exclusive and self.order_date_filters == "documented"
        # orderDateEnd is "less than or equal" even in the docs' own words.
        strict_end = strict_start and field_name != "orderDate"

        def keep(item: Any) -> bool:
            value = getattr(item, attr)
            if value is None:
                return False
            if start is not None and (value <= start if strict_start else value < start):
                return False
            return not (end is not None and (value >= end if strict_end else value > end))

        return [v for v in values if keep(v)]

    def _list_orders(self, req: _Request) -> dict[str, Any]:
        page, page_size = self._paging(req)
        sort_by, descending = self._sorting(
            req,
            {"orderdate": "order_date", "modifydate": "modify_date", "createdate": "create_date"},
        )
        orders: Iterable[_Order] = (o for o in self._orders.values() if o.active)
        status = req.query.get("orderstatus")
        if status:
            if status not in ORDER_STATUSES | {"rejected_fulfillment"}:
                raise _bad_request(
                    _INVALID, {"orderStatus": [f"The value '{status}' is not valid."]}
                )
            orders = (o for o in orders if o.status == status)
        store_id = self._query_int(req, "storeId")
        if store_id is not None:
            orders = (o for o in orders if o.store_id == store_id)
        number = req.query.get("ordernumber")
        if number:
            orders = (o for o in orders if o.order_number.startswith(number))
        batch = req.query.get("importbatch")
        if batch:
            orders = (o for o in orders if o.import_batch == batch)
        name = (req.query.get("customername") or "").lower()
        if name:
            orders = (o for o in orders if name in o.search_names)
        keyword = (req.query.get("itemkeyword") or "").lower()
        if keyword:
            orders = (o for o in orders if keyword in o.search_items)
        for field_name, attr in (
            ("createDate", "create_date"),
            ("modifyDate", "modify_date"),
            ("orderDate", "order_date"),
            ("paymentDate", "payment_date"),
        ):
            orders = self._date_filter(orders, req, field_name, attr, exclusive=True)
        selected = list(orders)
        if sort_by is not None:
            selected.sort(key=lambda o: (getattr(o, sort_by), o.order_id), reverse=descending)
        elif descending:
            selected.reverse()
        return self._page(selected, "orders", page, page_size, self._render_order)

    def _list_orders_by_tag(self, req: _Request) -> dict[str, Any]:
        page, page_size = self._paging(req)
        tag_id = self._query_int(req, "tagId")
        status = req.query.get("orderstatus")
        if tag_id is None or not status:
            raise _bad_request("orderStatus and tagId are required.")
        selected = [
            o
            for o in self._orders.values()
            if o.active and o.status == status and tag_id in o.tag_ids
        ]
        return self._page(selected, "orders", page, page_size, self._render_order)

    def _find_order(self, order_id: Any) -> _Order:
        if order_id is None:
            raise _invalid("request.orderId", "The orderId field is required.")
        try:
            order = self._orders.get(int(order_id))
        except (TypeError, ValueError):
            order = None
        if order is None or not order.active:
            raise _Reply(404, {"Message": f"Order not found: {order_id}"})
        return order

    def _get_order(self, req: _Request) -> dict[str, Any]:
        return self._render_order(self._find_order(req.params["id"]))

    def _render_order(self, order: _Order) -> dict[str, Any]:
        data = order.data
        data["tagIds"] = list(order.tag_ids) or None
        return data

    # ------------------------------------------------------------------ orders: writes

    def _post_create_order(self, req: _Request) -> dict[str, Any]:
        body = req.json("apiOrder")
        if isinstance(body, list):
            raise _invalid(
                "apiOrder",
                "Cannot deserialize the current JSON array (e.g. [1,2,3]) into type "
                "'SS.OpenApi.Models.Orders.Order' because the type requires a JSON object "
                '(e.g. {"name":"value"}) to deserialize correctly.',
            )
        if not isinstance(body, dict):
            raise _invalid("apiOrder", "The request body must be a JSON object.")
        return self._create_one(body)

    def _create_one(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            order, notify = self._upsert(body)
        except _OrderInvalid as exc:
            raise _invalid(f"apiOrder.{exc.key}", exc.message) from None
        except _Locked as exc:
            raise _bad_request(exc.message) from None
        if notify:
            self._queue_order_notify([order])
        return self._render_order(order)

    def _post_create_orders(self, req: _Request) -> dict[str, Any]:
        body = req.json("apiOrders")
        if isinstance(body, dict):
            raise _invalid(
                "apiOrders.orderNumber",
                'Cannot deserialize the current JSON object (e.g. {"name":"value"}) into type '
                "'System.Collections.Generic.List`1[SS.OpenApi.Models.Orders.Order]' because the "
                "type requires a JSON array (e.g. [1,2,3]) to deserialize correctly.",
            )
        if not isinstance(body, list):
            raise _invalid("apiOrders", "The request body must be a JSON array.")
        if len(body) > MAX_BULK_ORDERS:
            raise _bad_request(
                f"The request is invalid. A maximum of {MAX_BULK_ORDERS} orders can be "
                f"created or updated at a time; {len(body)} were sent."
            )
        results: list[dict[str, Any]] = []
        notify: list[_Order] = []
        for item in body:
            number = item.get("orderNumber") if isinstance(item, dict) else None
            key = item.get("orderKey") if isinstance(item, dict) else None
            try:
                if not isinstance(item, dict):
                    raise _OrderInvalid("apiOrders", "Each order must be a JSON object.")
                order, fire = self._upsert(item)
            except (_OrderInvalid, _Locked) as exc:
                results.append(
                    {
                        "orderId": 0,
                        "orderNumber": number if isinstance(number, str) else None,
                        "orderKey": key if isinstance(key, str) else None,
                        "success": False,
                        "errorMessage": exc.message,
                    }
                )
                continue
            if fire:
                notify.append(order)
            results.append(
                {
                    "orderId": order.order_id,
                    "orderNumber": order.order_number,
                    "orderKey": order.order_key,
                    "success": True,
                    "errorMessage": None,
                }
            )
        if notify:
            self._queue_order_notify(notify)
        return {"hasErrors": any(not r["success"] for r in results), "results": results}

    def _upsert(self, src: dict[str, Any]) -> tuple[_Order, bool]:
        """Create or replace one order; returns it and whether ORDER_NOTIFY should fire."""
        lower = {k.lower(): v for k, v in src.items()}
        key = lower.get("orderkey")
        if key is not None and not isinstance(key, str):
            raise _OrderInvalid("orderKey", "orderKey must be a string.")
        existing: _Order | None = None
        if key:
            found = self._orders_by_key.get(key)
            existing = self._orders.get(found) if found is not None else None
        elif lower.get("orderid") is not None:
            candidate = self._orders.get(_as_int(lower.get("orderid"), "orderId"))
            if candidate is not None and candidate.active:
                existing = candidate
        if existing is not None and existing.status in LOCKED_STATUSES:
            raise _Locked(
                f"The order with orderKey '{existing.order_key}' is {existing.status} and can no "
                "longer be updated."
            )
        now = now_pacific(self.clock)
        new_key = key or (existing.order_key if existing else self._guid())
        built = self._build_order(lower, existing, new_key, now)
        requested_tags = _tag_ids(lower.get("tagids"))
        # tagIds is writable; when a create call leaves it out, the order keeps its tags.
        if requested_tags is not None:
            built.tag_ids = requested_tags
        elif existing is not None:
            built.tag_ids = existing.tag_ids
        if existing is None:
            self._orders[built.order_id] = built
            self._orders_by_key[built.order_key] = built.order_id
            fire = built.status not in ("awaiting_payment", "cancelled")
        else:
            fire = existing.status == "awaiting_payment" and built.status not in (
                "awaiting_payment",
                "cancelled",
            )
            built.import_batch = existing.import_batch
            self._orders[built.order_id] = built
        if built.status == "on_hold" and built.hold_until is not None:
            self._held.add(built.order_id)
        else:
            self._held.discard(built.order_id)
        return built, fire and self.order_notify_on_create

    def _build_order(
        self, src: dict[str, Any], existing: _Order | None, order_key: str, now: datetime
    ) -> _Order:
        number = src.get("ordernumber")
        if not isinstance(number, str) or not number:
            raise _OrderInvalid("orderNumber", "The orderNumber field is required.")
        if len(number) > 50:
            raise _OrderInvalid("orderNumber", "orderNumber must be 50 characters or fewer.")
        status = src.get("orderstatus")
        if not isinstance(status, str) or not status:
            raise _OrderInvalid("orderStatus", "The orderStatus field is required.")
        if status not in ORDER_STATUSES:
            raise _OrderInvalid(
                "orderStatus", f"Error converting value \"{status}\" to type 'OrderStatus'."
            )
        order_date = self._timestamp(src, "orderDate", required=True)
        assert order_date is not None  # required=True never returns None
        payment_date = self._timestamp(src, "paymentDate")
        ship_by = self._timestamp(src, "shipByDate")
        ship_date = self._bare_date(src, "shipDate")
        hold_until = self._bare_date(src, "holdUntilDate")
        bill_to = _address(src.get("billto"), "billTo", verified=None)
        ship_to = _address(src.get("shipto"), "shipTo", verified="Address not yet validated")
        items = self._items(src.get("items"), existing, now)
        tax = _money(src.get("taxamount"), "taxAmount")
        shipping = _money(src.get("shippingamount"), "shippingAmount")
        total = sum(
            ((item["unitPrice"] or Decimal(0)) * item["quantity"] for item in items),
            Decimal(0),
        )
        total = (total + (shipping or 0) + (tax or 0)).quantize(_CENT)
        confirmation = src.get("confirmation") or "none"
        if confirmation not in CONFIRMATIONS:
            raise _OrderInvalid(
                "confirmation", f"Error converting value \"{confirmation}\" to type 'Confirmation'."
            )
        weight = _weight(src.get("weight"), "weight") or _sum_weights(items)
        advanced = self._advanced_options(src.get("advancedoptions"), existing)
        store_id = advanced["storeId"]
        username = _text(src.get("customerusername"), "customerUsername")
        email = _text(src.get("customeremail"), "customerEmail")
        customer_id = self._customer_id(username or email)
        if existing is None:
            order_id = self._take("order")
            create_date = now
        else:
            order_id, create_date = existing.order_id, existing.create_date
        data: dict[str, Any] = {
            "orderId": order_id,
            "orderNumber": number,
            "orderKey": order_key,
            "orderDate": format_timestamp(order_date),
            "createDate": format_timestamp(create_date),
            "modifyDate": format_timestamp(now),
            "paymentDate": format_timestamp(payment_date),
            "shipByDate": format_timestamp(ship_by),
            "orderStatus": status,
            "customerId": customer_id,
            "customerUsername": username,
            "customerEmail": email,
            "billTo": bill_to,
            "shipTo": ship_to,
            "items": items,
            "orderTotal": total,
            "amountPaid": _money(src.get("amountpaid"), "amountPaid"),
            "taxAmount": tax,
            "shippingAmount": shipping,
            "customerNotes": _text(src.get("customernotes"), "customerNotes"),
            "internalNotes": _text(src.get("internalnotes"), "internalNotes"),
            "gift": bool(_bool(src.get("gift"), "gift")),
            "giftMessage": _text(src.get("giftmessage"), "giftMessage"),
            "paymentMethod": _text(src.get("paymentmethod"), "paymentMethod"),
            "requestedShippingService": _text(
                src.get("requestedshippingservice"), "requestedShippingService"
            ),
            "carrierCode": _text(src.get("carriercode"), "carrierCode"),
            "serviceCode": _text(src.get("servicecode"), "serviceCode"),
            "packageCode": _text(src.get("packagecode"), "packageCode"),
            "confirmation": confirmation,
            "shipDate": format_date(ship_date),
            "holdUntilDate": format_date(hold_until),
            "weight": weight,
            "dimensions": _dimensions(src.get("dimensions")),
            "insuranceOptions": _insurance(src.get("insuranceoptions")),
            "internationalOptions": self._international(src.get("internationaloptions")),
            "advancedOptions": advanced,
            "tagIds": None,
            "userId": None,
            "externallyFulfilled": False,
            "externallyFulfilledBy": None,
            "externallyFulfilledById": None,
            "externallyFulfilledByName": None,
        }
        search_items = [
            text
            for item in items
            for text in (
                item["sku"],
                item["name"],
                *(o["name"] for o in item["options"]),
                *(o["value"] for o in item["options"]),
            )
            if isinstance(text, str)
        ]
        return _Order(
            order_id=order_id,
            order_key=order_key,
            order_number=number,
            store_id=store_id,
            status=status,
            order_date=order_date,
            create_date=create_date,
            modify_date=now,
            payment_date=payment_date,
            blob=_pack(data),
            search_names="\n".join(
                party["name"] for party in (ship_to, bill_to) if party["name"]
            ).lower(),
            search_items="\n".join(search_items).lower(),
            hold_until=hold_until if status == "on_hold" else None,
        )

    def _timestamp(
        self, src: dict[str, Any], name: str, *, required: bool = False
    ) -> datetime | None:
        raw = src.get(name.lower())
        if raw is None or raw == "":
            if required:
                raise _OrderInvalid(name, f"The {name} field is required.")
            return None
        if not isinstance(raw, str):
            raise _OrderInvalid(name, f"Could not convert value to DateTime: {raw!r}.")
        try:
            return parse_timestamp(raw, self.date_offsets)
        except ValueError:
            raise _OrderInvalid(name, f"Could not convert string to DateTime: {raw}.") from None

    def _bare_date(self, src: dict[str, Any], name: str) -> date | None:
        value = self._timestamp(src, name)
        return None if value is None else value.date()

    def _items(self, raw: Any, existing: _Order | None, now: datetime) -> list[dict[str, Any]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise _OrderInvalid("items", "items must be a JSON array.")
        previous: dict[str, dict[str, Any]] = {}
        if existing is not None and self.keep_item_ids_on_update:
            previous = {i["lineItemKey"]: i for i in existing.data["items"] if i.get("lineItemKey")}
        items: list[dict[str, Any]] = []
        for position, entry in enumerate(raw):
            where = f"items[{position}]"
            if not isinstance(entry, dict):
                raise _OrderInvalid(where, "Each item must be a JSON object.")
            src = {k.lower(): v for k, v in entry.items()}
            name = src.get("name")
            if not isinstance(name, str) or not name:
                raise _OrderInvalid(f"{where}.name", "The name field is required.")
            quantity = src.get("quantity", 0)
            if quantity is None:
                quantity = 0
            if isinstance(quantity, bool) or not isinstance(quantity, int):
                raise _OrderInvalid(f"{where}.quantity", "quantity must be an integer.")
            line_key = _text(src.get("lineitemkey"), f"{where}.lineItemKey")
            kept = previous.get(line_key) if line_key else None
            item_id = kept["orderItemId"] if kept else self._take("item")
            created = kept["createDate"] if kept else format_item_timestamp(now)
            options = src.get("options") or []
            if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
                raise _OrderInvalid(f"{where}.options", "options must be an array of objects.")
            items.append(
                {
                    "orderItemId": item_id,
                    "lineItemKey": line_key,
                    "sku": _text(src.get("sku"), f"{where}.sku"),
                    "name": name,
                    "imageUrl": _text(src.get("imageurl"), f"{where}.imageUrl"),
                    "weight": _weight(src.get("weight"), f"{where}.weight"),
                    "quantity": quantity,
                    "unitPrice": _money(src.get("unitprice"), f"{where}.unitPrice"),
                    "taxAmount": _money(src.get("taxamount"), f"{where}.taxAmount"),
                    "shippingAmount": _money(src.get("shippingamount"), f"{where}.shippingAmount"),
                    "warehouseLocation": _text(
                        src.get("warehouselocation"), f"{where}.warehouseLocation"
                    ),
                    "options": [{"name": o.get("name"), "value": o.get("value")} for o in options],
                    "productId": src.get("productid"),
                    "fulfillmentSku": _text(src.get("fulfillmentsku"), f"{where}.fulfillmentSku"),
                    "adjustment": bool(_bool(src.get("adjustment"), f"{where}.adjustment")),
                    "upc": _text(src.get("upc"), f"{where}.upc"),
                    "createDate": created,
                    "modifyDate": format_item_timestamp(now),
                }
            )
        return items

    def _advanced_options(self, raw: Any, existing: _Order | None) -> dict[str, Any]:
        if raw is not None and not isinstance(raw, dict):
            raise _OrderInvalid("advancedOptions", "advancedOptions must be a JSON object.")
        src = {k.lower(): v for k, v in (raw or {}).items()}
        if existing is not None:
            # storeId is honoured only when the order is created (shipstation.md §3.3).
            store_id = existing.store_id
        else:
            requested = src.get("storeid")
            store_id = (
                self.manual_store_id
                if requested is None
                else _as_int(requested, "advancedOptions.storeId")
            )
            if store_id not in self._stores:
                raise _OrderInvalid("advancedOptions.storeId", f"Invalid storeId {store_id}.")
        merged_ids = src.get("mergedids") or []
        return {
            "warehouseId": src.get("warehouseid") or self.warehouse_id,
            "nonMachinable": bool(src.get("nonmachinable")),
            "saturdayDelivery": bool(src.get("saturdaydelivery")),
            "containsAlcohol": bool(src.get("containsalcohol")),
            "mergedOrSplit": bool(src.get("mergedorsplit")),
            "mergedIds": merged_ids if isinstance(merged_ids, list) else [],
            "parentId": src.get("parentid"),
            "storeId": store_id,
            "customField1": _text(src.get("customfield1"), "advancedOptions.customField1"),
            "customField2": _text(src.get("customfield2"), "advancedOptions.customField2"),
            "customField3": _text(src.get("customfield3"), "advancedOptions.customField3"),
            "source": _text(src.get("source"), "advancedOptions.source"),
            "billToParty": src.get("billtoparty"),
            "billToAccount": src.get("billtoaccount"),
            "billToPostalCode": src.get("billtopostalcode"),
            "billToCountryCode": src.get("billtocountrycode"),
            "billToMyOtherAccount": src.get("billtomyotheraccount"),
        }

    def _international(self, raw: Any) -> dict[str, Any]:
        if raw is not None and not isinstance(raw, dict):
            raise _OrderInvalid("internationalOptions", "must be a JSON object.")
        src = {k.lower(): v for k, v in (raw or {}).items()}
        customs = src.get("customsitems")
        rendered: list[dict[str, Any]] | None = None
        if isinstance(customs, list):
            rendered = []
            for entry in customs:
                item = {k.lower(): v for k, v in (entry or {}).items()}
                rendered.append(
                    {
                        "customsItemId": item.get("customsitemid") or self._take("customs"),
                        "description": item.get("description"),
                        "quantity": item.get("quantity"),
                        "value": _money(item.get("value"), "customsItems.value"),
                        "harmonizedTariffCode": item.get("harmonizedtariffcode"),
                        "countryOfOrigin": item.get("countryoforigin"),
                    }
                )
        return {
            "contents": src.get("contents"),
            "customsItems": rendered,
            "nonDelivery": src.get("nondelivery"),
        }

    def _customer_id(self, identity: str | None) -> int | None:
        if not identity:
            return None
        folded = identity.lower()
        if folded not in self._customers:
            self._customers[folded] = self._take("customer")
        return self._customers[folded]

    def _change_status(self, order: _Order, status: str, *, ship_date: date | None = None) -> None:
        now = now_pacific(self.clock)
        order.status = status
        order.modify_date = now
        changes: dict[str, Any] = {"orderStatus": status, "modifyDate": format_timestamp(now)}
        if ship_date is not None:
            changes["shipDate"] = format_date(ship_date)
        if status != "on_hold":
            order.hold_until = None
            changes["holdUntilDate"] = None
            self._held.discard(order.order_id)
        order.update(**changes)

    def _release_holds(self) -> None:
        if not self._held:
            return
        today = now_pacific(self.clock).date()
        for order_id in sorted(self._held):
            order = self._orders[order_id]
            if order.hold_until is not None and order.hold_until <= today:
                released_at = datetime.combine(order.hold_until, time())
                self._change_status(order, "awaiting_shipment")
                # The release happened at the start of the hold date, not when first observed.
                order.modify_date = released_at
                order.update(modifyDate=format_timestamp(released_at))

    def _body_object(self, req: _Request, model_key: str) -> dict[str, Any]:
        body = req.json(model_key)
        if not isinstance(body, dict):
            raise _invalid(model_key, "The request body must be a JSON object.")
        return {k.lower(): v for k, v in body.items()}

    def _mark_as_shipped(self, req: _Request) -> dict[str, Any]:
        body = self._body_object(req, "request")
        if body.get("orderid") is None:
            raise _invalid("request.orderId", "The orderId field is required.")
        carrier = body.get("carriercode")
        if not isinstance(carrier, str) or not carrier:
            raise _invalid("request.carrierCode", "The carrierCode field is required.")
        order = self._find_order(body.get("orderid"))
        if order.status not in self.mark_shipped_from:
            raise _bad_request(
                f"Order {order.order_id} is {order.status} and cannot be marked as shipped."
            )
        now = now_pacific(self.clock)
        ship_date = self._request_date(body, "shipDate") or now.date()
        try:
            tracking = _text(body.get("trackingnumber"), "trackingNumber")
        except _OrderInvalid as exc:
            raise _invalid(f"request.{exc.key}", exc.message) from None
        self._change_status(order, "shipped", ship_date=ship_date)
        fulfillment_id = self._take("fulfillment")
        stored = order.data
        ship_to = stored["shipTo"]
        self._fulfillments[fulfillment_id] = _Fulfillment(
            fulfillment_id=fulfillment_id,
            order_id=order.order_id,
            order_number=order.order_number,
            tracking_number=tracking,
            recipient_name=(ship_to["name"] or "").lower(),
            create_date=now,
            ship_date=ship_date,
            blob=_pack(
                {
                    "fulfillmentId": fulfillment_id,
                    "orderId": order.order_id,
                    "orderNumber": order.order_number,
                    "userId": self.user_id,
                    "customerEmail": stored["customerEmail"],
                    "trackingNumber": tracking,
                    "createDate": format_timestamp(now),
                    # Unlike orders and shipments, fulfillments give shipDate as a timestamp
                    # in the spec's examples ("2016-06-07T00:00:00.0000000").
                    "shipDate": format_timestamp(datetime.combine(ship_date, time())),
                    "voidDate": None,
                    "deliveryDate": None,
                    "carrierCode": carrier,
                    "sellerFillProviderId": None,
                    "sellerFillProviderName": None,
                    "fulfillmentServiceCode": None,
                    "fulfillmentProviderCode": None,
                    "fulfillmentFee": Decimal("0.00"),
                    "voidRequested": False,
                    "voided": False,
                    "marketplaceNotified": bool(body.get("notifysaleschannel")),
                    "notifyErrorMessage": None,
                    "shipTo": ship_to,
                }
            ),
        )
        return {"orderId": order.order_id, "orderNumber": order.order_number}

    def _request_date(self, body: dict[str, Any], name: str) -> date | None:
        raw = body.get(name.lower())
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str):
            raise _invalid(f"request.{name}", f"Could not convert value to DateTime: {raw!r}.")
        try:
            return parse_date(raw, self.date_offsets)
        except ValueError:
            raise _invalid(
                f"request.{name}", f"Could not convert string to DateTime: {raw}."
            ) from None

    def _hold_until(self, req: _Request) -> dict[str, Any]:
        body = self._body_object(req, "request")
        order = self._find_order(body.get("orderid"))
        hold_until = self._request_date(body, "holdUntilDate")
        if hold_until is None:
            raise _invalid("request.holdUntilDate", "The holdUntilDate field is required.")
        if order.status in LOCKED_STATUSES:
            raise _bad_request(f"Order {order.order_id} is {order.status} and cannot be held.")
        self._change_status(order, "on_hold")
        order.hold_until = hold_until
        order.update(holdUntilDate=format_date(hold_until))
        self._held.add(order.order_id)
        self._release_holds()
        return {"success": True, "message": "Order held successfully."}

    def _restore_from_hold(self, req: _Request) -> dict[str, Any]:
        body = self._body_object(req, "request")
        order = self._find_order(body.get("orderid"))
        if order.status != "on_hold":
            raise _bad_request(f"Order {order.order_id} is not on hold.")
        self._change_status(order, "awaiting_shipment")
        return {"success": True, "message": "The requested order has been restored"}

    def _delete_order(self, req: _Request) -> dict[str, Any]:
        order = self._find_order(req.params["id"])
        order.active = False
        self._held.discard(order.order_id)
        # A deleted order frees its key: a later upsert with that key creates a new order.
        if self._orders_by_key.get(order.order_key) == order.order_id:
            del self._orders_by_key[order.order_key]
        return {"success": True, "message": "The requested order has been deleted."}

    def _tag_request(self, req: _Request) -> tuple[_Order, int]:
        body = self._body_object(req, "request")
        order = self._find_order(body.get("orderid"))
        tag_id = body.get("tagid")
        if not any(t["tagId"] == tag_id for t in TAGS):
            raise _bad_request(f"Tag not found: {tag_id}")
        assert isinstance(tag_id, int)
        return order, tag_id

    def _add_tag(self, req: _Request) -> dict[str, Any]:
        order, tag_id = self._tag_request(req)
        if tag_id not in order.tag_ids:
            order.tag_ids.append(tag_id)
        return {"success": True, "message": "Tag added successfully."}

    def _remove_tag(self, req: _Request) -> dict[str, Any]:
        order, tag_id = self._tag_request(req)
        if tag_id in order.tag_ids:
            order.tag_ids.remove(tag_id)
        return {"success": True, "message": "Tag removed successfully."}

    def _list_tags(self, req: _Request) -> list[dict[str, Any]]:
        return [dict(t) for t in TAGS]

    # ------------------------------------------------------------------ labels and shipments

    def _post_create_label(self, req: _Request) -> dict[str, Any]:
        body = req.json("request")
        if not isinstance(body, dict):
            raise _invalid("request", "The request body must be a JSON object.")
        return self._create_label(body)

    def _create_label(self, raw: dict[str, Any]) -> dict[str, Any]:
        body = {k.lower(): v for k, v in raw.items()}
        order_id = body.get("orderid")
        order = self._orders.get(order_id) if isinstance(order_id, int) else None
        if order is None or not order.active:
            # What ShipStation answers for a missing order (shipstation.md §1.5, [LARAVEL-15]).
            raise _Reply(
                500,
                {
                    "Message": "An error has occurred.",
                    "ExceptionMessage": "Object reference not set to an instance of an object.",
                    "ExceptionType": "System.NullReferenceException",
                    "StackTrace": None,
                },
            )
        carrier = body.get("carriercode")
        service = body.get("servicecode")
        if not isinstance(carrier, str) or carrier not in SERVICES:
            raise _bad_request(f"Invalid carrierCode: {carrier}")
        if not any(s["code"] == service for s in SERVICES[carrier]):
            raise _bad_request(f"Invalid serviceCode '{service}' for carrier '{carrier}'.")
        package = body.get("packagecode") or "package"
        if not any(p["code"] == package for p in PACKAGES[carrier]):
            raise _bad_request(f"Invalid packageCode '{package}' for carrier '{carrier}'.")
        confirmation = body.get("confirmation") or "none"
        if confirmation not in CONFIRMATIONS:
            raise _bad_request(f"Invalid confirmation '{confirmation}'.")
        if order.status != "awaiting_shipment":
            raise _bad_request(
                f"Order {order.order_id} is {order.status}; labels can only be created for "
                "orders awaiting shipment."
            )
        stored = order.data
        try:
            weight = _weight(body.get("weight"), "weight") or stored["weight"]
        except _OrderInvalid as exc:
            raise _invalid(f"request.{exc.key}", exc.message) from None
        if not weight or Decimal(str(weight["value"])) <= 0:
            raise _bad_request("A weight greater than zero is required to create a label.")
        now = now_pacific(self.clock)
        ship_date = self._request_date(body, "shipDate") or now.date()
        international = any(
            s["code"] == service and s["international"] and not s["domestic"]
            for s in SERVICES[carrier]
        )
        cost = _label_cost(carrier, weight, international=international)
        tracking = self._tracking_number(carrier)
        test_label = bool(body.get("testlabel"))
        shipment_id = self._take("shipment")
        data = {
            "shipmentId": shipment_id,
            "orderId": order.order_id,
            "orderKey": order.order_key,
            "userId": self.user_id,
            "customerEmail": stored["customerEmail"],
            "orderNumber": order.order_number,
            "createDate": format_timestamp(now),
            "shipDate": format_date(ship_date),
            "shipmentCost": cost,
            "insuranceCost": Decimal("0.00"),
            "trackingNumber": tracking,
            "isReturnLabel": False,
            "batchNumber": None,
            "carrierCode": carrier,
            "serviceCode": service,
            "packageCode": package,
            "confirmation": confirmation,
            "warehouseId": stored["advancedOptions"]["warehouseId"],
            "voided": False,
            "voidDate": None,
            "marketplaceNotified": False,
            "notifyErrorMessage": None,
            "shipTo": stored["shipTo"],
            "weight": dict(weight),
            "dimensions": _dimensions(body.get("dimensions")) or stored["dimensions"],
            "insuranceOptions": _insurance(body.get("insuranceoptions")),
            "advancedOptions": {
                "billToParty": None,
                "billToAccount": None,
                "billToPostalCode": None,
                "billToCountryCode": None,
                "storeId": order.store_id,
            },
            "shipmentItems": None,
            "labelData": None,
            "formData": None,
        }
        # The answer of the spec's example: the label, not the whole shipment.
        reply = {
            "shipmentId": shipment_id,
            "shipmentCost": cost,
            "insuranceCost": Decimal("0.00"),
            "trackingNumber": tracking,
            "labelData": base64.b64encode(_LABEL_PDF).decode("ascii"),
            "formData": None,
        }
        if test_label:
            # A test label is a sample: nothing is stored, the order stays open.
            return reply
        items = [item for item in stored["items"] if not item["adjustment"]]
        batch_id = self._take("batch")
        self._shipments[shipment_id] = _Shipment(
            shipment_id=shipment_id,
            order_id=order.order_id,
            order_number=order.order_number,
            store_id=order.store_id,
            batch_id=batch_id,
            create_date=now,
            ship_date=ship_date,
            carrier_code=carrier,
            service_code=str(service),
            tracking_number=tracking,
            recipient_name=(stored["shipTo"]["name"] or "").lower(),
            recipient_country=(stored["shipTo"]["country"] or "").upper(),
            blob=_pack(data),
            items_blob=_pack(items),
        )
        self._change_status(order, "shipped", ship_date=ship_date)
        order.update(carrierCode=carrier, serviceCode=service, packageCode=package)
        self._queue_ship_notify(order.store_id, batch_id)
        return reply

    def _tracking_number(self, carrier: str) -> str:
        digits = "".join(self._rng.choice("0123456789") for _ in range(22))
        if carrier == "ups":
            alnum = "".join(self._rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(6))
            return f"1Z{alnum}{digits[:10]}"
        if carrier in ("usps", "stamps_com"):
            return f"94{digits[:20]}"
        if carrier == "fedex":
            return digits[:12]
        if carrier == "colissimo":
            return f"6A{digits[:11]}"
        if carrier == "chronopost":
            return f"XW{digits[:9]}FR"
        if carrier == "royal_mail":
            return f"TT{digits[:9]}GB"
        if carrier == "dhl_express":
            return digits[:10]
        return digits[:14]

    def _void_label(self, req: _Request) -> dict[str, Any]:
        body = self._body_object(req, "request")
        shipment_id = body.get("shipmentid")
        shipment = self._shipments.get(shipment_id) if isinstance(shipment_id, int) else None
        if shipment is None:
            raise _bad_request(f"Shipment not found: {shipment_id}")
        if shipment.void_date is not None:
            return {"approved": False, "message": "The label has already been voided."}
        now = now_pacific(self.clock)
        shipment.void_date = now
        shipment.update(voided=True, voidDate=format_timestamp(now))
        order = self._orders.get(shipment.order_id)
        if order is not None and order.status == "shipped":
            # Voiding the only label returns the order to the queue, as in the ShipStation UI.
            self._change_status(order, "awaiting_shipment")
            order.update(shipDate=None)
        return {"approved": True, "message": "Label voided successfully"}

    def _render_shipment(self, shipment: _Shipment, *, items: bool) -> dict[str, Any]:
        data = shipment.data
        if items:
            data["shipmentItems"] = _unpack(shipment.items_blob)
        return data

    def _list_shipments(self, req: _Request) -> dict[str, Any]:
        page, page_size = self._paging(req)
        sort_by, descending = self._sorting(
            req, {"shipdate": "ship_date", "createdate": "create_date"}
        )
        include_items = bool(self._query_bool(req, "includeShipmentItems"))
        shipments: Iterable[_Shipment] = self._shipments.values()
        if not self.list_voided_shipments:
            shipments = (s for s in shipments if s.void_date is None)
        exact = {
            "ordernumber": "order_number",
            "carriercode": "carrier_code",
            "servicecode": "service_code",
            "trackingnumber": "tracking_number",
        }
        for query_name, attr_name in exact.items():
            wanted = req.query.get(query_name)
            if wanted:
                shipments = [s for s in shipments if getattr(s, attr_name) == wanted]
        for name, attr in (
            ("orderId", "order_id"),
            ("storeId", "store_id"),
            ("batchId", "batch_id"),
        ):
            wanted_id = self._query_int(req, name)
            if wanted_id is not None:
                shipments = [s for s in shipments if getattr(s, attr) == wanted_id]
        recipient = (req.query.get("recipientname") or "").lower()
        if recipient:
            shipments = [s for s in shipments if recipient in s.recipient_name]
        country = (req.query.get("recipientcountrycode") or "").upper()
        if country:
            shipments = [s for s in shipments if s.recipient_country == country]
        shipments = self._date_filter(shipments, req, "createDate", "create_date", exclusive=False)
        shipments = self._day_filter(shipments, req, "shipDate", "ship_date")
        shipments = self._date_filter(shipments, req, "voidDate", "void_date", exclusive=False)
        selected = list(shipments)
        key = sort_by or "create_date"
        selected.sort(key=lambda s: (getattr(s, key), s.shipment_id), reverse=descending)
        return self._page(
            selected,
            "shipments",
            page,
            page_size,
            lambda s: self._render_shipment(s, items=include_items),
        )

    def _day_filter(
        self, values: Iterable[Any], req: _Request, field_name: str, attr: str
    ) -> Iterable[Any]:
        """An "on or after" / "on or before" filter on a bare-date field."""
        start = self._query_datetime(req, f"{field_name}Start")
        end = self._query_datetime(req, f"{field_name}End")
        if start is None and end is None:
            return values
        start_day = None if start is None else start.date()
        end_day = None if end is None else end.date()
        return [
            v
            for v in values
            if (start_day is None or getattr(v, attr) >= start_day)
            and (end_day is None or getattr(v, attr) <= end_day)
        ]

    def _list_fulfillments(self, req: _Request) -> dict[str, Any]:
        page, page_size = self._paging(req)
        sort_by, descending = self._sorting(
            req, {"shipdate": "ship_date", "createdate": "create_date"}
        )
        selected: Iterable[_Fulfillment] = self._fulfillments.values()
        for name, attr in (("fulfillmentId", "fulfillment_id"), ("orderId", "order_id")):
            wanted_id = self._query_int(req, name)
            if wanted_id is not None:
                selected = [f for f in selected if getattr(f, attr) == wanted_id]
        for query_name, attr_name in (
            ("ordernumber", "order_number"),
            ("trackingnumber", "tracking_number"),
        ):
            wanted = req.query.get(query_name)
            if wanted:
                selected = [f for f in selected if getattr(f, attr_name) == wanted]
        recipient = (req.query.get("recipientname") or "").lower()
        if recipient:
            selected = [f for f in selected if recipient in f.recipient_name]
        selected = self._date_filter(selected, req, "createDate", "create_date", exclusive=False)
        selected = self._day_filter(selected, req, "shipDate", "ship_date")
        ordered = list(selected)
        key = sort_by or "create_date"
        ordered.sort(key=lambda f: (getattr(f, key), f.fulfillment_id), reverse=descending)
        return self._page(ordered, "fulfillments", page, page_size, lambda f: f.data)

    # ------------------------------------------------------------------ carriers

    def _carrier_code(self, req: _Request) -> str:
        code = req.query.get("carriercode")
        if not code:
            raise _invalid("carrierCode", "The carrierCode field is required.")
        if code not in SERVICES:
            raise _bad_request(f"Invalid carrierCode: {code}")
        return code

    def _list_carriers(self, req: _Request) -> list[dict[str, Any]]:
        return [dict(c) for c in CARRIERS]

    def _get_carrier(self, req: _Request) -> dict[str, Any]:
        code = self._carrier_code(req)
        return dict(next(c for c in CARRIERS if c["code"] == code))

    def _list_services(self, req: _Request) -> list[dict[str, Any]]:
        return [dict(s) for s in SERVICES[self._carrier_code(req)]]

    def _list_packages(self, req: _Request) -> list[dict[str, Any]]:
        return [dict(p) for p in PACKAGES[self._carrier_code(req)]]

    # ------------------------------------------------------------------ stores

    def _list_stores(self, req: _Request) -> list[dict[str, Any]]:
        show_inactive = bool(self._query_bool(req, "showInactive"))
        marketplace_id = self._query_int(req, "marketplaceId")
        return [
            dict(s)
            for s in self._stores.values()
            if (show_inactive or s["active"])
            and (marketplace_id is None or s["marketplaceId"] == marketplace_id)
        ]

    def _get_store(self, req: _Request) -> dict[str, Any]:
        store_id = int(req.params["id"])
        store = self._stores.get(store_id)
        if store is None:
            raise _Reply(404, {"Message": f"Store not found: {store_id}"})
        data = dict(store)
        mappings = self._status_mappings.get(store_id)
        data["statusMappings"] = None if mappings is None else [dict(m) for m in mappings]
        return data

    def _list_marketplaces(self, req: _Request) -> list[dict[str, Any]]:
        return [dict(m) for m in self._marketplaces]

    def _refresh_store(self, req: _Request) -> dict[str, Any]:
        store_id = self._query_int(req, "storeId")
        raw_date = req.query.get("refreshdate")
        refresh_date: datetime | None = None
        if raw_date:
            try:
                refresh_date = parse_timestamp(raw_date, self.date_offsets)
            except ValueError:
                raise _invalid("refreshDate", f"The value '{raw_date}' is not valid.") from None
        if store_id is not None and store_id not in self._stores:
            raise _bad_request(f"Store not found: {store_id}")
        now = format_timestamp(now_pacific(self.clock))
        targets = (
            [store_id]
            if store_id is not None
            else [
                s for s, store in self._stores.items() if store["active"] and store["marketplaceId"]
            ]
        )
        for target in targets:
            store = self._stores[target]
            store["lastRefreshAttempt"] = now
            if refresh_date is not None:
                store["refreshDate"] = format_timestamp(refresh_date)
        if store_id is None:
            return {"success": True, "message": "A store refresh has been initiated for all stores"}
        return {
            "success": True,
            "message": f"A store refresh has been initiated for Store ID {store_id}",
        }

    def _refresh_status(self, req: _Request) -> dict[str, Any]:
        store_id = self._query_int(req, "storeId")
        store = self._stores.get(store_id) if store_id is not None else None
        if store is None:
            raise _bad_request(f"Store not found: {store_id}")
        return {
            "storeId": store_id,
            "refreshStatusId": 2,
            "refreshStatus": "Idle",
            "lastRefreshAttempt": store["lastRefreshAttempt"],
            "refreshDate": store["refreshDate"],
        }

    # ------------------------------------------------------------------ webhooks

    def _render_webhook(self, hook: _Webhook) -> dict[str, Any]:
        return {
            "IsLabelAPIHook": False,
            "WebHookID": hook.webhook_id,
            "SellerID": 200_001,
            "StoreID": hook.store_id,
            "HookType": hook.event,
            "MessageFormat": "Json",
            "Url": hook.target_url,
            "Name": hook.name,
            "BulkCopyBatchID": None,
            "BulkCopyRecordID": None,
            "Active": True,
            "WebhookLogs": [],
            "Seller": None,
            "Store": None,
        }

    def _list_webhooks(self, req: _Request) -> dict[str, Any]:
        return {"webhooks": [self._render_webhook(w) for w in self._webhooks.values()]}

    def _subscribe(self, req: _Request) -> tuple[int, dict[str, Any]]:
        body = self._body_object(req, "request")
        target = body.get("target_url")
        if not isinstance(target, str) or not target:
            raise _invalid("request.target_url", "The target_url field is required.")
        event = body.get("event")
        if event not in WEBHOOK_EVENTS:
            raise _invalid("request.event", f"Invalid event: {event}")
        store_id = body.get("store_id")
        if store_id is not None and store_id not in self._stores:
            raise _bad_request(f"Store not found: {store_id}")
        webhook_id = self._take("webhook")
        self._webhooks[webhook_id] = _Webhook(
            webhook_id=webhook_id,
            target_url=target,
            event=str(event),
            store_id=store_id,
            name=_text(body.get("friendly_name"), "friendly_name"),
        )
        return 200, {"id": webhook_id}

    def _unsubscribe(self, req: _Request) -> tuple[int, None]:
        webhook_id = int(req.params["id"])
        if self._webhooks.pop(webhook_id, None) is None:
            raise _Reply(404, {"Message": f"Webhook not found: {webhook_id}"})
        return 200, None

    def _queue(self, events: set[str], store_ids: set[int], url: Callable[[str], str]) -> None:
        due = self.clock.monotonic() + self.webhook_delay_seconds
        for hook in self._webhooks.values():
            if hook.event in events and (hook.store_id is None or hook.store_id in store_ids):
                self._deliveries.append(
                    _Delivery(
                        due=due,
                        url=hook.target_url,
                        payload={"resource_url": url(hook.event), "resource_type": hook.event},
                    )
                )

    def _queue_ship_notify(self, store_id: int, batch_id: int) -> None:
        base = self.base_url.rstrip("/")

        def url(event: str) -> str:
            items = "True" if event == "ITEM_SHIP_NOTIFY" else "False"
            return f"{base}/shipments?batchId={batch_id}&includeShipmentItems={items}"

        self._queue({"SHIP_NOTIFY", "ITEM_SHIP_NOTIFY"}, {store_id}, url)

    def _queue_order_notify(self, orders: list[_Order]) -> None:
        batch = self._guid()
        for order in orders:
            order.import_batch = batch
        base = self.base_url.rstrip("/")
        self._queue(
            {"ORDER_NOTIFY", "ITEM_ORDER_NOTIFY"},
            {o.store_id for o in orders},
            lambda event: f"{base}/orders?importBatch={batch}",
        )

    # ------------------------------------------------------------------ ids

    def _take(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    def _guid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


class _Locked(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------- value helpers


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _plain(value: Any) -> Any:
    """What a client parsing the JSON answer would hold (floats, fresh containers)."""
    return json.loads(json.dumps(value, default=_json_default))


def _response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> httpx.Response:
    all_headers = dict(headers or {})
    if body is None:
        return httpx.Response(status, headers=all_headers)
    all_headers["Content-Type"] = "application/json; charset=utf-8"
    content = json.dumps(body, default=_json_default).encode("utf-8")
    return httpx.Response(status, headers=all_headers, content=content)


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _OrderInvalid(name, f"{name} must be an integer.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise _OrderInvalid(name, f"{name} must be an integer.")


def _text(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)  # JSON.NET turns numbers into strings for string properties
    raise _OrderInvalid(name, f"{name} must be a string.")


def _bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _OrderInvalid(name, f"{name} must be true or false.")


def _money(value: Any, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _OrderInvalid(name, f"{name} must be a number.")
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    raise _OrderInvalid(name, f"Could not convert to decimal: {value!r}.")


def _tag_ids(value: Any) -> list[int] | None:
    if value is None:
        return None
    known = {t["tagId"] for t in TAGS}
    if not isinstance(value, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) for t in value
    ):
        raise _OrderInvalid("tagIds", "tagIds must be an array of integers.")
    unknown = [t for t in value if t not in known]
    if unknown:
        raise _OrderInvalid("tagIds", f"Unknown tagId {unknown[0]}.")
    return list(dict.fromkeys(value))


def _address(value: Any, name: str, *, verified: str | None) -> dict[str, Any]:
    if value is None:
        raise _OrderInvalid(name, f"The {name} field is required.")
    if not isinstance(value, dict):
        raise _OrderInvalid(name, f"{name} must be a JSON object.")
    src = {k.lower(): v for k, v in value.items()}
    fields = (
        "name",
        "company",
        "street1",
        "street2",
        "street3",
        "city",
        "state",
        "postalCode",
        "country",
        "phone",
    )
    address: dict[str, Any] = {f: _text(src.get(f.lower()), f"{name}.{f}") for f in fields}
    address["residential"] = _bool(src.get("residential"), f"{name}.residential")
    address["addressVerified"] = verified
    return address


def _weight(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _OrderInvalid(name, f"{name} must be a JSON object.")
    src = {k.lower(): v for k, v in value.items()}
    units = src.get("units")
    if units not in WEIGHT_UNIT_CODES:
        # V1 knows pounds, ounces and grams only: no kilograms (shipstation.md §2.5).
        raise _OrderInvalid(
            f"{name}.units", f"Error converting value \"{units}\" to type 'WeightUnits'."
        )
    amount = _money(src.get("value"), f"{name}.value") or Decimal(0)
    return {"value": amount, "units": units, "WeightUnits": WEIGHT_UNIT_CODES[units]}


def _sum_weights(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Order weight from item weights times quantity when the order sends none (§6.4, INFERRED)."""
    weighted = [i for i in items if i["weight"] is not None and i["quantity"] > 0]
    if not weighted:
        return None
    units = {i["weight"]["units"] for i in weighted}
    if len(units) == 1:
        unit = units.pop()
        total = sum((i["weight"]["value"] * i["quantity"] for i in weighted), Decimal(0))
    else:
        unit = "ounces"
        total = sum(
            (
                i["weight"]["value"] * _OUNCES_PER_UNIT[i["weight"]["units"]] * i["quantity"]
                for i in weighted
            ),
            Decimal(0),
        ).quantize(_CENT)
    return {"value": total, "units": unit, "WeightUnits": WEIGHT_UNIT_CODES[unit]}


def _dimensions(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    src = {k.lower(): v for k, v in value.items()}
    return {
        "units": src.get("units"),
        "length": src.get("length"),
        "width": src.get("width"),
        "height": src.get("height"),
    }


def _insurance(value: Any) -> dict[str, Any]:
    src = {k.lower(): v for k, v in value.items()} if isinstance(value, dict) else {}
    return {
        "provider": src.get("provider"),
        "insureShipment": bool(src.get("insureshipment")),
        "insuredValue": _money(src.get("insuredvalue"), "insuredValue") or Decimal("0.0"),
    }


def _label_cost(carrier: str, weight: Mapping[str, Any], *, international: bool) -> Decimal:
    ounces = Decimal(str(weight["value"])) * _OUNCES_PER_UNIT[weight["units"]]
    pounds = max(1, math.ceil(ounces / 16))
    cost = _CARRIER_BASE_COST.get(carrier, Decimal("7.00")) + Decimal("0.45") * pounds
    if international:
        cost += Decimal("15.00")
    return cost.quantize(_CENT)
