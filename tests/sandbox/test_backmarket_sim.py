"""Conformance tests of the Back Market simulator, driven with plain httpx (never the SDK client).

Every test that talks HTTP runs twice: in-process (SimulatorTransport) and over a real loopback
socket (Sandbox.serve), so the server's request and response conversion is held to the same
behaviour. Each test names the documented fact it checks (backmarket.md sections).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import (
    BackMarketSimulator,
    Sandbox,
    SimulatorTransport,
    is_valid_imei,
    parse_filter_date,
)

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


class BM:
    """A plain httpx client on a sandbox, plus the sandbox for direct assertions."""

    def __init__(self, sandbox: Sandbox, client: httpx.Client, clock: VirtualClock) -> None:
        self.sandbox = sandbox
        self.sim = sandbox.backmarket
        self.client = client
        self.clock = clock

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post_state(self, order_id: int, **body: Any) -> httpx.Response:
        return self.client.post(f"ws/orders/{order_id}", json={"order_id": order_id, **body})

    def patch_line(self, line_id: int, body: Any) -> httpx.Response:
        return self.client.patch(f"ws/orderlines/{line_id}", json=body)

    def first(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        for order in self.sim.orders():
            if predicate(order):
                return order
        raise LookupError("no generated order matches")


Factory = Callable[..., BM]


@pytest.fixture(params=["in-process", "loopback"])
def make_bm(request: pytest.FixtureRequest) -> Iterator[Factory]:
    """Build a sandbox (with options) and a plain client, in-process or over loopback."""
    opened: list[Callable[[], None]] = []

    def factory(orders: int = 60, seed: int = 3, **options: Any) -> BM:
        clock = VirtualClock(START)
        sandbox = Sandbox(seed=seed, orders=orders, clock=clock, backmarket_options=options)
        if request.param == "in-process":
            client = httpx.Client(
                base_url=sandbox.backmarket_base_url + "/",
                transport=sandbox.backmarket_transport(),
                headers=sandbox.backmarket_headers,
            )
        else:
            served = sandbox.serve(deliver_webhooks=False)
            opened.append(served.stop)
            client = httpx.Client(
                base_url=served.backmarket_url + "/", headers=sandbox.backmarket_headers
            )
        opened.append(client.close)
        return BM(sandbox, client, clock)

    yield factory
    for close in reversed(opened):
        close()


@pytest.fixture
def bm(make_bm: Factory) -> BM:
    return make_bm()


def listable_ids(bm: BM) -> list[int]:
    return [o["order_id"] for o in bm.sim.orders() if o["state"] not in (0, 8)]


# --- §3.1 GET /ws/orders -----------------------------------------------------------------


def test_list_defaults_to_ten_per_page_with_absolute_next(bm: BM) -> None:
    response = bm.get("ws/orders", params={"state": 9})
    assert response.status_code == 200
    page = response.json()
    assert set(page) == {"count", "next", "previous", "results"}
    expected = [o["order_id"] for o in bm.sim.orders() if o["state"] == 9]
    assert page["count"] == len(expected)
    assert len(expected) > 10, "seed must give more than one page of shipped orders"
    assert [o["order_id"] for o in page["results"]] == expected[:10]
    assert page["previous"] is None
    next_url = httpx.URL(page["next"])
    assert str(next_url).startswith(bm.sim.base_url + "/ws/orders?")
    assert dict(next_url.params) == {"state": "9", "page": "2"}


def test_following_next_lists_every_listable_order_once(bm: BM) -> None:
    seen: list[int] = []
    url: str | None = "ws/orders?page-size=7"
    pages = 0
    while url:
        page = bm.get(url).json()
        seen += [o["order_id"] for o in page["results"]]
        url = page["next"]
        pages += 1
        if url:
            assert "page-size=7" in url, "next must keep the original query"
    assert seen == listable_ids(bm)
    assert pages == -(-len(seen) // 7)


def test_previous_link_points_at_the_page_before(bm: BM) -> None:
    page = bm.get("ws/orders", params={"page": 3, "page-size": 5}).json()
    assert dict(httpx.URL(page["previous"]).params) == {"page": "2", "page-size": "5"}


def test_states_zero_and_eight_are_never_listed(make_bm: Factory) -> None:
    bm = make_bm(orders=300, seed=5)
    hidden = [o for o in bm.sim.orders() if o["state"] in (0, 8)]
    assert {o["state"] for o in hidden} == {0, 8}, "the seed must produce both hidden states"
    everything = bm.get("ws/orders", params={"page-size": 50}).json()["count"]
    assert everything == len(listable_ids(bm))
    for state in (0, 8):
        page = bm.get("ws/orders", params={"state": state}).json()
        assert page == {"count": 0, "next": None, "previous": None, "results": []}
    # Still readable one by one.
    assert bm.get(f"ws/orders/{hidden[0]['order_id']}").status_code == 200


def test_page_size_above_fifty_is_clamped_by_default(bm: BM) -> None:
    page = bm.get("ws/orders", params={"page-size": 500}).json()
    assert len(page["results"]) == 50


def test_page_size_above_fifty_can_be_rejected(make_bm: Factory) -> None:
    bm = make_bm(page_size_over_max="error")
    response = bm.get("ws/orders", params={"page-size": 51})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "page-size must be at most 50"
    assert len(bm.get("ws/orders", params={"page-size": 50}).json()["results"]) == 50


def test_misspelt_paging_parameters_are_ignored(bm: BM) -> None:
    # Community clients send these; Back Market ignores them and serves 10 (pitfall 5).
    page = bm.get("ws/orders", params={"page_size": 50, "limit": 50, "status": 1}).json()
    assert len(page["results"]) == 10
    assert page["count"] == len(listable_ids(bm))


def test_page_past_the_end_is_empty_with_no_next(bm: BM) -> None:
    page = bm.get("ws/orders", params={"page": 99}).json()
    assert page["results"] == []
    assert page["next"] is None
    assert page["count"] == len(listable_ids(bm))


@pytest.mark.parametrize("page", ["0", "-1", "two"])
def test_malformed_page_is_a_400(bm: BM, page: str) -> None:
    response = bm.get("ws/orders", params={"page": page})
    assert response.status_code == 400
    assert "error" in response.json()


def test_state_and_country_filters(bm: BM) -> None:
    target = bm.first(lambda o: o["state"] == 1)
    country = target["country_code"]
    page = bm.get("ws/orders", params={"state": 1, "country_code": country, "page-size": 50}).json()
    expected = [
        o["order_id"] for o in bm.sim.orders() if o["state"] == 1 and o["country_code"] == country
    ]
    assert [o["order_id"] for o in page["results"]] == expected
    assert all(o["country_code"] == country for o in page["results"])
    assert bm.get("ws/orders", params={"country_code": "ja-jp"}).json()["count"] == 0


@pytest.mark.parametrize(
    "render",
    [
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S.%f"),
        lambda d: d.astimezone(timezone(timedelta(hours=2))).isoformat(),
    ],
    ids=["rfc3339-z", "space-naive-utc", "offset"],
)
def test_date_creation_is_an_inclusive_lower_bound(
    bm: BM, render: Callable[[datetime], str]
) -> None:
    orders = [o for o in bm.sim.orders() if o["state"] not in (0, 8)]
    pivot = orders[len(orders) // 2]
    bound = parse_filter_date(pivot["date_creation"])
    page = bm.get("ws/orders", params={"date_creation": render(bound), "page-size": 50}).json()
    ids = [o["order_id"] for o in page["results"]]
    assert ids[0] == pivot["order_id"], "the bound itself is included"
    assert ids == [o["order_id"] for o in orders if o["date_creation"] >= pivot["date_creation"]]


def test_space_separated_filter_with_plus_for_space(bm: BM) -> None:
    # [GT] sends a literal '+' for the space.
    page = bm.get("ws/orders?date_creation=2000-01-01+00:00:00").json()
    assert page["count"] == len(listable_ids(bm))


def test_invalid_date_filter_is_a_400(bm: BM) -> None:
    response = bm.get("ws/orders", params={"date_modification": "yesterday"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_date"


def test_date_modification_filter_finds_changed_orders(bm: BM) -> None:
    bm.clock.advance(3600)
    since = bm.clock.now()
    target = bm.first(lambda o: o["state"] == 1)
    accepted = bm.post_state(
        target["order_id"], new_state=2, sku=target["orderlines"][0]["listing"]
    )
    assert accepted.status_code == 200
    page = bm.get(
        "ws/orders", params={"date_modification": since.strftime("%Y-%m-%dT%H:%M:%SZ")}
    ).json()
    assert [o["order_id"] for o in page["results"]] == [target["order_id"]]
    assert parse_filter_date(page["results"][0]["date_modification"]) == since


# --- §3.2 GET /ws/orders/{id} and §4 data model ------------------------------------------


def test_get_order_returns_the_order_unwrapped(bm: BM) -> None:
    order_id = listable_ids(bm)[0]
    body = bm.get(f"ws/orders/{order_id}").json()
    assert body == bm.sim.get_order(order_id)
    example_keys = {
        "order_id", "state", "date_creation", "date_modification", "date_payment",
        "date_shipping", "expected_dispatch_date", "country_code", "currency", "price",
        "shipping_price", "sales_taxes", "payment_method", "paypal_reference",
        "installment_payment", "delivery_note", "tracking_number", "tracking_url", "shipper",
        "shipper_display", "is_backship", "delivery_mode", "shipping_address",
        "billing_address", "orderlines",
    }  # fmt: skip
    assert example_keys <= set(body)
    line_keys = {
        "id", "date_creation", "state", "listing", "listing_id", "product", "product_id",
        "brand", "quantity", "price", "shipping_price", "shipping_delay", "currency",
        "orderline_fee", "sales_taxes", "return_reason", "return_message", "backcare",
        "backcare_price", "imei", "serial_number", "condition",
    }  # fmt: skip
    assert all(line_keys <= set(line) for line in body["orderlines"])
    assert isinstance(body["shipping_address"]["postal_code"], str)
    Decimal(body["price"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", body["expected_dispatch_date"])


def test_unknown_order_is_a_404_with_a_v1_envelope(bm: BM) -> None:
    response = bm.get("ws/orders/12345")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Order 12345 does not exist"}
    }


def test_unknown_route_is_an_html_404(bm: BM) -> None:
    # backmarket.md §1.2: GET /ws/ answers an HTML 404.
    response = bm.get("ws/")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_wrong_method_is_a_405(bm: BM) -> None:
    order_id = listable_ids(bm)[0]
    response = bm.client.put(f"ws/orders/{order_id}", json={"state": 9})
    assert response.status_code == 405


# --- §2 authentication, User-Agent, Accept-Language --------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer {token}", "Basic wrong", "basic {token}", "Basic  {token}"],
)
def test_authorization_must_be_basic_and_the_raw_token(bm: BM, authorization: str | None) -> None:
    headers = dict(bm.sandbox.backmarket_headers)
    del headers["Authorization"]
    if authorization is not None:
        headers["Authorization"] = authorization.format(token=bm.sandbox.backmarket_token)
    client = httpx.Client(
        base_url=bm.client.base_url, transport=bm.client._transport, headers=headers
    )
    response = client.get("ws/orders")
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "unauthorized", "message": "Unauthenticated."}}


def test_base64_of_the_token_is_refused(bm: BM) -> None:
    import base64

    encoded = base64.b64encode(bm.sandbox.backmarket_token.encode()).decode()
    response = bm.get("ws/orders", headers={"Authorization": f"Basic {encoded}"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "user_agent", ["python-httpx/0.27", "BM-Acme;dev@acme.com", "BM-Acme-Sync", ""]
)
def test_bad_user_agent_gets_cloudflare_html_403(bm: BM, user_agent: str) -> None:
    response = bm.get("ws/orders", headers={"User-Agent": user_agent})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["server"] == "cloudflare"
    assert re.fullmatch(r"[0-9a-f]{16}-[A-Z]{3}", response.headers["cf-ray"])
    assert "Cloudflare Ray ID" in response.text


def test_documented_user_agent_examples_pass(bm: BM) -> None:
    for user_agent in (
        "BM-Ebay-Invoices;contact@ebay.com",
        "BM-bouygues-automations;contact@bouygues.fr",
    ):
        assert bm.get("ws/orders", headers={"User-Agent": user_agent}).status_code == 200


def test_user_agent_check_can_be_turned_off(make_bm: Factory) -> None:
    bm = make_bm(require_user_agent=False)
    assert bm.get("ws/orders", headers={"User-Agent": "curl/8"}).status_code == 200


@pytest.mark.parametrize("language", ["fr-FR", "fr", "fr-fr,fr;q=0.9", "xx-yy"])
def test_bad_accept_language_is_a_400(bm: BM, language: str) -> None:
    response = bm.get("ws/orders", headers={"Accept-Language": language})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_accept_language"


def test_accept_language_is_optional_and_does_not_filter(bm: BM) -> None:
    headers = dict(bm.sandbox.backmarket_headers)
    del headers["Accept-Language"]
    client = httpx.Client(
        base_url=bm.client.base_url, transport=bm.client._transport, headers=headers
    )
    assert client.get("ws/orders").json()["count"] == len(listable_ids(bm))
    assert bm.get("ws/orders", headers={"Accept-Language": "en-us"}).json()["count"] == len(
        listable_ids(bm)
    )


def test_every_response_carries_a_cf_ray(bm: BM) -> None:
    assert bm.get("ws/orders").headers["cf-ray"]
    assert bm.get("ws/orders/1").headers["cf-ray"]


# --- §6.2 rate limit -----------------------------------------------------------------------


def test_two_hundred_requests_per_ten_seconds_then_blocked_for_ten(bm: BM) -> None:
    statuses = [bm.get("ws/orders/1").status_code for _ in range(200)]
    assert set(statuses) == {404}
    blocked = bm.get("ws/orders")
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "10"
    assert blocked.json()["error"]["code"] == "rate_limited"
    bm.clock.advance(9.9)
    assert bm.get("ws/orders").status_code == 429
    bm.clock.advance(0.1)
    assert bm.get("ws/orders").status_code == 200


def test_requests_spread_over_time_are_never_limited(bm: BM) -> None:
    for _ in range(450):
        assert bm.get("ws/orders/1").status_code == 404
        bm.clock.advance(0.06)


def test_rate_limit_options(make_bm: Factory) -> None:
    bm = make_bm(rate_limit=3, retry_after=False, rate_limit_body="html")
    for _ in range(3):
        assert bm.get("ws/orders").status_code == 200
    blocked = bm.get("ws/orders")
    assert blocked.status_code == 429
    assert "retry-after" not in blocked.headers
    assert blocked.headers["content-type"].startswith("text/html")
    unlimited = make_bm(rate_limit=None)
    assert all(unlimited.get("ws/orders/1").status_code == 404 for _ in range(300))


# --- §3.3 / §5.5 POST /ws/orders/{id}: the orderline state machine ------------------------


def single_line(bm: BM, state: int) -> dict[str, Any]:
    return bm.first(
        lambda o: (
            o["state"] == state
            and len(o["orderlines"]) == 1
            and o["orderlines"][0]["quantity"] == 1
            and o["orderlines"][0]["state"] == {1: 1, 3: 2, 9: 3}[state]
        )
    )


@pytest.mark.parametrize("new_state", [0, 1, 7, 8, 9, 10, -1, "9", "two", None, True, 2.0])
def test_new_state_outside_two_to_six_is_refused_with_back_markets_message(
    bm: BM, new_state: Any
) -> None:
    order = single_line(bm, 1)
    response = bm.post_state(order["order_id"], new_state=new_state, sku="x")
    assert response.status_code == 400
    shown = "None" if new_state is None else new_state
    assert response.json()["error"]["message"] == f"new_state {shown} must be in 2,3,4,5,6"
    assert bm.sim.get_order(order["order_id"]) == order


@pytest.mark.parametrize("new_state", [2, 4, 5, 6])
def test_missing_or_unknown_sku_is_sku_not_found(bm: BM, new_state: int) -> None:
    order = single_line(bm, 1)
    for body in ({}, {"sku": ""}, {"sku": "NOPE-123"}):
        response = bm.post_state(order["order_id"], new_state=new_state, **body)
        assert response.status_code == 400
        assert response.json()["error"]["message"] == "sku not found"


def test_accept_moves_the_line_to_2_and_the_order_to_3(bm: BM) -> None:
    order = single_line(bm, 1)
    bm.clock.advance(60)
    sku = order["orderlines"][0]["listing"]
    response = bm.post_state(order["order_id"], new_state=2, sku=sku.lower())
    assert response.status_code == 200
    body = response.json()
    assert body["orderlines"][0]["state"] == 2
    assert body["state"] == 3
    assert parse_filter_date(body["date_modification"]) == bm.clock.now()
    assert bm.sim.get_order(order["order_id"]) == body
    again = bm.post_state(order["order_id"], new_state=2, sku=sku)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_transition"


def test_integer_fields_accept_digit_strings_as_django_rest_does(bm: BM) -> None:
    order = single_line(bm, 1)
    sku = order["orderlines"][0]["listing"]
    response = bm.client.post(
        f"ws/orders/{order['order_id']}",
        json={"order_id": str(order["order_id"]), "new_state": "2", "sku": sku},
    )
    assert response.status_code == 200
    assert response.json()["orderlines"][0]["state"] == 2


def test_accepting_one_sku_of_a_multi_line_order_keeps_it_in_state_1(bm: BM) -> None:
    order = bm.first(
        lambda o: (
            o["state"] == 1 and len({x["listing"] for x in o["orderlines"] if x["state"] == 1}) >= 2
        )
    )
    pending = [x for x in order["orderlines"] if x["state"] == 1]
    body = bm.post_state(order["order_id"], new_state=2, sku=pending[0]["listing"]).json()
    assert body["state"] == 1
    for line in pending[1:]:
        body = bm.post_state(order["order_id"], new_state=2, sku=line["listing"]).json()
    assert body["state"] == 3


def test_cancel_from_1_and_a_fully_cancelled_order_becomes_9(bm: BM) -> None:
    order = single_line(bm, 1)
    body = bm.post_state(
        order["order_id"], new_state=4, sku=order["orderlines"][0]["listing"]
    ).json()
    assert body["orderlines"][0]["state"] == 4
    assert body["state"] == 9
    assert body["date_shipping"] is None


def test_cancel_after_accept_is_refused_but_refund_before_shipping_works(bm: BM) -> None:
    order = single_line(bm, 3)
    sku = order["orderlines"][0]["listing"]
    assert bm.post_state(order["order_id"], new_state=4, sku=sku).status_code == 400
    body = bm.post_state(order["order_id"], new_state=5, sku=sku).json()
    assert body["orderlines"][0]["state"] == 5
    assert body["state"] == 9


def test_refund_after_shipping_needs_a_valid_return_reason(bm: BM) -> None:
    order = single_line(bm, 9)
    sku = order["orderlines"][0]["listing"]
    for reason in (None, 99, "twenty-one", True, 21.0):
        response = bm.post_state(order["order_id"], new_state=6, sku=sku, return_reason=reason)
        assert response.status_code == 400
    body = bm.post_state(
        order["order_id"], new_state=6, sku=sku, return_reason=21, return_message="Cracked"
    ).json()
    line = body["orderlines"][0]
    assert (line["state"], line["return_reason"], line["return_message"]) == (6, 21, "Cracked")


def test_ship_needs_a_tracking_number(bm: BM) -> None:
    order = single_line(bm, 3)
    for body in ({}, {"tracking_number": ""}, {"tracking_number": "x" * 201}):
        response = bm.post_state(order["order_id"], new_state=3, **body)
        assert response.status_code == 400
    assert bm.sim.get_order(order["order_id"]) == order


def test_ship_directly_from_state_1_is_refused(bm: BM) -> None:
    order = single_line(bm, 1)
    response = bm.post_state(order["order_id"], new_state=3, tracking_number="6A1")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_transition"


def test_ship_acts_on_every_accepted_line_and_stores_tracking(bm: BM) -> None:
    order = bm.first(lambda o: o["state"] == 3 and len(o["orderlines"]) >= 2)
    before = {x["id"]: x["state"] for x in order["orderlines"]}
    response = bm.post_state(
        order["order_id"],
        new_state=3,
        tracking_number="1Z999AA10123456784",
        tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
        shipper="UPS",
        date_shipping="2026-01-05T08:30:00Z",
    )
    assert response.status_code == 200
    body = response.json()
    for line in body["orderlines"]:
        assert line["state"] == (3 if before[line["id"]] == 2 else before[line["id"]])
    assert body["state"] == 9
    assert body["tracking_number"] == "1Z999AA10123456784"
    assert body["tracking_url"].endswith("1Z999AA10123456784")
    assert body["shipper"] == "UPS"
    assert body["date_shipping"] == "2026-01-05T08:30:00Z"


def test_ship_without_shipper_keeps_the_display_shipper_and_dates_now(bm: BM) -> None:
    order = single_line(bm, 3)
    body = bm.post_state(order["order_id"], new_state=3, tracking_number="6A123").json()
    assert body["shipper"] == order["shipper_display"]
    assert parse_filter_date(body["date_shipping"]) == bm.clock.now().replace(microsecond=0)


def test_unknown_shipper_is_refused_unless_the_list_is_off(make_bm: Factory) -> None:
    bm = make_bm()
    order = single_line(bm, 3)
    for shipper in ("ups", "Royal Mail Tracked 24", "DHL EXPRESS"):
        response = bm.post_state(
            order["order_id"], new_state=3, tracking_number="1", shipper=shipper
        )
        assert response.status_code == 400
        assert response.json()["error"]["message"] == f"shipper {shipper} not found"
    assert (
        bm.post_state(
            order["order_id"], new_state=3, tracking_number="1", shipper="DHL  EXPRESS"
        ).status_code
        == 200
    )
    lenient = make_bm(shippers=None)
    order = single_line(lenient, 3)
    body = lenient.post_state(
        order["order_id"], new_state=3, tracking_number="1", shipper="My Courier"
    ).json()
    assert body["shipper"] == "My Courier"


def test_ship_with_imei_on_a_single_quantity_one_line(bm: BM) -> None:
    order = single_line(bm, 3)
    line = order["orderlines"][0]
    identifier = bm.sim.device_imeis.get(line["id"]) or bm.sim.device_serials[line["id"]]
    field = "imei" if line["id"] in bm.sim.device_imeis else "serial_number"
    body = bm.post_state(
        order["order_id"], new_state=3, tracking_number="6A1", **{field: identifier}
    ).json()
    assert body["orderlines"][0][field] == identifier


def test_ship_with_an_invalid_imei_changes_nothing(bm: BM) -> None:
    order = single_line(bm, 3)
    valid = "356938035643809"
    for imei in ("356938035643808", "35693803564380", "35693803564380X", "3569380356438090"):
        response = bm.post_state(order["order_id"], new_state=3, tracking_number="1", imei=imei)
        assert response.status_code == 400, imei
    assert bm.sim.get_order(order["order_id"]) == order
    assert is_valid_imei(valid)


def test_ship_ignores_identifiers_on_a_multi_line_order(bm: BM) -> None:
    order = bm.first(lambda o: o["state"] == 3 and len(o["orderlines"]) >= 2)
    body = bm.post_state(
        order["order_id"], new_state=3, tracking_number="1", imei="356938035643809"
    ).json()
    assert all(line["imei"] == "" for line in body["orderlines"])
    assert body["state"] == 9


def test_order_id_in_body_must_match_the_url(bm: BM) -> None:
    order = single_line(bm, 1)
    response = bm.client.post(
        f"ws/orders/{order['order_id']}",
        json={"order_id": order["order_id"] + 1, "new_state": 2, "sku": "x"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "order_id_mismatch"


def test_form_encoded_or_non_object_body_is_a_400(bm: BM) -> None:
    order = single_line(bm, 1)
    url = f"ws/orders/{order['order_id']}"
    assert bm.client.post(url, data={"new_state": "2"}).status_code == 400
    assert bm.client.post(url, json=[2]).status_code == 400


def test_post_to_an_unknown_order_is_a_404(bm: BM) -> None:
    assert bm.post_state(999, new_state=2, sku="x").status_code == 404


# --- §3.4 PATCH /ws/orderlines/{id} ------------------------------------------------------


def test_patch_sets_an_imei_once_and_it_cannot_change(bm: BM) -> None:
    order = single_line(bm, 3)
    line_id = order["orderlines"][0]["id"]
    first = bm.patch_line(line_id, {"imei": "356938035643809"})
    assert first.status_code == 200
    assert first.json() == {"imei": "356938035643809", "serial_number": ""}
    assert bm.sim.get_orderline(line_id)["imei"] == "356938035643809"  # type: ignore[index]
    # Sending the registered value again is not a change.
    assert bm.patch_line(line_id, {"imei": "356938035643809"}).status_code == 200
    changed = bm.patch_line(line_id, {"imei": "490154203237518"})
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "identifier_already_registered"
    both = bm.patch_line(line_id, {"serial_number": "F2LXK0ABHG7F"})
    assert both.json() == {"imei": "356938035643809", "serial_number": "F2LXK0ABHG7F"}


@pytest.mark.parametrize(
    "body", [{"imei": "356938035643808"}, {"imei": "12345"}, {"serial_number": "S" * 51}]
)
def test_patch_rejects_invalid_identifiers_with_422(bm: BM, body: dict[str, str]) -> None:
    order = single_line(bm, 3)
    response = bm.patch_line(order["orderlines"][0]["id"], body)
    assert response.status_code == 422


def test_patch_needs_at_least_one_identifier(bm: BM) -> None:
    order = single_line(bm, 3)
    for body in ({}, {"imei": None}, {"note": "x"}):
        assert bm.patch_line(order["orderlines"][0]["id"], body).status_code == 400


def test_patch_unknown_line_is_404_and_quantity_two_is_422(bm: BM) -> None:
    assert bm.patch_line(1, {"imei": "356938035643809"}).status_code == 404
    order = bm.first(lambda o: any(x["quantity"] == 2 for x in o["orderlines"]))
    line = next(x for x in order["orderlines"] if x["quantity"] == 2)
    assert bm.patch_line(line["id"], {"serial_number": "ABC"}).status_code == 422


def test_digits_only_imei_check_accepts_a_bad_check_digit(make_bm: Factory) -> None:
    bm = make_bm(imei_check="digits")
    order = single_line(bm, 3)
    line_id = order["orderlines"][0]["id"]
    assert bm.patch_line(line_id, {"imei": "356938035643808"}).status_code == 200


def test_patch_bumps_the_order_modification_date(bm: BM) -> None:
    order = single_line(bm, 3)
    bm.clock.advance(120)
    bm.patch_line(order["orderlines"][0]["id"], {"serial_number": "ABC123"})
    stored = bm.sim.get_order(order["order_id"])
    assert stored is not None
    assert parse_filter_date(stored["date_modification"]) == bm.clock.now()


# --- §3.5 invoice -------------------------------------------------------------------------


def test_invoice_upload_is_multipart(bm: BM) -> None:
    order_id = listable_ids(bm)[0]
    response = bm.client.post(
        f"ws/orders/{order_id}/invoice",
        files={"invoice": ("invoice.pdf", b"%PDF-1.4 fake", "application/pdf")},
    )
    assert response.status_code == 200
    assert bm.sim.invoices[order_id] == [
        {"filename": "invoice.pdf", "content_type": "application/pdf", "content": b"%PDF-1.4 fake"}
    ]
    assert bm.client.post(f"ws/orders/{order_id}/invoice", json={"invoice": "x"}).status_code == 400
    no_file = bm.client.post(f"ws/orders/{order_id}/invoice", files={"other": ("a", b"b")})
    assert no_file.status_code == 400
    missing = bm.client.post("ws/orders/5/invoice", files={"invoice": ("a.pdf", b"b")})
    assert missing.status_code == 404


# --- options and helpers ------------------------------------------------------------------


def test_pii_hidden_until_accepted(make_bm: Factory) -> None:
    bm = make_bm(hide_pii_until_accepted=True)
    order = single_line(bm, 1)
    shown = bm.get(f"ws/orders/{order['order_id']}").json()["shipping_address"]
    assert (shown["first_name"], shown["last_name"], shown["postal_code"], shown["phone"]) == (
        "",
        "",
        "",
        "",
    )
    assert all(shown[key] for key in ("street", "city", "country"))
    bm.post_state(order["order_id"], new_state=2, sku=order["orderlines"][0]["listing"])
    revealed = bm.get(f"ws/orders/{order['order_id']}").json()["shipping_address"]
    assert revealed == order["shipping_address"]


def test_buyer_cancellation_helper(bm: BM) -> None:
    order = single_line(bm, 3)
    line_id = order["orderlines"][0]["id"]
    updated = bm.sim.cancel_line_as_buyer(order["order_id"], line_id)
    assert updated["orderlines"][0]["state"] == 4
    assert updated["state"] == 9
    assert bm.get(f"ws/orders/{order['order_id']}").json() == updated
    with pytest.raises(ValueError, match="cannot be cancelled"):
        bm.sim.cancel_line_as_buyer(order["order_id"], line_id)
    with pytest.raises(KeyError):
        bm.sim.cancel_line_as_buyer(order["order_id"], 1)


def test_set_line_state_helper_puts_a_line_on_hold(bm: BM) -> None:
    order = single_line(bm, 1)
    held = bm.sim.set_line_state(order["order_id"], order["orderlines"][0]["id"], 9)
    assert held["state"] == 10
    assert bm.get("ws/orders", params={"state": 10}).json()["count"] >= 1


def test_new_order_arrives_in_state_1_with_identifiers_to_pack(bm: BM) -> None:
    bm.clock.advance(600)
    order = bm.sim.new_order(country_code="en-us")
    assert order["state"] == 1
    assert order["country_code"] == "en-us"
    assert "state_or_province" in order["shipping_address"]
    assert all(line["state"] == 1 and line["imei"] == "" for line in order["orderlines"])
    device_ids = [x["id"] for x in order["orderlines"] if x["id"] in bm.sim.device_imeis]
    assert all(is_valid_imei(bm.sim.device_imeis[i]) for i in device_ids)
    listed = bm.get(
        "ws/orders",
        params={"state": 1, "date_creation": bm.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")},
    ).json()
    assert [o["order_id"] for o in listed["results"]] == [order["order_id"]]


def test_add_order_stores_a_given_dict(bm: BM) -> None:
    order = bm.sim.add_order(
        {
            "order_id": 77777777,
            "country_code": "en-gb",
            "orderlines": [{"id": 88888888, "state": 1, "listing": "SKU-1", "quantity": 1}],
        }
    )
    assert order["state"] == 1
    assert bm.get("ws/orders/77777777").json()["orderlines"][0]["listing"] == "SKU-1"
    assert bm.post_state(77777777, new_state=2, sku="sku-1").json()["state"] == 3
    assert bm.patch_line(88888888, {"imei": "356938035643809"}).status_code == 200
    with pytest.raises(ValueError, match="not a new integer id"):
        bm.sim.add_order({"order_id": 77777777})


def test_generated_devices_wait_for_their_identifiers(bm: BM) -> None:
    pending = [o for o in bm.sim.orders() if o["state"] in (1, 3)]
    lines = [line for o in pending for line in o["orderlines"]]
    assert all(line["imei"] == "" and line["serial_number"] == "" for line in lines)
    phones = [line["id"] for line in lines if line["id"] in bm.sim.device_imeis]
    assert phones, "the seed must produce smartphones to pack"
    assert all(is_valid_imei(bm.sim.device_imeis[i]) for i in phones)
    assert len(set(bm.sim.device_imeis)) == len(bm.sim.device_imeis)


def test_error_bodies_are_json_v1_envelopes(bm: BM) -> None:
    order = single_line(bm, 1)
    response = bm.post_state(order["order_id"], new_state=9)
    assert response.headers["content-type"] == "application/json"
    envelope = json.loads(response.content)
    assert set(envelope) == {"error"}
    assert set(envelope["error"]) == {"code", "message"}


# --- property: random writes never break the state machine --------------------------------

_LEGAL = {(1, 2), (1, 4), (2, 3), (2, 5), (3, 6)}
_REQUIRED = {2: 1, 4: 1, 5: 2, 6: 3, 3: 2}


def _derived(order: dict[str, Any], previous: int) -> int:
    """backmarket.md §5.5, written again here so the test does not trust the simulator."""
    states = [line["state"] for line in order["orderlines"]]
    if any(s in (0, 8, 9) for s in states):
        return previous if previous in (0, 10) else (0 if 0 in states else 10)
    if all(s == 7 for s in states):
        return 8
    if 1 in states:
        return 1
    return 3 if 2 in states else 9


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 39),
            st.sampled_from([2, 3, 4, 5, 6, 9]),
            st.integers(0, 2),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_random_writes_follow_the_state_machine(steps: list[tuple[int, int, int, bool]]) -> None:
    clock = VirtualClock(START)
    sim = BackMarketSimulator(
        clock=clock, token="t", seed=4, orders=40, rate_limit=None, require_user_agent=False
    )
    client = httpx.Client(
        base_url="https://www.backmarket.fr",
        transport=SimulatorTransport(sim.handle),
        headers={"Authorization": "Basic t"},
    )
    ids = sim.order_ids()
    for pick, new_state, line_pick, with_tracking in steps:
        order_id = ids[pick]
        before = sim.get_order(order_id)
        assert before is not None
        lines = before["orderlines"]
        sku = lines[line_pick % len(lines)]["listing"]
        body: dict[str, Any] = {"order_id": order_id, "new_state": new_state, "sku": sku}
        if with_tracking:
            body["tracking_number"] = "T1"
        if new_state == 6:
            body["return_reason"] = 21
        if new_state == 3:
            candidates = lines
            expected_ok = with_tracking
        else:
            candidates = [x for x in lines if x["listing"].lower() == sku.lower()]
            expected_ok = new_state != 9
        expected_ok = expected_ok and any(
            x["state"] == _REQUIRED.get(new_state) for x in candidates
        )
        clock.advance(1)
        response = client.post(f"/ws/orders/{order_id}", json=body)
        after = sim.get_order(order_id)
        assert after is not None
        assert (response.status_code == 200) == expected_ok, response.text
        if not expected_ok:
            assert response.status_code == 400
            assert after == before
            continue
        assert response.json() == after
        for old, new in zip(lines, after["orderlines"], strict=True):
            if old["state"] != new["state"]:
                assert (old["state"], new["state"]) in _LEGAL
                assert new["state"] == new_state
        if new_state == 3:
            assert all(
                new["state"] == 3
                for old, new in zip(lines, after["orderlines"], strict=True)
                if old["state"] == 2
            )
            assert after["tracking_number"] == "T1"
        assert after["state"] == _derived(after, before["state"])
        assert parse_filter_date(after["date_modification"]) == clock.now()
        assert after["state"] not in (0, 8)
    client.close()
