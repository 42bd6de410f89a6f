"""The Custom Store protocol, pure: orders to ``<Order>`` XML, ``<ShipNotice>`` to notifications.

ShipStation calls the seller's Custom Store URL (shipstation-custom-store.md §1.1): ``GET
?action=export`` pulls ``<Orders pages="N">`` and ``POST ?action=shipnotify`` pushes a
``<ShipNotice>`` per label. This module holds no I/O, clock or globals:

- :func:`render_order` turns the ShipStation order the V1 import maps
  (:func:`~backmarket_shipstation.mapping.to_shipstation_order`, the same rules) into one
  ``<Order>`` element; :func:`render_orders` wraps such elements in ``<Orders pages="N">``.
- :func:`parse_ship_notice` reads a notice with a hardened parser (defusedxml: no DTD, no
  entities, no external references) under depth and element-count limits.
- :func:`to_notification` turns a notice into the same
  :class:`~backmarket_shipstation.mapping.ShipmentNotification` the V1 path builds, with the
  same carrier map and the same IMEI rules.

Field names, lengths and formats follow SS-CS-REF (shipstation-custom-store.md §1.3, §1.4).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree.ElementTree import Element, TreeBuilder

import attrs
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from .._convert import UTC
from ..errors import BackMarketShipStationError, MappingError
from ..mapping import (
    DEFAULT_CARRIER_MAP,
    CarrierMap,
    IdentifiableLine,
    LineIdentifiers,
    NotificationSource,
    NotificationStatus,
    ShipmentNotification,
    ShippedLine,
    assign_device_identifiers,
    device_lines,
    parse_device_identifiers,
    tracking_url_for,
)
from ..shipstation.models import Address, OrderItem, OrderStatus, WeightUnit
from ..shipstation.models import Order as ShipStationOrder

__all__ = [
    "DEFAULT_STATUSES",
    "MAX_NOTICE_DEPTH",
    "MAX_NOTICE_ELEMENTS",
    "CustomStoreStatuses",
    "NoticeItem",
    "NoticeXMLError",
    "ShipNotice",
    "format_datetime",
    "notice_lines",
    "parse_datetime",
    "parse_ship_notice",
    "render_order",
    "render_orders",
    "to_notification",
]

MAX_NOTICE_DEPTH = 16
"""A ``<ShipNotice>`` is four levels deep (ShipNotice/Items/Item/SKU): anything far deeper
is not ShipStation."""
MAX_NOTICE_ELEMENTS = 20_000
"""Enough for a notice of a few thousand items; a flood of elements is refused early."""


class NoticeXMLError(BackMarketShipStationError):
    """A shipnotify body that is not a well-formed, safe ``<ShipNotice>``."""


@attrs.frozen(kw_only=True)
class CustomStoreStatuses:
    """The ``OrderStatus`` strings exported, one per ShipStation mapping field (§1.5).

    ShipStation's Custom Store form asks for the store's own status strings for five fields
    (Unpaid, Paid, Shipped, Cancelled, On-Hold), case-sensitive; type these values there.
    """

    unpaid: str = "bm_pending"
    paid: str = "bm_accepted"
    shipped: str = "bm_shipped"
    cancelled: str = "bm_cancelled"
    on_hold: str = "bm_on_hold"

    def __attrs_post_init__(self) -> None:
        for name, value in attrs.asdict(self).items():
            if not 0 < len(value) <= 50 or value != value.strip():
                raise ValueError(f"status {name} must be 1 to 50 characters (got {value!r})")

    def for_status(self, status: OrderStatus) -> str:
        """The string exported for a ShipStation status the V1 mapping gave the order."""
        return {
            OrderStatus.AWAITING_PAYMENT: self.unpaid,
            OrderStatus.AWAITING_SHIPMENT: self.paid,
            OrderStatus.PENDING_FULFILLMENT: self.paid,
            OrderStatus.SHIPPED: self.shipped,
            OrderStatus.CANCELLED: self.cancelled,
            OrderStatus.ON_HOLD: self.on_hold,
        }[status]


DEFAULT_STATUSES = CustomStoreStatuses()

# ---------------------------------------------------------------------------------------
# Dates: "MM/dd/yyyy HH:mm", UTC (SS-CS-GET)
# ---------------------------------------------------------------------------------------

_DATE = re.compile(
    r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?\s*$"
)
# WooCommerce's fallback for a packed "MMDDYYYY HHMM" (shipstation-custom-store.md §1.2).
_PACKED = re.compile(r"^\s*(\d{2})(\d{2})(\d{4})(?:\s+(\d{2})(\d{2}))?\s*$")


def format_datetime(moment: datetime) -> str:
    """``MM/dd/yyyy HH:mm`` in UTC, 24-hour, as the reference asks (§1.3)."""
    utc = moment.astimezone(UTC)
    return f"{utc.month:02d}/{utc.day:02d}/{utc.year:04d} {utc.hour:02d}:{utc.minute:02d}"


def parse_datetime(text: str) -> datetime:
    """A Custom Store date (``MM/dd/yyyy HH:mm``, seconds and AM/PM tolerated) as UTC.

    Raises ``ValueError`` for anything else.
    """
    found = _DATE.match(text)
    if found is not None:
        month, day, year, hour, minute, second, meridiem = found.groups()
        hours = int(hour or 0)
        if meridiem:
            # "21:56 PM" appears in ShipStation's own example: a 24-hour time keeps its hour.
            if meridiem.lower() == "pm" and hours < 12:
                hours += 12
            elif meridiem.lower() == "am" and hours == 12:
                hours = 0
        return datetime(
            int(year), int(month), int(day), hours, int(minute or 0), int(second or 0), tzinfo=UTC
        )
    packed = _PACKED.match(text)
    if packed is not None:
        month, day, year, hour, minute = packed.groups()
        return datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), tzinfo=UTC
        )
    raise ValueError(f"not a Custom Store date (MM/dd/yyyy HH:mm): {text!r}")


# ---------------------------------------------------------------------------------------
# Export: <Orders pages="N"><Order>...</Order></Orders>
# ---------------------------------------------------------------------------------------

# Characters XML 1.0 forbids (controls other than tab, LF, CR): a phone number pasted with
# one makes ShipStation refuse the whole page with a 400 (§ "Real-world gotchas" 7).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_WEIGHT_UNITS = {
    WeightUnit.POUNDS: "Pounds",
    WeightUnit.OUNCES: "Ounces",
    WeightUnit.GRAMS: "Grams",
}
_CENT = Decimal("0.01")
_MAX_TOTAL = Decimal("9999999.99")  # decimal(9,2)


def _cdata(value: str, limit: int) -> str:
    # Line ends as XML parsers deliver them (a CR would come back as LF anyway).
    text = _NOT_XML.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))[:limit]
    # "]]>" would end the section early: split it across two sections.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _text(tag: str, value: str | None, limit: int) -> str:
    if value is None or value == "":
        return ""
    return f"<{tag}>{_cdata(value, limit)}</{tag}>"


def _money(value: Decimal, *, field: str, order_id: str) -> str:
    rounded = value.quantize(_CENT)
    if abs(rounded) > _MAX_TOTAL:
        raise MappingError(f"{field} {value} does not fit decimal(9,2)", order_id=order_id)
    return str(rounded)


def _plain(tag: str, value: str | None) -> str:
    return "" if value is None else f"<{tag}>{value}</{tag}>"


def _identifier(tag: str, value: str | None, limit: int, order_id: str) -> str:
    """A key ShipStation matches on: refused when too long, never cut."""
    if value is None or value == "":
        return ""
    if len(value) > limit:
        raise MappingError(
            f"{tag} {value!r} is longer than the {limit} characters the Custom Store allows",
            order_id=order_id,
        )
    return f"<{tag}>{_cdata(value, limit)}</{tag}>"


def _address(tag: str, address: Address, *, with_street: bool, email: str | None) -> str:
    parts = [
        _text("Name", address.name, 100),
        _text("Company", address.company, 100),
    ]
    if with_street:
        parts += [
            _text("Address1", address.street1, 200),
            _text("Address2", address.street2, 200),
            _text("City", address.city, 100),
            _text("State", address.state, 100),
            _text("PostalCode", address.postal_code, 50),
            _text("Country", address.country, 2),
        ]
    parts.append(_text("Phone", address.phone, 50))
    if email is not None:
        parts.append(_text("Email", email, 100))
    return f"<{tag}>{''.join(parts)}</{tag}>"


def _item(item: OrderItem, order_id: str) -> str:
    parts = [
        _identifier("LineItemID", item.line_item_key, 50, order_id),
        # SKU is 50 in the field table, 100 in the XSD: the XSD is what ShipStation checks.
        _identifier("SKU", item.sku or (item.line_item_key or ""), 100, order_id),
        _text("Name", item.name, 200),
        _text("ImageUrl", item.image_url, 500),
    ]
    if item.weight is not None:
        weight, units = item.weight.value, item.weight.units
        if units not in _WEIGHT_UNITS:  # pragma: no cover - WeightUnit has only these three
            raise MappingError(f"weight unit {units} has no Custom Store name", order_id=order_id)
        parts.append(_plain("Weight", str(weight)))
        parts.append(_plain("WeightUnits", _WEIGHT_UNITS[units]))
    quantity = item.quantity if item.quantity is not None else 1
    if not 1 <= quantity <= 99999:
        raise MappingError(
            f"item {item.line_item_key}: quantity {quantity} is outside 1-99999", order_id=order_id
        )
    parts.append(_plain("Quantity", str(quantity)))
    price = item.unit_price if item.unit_price is not None else Decimal(0)
    parts.append(_plain("UnitPrice", _money(price, field="UnitPrice", order_id=order_id)))
    parts.append(_text("UPC", item.upc, 12))
    parts.append(_text("Location", item.warehouse_location, 100))
    parts.append(_plain("Adjustment", "true" if item.adjustment else "false"))
    options = [
        f"<Option>{_text('Name', option.name, 100)}{_text('Value', option.value, 100)}</Option>"
        for option in (item.options or ())[:10]  # "10 per Item" in the field table
        if option.name and option.value
    ]
    if options:
        parts.append(f"<Options>{''.join(options)}</Options>")
    return f"<Item>{''.join(parts)}</Item>"


def render_order(
    order: ShipStationOrder,
    *,
    last_modified: datetime,
    statuses: CustomStoreStatuses = DEFAULT_STATUSES,
    currency: str | None = None,
    custom_fields: Sequence[str | None] = (),
) -> str:
    """One ``<Order>`` element for an order mapped by the V1 import rules.

    ``order`` is what :func:`~backmarket_shipstation.mapping.to_shipstation_order` returns:
    ``OrderID`` is its ``orderKey`` (stable, account-prefixed), ``OrderNumber`` the Back
    Market order id, ``LineItemID`` each Back Market orderline id. ``last_modified`` moves
    whenever the exported content changes, since ShipStation's window is on it (§1.2).
    ``custom_fields`` fill ``CustomField1`` to ``CustomField3`` (shown in ShipStation's grid
    and usable in its automation rules). Every free text is CDATA and cut to its length.

    Raises :class:`~backmarket_shipstation.errors.MappingError` naming the order when a key
    (``OrderNumber``, ``SKU``, ``LineItemID``) is too long, an amount does not fit
    ``decimal(9,2)`` or a quantity is outside 1-99999.
    """
    number = order.order_number
    if order.amount_paid is None:
        raise MappingError("the order has no price: OrderTotal is required", order_id=number)
    email = order.customer_email
    fields = list(custom_fields)[:3]
    customer = (
        "<Customer>"
        + _identifier("CustomerCode", email or f"backmarket-{number}", 100, number)
        + _address("BillTo", order.bill_to, with_street=False, email=email)
        + _address("ShipTo", order.ship_to, with_street=True, email=None)
        + "</Customer>"
    )
    parts = [
        _identifier("OrderID", order.order_key, 50, number),
        _identifier("OrderNumber", number, 50, number),
        _plain("OrderDate", format_datetime(order.order_date)),
        _text("OrderStatus", statuses.for_status(order.order_status), 50),
        _plain("LastModified", format_datetime(last_modified)),
        _text("ShippingMethod", order.requested_shipping_service, 100),
        _text("PaymentMethod", order.payment_method, 50),
        _text("CurrencyCode", currency.upper() if currency else None, 3),
        _plain("OrderTotal", _money(order.amount_paid, field="OrderTotal", order_id=number)),
        _plain(
            "TaxAmount",
            None
            if order.tax_amount is None
            else _money(order.tax_amount, field="TaxAmount", order_id=number),
        ),
        _plain(
            "ShippingAmount",
            _money(order.shipping_amount or Decimal(0), field="ShippingAmount", order_id=number),
        ),
        _text("CustomerNotes", order.customer_notes, 1000),
        _text("InternalNotes", order.internal_notes, 1000),
        _plain("Gift", "true" if order.gift else "false"),
        _text("GiftMessage", order.gift_message, 1000),
        *(_text(f"CustomField{n}", value, 100) for n, value in enumerate(fields, start=1)),
        _text("Source", (order.advanced_options.source if order.advanced_options else None), 50),
        customer,
        "<Items>" + "".join(_item(item, number) for item in order.items or ()) + "</Items>",
    ]
    return "<Order>" + "".join(parts) + "</Order>"


def render_orders(orders: Iterable[str], *, pages: int) -> bytes:
    """The export answer: ``<Orders pages="N">`` around rendered ``<Order>`` elements."""
    if not 0 <= pages <= 32767:  # xs:short
        raise ValueError(f"pages must fit xs:short (got {pages})")
    body = "".join(orders)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<Orders pages="{pages}">{body}</Orders>'
    ).encode()


# ---------------------------------------------------------------------------------------
# shipnotify: <ShipNotice>
# ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class NoticeItem:
    """One ``ShipNotice/Items/Item``: the line a split shipment carries."""

    line_item_id: str | None = None
    sku: str | None = None
    name: str | None = None
    quantity: int | None = None
    upc: str | None = None


@attrs.frozen(kw_only=True)
class ShipNotice:
    """A shipnotify call: the ``<ShipNotice>`` fields, completed by the query string.

    The query string carries ``order_number``, ``carrier``, ``service`` and
    ``tracking_number`` (SS-CS-POST); the body may be empty (§1.4, seen in production), so
    each of those falls back to the query parameter.
    """

    order_number: str
    tracking_number: str
    carrier: str | None = None
    service: str | None = None
    order_id: str | None = None
    customer_code: str | None = None
    customer_notes: str | None = None
    internal_notes: str | None = None
    notes_to_customer: str | None = None
    notify_customer: bool | None = None
    label_create_date: datetime | None = None
    ship_date: date | None = None
    shipping_cost: Decimal | None = None
    custom_fields: tuple[str | None, str | None, str | None] = (None, None, None)
    recipient: Address | None = None
    items: tuple[NoticeItem, ...] = ()
    from_body: bool = True
    """False when the body was empty and the notice comes from the query string alone."""


class _LimitedTreeBuilder(TreeBuilder):
    """A tree builder that refuses documents nested or sized beyond the limits."""

    def __init__(self, max_depth: int, max_elements: int) -> None:
        super().__init__()
        self._depth = 0
        self._count = 0
        self._max_depth = max_depth
        self._max_elements = max_elements

    def start(self, tag: Any, attrs: Any) -> Element:
        self._depth += 1
        self._count += 1
        if self._depth > self._max_depth:
            raise NoticeXMLError(f"XML nested deeper than {self._max_depth} levels")
        if self._count > self._max_elements:
            raise NoticeXMLError(f"XML with more than {self._max_elements} elements")
        return super().start(tag, attrs)

    def end(self, tag: Any) -> Element:
        self._depth -= 1
        return super().end(tag)


def _parse_xml(body: bytes, *, max_depth: int, max_elements: int) -> Element:
    builder = _LimitedTreeBuilder(max_depth, max_elements)
    # forbid_dtd: a notice has no DTD, and refusing any closes every entity trick at once
    # (billion laughs, external entities, parameter entities) before expansion starts.
    parser = DefusedXMLParser(
        target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(body)
        root: Element = parser.close()
    except DefusedXmlException as exc:
        raise NoticeXMLError(f"unsafe XML refused: {type(exc).__name__}") from None
    except ParseError as exc:
        raise NoticeXMLError(f"not well-formed XML: {exc}") from None
    return root


def _child_text(element: Element | None, tag: str) -> str | None:
    if element is None:
        return None
    found = element.find(tag)
    if found is None or found.text is None:
        return None
    text = found.text.strip()
    return text or None


def _decimal(text: str | None, field: str, order: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise MappingError(f"{field} is not a number: {text!r}", order_id=order) from None
    if not value.is_finite():
        raise MappingError(f"{field} is not a number: {text!r}", order_id=order)
    return value


def _bool(text: str | None) -> bool | None:
    if text is None:
        return None
    # Magento reads only "true"/"yes" as true (§1.4): anything else is false.
    return text.strip().lower() in ("true", "yes", "1")


def _date_field(text: str | None, field: str, order: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_datetime(text)
    except ValueError:
        raise MappingError(f"{field} is not a date: {text!r}", order_id=order) from None


def parse_ship_notice(
    body: bytes,
    query: Mapping[str, str],
    *,
    max_depth: int = MAX_NOTICE_DEPTH,
    max_elements: int = MAX_NOTICE_ELEMENTS,
) -> ShipNotice:
    """The notice of one shipnotify call: its XML ``body`` completed by its ``query``.

    An empty body gives a notice from the query string alone (``order_number``,
    ``tracking_number``, ``carrier``, ``service``). Raises :class:`NoticeXMLError` for XML
    that is malformed, has a DTD or entities, or exceeds the limits, and
    :class:`~backmarket_shipstation.errors.MappingError` when no order number or tracking
    number is given, or a field has the wrong shape.
    """
    root: Element | None = None
    if body.strip():
        root = _parse_xml(body, max_depth=max_depth, max_elements=max_elements)
        if root.tag != "ShipNotice":
            raise NoticeXMLError(f"the body is <{root.tag}>, not <ShipNotice>")

    def field(tag: str, query_name: str | None = None) -> str | None:
        value = _child_text(root, tag)
        if value is None and query_name is not None:
            value = (query.get(query_name) or "").strip() or None
        return value

    order_number = field("OrderNumber", "order_number")
    if order_number is None:
        raise MappingError("the notice has no OrderNumber nor order_number")
    tracking = (field("TrackingNumber", "tracking_number") or "").replace(" ", "")
    if not tracking:
        raise MappingError("no tracking number: Back Market requires one", order_id=order_number)
    ship_date_time = _date_field(field("ShipDate"), "ShipDate", order_number)
    recipient = None
    recipient_element = root.find("Recipient") if root is not None else None
    if recipient_element is not None:
        recipient = Address(
            name=_child_text(recipient_element, "Name"),
            company=_child_text(recipient_element, "Company"),
            street1=_child_text(recipient_element, "Address1"),
            street2=_child_text(recipient_element, "Address2"),
            city=_child_text(recipient_element, "City"),
            state=_child_text(recipient_element, "State"),
            postal_code=_child_text(recipient_element, "PostalCode"),
            country=_child_text(recipient_element, "Country"),
        )
    items: list[NoticeItem] = []
    for element in root.findall("Items/Item") if root is not None else ():
        quantity_text = _child_text(element, "Quantity")
        if quantity_text is not None and not quantity_text.isdigit():
            raise MappingError(
                f"item Quantity is not a number: {quantity_text!r}", order_id=order_number
            )
        items.append(
            NoticeItem(
                line_item_id=_child_text(element, "LineItemID"),
                sku=_child_text(element, "SKU"),
                name=_child_text(element, "Name"),
                quantity=int(quantity_text) if quantity_text is not None else None,
                upc=_child_text(element, "UPC"),
            )
        )
    return ShipNotice(
        order_number=order_number,
        tracking_number=tracking,
        carrier=field("Carrier", "carrier"),
        service=field("Service", "service"),
        order_id=field("OrderID"),
        customer_code=field("CustomerCode"),
        customer_notes=field("CustomerNotes"),
        internal_notes=_raw_text(root, "InternalNotes"),
        notes_to_customer=field("NotesToCustomer"),
        notify_customer=_bool(field("NotifyCustomer")),
        label_create_date=_date_field(field("LabelCreateDate"), "LabelCreateDate", order_number),
        ship_date=ship_date_time.date() if ship_date_time is not None else None,
        shipping_cost=_decimal(field("ShippingCost"), "ShippingCost", order_number),
        custom_fields=(field("CustomField1"), field("CustomField2"), field("CustomField3")),
        recipient=recipient,
        items=tuple(items),
        from_body=root is not None,
    )


def _raw_text(root: Element | None, tag: str) -> str | None:
    """A multi-line text as sent (Internal Notes hold one ``SKU: IMEI`` per line)."""
    if root is None:
        return None
    found = root.find(tag)
    return found.text if found is not None and found.text else None


# Custom Store carrier names (SS-CS-POST) that differ from the V1 carrier codes the carrier
# map knows; the others ("USPS", "UPS", "FedEx", "DHL", "Other"...) fold to a V1 code as is.
_CARRIER_CODES = {
    "royalmail": "royal_mail",
    "dhlglobalmail": "dhl_global_mail",
    "dhlexpress": "dhl_express",
    "fedexcanada": "fedex",
    "fedexinternationalmailservice": "fedex",
    "upsmi": "ups",
    "canadapost": "canada_post",
    "australiapost": "australia_post",
    "parcelforce": "parcelforce",
}


def v1_carrier_code(carrier: str | None) -> str | None:
    """The V1 carrier code the carrier map reads for a Custom Store ``carrier`` value."""
    if carrier is None:
        return None
    folded = carrier.strip().casefold()
    return _CARRIER_CODES.get(folded.replace("_", "").replace(" ", ""), carrier.strip())


def _shipped_at(ship_date: date | None, created: datetime | None) -> datetime | None:
    """The ship date as an instant: the label's creation time when it was made that day."""
    if ship_date is None:
        return created
    if created is not None and created.astimezone(UTC).date() == ship_date:
        return created
    return datetime(ship_date.year, ship_date.month, ship_date.day, tzinfo=UTC)


