"""Products, warehouses, tags and order users of ShipStationClient, on httpx.MockTransport.

Payloads are the documented examples (tests/fixtures/shipstation); the whole-record rule of
V1's PUT (shipstation.md A.2, A.3, A.6 #13) is checked key by key.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from backmarket_shipstation.errors import ServerError
from backmarket_shipstation.shipstation import (
    Address,
    AsyncShipStationClient,
    Product,
    Warehouse,
)
from backmarket_shipstation.shipstation.client import create_warehouse_request, with_changes

from .test_shipstation_client_mock import KEY, SECRET, body, client, ok

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "shipstation"
USER = "123456AB-ab12-3c4d-5e67-89f1abc1defa"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def product_json() -> dict[str, Any]:
    record: dict[str, Any] = load("products_page.json")["products"][0]
    # Keys the model does not name must survive an update too.
    return {**record, "aliases": [{"name": "MUG-1004", "storeId": 12345}], "productType": None}


def test_products_list_sends_its_filters_and_walks_every_page() -> None:
    records = [{**product_json(), "productId": n, "sku": f"SKU-{n}"} for n in range(1, 6)]

    def handler(request: httpx.Request) -> httpx.Response:
        size = int(request.url.params["pageSize"])
        page = int(request.url.params["page"])
        chunk = records[(page - 1) * size : page * size]
        # pages: 0 as in the documented example: the client must not trust it.
        return ok({"products": chunk, "total": len(records), "page": page, "pages": 0})

    ss, recorder, _ = client(handler)
    found = list(
        ss.products.list(
            sku="SKU",
            tag_id=9180,
            start_date=datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc),
            show_inactive=False,
            sort_by="ModifyDate",
            sort_dir="ASC",
            page_size=2,
        )
    )
    assert [p.product_id for p in found] == [1, 2, 3, 4, 5]
    first = recorder.requests[0].url.params
    assert first["sku"] == "SKU"
    assert first["tagId"] == "9180"
    assert first["startDate"] == "2025-03-01 00:00:00"  # Pacific wall time
    assert first["showInactive"] == "false"
    assert (first["sortBy"], first["sortDir"]) == ("ModifyDate", "ASC")
    assert [r.url.params["page"] for r in recorder.requests] == ["1", "2", "3"]


def test_products_list_pages_are_at_most_five_hundred() -> None:
    ss, recorder, _ = client(lambda r: ok({"products": [], "total": 0, "page": 1, "pages": 0}))
    assert list(ss.products.list()) == []
    assert recorder.requests[0].url.params["pageSize"] == "500"
    with pytest.raises(ValueError, match="500"):
        ss.products.list(page_size=501)


def test_product_update_keeps_every_field_it_was_not_asked_to_change() -> None:
    stored = product_json()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return ok(stored)
        return ok({"success": True, "message": "The requested product has been updated"})

    ss, recorder, _ = client(handler)
    result = ss.products.update(7854008, weight_oz=Decimal("6.2"), warehouse_location="A-3")
    assert result.success
    assert recorder.methods() == [("GET", "/products/7854008"), ("PUT", "/products/7854008")]
    sent = body(recorder.requests[1])
    assert sent["weightOz"] == 6.2
    assert sent["warehouseLocation"] == "A-3"
    untouched = {k: v for k, v in stored.items() if k not in ("weightOz", "warehouseLocation")}
    for key, value in untouched.items():
        if key in ("createDate", "modifyDate"):
            continue  # read-only; written back in V1's seven-digit form
        assert sent[key] == value, key
    assert sent["aliases"] == [{"name": "MUG-1004", "storeId": 12345}]
    assert "productType" in sent
    assert sent["productType"] is None


def test_product_update_refuses_read_only_and_unknown_fields_before_sending_a_write() -> None:
    ss, recorder, _ = client(lambda r: ok(product_json()))
    with pytest.raises(ValueError, match="read-only"):
        ss.products.update(7854008, **{"modify_date": None})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no field 'weight'"):
        ss.products.update(7854008, **{"weight": 3})  # type: ignore[arg-type]
    assert all(r.method == "GET" for r in recorder.requests)


def test_a_product_put_is_retried_after_a_server_error_since_it_is_a_whole_record() -> None:
    answers = iter([ok({"Message": "An error has occurred."}, 500), ok({"success": True})])
    ss, recorder, _ = client(lambda r: next(answers))
    product = Product.from_dict(product_json())
    assert ss.products.replace(product).success
    assert [r.method for r in recorder.requests] == ["PUT", "PUT"]


def test_warehouses_list_get_create_update_delete() -> None:
    listed = load("warehouses.json")
    created: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if path == "/warehouses":
            return ok(listed)
        if path == "/warehouses/createwarehouse":
            created.update(body(request))
            return ok({**body(request), "warehouseId": 50001, "createDate": "2025-03-14T02:11:09"})
        if path == "/warehouses/17977" and method == "GET":
            return ok({**listed[0], "sellerIntegrationId": 77})
        if path == "/warehouses/17977" and method == "PUT":
            return ok(body(request))
        if path == "/warehouses/17977" and method == "DELETE":
            return ok({"success": True, "message": "The warehouse was deactivated"})
        return ok({"Message": "No HTTP resource was found"}, 404)

    ss, recorder, _ = client(handler)
    assert [w.warehouse_name for w in ss.warehouses.list()] == ["Main warehouse", "Austin"]

    origin = Address(name="Refurb FR", street1="1 rue A", city="Lyon", postal_code="69001",
                     country="FR")  # fmt: skip
    made = ss.warehouses.create(origin, warehouse_name="Lyon")
    assert made.warehouse_id == 50001
    assert created == {
        "warehouseName": "Lyon",
        "originAddress": {"name": "Refurb FR", "street1": "1 rue A", "city": "Lyon",
                          "postalCode": "69001", "country": "FR"},
    }  # fmt: skip

    updated = ss.warehouses.update(17977, warehouse_name="Spring")
    sent = body(recorder.requests[-1])
    assert updated.warehouse_name == "Spring"
    assert sent["warehouseName"] == "Spring"
    # The return address (defaulted to the origin when left out) and unknown keys survive.
    assert sent["returnAddress"] == listed[0]["returnAddress"]
    assert sent["originAddress"] == listed[0]["originAddress"]
    assert sent["sellerIntegrationId"] == 77
    assert sent["isDefault"] is True

    assert ss.warehouses.delete(17977).success
    assert recorder.methods()[-1] == ("DELETE", "/warehouses/17977")


def test_a_warehouse_create_needs_an_origin_and_is_never_resent() -> None:
    with pytest.raises(ValueError, match="origin_address"):
        create_warehouse_request(Warehouse(warehouse_name="nowhere"))
    with pytest.raises(ValueError, match="read-only"):
        with_changes(Warehouse(warehouse_id=1), {"warehouse_id": 2})
    ss, recorder, _ = client(lambda r: ok({"Message": "An error has occurred."}, 500))
    with pytest.raises(ServerError):
        ss.warehouses.create(Address(name="X", country="FR"))
    assert len(recorder.requests) == 1


def test_tags_list_and_create() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/accounts/listtags":
            return ok(load("tags.json"))
        return ok({"tagId": 9001, **body(request)})

    ss, recorder, _ = client(handler)
    assert [t.name for t in ss.tags.list()] == ["Backorder", "Canada", "Fragile", "Repeat Buyer"]
    tag = ss.tags.create("IMEI missing", color="#FF0000")
    assert (tag.tag_id, tag.name, tag.color) == (9001, "IMEI missing", "#FF0000")
    assert body(recorder.requests[-1]) == {"name": "IMEI missing", "color": "#FF0000"}
    with pytest.raises(ValueError, match="needs a name"):
        ss.tags.create("  ")


def test_assign_and_unassign_user() -> None:
    ss, recorder, _ = client(lambda r: ok({"success": True, "message": "User assigned."}))
    assert ss.orders.assign_user([11, 12], USER).success
    assert ss.orders.unassign_user((11,)).success
    assert body(recorder.requests[0]) == {"orderIds": [11, 12], "userId": USER}
    assert body(recorder.requests[1]) == {"orderIds": [11]}
    with pytest.raises(ValueError, match="GUID"):
        ss.orders.assign_user([11], "bob")
    with pytest.raises(ValueError, match="at least one"):
        ss.orders.unassign_user([])
    assert len(recorder.requests) == 2


def test_the_async_client_has_the_same_resources() -> None:
    stored = product_json()
    sent: list[tuple[str, str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        payload = json.loads(request.content) if request.content else None
        sent.append((request.method, request.url.path, payload))
        path = request.url.path
        if path == "/products":
            return ok({"products": [stored], "total": 1, "page": 1, "pages": 1})
        if path.startswith("/products/"):
            return ok(stored if request.method == "GET" else {"success": True})
        if path == "/warehouses":
            return ok(load("warehouses.json"))
        if path.startswith("/warehouses/") and request.method == "GET":
            return ok(load("warehouses.json")[1])
        if path.startswith("/warehouses/"):
            return ok(payload if request.method == "PUT" else {"success": True})
        if path == "/accounts/listtags":
            return ok(load("tags.json"))
        if path == "/accounts/createtag":
            return ok({"tagId": 1, **(payload or {})})
        return ok({"success": True})

    async def scenario() -> None:
        async with AsyncShipStationClient(
            api_key=KEY, api_secret=SECRET, transport=httpx.MockTransport(handler)
        ) as ss:
            assert [p.sku async for p in ss.products.list()] == ["1004"]
            assert (await ss.products.update(7854008, upc="0001")).success
            assert len(await ss.warehouses.list()) == 2
            moved = await ss.warehouses.update(14265, is_default=True)
            assert moved.is_default is True
            assert moved.warehouse_name == "Austin"
            assert (await ss.warehouses.delete(14265)).success
            assert len(await ss.tags.list()) == 4
            assert (await ss.tags.create("Grade A")).name == "Grade A"
            assert (await ss.orders.assign_user([1], USER)).success
            assert (await ss.orders.unassign_user([1])).success

    asyncio.run(scenario())
    put = next(p for m, path, p in sent if m == "PUT" and path.startswith("/products/"))
    assert put["upc"] == "0001"
    assert put["aliases"] == stored["aliases"]
    assert put["warehouseLocation"] == "Bin 22"
