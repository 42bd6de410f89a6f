"""Shipment notification: the seed's "Data Sent with Shipment Notification" rows and more."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from backmarket_shipstation.backmarket.models import Order as BackMarketOrder
from backmarket_shipstation.backmarket.models import OrderLineState, OrderUpdate
from backmarket_shipstation.errors import (
    IdentifierCountError,
    InvalidIMEIError,
    MappingError,
    MissingIdentifierError,
)
from backmarket_shipstation.mapping import (
    DEFAULT_CARRIER_MAP,
    LineIdentifiers,
    NotificationSource,
    NotificationStatus,
    ShipmentNotification,
    to_backmarket_updates,
    to_shipment_notification,
)
from backmarket_shipstation.shipstation.models import PACIFIC, Fulfillment, Shipment
from backmarket_shipstation.shipstation.models import Order as ShipStationOrder

IMEI_A = "490154203237518"
IMEI_B = "356938035643809"
BAD_IMEI = "490154203237519"

MakeBM = Callable[..., BackMarketOrder]
MakeSS = Callable[..., ShipStationOrder]
MakeShipment = Callable[..., Shipment]
MakeFulfillment = Callable[..., Fulfillment]


def notify(
    make_ss_order: MakeSS, make_shipment: MakeShipment, **kwargs: Any
) -> ShipmentNotification:
    return to_shipment_notification(
        make_ss_order(internal_notes=f"IMEI: {IMEI_A}"), make_shipment(), currency="EUR", **kwargs
    )


# ---------------------------------------------------------------------------------------
# Seed rows: what is sent, and what is not
# ---------------------------------------------------------------------------------------


def test_notification_status_update(make_ss_order: MakeSS, make_shipment: MakeShipment) -> None:
    notification = notify(make_ss_order, make_shipment)
    assert notification.status is NotificationStatus.SHIPPED
    assert notification.order_id == 41234567
    assert notification.source is NotificationSource.SHIPMENT
    assert (notification.shipment_id, notification.shipstation_order_id) == (271726263, 470873934)


def test_notification_tracking_number(make_ss_order: MakeSS, make_shipment: MakeShipment) -> None:
    notification = to_shipment_notification(
        make_ss_order(internal_notes=f"IMEI: {IMEI_A}"),
        make_shipment(trackingNumber=" 1Z1V 152Y 6827 8225 33 "),
    )
    assert notification.tracking_number == "1Z1V152Y6827822533"
    assert notification.tracking_url == "https://www.ups.com/track?tracknum=1Z1V152Y6827822533"


def test_notification_carrier(make_ss_order: MakeSS, make_shipment: MakeShipment) -> None:
    notification = notify(make_ss_order, make_shipment)
    assert notification.carrier_code == "ups_walleted"
    assert notification.shipper == "UPS standard"  # the service refines the carrier


def test_notification_service(make_ss_order: MakeSS, make_shipment: MakeShipment) -> None:
    assert notify(make_ss_order, make_shipment).service_code == "ups_standard_international"


def test_notification_carrier_fee(make_ss_order: MakeSS, make_shipment: MakeShipment) -> None:
    notification = notify(make_ss_order, make_shipment)
    assert notification.carrier_fee == Decimal("9.57")
    assert isinstance(notification.carrier_fee, Decimal)
    assert notification.currency == "EUR"
    assert notification.to_dict()["carrier_fee"] == "9.57"


def test_notification_no_note_to_buyer(make_ss_order: MakeSS, make_shipment: MakeShipment) -> None:
    notification = notify(make_ss_order, make_shipment)
    assert notification.note_to_buyer is None
    assert "note_to_buyer" not in notification.to_dict()


def test_notification_no_item_information(
    make_ss_order: MakeSS, make_shipment: MakeShipment, make_bm_order: MakeBM
) -> None:
    notification = notify(make_ss_order, make_shipment)
    assert notification.items is None
    assert "items" not in notification.to_dict()
    for write in to_backmarket_updates(notification, make_bm_order()):
        # Nothing about items travels: only the accept's SKU, which Back Market requires.
        if isinstance(write, OrderUpdate) and write.new_state is OrderLineState.SHIPPED:
            assert write.sku is None


def test_notification_ship_date(make_ss_order: MakeSS, make_shipment: MakeShipment) -> None:
    notification = notify(make_ss_order, make_shipment)
    assert notification.ship_date == date(2025, 3, 11)
    # The label was created that day at 10:51 Pacific: that is the instant sent.
    assert notification.shipped_at == datetime(2025, 3, 11, 17, 51, 14, 503000, tzinfo=timezone.utc)


def test_label_dated_ahead_ships_at_the_start_of_that_day(
    make_ss_order: MakeSS, make_shipment: MakeShipment
) -> None:
    notification = to_shipment_notification(
        make_ss_order(internal_notes=f"IMEI: {IMEI_A}"), make_shipment(shipDate="2025-03-12")
    )
    assert notification.shipped_at == datetime(2025, 3, 12, tzinfo=PACIFIC)


def test_notification_identifiers_per_line(
    make_ss_order: MakeSS, make_shipment: MakeShipment
) -> None:
    notification = notify(make_ss_order, make_shipment)
    assert notification.identifiers == (
        LineIdentifiers(orderline_id=55501234, sku="IP13-128-MID-EXC", imei=IMEI_A),
    )


def test_notification_from_a_fulfillment(
    make_ss_order: MakeSS, make_fulfillment: MakeFulfillment
) -> None:
    notification = to_shipment_notification(
        make_ss_order(internal_notes="S/N: F2LXK0ABJG5H"), make_fulfillment(), currency="USD"
    )
    assert notification.source is NotificationSource.FULFILLMENT
    assert notification.fulfillment_id == 33974374
    assert notification.shipper == "USPS"
    assert notification.tracking_url is not None
    assert notification.ship_date == date(2025, 3, 11)
    assert notification.carrier_fee == Decimal(0)
    assert notification.identifiers is not None
    assert notification.identifiers[0].serial_number == "F2LXK0ABJG5H"


def test_notification_round_trips_as_a_model(
    make_ss_order: MakeSS, make_shipment: MakeShipment
) -> None:
    notification = notify(make_ss_order, make_shipment)
    assert ShipmentNotification.from_dict(notification.to_dict(), strict=True) == notification


# ---------------------------------------------------------------------------------------
# Carriers and failures
# ---------------------------------------------------------------------------------------


def test_unknown_carrier_is_other_with_a_url_when_possible(
    make_ss_order: MakeSS, make_shipment: MakeShipment
) -> None:
    ss_order = make_ss_order(internal_notes=f"IMEI: {IMEI_A}")
    unknown = to_shipment_notification(
        ss_order, make_shipment(carrierCode="acme", serviceCode="acme_fast", trackingNumber="AC1")
    )
    assert (unknown.shipper, unknown.tracking_url) == ("Other", None)
    ups_number = to_shipment_notification(
        ss_order, make_shipment(carrierCode="acme", serviceCode=None)
    )
    assert ups_number.shipper == "Other"
    assert ups_number.tracking_url == "https://www.ups.com/track?tracknum=1Z1V152Y6827822533"


def test_caller_carrier_override(make_ss_order: MakeSS, make_shipment: MakeShipment) -> None:
    custom = DEFAULT_CARRIER_MAP.with_overrides(carriers={"acme": "Private Transporter"})
    notification = to_shipment_notification(
        make_ss_order(internal_notes=f"IMEI: {IMEI_A}"),
        make_shipment(carrierCode="acme", serviceCode=None),
        carrier_map=custom,
    )
    assert notification.shipper == "Private Transporter"


def test_missing_imei_fails_before_anything_is_sent(
    make_ss_order: MakeSS, make_shipment: MakeShipment
) -> None:
    with pytest.raises(MissingIdentifierError) as caught:
        to_shipment_notification(make_ss_order(), make_shipment())
    assert caught.value.order_id == "41234567"
    assert caught.value.line == "55501234"


def test_identifiers_optional_for_lines_the_caller_says(
    make_ss_order: MakeSS, make_shipment: MakeShipment
) -> None:
    notification = to_shipment_notification(
        make_ss_order(), make_shipment(), requires_identifier=lambda line: False
    )
    assert notification.identifiers == ()


def test_bad_imei_in_notes(make_ss_order: MakeSS, make_shipment: MakeShipment) -> None:
    with pytest.raises(InvalidIMEIError) as caught:
        to_shipment_notification(make_ss_order(internal_notes=BAD_IMEI), make_shipment())
    assert (caught.value.order_id, caught.value.value) == ("41234567", BAD_IMEI)


def test_too_many_imeis(make_ss_order: MakeSS, make_shipment: MakeShipment) -> None:
    with pytest.raises(IdentifierCountError):
        to_shipment_notification(
            make_ss_order(internal_notes=f"{IMEI_A}, {IMEI_B}"), make_shipment()
        )


@pytest.mark.parametrize(
    ("shipment", "order", "message"),
    [
        ({"voided": True}, {}, "voided"),
        ({"trackingNumber": None}, {}, "tracking"),
        ({"trackingNumber": "  "}, {}, "tracking"),
        ({"orderId": 1}, {}, "belongs to"),
        ({}, {"orderNumber": "BM-41234567"}, "not a Back Market order id"),
    ],
)
def test_unusable_shipments(
    make_ss_order: MakeSS,
    make_shipment: MakeShipment,
    shipment: dict[str, Any],
    order: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(MappingError, match=message):
        to_shipment_notification(
            make_ss_order(internal_notes=f"IMEI: {IMEI_A}", **order), make_shipment(**shipment)
        )