def notice_lines(
    notice: ShipNotice, order_lines: Sequence[IdentifiableLine]
) -> tuple[IdentifiableLine, ...]:
    """The order lines a notice ships: its items matched by ``LineItemID``, else by SKU.

    No items (an empty body, or a notice without them) ships the whole order, as WooCommerce
    does (§1.4). Items match by ``LineItemID`` (we export the orderline id there), falling
    back on the SKU, taken in order when several lines share it (as Magento does).
    """
    if not notice.items:
        return tuple(order_lines)
    by_key = {line.key: line for line in order_lines}
    chosen: list[IdentifiableLine] = []
    for item in notice.items:
        line = by_key.get(item.line_item_id or "")
        if line is None and item.sku:
            line = next(
                (
                    candidate
                    for candidate in order_lines
                    if (candidate.sku or "").casefold() == item.sku.casefold()
                    and candidate not in chosen
                ),
                None,
            )
        if line is None:
            if item.line_item_id == "discount" or (item.sku or "") == "":
                continue  # the discount adjustment line: nothing to ship
            raise MappingError(
                f"the notice ships item {item.line_item_id or item.sku!r}, "
                "which the order does not have",
                order_id=notice.order_number,
            )
        if line not in chosen:
            chosen.append(line)
    # Only the discount line named: that is no package, read it as the whole order.
    return tuple(chosen) or tuple(order_lines)


