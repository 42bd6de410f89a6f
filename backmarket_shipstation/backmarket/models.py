"""Back Market seller API models: orders, order lines, addresses and the write bodies.

The field lists follow backmarket.md §4 (the [OAS] schema plus the undocumented keys seen in
live payloads). Real payloads omit things, so only the identifiers are required: ``order_id``
for an order and ``id`` for an order line. Everything else is ``None`` when the payload did not
carry it. Money is :class:`~decimal.Decimal` (Back Market sends decimal strings); date-times
are timezone-aware (a value without an offset means UTC).

See ``docs/models-backmarket.md`` for every field and quirk with its source.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeAlias

import attrs

from .._convert import (
    BLANK_IS_NONE,
    UTC,
    CodeEnum,
    DatetimeCodec,
    Model,
    ModelConverter,
    TextEnum,
    extras_field,
)

__all__ = [
    "BACKMARKET_CONVERTER",
    "Address",
    "BackMarketModel",
    "BackMarketWrite",
    "Condition",
    "Delivery",
    "DeliveryMode",
    "DeliveryPage",
    "Gender",
    "Order",
    "OrderLine",
    "OrderLineState",
    "OrderPage",
    "OrderState",
    "OrderUpdate",
    "OrderlineIdentifiers",
    "OrderlineIdentifiersUpdate",
    "PickupInfo",
    "ReturnReason",
    "VatType",
]

BACKMARKET_CONVERTER = ModelConverter(
    api="backmarket",
    naming="snake",
    money="string",
    datetimes=DatetimeCodec(UTC, "rfc3339"),
)
"""The one converter of the Back Market API: snake_case keys, money as strings, RFC 3339 UTC."""


class BackMarketModel(Model):
    """Base of every Back Market model (``from_dict`` / ``to_dict`` use Back Market's rules)."""

    __slots__ = ()
    _converter = BACKMARKET_CONVERTER


# --------------------------------------------------------------------------------------
# Codes
# --------------------------------------------------------------------------------------


class OrderState(CodeEnum):
    """State of a whole order ([OAS] Table 5). Not the same codes as :class:`OrderLineState`.

    Merchants cannot set it: Back Market derives it from the order lines. 8 and 9 mean
    "payment failed" and "processed" here, but "pending payment" and "on hold" for a line.
    """

    NEW = 0
    """Payment and identity checks pending; must not be shipped. Never listed."""
    PENDING_PAYMENT = 10
    """The customer ordered but still has time to pay; must not be shipped."""
    TO_ACCEPT = 1
    """Paid and validated: the merchant must accept or cancel the lines."""
    TO_SHIP = 3
    """Every line accepted: the merchant must ship."""
    NOT_PAID = 8
    """Payment failed; final. Never listed."""
    SHIPPED = 9
    """Processed; final. Also set when every line was cancelled or refunded (backmarket.md §5.1)."""

    @property
    def is_final(self) -> bool:
        """True for 8 and 9: Back Market will not change the order any more."""
        return self in (OrderState.NOT_PAID, OrderState.SHIPPED)


class OrderLineState(CodeEnum):
    """State of one order line ([OAS] Table 6); ``new_state`` in an update takes these codes."""

    NEW = 0
    """Waiting for payment confirmation."""
    PAID = 1
    """Paid: the merchant must accept (2) or cancel (4) it."""
    ACCEPTED = 2
    """Accepted by the merchant: prepare the shipment, then ship (3) or refund (5)."""
    SHIPPED = 3
    """Handed to the carrier; only a refund after shipping (6) may follow."""
    CANCELLED = 4
    """Cancelled; the customer will be refunded. Final."""
    REFUNDED_BEFORE_SHIPPING = 5
    """Refunded before shipping. Final."""
    REFUNDED_AFTER_SHIPPING = 6
    """Refunded after shipping (customer refund request). Final."""
    NOT_PAID = 7
    """Payment refused by the bank. Final."""
    PENDING_PAYMENT = 8
    """The customer still has time to pay."""
    ON_HOLD = 9
    """Must be validated by a Back Market partner before the merchant can accept it."""

    @property
    def is_final(self) -> bool:
        """True for 3 to 7: the states after which the order is processed (order state 9).

        A shipped line (3) may still be refunded (6), but it no longer holds the order back.
        """
        return self in _FINAL_LINE_STATES

    @property
    def is_settable(self) -> bool:
        """True for 2 to 6, the only values production accepts as ``new_state``."""
        return self in _SETTABLE_LINE_STATES


_FINAL_LINE_STATES = frozenset(
    {
        OrderLineState.SHIPPED,
        OrderLineState.CANCELLED,
        OrderLineState.REFUNDED_BEFORE_SHIPPING,
        OrderLineState.REFUNDED_AFTER_SHIPPING,
        OrderLineState.NOT_PAID,
    }
)
_SETTABLE_LINE_STATES = frozenset(
    {
        OrderLineState.ACCEPTED,
        OrderLineState.SHIPPED,
        OrderLineState.CANCELLED,
        OrderLineState.REFUNDED_BEFORE_SHIPPING,
        OrderLineState.REFUNDED_AFTER_SHIPPING,
    }
)


class Condition(CodeEnum):
    """Grade of the product sold on an order line ([OAS] ``ProductCondition``)."""

    PREMIUM = 9
    EXCELLENT = 10
    GOOD = 11
    FAIR = 12


class ReturnReason(CodeEnum):
    """Why a line was cancelled or refunded ([OAS] ``ReturnReason``, backmarket.md §5.4).

    Order lines without a return seem to carry 0 (which is also "stock mistake"), or nothing.
    """

    STOCK_MISTAKE = 0
    WITHDRAWAL = 1
    """Withdrawal during the legal 14-day period."""
    CUSTOMER_NOT_AT_ADDRESS = 11
    """The customer does not live at the address."""
    PARCEL_NOT_DELIVERED = 12
    """The parcel did not reach its destination."""
    PARCEL_LOST = 13
    FAULTY_ON_OPENING = 21
    FAILURE_DURING_FIRST_USE = 22
    FAILURE_DURING_WARRANTY = 23
    NON_COMPLIANT_PRODUCT = 24
    OTHER = 25


class Gender(CodeEnum):
    """Buyer gender on an address (not in the current spec; [CF], [S8], [NK])."""

    MALE = 0
    FEMALE = 1


class VatType(TextEnum):
    """VAT scheme of an update's ``vat_type`` (undocumented; presumably standard vs margin)."""

    REGULAR = "REGULAR"
    MARGINAL = "MARGINAL"


class DeliveryMode(TextEnum):
    """How the buyer receives the parcel (undocumented, seen in live data by [MAXP])."""

    HOME_DELIVERY = "HOME_DELIVERY"
    COLLECTION_POINT = "COLLECTION_POINT"


# --------------------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------------------


def _blank() -> Any:
    """An optional field where ``""`` on the wire means absent.

    Read as ``None``; the ``""`` is kept in ``extras`` so ``to_dict()`` writes it back. Used for
    the identifiers (documented as ``""`` when unset) and, defensively, for dates and amounts,
    where ``""`` cannot be a value: an order should not fail to import over an empty date.
    """
    return attrs.field(default=None, metadata={BLANK_IS_NONE: True})


def _private() -> Any:
    """An optional text field kept out of ``repr()`` (buyer contact data)."""
    return attrs.field(default=None, repr=False)


@attrs.frozen(kw_only=True)
class Address(BackMarketModel):
    """A shipping or billing address (backmarket.md §4.3; snake_case on the wire).

    Before acceptance (order state 1) the name, postal code and phone may be empty strings:
    read them as "not revealed yet", not as a broken address. The phone, e-mail and ID number
    are left out of ``repr()`` so that logging an order does not spread the buyer's contact
    data; they are still in the fields and in ``to_dict()``.
    """

    company: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    first_name_pronunciation: str | None = None
    """Kana reading of the first name (Japan)."""
    last_name_pronunciation: str | None = None
    """Kana reading of the last name (Japan)."""
    gender: Gender | None = None
    street: str | None = None
    street2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    state_or_province: str | None = None
    """US state. UNCONFIRMED key: no source shows the real one; the simulator emits this."""
    country: str | None = None
    """ISO 3166-1 alpha-2, e.g. ``FR``."""
    phone: str | None = _private()
    email: str | None = _private()
    customer_id_number: str | None = _private()
    """A buyer identity or tax number where the market requires one (undocumented use)."""
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class OrderLine(BackMarketModel):
    """One line of an order (backmarket.md §4.2). ``id`` is the orderline id of the PATCH call."""

    id: int
    date_creation: datetime | None = _blank()
    state: OrderLineState | None = None
    listing: str | None = None
    """The seller SKU (a string, not a listing object)."""
    listing_id: int | None = None
    product: str | None = None
    product_id: int | None = None
    brand: str | None = None
    quantity: int | None = None
    price: Decimal | None = _blank()
    """Price incl. taxes and warranty, excl. shipping (unit or line total: UNCONFIRMED)."""
    shipping_price: Decimal | None = _blank()
    shipping_delay: int | None = None
    """Hours."""
    shipper: str | None = None
    currency: str | None = None
    return_reason: ReturnReason | None = _blank()
    return_message: str | None = None
    orderline_fee: Decimal | None = _blank()
    """Back Market's commission."""
    sales_taxes: Decimal | None = _blank()
    backcare: bool | None = None
    backcare_price: int | None = None
    """In cents."""
    imei: str | None = _blank()
    serial_number: str | None = _blank()
    condition: Condition | None = None
    extras: Mapping[str, Any] = extras_field()

    @property
    def sku(self) -> str | None:
        """The seller SKU: Back Market calls it ``listing``."""
        return self.listing


@attrs.frozen(kw_only=True)
class Order(BackMarketModel):
    """A Back Market order as ``GET /ws/orders`` returns it (backmarket.md §4.1)."""

    order_id: int
    merchant_id: int | None = None
    state: OrderState | None = None
    date_creation: datetime | None = _blank()
    date_modification: datetime | None = _blank()
    date_payment: datetime | None = _blank()
    date_shipping: datetime | None = _blank()
    expected_dispatch_date: datetime | None = _blank()
    date_bill_provided: datetime | None = _blank()
    shipping_address: Address | None = None
    billing_address: Address | None = None
    delivery_note: str | None = None
    """URL of the PDF packing slip."""
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipper: str | None = None
    shipper_display: str | None = None
    """The carrier or service the buyer chose, set before shipping."""
    is_backship: bool | None = None
    delivery_mode: DeliveryMode | None = None
    orderlines: tuple[OrderLine, ...] | None = None
    price: Decimal | None = _blank()
    """Order total incl. taxes, excl. shipping."""
    shipping_price: Decimal | None = _blank()
    currency: str | None = None
    country_code: str | None = None
    """The market the order came from, e.g. ``fr-fr``."""
    paypal_reference: str | None = None
    psp_reference: str | None = None
    installment_payment: bool | None = None
    payment_method: str | None = None
    sales_taxes: Decimal | None = _blank()
    extras: Mapping[str, Any] = extras_field()

    @property
    def lines(self) -> tuple[OrderLine, ...]:
        """The order lines, empty when the payload carried none."""
        return self.orderlines or ()

    @property
    def lines_by_sku(self) -> dict[str, tuple[OrderLine, ...]]:
        """Lines grouped by SKU, in order (an accept call names one SKU at a time)."""
        grouped: dict[str, list[OrderLine]] = {}
        for line in self.lines:
            if line.listing is not None:
                grouped.setdefault(line.listing, []).append(line)
        return {sku: tuple(lines) for sku, lines in grouped.items()}


@attrs.frozen(kw_only=True)
class OrderPage(BackMarketModel):
    """One page of ``GET /ws/orders``: ``{count, next, previous, results}``.

    ``count`` is the total across pages; ``next`` is an absolute URL, or ``None`` on the last
    page.
    """

    results: tuple[Order, ...]
    count: int | None = None
    next: str | None = None
    previous: str | None = None
    extras: Mapping[str, Any] = extras_field()


# --------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class OrderUpdate(BackMarketModel):
    """Body of ``POST /ws/orders/{order_id}`` (backmarket.md §3.3): act on order lines.

    A plain data holder: the mapping layer and the client check the rules (``new_state`` in
    2..6, ``sku`` for 2, ``tracking_number`` for 3, identifiers only for one quantity-1 line).
    """

    order_id: int
    new_state: OrderLineState
    sku: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipper: str | None = None
    date_shipping: datetime | None = None
    imei: str | None = None
    serial_number: str | None = None
    return_reason: ReturnReason | None = None
    return_message: str | None = None
    vat_type: VatType | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class OrderlineIdentifiers(BackMarketModel):
    """Body and 200 answer of ``PATCH /ws/orderlines/{id}``: at least one of the two."""

    imei: str | None = None
    serial_number: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class OrderlineIdentifiersUpdate:
    """A planned ``PATCH /ws/orderlines/{orderline_id}`` with its body."""

    orderline_id: int
    identifiers: OrderlineIdentifiers


BackMarketWrite: TypeAlias = OrderUpdate | OrderlineIdentifiersUpdate
"""One planned write to Back Market."""


# --------------------------------------------------------------------------------------
# BackShip: labels Back Market supplies (``/ws/shipping/v1``, camelCase on the wire)
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PickupInfo(BackMarketModel):
    """The carrier pickup booked for a BackShip parcel."""

    __wire_naming__: ClassVar[str] = "camel"

    pickup_id: int | None = None
    confirmation_number: str | None = None
    date_pickup_requested: str | None = None
    """A calendar date (``2021-05-05``), kept as sent."""
    date_pickup_range_start: datetime | None = _blank()
    date_pickup_range_end: datetime | None = _blank()
    date_pickup_actual: datetime | None = _blank()
    is_canceled: bool | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Delivery(BackMarketModel):
    """A BackShip delivery: the label Back Market made when the lines were accepted
    (``GET /ws/shipping/v1/deliveries``, backmarket.md §7.4, [OAS] ``Delivery``).

    ``label_url`` may be a path on the Back Market host (``/static/shipment_labels/...pdf``):
    :meth:`absolute_label_url` resolves it. ``order`` is the order id.
    """

    __wire_naming__: ClassVar[str] = "camel"

    order: int
    shipment_id: int | None = None
    carrier_id: int | None = None
    orderlines: tuple[int, ...] | None = None
    reference_number: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    carrier_name: str | None = None
    hub_scanned: bool | None = None
    """The label was scanned at the carrier's hub (the parcel is on its way)."""
    invoiced_currency: str | None = None
    invoiced_price: int | None = None
    """What Back Market invoices for the label, as sent: an integer ([OAS] gives no unit)."""
    date_pickup: datetime | None = _blank()
    date_creation: datetime | None = _blank()
    date_delivery: datetime | None = _blank()
    label_url: str | None = None
    type: str | None = None
    """``DELIVERY``."""
    pickup_info: PickupInfo | None = None
    extras: Mapping[str, Any] = extras_field()

    def absolute_label_url(self, base_url: str) -> str | None:
        """``label_url`` as a full URL on ``base_url`` when Back Market gives a path."""
        from urllib.parse import urljoin

        if not self.label_url:
            return None
        return urljoin(base_url.rstrip("/") + "/", self.label_url)

    @property
    def is_live(self) -> bool:
        """A delivery label with a tracking number whose pickup was not cancelled."""
        cancelled = self.pickup_info is not None and self.pickup_info.is_canceled is True
        kind = (self.type or "DELIVERY").upper()
        return bool(self.tracking_number) and not cancelled and kind == "DELIVERY"


@attrs.frozen(kw_only=True)
class DeliveryPage(BackMarketModel):
    """One page of ``GET /ws/shipping/v1/deliveries`` (``count`` is the total)."""

    results: tuple[Delivery, ...]
    count: int | None = None
    next: str | None = None
    previous: str | None = None
    extras: Mapping[str, Any] = extras_field()
