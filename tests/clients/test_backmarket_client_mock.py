"""BackMarketClient and AsyncBackMarketClient against httpx.MockTransport, on a virtual clock."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from backmarket_shipstation.backmarket import (
    AsyncBackMarketClient,
    BackMarketClient,
    OrderlineIdentifiers,
    OrderlineIdentifiersUpdate,
    OrderLineState,
    OrderState,
    OrderUpdate,
    Region,
    ReturnReason,
)
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BackMarketShipStationError,
    ConfigurationError,
    FirewallBlockedError,
    InvalidIMEIError,
    InvalidRequestError,
    RateLimitedError,
    ServerError,
)

TOKEN = "YWJjZGVmOkJNVC1zZWNyZXQtdG9rZW4tdmFsdWU="
UA = "BM-Acme-ShipSync;ops@acme.example"
VALID_IMEI = "490154203237518"

Handler = Callable[[httpx.Request], httpx.Response]


def order_json(
    order_id: int = 41234567, *, line_state: int = 1, sku: str = "IP13-128"
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "state": 1 if line_state == 1 else 3,
        "date_creation": "2025-03-10T08:30:12.482913Z",
        "country_code": "fr-fr",
        "currency": "EUR",
        "price": "329.00",
        "shipping_address": {"first_name": "Camille", "last_name": "Martin", "country": "FR"},
        "orderlines": [
            {"id": 55501234, "state": line_state, "listing": sku, "quantity": 1, "price": "329.00"}
        ],
    }


class Recorder:
    """A MockTransport handler that records requests and answers from a script."""

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
) -> tuple[BackMarketClient, Recorder, VirtualClock]:
    recorder = Recorder(handler)
    clock = clock or VirtualClock()
    bm = BackMarketClient(
        token=TOKEN,
        user_agent=UA,
        transport=httpx.MockTransport(recorder),
        clock=clock,
        **kwargs,
    )
    return bm, recorder, clock


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "agent",
    [None, "", "python-httpx/0.28", "ops@acme.example", "BM-Acme;ops@acme.example", "BM-Acme-Sync"],
)
def test_user_agent_is_required_in_the_documented_form(agent: str | None) -> None:
    with pytest.raises(ConfigurationError, match=r"BM-\{Company\}-\{Integration\}"):
        BackMarketClient(token=TOKEN, user_agent=agent)  # type: ignore[arg-type]


def test_missing_token_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        BackMarketClient(token="", user_agent=UA)


@pytest.mark.parametrize(
    ("region", "sandbox", "host", "language"),
    [
        (Region.EU, False, "www.backmarket.fr", "fr-fr"),
        ("us", False, "www.backmarket.com", "en-us"),
        (Region.AP, True, "preprod.backmarket.co.jp", "ja-jp"),
    ],
)
def test_regions_pick_host_and_language(
    region: Region | str, sandbox: bool, host: str, language: str
) -> None:
    bm, recorder, _ = client(
        lambda r: httpx.Response(200, json=order_json()), region=region, sandbox=sandbox
    )
    bm.orders.get(41234567)
    sent = recorder.requests[0]
    assert sent.url.host == host
    assert sent.headers["Accept-Language"] == language


def test_headers_on_the_wire() -> None:
    bm, recorder, _ = client(
        lambda r: httpx.Response(200, json=order_json()), accept_language="en-gb"
    )
    bm.orders.get(41234567)
    headers = recorder.requests[0].headers
    # The token goes after "Basic " exactly as issued: not base64-encoded again.
    assert headers["Authorization"] == f"Basic {TOKEN}"
    assert headers["User-Agent"] == UA
    assert headers["Accept"] == "application/json"
    assert headers["Accept-Language"] == "en-gb"


def test_a_token_stored_with_its_basic_prefix_is_not_doubled() -> None:
    recorder = Recorder(lambda r: httpx.Response(200, json=order_json()))
    bm = BackMarketClient(
        token=f"Basic {TOKEN}",
        user_agent=UA,
        transport=httpx.MockTransport(recorder),
        clock=VirtualClock(),
    )
    bm.orders.get(1)
    assert recorder.requests[0].headers["Authorization"] == f"Basic {TOKEN}"


def test_default_timeouts_are_explicit() -> None:
    bm = BackMarketClient(token=TOKEN, user_agent=UA)
    timeout = bm._core.http.timeout
    assert timeout.connect == 5.0
    assert timeout.read == 30.0
    bm.close()


def test_context_manager_closes_an_owned_client_but_not_a_given_one() -> None:
    with BackMarketClient(token=TOKEN, user_agent=UA) as bm:
        http = bm._core.http
    assert http.is_closed
    given = httpx.Client()
    with BackMarketClient(token=TOKEN, user_agent=UA, http_client=given):
        pass
    assert not given.is_closed
    given.close()


# --------------------------------------------------------------------------------------
# Listing
# --------------------------------------------------------------------------------------


def paged_orders(total: int, page_size: int = 50) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        size = int(request.url.params["page-size"])
        assert size == page_size
        start = (page - 1) * size
        ids = list(range(start, min(start + size, total)))
        last = start + size >= total
        return httpx.Response(
            200,
            json={
                "count": total,
                "next": None if last else f"https://www.backmarket.fr/ws/orders?page={page + 1}",
                "previous": None,
                "results": [order_json(1000 + i) for i in ids],
            },
        )

    return handler


def test_list_is_lazy_and_walks_pages_of_fifty_until_next_is_null() -> None:
    bm, recorder, _ = client(paged_orders(120))
    orders = bm.orders.list(state=OrderState.TO_ACCEPT)
    assert recorder.requests == []
    iterator = iter(orders)
    first = next(iterator)
    assert first.order_id == 1000
    assert len(recorder.requests) == 1
    rest = list(iterator)
    assert len(rest) == 119
    assert [r.url.params["page"] for r in recorder.requests] == ["1", "2", "3"]
    assert all(r.url.params["page-size"] == "50" for r in recorder.requests)


def test_list_filters_are_sent_with_documented_names_and_rfc3339_dates() -> None:
    bm, recorder, _ = client(paged_orders(0))
    since = datetime(2025, 1, 1, 1, 0, tzinfo=timezone(__import__("datetime").timedelta(hours=1)))
    list(
        bm.orders.list(
            state=1,
            date_creation=since,
            date_modification="2025-02-01T00:00:00Z",
            country_code="FR-FR",
        )
    )
    params = recorder.requests[0].url.params
    assert params["state"] == "1"
    assert params["date_creation"] == "2025-01-01T00:00:00Z"
    assert params["date_modification"] == "2025-02-01T00:00:00Z"
    assert params["country_code"] == "fr-fr"
    assert "page_size" not in params
    assert "limit" not in params


def test_naive_filter_dates_are_refused() -> None:
    bm, _, _ = client(paged_orders(0))
    with pytest.raises(ValueError, match="timezone-aware"):
        bm.orders.list(date_creation=datetime(2025, 1, 1))


def test_pages_are_reachable() -> None:
    bm, _, _ = client(paged_orders(60))
    pages = list(bm.orders.list().pages())
    assert [p.count for p in pages] == [60, 60]
    assert [len(p.results) for p in pages] == [50, 10]


# --------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------


def echo_order(line_state: int) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=order_json(line_state=line_state))

    return handler


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def test_accept_cancel_ship_refund_bodies() -> None:
    bm, recorder, _ = client(echo_order(2))
    accepted = bm.orders.accept(41234567, "IP13-128")
    assert accepted is not None
    assert accepted.lines[0].state is OrderLineState.ACCEPTED
    bm.orders.cancel(41234567, "IP13-128", message="out of stock")
    bm.orders.ship(
        41234567,
        tracking_number="6A 123 456 789",
        shipper="Colissimo",
        tracking_url="https://track.example/6A123456789",
        date_shipping=datetime(2025, 3, 11, 15, 0, tzinfo=timezone.utc),
        imei=VALID_IMEI,
    )
    bm.orders.refund(41234567, "IP13-128", after_shipping=False)
    bm.orders.refund(
        41234567,
        "IP13-128",
        after_shipping=True,
        return_reason=ReturnReason.FAULTY_ON_OPENING,
        return_message="sorry",
    )
    assert all(
        r.method == "POST" and r.url.path == "/ws/orders/41234567" for r in recorder.requests
    )
    bodies = [body(r) for r in recorder.requests]
    assert bodies[0] == {"order_id": 41234567, "new_state": 2, "sku": "IP13-128"}
    assert bodies[1] == {
        "order_id": 41234567,
        "new_state": 4,
        "sku": "IP13-128",
        "return_message": "out of stock",
    }
    assert bodies[2] == {
        "order_id": 41234567,
        "new_state": 3,
        "tracking_number": "6A123456789",
        "tracking_url": "https://track.example/6A123456789",
        "shipper": "Colissimo",
        "date_shipping": "2025-03-11T15:00:00Z",
        "imei": VALID_IMEI,
    }
    assert bodies[3] == {"order_id": 41234567, "new_state": 5, "sku": "IP13-128"}
    assert bodies[4] == {
        "order_id": 41234567,
        "new_state": 6,
        "sku": "IP13-128",
        "return_reason": 21,
        "return_message": "sorry",
    }
    assert recorder.requests[0].headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (OrderUpdate(order_id=1, new_state=OrderLineState.ON_HOLD), "must be in 2,3,4,5,6"),
        (OrderUpdate(order_id=1, new_state=OrderLineState.ACCEPTED), "needs its sku"),
        (OrderUpdate(order_id=1, new_state=OrderLineState.SHIPPED), "tracking_number"),
        (
            OrderUpdate(order_id=1, new_state=OrderLineState.ACCEPTED, sku="A", imei=VALID_IMEI),
            "only processed with new_state 3",
        ),
    ],
)
def test_updates_breaking_production_rules_are_refused_before_sending(
    update: OrderUpdate, message: str
) -> None:
    bm, recorder, _ = client(echo_order(2))
    with pytest.raises(ValueError, match=message):
        bm.orders.update(update)
    assert recorder.requests == []


def test_a_refund_after_shipping_needs_a_reason() -> None:
    bm, _, _ = client(echo_order(6))
    with pytest.raises(ValueError, match="return_reason"):
        bm.orders.refund(1, "A", after_shipping=True)


def test_a_mistyped_imei_is_refused_before_it_becomes_permanent() -> None:
    bm, recorder, _ = client(echo_order(3))
    with pytest.raises(InvalidIMEIError):
        bm.orders.ship(1, tracking_number="T", imei="490154203237519")
    with pytest.raises(InvalidIMEIError):
        bm.orderlines.update(55501234, imei="12345")
    # Fullwidth digits pass str.isdigit() and int(), and their Luhn sum is right.
    fullwidth = VALID_IMEI.translate({ord("0") + d: 0xFF10 + d for d in range(10)})
    with pytest.raises(InvalidIMEIError):
        bm.orderlines.update(55501234, imei=fullwidth)
    assert recorder.requests == []


def test_orderline_identifiers_patch() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body(request))

    bm, recorder, _ = client(handler)
    result = bm.orderlines.update(55501234, imei=VALID_IMEI, serial_number="F2LXK0ABCD")
    assert result == OrderlineIdentifiers(imei=VALID_IMEI, serial_number="F2LXK0ABCD")
    request = recorder.requests[0]
    assert (request.method, request.url.path) == ("PATCH", "/ws/orderlines/55501234")
    assert body(request) == {"imei": VALID_IMEI, "serial_number": "F2LXK0ABCD"}
    with pytest.raises(ValueError, match="imei, a serial_number or both"):
        bm.orderlines.update(55501234)


def test_orderline_patch_422_is_not_retried() -> None:
    bm, recorder, _ = client(
        lambda r: httpx.Response(
            422, json={"error": {"code": "already_set", "message": "IMEI already registered"}}
        )
    )
    with pytest.raises(InvalidRequestError, match="IMEI already registered"):
        bm.orderlines.update(55501234, imei=VALID_IMEI)
    assert len(recorder.requests) == 1


def test_invoice_upload_is_multipart_with_field_invoice() -> None:
    bm, recorder, _ = client(lambda r: httpx.Response(200, text="The invoice has been updated"))
    bm.orders.upload_invoice(41234567, b"%PDF-1.4 one", ("second.pdf", b"%PDF-1.4 two"))
    request = recorder.requests[0]
    assert (request.method, request.url.path) == ("POST", "/ws/orders/41234567/invoice")
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert request.content.count(b'name="invoice"') == 2
    assert b'filename="second.pdf"' in request.content
    assert b"%PDF-1.4 two" in request.content


def test_send_and_apply_a_write_plan() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            return httpx.Response(200, json=body(request))
        return httpx.Response(200, json=order_json(line_state=3))

    bm, recorder, _ = client(handler)
    plan = [
        OrderUpdate(
            order_id=41234567, new_state=OrderLineState.SHIPPED, tracking_number="T1", shipper="DHL"
        ),
        OrderlineIdentifiersUpdate(
            orderline_id=55501234, identifiers=OrderlineIdentifiers(serial_number="SN1")
        ),
    ]
    results = bm.apply(plan)
    assert recorder.methods() == [
        ("POST", "/ws/orders/41234567"),
        ("PATCH", "/ws/orderlines/55501234"),
    ]
    assert results[1] == OrderlineIdentifiers(serial_number="SN1")
    with pytest.raises(TypeError):
        bm.send("not a write")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Retries, re-reads and throttling on the virtual clock
# --------------------------------------------------------------------------------------


def test_get_is_retried_on_5xx_with_backoff() -> None:
    answers = iter(
        [httpx.Response(502), httpx.Response(503), httpx.Response(200, json=order_json())]
    )
    bm, recorder, clock = client(lambda r: next(answers))
    order = bm.orders.get(41234567)
    assert order.order_id == 41234567
    assert len(recorder.requests) == 3
    assert clock.slept > 0


def test_get_gives_up_after_the_capped_attempts() -> None:
    bm, recorder, _ = client(
        lambda r: httpx.Response(500, json={"error": {"code": "E", "message": "boom"}})
    )
    with pytest.raises(ServerError, match="boom"):
        bm.orders.get(1)
    assert len(recorder.requests) == 4


def test_a_429_waits_ten_seconds_as_cloudflare_blocks() -> None:
    answers = iter([httpx.Response(429), httpx.Response(200, json=order_json())])
    bm, recorder, clock = client(lambda r: next(answers))
    bm.orders.get(1)
    assert len(recorder.requests) == 2
    assert 10.0 <= clock.slept < 11.0


def test_a_state_post_is_re_read_not_resent_when_it_took_effect() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(504)
        return httpx.Response(200, json=order_json(line_state=2, sku="ip13-128"))

    bm, recorder, _ = client(handler)
    order = bm.orders.accept(41234567, "IP13-128")
    assert order is not None
    assert recorder.methods() == [("POST", "/ws/orders/41234567"), ("GET", "/ws/orders/41234567")]


def test_a_state_post_is_resent_only_after_a_re_read_shows_it_did_not_take_effect() -> None:
    answers = iter(
        [
            httpx.Response(503),
            httpx.Response(200, json=order_json(line_state=1)),
            httpx.Response(200, json=order_json(line_state=2)),
        ]
    )
    bm, recorder, _ = client(lambda r: next(answers))
    bm.orders.accept(41234567, "IP13-128")
    assert recorder.methods() == [
        ("POST", "/ws/orders/41234567"),
        ("GET", "/ws/orders/41234567"),
        ("POST", "/ws/orders/41234567"),
    ]


def test_a_timed_out_ship_is_re_read() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(200, json=order_json(line_state=3))

    bm, recorder, _ = client(handler)
    bm.orders.ship(41234567, tracking_number="T1")
    assert recorder.methods() == [("POST", "/ws/orders/41234567"), ("GET", "/ws/orders/41234567")]


def test_when_the_re_read_fails_too_the_write_failure_is_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(502)
        raise httpx.ConnectError("down", request=request)

    bm, recorder, _ = client(handler)
    with pytest.raises(ServerError) as caught:
        bm.orders.accept(41234567, "IP13-128")
    assert caught.value.method == "POST"
    assert isinstance(caught.value.__cause__, APIConnectionError)
    assert [m for m, _ in recorder.methods()].count("POST") == 1


def test_a_rejected_state_post_is_never_retried() -> None:
    bm, recorder, _ = client(lambda r: httpx.Response(400, text="sku not found"))
    with pytest.raises(InvalidRequestError, match="sku not found"):
        bm.orders.accept(41234567, "NOPE")
    assert len(recorder.requests) == 1


def test_the_throttle_keeps_under_the_cloudflare_window() -> None:
    bm, _, clock = client(lambda r: httpx.Response(200, json=order_json()), max_requests_per_10s=20)
    stamps: list[float] = []
    for _ in range(50):
        bm.orders.get(1)
        stamps.append(clock.monotonic())
    for start in stamps:
        assert sum(1 for t in stamps if start <= t < start + 10.0) <= 20
    assert clock.slept == pytest.approx(20.0)


def test_connection_errors_and_timeouts_are_typed() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    bm, recorder, _ = client(refuse)
    with pytest.raises(APIConnectionError) as caught:
        bm.orders.get(1)
    assert not isinstance(caught.value, APITimeoutError)
    assert len(recorder.requests) == 4

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    bm, _, _ = client(slow)
    with pytest.raises(APITimeoutError):
        bm.orders.get(1)


def test_firewall_block_is_not_retried_and_carries_cf_ray() -> None:
    bm, recorder, _ = client(
        lambda r: httpx.Response(
            403,
            headers={"content-type": "text/html", "cf-ray": "8f00-CDG"},
            text="<html>blocked</html>",
        )
    )
    with pytest.raises(FirewallBlockedError) as caught:
        bm.orders.get(1)
    assert caught.value.request_id == "8f00-CDG"
    assert caught.value.response is not None
    assert caught.value.response.status_code == 403
    assert len(recorder.requests) == 1


def test_raw_response_is_reachable() -> None:
    bm, _, _ = client(
        lambda r: httpx.Response(200, json=order_json(), headers={"cf-ray": "77-AMS"})
    )
    assert bm.last_response is None
    bm.orders.get(1)
    assert bm.last_response is not None
    assert bm.last_response.status_code == 200
    assert bm.last_response.headers["cf-ray"] == "77-AMS"


# --------------------------------------------------------------------------------------
# Secrets never leak
# --------------------------------------------------------------------------------------


def test_secrets_stay_out_of_reprs_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="backmarket_shipstation")
    statuses = iter([401, 429, 429, 429, 429, 500, 500, 500, 500])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(statuses), json={"error": {"code": "x", "message": "nope"}})

    bm, _, _ = client(handler)
    texts = [repr(bm), str(bm), repr(bm._core), repr(bm._core._authorization), repr(bm.orders)]
    for _ in range(3):
        with pytest.raises(BackMarketShipStationError) as caught:
            bm.orders.get(1)
        texts += [str(caught.value), repr(caught.value)]
    texts += [record.getMessage() for record in caplog.records]
    assert caplog.records, "the client logs each call at debug level"
    assert "GET /ws/orders/1 -> 401" in caplog.text
    # httpx masks the header when the request is shown, e.g. from the error's response.
    assert caught.value.response is not None
    texts.append(repr(caught.value.response.request.headers))
    joined = "\n".join(texts)
    assert TOKEN not in joined
    assert TOKEN[:12] not in joined
    assert isinstance(caught.value, ServerError)


def test_log_lines_name_query_parameters_but_not_their_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="backmarket_shipstation")
    bm, _, _ = client(paged_orders(1))
    list(bm.orders.list(country_code="fr-fr", date_creation="2025-01-01T00:00:00Z"))
    assert "date_creation=&country_code=&page=&page-size=" in caplog.text
    assert "2025-01-01" not in caplog.text


def test_authentication_error() -> None:
    bm, _, _ = client(lambda r: httpx.Response(401, text="Unauthenticated."))
    with pytest.raises(AuthenticationError, match="Unauthenticated"):
        bm.orders.get(1)


# --------------------------------------------------------------------------------------
# Async twin
# --------------------------------------------------------------------------------------


def async_client(
    handler: Handler, clock: VirtualClock | None = None
) -> tuple[AsyncBackMarketClient, Recorder, VirtualClock]:
    recorder = Recorder(handler)
    clock = clock or VirtualClock()
    bm = AsyncBackMarketClient(
        token=TOKEN, user_agent=UA, transport=httpx.MockTransport(recorder), clock=clock
    )
    return bm, recorder, clock


def test_async_client_mirrors_the_sync_one() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/ws/orders":
            return paged_orders(70)(request)
        if request.method == "PATCH":
            return httpx.Response(200, json=body(request))
        if request.url.path.endswith("/invoice"):
            return httpx.Response(200)
        return httpx.Response(200, json=order_json(line_state=2))

    async def run() -> tuple[int, list[tuple[str, str]]]:
        bm, recorder, _ = async_client(handler)
        async with bm:
            seen = [order.order_id async for order in bm.orders.list(state=1)]
            await bm.orders.get(41234567)
            await bm.orders.accept(41234567, "IP13-128")
            await bm.orders.cancel(41234567, "IP13-128")
            await bm.orders.ship(41234567, tracking_number="T1")
            await bm.orders.refund(41234567, "IP13-128", after_shipping=False)
            await bm.orders.upload_invoice(41234567, b"%PDF")
            await bm.orderlines.update(55501234, serial_number="SN")
            await bm.apply(
                [OrderUpdate(order_id=41234567, new_state=OrderLineState.ACCEPTED, sku="IP13-128")]
            )
            pages = [len(page.results) async for page in bm.orders.list().pages()]
            assert pages == [50, 20]
        return len(seen), recorder.methods()

    count, methods = asyncio.run(run())
    assert count == 70
    assert methods[2:] == [
        ("GET", "/ws/orders/41234567"),
        ("POST", "/ws/orders/41234567"),
        ("POST", "/ws/orders/41234567"),
        ("POST", "/ws/orders/41234567"),
        ("POST", "/ws/orders/41234567"),
        ("POST", "/ws/orders/41234567/invoice"),
        ("PATCH", "/ws/orderlines/55501234"),
        ("POST", "/ws/orders/41234567"),
        ("GET", "/ws/orders"),
        ("GET", "/ws/orders"),
    ]


def test_async_state_post_is_re_read_and_retries_wait_on_the_virtual_clock() -> None:
    answers = iter(
        [
            httpx.Response(429),
            httpx.Response(503),
            httpx.Response(200, json=order_json(line_state=2)),
        ]
    )

    async def run() -> tuple[list[tuple[str, str]], float]:
        bm, recorder, clock = async_client(lambda r: next(answers))
        await bm.orders.accept(41234567, "IP13-128")
        await bm.aclose()
        return recorder.methods(), clock.slept

    methods, slept = asyncio.run(run())
    # 429: refused at the door, so resent; 503: unclear, so re-read, which shows it applied.
    assert methods == [
        ("POST", "/ws/orders/41234567"),
        ("POST", "/ws/orders/41234567"),
        ("GET", "/ws/orders/41234567"),
    ]
    assert slept >= 10.0


def test_async_rate_limit_error_after_retries() -> None:
    async def run() -> None:
        bm, recorder, _ = async_client(lambda r: httpx.Response(429, headers={"Retry-After": "1"}))
        with pytest.raises(RateLimitedError) as caught:
            await bm.orders.get(1)
        assert caught.value.retry_after == 1.0
        assert len(recorder.requests) == 4

    asyncio.run(run())