def to_notification(
    notice: ShipNotice,
    order_lines: Sequence[IdentifiableLine],
    *,
    carrier_map: CarrierMap = DEFAULT_CARRIER_MAP,
    currency: str | None = None,
    requires_identifier: Callable[[IdentifiableLine], bool] = device_lines,
) -> ShipmentNotification:
    """The :class:`~backmarket_shipstation.mapping.ShipmentNotification` of a notice.

    ``order_lines`` are the Back Market order's lines (key = orderline id). The result is the
    one the V1 path builds for the same label: tracking number, the carrier mapped to a Back
    Market shipper name by the same :class:`~backmarket_shipstation.mapping.CarrierMap`,
    service, carrier fee (``ShippingCost``), and the IMEIs and serial numbers read from the
    notice's ``InternalNotes`` for the lines it ships. In a split shipment, identifiers typed
    for the order's other lines (by SKU) are left for their own notices.

    Raises :class:`~backmarket_shipstation.errors.MappingError` when the order number is not
    a Back Market order id, and the
    :class:`~backmarket_shipstation.errors.DeviceIdentifierError` family when a shipped
    line's IMEI or serial number is missing or invalid: nothing may be sent then.
    """
    number = notice.order_number.strip()
    if not number.isascii() or not number.isdigit():
        raise MappingError("OrderNumber is not a Back Market order id", order_id=number)
    order_id = int(number)
    lines = notice_lines(notice, order_lines)
    carrier_code = v1_carrier_code(notice.carrier)
    choice = carrier_map.shipper_for(carrier_code, notice.service)
    parsed = parse_device_identifiers(
        notice.internal_notes,
        skus=[line.sku for line in order_lines if line.sku],
        order_id=order_id,
    )
    if len(lines) < len(order_lines):
        shipped_skus = {(line.sku or "").casefold() for line in lines}
        parsed = tuple(
            entry for entry in parsed if entry.sku is None or entry.sku.casefold() in shipped_skus
        )
    assigned = assign_device_identifiers(
        parsed, lines, order_id=order_id, requires_identifier=requires_identifier
    )
    fee = notice.shipping_cost
    return ShipmentNotification(
        order_id=order_id,
        status=NotificationStatus.SHIPPED,
        tracking_number=notice.tracking_number,
        source=NotificationSource.SHIPMENT,
        tracking_url=tracking_url_for(choice.shipper, notice.tracking_number),
        carrier_code=carrier_code,
        service_code=notice.service,
        shipper=choice.shipper,
        carrier_fee=fee,
        currency=currency if fee is not None else None,
        ship_date=notice.ship_date,
        shipped_at=_shipped_at(notice.ship_date, notice.label_create_date),
        identifiers=tuple(
            LineIdentifiers(
                orderline_id=int(entry.line_key),
                sku=entry.sku,
                imei=entry.imei,
                serial_number=entry.serial_number,
            )
            for entry in assigned
        ),
        # What this notice ships: the write plan ships the order only once that is every line.
        shipped_lines=tuple(
            ShippedLine(orderline_id=int(line.key), quantity=line.quantity)
            for line in lines
            if line.key.isdigit()
        ),
    )
