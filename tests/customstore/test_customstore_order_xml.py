"""Every field of the Custom Store ``<Order>`` reference (shipstation-custom-store.md §1.3)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from customstore_support import bm_address, bm_line, bm_order
from defusedxml.ElementTree import fromstring
from hypothesis import given, settings
from hypothesis import strategies as st

from backmarket_shipstation.backmarket.models import Order as BackMarketOrder
from backmarket_shipstation.customstore import (
    CustomStoreStatuses,
    format_datetime,
    parse_datetime,
    render_order,
    render_orders,
)
from backmarket_shipstation.errors import MappingError
from backmarket_shipstation.mapping import CatalogProduct, to_shipstation_order
from backmarket_shipstation.shipstation.models import OrderStatus, Weight, WeightUnit

MODIFIED = datetime(2025, 3, 10, 21, 9, 33, tzinfo=timezone.utc)


def _render(payload: dict[str, Any], **options: Any) -> Any:
    order = to_shipstation_order(
        BackMarketOrder.from_dict(payload),
        catalog={
            "IP13-128-MID-EXC": CatalogProduct(
                weight=Weight(value=Decimal("0.4"), units=WeightUnit.POUNDS),
                warehouse_location="Aisle 3, Bin 5",
                options={"Colour": "Midnight"},
            )
        },
    )
    xml = render_order(
        order,
        last_modified=MODIFIED,
        currency=payload.get("currency"),
        custom_fields=("eu", "2025-03-12 16:00 UTC", "third"),
        **options,
    )
    return fromstring(render_orders([xml], pages=1), forbid_dtd=True).find("Order")


def test_order_level_fields() -> None:
    order = _render(bm_order())
    text = {child.tag: child.text for child in order if len(child) == 0}
    assert text["OrderID"] == "backmarket-41234567"
    assert text["OrderNumber"] == "41234567"
    assert text["OrderDate"] == "03/10/2025 08:30"
    assert text["OrderStatus"] == "bm_accepted"  # state 3, "to ship"
    assert text["LastModified"] == "03/10/2025 21:09"
    assert text["ShippingMethod"] == "Colissimo Expert"
    assert text["PaymentMethod"] == "CARD"
    assert text["CurrencyCode"] == "EUR"
    assert text["OrderTotal"] == "309.90"  # price + shipping, as the V1 amountPaid
    assert text["TaxAmount"] == "50.00"
    assert text["ShippingAmount"] == "9.90"
    assert text["Gift"] == "false"
    assert text["CustomField1"] == "eu"
    assert text["CustomField2"] == "2025-03-12 16:00 UTC"
    assert text["CustomField3"] == "third"
    assert text["Source"] == "Back Market"
    notes = text["InternalNotes"]
    assert "[Back Market] Delivery note: https://www.backmarket.fr/" in notes
    assert "[Back Market] Expected dispatch: 2025-03-12 16:00 UTC" in notes
    # The V1 import sends no customer notes nor gift message: absent, not empty.
    assert "CustomerNotes" not in text
    assert "GiftMessage" not in text


def test_customer_bill_to_and_ship_to() -> None:
    customer = _render(bm_order()).find("Customer")
    assert customer.findtext("CustomerCode") == "c.martin.abc123@relay.example"
    bill_to = {child.tag: child.text for child in customer.find("BillTo")}
    assert bill_to == {
        "Name": "Camille Martin",
        "Company": "Atelier <Lilas> & Co",
        "Phone": "+33612345678",  # the BEL control character is gone (gotcha 7)
        "Email": "c.martin.abc123@relay.example",
    }
    ship_to = {child.tag: child.text for child in customer.find("ShipTo")}
    assert ship_to == {
        "Name": "Camille Martin",
        "Company": "Atelier <Lilas> & Co",
        "Address1": "12 rue des Lilas",
        "Address2": "Bât. B ]]> escape",  # "]]>" survives the CDATA split
        "City": "Lyon",
        "PostalCode": "69003",
        "Country": "FR",
        "Phone": "+33612345678",
    }


def test_items_with_catalog_options_and_discount() -> None:
    payload = bm_order(
        orderlines=[
            bm_line(),
            bm_line(id=55501235, listing="CASE-13", product="Case", price="20.00", backcare=False),
        ],
        price="329.00",  # lines total 349.00: a 20.00 discount
    )
    items = _render(payload).findall("Items/Item")
    phone = {child.tag: child.text for child in items[0] if len(child) == 0}
    assert phone == {
        "LineItemID": "55501234",
        "SKU": "IP13-128-MID-EXC",
        "Name": "iPhone 13 128 Go - Minuit",
        "Weight": "0.4",
        "WeightUnits": "Pounds",
        "Quantity": "1",
        "UnitPrice": "329.00",
        "Location": "Aisle 3, Bin 5",
        "Adjustment": "false",
    }
    options = [
        (o.findtext("Name"), o.findtext("Value")) for o in items[0].findall("Options/Option")
    ]
    assert options == [
        ("Condition", "Excellent"),
        ("Brand", "apple"),
        ("Backcare", "yes"),
        ("Colour", "Midnight"),
    ]
    discount = {child.tag: child.text for child in items[2] if len(child) == 0}
    assert discount["Adjustment"] == "true"
    assert discount["UnitPrice"] == "-20.00"
    assert discount["LineItemID"] == "discount"


def test_fields_the_v1_mapping_leaves_empty_are_rendered_when_set() -> None:
    order = to_shipstation_order(BackMarketOrder.from_dict(bm_order()))
    item = attrs.evolve(order.items[0], image_url="https://img.example/13.png", upc="194252707197")
    order = attrs.evolve(
        order,
        customer_notes="Leave at the door",
        gift=True,
        gift_message="Happy birthday",
        items=(item,),
    )
    root = fromstring(render_orders([render_order(order, last_modified=MODIFIED)], pages=1))
    element = root.find("Order")
    assert element.findtext("CustomerNotes") == "Leave at the door"
    assert element.findtext("Gift") == "true"
    assert element.findtext("GiftMessage") == "Happy birthday"
    assert element.findtext("Items/Item/ImageUrl") == "https://img.example/13.png"
    assert element.findtext("Items/Item/UPC") == "194252707197"


@pytest.mark.parametrize(
    ("line_states", "expected"),
    [
        ([2], "bm_accepted"),
        ([3], "bm_shipped"),
        ([4], "bm_cancelled"),  # cancelled line
        ([6], "bm_cancelled"),  # refunded before shipping
        ([4, 6], "bm_cancelled"),
    ],
)
def test_status_strings_follow_the_lines(line_states: list[int], expected: str) -> None:
    lines = [bm_line(id=55501234 + n, state=s) for n, s in enumerate(line_states)]
    order = _render(bm_order(state=9 if expected == "bm_shipped" else 3, orderlines=lines))
    assert order.findtext("OrderStatus") == expected


def test_status_strings_are_configurable() -> None:
    statuses = CustomStoreStatuses(paid="Ready", cancelled="Annulée")
    assert statuses.for_status(OrderStatus.AWAITING_SHIPMENT) == "Ready"
    assert statuses.for_status(OrderStatus.CANCELLED) == "Annulée"
    with pytest.raises(ValueError, match="1 to 50"):
        CustomStoreStatuses(paid="x" * 51)


def test_lengths_are_respected_and_keys_never_cut() -> None:
    payload = bm_order(shipping_address=bm_address_long(), billing_address=None)
    order = _render(payload)
    assert len(order.findtext("Customer/ShipTo/Name")) <= 100
    assert len(order.findtext("Customer/ShipTo/Address1")) == 200
    too_long_sku = bm_order(orderlines=[bm_line(listing="S" * 101)])
    with pytest.raises(MappingError, match="SKU") as caught:
        _render(too_long_sku)
    assert caught.value.order_id == "41234567"


def bm_address_long() -> dict[str, Any]:
    return bm_address(first_name="A" * 80, last_name="B" * 80, street="C" * 300)


def test_order_total_must_fit_decimal_9_2() -> None:
    with pytest.raises(MappingError, match=r"decimal\(9,2\)"):
        _render(bm_order(price="10000000.00", orderlines=[bm_line(price="10000000.00")]))


def test_dates_round_trip_and_tolerate_shipstation_forms() -> None:
    assert format_datetime(MODIFIED) == "03/10/2025 21:09"
    assert parse_datetime("03/23/2012 21:09") == datetime(2012, 3, 23, 21, 9, tzinfo=timezone.utc)
    assert parse_datetime("3/4/2012 9:05:07 PM").hour == 21
    assert parse_datetime("10/18/2019 21:56 PM").hour == 21  # ShipStation's own example
    assert parse_datetime("03232012 2109") == datetime(2012, 3, 23, 21, 9, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="MM/dd/yyyy"):
        parse_datetime("2012-03-23")


def test_pages_attribute_is_an_xs_short() -> None:
    assert b'<Orders pages="0"></Orders>' in render_orders([], pages=0)
    with pytest.raises(ValueError, match="xs:short"):
        render_orders([], pages=40000)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.text(max_size=300))
def test_any_text_renders_to_xml_that_parses_back(text: str) -> None:
    order = to_shipstation_order(BackMarketOrder.from_dict(bm_order()))
    item = attrs.evolve(order.items[0], name=text or "x")
    order = attrs.evolve(order, internal_notes=text, items=(item,))
    root = fromstring(render_orders([render_order(order, last_modified=MODIFIED)], pages=1))
    expected = "".join(
        c
        for c in text.replace("\r\n", "\n").replace("\r", "\n")
        if c in "\t\n" or (c >= " " and not 0xD800 <= ord(c) <= 0xDFFF and c not in "\ufffe\uffff")
    )
    assert (root.findtext("Order/InternalNotes") or "") == expected[:1000]
    assert root.findtext("Order/Items/Item/Name") == (expected[:200] if text else "x")
