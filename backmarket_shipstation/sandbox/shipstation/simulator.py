"""The ShipStation V1 simulator: every resource put together behind ``handle``."""

from __future__ import annotations

import dataclasses
import json
import random
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal

from backmarket_shipstation.clock import Clock
from backmarket_shipstation.sandbox._ss_catalog import (
    MARKETPLACES,
    TAGS,
    marketplace_entry,
)
from backmarket_shipstation.sandbox._ss_dates import (
    OffsetHandling,
    format_timestamp,
    now_pacific,
)

from ._core import (
    DEFAULT_BACKMARKET_MARKETPLACE_ID,
    DEFAULT_BACKMARKET_STORE_ID,
    DEFAULT_MANUAL_STORE_ID,
    ORDER_STATUSES,
    WebhookSend,
)
from ._records import (
    SimulatorRequestError,
    _Delivery,
    _pack,
    _Request,
)
from ._values import (
    _json_default,
    _plain,
)
from .carriers import CarriersResource
from .fulfillments import FulfillmentsResource
from .orders import OrdersResource
from .products import ProductsResource
from .shipments import ShipmentsResource
from .stores import StoresResource
from .tags import TagsResource
from .users import UsersResource
from .warehouses import WarehousesResource
from .webhooks import WebhooksResource


class ShipStationSimulator(
    OrdersResource,
    FulfillmentsResource,
    ShipmentsResource,
    CarriersResource,
    StoresResource,
    WebhooksResource,
    ProductsResource,
    WarehousesResource,
    TagsResource,
    UsersResource,
):
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
        products_from_orders: whether an order bringing a new SKU creates its product
            record (V1 has no create-product endpoint; A.2 INFERRED).
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
        products_from_orders: bool = True,
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
        self.date_offsets = date_offsets
        self.order_date_filters = order_date_filters
        self.page_size_over_max = page_size_over_max
        self.accept_path_aliases = accept_path_aliases
        self.keep_item_ids_on_update = keep_item_ids_on_update
        self.mark_shipped_from = frozenset(mark_shipped_from)
        self.list_voided_shipments = list_voided_shipments
        self.order_notify_on_create = order_notify_on_create
        self.webhook_delay_seconds = webhook_delay_seconds
        self.webhook_max_attempts = webhook_max_attempts
        self.products_from_orders = products_from_orders

        self._lock = threading.RLock()
        self._windows = {}
        self._rate_log = {}
        self._orders = {}
        self._orders_by_key = {}
        self._held = set()
        self._shipments = {}
        self._fulfillments = {}
        self._webhooks = {}
        self._deliveries = []
        self._customers = {}
        self._stores = {}
        self._status_mappings = {}
        self._next = {
            "order": 100_000_001,
            "item": 200_000_001,
            "shipment": 300_000_001,
            "fulfillment": 400_000_001,
            "webhook": 500_001,
            "batch": 600_001,
            "customer": 700_000_001,
            "customs": 800_000_001,
            "product": 900_000_001,
            "warehouse": 500_000,
            "tag": 2001,
        }
        self._products = {}
        self._product_ids_by_sku = {}
        self._warehouses = {}
        self._inactive_warehouses = set()
        self._tags = [dict(t) for t in TAGS]
        self._assigned = {}
        self.user_id = self._guid()
        self.warehouse_id = 499_995
        self._seed_warehouse()
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

    def mark_shipped(
        self,
        order_id: int,
        *,
        carrier_code: str = "other",
        tracking_number: str | None = None,
        ship_date: str | None = None,
    ) -> dict[str, Any]:
        """Mark an order shipped without a label, exactly as ``POST /orders/markasshipped``
        does (a fulfillment is stored; no label, no SHIP_NOTIFY). Not rate-limited. Raises
        :class:`SimulatorRequestError` where the endpoint would answer an error."""
        body = {
            "orderId": order_id,
            "carrierCode": carrier_code,
            "shipDate": ship_date,
            "trackingNumber": tracking_number,
            "notifyCustomer": False,
            "notifySalesChannel": False,
        }
        request = _Request(
            method="POST",
            path="/orders/markasshipped",
            url=f"{self.base_url}/orders/markasshipped",
            query={},
            content=json.dumps(body).encode(),
            params={},
        )
        with self._lock:
            result: dict[str, Any] = _plain(self._direct(lambda: self._mark_as_shipped(request)))
            return result

    def buy_another_label(
        self,
        order_id: int,
        *,
        carrier_code: str = "ups",
        service_code: str = "ups_ground",
        weight: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One more label for an order already shipped, as a seller buys a second parcel's
        label in the web app. A second shipment of the same order, SHIP_NOTIFY queued."""
        body: dict[str, Any] = {
            "orderId": order_id,
            "carrierCode": carrier_code,
            "serviceCode": service_code,
            "weight": None if weight is None else dict(weight),
        }
        body = json.loads(json.dumps(body, default=_json_default), parse_float=Decimal)
        with self._lock:
            label: dict[str, Any] = _plain(
                self._direct(lambda: self._create_label(body, another=True))
            )
            return label

    def void_label(self, shipment_id: int) -> dict[str, Any]:
        """Void a label as ``POST /shipments/voidlabel`` does (the seller in the web app)."""
        request = _Request(
            method="POST",
            path="/shipments/voidlabel",
            url="",
            query={},
            content=json.dumps({"shipmentId": shipment_id}).encode(),
            params={},
        )
        with self._lock:
            answer: dict[str, Any] = self._direct(lambda: self._void_label(request))
            return answer

    def delete_order(self, order_id: int) -> None:
        """Delete an order as ``DELETE /orders/{id}`` does: a soft delete, its key freed."""
        request = _Request(
            method="DELETE",
            path=f"/orders/{order_id}",
            url="",
            query={},
            content=b"",
            params={"id": str(order_id)},
        )
        with self._lock:
            self._direct(lambda: self._delete_order(request))

    def remove_item(self, order_id: int, line_item_key: str) -> dict[str, Any]:
        """The seller deletes one item from an open order in the web app."""
        with self._lock:
            order = self._orders[order_id]
            if order.status not in ("awaiting_payment", "awaiting_shipment", "on_hold"):
                raise SimulatorRequestError(
                    400, {"Message": f"Order {order_id} is {order.status}: items are locked."}
                )
            items = order.data["items"]
            kept = [item for item in items if str(item.get("lineItemKey")) != line_item_key]
            if len(kept) == len(items):
                raise KeyError(line_item_key)
            now = now_pacific(self.clock)
            order.modify_date = now
            order.update(items=kept, modifyDate=format_timestamp(now))
            return self._render_order(order)

    def split_order(self, order_id: int, line_item_keys: Iterable[str]) -> dict[str, Any]:
        """Split the items ``line_item_keys`` off an order into a new order, as the web app's
        Split Order does (docs/api-notes/shipstation.md, "Split orders").

        The new order is numbered ``<orderNumber>-<n>`` with a key of its own, and both
        carry ``advancedOptions.mergedOrSplit`` true; the new one's ``parentId`` is the
        original's ``orderId``. Items, Internal Notes, ship-to and store are copied from the
        original, which keeps its other items. Only orders awaiting shipment (or on hold)
        with items left on both sides can be split. Returns the new order.
        """
        keys = {str(key) for key in line_item_keys}
        with self._lock:
            parent = self._orders[order_id]
            if not parent.active or parent.status not in ("awaiting_shipment", "on_hold"):
                raise SimulatorRequestError(
                    400, {"Message": f"Order {order_id} is {parent.status}: it cannot be split."}
                )
            data = parent.data
            moving = [item for item in data["items"] if str(item.get("lineItemKey")) in keys]
            staying = [item for item in data["items"] if str(item.get("lineItemKey")) not in keys]
            if not moving or not any(not item.get("adjustment") for item in staying):
                raise SimulatorRequestError(
                    400, {"Message": "A split leaves items on both orders."}
                )
            prefix = f"{parent.order_number}-"
            sibling = sum(1 for o in self._orders.values() if o.order_number.startswith(prefix))
            now = now_pacific(self.clock)
            stamp = format_timestamp(now)
            child_id = self._take("order")
            child_key = self._guid()
            child_number = f"{prefix}{sibling + 1}"
            advanced = dict(data["advancedOptions"])
            child_data = {
                **data,
                "orderId": child_id,
                "orderKey": child_key,
                "orderNumber": child_number,
                "items": moving,
                "createDate": stamp,
                "modifyDate": stamp,
                "advancedOptions": {
                    **advanced,
                    "mergedOrSplit": True,
                    "mergedIds": [],
                    "parentId": parent.order_id,
                },
            }
            child = dataclasses.replace(
                parent,
                order_id=child_id,
                order_key=child_key,
                order_number=child_number,
                create_date=now,
                modify_date=now,
                blob=_pack(child_data),
                tag_ids=list(parent.tag_ids),
            )
            self._orders[child_id] = child
            self._orders_by_key[child_key] = child_id
            parent.modify_date = now
            parent.update(
                items=staying,
                modifyDate=stamp,
                advancedOptions={**advanced, "mergedOrSplit": True},
            )
            return self._render_order(child)

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
            ("POST", r"/accounts/createtag", self._create_tag),
            ("POST", r"/orders/assignuser", self._assign_user),
            ("POST", r"/orders/unassignuser", self._unassign_user),
            ("GET", r"/products", self._list_products),
            ("GET", r"/products/(?P<id>-?\d+)", self._get_product),
            ("PUT", r"/products/(?P<id>-?\d+)", self._put_product),
            ("GET", r"/warehouses", self._list_warehouses),
            ("POST", r"/warehouses/createwarehouse", self._create_warehouse),
            ("GET", r"/warehouses/(?P<id>-?\d+)", self._get_warehouse),
            ("PUT", r"/warehouses/(?P<id>-?\d+)", self._put_warehouse),
            ("DELETE", r"/warehouses/(?P<id>-?\d+)", self._delete_warehouse),
        ]
        if self.accept_path_aliases:
            routes += [
                ("GET", r"/orders/list", self._list_orders),
                ("POST", r"/orders/markshipped", self._mark_as_shipped),
            ]
        return [(m, re.compile(p + r"\Z"), h) for m, p, h in routes]
