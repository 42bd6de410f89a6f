"""ShipStation API V1 models: orders, shipments, fulfillments, carriers, stores, webhooks,
products, warehouses (Ship From Locations) and tags.

Every model is a frozen, keyword-only attrs class built by one converter,
:data:`SHIPSTATION_CONVERTER`. Field names are snake_case in Python and camelCase on the wire
(``order_key`` ↔ ``orderKey``), except the webhook list (PascalCase) and the webhook payload
and subscription bodies (snake_case), which ShipStation names differently.

V1 quirks the models absorb (see docs/models-shipstation.md; tags refer to
docs/api-notes/shipstation.md):

- Date-times are US Pacific wall time without an offset, with 0 to 7 fraction digits
  [SWAGGER §DateTime Format]. Models hold aware ``datetime`` values in ``America/Los_Angeles``
  and write them back as ``2025-03-14T02:15:41.3070000``. Bare dates (an order's or a
  shipment's ``shipDate``, ``holdUntilDate``) are ``datetime.date``.
- Money is a JSON number with no currency [§2.1]: ``Decimal`` in Python, a number on the wire.
- Unknown keys and keys that came as ``null`` are kept in ``extras`` so that ``to_dict()``
  round-trips a fetched order: ShipStation's createorder replaces the whole order [§3.3].
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import attrs

from .._convert import (
    DatetimeCodec,
    Model,
    ModelConverter,
    TextEnum,
    blank_is_absent,
    extras_field,
    wire,
)

__all__ = [
    "PACIFIC",
    "SHIPSTATION_CONVERTER",
    "Address",
    "AddressVerification",
    "AdvancedOptions",
    "BillToParty",
    "BulkUpsertOrderResult",
    "BulkUpsertResult",
    "Carrier",
    "CarrierPackage",
    "CarrierService",
    "Confirmation",
    "CreateLabelRequest",
    "CustomsContents",
    "CustomsItem",
    "DimensionUnit",
    "Dimensions",
    "Fulfillment",
    "FulfillmentPage",
    "InsuranceOptions",
    "InsuranceProvider",
    "InternationalOptions",
    "ItemOption",
    "Label",
    "MarkAsShippedRequest",
    "MarkAsShippedResult",
    "Marketplace",
    "NonDelivery",
    "Order",
    "OrderItem",
    "OrderPage",
    "OrderStatus",
    "Product",
    "ProductCategory",
    "ProductPage",
    "RefreshStatus",
    "Shipment",
    "ShipmentItem",
    "ShipmentPage",
    "ShipStationModel",
    "StatusMapping",
    "Store",
    "SuccessResponse",
    "Tag",
    "Warehouse",
    "Webhook",
    "WebhookEvent",
    "WebhookList",
    "WebhookPayload",
    "WebhookSubscription",
    "WebhookSubscriptionResult",
    "Weight",
    "WeightUnit",
]

PACIFIC = ZoneInfo("America/Los_Angeles")
"""The zone of every ShipStation V1 date-time: US Pacific, with its DST."""

SHIPSTATION_CONVERTER = ModelConverter(
    api="shipstation",
    naming="camel",
    money="number",
    datetimes=DatetimeCodec(PACIFIC, "pacific7"),
)
"""The one converter of ShipStation V1 payloads, built at import."""


class ShipStationModel(Model):
    """Base of every ShipStation V1 model (``from_dict``/``to_dict`` through the V1 converter)."""

    __slots__ = ()
    _converter: ClassVar[ModelConverter] = SHIPSTATION_CONVERTER


# --------------------------------------------------------------------------------------
# Enums (unknown strings are tolerated: ``member.is_known`` is False, the value is kept)
# --------------------------------------------------------------------------------------


class OrderStatus(TextEnum):
    """``orderStatus`` of a V1 order [DOCS-ORDER-MODEL][SWAGGER][DOCS-LIST-ORDERS]."""

    AWAITING_PAYMENT = "awaiting_payment"
    AWAITING_SHIPMENT = "awaiting_shipment"
    SHIPPED = "shipped"
    ON_HOLD = "on_hold"
    CANCELLED = "cancelled"
    PENDING_FULFILLMENT = "pending_fulfillment"
    """Fulfillment-provider flow; accepted by list filters [SWAGGER]."""
    REJECTED_FULFILLMENT = "rejected_fulfillment"
    """Fulfillment-provider flow; in the current openapi [DOCS-LIST-ORDERS]."""


class WeightUnit(TextEnum):
    """Weight units of V1: there is no kilogram, send grams [SS-NODE][PYSHIPSTATION]."""

    POUNDS = "pounds"
    OUNCES = "ounces"
    GRAMS = "grams"


class DimensionUnit(TextEnum):
    """Dimension units of V1 [SS-NODE]."""

    INCHES = "inches"
    CENTIMETERS = "centimeters"


class Confirmation(TextEnum):
    """Delivery confirmation [SWAGGER]; ``direct_signature`` is FedEx only."""

    NONE = "none"
    DELIVERY = "delivery"
    SIGNATURE = "signature"
    ADULT_SIGNATURE = "adult_signature"
    DIRECT_SIGNATURE = "direct_signature"


class InsuranceProvider(TextEnum):
    """Who insures a shipment [SS-NODE]; ``provider`` is third-party insurance billed elsewhere."""

    SHIPSURANCE = "shipsurance"
    CARRIER = "carrier"
    PROVIDER = "provider"
    XCOVER = "xcover"
    PARCELGUARD = "parcelguard"


class CustomsContents(TextEnum):
    """``internationalOptions.contents`` [SS-NODE]."""

    MERCHANDISE = "merchandise"
    DOCUMENTS = "documents"
    GIFT = "gift"
    RETURNED_GOODS = "returned_goods"
    SAMPLE = "sample"


class NonDelivery(TextEnum):
    """``internationalOptions.nonDelivery`` [SS-NODE]."""

    RETURN_TO_SENDER = "return_to_sender"
    TREAT_AS_ABANDONED = "treat_as_abandoned"


class BillToParty(TextEnum):
    """``advancedOptions.billToParty`` [SS-NODE]."""

    MY_ACCOUNT = "my_account"
    MY_OTHER_ACCOUNT = "my_other_account"
    RECIPIENT = "recipient"
    THIRD_PARTY = "third_party"


class AddressVerification(TextEnum):
    """Read-only ``addressVerified`` of an address [SS-NODE]."""

    NOT_VALIDATED = "Address not yet validated"
    VALIDATED = "Address validated successfully"
    WARNING = "Address validation warning"
    FAILED = "Address validation failed"


class WebhookEvent(TextEnum):
    """Webhook event types [SWAGGER][DOCS-WEBHOOK-MODEL][HELP-WEBHOOKS]."""

    ORDER_NOTIFY = "ORDER_NOTIFY"
    ITEM_ORDER_NOTIFY = "ITEM_ORDER_NOTIFY"
    SHIP_NOTIFY = "SHIP_NOTIFY"
    """A new label; never fired by markasshipped."""
    ITEM_SHIP_NOTIFY = "ITEM_SHIP_NOTIFY"
    FULFILLMENT_SHIPPED = "FULFILLMENT_SHIPPED"
    FULFILLMENT_REJECTED = "FULFILLMENT_REJECTED"


# --------------------------------------------------------------------------------------
# Value objects (§2.3, §2.5)
# --------------------------------------------------------------------------------------

_GRAMS_PER_OUNCE = Decimal("28.349523125")


@attrs.frozen(kw_only=True)
class Weight(ShipStationModel):
    """A weight ``{value, units}``; on an order item it is the weight of ONE unit [DOCS-ORDER-ITEM].

    ``weight_units`` is the read-only numeric ``WeightUnits`` ShipStation adds to responses
    (1 = ounces observed [CAPTURED-SHIPMENT]; other codes unknown); never send it.
    """

    value: Decimal
    units: WeightUnit
    weight_units: int | None = wire("WeightUnits")
    extras: Mapping[str, Any] = extras_field()

    @classmethod
    def grams(cls, value: Decimal | int | str) -> Weight:
        """A weight in grams (V1 has no kilograms: multiply by 1000 first)."""
        return cls(value=Decimal(value), units=WeightUnit.GRAMS)

    @classmethod
    def ounces(cls, value: Decimal | int | str) -> Weight:
        """A weight in ounces."""
        return cls(value=Decimal(value), units=WeightUnit.OUNCES)

    @classmethod
    def pounds(cls, value: Decimal | int | str) -> Weight:
        """A weight in pounds."""
        return cls(value=Decimal(value), units=WeightUnit.POUNDS)

    def in_grams(self) -> Decimal:
        """This weight in grams; raises ``ValueError`` for an unknown unit."""
        if self.units is WeightUnit.GRAMS:
            return self.value
        if self.units is WeightUnit.OUNCES:
            return self.value * _GRAMS_PER_OUNCE
        if self.units is WeightUnit.POUNDS:
            return self.value * 16 * _GRAMS_PER_OUNCE
        raise ValueError(f"cannot convert weight unit {self.units.value!r} to grams")


@attrs.frozen(kw_only=True)
class Dimensions(ShipStationModel):
    """Parcel dimensions ``{length, width, height, units}`` [SS-NODE]."""

    length: Decimal | None = None
    width: Decimal | None = None
    height: Decimal | None = None
    units: DimensionUnit | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Address(ShipStationModel):
    """A postal address [SS-NODE: Address.ts][SWAGGER].

    Every field is optional: a billTo often carries only ``name`` and unset fields come back
    as ``null`` (kept in ``extras``). ``country`` is a 2-letter ISO code; ``state`` is ``""``
    outside the US in the examples.
    """

    name: str | None = None
    company: str | None = None
    street1: str | None = None
    street2: str | None = None
    street3: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone: str | None = None
    residential: bool | None = blank_is_absent()
    """A Ship From Location's return address may carry ``""`` here (recorded in 2020)."""
    address_verified: AddressVerification | None = blank_is_absent()
    """Read-only; ``""`` on Ship From Locations (recorded in 2020), read as absent."""
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class ItemOption(ShipStationModel):
    """A product option of an order item, e.g. ``{"name": "Grade", "value": "A"}``."""

    name: str | None = None
    value: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class InsuranceOptions(ShipStationModel):
    """``{provider, insureShipment, insuredValue}`` [SS-NODE]."""

    provider: InsuranceProvider | None = None
    insure_shipment: bool | None = None
    insured_value: Decimal | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CustomsItem(ShipStationModel):
    """One customs declaration line [SS-NODE: InternationalOptions.ts].

    ``customs_item_id`` is read-only; send it back to update that line. ``value`` is in USD.
    """

    customs_item_id: int | None = None
    description: str | None = None
    quantity: int | None = None
    value: Decimal | None = None
    harmonized_tariff_code: str | None = None
    country_of_origin: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class InternationalOptions(ShipStationModel):
    """``{contents, customsItems, nonDelivery}`` [SS-NODE].

    The customs items sent are overwritten unless the account's International Settings say
    "Leave blank (Enter Manually)".
    """

    contents: CustomsContents | None = None
    customs_items: tuple[CustomsItem, ...] | None = None
    non_delivery: NonDelivery | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class AdvancedOptions(ShipStationModel):
    """``advancedOptions`` of an order [SS-NODE: AdvancedOptions.ts][SWAGGER].

    ``store_id`` is honoured only when the order is created; ``merged_or_split``,
    ``merged_ids`` and ``parent_id`` are read-only; the ``bill_to_*`` fields are accepted only
    on create or update. On shipments only a subset comes back.
    """

    warehouse_id: int | None = None
    """None for orders filled by a fulfillment provider."""
    non_machinable: bool | None = None
    saturday_delivery: bool | None = None
    contains_alcohol: bool | None = None
    merged_or_split: bool | None = None
    merged_ids: tuple[int, ...] | None = None
    parent_id: int | None = None
    store_id: int | None = None
    custom_field1: str | None = None
    custom_field2: str | None = None
    custom_field3: str | None = None
    source: str | None = None
    """The original source or marketplace, e.g. ``"Webstore"``."""
    bill_to_party: BillToParty | None = None
    bill_to_account: str | None = None
    bill_to_postal_code: str | None = None
    bill_to_country_code: str | None = None
    bill_to_my_other_account: str | None = None
    extras: Mapping[str, Any] = extras_field()


