"""The ShipStation simulator's core: records, errors, state, auth, limits and routing.

Every resource module builds on :class:`SimulatorCore`, which declares the simulator's state
and holds the helpers more than one resource uses (finding and rendering orders, status
changes, webhook queues, ids).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from typing import Any, Literal

import httpx

from backmarket_shipstation.clock import Clock
from backmarket_shipstation.sandbox._ss_dates import (
    OffsetHandling,
    format_date,
    format_timestamp,
    now_pacific,
    parse_date,
    parse_timestamp,
)

from ._records import (
    _INVALID,
    SimulatorRequestError,
    _bad_request,
    _Delivery,
    _Fulfillment,
    _invalid,
    _Order,
    _Reply,
    _Request,
    _Shipment,
    _unpack,
    _Webhook,
    _Window,
)
from ._values import (
    _OrderInvalid,
    _response,
)

__all__ = [
    "DEFAULT_BACKMARKET_MARKETPLACE_ID",
    "DEFAULT_BACKMARKET_STORE_ID",
    "DEFAULT_MANUAL_STORE_ID",
    "SimulatorCore",
    "WebhookSend",
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
# A minimal one-page PDF, so labelData decodes to something a PDF reader recognises.
_LABEL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 288 432]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)

WebhookSend = Callable[[str, dict[str, Any]], None]


class SimulatorCore:
    """State, auth, rate limits, routing, query parsing and helpers shared by the resources."""

    # Set by the simulator's __init__ (simulator.py), declared here for every resource.
    clock: Clock
    base_url: str
    _api_key: str
    _api_secret: str
    _rng: random.Random
    backmarket_store_id: int
    backmarket_marketplace_id: int
    manual_store_id: int
    rate_limit: int
    rate_window_seconds: float
    date_offsets: OffsetHandling
    order_date_filters: Literal["inclusive", "documented"]
    page_size_over_max: Literal["clamp", "error"]
    accept_path_aliases: bool
    keep_item_ids_on_update: bool
    mark_shipped_from: frozenset[str]
    list_voided_shipments: bool
    order_notify_on_create: bool
    webhook_delay_seconds: float
    webhook_max_attempts: int
    _lock: threading.RLock
    _windows: dict[str, _Window]
    _rate_log: dict[int, list[int]]
    _orders: dict[int, _Order]
    _orders_by_key: dict[str, int]
    _held: set[int]
    _shipments: dict[int, _Shipment]
    _fulfillments: dict[int, _Fulfillment]
    _webhooks: dict[int, _Webhook]
    _deliveries: list[_Delivery]
    _customers: dict[str, int]
    _stores: dict[int, dict[str, Any]]
    _status_mappings: dict[int, list[dict[str, str]] | None]
    _next: dict[str, int]
    user_id: str
    warehouse_id: int
    _route_table: list[tuple[str, re.Pattern[str], Callable[[_Request], Any]]]
    _marketplaces: list[dict[str, Any]]
    _assigned: dict[int, str]
    """Order id → the GUID of its assigned user (users.py); read-only on createorder."""
    _tags: list[dict[str, Any]]
    # Implemented by ProductsResource (products.py), called by the order upsert (orders.py).
    _products_from_order: Callable[[_Order], None]

    def __repr__(self) -> str:
        # Never the key pair.
        return f"ShipStationSimulator(base_url={self.base_url!r}, orders={len(self._orders)})"

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
        tally = self._rate_log.setdefault(index, [0, 0])
        tally[0 if allowed else 1] += 1
        reset = max(1, math.ceil((index + 1) * self.rate_window_seconds - now))
        headers = {
            "X-Rate-Limit-Limit": str(self.rate_limit),
            "X-Rate-Limit-Remaining": str(self.rate_limit - window.used),
            "X-Rate-Limit-Reset": str(reset),
        }
        return headers, allowed

    def rate_windows(self) -> list[tuple[float, int, int]]:
        """Each rate-limit window that saw a request, in order: ``(start, admitted, refused)``
        (``start`` in seconds of the simulator's monotonic clock). Tests and benchmarks read
        from it how much of each window's budget clients used, and how many 429s it answered."""
        with self._lock:
            return [
                (index * self.rate_window_seconds, admitted, refused)
                for index, (admitted, refused) in sorted(self._rate_log.items())
            ]

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

    def _body_object(self, req: _Request, model_key: str) -> dict[str, Any]:
        body = req.json(model_key)
        if not isinstance(body, dict):
            raise _invalid(model_key, "The request body must be a JSON object.")
        return {k.lower(): v for k, v in body.items()}

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

    def _render_order(self, order: _Order) -> dict[str, Any]:
        data = order.data
        data["tagIds"] = list(order.tag_ids) or None
        data["userId"] = self._assigned.get(order.order_id)
        return data

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

    def _take(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    def _guid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

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

    def _render_shipment(self, shipment: _Shipment, *, items: bool) -> dict[str, Any]:
        data = shipment.data
        if items:
            data["shipmentItems"] = _unpack(shipment.items_blob)
        return data

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
