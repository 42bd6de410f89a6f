"""BackShip in the simulator: labels Back Market makes for its subscribers (backmarket.md §7.4).

A mixin of :class:`~.backmarket.BackMarketSimulator`. An order with ``is_backship: true``
gets its label when a line is accepted ([OAS]: "once an orderline has been accepted ... a
shipping label is automatically created"): the order's ``tracking_number`` and
``tracking_url`` are set then (integrators read them there, [LENO]), and a delivery appears:

- ``GET /ws/shipping/v1/deliveries``: filters ``order_id`` (an integer, else the documented
  422 ``E009``), ``start_date``/``end_date`` (creation), ``pickup_start_date``/
  ``pickup_end_date``, ``order_state``, ``hub_scanned``; ``page``, 10 per page (INFERRED: not
  documented), ``count`` the total, absolute ``next``/``previous``;
- ``GET /ws/shipping/v1/deliveries/{id}`` (the ``shipmentId``).

camelCase fields, dates with an offset (``+00:00``), ``labelUrl`` a path on the Back Market
host as in [OAS]'s example. Once the order ships (state 3) the delivery shows
``hubScanned: true`` and its ``datePickup``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import httpx

from ._bm_care import _care_error, _parse_time

if TYPE_CHECKING:
    import random
    import threading

    from ..clock import Clock

__all__ = ["BACKSHIP_CARRIERS", "BackshipSimulator"]

BACKSHIP_CARRIERS: Mapping[str, tuple[int, str, str]] = {
    # market country -> (carrier id, carrier name, tracking number prefix)
    "FR": (1, "Chronopost", "XY"),
    "BE": (1, "Chronopost", "XY"),
    "GB": (7, "Royal Mail", "RB"),
    "IE": (7, "Royal Mail", "RB"),
    "DE": (3, "DHL Express", "JD"),
    "AT": (3, "DHL Express", "JD"),
}
_DEFAULT_CARRIER = (4, "UPS", "1Z")
_PAGE_SIZE = 10
_SHIPMENT_ID_BASE = 800_000_000


def _offset(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class BackshipSimulator:
    """The BackShip endpoints of the Back Market simulator (mixed into it)."""

    clock: Clock
    base_url: str
    _lock: threading.RLock
    _rng: random.Random

    if TYPE_CHECKING:

        def _load(self, position: int) -> dict[str, Any]: ...
        def _commit(self, position: int, order: dict[str, Any]) -> None: ...
        def _position(self, order_id: int) -> int | None: ...
        def _position_count(self) -> int: ...

    def _init_backship(self) -> None:
        self._deliveries: dict[int, dict[str, Any]] = {}
        """Deliveries by shipment id; those of generated orders are made on first sight."""

    # --- direct access ------------------------------------------------------------------

    def deliveries_of(self, order_id: int) -> list[dict[str, Any]]:
        """The rendered deliveries of one order (empty for a non-BackShip order)."""
        with self._lock:
            position = self._position(order_id)
            if position is None:
                return []
            return [self._render_delivery(d, self._load(position)) for d in self._of(position)]

    # --- the label, made on acceptance --------------------------------------------------

    def _backship_label(self, order: dict[str, Any]) -> None:
        """Called on an order just changed: make its label if it is BackShip and accepted."""
        if not order.get("is_backship"):
            return
        if not any(line.get("state") in (2, 3, 6) for line in order.get("orderlines", ())):
            return
        if any(d["order"] == order["order_id"] for d in self._deliveries.values()):
            return
        self._make_delivery(order, created=self.clock.now())

    def _make_delivery(self, order: dict[str, Any], *, created: datetime) -> dict[str, Any]:
        country = str((order.get("shipping_address") or {}).get("country") or "FR").upper()
        carrier_id, carrier, prefix = BACKSHIP_CARRIERS.get(country, _DEFAULT_CARRIER)
        seed = uuid.uuid5(uuid.NAMESPACE_URL, f"backship-{order['order_id']}")
        tracking = order.get("tracking_number") or (f"{prefix}{seed.int % 10**11:011d}{country}")
        tracking_url = order.get("tracking_url") or (
            f"https://tracking.backship.example/{carrier_id}/{tracking}"
        )
        # The order carries the label's tracking from now on ([LENO]).
        order["tracking_number"] = tracking
        order["tracking_url"] = tracking_url
        shipment_id = _SHIPMENT_ID_BASE + len(self._deliveries) + 1
        delivery = {
            "order": order["order_id"],
            "shipmentId": shipment_id,
            "carrierId": carrier_id,
            "referenceNumber": f"1-{order['order_id']}-{shipment_id % 100000}",
            "trackingNumber": tracking,
            "trackingUrl": tracking_url,
            "carrierName": carrier,
            "invoicedCurrency": order.get("currency") or "EUR",
            "invoicedPrice": 6,
            "dateCreation": _offset(created),
            "labelUrl": f"/static/shipment_labels/eu-{seed}-1.pdf",
            "type": "DELIVERY",
            "pickupId": shipment_id % 1_000_000,
        }
        self._deliveries[shipment_id] = delivery
        return delivery

    def _of(self, position: int) -> list[dict[str, Any]]:
        order = self._load(position)
        found = [d for d in self._deliveries.values() if d["order"] == order["order_id"]]
        accepted = any(line.get("state") in (2, 3, 6) for line in order.get("orderlines", ()))
        if not found and order.get("is_backship") and accepted:
            # A generated BackShip order accepted or shipped before the sandbox started; it
            # already carries the label's tracking number.
            moment = order.get("date_payment") or order.get("date_creation")
            created = _parse_time(moment) if moment else self.clock.now()
            found = [self._make_delivery(order, created=created)]
        return found

    def _render_delivery(self, delivery: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
        lines = [x for x in order.get("orderlines", ()) if x.get("state") in (2, 3, 6)]
        shipped = any(x.get("state") in (3, 6) for x in lines) and order.get("state") == 9
        shipped = shipped or any(x.get("state") == 3 for x in lines)
        pickup = order.get("date_shipping") if shipped else None
        pickup_text = _offset(_parse_time(pickup)) if pickup else None
        return {
            "order": delivery["order"],
            "shipmentId": delivery["shipmentId"],
            "carrierId": delivery["carrierId"],
            "orderlines": [x["id"] for x in lines],
            "referenceNumber": delivery["referenceNumber"],
            "trackingNumber": delivery["trackingNumber"],
            "trackingUrl": delivery["trackingUrl"],
            "carrierName": delivery["carrierName"],
            "hubScanned": shipped,
            "invoicedCurrency": delivery["invoicedCurrency"],
            "invoicedPrice": delivery["invoicedPrice"],
            "datePickup": pickup_text,
            "dateCreation": delivery["dateCreation"],
            "dateDelivery": None,
            "labelUrl": delivery["labelUrl"],
            "type": delivery["type"],
            "pickupInfo": {
                "confirmationNumber": f"{delivery['pickupId']:06d}NB",
                "datePickupActual": pickup_text,
                "datePickupRangeStart": None,
                "datePickupRangeEnd": None,
                "datePickupRequested": delivery["dateCreation"][:10],
                "isCanceled": False,
                "pickupId": delivery["pickupId"],
            },
        }

    # --- GET /ws/shipping/v1/deliveries -------------------------------------------------

    def _list_deliveries(self, request: httpx.Request) -> tuple[int, Any]:
        pairs = parse_qsl(request.url.query.decode("ascii", "replace"), keep_blank_values=True)
        query: dict[str, str] = {}
        for key, value in pairs:
            query.setdefault(key, value)
        order_filter = query.get("order_id", "")
        if order_filter and not order_filter.strip().isdigit():
            raise _validation_error()
        try:
            page = int(query.get("page") or "1")
        except ValueError:
            raise _care_error(400, "invalid_page", "page must be a positive integer") from None
        if page < 1:
            raise _care_error(400, "invalid_page", "page must be a positive integer")
        bounds = {
            name: _bound(query, name)
            for name in ("start_date", "end_date", "pickup_start_date", "pickup_end_date")
        }
        state = query.get("order_state") or None
        hub = query.get("hub_scanned", "").lower() or None
        if order_filter:
            position = self._position(int(order_filter))
            positions = [] if position is None else [position]
        else:
            positions = [
                p for p in range(self._position_count()) if self._load(p).get("is_backship")
            ]
        rendered = []
        for position in positions:
            order = self._load(position)
            for delivery in self._of(position):
                item = self._render_delivery(delivery, order)
                if state is not None and str(order.get("state")) != state:
                    continue
                if hub is not None and str(item["hubScanned"]).lower() != hub:
                    continue
                if not _within(item["dateCreation"], bounds["start_date"], bounds["end_date"]):
                    continue
                if (bounds["pickup_start_date"] or bounds["pickup_end_date"]) and not (
                    item["datePickup"]
                    and _within(
                        item["datePickup"],
                        bounds["pickup_start_date"],
                        bounds["pickup_end_date"],
                    )
                ):
                    continue
                rendered.append(item)
        rendered.sort(key=lambda d: d["shipmentId"])
        start = (page - 1) * _PAGE_SIZE
        last = max(1, -(-len(rendered) // _PAGE_SIZE))
        return 200, {
            "count": len(rendered),
            "next": self._deliveries_url(pairs, page + 1) if page < last else None,
            "previous": self._deliveries_url(pairs, page - 1) if page > 1 else None,
            "results": rendered[start : start + _PAGE_SIZE],
        }

    def _deliveries_url(self, pairs: list[tuple[str, str]], page: int) -> str:
        kept = [(k, v) for k, v in pairs if k != "page"] + [("page", str(page))]
        return f"{self.base_url.rstrip('/')}/ws/shipping/v1/deliveries?{urlencode(kept)}"

    # --- GET /ws/shipping/v1/deliveries/{id} --------------------------------------------

    def _get_delivery(self, request: httpx.Request, delivery_id: int) -> tuple[int, Any]:
        delivery = self._deliveries.get(delivery_id)
        position = None if delivery is None else self._position(delivery["order"])
        if delivery is None or position is None:
            raise _care_error(404, "not_found", "Delivery entry not found")
        return 200, self._render_delivery(delivery, self._load(position))


def _validation_error() -> Exception:
    from .backmarket import SimulatorError

    return SimulatorError(
        422, "E009", "Validation error", {"fields": {"orderId": ["An integer is needed."]}}
    )


def _bound(query: Mapping[str, str], name: str) -> datetime | None:
    value = query.get(name, "")
    if not value:
        return None
    try:
        return _parse_time(value)
    except ValueError:
        raise _care_error(400, "invalid_date", f"{name} must be a date-time") from None


def _within(text: str, start: datetime | None, end: datetime | None) -> bool:
    moment = _parse_time(text)
    return (start is None or moment >= start) and (end is None or moment <= end)