# --------------------------------------------------------------------------------------
# Orders (§2)
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class OrderItem(ShipStationModel):
    """A line of an order [DOCS-ORDER-ITEM], [SS-NODE: OrderItem.ts], [SWAGGER].

    ``weight``, ``unit_price``, ``tax_amount`` and ``shipping_amount`` are per unit. A discount
    is an item with ``adjustment=True`` and a negative ``unit_price``.
    """

    name: str
    order_item_id: int | None = None
    """Read-only."""
    line_item_key: str | None = None
    sku: str | None = None
    image_url: str | None = None
    weight: Weight | None = None
    quantity: int | None = None
    unit_price: Decimal | None = None
    tax_amount: Decimal | None = None
    shipping_amount: Decimal | None = None
    warehouse_location: str | None = None
    options: tuple[ItemOption, ...] | None = None
    product_id: int | None = None
    fulfillment_sku: str | None = None
    adjustment: bool | None = None
    upc: str | None = None
    create_date: datetime | None = None
    """Read-only."""
    modify_date: datetime | None = None
    """Read-only."""
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Order(ShipStationModel):
    """A V1 order, as returned by ``GET /orders/{orderId}`` and sent to createorder [§2.1].

    ``order_key`` is the upsert key: createorder with a known key updates that order, without
    a key it always creates a new one [§3.3]. Updates are not partial: send the whole order
    (``to_dict()`` of a fetched order keeps every key, known or not).
    """

    order_number: str
    order_date: datetime
    order_status: OrderStatus
    bill_to: Address
    ship_to: Address
    order_id: int | None = None
    """Read-only system ID; ``GET /orders/{id}`` takes this, not the order number."""
    order_key: str | None = None
    create_date: datetime | None = None
    modify_date: datetime | None = None
    payment_date: datetime | None = None
    ship_by_date: datetime | None = None
    customer_id: int | None = None
    customer_username: str | None = None
    customer_email: str | None = None
    items: tuple[OrderItem, ...] | None = None
    order_total: Decimal | None = None
    """Read-only; computed by ShipStation."""
    amount_paid: Decimal | None = None
    tax_amount: Decimal | None = None
    shipping_amount: Decimal | None = None
    customer_notes: str | None = None
    internal_notes: str | None = None
    """Private notes; the Back Market integration carries the IMEI or serial number here."""
    gift: bool | None = None
    gift_message: str | None = None
    payment_method: str | None = None
    requested_shipping_service: str | None = None
    carrier_code: str | None = None
    service_code: str | None = None
    package_code: str | None = None
    confirmation: Confirmation | None = None
    ship_date: date | None = None
    hold_until_date: date | None = None
    weight: Weight | None = None
    """Order weight, independent of the item weights."""
    dimensions: Dimensions | None = None
    insurance_options: InsuranceOptions | None = None
    international_options: InternationalOptions | None = None
    advanced_options: AdvancedOptions | None = None
    tag_ids: tuple[int, ...] | None = None
    user_id: str | None = None
    """Read-only GUID of the assigned user."""
    externally_fulfilled: bool | None = None
    externally_fulfilled_by: str | None = None
    externally_fulfilled_by_id: int | None = None
    externally_fulfilled_by_name: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class OrderPage(ShipStationModel):
    """One page of ``GET /orders``. Do not trust ``pages`` alone: doc examples show ``0``."""

    orders: tuple[Order, ...]
    total: int
    page: int
    pages: int
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class BulkUpsertOrderResult(ShipStationModel):
    """The outcome of one order of ``POST /orders/createorders``."""

    success: bool
    order_id: int | None = None
    order_number: str | None = None
    order_key: str | None = None
    error_message: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class BulkUpsertResult(ShipStationModel):
    """The answer of ``POST /orders/createorders`` [SWAGGER][SS-NODE]."""

    has_errors: bool
    results: tuple[BulkUpsertOrderResult, ...]
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class MarkAsShippedRequest(ShipStationModel):
    """Body of ``POST /orders/markasshipped`` [SWAGGER][DOCS-MARK-SHIPPED].

    This records a fulfillment, not a shipment. ``notify_sales_channel`` defaults to false on
    the server: set it to True to push the tracking number to the marketplace.
    """

    order_id: int
    carrier_code: str
    ship_date: date | None = None
    tracking_number: str | None = None
    notify_customer: bool | None = None
    notify_sales_channel: bool | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class MarkAsShippedResult(ShipStationModel):
    """The answer of ``POST /orders/markasshipped``: ``{orderId, orderNumber}``."""

    order_id: int
    order_number: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CreateLabelRequest(ShipStationModel):
    """Body of ``POST /orders/createlabelfororder`` [SWAGGER]; the answer is a :class:`Label`."""

    order_id: int
    carrier_code: str
    service_code: str
    confirmation: Confirmation
    ship_date: date
    package_code: str | None = None
    weight: Weight | None = None
    dimensions: Dimensions | None = None
    insurance_options: InsuranceOptions | None = None
    international_options: InternationalOptions | None = None
    advanced_options: AdvancedOptions | None = None
    test_label: bool | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Label(ShipStationModel):
    """A label made by createlabelfororder; ``label_data`` is a base64 PDF."""

    shipment_id: int
    shipment_cost: Decimal | None = None
    insurance_cost: Decimal | None = None
    tracking_number: str | None = None
    # Base64 documents, often hundreds of kilobytes: kept out of repr to keep logs readable.
    label_data: str | None = attrs.field(default=None, repr=False)
    form_data: str | None = attrs.field(default=None, repr=False)
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class SuccessResponse(ShipStationModel):
    """``{success, message}``: holduntil, restorefromhold, addtag, assignuser, refreshstore..."""

    success: bool
    message: str | None = None
    extras: Mapping[str, Any] = extras_field()


