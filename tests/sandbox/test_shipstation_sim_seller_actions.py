"""The ShipStation simulator's seller actions: what a seller does in the web app.

docs/api-notes/shipstation.md §3.11: a split part is an order of its own (``<number>-<n>``,
a key of its own, ``mergedOrSplit``, ``parentId``); its labels are its own shipments; a void
returns an order to the queue only with its last live label; a deleted order leaves the lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox.shipstation import ShipStationSimulator, SimulatorRequestError

KEY, SECRET = "sim-key", "sim-secret"
WEIGHT = {"value": 240, "units": "grams"}


@pytest.fixture
def sim() -> ShipStationSimulator:
    clock = VirtualClock(datetime(2026, 1, 5, 17, 0, tzinfo=timezone.utc))
    return ShipStationSimulator(clock=clock, api_key=KEY, api_secret=SECRET, rate_limit=10_000)


@pytest.fixture
def client(sim: ShipStationSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=httpx.MockTransport(sim.handle),
        base_url="https://ssapi.shipstation.com",
        auth=(KEY, SECRET),
    ) as c:
        yield c


def _item(key: str, sku: str) -> dict[str, Any]:
    return {"lineItemKey": key, "sku": sku, "name": sku, "quantity": 1, "unitPrice": 400.0}


def _two_phones(sim: ShipStationSimulator) -> dict[str, Any]:
    return sim.add_order(
        {
            "orderNumber": "41000001",
            "orderKey": "backmarket-41000001",
            "orderDate": "2026-01-04T10:00:00",
            "orderStatus": "awaiting_shipment",
            "billTo": {"name": "Jeanne Dupont"},
            "shipTo": {"name": "Jeanne Dupont", "city": "Paris", "country": "FR"},
            "items": [_item("11", "IP13"), _item("12", "IP14")],
            "weight": WEIGHT,
            "internalNotes": "IP13: 490154203237518",
        }
    )


def test_a_split_part_is_an_order_of_its_own_numbered_after_the_original(
    sim: ShipStationSimulator, client: httpx.Client
) -> None:
    original = _two_phones(sim)
    part = sim.split_order(original["orderId"], ["12"])
    assert part["orderNumber"] == "41000001-1"
    assert part["orderId"] != original["orderId"]
    assert part["orderKey"] != original["orderKey"]
    assert part["advancedOptions"]["mergedOrSplit"] is True
    assert part["advancedOptions"]["parentId"] == original["orderId"]
    assert [i["lineItemKey"] for i in part["items"]] == ["12"]
    assert part["internalNotes"] == original["internalNotes"]
    kept = client.get(f"/orders/{original['orderId']}").json()
    assert [i["lineItemKey"] for i in kept["items"]] == ["11"]
    assert kept["advancedOptions"]["mergedOrSplit"] is True
    assert kept["advancedOptions"]["parentId"] is None
    listed = client.get("/orders", params={"orderNumber": "41000001"}).json()["orders"]
    assert sorted(o["orderNumber"] for o in listed) == ["41000001", "41000001-1"]


def test_a_split_keeps_items_on_both_sides_and_happens_before_the_label(
    sim: ShipStationSimulator,
) -> None:
    original = _two_phones(sim)
    with pytest.raises(SimulatorRequestError):
        sim.split_order(original["orderId"], ["11", "12"])
    sim.buy_label(original["orderId"], weight=WEIGHT)
    with pytest.raises(SimulatorRequestError):
        sim.split_order(original["orderId"], ["12"])


def test_a_part_label_is_a_shipment_of_the_part(
    sim: ShipStationSimulator, client: httpx.Client
) -> None:
    original = _two_phones(sim)
    part = sim.split_order(original["orderId"], ["12"])
    label = sim.buy_label(part["orderId"], weight=WEIGHT)
    [shipment] = client.get("/shipments", params={"orderNumber": "41000001-1"}).json()["shipments"]
    assert shipment["shipmentId"] == label["shipmentId"]
    assert shipment["orderId"] == part["orderId"]
    assert shipment["orderKey"] == part["orderKey"]
    assert client.get(f"/orders/{part['orderId']}").json()["orderStatus"] == "shipped"
    assert client.get(f"/orders/{original['orderId']}").json()["orderStatus"] == (
        "awaiting_shipment"
    )


def test_another_label_then_a_void_leaves_the_order_shipped_until_the_last_void(
    sim: ShipStationSimulator, client: httpx.Client
) -> None:
    original = _two_phones(sim)
    with pytest.raises(SimulatorRequestError):
        sim.buy_another_label(original["orderId"], weight=WEIGHT)  # nothing shipped yet
    first = sim.buy_label(original["orderId"], weight=WEIGHT)
    second = sim.buy_another_label(original["orderId"], weight=WEIGHT)
    assert second["trackingNumber"] != first["trackingNumber"]
    assert sim.void_label(first["shipmentId"])["approved"] is True
    assert client.get(f"/orders/{original['orderId']}").json()["orderStatus"] == "shipped"
    voided = client.get("/shipments", params={"voidDateStart": "2026-01-01"}).json()["shipments"]
    assert [s["shipmentId"] for s in voided] == [first["shipmentId"]]
    assert sim.void_label(second["shipmentId"])["approved"] is True
    after = client.get(f"/orders/{original['orderId']}").json()
    assert after["orderStatus"] == "awaiting_shipment"


def test_a_removed_item_and_a_deleted_order(
    sim: ShipStationSimulator, client: httpx.Client
) -> None:
    original = _two_phones(sim)
    edited = sim.remove_item(original["orderId"], "12")
    assert [i["lineItemKey"] for i in edited["items"]] == ["11"]
    sim.delete_order(original["orderId"])
    assert client.get(f"/orders/{original['orderId']}").status_code == 404
    assert client.get("/orders", params={"orderNumber": "41000001"}).json()["orders"] == []
