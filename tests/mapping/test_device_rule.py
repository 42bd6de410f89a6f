"""Which order lines need an IMEI or serial number by default: devices, not accessories."""

from __future__ import annotations

import pytest

from backmarket_shipstation.errors import MissingIdentifierError
from backmarket_shipstation.mapping import (
    DeviceIdentifier,
    IdentifiableLine,
    assign_device_identifiers,
    device_lines,
    every_single_unit_line,
    is_accessory_name,
)
from backmarket_shipstation.mapping.identifiers import IdentifierKind


@pytest.mark.parametrize(
    "title",
    [
        "Clear silicone case",
        "20W USB-C charger",
        "Coque iPhone 13",
        "Câble USB-C vers Lightning",
        "Samsung Galaxy S21 Case",
        "Funda para iPhone 12",
        "Panzerglas Schutzfolie iPhone 14",
        "Caricabatterie 20W",
        "Hoesje iPhone 11",
    ],
)
def test_accessory_titles(title: str) -> None:
    assert is_accessory_name(title)


@pytest.mark.parametrize(
    "title",
    [
        "iPhone 13 128 GB - Blue - Unlocked",
        "iPhone 13 avec chargeur",
        "iPhone 12 + charger",
        "iPad Air with Smart Cover",
        "Apple Watch Series 7 - Bracelet sport",
        'MacBook Air 13" M1 (2020) 512 GB',
        None,
        "",
    ],
)
def test_device_titles(title: str | None) -> None:
    assert not is_accessory_name(title)


def test_default_rule_skips_accessories_but_strict_rule_does_not() -> None:
    phone = IdentifiableLine(key="1", sku="IP13", quantity=1, name="iPhone 13 128 GB")
    case = IdentifiableLine(key="2", sku="CASE", quantity=1, name="Clear silicone case")
    cables = IdentifiableLine(key="3", sku="CABLE", quantity=2, name="iPhone 13 128 GB")
    assert [device_lines(line) for line in (phone, case, cables)] == [True, False, False]
    assert [every_single_unit_line(line) for line in (phone, case, cables)] == [True, True, False]


def test_an_order_of_a_phone_and_a_case_needs_only_the_phone_imei() -> None:
    lines = [
        IdentifiableLine(key="1", sku="IP13", quantity=1, name="iPhone 13 128 GB"),
        IdentifiableLine(key="2", sku="CASE", quantity=1, name="Clear silicone case"),
    ]
    imei = DeviceIdentifier(kind=IdentifierKind.IMEI, value="490154203237518")
    (assigned,) = assign_device_identifiers([imei], lines, order_id=7)
    assert (assigned.line_key, assigned.imei) == ("1", "490154203237518")
    with pytest.raises(MissingIdentifierError) as caught:
        assign_device_identifiers(
            [imei], lines, order_id=7, requires_identifier=every_single_unit_line
        )
    assert caught.value.order_id == "7"
