"""The shipment notification: what ShipStation tells the marketplace once an order ships.

It belongs to neither API. The mapping fills it from a ShipStation shipment (a label) or a
fulfillment (mark as shipped) and its order; the write plan turns it into Back Market calls.
It has ``from_dict`` / ``to_dict`` like every model (snake_case keys, money as decimal
strings, date-times in RFC 3339 UTC), so the sync engine can store and replay it.

ShipStation's Back Market integration sends the status update, tracking number, carrier,
service and carrier fee, and does **not** send the note to buyer or item information
(seed, "Data Sent with Shipment Notification"). The model has fields for those two so the
absence is explicit: the mapping leaves them ``None`` and the write plan never reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from .._convert import (
    UTC,
    DatetimeCodec,
    Model,
    ModelConverter,
    TextEnum,
    extras_field,
)

__all__ = [
    "MAPPING_CONVERTER",
    "LineIdentifiers",
    "NotificationItem",
    "NotificationSource",
    "NotificationStatus",
    "ShipmentNotification",
    "ShippedLine",
]

MAPPING_CONVERTER = ModelConverter(
    api="mapping",
    naming="snake",
    money="string",
    datetimes=DatetimeCodec(UTC, "rfc3339"),
)
"""The converter of the mapping layer's own models."""


class _MappingModel(Model):
    __slots__ = ()
    _converter = MAPPING_CONVERTER


class NotificationStatus(TextEnum):
    """The status update a notification carries."""

    SHIPPED = "shipped"


class NotificationSource(TextEnum):
    """What ShipStation record the notification was built from."""

    SHIPMENT = "shipment"
    """A label created in ShipStation (``GET /shipments``, SHIP_NOTIFY)."""
    FULFILLMENT = "fulfillment"
    """An order marked as shipped without a label (``GET /fulfillments``)."""


@attrs.frozen(kw_only=True)
class LineIdentifiers(_MappingModel):
    """The device identifiers of one Back Market order line."""

    orderline_id: int
    """The Back Market orderline id (ShipStation's ``lineItemKey``)."""
    sku: str | None = None
    imei: str | None = None
    serial_number: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class ShippedLine(_MappingModel):
    """How much of one Back Market order line the shipped ShipStation items hold."""

    orderline_id: int
    """The Back Market orderline id (ShipStation's ``lineItemKey``)."""
    quantity: int
    """Units of that line in shipped ShipStation orders (all split parts together)."""
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class NotificationItem(_MappingModel):
    """Item information (not sent to Back Market; see the module docstring)."""

    sku: str | None = None
    name: str | None = None
    quantity: int | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class ShipmentNotification(_MappingModel):
    """A shipment to report to Back Market: tracking, carrier, fee and device identifiers."""

    order_id: int
    """The Back Market order id (ShipStation's ``orderNumber``)."""
    status: NotificationStatus
    """The status update: always ``shipped``."""
    tracking_number: str
    source: NotificationSource
    shipstation_order_id: int | None = None
    shipment_id: int | None = None
    """The ShipStation shipment id, for a label."""
    fulfillment_id: int | None = None
    """The ShipStation fulfillment id, for an order marked as shipped."""
    tracking_url: str | None = None
    carrier_code: str | None = None
    """ShipStation's carrier code (or the text typed on a fulfillment)."""
    service_code: str | None = None
    """ShipStation's service code (a fulfillment's ``fulfillmentServiceCode``)."""
    shipper: str | None = None
    """The Back Market shipper name for that carrier and service (``"Other"`` if unknown)."""
    carrier_fee: Decimal | None = None
    """What the label cost (ShipStation ``shipmentCost``; a fulfillment's ``fulfillmentFee``)."""
    currency: str | None = None
    """ISO 4217 code of ``carrier_fee``: ShipStation V1 has none, so the caller supplies it."""
    ship_date: date | None = None
    """The ship date as ShipStation shows it (a US Pacific calendar date)."""
    shipped_at: datetime | None = None
    """The ship date as an instant, for Back Market's ``date_shipping``."""
    identifiers: tuple[LineIdentifiers, ...] | None = None
    """IMEI and/or serial number per order line, from the order's Internal Notes."""
    shipped_lines: tuple[ShippedLine, ...] | None = None
    """The Back Market lines the shipped ShipStation items cover, with their quantities.

    The write plan ships an order only when this covers every line still to ship
    (``None``, as from a notification built by hand without it, covers none)."""
    tracking_numbers: tuple[str, ...] | None = None
    """Every live label's tracking number when the order went out in several parcels
    (``tracking_number`` is the one sent: the earliest label's)."""
    note_to_buyer: str | None = None
    """Never filled by the mapping: Back Market's integration does not send it."""
    items: tuple[NotificationItem, ...] | None = None
    """Never filled by the mapping: Back Market's integration does not send item information."""
    extras: Mapping[str, Any] = extras_field()

    @property
    def identifiers_by_line(self) -> dict[int, LineIdentifiers]:
        """The identifiers keyed by orderline id."""
        return {entry.orderline_id: entry for entry in self.identifiers or ()}

    @property
    def shipped_quantities(self) -> dict[int, int]:
        """Units shipped per orderline id (several entries for one line add up)."""
        totals: dict[int, int] = {}
        for entry in self.shipped_lines or ():
            totals[entry.orderline_id] = totals.get(entry.orderline_id, 0) + entry.quantity
        return totals
