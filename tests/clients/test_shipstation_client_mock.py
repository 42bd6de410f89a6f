"""ShipStationClient and AsyncShipStationClient against httpx.MockTransport, on a virtual clock."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any

import httpx
import pytest

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.errors import (
    BackMarketShipStationError,
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    ServerError,
)
from backmarket_shipstation.shipstation import (
    AsyncShipStationClient,
    Confirmation,
    CreateLabelRequest,
    Order,
    OrderPage,
    OrderStatus,
    ShipmentPage,
    ShipStationClient,
    UntrustedWebhookURLError,
    WebhookEvent,
)

KEY = "ss-key-4f1c9a"
SECRET = "ss-secret-7be2d0c1"
BASIC = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()

Handler = Callable[[httpx.Request], httpx.Response]


def rate_headers(remaining: int = 39, reset: int = 50) -> dict[str, str]:
    return {
        "X-Rate-Limit-Limit": "40",
        "X-Rate-Limit-Remaining": str(remaining),
        "X-Rate-Limit-Reset": str(reset),
    }


def order_json(
    number: str = "BM-55501234", key: str | None = "backmarket-55501234"
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "orderId": 481516234,
        "orderNumber": number,
        "orderDate": "2025-03-14T02:11:09.0000000",
        "orderStatus": "awaiting_shipment",
        "billTo": {"name": "Jeanne Dupont"},
        "shipTo": {
            "name": "Jeanne Dupont",
            "street1": "12 rue de la Paix",
            "city": "Paris",
            "postalCode": "75002",
            "country": "FR",
        },
        "items": [
            {
                "lineItemKey": "55501234-1",
                "sku": "IPH13",
                "name": "iPhone 13",
                "quantity": 1,
                "unitPrice": 459.0,
            }
        ],
    }
    if key is not None:
        data["orderKey"] = key
    return data


def order(number: str = "BM-55501234", key: str | None = "backmarket-55501234") -> Order:
    return Order.from_dict(order_json(number, key))


class Recorder:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.handler(request)

    def methods(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]


def client(
    handler: Handler, clock: VirtualClock | None = None, **kwargs: Any
) -> tuple[ShipStationClient, Recorder, VirtualClock]:
    recorder = Recorder(handler)
    clock = clock or VirtualClock()
    ss = ShipStationClient(
        api_key=KEY,
        api_secret=SECRET,
        transport=httpx.MockTransport(recorder),
        clock=clock,
        **kwargs,
    )
    return ss, recorder, clock


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def ok(payload: Any = None, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=payload, headers=rate_headers())


# --------------------------------------------------------------------------------------
# Configuration and wire basics
# --------------------------------------------------------------------------------------


def test_credentials_are_required() -> None:
    with pytest.raises(ConfigurationError):
        ShipStationClient(api_key="", api_secret=SECRET)
    with pytest.raises(ConfigurationError):
        ShipStationClient(api_key=KEY, api_secret="")


def test_basic_auth_and_default_host() -> None:
    ss, recorder, _ = client(lambda r: ok(order_json()))
    ss.orders.get(481516234)
    request = recorder.requests[0]
    assert request.url.host == "ssapi.shipstation.com"
    assert request.url.scheme == "https"
    assert request.headers["Authorization"] == BASIC
    assert (request.method, request.url.path) == ("GET", "/orders/481516234")


def test_documented_basic_example() -> None:
    from backmarket_shipstation._http import basic_auth_value

    assert basic_auth_value("ShipStation", "Rocks").reveal() == "Basic U2hpcFN0YXRpb246Um9ja3M="


# --------------------------------------------------------------------------------------
# Listing
# --------------------------------------------------------------------------------------


def paged(kind: str, total: int, *, claimed_pages: int | None = 0) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        size = int(request.url.params.get("pageSize", "100"))
        start = (page - 1) * size
        count = max(0, min(size, total - start))
        if kind == "orders":
            items = [order_json(f"N{start + i}") for i in range(count)]
        elif kind == "shipments":
            items = [
                {"shipmentId": start + i, "orderId": 1, "trackingNumber": f"T{start + i}"}
                for i in range(count)
            ]
        else:
            items = [{"fulfillmentId": start + i, "orderId": 1} for i in range(count)]
        pages = claimed_pages if claimed_pages is not None else -(-total // size)
        return ok({kind: items, "total": total, "page": page, "pages": pages})

    return handler


def test_orders_list_does_not_trust_pages_zero() -> None:
    ss, recorder, _ = client(paged("orders", 1100))
    numbers = [o.order_number for o in ss.orders.list(order_status=OrderStatus.AWAITING_SHIPMENT)]
    assert len(numbers) == 1100
    assert [r.url.params["page"] for r in recorder.requests] == ["1", "2", "3"]
    assert all(r.url.params["pageSize"] == "500" for r in recorder.requests)
    assert recorder.requests[0].url.params["orderStatus"] == "awaiting_shipment"


def test_orders_list_stops_on_an_exact_multiple_when_total_and_pages_agree() -> None:
    ss, recorder, _ = client(paged("orders", 1000, claimed_pages=None))
    assert len(list(ss.orders.list())) == 1000
    assert len(recorder.requests) == 2


def test_orders_list_goes_on_when_pages_understates() -> None:
    ss, recorder, _ = client(paged("orders", 30, claimed_pages=1))
    assert len(list(ss.orders.list(page_size=10))) == 30
    assert len(recorder.requests) == 3


def test_orders_list_is_lazy() -> None:
    ss, recorder, _ = client(paged("orders", 1100))
    iterator = iter(ss.orders.list())
    next(iterator)
    assert len(recorder.requests) == 1


def test_orders_list_sends_every_documented_filter_in_pacific_time() -> None:
    ss, recorder, _ = client(paged("orders", 0))
    utc = datetime(2025, 7, 1, 19, 30, tzinfo=timezone.utc)  # 12:30 PDT
    list(
        ss.orders.list(
            customer_name="Jeanne",
            item_keyword="iPhone",
            create_date_start=utc,
            create_date_end=utc,
            modify_date_start=utc,
            modify_date_end=utc,
            order_date_start=utc,
            order_date_end=utc,
            order_number="BM-",
            order_status="on_hold",
            payment_date_start=utc,
            payment_date_end=utc,
            store_id=518236,
            sort_by="ModifyDate",
            sort_dir="ASC",
        )
    )
    params = dict(recorder.requests[0].url.params)
    assert params == {
        "customerName": "Jeanne",
        "itemKeyword": "iPhone",
        "createDateStart": "2025-07-01 12:30:00",
        "createDateEnd": "2025-07-01 12:30:00",
        "modifyDateStart": "2025-07-01 12:30:00",
        "modifyDateEnd": "2025-07-01 12:30:00",
        "orderDateStart": "2025-07-01 12:30:00",
        "orderDateEnd": "2025-07-01 12:30:00",
        "orderNumber": "BM-",
        "orderStatus": "on_hold",
        "paymentDateStart": "2025-07-01 12:30:00",
        "paymentDateEnd": "2025-07-01 12:30:00",
        "storeId": "518236",
        "sortBy": "ModifyDate",
        "sortDir": "ASC",
        "page": "1",
        "pageSize": "500",
    }


def test_shipments_and_fulfillments_lists() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        kind = request.url.path.strip("/")
        return paged(kind, 3)(request)

    ss, recorder, _ = client(handler)
    shipments = list(
        ss.shipments.list(
            include_shipment_items=True, ship_date_start=date(2025, 3, 1), batch_id=144015674
        )
    )
    fulfillments = list(ss.fulfillments.list(order_id=1))
    assert [s.tracking_number for s in shipments] == ["T0", "T1", "T2"]
    assert [f.fulfillment_id for f in fulfillments] == [0, 1, 2]
    shipment_params = recorder.requests[0].url.params
    assert shipment_params["includeShipmentItems"] == "true"
    assert shipment_params["shipDateStart"] == "2025-03-01"
    assert shipment_params["batchId"] == "144015674"
    assert recorder.requests[1].url.params["orderId"] == "1"


# --------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------


def test_upsert_sends_the_whole_order_and_is_retried_when_it_has_an_order_key() -> None:
    answers = iter([httpx.Response(503), ok(order_json())])
    ss, recorder, _ = client(lambda r: next(answers))
    result = ss.orders.upsert(order())
    assert result.order_key == "backmarket-55501234"
    assert recorder.methods() == [("POST", "/orders/createorder")] * 2
    sent = body(recorder.requests[0])
    assert sent["orderKey"] == "backmarket-55501234"
    assert sent["orderDate"] == "2025-03-14T02:11:09.0000000"
    assert sent["items"][0]["unitPrice"] == 459.0


def test_upsert_without_order_key_is_never_resent() -> None:
    ss, recorder, _ = client(lambda r: httpx.Response(503))
    with pytest.raises(ServerError):
        ss.orders.upsert(order(key=None))
    assert len(recorder.requests) == 1


def test_upsert_many_chunks_by_one_hundred_and_surfaces_each_result() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        orders = body(request)
        results = [
            {
                "orderId": i,
                "orderNumber": o["orderNumber"],
                "orderKey": o["orderKey"],
                "success": o["orderNumber"] != "N150",
                "errorMessage": None if o["orderNumber"] != "N150" else "order is shipped",
            }
            for i, o in enumerate(orders)
        ]
        return ok({"hasErrors": any(not r["success"] for r in results), "results": results})

    ss, recorder, _ = client(handler)
    result = ss.orders.upsert_many(order(f"N{i}", f"k{i}") for i in range(250))
    assert [len(body(r)) for r in recorder.requests] == [100, 100, 50]
    assert len(result.results) == 250
    assert result.has_errors
    failed = [r for r in result.results if not r.success]
    assert [(r.order_number, r.error_message) for r in failed] == [("N150", "order is shipped")]
    assert isinstance(body(recorder.requests[0]), list)


def test_mark_as_shipped_sends_both_notify_flags_even_false() -> None:
    ss, recorder, _ = client(lambda r: ok({"orderId": 481516234, "orderNumber": "BM-55501234"}))
    result = ss.orders.mark_as_shipped(
        481516234,
        carrier_code="colissimo",
        ship_date=date(2025, 3, 15),
        tracking_number="6A123",
        notify_customer=False,
        notify_sales_channel=True,
    )
    assert result.order_number == "BM-55501234"
    assert body(recorder.requests[0]) == {
        "orderId": 481516234,
        "carrierCode": "colissimo",
        "shipDate": "2025-03-15",
        "trackingNumber": "6A123",
        "notifyCustomer": False,
        "notifySalesChannel": True,
    }


def test_mark_as_shipped_is_not_resent_after_an_unclear_failure() -> None:
    ss, recorder, _ = client(
        lambda r: httpx.Response(500, json={"Message": "An error has occurred."})
    )
    with pytest.raises(ServerError, match="An error has occurred"):
        ss.orders.mark_as_shipped(
            1, carrier_code="ups", notify_customer=False, notify_sales_channel=True
        )
    assert len(recorder.requests) == 1


def test_order_actions() -> None:
    ss, recorder, _ = client(lambda r: ok({"success": True, "message": "done"}))
    assert ss.orders.hold_until(7, date(2025, 4, 1)).success
    assert ss.orders.restore_from_hold(7).success
    assert ss.orders.add_tag(7, 11).success
    assert ss.orders.remove_tag(7, 11).success
    assert ss.orders.delete(7).success
    assert recorder.methods() == [
        ("POST", "/orders/holduntil"),
        ("POST", "/orders/restorefromhold"),
        ("POST", "/orders/addtag"),
        ("POST", "/orders/removetag"),
        ("DELETE", "/orders/7"),
    ]
    assert [body(r) for r in recorder.requests[:4]] == [
        {"orderId": 7, "holdUntilDate": "2025-04-01"},
        {"orderId": 7},
        {"orderId": 7, "tagId": 11},
        {"orderId": 7, "tagId": 11},
    ]


def test_delete_with_an_empty_body_is_a_success() -> None:
    ss, _, _ = client(lambda r: httpx.Response(200, headers=rate_headers()))
    assert ss.orders.delete(7).success


def test_create_label() -> None:
    ss, recorder, _ = client(
        lambda r: ok(
            {
                "shipmentId": 72513480,
                "shipmentCost": 7.3,
                "trackingNumber": "248201115029520",
                "labelData": "JVBERi0=",
            }
        )
    )
    label = ss.orders.create_label(
        CreateLabelRequest(
            order_id=7,
            carrier_code="fedex",
            service_code="fedex_ground",
            confirmation=Confirmation.NONE,
            ship_date=date(2025, 3, 15),
            test_label=False,
        )
    )
    assert label.tracking_number == "248201115029520"
    assert recorder.methods() == [("POST", "/orders/createlabelfororder")]
    assert body(recorder.requests[0])["testLabel"] is False


# --------------------------------------------------------------------------------------
# Carriers, stores, webhooks
# --------------------------------------------------------------------------------------


def test_carriers_and_stores() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/carriers":
            return ok(
                [
                    {"name": "Stamps.com", "code": "stamps_com", "nickname": "a"},
                    {"name": "Stamps.com", "code": "stamps_com", "nickname": "b"},
                ]
            )
        if path in ("/carriers/listservices", "/carriers/listpackages"):
            assert request.url.params["carrierCode"] == "fedex"
            return ok(
                [
                    {
                        "carrierCode": "fedex",
                        "code": "fedex_ground",
                        "name": "FedEx Ground®",
                        "domestic": True,
                        "international": False,
                    }
                ]
            )
        if path == "/stores":
            return ok(
                [
                    {
                        "storeId": 518236,
                        "storeName": "Back Market EU",
                        "marketplaceName": "Back Market",
                    }
                ]
            )
        if path == "/stores/518236":
            return ok(
                {
                    "storeId": 518236,
                    "statusMappings": [{"orderStatus": "shipped", "statusKey": "9"}],
                }
            )
        if path == "/stores/marketplaces":
            return ok([{"name": "Back Market", "marketplaceId": 999, "canRefresh": True}])
        if path == "/stores/refreshstore":
            return ok(
                {
                    "success": True,
                    "message": "A store refresh has been initiated for Store ID 518236",
                }
            )
        return httpx.Response(404, json={"Message": "No HTTP resource was found"})

    ss, recorder, _ = client(handler)
    assert [c.nickname for c in ss.carriers.list()] == ["a", "b"]
    assert ss.carriers.services("fedex")[0].code == "fedex_ground"
    assert ss.carriers.packages("fedex")[0].carrier_code == "fedex"
    assert ss.stores.list(show_inactive=False)[0].store_id == 518236
    assert recorder.requests[-1].url.params["showInactive"] == "false"
    store = ss.stores.get(518236)
    assert store.status_mappings is not None
    assert store.status_mappings[0].order_status is OrderStatus.SHIPPED
    assert ss.stores.marketplaces()[0].name == "Back Market"
    assert ss.stores.refresh(518236, refresh_date=date(2025, 3, 1)).success
    refresh = recorder.requests[-1]
    assert refresh.method == "POST"
    assert dict(refresh.url.params) == {"storeId": "518236", "refreshDate": "2025-03-01"}
    with pytest.raises(NotFoundError, match="No HTTP resource"):
        ss.stores.get(1)


def test_webhooks_subscribe_list_unsubscribe() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/webhooks/subscribe":
            return ok({"id": 123456}, 201)
        if request.method == "DELETE":
            return httpx.Response(200, headers=rate_headers())
        return ok(
            {
                "webhooks": [
                    {
                        "WebHookID": 123456,
                        "HookType": "SHIP_NOTIFY",
                        "Url": "https://me.example/hook",
                        "Active": True,
                    }
                ]
            }
        )

    ss, recorder, _ = client(handler)
    assert (
        ss.webhooks.subscribe(
            "https://me.example/hook", WebhookEvent.SHIP_NOTIFY, friendly_name="bm"
        ).id
        == 123456
    )
    assert body(recorder.requests[0]) == {
        "target_url": "https://me.example/hook",
        "event": "SHIP_NOTIFY",
        "friendly_name": "bm",
    }
    hooks = ss.webhooks.list().webhooks
    assert hooks[0].web_hook_id == 123456
    assert hooks[0].hook_type is WebhookEvent.SHIP_NOTIFY
    ss.webhooks.unsubscribe(123456)
    assert recorder.methods()[-1] == ("DELETE", "/webhooks/123456")


def test_unsubscribe_does_not_read_the_answer() -> None:
    # Nothing in it is needed: a cut body must not turn a done DELETE into an error.
    cut = httpx.Response(200, content=b'{"WebHookID": 12', headers=rate_headers())
    cut.headers["Content-Type"] = "application/json"
    ss, recorder, _ = client(lambda r: cut)
    ss.webhooks.unsubscribe(123456)
    assert recorder.methods() == [("DELETE", "/webhooks/123456")]


def test_webhook_fetch_uses_the_client_credentials_on_the_configured_host() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/shipments":
            return ok(
                {
                    "shipments": [{"shipmentId": 1, "trackingNumber": "1Z"}],
                    "total": 1,
                    "page": 1,
                    "pages": 1,
                }
            )
        return ok({"orders": [order_json()], "total": 1, "page": 1, "pages": 1})

    ss, recorder, _ = client(handler)
    shipments = ss.webhooks.fetch(
        b'{"resource_url": "https://ssapi.shipstation.com/shipments'
        b'?batchId=144015674&includeShipmentItems=False", "resource_type": "SHIP_NOTIFY"}'
    )
    assert isinstance(shipments, ShipmentPage)
    orders = ss.webhooks.fetch(
        {
            "resource_url": "https://SSAPI.shipstation.com/orders?importBatch=1f2e",
            "resource_type": "ORDER_NOTIFY",
        }
    )
    assert isinstance(orders, OrderPage)
    first, second = recorder.requests
    assert first.url.params["batchId"] == "144015674"
    assert first.headers["Authorization"] == BASIC
    assert second.url.host == "ssapi.shipstation.com"
    assert second.url.params["importBatch"] == "1f2e"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/orders?importBatch=1",
        "https://ssapi.shipstation.com.evil.example/orders",
        "http://ssapi.shipstation.com/orders",
        "https://ssapi.shipstation.com:8443/orders",
        "https://user:pw@ssapi.shipstation.com/orders",
        "https://ssapi.shipstation.com/accounts/registeraccount",
        "https://ssapi.shipstation.com/orders/1/../../webhooks",
        "not a url at all",
        "//evil.example/orders",
    ],
)
def test_webhook_fetch_refuses_other_hosts_without_sending_anything(url: str) -> None:
    ss, recorder, _ = client(lambda r: ok({}))
    with pytest.raises(UntrustedWebhookURLError) as caught:
        ss.webhooks.fetch({"resource_url": url, "resource_type": "ORDER_NOTIFY"})
    assert recorder.requests == []
    assert isinstance(caught.value, BackMarketShipStationError)


def test_webhook_fetch_follows_a_configured_sandbox_host() -> None:
    recorder = Recorder(lambda r: ok({"orders": [], "total": 0, "page": 1, "pages": 0}))
    ss = ShipStationClient(
        api_key=KEY,
        api_secret=SECRET,
        base_url="http://127.0.0.1:8123",
        transport=httpx.MockTransport(recorder),
        clock=VirtualClock(),
    )
    ss.webhooks.fetch(
        {
            "resource_url": "http://127.0.0.1:8123/orders?importBatch=x",
            "resource_type": "ORDER_NOTIFY",
        }
    )
    with pytest.raises(UntrustedWebhookURLError):
        ss.webhooks.fetch(
            {
                "resource_url": "https://ssapi.shipstation.com/orders",
                "resource_type": "ORDER_NOTIFY",
            }
        )
    assert len(recorder.requests) == 1


# --------------------------------------------------------------------------------------
# Throttling: one limiter per key pair, driven by the headers
# --------------------------------------------------------------------------------------


class RateLimitedServer:
    """40 requests per fixed 60 s window, as ShipStation V1 documents, on the virtual clock."""

    def __init__(self, clock: VirtualClock, limit: int = 40) -> None:
        self.clock = clock
        self.limit = limit
        self.window_start = 0.0
        self.used = 0
        self.too_many = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.clock.monotonic()
        if now >= self.window_start + 60:
            self.window_start = now - (now - self.window_start) % 60
            self.used = 0
        reset = int(self.window_start + 60 - now)
        if self.used >= self.limit:
            self.too_many += 1
            return httpx.Response(
                429, json={"message": "Too Many Requests"}, headers=rate_headers(0, reset)
            )
        self.used += 1
        return httpx.Response(200, json=[], headers=rate_headers(self.limit - self.used, reset))


def test_two_clients_of_one_key_pair_share_a_limiter_and_never_meet_a_429() -> None:
    clock = VirtualClock()
    server = RateLimitedServer(clock)
    first, _, _ = client(server, clock)
    second, _, _ = client(server, clock)
    assert first._core.limiter is second._core.limiter
    for i in range(130):
        (first if i % 2 else second).carriers.list()
    assert server.too_many == 0
    # 130 requests at 40 a minute need three full windows of waiting.
    assert 180.0 <= clock.monotonic() < 240.0


def test_a_different_key_pair_has_its_own_limiter() -> None:
    clock = VirtualClock()
    ss, _, _ = client(lambda r: ok([]), clock)
    other = ShipStationClient(
        api_key="other",
        api_secret=SECRET,
        transport=httpx.MockTransport(lambda r: ok([])),
        clock=clock,
    )
    assert ss._core.limiter is not other._core.limiter


def test_an_unexpected_429_waits_for_the_reset_then_succeeds() -> None:
    answers = iter(
        [
            httpx.Response(429, json={"message": "Too Many Requests"}, headers=rate_headers(0, 17)),
            ok([]),
        ]
    )
    ss, recorder, clock = client(lambda r: next(answers))
    ss.carriers.list()
    assert len(recorder.requests) == 2
    assert 17.0 <= clock.slept < 18.0


def test_secrets_stay_out_of_reprs_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="backmarket_shipstation")
    ss, _, _ = client(
        lambda r: httpx.Response(
            400, json={"Message": "The request is invalid.", "ModelState": {"apiOrder": ["bad"]}}
        )
    )
    with pytest.raises(InvalidRequestError) as caught:
        ss.orders.upsert(order())
    texts = [repr(ss), str(ss), repr(ss._core), str(caught.value), repr(caught.value), caplog.text]
    joined = "\n".join(texts)
    for secret in (SECRET, KEY, BASIC, BASIC.split()[1]):
        assert secret not in joined
    assert "POST /orders/createorder -> 400" in caplog.text


# --------------------------------------------------------------------------------------
# Async twin
# --------------------------------------------------------------------------------------


def test_async_client_mirrors_the_sync_one() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path in ("/orders", "/shipments", "/fulfillments"):
            return paged(path.strip("/"), 3)(request)
        if path == "/orders/createorder":
            return ok(body(request))
        if path == "/orders/createorders":
            return ok(
                {
                    "hasErrors": False,
                    "results": [
                        {"success": True, "orderKey": o["orderKey"]} for o in body(request)
                    ],
                }
            )
        if path == "/orders/markasshipped":
            return ok({"orderId": 1, "orderNumber": "N"})
        if path == "/orders/createlabelfororder":
            return ok({"shipmentId": 5})
        if path.startswith("/orders/") and request.method == "GET":
            return ok(order_json())
        if path in (
            "/carriers",
            "/carriers/listservices",
            "/carriers/listpackages",
            "/stores",
            "/stores/marketplaces",
        ):
            return ok([])
        if path == "/stores/1":
            return ok({"storeId": 1})
        if path == "/webhooks":
            return ok({"webhooks": []})
        if path == "/webhooks/subscribe":
            return ok({"id": 9})
        return ok({"success": True})

    async def run() -> list[tuple[str, str]]:
        recorder = Recorder(handler)
        async with AsyncShipStationClient(
            api_key=KEY,
            api_secret=SECRET,
            transport=httpx.MockTransport(recorder),
            clock=VirtualClock(),
        ) as ss:
            assert len([o async for o in ss.orders.list()]) == 3
            assert len([s async for s in ss.shipments.list()]) == 3
            assert len([f async for f in ss.fulfillments.list()]) == 3
            await ss.orders.get(1)
            await ss.orders.upsert(order())
            many = await ss.orders.upsert_many([order(f"N{i}", f"k{i}") for i in range(101)])
            assert len(many.results) == 101
            await ss.orders.mark_as_shipped(
                1, carrier_code="ups", notify_customer=True, notify_sales_channel=True
            )
            await ss.orders.hold_until(1, date(2025, 1, 2))
            await ss.orders.restore_from_hold(1)
            await ss.orders.delete(1)
            await ss.orders.add_tag(1, 2)
            await ss.orders.remove_tag(1, 2)
            await ss.orders.create_label(
                CreateLabelRequest(
                    order_id=1,
                    carrier_code="ups",
                    service_code="ups_ground",
                    confirmation=Confirmation.NONE,
                    ship_date=date(2025, 1, 2),
                )
            )
            await ss.carriers.list()
            await ss.carriers.services("ups")
            await ss.carriers.packages("ups")
            await ss.stores.list()
            await ss.stores.get(1)
            await ss.stores.marketplaces()
            await ss.stores.refresh()
            await ss.webhooks.subscribe("https://me.example/h", "ORDER_NOTIFY")
            await ss.webhooks.list()
            await ss.webhooks.unsubscribe(9)
            fetched = await ss.webhooks.fetch(
                {
                    "resource_url": "https://ssapi.shipstation.com/orders?importBatch=z",
                    "resource_type": "ORDER_NOTIFY",
                }
            )
            assert isinstance(fetched, OrderPage)
            everything = ss.webhooks.fetch_all(
                {
                    "resource_url": "https://ssapi.shipstation.com/orders?importBatch=z",
                    "resource_type": "ORDER_NOTIFY",
                }
            )
            assert len([item async for item in everything]) == 3
            with pytest.raises(UntrustedWebhookURLError):
                await ss.webhooks.fetch(
                    {"resource_url": "https://evil.example/orders", "resource_type": "ORDER_NOTIFY"}
                )
        return recorder.methods()

    methods = asyncio.run(run())
    assert methods[3:] == [
        ("GET", "/orders/1"),
        ("POST", "/orders/createorder"),
        ("POST", "/orders/createorders"),
        ("POST", "/orders/createorders"),
        ("POST", "/orders/markasshipped"),
        ("POST", "/orders/holduntil"),
        ("POST", "/orders/restorefromhold"),
        ("DELETE", "/orders/1"),
        ("POST", "/orders/addtag"),
        ("POST", "/orders/removetag"),
        ("POST", "/orders/createlabelfororder"),
        ("GET", "/carriers"),
        ("GET", "/carriers/listservices"),
        ("GET", "/carriers/listpackages"),
        ("GET", "/stores"),
        ("GET", "/stores/1"),
        ("GET", "/stores/marketplaces"),
        ("POST", "/stores/refreshstore"),
        ("POST", "/webhooks/subscribe"),
        ("GET", "/webhooks"),
        ("DELETE", "/webhooks/9"),
        ("GET", "/orders"),
        ("GET", "/orders"),
    ]


def test_async_throttle_shares_the_sync_limiter_of_the_same_key_pair() -> None:
    clock = VirtualClock()
    server = RateLimitedServer(clock)
    sync_client, _, _ = client(server, clock)

    async def run() -> None:
        async with AsyncShipStationClient(
            api_key=KEY, api_secret=SECRET, transport=httpx.MockTransport(server), clock=clock
        ) as ss:
            assert ss._core.limiter is sync_client._core.limiter
            for _ in range(30):
                await ss.carriers.list()

    for _ in range(30):
        sync_client.carriers.list()
    asyncio.run(run())
    assert server.too_many == 0


def test_webhook_fetch_all_walks_every_page_of_a_big_batch() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["importBatch"] == "big"
        return paged("orders", 1234, claimed_pages=None)(request)

    ss, recorder, _ = client(handler)
    payload = {
        "resource_url": "https://ssapi.shipstation.com/orders?importBatch=big",
        "resource_type": "ORDER_NOTIFY",
    }
    assert len(list(ss.webhooks.fetch_all(payload))) == 1234
    assert [r.url.params["page"] for r in recorder.requests] == ["1", "2", "3"]
    assert all(r.url.params["pageSize"] == "500" for r in recorder.requests)
    with pytest.raises(UntrustedWebhookURLError):
        ss.webhooks.fetch_all({**payload, "resource_url": "https://evil.example/orders"})
