"""Shipment notification: a ShipStation label or fulfillment + its order → ShipmentNotification.

ShipStation's Back Market integration sends the status update, tracking number, carrier,
service and carrier fee, plus the IMEIs or serial numbers typed in the order's Internal Notes;
it does not send the note to buyer nor item information (seed). A label is a ShipStation
``Shipment``; "mark as shipped" records a ``Fulfillment`` instead (shipstation.md §3.4).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal

import attrs

from ..backmarket.models import Delivery
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
    ShippedLine,
)

__all__ = [
    "backmarket_order_id",
    "identifiable_lines",
    "order_number_id",
    "to_order_notification",
    "to_shipment_notification",
]

_NUMBER = re.compile(r"([0-9]+)(?:-[0-9]+)?")


def order_number_id(order_number: str | None) -> int | None:
    """The Back Market order id a ShipStation ``orderNumber`` names, split parts included.

    An imported order's number is the Back Market order id; a part split off it in
    ShipStation is numbered ``<id>-1``, ``<id>-2``... (docs/api-notes/shipstation.md, "Split
    orders", INFERRED from the split markers ShipStation documents). Anything else is not
    one of ours: ``None``.
    """
    match = _NUMBER.fullmatch((order_number or "").strip())
    return int(match.group(1)) if match and match.group(0).isascii() else None


def backmarket_order_id(ss_order: ShipStationOrder) -> int:
    """The Back Market order id of an imported order (or a split part of one)."""
    order_id = order_number_id(ss_order.order_number)
    if order_id is None:
        raise MappingError(
            "orderNumber is not a Back Market order id", order_id=ss_order.order_number
        )
    return order_id


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
    backship: Delivery | None = None,
) -> ShipmentNotification:
    """The notification to send Back Market for a shipped ShipStation order.

    ``shipment_or_fulfillment`` is the label (``Shipment``) or the mark-as-shipped record
    (``Fulfillment``) of ``ss_order``. ``currency`` is the currency of the carrier fee
    (ShipStation V1 amounts have none: pass your account's). ``requires_identifier`` says
    which quantity-1 lines must carry an IMEI or serial number (by default all of them, as
    for a store that sells phones only). The notification's ``shipped_lines`` are the
    order's items: the write plan refuses to ship a Back Market line that is not among them.

    ``backship`` is the Back Market label of a BackShip order: an order marked as shipped (a
    ``Fulfillment``, no ShipStation label bought) is reported with that label's tracking
    number and URL, whatever the packer typed, and with no ``shipper`` (the carrier is Back
    Market's own). A ShipStation label bought all the same is reported as it is: the parcel
    left with it.

    Raises :class:`~backmarket_shipstation.errors.MappingError` when the order number is not
    a Back Market order id, the record belongs to another order, has no tracking number or
    was voided, and the :class:`~backmarket_shipstation.errors.DeviceIdentifierError` family
    for IMEIs and serial numbers that are invalid, missing, in excess or duplicated.
    """
    return to_order_notification(
        [(ss_order, shipment_or_fulfillment)],
        carrier_map=carrier_map,
        currency=currency,
        requires_identifier=requires_identifier,
        backship=backship,
    )


def to_order_notification(
    parts: Sequence[tuple[ShipStationOrder, Shipment | Fulfillment]],
    *,
    carrier_map: CarrierMap = DEFAULT_CARRIER_MAP,
    currency: str | None = None,
    requires_identifier: Callable[[IdentifiableLine], bool] = device_lines,
    backship: Delivery | None = None,
) -> ShipmentNotification:
    """One notification for a Back Market order shipped in one or several parcels.

    ``parts`` pairs each ShipStation order of the Back Market order (the imported order and
    any part split off it) with one of its live labels or mark-as-shipped records; an order
    with several labels appears once per label. Back Market holds one tracking number per
    order (its ship write ships every line at once: backmarket.md §3.3), so the rule is: the
    **earliest live label** is sent (earliest ship instant, then lowest record id), and every
    tracking number is kept in ``tracking_numbers``. The items of all the ShipStation orders
    are the ``shipped_lines``; the Internal Notes of all of them (each distinct text once)
    give the identifiers, so each device's IMEI goes to its own line.

    Raises what :func:`to_shipment_notification` raises, and
    :class:`~backmarket_shipstation.errors.MappingError` when there are no parts or they
    belong to different Back Market orders.
    """
    if not parts:
        raise MappingError("no shipment to report")
    labels = sorted(
        (
            _label_notification(order, record, carrier_map, currency, backship)
            for order, record in parts
        ),
        key=_earliest,
    )
    order_id = labels[0].order_id
    if any(label.order_id != order_id for label in labels):
        raise MappingError("the shipments are of different Back Market orders", order_id=order_id)
    orders: dict[int | None, ShipStationOrder] = {}
    for order, _ in parts:
        orders.setdefault(order.order_id, order)
    lines = [line for order in orders.values() for line in identifiable_lines(order)]
    notes: list[str] = []
    for order in orders.values():
        text = (order.internal_notes or "").strip()
        if text and text not in notes:
            notes.append(text)
    parsed = parse_device_identifiers(
        "\n".join(notes) or None,
        skus=[line.sku for line in lines if line.sku],
        order_id=order_id,
    )
    assigned = assign_device_identifiers(
        parsed, lines, order_id=order_id, requires_identifier=requires_identifier
    )
    tracking: list[str] = []
    for label in labels:
        if label.tracking_number not in tracking:
            tracking.append(label.tracking_number)
    fees = [label.carrier_fee for label in labels]
    first = labels[0]
    return attrs.evolve(
        first,
        tracking_numbers=tuple(tracking),
        carrier_fee=sum((fee for fee in fees if fee is not None), Decimal(0))
        if len(labels) > 1 and all(fee is not None for fee in fees)
        else first.carrier_fee,
        identifiers=tuple(
            LineIdentifiers(
                orderline_id=int(entry.line_key),
                sku=entry.sku,
                imei=entry.imei,
                serial_number=entry.serial_number,
            )
            for entry in assigned
        ),
        # A label or mark-as-shipped record ships its whole ShipStation order: every item
        # still in it (a removed item is not; other split parts count through their own).
        shipped_lines=tuple(
            ShippedLine(orderline_id=int(line.key), quantity=line.quantity) for line in lines
        ),
    )


def _earliest(notification: ShipmentNotification) -> tuple[bool, datetime, int]:
    shipped_at = notification.shipped_at
    record_id = notification.shipment_id or notification.fulfillment_id or 0
    latest = datetime.max.replace(tzinfo=PACIFIC)
    return (shipped_at is None, shipped_at or latest, record_id)


def _label_notification(
    ss_order: ShipStationOrder,
    record: Shipment | Fulfillment,
    carrier_map: CarrierMap,
    currency: str | None,
    backship: Delivery | None = None,
) -> ShipmentNotification:
    """The notification of one label or mark-as-shipped record, without identifiers."""
    order_id = backmarket_order_id(ss_order)
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
    with_backship = backship is not None and (
        isinstance(record, Fulfillment) or not tracking_number
    )
    if backship is not None and with_backship:
        # Shipped with Back Market's label: its tracking is what Back Market follows.
        tracking_number = (backship.tracking_number or "").replace(" ", "")
        if not tracking_number:
            raise MappingError("the BackShip label has no tracking number yet", order_id=order_id)
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
    shipper: str | None = choice.shipper
    tracking_url = tracking_url_for(choice.shipper, tracking_number)
    if backship is not None and with_backship:
        shipper = None  # Back Market's own carrier: nothing to name or replace
        tracking_url = backship.tracking_url or None
    return ShipmentNotification(
        order_id=order_id,
        status=NotificationStatus.SHIPPED,
        tracking_number=tracking_number,
        source=source,
        shipstation_order_id=ss_order.order_id,
        shipment_id=record.shipment_id if isinstance(record, Shipment) else None,
        fulfillment_id=record.fulfillment_id if isinstance(record, Fulfillment) else None,
        tracking_url=tracking_url,
        carrier_code=record.carrier_code,
        service_code=service_code,
        shipper=shipper,
        carrier_fee=fee,
        currency=currency if fee is not None else None,
        ship_date=ship_date,
        shipped_at=shipped_at,
    )
