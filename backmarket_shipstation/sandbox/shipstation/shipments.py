"""The ShipStation simulator's labels and shipments.

``createlabelfororder``, ``voidlabel`` and ``GET /shipments``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from backmarket_shipstation.sandbox._ss_catalog import (
    PACKAGES,
    SERVICES,
)
from backmarket_shipstation.sandbox._ss_dates import (
    format_date,
    format_timestamp,
    now_pacific,
)

from ._core import (
    _LABEL_PDF,
    CONFIRMATIONS,
    SimulatorCore,
)
from ._records import (
    _bad_request,
    _invalid,
    _pack,
    _Reply,
    _Request,
    _Shipment,
)
from ._values import (
    _dimensions,
    _insurance,
    _label_cost,
    _OrderInvalid,
    _weight,
)


class ShipmentsResource(SimulatorCore):
    """Labels and shipments: ``createlabelfororder``, ``voidlabel`` and ``GET /shipments``."""

    def _post_create_label(self, req: _Request) -> dict[str, Any]:
        body = req.json("request")
        if not isinstance(body, dict):
            raise _invalid("request", "The request body must be a JSON object.")
        return self._create_label(body)

    def _create_label(self, raw: dict[str, Any], *, another: bool = False) -> dict[str, Any]:
        body = {k.lower(): v for k, v in raw.items()}
        order_id = body.get("orderid")
        order = self._orders.get(order_id) if isinstance(order_id, int) else None
        if order is None or not order.active:
            # What ShipStation answers for a missing order (shipstation.md §1.5, [LARAVEL-15]).
            raise _Reply(
                500,
                {
                    "Message": "An error has occurred.",
                    "ExceptionMessage": "Object reference not set to an instance of an object.",
                    "ExceptionType": "System.NullReferenceException",
                    "StackTrace": None,
                },
            )
        carrier = body.get("carriercode")
        service = body.get("servicecode")
        if not isinstance(carrier, str) or carrier not in SERVICES:
            raise _bad_request(f"Invalid carrierCode: {carrier}")
        if not any(s["code"] == service for s in SERVICES[carrier]):
            raise _bad_request(f"Invalid serviceCode '{service}' for carrier '{carrier}'.")
        package = body.get("packagecode") or "package"
        if not any(p["code"] == package for p in PACKAGES[carrier]):
            raise _bad_request(f"Invalid packageCode '{package}' for carrier '{carrier}'.")
        confirmation = body.get("confirmation") or "none"
        if confirmation not in CONFIRMATIONS:
            raise _bad_request(f"Invalid confirmation '{confirmation}'.")
        # ``another``: the seller buys one more label for a shipped order in the web app (a
        # second parcel); createlabelfororder itself takes orders awaiting shipment only.
        if order.status != ("shipped" if another else "awaiting_shipment"):
            raise _bad_request(
                f"Order {order.order_id} is {order.status}; labels can only be created for "
                "orders awaiting shipment."
            )
        stored = order.data
        try:
            weight = _weight(body.get("weight"), "weight") or stored["weight"]
        except _OrderInvalid as exc:
            raise _invalid(f"request.{exc.key}", exc.message) from None
        if not weight or Decimal(str(weight["value"])) <= 0:
            raise _bad_request("A weight greater than zero is required to create a label.")
        now = now_pacific(self.clock)
        ship_date = self._request_date(body, "shipDate") or now.date()
        international = any(
            s["code"] == service and s["international"] and not s["domestic"]
            for s in SERVICES[carrier]
        )
        cost = _label_cost(carrier, weight, international=international)
        tracking = self._tracking_number(carrier)
        test_label = bool(body.get("testlabel"))
        shipment_id = self._take("shipment")
        data = {
            "shipmentId": shipment_id,
            "orderId": order.order_id,
            "orderKey": order.order_key,
            "userId": self.user_id,
            "customerEmail": stored["customerEmail"],
            "orderNumber": order.order_number,
            "createDate": format_timestamp(now),
            "shipDate": format_date(ship_date),
            "shipmentCost": cost,
            "insuranceCost": Decimal("0.00"),
            "trackingNumber": tracking,
            "isReturnLabel": False,
            "batchNumber": None,
            "carrierCode": carrier,
            "serviceCode": service,
            "packageCode": package,
            "confirmation": confirmation,
            "warehouseId": stored["advancedOptions"]["warehouseId"],
            "voided": False,
            "voidDate": None,
            "marketplaceNotified": False,
            "notifyErrorMessage": None,
            "shipTo": stored["shipTo"],
            "weight": dict(weight),
            "dimensions": _dimensions(body.get("dimensions")) or stored["dimensions"],
            "insuranceOptions": _insurance(body.get("insuranceoptions")),
            "advancedOptions": {
                "billToParty": None,
                "billToAccount": None,
                "billToPostalCode": None,
                "billToCountryCode": None,
                "storeId": order.store_id,
            },
            "shipmentItems": None,
            "labelData": None,
            "formData": None,
        }
        # The answer of the spec's example: the label, not the whole shipment.
        reply = {
            "shipmentId": shipment_id,
            "shipmentCost": cost,
            "insuranceCost": Decimal("0.00"),
            "trackingNumber": tracking,
            "labelData": base64.b64encode(_LABEL_PDF).decode("ascii"),
            "formData": None,
        }
        if test_label:
            # A test label is a sample: nothing is stored, the order stays open.
            return reply
        items = [item for item in stored["items"] if not item["adjustment"]]
        batch_id = self._take("batch")
        self._shipments[shipment_id] = _Shipment(
            shipment_id=shipment_id,
            order_id=order.order_id,
            order_number=order.order_number,
            store_id=order.store_id,
            batch_id=batch_id,
            create_date=now,
            ship_date=ship_date,
            carrier_code=carrier,
            service_code=str(service),
            tracking_number=tracking,
            recipient_name=(stored["shipTo"]["name"] or "").lower(),
            recipient_country=(stored["shipTo"]["country"] or "").upper(),
            blob=_pack(data),
            items_blob=_pack(items),
        )
        self._change_status(order, "shipped", ship_date=ship_date)
        order.update(carrierCode=carrier, serviceCode=service, packageCode=package)
        self._queue_ship_notify(order.store_id, batch_id)
        return reply

    def _tracking_number(self, carrier: str) -> str:
        digits = "".join(self._rng.choice("0123456789") for _ in range(22))
        if carrier == "ups":
            alnum = "".join(self._rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(6))
            return f"1Z{alnum}{digits[:10]}"
        if carrier in ("usps", "stamps_com"):
            return f"94{digits[:20]}"
        if carrier == "fedex":
            return digits[:12]
        if carrier == "colissimo":
            return f"6A{digits[:11]}"
        if carrier == "chronopost":
            return f"XW{digits[:9]}FR"
        if carrier == "royal_mail":
            return f"TT{digits[:9]}GB"
        if carrier == "dhl_express":
            return digits[:10]
        return digits[:14]

    def _void_label(self, req: _Request) -> dict[str, Any]:
        body = self._body_object(req, "request")
        shipment_id = body.get("shipmentid")
        shipment = self._shipments.get(shipment_id) if isinstance(shipment_id, int) else None
        if shipment is None:
            raise _bad_request(f"Shipment not found: {shipment_id}")
        if shipment.void_date is not None:
            return {"approved": False, "message": "The label has already been voided."}
        now = now_pacific(self.clock)
        shipment.void_date = now
        shipment.update(voided=True, voidDate=format_timestamp(now))
        order = self._orders.get(shipment.order_id)
        live = any(
            other.order_id == shipment.order_id and other.void_date is None
            for other in self._shipments.values()
        )
        if order is not None and order.status == "shipped" and not live:
            # Voiding the only label returns the order to the queue, as in the ShipStation UI;
            # an order with another live label stays shipped.
            self._change_status(order, "awaiting_shipment")
            order.update(shipDate=None)
        return {"approved": True, "message": "Label voided successfully"}

    def _list_shipments(self, req: _Request) -> dict[str, Any]:
        page, page_size = self._paging(req)
        sort_by, descending = self._sorting(
            req, {"shipdate": "ship_date", "createdate": "create_date"}
        )
        include_items = bool(self._query_bool(req, "includeShipmentItems"))
        shipments: Iterable[_Shipment] = self._shipments.values()
        if not self.list_voided_shipments:
            shipments = (s for s in shipments if s.void_date is None)
        exact = {
            "ordernumber": "order_number",
            "carriercode": "carrier_code",
            "servicecode": "service_code",
            "trackingnumber": "tracking_number",
        }
        for query_name, attr_name in exact.items():
            wanted = req.query.get(query_name)
            if wanted:
                shipments = [s for s in shipments if getattr(s, attr_name) == wanted]
        for name, attr in (
            ("orderId", "order_id"),
            ("storeId", "store_id"),
            ("batchId", "batch_id"),
        ):
            wanted_id = self._query_int(req, name)
            if wanted_id is not None:
                shipments = [s for s in shipments if getattr(s, attr) == wanted_id]
        recipient = (req.query.get("recipientname") or "").lower()
        if recipient:
            shipments = [s for s in shipments if recipient in s.recipient_name]
        country = (req.query.get("recipientcountrycode") or "").upper()
        if country:
            shipments = [s for s in shipments if s.recipient_country == country]
        shipments = self._date_filter(shipments, req, "createDate", "create_date", exclusive=False)
        shipments = self._day_filter(shipments, req, "shipDate", "ship_date")
        shipments = self._date_filter(shipments, req, "voidDate", "void_date", exclusive=False)
        selected = list(shipments)
        key = sort_by or "create_date"
        selected.sort(key=lambda s: (getattr(s, key), s.shipment_id), reverse=descending)
        return self._page(
            selected,
            "shipments",
            page,
            page_size,
            lambda s: self._render_shipment(s, items=include_items),
        )
