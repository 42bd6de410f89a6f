"""The simulator's products, warehouses, tags and order users, through the SDK's client:
over real loopback sockets once, then in-process (shipstation.md A.2 to A.4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.errors import InvalidRequestError, NotFoundError
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.shipstation import Address, Order, Product, ShipStationClient, Weight


def order(number: str, sku: str, store_id: int, **item: Any) -> Order:
    return Order.from_dict(
        {
            "orderNumber": number,
            "orderKey": f"backmarket-{number}",
            "orderDate": "2026-01-05T01:00:00.0000000",
            "orderStatus": "awaiting_shipment",
            "billTo": {"name": "Camille Martin"},
            "shipTo": {"name": "Camille Martin", "street1": "12 rue des Lilas", "city": "Lyon",
                       "postalCode": "69003", "country": "FR"},
            "items": [{"name": "iPhone 13", "sku": sku, "quantity": 1, "unitPrice": 329.0,
                       **item}],
            "advancedOptions": {"storeId": store_id},
        }
    )  # fmt: skip


def client(sandbox: Sandbox, **kwargs: Any) -> ShipStationClient:
    return ShipStationClient(
        api_key=sandbox.shipstation_api_key,
        api_secret=sandbox.shipstation_api_secret,
        clock=sandbox.clock,
        **kwargs,
    )


def test_products_over_loopback_whole_record_update_keeps_every_other_field() -> None:
    sandbox = Sandbox(seed=41, orders=0, clock=VirtualClock())
    sim = sandbox.shipstation
    sim.add_product("IP13-128-MID", name="iPhone 13 128 GB", weight_oz="8.1",
                    warehouse_location="Aisle 1 / Bin 13", price=Decimal(329),
                    customsDescription="Refurbished phone", upc="0194252707340",
                    aliases=[{"name": "IP13-MID", "storeId": 310001}])  # fmt: skip
    with (
        sandbox.serve(deliver_webhooks=False) as served,
        client(sandbox, base_url=served.shipstation_url) as ss,
    ):
        (found,) = ss.products.list(sku="ip13-128-mid")
        before = sim.products()[0]
        assert ss.products.update(found.product_id, warehouse_location="Aisle 2 / Bin 1").success
    after = sim.products()[0]
    assert after["warehouseLocation"] == "Aisle 2 / Bin 1"
    for key, value in before.items():
        if key not in ("warehouseLocation", "modifyDate"):
            assert after[key] == value, key
    assert after["modifyDate"] >= before["modifyDate"]


def test_a_put_of_a_partial_record_wipes_what_it_left_out_as_v1_documents() -> None:
    sandbox = Sandbox(seed=42, orders=0, clock=VirtualClock())
    product = sandbox.shipstation.add_product("GS22", weight_oz=6, warehouse_location="Bin 22")
    ss = client(sandbox, transport=sandbox.shipstation_transport())
    bare = Product(product_id=product["productId"], sku="GS22", name="Galaxy S22")
    assert ss.products.replace(bare).success  # what update() exists to avoid
    (stored,) = sandbox.shipstation.products()
    assert stored["weightOz"] is None
    assert stored["warehouseLocation"] is None


def test_product_list_filters_sorts_and_pages() -> None:
    clock = VirtualClock()
    sandbox = Sandbox(seed=43, orders=0, clock=clock)
    for n in range(7):
        clock.advance(60)
        sandbox.shipstation.add_product(f"SKU-{n}", weight_oz=n + 1)
    clock.advance(60)
    sandbox.shipstation.add_product("OLD", active=False)
    ss = client(sandbox, transport=sandbox.shipstation_transport())
    assert [p.sku for p in ss.products.list(page_size=3)] == [f"SKU-{n}" for n in range(7)]
    newest = list(ss.products.list(sort_by="ModifyDate", sort_dir="DESC", show_inactive=True))
    assert [p.sku for p in newest][:2] == ["OLD", "SKU-6"]
    assert [p.sku for p in ss.products.list(name="sku-3")] == ["SKU-3"]
    with pytest.raises(NotFoundError):
        ss.products.get(1)


def test_an_order_with_a_new_sku_creates_its_product_record() -> None:
    sandbox = Sandbox(seed=44, orders=0, clock=VirtualClock())
    ss = client(sandbox, transport=sandbox.shipstation_transport())
    store = sandbox.shipstation_store_id
    ss.orders.upsert(order("1001", "PX8-128", store, weight={"value": 283.5, "units": "grams"},
                           warehouseLocation="Bin 8"))  # fmt: skip
    ss.orders.upsert(order("1002", "px8-128", store, warehouseLocation="elsewhere"))
    (product,) = ss.products.list()
    assert product.sku == "PX8-128"
    assert product.unit_weight() == Weight.ounces("10.00")
    assert product.warehouse_location == "Bin 8"  # a later order changes nothing


def test_warehouses_create_update_delete() -> None:
    sandbox = Sandbox(seed=45, orders=0, clock=VirtualClock())
    ss = client(sandbox, transport=sandbox.shipstation_transport())
    (main,) = ss.warehouses.list()
    assert main.is_default
    origin = Address(name="Refurb DE", street1="Hauptstr. 1", city="Berlin", postal_code="10115",
                     country="DE")  # fmt: skip
    berlin = ss.warehouses.create(origin, warehouse_name="Berlin", is_default=True)
    assert berlin.return_address == berlin.origin_address  # defaults to the origin
    renamed = ss.warehouses.update(berlin.warehouse_id or 0, warehouse_name="Berlin 2")
    assert renamed.warehouse_name == "Berlin 2"
    assert renamed.origin_address == berlin.origin_address
    assert renamed.is_default
    assert not ss.warehouses.get(main.warehouse_id or 0).is_default
    assert ss.warehouses.delete(berlin.warehouse_id or 0).success
    assert [w.warehouse_id for w in ss.warehouses.list()] == [main.warehouse_id]
    with pytest.raises(InvalidRequestError):
        ss.warehouses.create(Address(name="no street", country="FR"))


def test_tags_create_and_tag_an_order_with_the_new_one() -> None:
    sandbox = Sandbox(seed=46, orders=0, clock=VirtualClock())
    ss = client(sandbox, transport=sandbox.shipstation_transport())
    tag = ss.tags.create("IMEI missing", color="#FF8800")
    assert tag.tag_id is not None
    assert tag.name in [t.name for t in ss.tags.list()]
    with pytest.raises(InvalidRequestError):
        ss.tags.create("imei MISSING")
    made = ss.orders.upsert(order("2001", "IP13", sandbox.shipstation_store_id))
    assert ss.orders.add_tag(made.order_id or 0, tag.tag_id).success
    assert ss.orders.get(made.order_id or 0).tag_ids == (tag.tag_id,)


def test_assign_user_is_all_or_nothing() -> None:
    sandbox = Sandbox(seed=47, orders=0, clock=VirtualClock())
    ss = client(sandbox, transport=sandbox.shipstation_transport())
    first = ss.orders.upsert(order("3001", "IP13", sandbox.shipstation_store_id))
    second = ss.orders.upsert(order("3002", "IP13", sandbox.shipstation_store_id))
    ids = [first.order_id or 0, second.order_id or 0]
    user = sandbox.shipstation.user_id
    with pytest.raises(NotFoundError):
        ss.orders.assign_user([*ids, 999], user)
    assert ss.orders.get(ids[0]).user_id is None  # nothing was assigned
    assert ss.orders.assign_user(ids, user).success
    assert {ss.orders.get(i).user_id for i in ids} == {user}
    again = ss.orders.upsert(attrs.evolve(ss.orders.get(ids[0]), internal_notes="IMEI 1"))
    assert again.user_id == user  # userId is read-only: an upsert keeps it
    assert ss.orders.unassign_user(ids[:1]).success
    assert ss.orders.get(ids[0]).user_id is None
    assert ss.orders.get(ids[1]).user_id == user