# --------------------------------------------------------------------------------------
# Shipments and fulfillments (§3.4-3.6)
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ShipmentItem(ShipStationModel):
    """An item of a shipment (only with ``includeShipmentItems=true``); fields as OrderItem."""

    name: str | None = None
    order_item_id: int | None = None
    line_item_key: str | None = None
    sku: str | None = None
    image_url: str | None = None
    weight: Weight | None = None
    quantity: int | None = None
    unit_price: Decimal | None = None
    tax_amount: Decimal | None = None
    shipping_amount: Decimal | None = None
    warehouse_location: str | None = None
    options: tuple[ItemOption, ...] | None = None
    product_id: int | None = None
    fulfillment_sku: str | None = None
    adjustment: bool | None = None
    upc: str | None = None
    create_date: datetime | None = None
    modify_date: datetime | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Shipment(ShipStationModel):
    """A label made in ShipStation [SWAGGER][SS-NODE][CAPTURED-SHIPMENT].

    Orders marked shipped with markasshipped are fulfillments, not shipments. ``ship_to``,
    ``weight``, ``dimensions`` and the options are single objects (some wrappers type them as
    lists). ``ship_date`` is a bare date.
    """

    shipment_id: int
    order_id: int | None = None
    order_key: str | None = None
    user_id: str | None = None
    customer_email: str | None = None
    order_number: str | None = None
    create_date: datetime | None = None
    ship_date: date | None = None
    shipment_cost: Decimal | None = None
    insurance_cost: Decimal | None = None
    tracking_number: str | None = None
    is_return_label: bool | None = None
    batch_number: str | None = None
    carrier_code: str | None = None
    service_code: str | None = None
    package_code: str | None = None
    confirmation: Confirmation | None = None
    warehouse_id: int | None = None
    voided: bool | None = None
    void_date: datetime | None = None
    marketplace_notified: bool | None = None
    notify_error_message: str | None = None
    ship_to: Address | None = None
    weight: Weight | None = None
    dimensions: Dimensions | None = None
    insurance_options: InsuranceOptions | None = None
    advanced_options: AdvancedOptions | None = None
    shipment_items: tuple[ShipmentItem, ...] | None = None
    label_data: str | None = attrs.field(default=None, repr=False)
    form_data: str | None = attrs.field(default=None, repr=False)
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class ShipmentPage(ShipStationModel):
    """One page of ``GET /shipments``."""

    shipments: tuple[Shipment, ...]
    total: int
    page: int
    pages: int
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Fulfillment(ShipStationModel):
    """An order marked shipped without a ShipStation label (UI or markasshipped) [SWAGGER].

    Unlike a shipment, a fulfillment's ``ship_date`` is a full date-time (midnight in the
    examples), and ``carrier_code`` is free text (``"FedEx"``).
    """

    fulfillment_id: int
    order_id: int | None = None
    order_number: str | None = None
    user_id: str | None = None
    customer_email: str | None = None
    tracking_number: str | None = None
    create_date: datetime | None = None
    ship_date: datetime | None = None
    void_date: datetime | None = None
    delivery_date: datetime | None = None
    carrier_code: str | None = None
    seller_fill_provider_id: int | None = None
    seller_fill_provider_name: str | None = None
    fulfillment_provider_code: str | None = None
    fulfillment_service_code: str | None = None
    fulfillment_fee: Decimal | None = None
    void_requested: bool | None = None
    voided: bool | None = None
    marketplace_notified: bool | None = None
    notify_error_message: str | None = None
    ship_to: Address | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class FulfillmentPage(ShipStationModel):
    """One page of ``GET /fulfillments``."""

    fulfillments: tuple[Fulfillment, ...]
    total: int
    page: int
    pages: int
    extras: Mapping[str, Any] = extras_field()


