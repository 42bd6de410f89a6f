"""The ShipStation simulator's mark-as-shipped fulfillments.

``POST /orders/markasshipped`` and ``GET /fulfillments`` (shipstation.md §3).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from backmarket_shipstation.sandbox._ss_dates import (
    format_timestamp,
    now_pacific,
)

from ._core import (
    SimulatorCore,
)
from ._records import (
    _bad_request,
    _Fulfillment,
    _invalid,
    _pack,
    _Request,
)
from ._values import (
    _OrderInvalid,
    _text,
)


class FulfillmentsResource(SimulatorCore):
    """Mark-as-shipped fulfillments: ``POST /orders/markasshipped`` and ``GET /fulfillments``."""

    def _mark_as_shipped(self, req: _Request) -> dict[str, Any]:
        body = self._body_object(req, "request")
        if body.get("orderid") is None:
            raise _invalid("request.orderId", "The orderId field is required.")
        carrier = body.get("carriercode")
        if not isinstance(carrier, str) or not carrier:
            raise _invalid("request.carrierCode", "The carrierCode field is required.")
        order = self._find_order(body.get("orderid"))
        if order.status not in self.mark_shipped_from:
            raise _bad_request(
                f"Order {order.order_id} is {order.status} and cannot be marked as shipped."
            )
        now = now_pacific(self.clock)
        ship_date = self._request_date(body, "shipDate") or now.date()
        try:
            tracking = _text(body.get("trackingnumber"), "trackingNumber")
        except _OrderInvalid as exc:
            raise _invalid(f"request.{exc.key}", exc.message) from None
        self._change_status(order, "shipped", ship_date=ship_date)
        fulfillment_id = self._take("fulfillment")
        stored = order.data
        ship_to = stored["shipTo"]
        self._fulfillments[fulfillment_id] = _Fulfillment(
            fulfillment_id=fulfillment_id,
            order_id=order.order_id,
            order_number=order.order_number,
            tracking_number=tracking,
            recipient_name=(ship_to["name"] or "").lower(),
            create_date=now,
            ship_date=ship_date,
            blob=_pack(
                {
                    "fulfillmentId": fulfillment_id,
                    "orderId": order.order_id,
                    "orderNumber": order.order_number,
                    "userId": self.user_id,
                    "customerEmail": stored["customerEmail"],
                    "trackingNumber": tracking,
                    "createDate": format_timestamp(now),
                    # Unlike orders and shipments, fulfillments give shipDate as a timestamp
                    # in the spec's examples ("2016-06-07T00:00:00.0000000").
                    "shipDate": format_timestamp(datetime.combine(ship_date, time())),
                    "voidDate": None,
                    "deliveryDate": None,
                    "carrierCode": carrier,
                    "sellerFillProviderId": None,
                    "sellerFillProviderName": None,
                    "fulfillmentServiceCode": None,
                    "fulfillmentProviderCode": None,
                    "fulfillmentFee": Decimal("0.00"),
                    "voidRequested": False,
                    "voided": False,
                    "marketplaceNotified": bool(body.get("notifysaleschannel")),
                    "notifyErrorMessage": None,
                    "shipTo": ship_to,
                }
            ),
        )
        return {"orderId": order.order_id, "orderNumber": order.order_number}

    def _list_fulfillments(self, req: _Request) -> dict[str, Any]:
        page, page_size = self._paging(req)
        sort_by, descending = self._sorting(
            req, {"shipdate": "ship_date", "createdate": "create_date"}
        )
        selected: Iterable[_Fulfillment] = self._fulfillments.values()
        for name, attr in (("fulfillmentId", "fulfillment_id"), ("orderId", "order_id")):
            wanted_id = self._query_int(req, name)
            if wanted_id is not None:
                selected = [f for f in selected if getattr(f, attr) == wanted_id]
        for query_name, attr_name in (
            ("ordernumber", "order_number"),
            ("trackingnumber", "tracking_number"),
        ):
            wanted = req.query.get(query_name)
            if wanted:
                selected = [f for f in selected if getattr(f, attr_name) == wanted]
        recipient = (req.query.get("recipientname") or "").lower()
        if recipient:
            selected = [f for f in selected if recipient in f.recipient_name]
        selected = self._date_filter(selected, req, "createDate", "create_date", exclusive=False)
        selected = self._day_filter(selected, req, "shipDate", "ship_date")
        ordered = list(selected)
        key = sort_by or "create_date"
        ordered.sort(key=lambda f: (getattr(f, key), f.fulfillment_id), reverse=descending)
        return self._page(ordered, "fulfillments", page, page_size, lambda f: f.data)
