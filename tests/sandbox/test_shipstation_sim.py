"""Conformance tests of the ShipStation V1 simulator, driven with plain httpx (not the SDK client).

Each test checks one documented behaviour of shipstation.md (section in the docstring). Time is a
VirtualClock: rate-limit windows, hold release and webhook delays never wait for real.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox.shipstation import (
    DEFAULT_BACKMARKET_MARKETPLACE_ID,
    ShipStationSimulator,
    SimulatorRequestError,
)

KEY, SECRET = "sim-key", "sim-secret"
BASE = "https://ssapi.shipstation.com"
SEVEN_DIGITS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}$")


@pytest.fixture
def clock() -> VirtualClock:
    # 2026-01-05 17:00 UTC is 09:00 in Los Angeles (PST, UTC-8).
    return VirtualClock(datetime(2026, 1, 5, 17, 0, tzinfo=timezone.utc))


@pytest.fixture
def sim(clock: VirtualClock) -> ShipStationSimulator:
    # A high limit so tests of other behaviours never meet the window by accident.
    return ShipStationSimulator(clock=clock, api_key=KEY, api_secret=SECRET, rate_limit=10_000)


def client_for(
    sim: ShipStationSimulator, auth: tuple[str, str] | None = (KEY, SECRET)
) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(sim.handle), base_url=BASE, auth=auth)


@pytest.fixture
def client(sim: ShipStationSimulator) -> Iterator[httpx.Client]:
    with client_for(sim) as c:
        yield c


def order_body(number: str = "BM-1001", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "orderNumber": number,
        "orderKey": f"backmarket-{number}",
        "orderDate": "2026-01-04T10:00:00",
        "orderStatus": "awaiting_shipment",
        "customerEmail": "jeanne.d@example.fr",
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
                "lineItemKey": "1",
                "sku": "IPH13-128-BLK-A",
                "name": "iPhone 13 128GB Black - Grade A",
                "quantity": 1,
                "unitPrice": 459.0,
                "weight": {"value": 240, "units": "grams"},
                "options": [{"name": "Grade", "value": "A"}],
            }
        ],
        "shippingAmount": 5.0,
        "taxAmount": 0,
        "internalNotes": "IMEI: 356789104512345",
    }
    body.update(overrides)
    return body


def create(client: httpx.Client, number: str = "BM-1001", **overrides: Any) -> dict[str, Any]:
    response = client.post("/orders/createorder", json=order_body(number, **overrides))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# ---------------------------------------------------------------- auth and rate limit (§1.1, §1.2)


def test_basic_auth_is_required_and_checked(sim: ShipStationSimulator) -> None:
    for auth in (None, (KEY, "wrong"), ("wrong", SECRET)):
        with client_for(sim, auth) as c:
            response = c.get("/stores")
        assert response.status_code == 401
        assert response.json() == {"Message": "Authorization has been denied for this request."}
    with client_for(sim) as c:
        assert c.get("/stores").status_code == 200


def test_rate_limit_window_headers_and_429(clock: VirtualClock) -> None:
    sim = ShipStationSimulator(clock=clock, api_key=KEY, api_secret=SECRET)
    with client_for(sim) as c:
        first = c.get("/carriers")
        assert first.headers["X-Rate-Limit-Limit"] == "40"
        assert first.headers["X-Rate-Limit-Remaining"] == "39"
        assert first.headers["X-Rate-Limit-Reset"] == "60"
        clock.advance(22)
        remaining = [int(c.get("/carriers").headers["X-Rate-Limit-Remaining"]) for _ in range(39)]
        assert remaining == list(range(38, -1, -1))
        limited = c.get("/carriers")
        assert limited.status_code == 429
        assert limited.json() == {"message": "Too Many Requests"}
        assert limited.headers["X-Rate-Limit-Remaining"] == "0"
        assert limited.headers["X-Rate-Limit-Reset"] == "38"
        clock.advance(38)
        again = c.get("/carriers")
        assert again.status_code == 200
        assert again.headers["X-Rate-Limit-Remaining"] == "39"


def test_rate_limit_headers_on_error_responses(
    sim: ShipStationSimulator, client: httpx.Client
) -> None:
    for response in (
        client.get("/nosuchthing"),
        client.get("/orders/123"),
        client.post("/orders/createorder", json=[]),
    ):
        assert response.status_code >= 400
        for name in ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"):
            assert name in response.headers


def test_the_window_is_per_key_pair(clock: VirtualClock) -> None:
    sim = ShipStationSimulator(clock=clock, api_key=KEY, api_secret=SECRET, rate_limit=2)
    with client_for(sim) as c:
        assert [c.get("/carriers").status_code for _ in range(3)] == [200, 200, 429]


# ---------------------------------------------------------------- routing and error shapes (§1.5)


def test_unknown_route_is_aspnet_404(client: httpx.Client) -> None:
    response = client.get("/storesmarketplaces", params={"x": "1"})
    assert response.status_code == 404
    assert response.json() == {
        "Message": "No HTTP resource was found that matches the request URI "
        f"'{BASE}/storesmarketplaces?x=1'."
    }


def test_wrong_method_is_405(client: httpx.Client) -> None:
    response = client.delete("/orders/createorder")
    assert response.status_code == 405
    assert "does not support http method 'DELETE'" in response.json()["Message"]


def test_path_aliases_are_an_option(clock: VirtualClock) -> None:
    strict = ShipStationSimulator(clock=clock, api_key=KEY, api_secret=SECRET)
    lenient = ShipStationSimulator(
        clock=clock, api_key=KEY, api_secret=SECRET, accept_path_aliases=True
    )
    with client_for(strict) as c:
        assert c.get("/orders/list").status_code == 404
    with client_for(lenient) as c:
        assert c.get("/orders/list").json()["total"] == 0


def test_internal_error_has_aspnet_500_body(client: httpx.Client) -> None:
    response = client.post(
        "/orders/createlabelfororder", json={"orderId": 999, "carrierCode": "ups"}
    )
    assert response.status_code == 500
    body = response.json()
    assert body["Message"] == "An error has occurred."
    assert body["ExceptionMessage"] == "Object reference not set to an instance of an object."
    assert body["ExceptionType"] == "System.NullReferenceException"


def test_any_unexpected_failure_answers_500_and_keeps_serving(
    sim: ShipStationSimulator, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import backmarket_shipstation.sandbox.shipstation.carriers as module

    monkeypatch.setattr(module, "CARRIERS", (None,))  # a broken catalogue entry
    response = client.get("/carriers")
    assert response.status_code == 500
    assert response.json()["Message"] == "An error has occurred."
    assert response.json()["ExceptionType"] == "System.TypeError"
    assert "X-Rate-Limit-Remaining" in response.headers
    assert client.get("/stores").status_code == 200


# ---------------------------------------------------------------- createorder (§2, §3.3)


def test_createorder_returns_the_stored_order_with_server_fields(client: httpx.Client) -> None:
    order = create(
        client,
        items=[
            {"name": "Phone", "quantity": 2, "unitPrice": 99.99},
            {"name": "10% OFF", "adjustment": True, "quantity": 1, "unitPrice": -20.55},
        ],
        shippingAmount=10,
        taxAmount=5,
        amountPaid=218.73,
    )
    assert order["orderTotal"] == 194.43  # sum of unitPrice*qty + shipping + tax, the spec example
    assert order["amountPaid"] == 218.73
    assert isinstance(order["orderId"], int)
    assert [type(i["orderItemId"]) for i in order["items"]] == [int, int]
    assert SEVEN_DIGITS.match(order["createDate"])
    assert order["createDate"] == "2026-01-05T09:00:00.0000000"  # Pacific wall time
    assert order["modifyDate"] == order["createDate"]
    assert order["advancedOptions"]["storeId"] == 310000  # the manual store by default
    # Unset fields come back as null, like the real API.
    assert order["billTo"]["street1"] is None
    assert order["paymentDate"] is None
    assert order["shipTo"]["addressVerified"] == "Address not yet validated"


def test_offsets_in_dates_are_ignored_by_default_and_converted_as_an_option(
    clock: VirtualClock,
) -> None:
    body = order_body(orderDate="2015-06-29T08:46:27.000Z")
    ignoring = ShipStationSimulator(clock=clock, api_key=KEY, api_secret=SECRET)
    converting = ShipStationSimulator(
        clock=clock, api_key=KEY, api_secret=SECRET, date_offsets="convert"
    )
    with client_for(ignoring) as c:
        assert c.post("/orders/createorder", json=body).json()["orderDate"] == (
            "2015-06-29T08:46:27.0000000"
        )
    with client_for(converting) as c:
        # 08:46 UTC on 29 June is 01:46 PDT.
        assert c.post("/orders/createorder", json=body).json()["orderDate"] == (
            "2015-06-29T01:46:27.0000000"
        )


def test_upsert_on_order_key_updates_in_place(clock: VirtualClock, client: httpx.Client) -> None:
    first = create(client, advancedOptions={"storeId": 310001})
    clock.advance(90)
    second = create(
        client, internalNotes="IMEI: 490154203237518", advancedOptions={"storeId": 310000}
    )
    assert second["orderId"] == first["orderId"]
    assert second["createDate"] == first["createDate"]
    assert second["modifyDate"] == "2026-01-05T09:01:30.0000000"
    assert second["internalNotes"] == "IMEI: 490154203237518"
    assert second["advancedOptions"]["storeId"] == 310001  # storeId honoured only on creation
    assert client.get("/orders").json()["total"] == 1


def test_update_replaces_the_whole_order(client: httpx.Client) -> None:
    create(client, customerNotes="ring twice")
    updated = create(client)  # the body without customerNotes
    assert updated["customerNotes"] is None


def test_without_order_key_every_call_creates_an_order(client: httpx.Client) -> None:
    body = order_body()
    del body["orderKey"]
    first = client.post("/orders/createorder", json=body).json()
    second = client.post("/orders/createorder", json=body).json()
    assert first["orderId"] != second["orderId"]
    assert first["orderKey"]
    assert second["orderKey"]
    assert first["orderKey"] != second["orderKey"]
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first["orderKey"]
    )
    assert client.get("/orders").json()["total"] == 2


def test_item_ids_are_renewed_on_update_unless_configured(clock: VirtualClock) -> None:
    for keep in (False, True):
        sim = ShipStationSimulator(
            clock=clock, api_key=KEY, api_secret=SECRET, keep_item_ids_on_update=keep
        )
        with client_for(sim) as c:
            before = create(c)["items"][0]["orderItemId"]
            after = create(c)["items"][0]["orderItemId"]
        assert (before == after) is keep


def test_createorder_rejects_an_array_with_model_state(client: httpx.Client) -> None:
    response = client.post("/orders/createorder", json=[order_body()])
    assert response.status_code == 400
    body = response.json()
    assert body["Message"] == "The request is invalid."
    assert "Cannot deserialize the current JSON array" in body["ModelState"]["apiOrder"][0]


def test_createorders_rejects_an_object_with_model_state(client: httpx.Client) -> None:
    response = client.post("/orders/createorders", json=order_body())
    assert response.status_code == 400
    body = response.json()
    assert body["Message"] == "The request is invalid."
    assert (
        "Cannot deserialize the current JSON object"
        in (body["ModelState"]["apiOrders.orderNumber"][0])
    )


@pytest.mark.parametrize("missing", ["orderNumber", "orderDate", "orderStatus", "shipTo"])
def test_required_fields(client: httpx.Client, missing: str) -> None:
    body = order_body()
    del body[missing]
    response = client.post("/orders/createorder", json=body)
    assert response.status_code == 400
    assert response.json()["ModelState"] == {
        f"apiOrder.{missing}": [f"The {missing} field is required."]
    }


def test_kilograms_are_not_a_v1_weight_unit(client: httpx.Client) -> None:
    response = client.post(
        "/orders/createorder", json=order_body(weight={"value": 0.24, "units": "kilograms"})
    )
    assert response.status_code == 400
    assert "apiOrder.weight.units" in response.json()["ModelState"]


def test_bulk_upsert_reports_per_order_results(client: httpx.Client) -> None:
    bad = order_body("BM-3")
    del bad["orderNumber"]
    response = client.post(
        "/orders/createorders", json=[order_body("BM-1"), order_body("BM-2"), bad]
    )
    assert response.status_code == 200
    body = response.json()
    assert body["hasErrors"] is True
    assert [r["success"] for r in body["results"]] == [True, True, False]
    assert body["results"][0]["orderKey"] == "backmarket-BM-1"
    assert body["results"][2]["errorMessage"] == "The orderNumber field is required."
    ok = client.post("/orders/createorders", json=[order_body("BM-1")]).json()
    assert ok["hasErrors"] is False
    assert ok["results"][0]["orderId"] == body["results"][0]["orderId"]


def test_bulk_allows_100_orders_and_rejects_101(client: httpx.Client) -> None:
    hundred = [order_body(f"BM-{n}") for n in range(100)]
    assert client.post("/orders/createorders", json=hundred).status_code == 200
    too_many = client.post("/orders/createorders", json=[*hundred, order_body("BM-x")])
    assert too_many.status_code == 400
    assert "100" in too_many.json()["Message"]
    assert client.get("/orders").json()["total"] == 100


def test_shipped_and_cancelled_orders_are_locked(client: httpx.Client) -> None:
    shipped = create(client, "BM-S")
    client.post(
        "/orders/markasshipped", json={"orderId": shipped["orderId"], "carrierCode": "colissimo"}
    )
    create(client, "BM-C", orderStatus="cancelled")
    for number in ("BM-S", "BM-C"):
        single = client.post("/orders/createorder", json=order_body(number))
        assert single.status_code == 400
        assert "can no longer be updated" in single.json()["Message"]
    bulk = client.post("/orders/createorders", json=[order_body("BM-S"), order_body("BM-new")])
    results = bulk.json()["results"]
    assert bulk.json()["hasErrors"] is True
    assert results[0]["success"] is False
    assert results[0]["errorMessage"]
    assert results[1]["success"] is True


# ---------------------------------------------------------------- GET /orders (§1.3, §1.4, §3.1)


def test_list_filters(client: httpx.Client) -> None:
    create(client, "BM-100", advancedOptions={"storeId": 310001})
    create(
        client,
        "BM-1001",
        shipTo={"name": "Hans Müller", "country": "DE"},
        items=[{"name": "Galaxy S22", "sku": "SAM-S22", "quantity": 1, "unitPrice": 300}],
    )
    create(client, "XX-1", orderStatus="awaiting_payment")

    def numbers(**params: Any) -> list[str]:
        return [o["orderNumber"] for o in client.get("/orders", params=params).json()["orders"]]

    assert numbers(orderNumber="BM-100") == ["BM-100", "BM-1001"]  # starts-with
    assert numbers(orderStatus="awaiting_payment") == ["XX-1"]
    assert numbers(storeId=310001) == ["BM-100"]
    assert numbers(customerName="müller") == ["BM-1001"]
    assert numbers(itemKeyword="s22") == ["BM-1001"]
    assert numbers(itemKeyword="grade") == ["BM-100", "XX-1"]  # options are searched too


def test_order_date_boundaries(clock: VirtualClock) -> None:
    inclusive = ShipStationSimulator(clock=clock, api_key=KEY, api_secret=SECRET)
    documented = ShipStationSimulator(
        clock=clock, api_key=KEY, api_secret=SECRET, order_date_filters="documented"
    )
    bounds = {"orderDateStart": "2026-01-04 10:00:00", "orderDateEnd": "2026-01-04 10:00:00"}
    created = {"createDateStart": "2026-01-05 09:00:00", "createDateEnd": "2026-01-05 09:00:00"}
    with client_for(inclusive) as c:
        create(c)
        assert c.get("/orders", params=bounds).json()["total"] == 1
        assert c.get("/orders", params=created).json()["total"] == 1
    with client_for(documented) as c:
        create(c)
        # orderDateStart is "greater than": the order placed at the boundary is left out...
        assert c.get("/orders", params=bounds).json()["total"] == 0
        # ...while orderDateEnd is "less than or equal".
        assert (
            c.get("/orders", params={"orderDateEnd": bounds["orderDateEnd"]}).json()["total"] == 1
        )
        assert c.get("/orders", params=created).json()["total"] == 0


def test_modify_date_window_in_pacific_time(clock: VirtualClock, client: httpx.Client) -> None:
    create(client, "BM-1")
    clock.advance(3600)
    create(client, "BM-2")
    window = {"modifyDateStart": "2026-01-05 09:30:00", "modifyDateEnd": "2026-01-05 10:30:00"}
    orders = client.get("/orders", params=window).json()["orders"]
    assert [o["orderNumber"] for o in orders] == ["BM-2"]


def test_pagination_and_pages(sim: ShipStationSimulator, client: httpx.Client) -> None:
    for n in range(7):
        sim.add_order(order_body(f"BM-{n}"))
    pages = [client.get("/orders", params={"pageSize": 3, "page": p}).json() for p in (1, 2, 3, 4)]
    assert [p["pages"] for p in pages] == [3, 3, 3, 3]
    assert [p["total"] for p in pages] == [7, 7, 7, 7]
    assert [len(p["orders"]) for p in pages] == [3, 3, 1, 0]
    ids = [o["orderId"] for p in pages for o in p["orders"]]
    assert ids == sorted(ids)  # default sort: ascending orderId
    default = client.get("/orders").json()
    assert (default["page"], default["pages"], len(default["orders"])) == (1, 1, 7)


def test_page_size_is_capped_at_500(clock: VirtualClock) -> None:
    clamping = ShipStationSimulator(clock=clock, api_key=KEY, api_secret=SECRET, rate_limit=10**6)
    for n in range(501):
        clamping.add_order(order_body(f"BM-{n}"))
    with client_for(clamping) as c:
        page = c.get("/orders", params={"pageSize": 1000}).json()
    assert (len(page["orders"]), page["pages"], page["total"]) == (500, 2, 501)
    strict = ShipStationSimulator(
        clock=clock, api_key=KEY, api_secret=SECRET, page_size_over_max="error"
    )
    with client_for(strict) as c:
        assert c.get("/orders", params={"pageSize": 501}).status_code == 400


def test_sorting(clock: VirtualClock, client: httpx.Client) -> None:
    create(client, "BM-1", orderDate="2026-01-03T10:00:00")
    create(client, "BM-2", orderDate="2026-01-01T10:00:00")
    create(client, "BM-3", orderDate="2026-01-02T10:00:00")

    def numbers(**params: Any) -> list[str]:
        return [o["orderNumber"] for o in client.get("/orders", params=params).json()["orders"]]

    assert numbers(sortBy="OrderDate") == ["BM-2", "BM-3", "BM-1"]
    assert numbers(sortBy="OrderDate", sortDir="DESC") == ["BM-1", "BM-3", "BM-2"]
    assert numbers(sortDir="DESC") == ["BM-3", "BM-2", "BM-1"]
    assert client.get("/orders", params={"sortBy": "Price"}).status_code == 400


def test_get_order_by_internal_id(client: httpx.Client) -> None:
    order = create(client)
    assert client.get(f"/orders/{order['orderId']}").json() == order
    assert client.get("/orders/1").status_code == 404


# ---------------------------------------------------------------- order actions (§3.4, §3.10)


def test_markasshipped_makes_a_fulfillment_not_a_shipment(
    sim: ShipStationSimulator, client: httpx.Client
) -> None:
    client.post("/webhooks/subscribe", json={"target_url": "https://h/s", "event": "SHIP_NOTIFY"})
    order = create(client)
    response = client.post(
        "/orders/markasshipped",
        json={
            "orderId": order["orderId"],
            "carrierCode": "Colissimo",
            "shipDate": "2026-01-05",
            "trackingNumber": "6A12345678901",
            "notifySalesChannel": True,
        },
    )
    assert response.json() == {"orderId": order["orderId"], "orderNumber": "BM-1001"}
    stored = client.get(f"/orders/{order['orderId']}").json()
    assert stored["orderStatus"] == "shipped"
    assert stored["shipDate"] == "2026-01-05"
    fulfillments = client.get("/fulfillments").json()
    assert fulfillments["total"] == 1
    fulfillment = fulfillments["fulfillments"][0]
    assert fulfillment["marketplaceNotified"] is True
    assert fulfillment["trackingNumber"] == "6A12345678901"
    assert fulfillment["shipDate"] == "2026-01-05T00:00:00.0000000"  # a timestamp here
    assert SEVEN_DIGITS.match(fulfillment["createDate"])
    assert fulfillment["carrierCode"] == "Colissimo"  # loose text, not checked
    assert fulfillment["shipTo"]["city"] == "Paris"
    assert client.get("/shipments").json()["total"] == 0
    assert sim.webhook_deliveries == []  # no SHIP_NOTIFY for mark-as-shipped


def test_notify_sales_channel_defaults_to_false(client: httpx.Client) -> None:
    order = create(client)
    client.post("/orders/markasshipped", json={"orderId": order["orderId"], "carrierCode": "ups"})
    assert client.get("/fulfillments").json()["fulfillments"][0]["marketplaceNotified"] is False


def test_markasshipped_requires_order_and_carrier(client: httpx.Client) -> None:
    order = create(client)
    assert (
        client.post("/orders/markasshipped", json={"orderId": order["orderId"]}).status_code == 400
    )
    assert client.post("/orders/markasshipped", json={"carrierCode": "ups"}).status_code == 400
    once = {"orderId": order["orderId"], "carrierCode": "ups"}
    assert client.post("/orders/markasshipped", json=once).status_code == 200
    assert client.post("/orders/markasshipped", json=once).status_code == 400  # already shipped


def test_fulfillment_filters(client: httpx.Client) -> None:
    for number, tracking in (("BM-1", "T1"), ("BM-2", "T2")):
        order = create(client, number)
        client.post(
            "/orders/markasshipped",
            json={"orderId": order["orderId"], "carrierCode": "ups", "trackingNumber": tracking},
        )
    assert client.get("/fulfillments", params={"trackingNumber": "T2"}).json()["total"] == 1
    assert client.get("/fulfillments", params={"orderNumber": "BM-1"}).json()["total"] == 1
    assert client.get("/fulfillments", params={"recipientName": "jeanne"}).json()["total"] == 2
    day = {"shipDateStart": "2026-01-05", "shipDateEnd": "2026-01-05"}
    assert client.get("/fulfillments", params=day).json()["total"] == 2  # on or after/before
    assert client.get("/fulfillments", params={"shipDateStart": "2026-01-06"}).json()["total"] == 0


def test_hold_until_and_restore(clock: VirtualClock, client: httpx.Client) -> None:
    order = create(client)
    held = client.post(
        "/orders/holduntil", json={"orderId": order["orderId"], "holdUntilDate": "2026-01-07"}
    )
    assert held.json() == {"success": True, "message": "Order held successfully."}
    stored = client.get(f"/orders/{order['orderId']}").json()
    assert (stored["orderStatus"], stored["holdUntilDate"]) == ("on_hold", "2026-01-07")
    restored = client.post("/orders/restorefromhold", json={"orderId": order["orderId"]})
    assert restored.json() == {"success": True, "message": "The requested order has been restored"}
    stored = client.get(f"/orders/{order['orderId']}").json()
    assert (stored["orderStatus"], stored["holdUntilDate"]) == ("awaiting_shipment", None)


def test_hold_is_released_when_the_date_comes(clock: VirtualClock, client: httpx.Client) -> None:
    order = create(client)
    client.post(
        "/orders/holduntil", json={"orderId": order["orderId"], "holdUntilDate": "2026-01-07"}
    )
    clock.advance(86400)  # 6 January, 09:00 Pacific
    assert client.get(f"/orders/{order['orderId']}").json()["orderStatus"] == "on_hold"
    clock.advance(86400)
    stored = client.get(f"/orders/{order['orderId']}").json()
    assert stored["orderStatus"] == "awaiting_shipment"
    assert stored["modifyDate"] == "2026-01-07T00:00:00.0000000"


def test_delete_is_a_soft_delete(sim: ShipStationSimulator, client: httpx.Client) -> None:
    order = create(client)
    response = client.delete(f"/orders/{order['orderId']}")
    assert response.status_code == 200
    assert client.get("/orders").json()["total"] == 0
    assert client.get(f"/orders/{order['orderId']}").status_code == 404
    assert sim.orders() == []
    assert [o["orderId"] for o in sim.orders(include_deleted=True)] == [order["orderId"]]


def test_tags(client: httpx.Client) -> None:
    order = create(client)
    tag = {"orderId": order["orderId"], "tagId": 1002}
    assert client.post("/orders/addtag", json=tag).json() == {
        "success": True,
        "message": "Tag added successfully.",
    }
    assert client.get(f"/orders/{order['orderId']}").json()["tagIds"] == [1002]
    by_tag = client.get(
        "/orders/listbytag", params={"orderStatus": "awaiting_shipment", "tagId": 1002}
    )
    assert by_tag.json()["total"] == 1
    assert (
        client.post("/orders/removetag", json=tag).json()["message"] == "Tag removed successfully."
    )
    assert client.get(f"/orders/{order['orderId']}").json()["tagIds"] is None
    assert client.post("/orders/addtag", json={**tag, "tagId": 9}).status_code == 400
    assert client.post("/orders/addtag", json={"tagId": 1002}).status_code == 400


def test_tag_ids_are_writable_through_createorder(client: httpx.Client) -> None:
    assert create(client, tagIds=[1001, 1003])["tagIds"] == [1001, 1003]
    assert create(client)["tagIds"] == [1001, 1003]  # left out: kept
    assert create(client, tagIds=[])["tagIds"] is None
    assert client.post("/orders/createorder", json=order_body(tagIds=[5])).status_code == 400


# ---------------------------------------------------------------- labels and shipments (§3.5, §3.9)


def test_label_creates_a_shipment_and_ship_notify(
    sim: ShipStationSimulator, client: httpx.Client
) -> None:
    for event in ("SHIP_NOTIFY", "ITEM_SHIP_NOTIFY"):
        client.post(
            "/webhooks/subscribe", json={"target_url": f"https://h/{event}", "event": event}
        )
    order = create(client)
    response = client.post(
        "/orders/createlabelfororder",
        json={
            "orderId": order["orderId"],
            "carrierCode": "colissimo",
            "serviceCode": "colissimo_domicile_sans_signature",
            "confirmation": "none",
            "shipDate": "2026-01-05",
            "testLabel": False,
        },
    )
    label = response.json()
    assert set(label) == {
        "shipmentId",
        "shipmentCost",
        "insuranceCost",
        "trackingNumber",
        "labelData",
        "formData",
    }
    assert label["shipmentCost"] > 0
    assert label["trackingNumber"].startswith("6A")
    assert base64.b64decode(label["labelData"]).startswith(b"%PDF")
    stored = client.get(f"/orders/{order['orderId']}").json()
    assert (stored["orderStatus"], stored["carrierCode"]) == ("shipped", "colissimo")
    deliveries = dict(sim.webhook_deliveries)
    assert deliveries["https://h/SHIP_NOTIFY"]["resource_type"] == "SHIP_NOTIFY"
    ship_url = deliveries["https://h/SHIP_NOTIFY"]["resource_url"]
    item_url = deliveries["https://h/ITEM_SHIP_NOTIFY"]["resource_url"]
    assert re.fullmatch(rf"{BASE}/shipments\?batchId=\d+&includeShipmentItems=False", ship_url)
    assert item_url.endswith("includeShipmentItems=True")
    # The resource URL is fetched back with the same credentials.
    plain = client.get(ship_url).json()
    assert plain["total"] == 1
    shipment = plain["shipments"][0]
    assert shipment["trackingNumber"] == label["trackingNumber"]
    assert shipment["shipmentItems"] is None
    assert shipment["labelData"] is None
    assert shipment["shipDate"] == "2026-01-05"
    assert SEVEN_DIGITS.match(shipment["createDate"])
    assert isinstance(shipment["shipTo"], dict)
    items = client.get(item_url).json()["shipments"][0]["shipmentItems"]
    assert [i["sku"] for i in items] == ["IPH13-128-BLK-A"]


def test_webhook_store_filter(sim: ShipStationSimulator, client: httpx.Client) -> None:
    client.post(
        "/webhooks/subscribe",
        json={"target_url": "https://h/bm", "event": "SHIP_NOTIFY", "store_id": 310001},
    )
    manual = create(client, "M-1")
    sim.buy_label(manual["orderId"])
    assert sim.webhook_deliveries == []
    backmarket = create(client, "BM-1", advancedOptions={"storeId": 310001})
    sim.buy_label(backmarket["orderId"])
    assert [url for url, _ in sim.webhook_deliveries] == ["https://h/bm"]


def test_label_requires_an_open_order_and_a_known_service(client: httpx.Client) -> None:
    order = create(client)
    base = {"orderId": order["orderId"], "carrierCode": "ups", "serviceCode": "fedex_ground"}
    assert client.post("/orders/createlabelfororder", json=base).status_code == 400
    ok = {**base, "serviceCode": "ups_ground"}
    assert client.post("/orders/createlabelfororder", json=ok).status_code == 200
    assert client.post("/orders/createlabelfororder", json=ok).status_code == 400  # shipped


def test_test_label_stores_nothing(sim: ShipStationSimulator, client: httpx.Client) -> None:
    order = create(client)
    label = sim.buy_label(order["orderId"], test_label=True)
    assert label["trackingNumber"]
    assert sim.shipments() == []
    assert sim.get_order(order["orderId"])["orderStatus"] == "awaiting_shipment"  # type: ignore[index]


def test_shipment_filters_and_sorting(sim: ShipStationSimulator, client: httpx.Client) -> None:
    fr = create(client, "BM-1")
    us = create(client, "BM-2", shipTo={"name": "John Smith", "country": "US"})
    first = sim.buy_label(
        fr["orderId"],
        carrier_code="colissimo",
        service_code="colissimo_domicile_sans_signature",
        ship_date="2026-01-06",
    )
    second = sim.buy_label(us["orderId"], carrier_code="usps", service_code="usps_priority_mail")

    def ids(**params: Any) -> list[int]:
        return [s["orderId"] for s in client.get("/shipments", params=params).json()["shipments"]]

    assert ids() == [fr["orderId"], us["orderId"]]  # ascending createDate
    assert ids(recipientCountryCode="US") == [us["orderId"]]
    assert ids(recipientName="smith") == [us["orderId"]]
    assert ids(carrierCode="colissimo") == [fr["orderId"]]
    assert ids(serviceCode="usps_priority_mail") == [us["orderId"]]
    assert ids(trackingNumber=first["trackingNumber"]) == [fr["orderId"]]
    assert ids(orderId=us["orderId"]) == [us["orderId"]]
    assert ids(orderNumber="BM-1") == [fr["orderId"]]
    assert ids(storeId=310000) == [fr["orderId"], us["orderId"]]
    assert ids(shipDateStart="2026-01-06") == [fr["orderId"]]
    assert ids(shipDateEnd="2026-01-05") == [us["orderId"]]
    assert ids(sortBy="ShipDate") == [us["orderId"], fr["orderId"]]
    assert ids(sortBy="ShipDate", sortDir="DESC") == [fr["orderId"], us["orderId"]]
    assert second["shipmentCost"] > 0


def test_voided_labels(clock: VirtualClock) -> None:
    for listed in (True, False):
        sim = ShipStationSimulator(
            clock=clock, api_key=KEY, api_secret=SECRET, list_voided_shipments=listed
        )
        with client_for(sim) as c:
            order = create(c)
            label = sim.buy_label(order["orderId"])
            voided = c.post("/shipments/voidlabel", json={"shipmentId": label["shipmentId"]})
            assert voided.json() == {"approved": True, "message": "Label voided successfully"}
            shipments = c.get("/shipments").json()["shipments"]
            assert [s["voided"] for s in shipments] == ([True] if listed else [])
            assert c.get(f"/orders/{order['orderId']}").json()["orderStatus"] == (
                "awaiting_shipment"
            )


# ---------------------------------------------------------------- carriers, stores (§3.7, §3.8)


def test_carriers_services_and_packages(client: httpx.Client) -> None:
    codes = {c["code"] for c in client.get("/carriers").json()}
    assert {"ups", "fedex", "usps", "stamps_com", "dhl_express", "royal_mail"} <= codes
    assert {"colissimo", "chronopost", "dpd", "gls"} <= codes
    ups = client.get("/carriers/getcarrier", params={"carrierCode": "ups"}).json()
    assert set(ups) == {
        "name",
        "code",
        "accountNumber",
        "requiresFundedAccount",
        "balance",
        "nickname",
        "shippingProviderId",
        "primary",
    }
    services = client.get("/carriers/listservices", params={"carrierCode": "fedex"}).json()
    assert {
        "carrierCode": "fedex",
        "code": "fedex_ground",
        "name": "FedEx Ground®",
        "domestic": True,
        "international": False,
    } in services
    packages = client.get("/carriers/listpackages", params={"carrierCode": "usps"}).json()
    assert "package" in {p["code"] for p in packages}
    assert client.get("/carriers/listservices").status_code == 400
    assert client.get("/carriers/listservices", params={"carrierCode": "pigeon"}).status_code == 400


def test_stores_and_marketplaces(clock: VirtualClock) -> None:
    sim = ShipStationSimulator(
        clock=clock, api_key=KEY, api_secret=SECRET, backmarket_marketplace_id=4242
    )
    sim.add_store(store_name="Old shop", marketplace_id=36, active=False)
    with client_for(sim) as c:
        stores = c.get("/stores").json()
        assert [s["storeName"] for s in stores] == ["Manual Orders", "Back Market"]
        assert stores[0]["marketplaceId"] == 0
        assert stores[0]["marketplaceName"] == "ShipStation"
        assert len(c.get("/stores", params={"showInactive": "true"}).json()) == 3
        assert [
            s["storeName"] for s in c.get("/stores", params={"marketplaceId": 4242}).json()
        ] == ["Back Market"]
        backmarket = c.get(f"/stores/{sim.backmarket_store_id}").json()
        assert backmarket["statusMappings"] == [
            {"orderStatus": "awaiting_shipment", "statusKey": "1"},
            {"orderStatus": "shipped", "statusKey": "9"},
        ]
        marketplaces = c.get("/stores/marketplaces").json()
        entry = next(m for m in marketplaces if m["name"] == "Back Market")
        assert entry["marketplaceId"] == 4242
        assert entry["canConfirmShipments"] is True
        refresh = c.post(
            "/stores/refreshstore",
            params={"storeId": sim.backmarket_store_id, "refreshDate": "2026-01-01"},
        )
        assert refresh.json() == {
            "success": True,
            "message": f"A store refresh has been initiated for Store ID {sim.backmarket_store_id}",
        }
        assert c.get(f"/stores/{sim.backmarket_store_id}").json()["refreshDate"] == (
            "2026-01-01T00:00:00.0000000"
        )
        assert c.get("/stores/999").status_code == 404


def test_default_backmarket_marketplace_id(client: httpx.Client) -> None:
    ids = {m["name"]: m["marketplaceId"] for m in client.get("/stores/marketplaces").json()}
    assert ids["Back Market"] == DEFAULT_BACKMARKET_MARKETPLACE_ID
    assert ids["ShipStation"] == 0


# ---------------------------------------------------------------- webhooks (§3.9)


def test_webhook_subscribe_list_delete(client: httpx.Client) -> None:
    created = client.post(
        "/webhooks/subscribe",
        json={
            "target_url": "https://example.test/hook?token=abc",
            "event": "SHIP_NOTIFY",
            "store_id": 310001,
            "friendly_name": "bridge",
        },
    )
    assert created.status_code == 200
    webhook_id = created.json()["id"]
    assert isinstance(webhook_id, int)
    listed = client.get("/webhooks").json()["webhooks"]
    assert listed == [
        {
            "IsLabelAPIHook": False,
            "WebHookID": webhook_id,
            "SellerID": listed[0]["SellerID"],
            "StoreID": 310001,
            "HookType": "SHIP_NOTIFY",
            "MessageFormat": "Json",
            "Url": "https://example.test/hook?token=abc",
            "Name": "bridge",
            "BulkCopyBatchID": None,
            "BulkCopyRecordID": None,
            "Active": True,
            "WebhookLogs": [],
            "Seller": None,
            "Store": None,
        }
    ]
    deleted = client.delete(f"/webhooks/{webhook_id}")
    assert deleted.status_code == 200
    assert deleted.content == b""
    assert client.get("/webhooks").json() == {"webhooks": []}
    bad = client.post("/webhooks/subscribe", json={"target_url": "https://x", "event": "NOPE"})
    assert bad.status_code == 400


def test_deliver_webhooks_keeps_failures_queued(
    sim: ShipStationSimulator, client: httpx.Client
) -> None:
    client.post("/webhooks/subscribe", json={"target_url": "https://h/a", "event": "SHIP_NOTIFY"})
    sim.buy_label(create(client)["orderId"])
    calls: list[tuple[str, dict[str, Any]]] = []

    def failing(url: str, payload: dict[str, Any]) -> None:
        raise ConnectionError("receiver down")

    assert sim.deliver_webhooks(failing) == 0
    assert len(sim.webhook_deliveries) == 1
    assert sim.deliver_webhooks(lambda url, payload: calls.append((url, payload))) == 1
    assert calls[0][0] == "https://h/a"
    assert sim.webhook_deliveries == []


def test_a_delivery_is_given_up_after_the_last_attempt(clock: VirtualClock) -> None:
    sim = ShipStationSimulator(clock=clock, api_key=KEY, api_secret=SECRET, webhook_max_attempts=3)
    with client_for(sim) as c:
        c.post("/webhooks/subscribe", json={"target_url": "https://h", "event": "SHIP_NOTIFY"})
        sim.buy_label(create(c)["orderId"])
    attempts: list[str] = []

    def failing(url: str, payload: dict[str, Any]) -> None:
        attempts.append(url)
        raise ConnectionError("receiver down")

    for _ in range(5):
        sim.deliver_webhooks(failing)
    assert attempts == ["https://h"] * 3
    assert sim.webhook_deliveries == []


def test_webhook_delay_on_the_clock(clock: VirtualClock) -> None:
    sim = ShipStationSimulator(
        clock=clock, api_key=KEY, api_secret=SECRET, webhook_delay_seconds=120
    )
    with client_for(sim) as c:
        c.post("/webhooks/subscribe", json={"target_url": "https://h", "event": "SHIP_NOTIFY"})
        sim.buy_label(create(c)["orderId"])
    assert sim.webhook_deliveries == []
    clock.advance(120)
    assert len(sim.webhook_deliveries) == 1


def test_order_notify_batches_new_paid_orders(
    sim: ShipStationSimulator, client: httpx.Client
) -> None:
    client.post("/webhooks/subscribe", json={"target_url": "https://h/o", "event": "ORDER_NOTIFY"})
    client.post(
        "/orders/createorders",
        json=[
            order_body("BM-1"),
            order_body("BM-2"),
            order_body("BM-3", orderStatus="awaiting_payment"),
        ],
    )
    [(target, payload)] = sim.webhook_deliveries
    assert target == "https://h/o"
    assert payload["resource_type"] == "ORDER_NOTIFY"
    assert re.fullmatch(rf"{BASE}/orders\?importBatch=[0-9a-f-]{{36}}", payload["resource_url"])
    batch = client.get(payload["resource_url"]).json()
    assert [o["orderNumber"] for o in batch["orders"]] == ["BM-1", "BM-2"]


# ---------------------------------------------------------------- direct helpers, safety


def test_buy_label_and_add_order_fail_like_the_endpoint(sim: ShipStationSimulator) -> None:
    with pytest.raises(SimulatorRequestError) as missing:
        sim.buy_label(12345)
    assert missing.value.status_code == 500
    bad = order_body()
    del bad["orderNumber"]
    with pytest.raises(SimulatorRequestError) as invalid:
        sim.add_order(bad)
    assert invalid.value.status_code == 400


def test_direct_calls_do_not_spend_the_rate_limit(clock: VirtualClock) -> None:
    sim = ShipStationSimulator(clock=clock, api_key=KEY, api_secret=SECRET)
    order = sim.add_order(order_body())
    sim.buy_label(order["orderId"])
    with client_for(sim) as c:
        assert c.get("/orders").headers["X-Rate-Limit-Remaining"] == "39"


def test_secrets_stay_out_of_repr(sim: ShipStationSimulator) -> None:
    assert KEY not in repr(sim)
    assert SECRET not in repr(sim)


def test_concurrent_bulk_upserts_get_unique_ids(sim: ShipStationSimulator) -> None:
    def work(worker: int) -> None:
        with client_for(sim) as c:
            batch = [order_body(f"W{worker}-{n}") for n in range(20)]
            assert c.post("/orders/createorders", json=batch).json()["hasErrors"] is False

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    orders = sim.orders()
    assert len(orders) == 160
    assert len({o["orderId"] for o in orders}) == 160
    assert len({i["orderItemId"] for o in orders for i in o["items"]}) == 160


def test_same_seed_same_tracking_numbers(clock: VirtualClock) -> None:
    def tracking(seed: int) -> str:
        sim = ShipStationSimulator(clock=clock, api_key=KEY, api_secret=SECRET, seed=seed)
        order = sim.add_order(order_body())
        return str(sim.buy_label(order["orderId"])["trackingNumber"])

    assert tracking(7) == tracking(7)
    assert tracking(7) != tracking(8)


# ---------------------------------------------------------------- over loopback sockets


def test_the_simulator_over_a_real_socket(clock: VirtualClock) -> None:
    from backmarket_shipstation.sandbox import Sandbox

    sandbox = Sandbox(seed=3, orders=10, clock=clock, shipstation_options={"rate_limit": 5})
    with sandbox.serve(port=0, deliver_webhooks=False) as served:
        base = served.shipstation_url
        assert base.startswith("http://127.0.0.1:")
        auth = (sandbox.shipstation_api_key, sandbox.shipstation_api_secret)
        with httpx.Client(base_url=base, auth=auth, timeout=10) as c:
            subscribed = c.post(
                "/webhooks/subscribe", json={"target_url": "https://h/s", "event": "SHIP_NOTIFY"}
            )
            assert subscribed.json()["id"]
            order = c.post(
                "/orders/createorder",
                json=order_body(advancedOptions={"storeId": sandbox.shipstation_store_id}),
            ).json()
            label = c.post(
                "/orders/createlabelfororder",
                json={
                    "orderId": order["orderId"],
                    "carrierCode": "dpd",
                    "serviceCode": "dpd_classic",
                    "confirmation": "none",
                    "shipDate": "2026-01-05",
                    "testLabel": False,
                },
            )
            assert label.status_code == 200
            assert label.headers["X-Rate-Limit-Remaining"] == "2"
            [(_, payload)] = sandbox.shipstation.webhook_deliveries
            # resource_url points back at the served simulator, and works with the same key pair.
            assert payload["resource_url"].startswith(f"{base}/shipments?batchId=")
            shipments = c.get(payload["resource_url"]).json()["shipments"]
            assert shipments[0]["trackingNumber"] == label.json()["trackingNumber"]
            unknown = c.get("/storesrefreshstore")
            assert unknown.json()["Message"] == (
                f"No HTTP resource was found that matches the request URI "
                f"'{base}/storesrefreshstore'."
            )
            limited = c.get("/carriers")
            assert limited.status_code == 429
            assert limited.json() == {"message": "Too Many Requests"}
        with httpx.Client(base_url=base, auth=(auth[0], "nope"), timeout=10) as c:
            assert c.get("/stores").status_code == 401


# ---------------------------------------------------------------- dates and options


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2026-01-04", "2026-01-04T00:00:00.0000000"),
        ("2026-01-04 23:59:59", "2026-01-04T23:59:59.0000000"),
        ("2026-01-04T23:59", "2026-01-04T23:59:00.0000000"),
        ("2026-01-04T08:46:27.8230000", "2026-01-04T08:46:27.8230000"),
        ("2026-01-04T08:46:27.78", "2026-01-04T08:46:27.7800000"),
        ("2026-01-04T08:46:27+02:00", "2026-01-04T08:46:27.0000000"),
    ],
)
def test_accepted_date_forms(client: httpx.Client, sent: str, stored: str) -> None:
    assert create(client, orderDate=sent)["orderDate"] == stored


@pytest.mark.parametrize("sent", ["04/01/2026", "2026-13-01", "yesterday", "2026-01-04T25:00:00"])
def test_unreadable_dates_are_model_errors(client: httpx.Client, sent: str) -> None:
    response = client.post("/orders/createorder", json=order_body(orderDate=sent))
    assert response.status_code == 400
    assert "apiOrder.orderDate" in response.json()["ModelState"]


def test_dates_follow_daylight_saving(clock: VirtualClock, client: httpx.Client) -> None:
    clock.advance(180 * 86400)  # early July: PDT, UTC-7
    assert create(client)["createDate"] == "2026-07-04T10:00:00.0000000"


def test_item_timestamps_carry_milliseconds(clock: VirtualClock, client: httpx.Client) -> None:
    clock.advance(0.5)
    item = create(client)["items"][0]
    assert item["createDate"] == "2026-01-05T09:00:00.5"


@pytest.mark.parametrize(
    "options",
    [
        {"date_offsets": "utc"},
        {"order_date_filters": "loose"},
        {"page_size_over_max": "ignore"},
        {"rate_limit": 0},
        {"mark_shipped_from": ["sent"]},
    ],
)
def test_unknown_options_are_refused(clock: VirtualClock, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        ShipStationSimulator(clock=clock, api_key=KEY, api_secret=SECRET, **options)
