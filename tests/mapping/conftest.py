"""Sample payloads for the mapping tests, shaped like backmarket.md §4.4 and shipstation.md §3.5."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from backmarket_shipstation.backmarket.models import Order as BackMarketOrder
from backmarket_shipstation.shipstation.models import Fulfillment, Shipment
from backmarket_shipstation.shipstation.models import Order as ShipStationOrder

# Valid IMEIs (Luhn check digit right); the first is the GSMA's textbook example.
IMEI_A = "490154203237518"
IMEI_B = "356938035643809"
IMEI_C = "353918057254472"
BAD_IMEI = "490154203237519"  # IMEI_A with a wrong check digit


def bm_line_payload(**overrides: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "id": 55501234,
        "date_creation": "2025-03-10T08:30:12.482913Z",
        "state": 1,
        "listing": "IP13-128-MID-EXC",
        "listing_id": 4567890,
        "product": "iPhone 13 128 Go - Minuit - Débloqué",
        "product_id": 123456,
        "brand": "apple",
        "quantity": 1,
        "price": "329.00",
        "shipping_price": "0.00",
        "shipping_delay": 48,
        "currency": "EUR",
        "orderline_fee": "32.90",
        "sales_taxes": "0.00",
        "return_reason": 0,
        "return_message": "",
        "backcare": False,
        "backcare_price": 0,
        "imei": "",
        "serial_number": "",
        "condition": 10,
    }
    line.update(overrides)
    return line


def bm_address_payload(**overrides: Any) -> dict[str, Any]:
    address: dict[str, Any] = {
        "company": "",
        "first_name": "Camille",
        "last_name": "Martin",
        "gender": 1,
        "first_name_pronunciation": None,
        "last_name_pronunciation": None,
        "street": "12 rue des Lilas",
        "street2": "Bât. B",
        "postal_code": "69003",
        "city": "Lyon",
        "country": "FR",
        "phone": "+33612345678",
        "email": "c.martin.abc123@relay.example",
        "customer_id_number": "",
    }
    address.update(overrides)
    return address


def bm_order_payload(**overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "order_id": 41234567,
        "state": 1,
        "date_creation": "2025-03-10T08:30:12.482913Z",
        "date_modification": "2025-03-10T08:35:40Z",
        "date_payment": "2025-03-10T08:35:39.120Z",
        "date_shipping": None,
        "expected_dispatch_date": "2025-03-12T16:00:00",
        "country_code": "fr-fr",
        "currency": "EUR",
        "price": "329.00",
        "shipping_price": "4.90",
        "sales_taxes": "0.00",
        "payment_method": "CARD",
        "paypal_reference": None,
        "installment_payment": False,
        "delivery_note": "https://www.backmarket.fr/ws/delivery_note/41234567.pdf",
        "tracking_number": "",
        "tracking_url": "",
        "shipper": "",
        "shipper_display": "Colissimo",
        "is_backship": False,
        "delivery_mode": "HOME_DELIVERY",
        "shipping_address": bm_address_payload(),
        "billing_address": bm_address_payload(
            first_name="Jean", street="3 avenue Foch", phone="+33698765432"
        ),
        "orderlines": [bm_line_payload()],
    }
    order.update(overrides)
    return copy.deepcopy(order)


def ss_shipment_payload(**overrides: Any) -> dict[str, Any]:
    shipment: dict[str, Any] = {
        "shipmentId": 271726263,
        "orderId": 470873934,
        "orderKey": "backmarket-41234567",
        "orderNumber": "41234567",
        "createDate": "2025-03-11T10:51:14.5030000",
        "shipDate": "2025-03-11",
        "shipmentCost": 9.57,
        "insuranceCost": 0,
        "trackingNumber": "1Z1V152Y6827822533",
        "isReturnLabel": False,
        "carrierCode": "ups_walleted",
        "serviceCode": "ups_standard_international",
        "packageCode": "package",
        "voided": False,
        "voidDate": None,
        "marketplaceNotified": False,
        "notifyErrorMessage": None,
        "shipmentItems": None,
    }
    shipment.update(overrides)
    return shipment


def ss_fulfillment_payload(**overrides: Any) -> dict[str, Any]:
    fulfillment: dict[str, Any] = {
        "fulfillmentId": 33974374,
        "orderId": 470873934,
        "orderNumber": "41234567",
        "trackingNumber": "9400111899560334762154",
        "createDate": "2025-03-11T09:15:00.0000000",
        "shipDate": "2025-03-11T00:00:00.0000000",
        "carrierCode": "USPS",
        "fulfillmentServiceCode": None,
        "fulfillmentFee": 0,
        "voided": False,
        "marketplaceNotified": False,
    }
    fulfillment.update(overrides)
    return fulfillment


@pytest.fixture
def make_bm_order() -> Callable[..., BackMarketOrder]:
    """A Back Market order built from the sample payload with top-level keys replaced."""

    def make(**overrides: Any) -> BackMarketOrder:
        return BackMarketOrder.from_dict(bm_order_payload(**overrides))

    return make


@pytest.fixture
def make_ss_order() -> Callable[..., ShipStationOrder]:
    """The ShipStation order imported from a Back Market order, with ShipStation's ids."""
    from backmarket_shipstation.mapping import to_shipstation_order

    def make(
        bm_order: BackMarketOrder | None = None, internal_notes: str | None = None, **fields: Any
    ) -> ShipStationOrder:
        bm = bm_order or BackMarketOrder.from_dict(bm_order_payload())
        imported = to_shipstation_order(bm).to_dict()
        imported["orderId"] = 470873934
        if internal_notes is not None:
            imported["internalNotes"] = (
                (imported.get("internalNotes") or "") + "\n" + internal_notes
            )
        imported.update(fields)
        return ShipStationOrder.from_dict(imported)

    return make


@pytest.fixture
def make_shipment() -> Callable[..., Shipment]:
    def make(**overrides: Any) -> Shipment:
        return Shipment.from_dict(ss_shipment_payload(**overrides))

    return make


@pytest.fixture
def make_fulfillment() -> Callable[..., Fulfillment]:
    def make(**overrides: Any) -> Fulfillment:
        return Fulfillment.from_dict(ss_fulfillment_payload(**overrides))

    return make