# --------------------------------------------------------------------------------------
# Carriers, stores, marketplaces (§3.7, §3.8)
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Carrier(ShipStationModel):
    """An item of ``GET /carriers``; one ``code`` may appear twice (told apart by nickname)."""

    name: str
    code: str
    account_number: str | None = None
    requires_funded_account: bool | None = None
    balance: Decimal | None = None
    nickname: str | None = None
    shipping_provider_id: int | None = None
    primary: bool | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CarrierService(ShipStationModel):
    """An item of ``GET /carriers/listservices``."""

    carrier_code: str
    code: str
    name: str
    domestic: bool | None = None
    international: bool | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CarrierPackage(ShipStationModel):
    """An item of ``GET /carriers/listpackages`` (same shape as a service)."""

    carrier_code: str
    code: str
    name: str
    domestic: bool | None = None
    international: bool | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class StatusMapping(ShipStationModel):
    """Maps a ShipStation order status to the store's own status name."""

    order_status: OrderStatus
    status_key: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Store(ShipStationModel):
    """A sales channel [SWAGGER], [SS-NODE: stores.ts]; the manual store has marketplace 0."""

    store_id: int
    store_name: str | None = None
    marketplace_id: int | None = None
    marketplace_name: str | None = None
    account_name: str | None = None
    email: str | None = None
    integration_url: str | None = None
    active: bool | None = None
    company_name: str | None = None
    phone: str | None = None
    public_email: str | None = None
    website: str | None = None
    refresh_date: datetime | None = None
    last_refresh_attempt: datetime | None = None
    create_date: datetime | None = None
    modify_date: datetime | None = None
    auto_refresh: bool | None = None
    status_mappings: tuple[StatusMapping, ...] | None = blank_is_absent()
    """Only on ``GET /stores/{id}``. Some accounts send ``""`` instead of a list (seen in store
    lists recorded from a real account in 2020): that reads as ``None`` and is written back
    as ``""``."""
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Marketplace(ShipStationModel):
    """An item of ``GET /stores/marketplaces``. Back Market's ID is undocumented: look it up."""

    name: str
    marketplace_id: int
    can_refresh: bool | None = None
    supports_custom_mappings: bool | None = None
    supports_custom_statuses: bool | None = None
    can_confirm_shipments: bool | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class RefreshStatus(ShipStationModel):
    """``GET /stores/getrefreshstatus``.

    The dates stay text: the doc example shows ``"8-13-2014"``, a format used nowhere else.
    """

    store_id: int
    refresh_status_id: int | None = None
    refresh_status: str | None = None
    last_refresh_attempt: str | None = None
    refresh_date: str | None = None
    extras: Mapping[str, Any] = extras_field()


