"""BackShip orders in the pure mapping: Back Market's label into ShipStation, and back."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from backmarket_shipstation.backmarket import Delivery, OrderLineState
from backmarket_shipstation.backmarket.models import Order as BackMarketOrder
from backmarket_shipstation.errors import MappingError
from backmarket_shipstation.mapping import (
    to_backmarket_updates,
    to_shipment_notification,
    to_shipstation_order,
)
from backmarket_shipstation.mapping.orders import BACKSHIP_NOTE, seller_notes
from backmarket_shipstation.shipstation.models import Fulfillment, Shipment
from backmarket_shipstation.shipstation.models import Order as ShipStationOrder

IMEI_A = "490154203237518"

LABEL = Delivery.from_dict(
    {
        "order": 41234567,
        "shipmentId": 42,
        "orderlines": [1],
        "trackingNumber": "XY123456789FR",
        "trackingUrl": "https://www.chronopost.fr/tracking/XY123456789FR",
        "carrierName": "Chronopost",
        "labelUrl": "https://www.backmarket.fr/static/shipment_labels/eu-1-1.pdf",
        "type": "DELIVERY",
        "dateCreation": "2025-03-11T08:00:00+01:00",
    }
)


def _accepted_backship(make_bm_order: Callable[..., BackMarketOrder]) -> BackMarketOrder:
    order = make_bm_order(is_backship=True, state=3)
    lines = tuple(
        line.__class__.from_dict({**line.to_dict(), "state": int(OrderLineState.ACCEPTED)})
        for line in order.lines
    )
    return order.__class__.from_dict(
        {**order.to_dict(), "orderlines": [line.to_dict() for line in lines]}
    )


def test_the_label_goes_to_the_notes_and_the_requested_service(
    make_bm_order: Callable[..., BackMarketOrder],
) -> None:
    order = _accepted_backship(make_bm_order)
    ss = to_shipstation_order(order, backship=LABEL)
    notes = ss.internal_notes or ""
    assert f"{BACKSHIP_NOTE} Chronopost XY123456789FR" in notes
    assert (
        "BackShip label PDF: https://www.backmarket.fr/static/shipment_labels/eu-1-1.pdf" in notes
    )
    assert ss.requested_shipping_service == "BackShip Chronopost (label from Back Market)"
    # The SDK's lines are never taken for the seller's: re-imports replace them.
    assert seller_notes(notes) == ""


def test_without_its_label_a_backship_order_says_it_is_coming(
    make_bm_order: Callable[..., BackMarketOrder],
) -> None:
    ss = to_shipstation_order(make_bm_order(is_backship=True))
    assert "BackShip label: not made yet" in (ss.internal_notes or "")
    assert ss.requested_shipping_service == "Colissimo"
    plain = to_shipstation_order(make_bm_order(), backship=LABEL)
    assert BACKSHIP_NOTE not in (plain.internal_notes or "")  # not a BackShip order


def test_a_re_import_keeps_the_packers_notes_and_refreshes_the_label(
    make_bm_order: Callable[..., BackMarketOrder],
    make_ss_order: Callable[..., ShipStationOrder],
) -> None:
    order = _accepted_backship(make_bm_order)
    first = to_shipstation_order(order)  # label not made yet
    existing = ShipStationOrder.from_dict(
        {**first.to_dict(), "orderId": 9, "internalNotes": f"{first.internal_notes}\nIMEI {IMEI_A}"}
    )
    again = to_shipstation_order(order, existing=existing, backship=LABEL)
    notes = again.internal_notes or ""
    assert f"IMEI {IMEI_A}" in notes
    assert BACKSHIP_NOTE in notes
    assert "not made yet" not in notes


def test_marked_shipped_it_is_reported_with_back_markets_tracking(
    make_bm_order: Callable[..., BackMarketOrder],
    make_ss_order: Callable[..., ShipStationOrder],
    make_fulfillment: Callable[..., Fulfillment],
) -> None:
    order = _accepted_backship(make_bm_order)
    ss = make_ss_order(order, internal_notes=f"IMEI {IMEI_A}")
    marked = make_fulfillment(trackingNumber=None, carrierCode="other")
    notification = to_shipment_notification(ss, marked, backship=LABEL)
    assert notification.tracking_number == "XY123456789FR"
    assert notification.tracking_url == LABEL.tracking_url
    assert notification.shipper is None
    [ship] = [w for w in to_backmarket_updates(notification, order) if w.new_state == 3]  # type: ignore[union-attr]
    body = ship.to_dict()
    assert body["tracking_number"] == "XY123456789FR"
    assert "shipper" not in body
    assert body["imei"] == IMEI_A
    with pytest.raises(MappingError, match="no tracking number"):
        to_shipment_notification(ss, marked)  # no label known: nothing to report yet


def test_a_shipstation_label_bought_anyway_is_reported_as_it_is(
    make_bm_order: Callable[..., BackMarketOrder],
    make_ss_order: Callable[..., ShipStationOrder],
    make_shipment: Callable[..., Shipment],
) -> None:
    order = _accepted_backship(make_bm_order)
    ss = make_ss_order(order, internal_notes=f"IMEI {IMEI_A}")
    notification = to_shipment_notification(ss, make_shipment(), backship=LABEL)
    assert notification.tracking_number == "1Z1V152Y6827822533"
    assert notification.shipper is not None
