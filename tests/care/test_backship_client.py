"""BackShip deliveries: the client against the sandbox (``bm.shipping``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from care_support import care_sandbox, client

from backmarket_shipstation.backmarket import AsyncBackMarketClient, Delivery
from backmarket_shipstation.backmarket.shipping import backship_label, list_deliveries_request
from backmarket_shipstation.errors import InvalidRequestError, NotFoundError


def _accepted_backship_orders(sandbox, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    with client(sandbox) as bm:
        for _ in range(count):
            order = sandbox.backmarket.new_order(backship=True, country_code="fr-fr")
            bm.orders.accept(order["order_id"], order["orderlines"][0]["listing"])
            ids.append(order["order_id"])
    return ids


def test_a_label_appears_once_a_line_is_accepted() -> None:
    sandbox = care_sandbox(folders=0, orders=10)
    order = sandbox.backmarket.new_order(backship=True, country_code="fr-fr")
    with client(sandbox) as bm:
        assert bm.shipping.label_for(order["order_id"]) is None
        bm.orders.accept(order["order_id"], order["orderlines"][0]["listing"])
        label = bm.shipping.label_for(order["order_id"])
        read_back = bm.orders.get(order["order_id"])
    assert label is not None
    assert label.tracking_number
    assert label.tracking_number == read_back.tracking_number  # the order carries it too
    assert label.orderlines == (order["orderlines"][0]["id"],)
    assert label.label_url is not None
    assert label.label_url.startswith("https://www.backmarket.fr/static/shipment_labels/")
    assert label.date_creation is not None
    assert label.date_creation.tzinfo is not None
    assert label.hub_scanned is False


def test_deliveries_page_and_filter() -> None:
    sandbox = care_sandbox(folders=0, orders=5)
    ids = _accepted_backship_orders(sandbox, 13)
    with client(sandbox) as bm:
        pages = list(bm.shipping.deliveries().pages())
        every = list(bm.shipping.deliveries())
        one = list(bm.shipping.deliveries(order_id=ids[4]))
        scanned = list(bm.shipping.deliveries(hub_scanned=True))
        later = list(bm.shipping.deliveries(start_date=sandbox.clock.now() + timedelta(minutes=1)))
        by_id = bm.shipping.delivery(one[0].shipment_id or 0)
    assert [len(p.results) for p in pages] == [10, 3]
    assert pages[0].count == 13
    assert sorted(d.order for d in every) == sorted(ids)
    assert [d.order for d in one] == [ids[4]]
    assert scanned == []
    assert later == []
    assert by_id.tracking_number == one[0].tracking_number


def test_unknown_delivery_and_bad_order_id() -> None:
    sandbox = care_sandbox(folders=0, orders=5)
    with client(sandbox) as bm, pytest.raises(NotFoundError):
        bm.shipping.delivery(1)
    with httpx.Client(
        transport=sandbox.backmarket_transport(), headers=sandbox.backmarket_headers
    ) as http:
        answer = http.get("https://www.backmarket.fr/ws/shipping/v1/deliveries?order_id=x")
    assert answer.status_code == 422
    assert answer.json()["data"]["fields"]["orderId"] == ["An integer is needed."]
    # the client names the field from that envelope
    from backmarket_shipstation._http import backmarket_error

    error = backmarket_error("GET", "/ws/shipping/v1/deliveries", answer)
    assert isinstance(error, InvalidRequestError)
    assert "orderId: An integer is needed." in error.message


def test_date_filters_are_sent_as_utc() -> None:
    from datetime import datetime, timezone

    moment = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    request = list_deliveries_request(start_date=moment, hub_scanned=False, order_id=7)
    assert dict(request.params) == {
        "page": "1",
        "order_id": "7",
        "start_date": "2026-03-02T08:00:00Z",
        "hub_scanned": "false",
    }
    with pytest.raises(ValueError, match="timezone-aware"):
        list_deliveries_request(end_date=datetime(2026, 3, 2))


def test_the_label_to_use_is_the_newest_live_one() -> None:
    old = Delivery.from_dict(
        {
            "order": 1,
            "shipmentId": 1,
            "trackingNumber": "A",
            "dateCreation": "2026-01-01T00:00:00+00:00",
        }
    )
    new = Delivery.from_dict(
        {
            "order": 1,
            "shipmentId": 2,
            "trackingNumber": "B",
            "dateCreation": "2026-01-02T00:00:00+00:00",
        }
    )
    cancelled = Delivery.from_dict(
        {
            "order": 1,
            "shipmentId": 3,
            "trackingNumber": "C",
            "dateCreation": "2026-01-03T00:00:00+00:00",
            "pickupInfo": {"isCanceled": True},
        }
    )
    assert backship_label([old, new, cancelled]) == new
    assert backship_label([cancelled]) is None
    assert backship_label([]) is None


def test_async_deliveries() -> None:
    sandbox = care_sandbox(folders=0, orders=5)
    [order_id] = _accepted_backship_orders(sandbox, 1)

    async def run() -> Delivery | None:
        async with AsyncBackMarketClient(
            token=sandbox.backmarket_token,
            user_agent=sandbox.backmarket_user_agent,
            transport=sandbox.backmarket_transport(),
            clock=sandbox.clock,
        ) as bm:
            return await bm.shipping.label_for(order_id)

    label = asyncio.run(run())
    assert label is not None
    assert label.order == order_id
