"""Map a sample Back Market order to ShipStation, then a ShipStation label back to Back Market.

Runs offline with no arguments:

    .venv/bin/python examples/map_order.py

1. A Back Market order (as ``GET /ws/orders`` returns it) becomes the ShipStation order the
   connector would send to ``createorder``.
2. The seller types the phone's IMEI in ShipStation's Internal Notes and buys a label.
3. That label (a ShipStation shipment) becomes a shipment notification, and the notification
   becomes the Back Market writes that report it: accept the line, then ship with tracking,
   shipper and IMEI.
"""

from __future__ import annotations

import json
from typing import Any

from backmarket_shipstation.backmarket.models import Order as BackMarketOrder
from backmarket_shipstation.backmarket.models import OrderlineIdentifiersUpdate
from backmarket_shipstation.mapping import (
    CatalogProduct,
    to_backmarket_updates,
    to_shipment_notification,
    to_shipstation_order,
)
from backmarket_shipstation.shipstation.models import Order as ShipStationOrder
from backmarket_shipstation.shipstation.models import Shipment, Weight

BACKMARKET_ORDER: dict[str, Any] = {
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
    "shipping_price": "0.00",
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
    "shipping_address": {
        "company": "",
        "first_name": "Camille",
        "last_name": "Martin",
        "gender": 1,
        "street": "12 rue des Lilas",
        "street2": "Bât. B",
        "postal_code": "69003",
        "city": "Lyon",
        "country": "FR",
        "phone": "+33612345678",
        "email": "c.martin.abc123@relay.example",
        "customer_id_number": "",
    },
    "orderlines": [
        {
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
    ],
}

CATALOG = {
    "IP13-128-MID-EXC": CatalogProduct(
        weight=Weight.grams(240), warehouse_location="Shelf B-04", options={"Colour": "Midnight"}
    )
}


def show(title: str, payload: object) -> None:
    print(f"\n=== {title} ===")
    print(json.dumps(payload, indent=2, ensure_ascii=False, default=str))


def main() -> None:
    bm_order = BackMarketOrder.from_dict(BACKMARKET_ORDER)
    show("Back Market order (GET /ws/orders)", bm_order.to_dict())

    ss_order = to_shipstation_order(bm_order, store_id=518236, catalog=CATALOG)
    show("ShipStation order (POST /orders/createorder)", ss_order.to_dict())

    # In ShipStation: the order gets its id, the seller types the IMEI and buys a label.
    stored = ss_order.to_dict()
    stored["orderId"] = 470873934
    stored["internalNotes"] = f"{stored['internalNotes']}\nIMEI: 490154203237518"
    ss_order = ShipStationOrder.from_dict(stored)
    shipment = Shipment.from_dict(
        {
            "shipmentId": 271726263,
            "orderId": 470873934,
            "orderNumber": "41234567",
            "createDate": "2025-03-11T10:51:14.5030000",
            "shipDate": "2025-03-11",
            "shipmentCost": 7.35,
            "trackingNumber": "6A12345678901",
            "carrierCode": "colissimo",
            "serviceCode": "colissimo_expert",
            "voided": False,
        }
    )
    show("ShipStation shipment (GET /shipments)", shipment.to_dict())

    notification = to_shipment_notification(ss_order, shipment, currency="EUR")
    show("Shipment notification", notification.to_dict())

    for write in to_backmarket_updates(notification, bm_order):
        if isinstance(write, OrderlineIdentifiersUpdate):
            show(f"PATCH /ws/orderlines/{write.orderline_id}", write.identifiers.to_dict())
        else:
            show(f"POST /ws/orders/{write.order_id}", write.to_dict())


if __name__ == "__main__":
    main()
