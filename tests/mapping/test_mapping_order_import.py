"""Order import: one test per row of the seed's import list, then the tricky cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from backmarket_shipstation.backmarket.models import Order as BackMarketOrder
from backmarket_shipstation.errors import MissingShipToAddressError, UnknownStatusError
from backmarket_shipstation.mapping import (
    CatalogProduct,
    order_key_for,
    parse_device_identifiers,
    seller_notes,
    to_shipstation_order,
)
from backmarket_shipstation.shipstation.models import (
    AdvancedOptions,
    ItemOption,
    OrderStatus,
    Weight,
    WeightUnit,
)
from backmarket_shipstation.shipstation.models import Order as ShipStationOrder

MakeOrder = Callable[..., BackMarketOrder]


def line(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 55501234,
        "state": 1,
        "listing": "IP13-128-MID-EXC",
        "product": "iPhone 13 128 Go",
        "brand": "apple",
        "quantity": 1,
        "price": "329.00",
        "shipping_price": "0.00",
        "imei": "",
        "serial_number": "",
        "condition": 10,
    }
    base.update(overrides)
    return base


def address(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "first_name": "Camille",
        "last_name": "Martin",
        "street": "12 rue des Lilas",
        "street2": "",
        "postal_code": "69003",
        "city": "Lyon",
        "country": "FR",
        "phone": "+33612345678",
        "email": "c.martin@relay.example",
    }
    base.update(overrides)
    return base


# ---------------------------------------------------------------------------------------
# Identity, dates, status
# ---------------------------------------------------------------------------------------


def test_order_number_is_the_backmarket_order_id(make_bm_order: MakeOrder) -> None:
    assert to_shipstation_order(make_bm_order()).order_number == "41234567"


def test_order_key_is_deterministic_and_stable(make_bm_order: MakeOrder) -> None:
    first = to_shipstation_order(make_bm_order())
    changed = to_shipstation_order(make_bm_order(state=3, price="300.00"))
    assert first.order_key == changed.order_key == "backmarket-41234567"
    assert order_key_for(41234567, prefix="bm-us-") == "bm-us-41234567"
    other = to_shipstation_order(make_bm_order(order_id=41234568))
    assert other.order_key != first.order_key


def test_dates_are_the_same_instants(make_bm_order: MakeOrder) -> None:
    order = to_shipstation_order(make_bm_order())
    assert order.order_date == datetime(2025, 3, 10, 8, 30, 12, 482913, tzinfo=timezone.utc)
    assert order.payment_date == datetime(2025, 3, 10, 8, 35, 39, 120000, tzinfo=timezone.utc)
    # The naive expected dispatch date means UTC; ShipStation's wire form is Pacific wall time.
    assert order.ship_by_date == datetime(2025, 3, 12, 16, 0, tzinfo=timezone.utc)
    wire = order.to_dict()
    assert wire["orderDate"] == "2025-03-10T01:30:12.4829130"  # UTC-7 in March (PDT)
    assert ShipStationOrder.from_dict(wire).order_date == order.order_date


def test_status_to_accept_imports_as_awaiting_shipment(make_bm_order: MakeOrder) -> None:
    assert to_shipstation_order(make_bm_order()).order_status is OrderStatus.AWAITING_SHIPMENT


def test_store_id_and_source(make_bm_order: MakeOrder) -> None:
    order = to_shipstation_order(make_bm_order(), store_id=518236)
    assert order.advanced_options == AdvancedOptions(store_id=518236, source="Back Market")
    assert to_shipstation_order(make_bm_order()).to_dict()["advancedOptions"] == {
        "source": "Back Market"
    }


@pytest.mark.parametrize("state", [0, 10, 8])
def test_orders_not_paid_are_not_importable(make_bm_order: MakeOrder, state: int) -> None:
    with pytest.raises(UnknownStatusError) as caught:
        to_shipstation_order(make_bm_order(state=state))
    assert caught.value.order_id == "41234567"


# ---------------------------------------------------------------------------------------
# Seed rows
# ---------------------------------------------------------------------------------------


def test_requires_ship_to_address(make_bm_order: MakeOrder) -> None:
    with pytest.raises(MissingShipToAddressError) as caught:
        to_shipstation_order(make_bm_order(shipping_address=None))
    assert caught.value.order_id == "41234567"
    assert caught.value.missing_fields == ("shipping_address",)
    assert "41234567" in str(caught.value)


def test_ship_to_address_missing_fields_are_named(make_bm_order: MakeOrder) -> None:
    incomplete = address(first_name="", last_name="", postal_code="", city="Lyon", street=" ")
    with pytest.raises(MissingShipToAddressError) as caught:
        to_shipstation_order(make_bm_order(shipping_address=incomplete))
    assert caught.value.missing_fields == ("first_name", "last_name", "street", "postal_code")


def test_postal_code_not_required_where_the_country_has_none(make_bm_order: MakeOrder) -> None:
    irish = address(country="IE", postal_code="", city="Galway")
    order = to_shipstation_order(make_bm_order(shipping_address=irish))
    assert order.ship_to.country == "IE"
    assert order.ship_to.postal_code is None
    with pytest.raises(MissingShipToAddressError, match="postal_code"):
        to_shipstation_order(make_bm_order(shipping_address=address(postal_code="")))


def test_ship_to_address_is_copied(make_bm_order: MakeOrder) -> None:
    us = address(
        first_name="Ada",
        last_name="Lovelace",
        company="Analytical Ltd",
        street="1 Main St",
        street2="Apt 4",
        city="Springfield",
        state_or_province="IL",
        postal_code="62701",
        country="us",
        phone="+12175550100",
    )
    ship_to = to_shipstation_order(make_bm_order(shipping_address=us)).ship_to
    assert ship_to.name == "Ada Lovelace"
    assert ship_to.company == "Analytical Ltd"
    assert (ship_to.street1, ship_to.street2, ship_to.city) == ("1 Main St", "Apt 4", "Springfield")
    assert (ship_to.state, ship_to.postal_code, ship_to.country) == ("IL", "62701", "US")


def test_imports_customer_email(make_bm_order: MakeOrder) -> None:
    order = to_shipstation_order(make_bm_order())
    assert order.customer_email == "c.martin.abc123@relay.example"
    assert order.customer_username == "c.martin.abc123@relay.example"
    fallback = make_bm_order(
        shipping_address=address(email=""), billing_address=address(email="bill@relay.example")
    )
    assert to_shipstation_order(fallback).customer_email == "bill@relay.example"


def test_imports_customer_phone(make_bm_order: MakeOrder) -> None:
    order = to_shipstation_order(make_bm_order())
    assert order.ship_to.phone == "+33612345678"
    assert order.bill_to.phone == "+33698765432"


def test_imports_bill_to_from_billing_address(make_bm_order: MakeOrder) -> None:
    bill_to = to_shipstation_order(make_bm_order()).bill_to
    assert bill_to.name == "Jean Martin"
    assert bill_to.street1 == "3 avenue Foch"
    no_billing = to_shipstation_order(make_bm_order(billing_address=None)).bill_to
    assert no_billing.name == "Camille Martin"  # ShipStation requires a billTo with a name


def test_imports_shipping_method(make_bm_order: MakeOrder) -> None:
    order = to_shipstation_order(make_bm_order(shipper_display="DHL Express"))
    assert order.requested_shipping_service == "DHL Express"


def test_imports_payment_method(make_bm_order: MakeOrder) -> None:
    assert to_shipstation_order(make_bm_order(payment_method="PAYPAL")).payment_method == "PAYPAL"


def test_imports_amounts(make_bm_order: MakeOrder) -> None:
    order = to_shipstation_order(make_bm_order(sales_taxes="21.50"))
    assert order.shipping_amount == Decimal("4.90")
    assert order.tax_amount == Decimal("21.50")
    # Back Market's price is the total incl. taxes, excl. shipping.
    assert order.amount_paid == Decimal("333.90")


def test_imports_items_one_per_orderline(make_bm_order: MakeOrder) -> None:
    order = to_shipstation_order(make_bm_order())
    (item,) = order.items or ()
    assert item.line_item_key == "55501234"
    assert item.sku == "IP13-128-MID-EXC"
    assert item.name == "iPhone 13 128 Go - Minuit - Débloqué"
    assert item.quantity == 1
    assert item.unit_price == Decimal("329.00")
    assert isinstance(item.unit_price, Decimal)
    assert item.adjustment is False


def test_imports_item_options(make_bm_order: MakeOrder) -> None:
    lines = [line(condition=9, brand="samsung", backcare=True), line(id=2, condition=77)]
    catalog = {"IP13-128-MID-EXC": CatalogProduct(options={"Colour": "Midnight"})}
    order = to_shipstation_order(make_bm_order(orderlines=lines, price="658.00"), catalog=catalog)
    first, second = order.items or ()
    assert first.options == (
        ItemOption(name="Condition", value="Premium"),
        ItemOption(name="Brand", value="samsung"),
        ItemOption(name="Backcare", value="yes"),
        ItemOption(name="Colour", value="Midnight"),
    )
    # An unknown grade code is shown as such, never dropped or renamed.
    assert second.options is not None
    assert second.options[0] == ItemOption(name="Condition", value="code 77")


def test_item_brand_is_trimmed_like_every_other_text(make_bm_order: MakeOrder) -> None:
    lines = [line(brand="  samsung "), line(id=2, brand="   ")]
    order = to_shipstation_order(make_bm_order(orderlines=lines, price="658.00"))
    first, second = order.items or ()
    assert ItemOption(name="Brand", value="samsung") in (first.options or ())
    assert all(option.name != "Brand" for option in second.options or ())


def test_imports_line_item_weight(make_bm_order: MakeOrder) -> None:
    catalog = {"ip13-128-mid-exc": CatalogProduct(weight=Weight.grams(240))}
    (item,) = to_shipstation_order(make_bm_order(), catalog=catalog).items or ()
    assert item.weight == Weight.grams(240)  # SKU matched case-insensitively


def test_imports_stock_location(make_bm_order: MakeOrder) -> None:
    catalog = {"IP13-128-MID-EXC": CatalogProduct(warehouse_location="Shelf B-04")}
    (item,) = to_shipstation_order(make_bm_order(), catalog=catalog).items or ()
    assert item.warehouse_location == "Shelf B-04"


def test_imports_total_order_weight(make_bm_order: MakeOrder) -> None:
    lines = [line(), line(id=2, listing="CASE", quantity=3, price="10.00")]
    catalog = {
        "IP13-128-MID-EXC": CatalogProduct(weight=Weight.grams(240)),
        "CASE": CatalogProduct(weight=Weight.grams(30)),
    }
    order = to_shipstation_order(make_bm_order(orderlines=lines, price="359.00"), catalog=catalog)
    assert order.weight == Weight(value=Decimal(330), units=WeightUnit.GRAMS)


def test_total_weight_mixes_units_in_grams(make_bm_order: MakeOrder) -> None:
    lines = [line(), line(id=2, listing="CASE", price="0")]
    catalog = {
        "IP13-128-MID-EXC": CatalogProduct(weight=Weight.ounces(8)),
        "CASE": CatalogProduct(weight=Weight.grams(30)),
    }
    order = to_shipstation_order(make_bm_order(orderlines=lines), catalog=catalog)
    assert order.weight == Weight(value=Decimal("256.80"), units=WeightUnit.GRAMS)


def test_no_total_weight_when_a_weight_is_unknown(make_bm_order: MakeOrder) -> None:
    lines = [line(), line(id=2, listing="CASE", price="0")]
    catalog = {"IP13-128-MID-EXC": CatalogProduct(weight=Weight.grams(240))}
    order = to_shipstation_order(make_bm_order(orderlines=lines), catalog=catalog)
    assert order.weight is None  # a partial sum would be a wrong weight


def test_imports_discount(make_bm_order: MakeOrder) -> None:
    lines = [line(), line(id=2, listing="CASE", quantity=2, price="15.00")]
    order = to_shipstation_order(make_bm_order(orderlines=lines, price="339.00"))
    *_, discount = order.items or ()
    assert discount.adjustment is True
    assert discount.unit_price == Decimal("-20.00")
    assert discount.quantity == 1
    assert discount.line_item_key == "discount"
    assert "adjustment" in discount.to_dict()


def test_no_discount_line_when_price_matches(make_bm_order: MakeOrder) -> None:
    order = to_shipstation_order(make_bm_order())
    assert [item.adjustment for item in order.items or ()] == [False]


def test_gift_flag(make_bm_order: MakeOrder) -> None:
    order = to_shipstation_order(make_bm_order())
    assert order.gift is False
    assert order.to_dict()["gift"] is False  # sent explicitly, not left out


def test_imports_customer_notes(make_bm_order: MakeOrder) -> None:
    # Back Market orders carry no buyer notes: nothing is invented.
    order = to_shipstation_order(make_bm_order())
    assert order.customer_notes is None
    assert "customerNotes" not in order.to_dict()


def test_imports_internal_notes(make_bm_order: MakeOrder) -> None:
    notes = to_shipstation_order(make_bm_order(is_backship=True)).internal_notes or ""
    assert "Delivery note: https://www.backmarket.fr/ws/delivery_note/41234567.pdf" in notes
    assert "Expected dispatch: 2025-03-12 16:00 UTC" in notes
    assert "Backship: yes" in notes
    # The SDK's lines never read as device identifiers, even though they hold numbers.
    assert parse_device_identifiers(notes) == ()


def test_internal_notes_mention_a_collection_point(make_bm_order: MakeOrder) -> None:
    notes = to_shipstation_order(make_bm_order(delivery_mode="COLLECTION_POINT")).internal_notes
    assert "collection point" in (notes or "")


# ---------------------------------------------------------------------------------------
# Re-import over an existing ShipStation order
# ---------------------------------------------------------------------------------------


def _existing(order: ShipStationOrder, **wire: Any) -> ShipStationOrder:
    payload = order.to_dict()
    payload.update({"orderId": 470873934, **wire})
    return ShipStationOrder.from_dict(payload)


def test_reimport_preserves_seller_internal_notes(make_bm_order: MakeOrder) -> None:
    first = to_shipstation_order(make_bm_order())
    existing = _existing(
        first, internalNotes=(first.internal_notes or "") + "\nIMEI: 490154203237518\nfragile"
    )
    again = to_shipstation_order(make_bm_order(state=3), existing=existing)
    assert seller_notes(again.internal_notes) == "IMEI: 490154203237518\nfragile"
    assert (again.internal_notes or "").count("Delivery note") == 1


def test_reimport_preserves_shipstation_side_edits(make_bm_order: MakeOrder) -> None:
    catalog = {"IP13-128-MID-EXC": CatalogProduct(warehouse_location="Shelf B-04")}
    first = to_shipstation_order(make_bm_order(), store_id=1, catalog=catalog)
    payload = first.to_dict()
    payload["items"][0]["weight"] = {"value": 250, "units": "grams"}
    payload["items"][0]["orderItemId"] = 700112233
    existing = _existing(
        ShipStationOrder.from_dict(payload),
        tagIds=[12],
        carrierCode="colissimo",
        serviceCode="colissimo_expert",
        weight={"value": 300, "units": "grams"},
        orderStatus="on_hold",
        customField="kept",
        advancedOptions={"storeId": 1, "warehouseId": 499995, "customField1": "bin 7"},
        shipTo={**payload["shipTo"], "addressVerified": "Address validated successfully"},
    )
    again = to_shipstation_order(make_bm_order(state=3), existing=existing, store_id=2)
    assert again.order_id == 470873934
    assert again.tag_ids == (12,)
    assert (again.carrier_code, again.service_code) == ("colissimo", "colissimo_expert")
    assert again.weight == Weight.grams(300)  # no catalog weight: the seller's stays
    assert again.order_status is OrderStatus.ON_HOLD
    assert again.to_dict()["customField"] == "kept"
    assert again.advanced_options is not None
    assert again.advanced_options.store_id == 1  # storeId is fixed at creation
    assert again.advanced_options.warehouse_id == 499995
    assert again.advanced_options.custom_field1 == "bin 7"
    (item,) = again.items or ()
    assert item.order_item_id == 700112233
    assert item.weight == Weight.grams(250)
    assert item.warehouse_location == "Shelf B-04"
    assert again.ship_to.address_verified == "Address validated successfully"


def test_reimport_cancellation_wins_over_on_hold(make_bm_order: MakeOrder) -> None:
    first = to_shipstation_order(make_bm_order())
    existing = _existing(first, orderStatus="on_hold")
    cancelled = make_bm_order(state=9, orderlines=[line(state=4)])
    assert to_shipstation_order(cancelled, existing=existing).order_status is OrderStatus.CANCELLED


# ---------------------------------------------------------------------------------------
# Tricky cases
# ---------------------------------------------------------------------------------------


def test_cancelled_lines_are_not_packed(make_bm_order: MakeOrder) -> None:
    lines = [line(), line(id=2, listing="CASE", price="10.00", state=4)]
    order = to_shipstation_order(make_bm_order(orderlines=lines, price="329.00"))
    assert [item.line_item_key for item in order.items or ()] == ["55501234"]


def test_fully_cancelled_order_keeps_its_lines_and_is_cancelled(make_bm_order: MakeOrder) -> None:
    lines = [line(state=4), line(id=2, listing="CASE", price="10.00", state=5)]
    order = to_shipstation_order(make_bm_order(state=9, orderlines=lines, price="339.00"))
    assert order.order_status is OrderStatus.CANCELLED
    assert len(order.items or ()) == 2


def test_wire_form_has_no_nulls_and_round_trips(make_bm_order: MakeOrder) -> None:
    order = to_shipstation_order(make_bm_order(), store_id=5)
    wire = order.to_dict()

    def walk(value: Any) -> None:
        assert value is not None
        assert value != "None"
        if isinstance(value, dict):
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(wire)
    assert ShipStationOrder.from_dict(wire, strict=True) == order


def test_item_name_falls_back_to_the_sku(make_bm_order: MakeOrder) -> None:
    order = to_shipstation_order(make_bm_order(orderlines=[line(product="")]))
    assert (order.items or ())[0].name == "IP13-128-MID-EXC"
