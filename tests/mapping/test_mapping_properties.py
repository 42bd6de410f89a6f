"""Hypothesis properties of the mapping: typed errors only, stable keys, IMEI round trips."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from backmarket_shipstation.backmarket.models import Order as BackMarketOrder
from backmarket_shipstation.errors import BackMarketShipStationError, DeviceIdentifierError
from backmarket_shipstation.mapping import (
    IdentifierKind,
    LineIdentifiers,
    NotificationSource,
    NotificationStatus,
    ShipmentNotification,
    ShippedLine,
    is_valid_imei,
    parse_device_identifiers,
    to_backmarket_updates,
    to_shipment_notification,
    to_shipstation_order,
)
from backmarket_shipstation.mapping.identifiers import imei_check_digit
from backmarket_shipstation.shipstation.models import Order as ShipStationOrder
from backmarket_shipstation.shipstation.models import Shipment

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

imei_bodies = st.text(alphabet="0123456789", min_size=14, max_size=14)
valid_imeis = imei_bodies.map(lambda body: body + str(imei_check_digit(body)))
texts = st.text(max_size=12) | st.sampled_from(["", " ", "FR", "US", "IE", "None"])
maybe_text = st.none() | texts
money = st.none() | st.decimals(
    min_value=Decimal("-10"), max_value=Decimal("2000"), places=2, allow_nan=False
).map(str)
dates = st.none() | st.sampled_from(
    ["2025-03-10T08:30:12.482913Z", "2025-03-12T16:00:00", "2025-01-01T00:00:00+02:00", "bad"]
)
order_states = st.none() | st.sampled_from([0, 1, 3, 8, 9, 10, 42])
line_states = st.none() | st.integers(min_value=0, max_value=10)


def address() -> st.SearchStrategy[dict[str, Any] | None]:
    return st.none() | st.fixed_dictionaries(
        {},
        optional={
            "first_name": maybe_text,
            "last_name": maybe_text,
            "street": maybe_text,
            "street2": maybe_text,
            "postal_code": maybe_text,
            "city": maybe_text,
            "country": maybe_text,
            "phone": maybe_text,
            "email": maybe_text,
            "company": maybe_text,
        },
    )


orderlines = st.lists(
    st.fixed_dictionaries(
        {"id": st.integers(min_value=1, max_value=10**9)},
        optional={
            "state": line_states,
            "listing": maybe_text,
            "product": maybe_text,
            "brand": maybe_text,
            "quantity": st.none() | st.integers(min_value=-1, max_value=5),
            "price": money,
            "shipping_price": money,
            "condition": st.none() | st.integers(min_value=0, max_value=13),
            "imei": st.none() | st.just("") | valid_imeis,
            "backcare": st.none() | st.booleans(),
        },
    ),
    max_size=4,
)

bm_payloads = st.fixed_dictionaries(
    {"order_id": st.integers(min_value=1, max_value=10**9)},
    optional={
        "state": order_states,
        "date_creation": dates,
        "date_payment": dates,
        "expected_dispatch_date": dates,
        "shipping_address": address(),
        "billing_address": address(),
        "orderlines": st.none() | orderlines,
        "price": money,
        "shipping_price": money,
        "sales_taxes": money,
        "payment_method": maybe_text,
        "shipper_display": maybe_text,
        "is_backship": st.none() | st.booleans(),
        "delivery_note": maybe_text,
        "currency": maybe_text,
        "delivery_mode": st.none() | st.sampled_from(["HOME_DELIVERY", "COLLECTION_POINT", "X"]),
    },
)

names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20
)
names = names.filter(str.strip)
complete_addresses = st.fixed_dictionaries(
    {
        "first_name": names,
        "last_name": maybe_text,
        "street": names,
        "city": names,
        "country": st.sampled_from(["FR", "DE", "GB", "US", "ie", "ES"]),
        "postal_code": names,
    },
    optional={"street2": maybe_text, "phone": maybe_text, "email": maybe_text},
)
# Orders that pass every check, so the properties also look at successful imports.
importable_payloads = st.fixed_dictionaries(
    {
        "order_id": st.integers(min_value=1, max_value=10**9),
        "state": st.sampled_from([1, 3, 9]),
        "date_creation": st.sampled_from(["2025-03-10T08:30:12.482913Z", "2024-11-03T09:30:00"]),
        "shipping_address": complete_addresses,
        "orderlines": orderlines,
    },
    optional={
        "billing_address": address(),
        "price": money,
        "shipping_price": money,
        "sales_taxes": money,
        "payment_method": maybe_text,
        "shipper_display": maybe_text,
        "is_backship": st.none() | st.booleans(),
        "expected_dispatch_date": dates,
    },
)
any_payloads = bm_payloads | importable_payloads


@SETTINGS
@given(any_payloads)
def test_order_import_raises_only_typed_errors(payload: dict[str, Any]) -> None:
    try:
        order = to_shipstation_order(BackMarketOrder.from_dict(payload))
    except BackMarketShipStationError:
        return
    wire = order.to_dict()
    assert ShipStationOrder.from_dict(wire, strict=True).to_dict() == wire
    assert order.order_number == str(payload["order_id"])


@SETTINGS
@given(importable_payloads)
def test_importable_orders_import(payload: dict[str, Any]) -> None:
    try:
        bm_order = BackMarketOrder.from_dict(payload)
    except BackMarketShipStationError:
        return  # a generated amount or date the model refuses
    order = to_shipstation_order(bm_order)
    assert order.gift is False
    assert order.ship_to.name
    # Re-importing over itself changes nothing the mapping owns.
    again = to_shipstation_order(bm_order, existing=order)
    assert again.to_dict() == order.to_dict()


@SETTINGS
@given(any_payloads, any_payloads)
def test_order_key_is_stable(first: dict[str, Any], second: dict[str, Any]) -> None:
    second = {**second, "order_id": first["order_id"]}
    keys = set()
    for payload in (first, second):
        try:
            keys.add(to_shipstation_order(BackMarketOrder.from_dict(payload)).order_key)
        except BackMarketShipStationError:
            continue
    # Whatever else differs, one Back Market order always has one key.
    assert len(keys) <= 1
    assert keys <= {f"backmarket-{first['order_id']}"}


separators = st.sampled_from([", ", " ", "\n", "; ", ",\n", "  "])
labels = st.sampled_from(["", "IMEI: ", "imei ", "IMEI1: ", "IMEI - "])


@SETTINGS
@given(st.lists(valid_imeis, min_size=1, max_size=5, unique=True), separators, labels)
def test_valid_imeis_round_trip(imeis: list[str], separator: str, label: str) -> None:
    assert all(is_valid_imei(imei) for imei in imeis)
    parsed = parse_device_identifiers(label + separator.join(imeis))
    assert [(i.kind, i.value, i.sku) for i in parsed] == [
        (IdentifierKind.IMEI, imei, None) for imei in imeis
    ]


@SETTINGS
@given(
    st.lists(valid_imeis, min_size=1, max_size=4, unique=True),
    st.lists(st.from_regex(r"[A-Z][A-Z0-9\-]{2,12}", fullmatch=True), min_size=4, max_size=4),
)
def test_valid_imeis_round_trip_as_sku_pairs(imeis: list[str], skus: list[str]) -> None:
    assume(len({sku.casefold() for sku in skus}) == len(skus))
    pairs = list(zip(imeis, skus[: len(imeis)], strict=True))
    notes = "\n".join(f"{sku}: {imei}" for imei, sku in pairs)
    parsed = parse_device_identifiers(notes, skus=skus)
    assert [(i.value, i.sku) for i in parsed] == pairs


@SETTINGS
@given(valid_imeis, st.integers(min_value=1, max_value=9))
def test_any_single_digit_typo_is_caught(imei: str, delta: int) -> None:
    position = len(imei) - 1
    typo = imei[:position] + str((int(imei[position]) + delta) % 10)
    assert not is_valid_imei(typo)


@SETTINGS
@given(st.text(max_size=200))
def test_parsing_any_text_raises_only_typed_errors(notes: str) -> None:
    try:
        found = parse_device_identifiers(notes)
    except DeviceIdentifierError:
        return
    for identifier in found:
        if identifier.kind is IdentifierKind.IMEI:
            assert is_valid_imei(identifier.value)
        else:
            assert 0 < len(identifier.value) <= 50


@SETTINGS
@given(any_payloads, st.text(max_size=80), st.none() | st.text(max_size=20))
def test_notification_and_plan_raise_only_typed_errors(
    payload: dict[str, Any], notes: str, tracking: str | None
) -> None:
    try:
        bm_order = BackMarketOrder.from_dict(payload)
        ss_order = to_shipstation_order(bm_order)
    except BackMarketShipStationError:
        return
    ss_order = ShipStationOrder.from_dict({**ss_order.to_dict(), "internalNotes": notes})
    shipment = Shipment.from_dict(
        {
            "shipmentId": 1,
            "trackingNumber": tracking,
            "carrierCode": "ups",
            "shipDate": "2025-03-11",
        }
    )
    try:
        notification = to_shipment_notification(ss_order, shipment, requires_identifier=bool)
        to_backmarket_updates(notification, bm_order)
    except BackMarketShipStationError:
        return


@SETTINGS
@given(
    any_payloads,
    st.lists(
        st.builds(
            LineIdentifiers,
            orderline_id=st.integers(min_value=1, max_value=10**9),
            imei=st.none() | valid_imeis | st.text(max_size=16),
            serial_number=st.none() | st.text(max_size=60),
        ),
        max_size=3,
    ),
)
def test_write_plan_raises_only_typed_errors(
    payload: dict[str, Any], identifiers: list[LineIdentifiers]
) -> None:
    try:
        bm_order = BackMarketOrder.from_dict(payload)
    except BackMarketShipStationError:
        return
    notification = ShipmentNotification(
        order_id=bm_order.order_id,
        status=NotificationStatus.SHIPPED,
        tracking_number="T1",
        source=NotificationSource.SHIPMENT,
        identifiers=tuple(identifiers),
        shipped_lines=tuple(
            ShippedLine(orderline_id=line.id, quantity=line.quantity or 1)
            for line in bm_order.lines
        ),
    )
    try:
        plan = to_backmarket_updates(notification, bm_order)
    except BackMarketShipStationError:
        return
    for write in plan:
        identifiers_sent = write.identifiers if hasattr(write, "identifiers") else write
        imei = getattr(identifiers_sent, "imei", None)
        assert imei is None or is_valid_imei(imei)