# --------------------------------------------------------------------------------------
# Webhooks (§3.9)
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Webhook(ShipStationModel):
    """An item of ``GET /webhooks``; its keys are PascalCase, unlike the rest of V1 [SWAGGER]."""

    __wire_naming__: ClassVar[str] = "pascal"

    is_label_api_hook: bool | None = wire("IsLabelAPIHook")
    web_hook_id: int | None = wire("WebHookID")
    seller_id: int | None = wire("SellerID")
    store_id: int | None = wire("StoreID")
    hook_type: WebhookEvent | None = None
    message_format: str | None = None
    # Hidden from repr: the target URL is where a subscriber puts its shared secret token.
    url: str | None = attrs.field(default=None, repr=False)
    name: str | None = None
    bulk_copy_batch_id: str | None = wire("BulkCopyBatchID")
    bulk_copy_record_id: str | None = wire("BulkCopyRecordID")
    active: bool | None = None
    webhook_logs: tuple[Any, ...] | None = None
    seller: Mapping[str, Any] | None = None
    store: Mapping[str, Any] | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class WebhookList(ShipStationModel):
    """``GET /webhooks``: ``{"webhooks": [...]}``."""

    webhooks: tuple[Webhook, ...]
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class WebhookPayload(ShipStationModel):
    """What ShipStation POSTs to a webhook URL: fetch ``resource_url`` with V1 credentials.

    The payload is unsigned: trust only the data fetched back from ssapi.shipstation.com.
    """

    __wire_naming__: ClassVar[str] = "snake"

    resource_url: str
    resource_type: WebhookEvent
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class WebhookSubscription(ShipStationModel):
    """Body of ``POST /webhooks/subscribe`` (snake_case keys on the wire)."""

    __wire_naming__: ClassVar[str] = "snake"

    # Hidden from repr: the target URL is where a subscriber puts its shared secret token.
    target_url: str = attrs.field(repr=False)
    event: WebhookEvent
    store_id: int | None = None
    friendly_name: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class WebhookSubscriptionResult(ShipStationModel):
    """The answer of ``POST /webhooks/subscribe``: ``{"id": 123456}``."""

    id: int
    extras: Mapping[str, Any] = extras_field()


