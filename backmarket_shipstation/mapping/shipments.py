"""Shipment notification: a ShipStation label or fulfillment + its order → ShipmentNotification.

ShipStation's Back Market integration sends the status update, tracking number, carrier,
service and carrier fee, plus the IMEIs or serial numbers typed in the order's Internal Notes;
it does not send the note to buyer nor item information (seed). A label is a ShipStation
``Shipment``; "mark as shipped" records a ``Fulfillment`` instead (shipstation.md §3.4).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from ..errors import MappingError
from ..shipstation.models import PACIFIC, Fulfillment, Shipment
from ..shipstation.models import Order as ShipStationOrder
from .carriers import DEFAULT_CARRIER_MAP, CarrierMap, tracking_url_for
from .identifiers import (
    IdentifiableLine,
    assign_device_identifiers,
    device_lines,
    parse_device_identifiers,
)
from .notification import (
    LineIdentifiers,
    NotificationSource,
    NotificationStatus,
    ShipmentNotification,
)

__all__ = ["backmarket_order_id", "identifiable_lines", "to_shipment_notification"]


def backmarket_order_id(ss_order: ShipStationOrder) -> int:
    """The Back Market order id of an imported order: its ShipStation ``orderNumber``."""
    number = ss_order.order_number.strip()
    if not number.isascii() or not number.isdigit():
        raise MappingError(
            "orderNumber is not a Back Market order id", order_id=ss_order.order_number
        )
    return int(number)


def identifiable_lines(ss_order: ShipStationOrder) -> tuple[IdentifiableLine, ...]:
    """The order's items that are Back Market order lines (their ``lineItemKey`` is the id)."""
    lines = []
    for item in ss_order.items or ():
        key = (item.line_item_key or "").strip()
        if item.adjustment or not key.isascii() or not key.isdigit():
            continue
        quantity = item.quantity if item.quantity is not None else 1
        lines.append(IdentifiableLine(key=key, sku=item.sku, quantity=quantity, name=item.name))
    return tuple(lines)


def _shipped_at(ship_date: date | None, created: datetime | None) -> datetime | None:
    """The ship date as an instant: the label's creation time when it was made that day."""
    if ship_date is None:
        return created
    if created is not None and created.astimezone(PACIFIC).date() == ship_date:
        return created
    # A label dated ahead (or a bare date): the start of that day where ShipStation lives.
    return datetime(ship_date.year, ship_date.month, ship_date.day, tzinfo=PACIFIC)


def to_shipment_notification(
    ss_order: ShipStationOrder,
    shipment_or_fulfillment: Shipment | Fulfillment,
    *,
    carrier_map: CarrierMap = DEFAULT_CARRIER_MAP,
    currency: str | None = None,
    requires_identifier: Callable[[IdentifiableLine], bool] = device_lines,
) -> ShipmentNotification:
    """The notification to send Back Market for a shipped ShipStation order.

    ``shipment_or_fulfillment`` is the label (``Shipment``) or the mark-as-shipped record
    (``Fulfillment``) of ``ss_order``. ``currency`` is the currency of the carrier fee
    (ShipStation V1 amounts have none: pass your account's). ``requires_identifier`` says
    which quantity-1 lines must carry an IMEI or serial number (by default all of them, as
    for a store that sells phones only).

    Raises :class:`~backmarket_shipstation.errors.MappingError` when the order number is not
    a Back Market order id, the record belongs to another order, has no tracking number or
    was voided, and the :class:`~backmarket_shipstation.errors.DeviceIdentifierError` family
    for IMEIs and serial numbers that are invalid, missing, in excess or duplicated.
    """
    order_id = backmarket_order_id(ss_order)
    record = shipment_or_fulfillment
    if (
        record.order_id is not None
        and ss_order.order_id is not None
        and record.order_id != ss_order.order_id
    ):
        raise MappingError(
            f"the shipment belongs to ShipStation order {record.order_id}, not {ss_order.order_id}",
            order_id=order_id,
        )
    if record.voided:
        raise MappingError("the label was voided: nothing to notify", order_id=order_id)
    tracking_number = (record.tracking_number or "").replace(" ", "")
    if not tracking_number:
        raise MappingError("no tracking number: Back Market requires one", order_id=order_id)

    if isinstance(record, Shipment):
        source = NotificationSource.SHIPMENT
        service_code = record.service_code
        fee = record.shipment_cost
        ship_date = record.ship_date
        shipped_at = _shipped_at(ship_date, record.create_date)
    else:
        source = NotificationSource.FULFILLMENT
        service_code = record.fulfillment_service_code
        fee = record.fulfillment_fee
        shipped_at = record.ship_date or record.create_date
        ship_date = shipped_at.astimezone(PACIFIC).date() if shipped_at is not None else None

    choice = carrier_map.shipper_for(record.carrier_code, service_code)
    lines = identifiable_lines(ss_order)
    parsed = parse_device_identifiers(
        ss_order.internal_notes,
        skus=[line.sku for line in lines if line.sku],
        order_id=order_id,
    )
    assigned = assign_device_identifiers(
        parsed, lines, order_id=order_id, requires_identifier=requires_identifier
    )
    return ShipmentNotification(
        order_id=order_id,
        status=NotificationStatus.SHIPPED,
        tracking_number=tracking_number,
        source=source,
        shipstation_order_id=ss_order.order_id,
        shipment_id=record.shipment_id if isinstance(record, Shipment) else None,
        fulfillment_id=record.fulfillment_id if isinstance(record, Fulfillment) else None,
        tracking_url=tracking_url_for(choice.shipper, tracking_number),
        carrier_code=record.carrier_code,
        service_code=service_code,
        shipper=choice.shipper,
        carrier_fee=fee,
        currency=currency if fee is not None else None,
        ship_date=ship_date,
        shipped_at=shipped_at,
        identifiers=tuple(
            LineIdentifiers(
                orderline_id=int(entry.line_key),
                sku=entry.sku,
                imei=entry.imei,
                serial_number=entry.serial_number,
            )
            for entry in assigned
        ),
    )