# --------------------------------------------------------------------------------------
# Products, warehouses and tags (shipstation.md appendix A.2-A.4)
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Tag(ShipStationModel):
    """An account tag: ``GET /accounts/listtags`` gives ``{tagId, name, color}`` [SWAGGER];
    a product's ``tags`` carry ``{tagId, name}`` only."""

    tag_id: int | None = None
    name: str | None = None
    color: str | None = None
    """A hex colour, e.g. ``"#800080"``."""
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class ProductCategory(ShipStationModel):
    """``productCategory`` of a product: ``{categoryId, name}`` [SWAGGER]."""

    category_id: int | None = None
    name: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Product(ShipStationModel):
    """A product record [A.2][DOCS-PRODUCTS][SWAGGER].

    ShipStation creates one per SKU as orders come in; the seller keeps the unit weight
    (``weight_oz``, ounces per unit) and the bin (``warehouse_location``) there. ``PUT
    /products/{id}`` replaces the whole record, so an update must send every field back:
    :meth:`ShipStationClient.products.update` reads the record, changes what it is asked to
    and writes back the rest, including any key this model does not name (kept in
    ``extras``). Length, width and height are in the account's
    unit, unconverted. ``product_id``, ``create_date`` and ``modify_date`` are read-only.
    A recorded record's SKU had a leading space (``" ABC123456789"``): compare stripped.
    """

    product_id: int
    sku: str | None = None
    name: str | None = None
    price: Decimal | None = None
    default_cost: Decimal | None = None
    length: Decimal | None = None
    width: Decimal | None = None
    height: Decimal | None = None
    weight_oz: Decimal | None = None
    """Weight of ONE unit, in ounces."""
    internal_notes: str | None = None
    fulfillment_sku: str | None = None
    create_date: datetime | None = None
    modify_date: datetime | None = None
    active: bool | None = None
    product_category: ProductCategory | None = None
    warehouse_location: str | None = None
    default_carrier_code: str | None = None
    default_service_code: str | None = None
    default_package_code: str | None = None
    default_intl_carrier_code: str | None = None
    default_intl_service_code: str | None = None
    default_intl_package_code: str | None = None
    default_confirmation: Confirmation | None = None
    default_intl_confirmation: Confirmation | None = None
    customs_description: str | None = None
    customs_value: Decimal | None = None
    customs_tariff_no: str | None = None
    customs_country_code: str | None = None
    no_customs: bool | None = None
    tags: tuple[Tag, ...] | None = None
    upc: str | None = None
    aliases: Any | None = None
    """Other SKUs of the product per store; V1 does not document the shape: kept as sent."""
    product_type: Any | None = None
    """V1 does not document the shape: kept as sent."""
    extras: Mapping[str, Any] = extras_field()

    def unit_weight(self) -> Weight | None:
        """``weight_oz`` as an order item weight (ounces), or ``None`` when unset or zero:
        ShipStation shows 0 for a product nobody weighed."""
        if self.weight_oz is None or self.weight_oz <= 0:
            return None
        return Weight.ounces(self.weight_oz)


@attrs.frozen(kw_only=True)
class ProductPage(ShipStationModel):
    """One page of ``GET /products``. Do not trust ``pages`` alone: doc examples show ``0``."""

    products: tuple[Product, ...]
    total: int
    page: int
    pages: int
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Warehouse(ShipStationModel):
    """A Ship From Location (formerly "warehouse") [A.3][SWAGGER].

    ``origin_address`` is where rates are computed from (required on create);
    ``return_address`` defaults to the origin. ``PUT /warehouses/{id}`` replaces the whole
    record: update through :meth:`ShipStationClient.warehouses.update`, which sends it all.
    """

    warehouse_id: int | None = None
    """Read-only."""
    warehouse_name: str | None = None
    origin_address: Address | None = None
    return_address: Address | None = None
    create_date: datetime | None = None
    """Read-only."""
    is_default: bool | None = None
    ext_inventory_identity: str | None = None
    register_fedex_meter: str | None = None
    seller_integration_id: Any | None = None
    """These three are undocumented; a recorded account sent ``""`` for each (2020)."""
    extras: Mapping[str, Any] = extras_field()
