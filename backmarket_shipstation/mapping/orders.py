"""Order import: a Back Market order → the ShipStation order to send to createorder(s).

Every row of the seed's import list is carried (see docs/mapping.md for each rule with an
example): order number and a stable upsert key, dates as the same instants, the Ship To
address (required), customer email and phones, bill-to, the shipping method the buyer chose,
payment method, shipping, taxes, amount paid, one item per order line with its options,
catalog weights and stock locations, a discount line, the gift flag, internal notes with what
a packer needs. When the order already exists in ShipStation, the seller's own edits there
(their internal notes with the IMEIs, tags, carrier choice, weights...) are kept.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

import attrs

from .._convert import UTC
from ..backmarket.models import Address as BackMarketAddress
from ..backmarket.models import Condition, Delivery, DeliveryMode, OrderLine, OrderLineState
from ..backmarket.models import Order as BackMarketOrder
from ..errors import MappingError, MissingShipToAddressError, UnknownStatusError
from ..shipstation.models import Address as ShipStationAddress
from ..shipstation.models import (
    AdvancedOptions,
    ItemOption,
    OrderItem,
    OrderStatus,
    Weight,
    WeightUnit,
)
from ..shipstation.models import Order as ShipStationOrder
from .catalog import Catalog, CatalogProduct
from .identifiers import SDK_NOTE_PREFIX
from .status import DEFAULT_STATUS_MAP, StatusMap

__all__ = [
    "COUNTRIES_WITHOUT_POSTAL_CODES",
    "DEFAULT_ORDER_KEY_PREFIX",
    "DISCOUNT_LINE_KEY",
    "BACKSHIP_NOTE",
    "ORDER_SOURCE",
    "CatalogProduct",
    "backship_service",
    "order_key_for",
    "seller_notes",
    "to_shipstation_order",
]

DEFAULT_ORDER_KEY_PREFIX = "backmarket-"
ORDER_SOURCE = "Back Market"
"""``advancedOptions.source`` of every imported order."""
BACKSHIP_NOTE = f"{SDK_NOTE_PREFIX} BackShip label from Back Market, do not buy one:"
"""The Internal Notes line that carries a BackShip order's label (carrier, tracking, PDF)."""
DISCOUNT_LINE_KEY = "discount"
"""``lineItemKey`` of the adjustment line that carries an order's discount."""

COUNTRIES_WITHOUT_POSTAL_CODES: frozenset[str] = frozenset(
    {
        "AE", "AG", "AO", "AW", "BF", "BI", "BJ", "BO", "BS", "BW", "BZ", "CD", "CF", "CG",
        "CI", "CK", "CM", "DJ", "DM", "ER", "FJ", "GA", "GD", "GH", "GM", "GQ", "GY", "HK",
        "IE", "JM", "KI", "KM", "KN", "KP", "LC", "ML", "MO", "MR", "MW", "NR", "NU", "QA",
        "RW", "SB", "SC", "SL", "SR", "ST", "SY", "TD", "TG", "TK", "TL", "TO", "TT", "TV",
        "UG", "VU", "YE", "ZW",
    }
)  # fmt: skip
"""ISO countries where an address needs no postal code (Ireland's Eircode is optional)."""

_CONDITION_NAMES = {
    Condition.PREMIUM: "Premium",
    Condition.EXCELLENT: "Excellent",
    Condition.GOOD: "Good",
    Condition.FAIR: "Fair",
}
# Options are frozen: build the common ones once rather than per order line.
_CONDITION_OPTIONS = {
    condition: ItemOption(name="Condition", value=name)
    for condition, name in _CONDITION_NAMES.items()
}
_BACKCARE_OPTION = ItemOption(name="Backcare", value="yes")
_ADDRESS_FIELDS = tuple(f.name for f in attrs.fields(ShipStationAddress) if f.name != "extras")

# Lines that will never be packed: they do not become items unless the whole order is off.
_NOT_TO_PACK = frozenset(
    {
        OrderLineState.CANCELLED,
        OrderLineState.REFUNDED_BEFORE_SHIPPING,
        OrderLineState.NOT_PAID,
    }
)


def order_key_for(order_id: int, *, prefix: str = DEFAULT_ORDER_KEY_PREFIX) -> str:
    """The ShipStation ``orderKey`` of a Back Market order: the same on every import.

    createorder upserts on ``orderKey``, so a re-import updates the order instead of
    duplicating it. Give each Back Market account (or region) its own prefix when several
    feed the same ShipStation account, since order ids are only unique within a platform.
    """
    return f"{prefix}{order_id}"


def seller_notes(internal_notes: str | None) -> str:
    """The part of ShipStation internal notes the seller wrote (the SDK's own lines removed)."""
    if not internal_notes:
        return ""
    kept = [
        line for line in internal_notes.splitlines() if not line.strip().startswith(SDK_NOTE_PREFIX)
    ]
    return "\n".join(kept).strip("\n")


def _blank(value: str | None) -> str | None:
    """Back Market sends ``""`` for an unset text: read it as absent."""
    if value:
        value = value.strip()
        return value or None
    return None


def _person_name(address: BackMarketAddress) -> str | None:
    first = _blank(address.first_name)
    last = _blank(address.last_name)
    if first and last:
        return f"{first} {last}"
    return first or last


def _to_address(address: BackMarketAddress) -> ShipStationAddress:
    # One comprehension rather than a _blank() call per field: this runs for every order.
    company, street1, street2, city, state, postal_code, country, phone = [
        (value.strip() or None) if value else None
        for value in (
            address.company,
            address.street,
            address.street2,
            address.city,
            address.state_or_province,
            address.postal_code,
            address.country,
            address.phone,
        )
    ]
    return ShipStationAddress(
        name=_person_name(address),
        company=company,
        street1=street1,
        street2=street2,
        city=city,
        state=state,
        postal_code=postal_code,
        country=country.upper() if country else None,
        phone=phone,
    )


def _missing_ship_to_fields(ship_to: ShipStationAddress) -> list[str]:
    """The Back Market fields a Ship To address lacks, read from its ShipStation form."""
    missing = []
    if ship_to.name is None:
        missing.extend(["first_name", "last_name"])
    if ship_to.street1 is None:
        missing.append("street")
    if ship_to.city is None:
        missing.append("city")
    country = ship_to.country
    if country is None:
        missing.append("country")
    if ship_to.postal_code is None and country not in COUNTRIES_WITHOUT_POSTAL_CODES:
        missing.append("postal_code")
    return missing


def _merge_address(
    fresh: ShipStationAddress, existing: ShipStationAddress | None
) -> ShipStationAddress:
    """The Back Market address, keeping what ShipStation added (verification, residential...).

    A field the seller corrected in ShipStation is overwritten: the buyer's address on Back
    Market is the truth. Fields Back Market does not send survive.
    """
    if existing is None:
        return fresh
    changes = {
        name: getattr(fresh, name) for name in _ADDRESS_FIELDS if getattr(fresh, name) is not None
    }
    return attrs.evolve(existing, **changes)


def _line_options(line: OrderLine, product: CatalogProduct | None) -> tuple[ItemOption, ...]:
    options: list[ItemOption] = []
    if line.condition is not None:
        known = _CONDITION_OPTIONS.get(line.condition)
        options.append(known or ItemOption(name="Condition", value=f"code {int(line.condition)}"))
    brand = _blank(line.brand)
    if brand:
        options.append(ItemOption(name="Brand", value=brand))
    if line.backcare:
        options.append(_BACKCARE_OPTION)
    if product is not None and product.options:
        options.extend(
            ItemOption(name=name, value=value) for name, value in product.options.items()
        )
    return tuple(options)


def _lookup(catalog: Mapping[str, CatalogProduct] | None, sku: str | None) -> CatalogProduct | None:
    if not catalog or sku is None:
        return None
    found = catalog.get(sku)
    if found is not None or isinstance(catalog, Catalog):
        # A Catalog ignores case in one read: a miss is final.
        return found
    # Back Market SKUs are case-insensitive (docs/api-notes/backmarket.md §5.5). A plain
    # mapping has no index by folded SKU, so a miss is a scan: pass a Catalog (the sync
    # engine always does) to make it O(1).
    folded = sku.casefold()
    for key, product in catalog.items():
        if key.casefold() == folded:
            return product
    return None


def _lines_on_this_part(
    bm_order: BackMarketOrder, existing: ShipStationOrder | None
) -> BackMarketOrder:
    """The order as far as it is on ``existing``, when the seller split that copy.

    A split moves items to a new ShipStation order of their own and marks both
    ``mergedOrSplit`` (docs/api-notes/shipstation.md, "Split orders"). Re-importing every Back
    Market line onto the original would put the moved phones on it a second time, to be
    packed twice; so the original keeps the lines it still holds, and its status follows them
    (its own lines all cancelled: cancelled, whatever the other parts hold).
    """
    if existing is None or existing.advanced_options is None:
        return bm_order
    if not existing.advanced_options.merged_or_split:
        return bm_order
    on_this_part = {item.line_item_key for item in existing.items or ()}
    own = tuple(line for line in bm_order.lines if str(line.id) in on_this_part)
    if not own:
        return bm_order
    return attrs.evolve(bm_order, orderlines=own)


# Item fields that come from Back Market; on re-import the others keep their ShipStation value.
_OWNED_ITEM_FIELDS = (
    "line_item_key",
    "sku",
    "name",
    "quantity",
    "unit_price",
    "shipping_amount",
    "options",
    "adjustment",
)


def _to_item(line: OrderLine, product: CatalogProduct | None) -> OrderItem:
    return OrderItem(
        line_item_key=str(line.id),
        sku=line.listing,
        name=_blank(line.product) or _blank(line.listing) or f"Back Market order line {line.id}",
        quantity=line.quantity if line.quantity is not None else 1,
        unit_price=line.price,
        shipping_amount=line.shipping_price,
        options=_line_options(line, product),
        adjustment=False,
        weight=product.weight if product is not None else None,
        warehouse_location=product.warehouse_location if product is not None else None,
    )


def _merge_item(fresh: OrderItem, existing: OrderItem | None) -> OrderItem:
    if existing is None:
        return fresh
    # Keep the weight and location the seller set in ShipStation unless the catalog has them.
    changes = {name: getattr(fresh, name) for name in _OWNED_ITEM_FIELDS}
    if fresh.weight is not None:
        changes["weight"] = fresh.weight
    if fresh.warehouse_location is not None:
        changes["warehouse_location"] = fresh.warehouse_location
    return attrs.evolve(existing, **changes)


def _total_weight(items: Iterable[OrderItem]) -> Weight | None:
    """Σ unit weight * quantity, only when every physical item has a weight."""
    weights: list[Weight] = []
    quantities: list[int] = []
    for item in items:
        if item.adjustment:
            continue
        if item.weight is None:
            return None
        weights.append(item.weight)
        quantities.append(item.quantity or 1)
    if not weights:
        return None
    unit = weights[0].units
    if all(weight.units is unit for weight in weights):
        return Weight(value=_sum_of_products([w.value for w in weights], quantities), units=unit)
    grams = _sum_of_products([w.in_grams() for w in weights], quantities)
    return Weight(value=grams.quantize(Decimal("0.01")), units=WeightUnit.GRAMS)


def _sum_of_products(values: Sequence[Decimal], quantities: Sequence[int]) -> Decimal:
    total = Decimal(0)
    for value, quantity in zip(values, quantities, strict=True):
        total += value * quantity
    return total


def _discount_item(bm_order: BackMarketOrder, lines: Sequence[OrderLine]) -> OrderItem | None:
    order_price = bm_order.price
    if order_price is None:
        return None
    lines_total = Decimal(0)
    for line in lines:
        if line.price is None:
            return None
        lines_total += line.price * (line.quantity or 1)
    difference = order_price - lines_total
    if difference >= 0:
        return None
    return OrderItem(
        line_item_key=DISCOUNT_LINE_KEY,
        sku=None,
        name="Back Market discount",
        quantity=1,
        unit_price=difference,
        adjustment=True,
    )


def backship_service(delivery: Delivery) -> str:
    """The requested shipping service a BackShip order shows in ShipStation's order grid."""
    carrier = _blank(delivery.carrier_name) or "Back Market's carrier"
    return f"BackShip {carrier} (label from Back Market)"


def _backship_notes(delivery: Delivery | None) -> list[str]:
    if delivery is None:
        return [
            f"{SDK_NOTE_PREFIX} BackShip label: not made yet (Back Market makes it once accepted)"
        ]
    carrier = _blank(delivery.carrier_name) or "carrier not named"
    notes = [f"{BACKSHIP_NOTE} {carrier} {delivery.tracking_number or ''}".rstrip()]
    if _blank(delivery.label_url):
        notes.append(f"{SDK_NOTE_PREFIX} BackShip label PDF: {delivery.label_url}")
    notes.append(
        f"{SDK_NOTE_PREFIX} BackShip: when packed, Mark as Shipped (no label); IMEIs below as usual"
    )
    return notes


def _sdk_notes(bm_order: BackMarketOrder, label: Delivery | None = None) -> list[str]:
    notes = []
    delivery_note = _blank(bm_order.delivery_note)
    if delivery_note:
        notes.append(f"{SDK_NOTE_PREFIX} Delivery note: {delivery_note}")
    if bm_order.expected_dispatch_date is not None:
        notes.append(
            f"{SDK_NOTE_PREFIX} Expected dispatch: {_format_utc(bm_order.expected_dispatch_date)}"
        )
    if bm_order.is_backship is not None:
        backship = "yes (Back Market provides the label)" if bm_order.is_backship else "no"
        notes.append(f"{SDK_NOTE_PREFIX} Backship: {backship}")
    if bm_order.is_backship:
        notes.extend(_backship_notes(label))
    if bm_order.delivery_mode is DeliveryMode.COLLECTION_POINT:
        notes.append(f"{SDK_NOTE_PREFIX} Delivery to a collection point")
    if _blank(bm_order.currency):
        notes.append(f"{SDK_NOTE_PREFIX} Amounts in {bm_order.currency}")
    return notes


_NO_ADDRESS = ShipStationAddress()


@functools.lru_cache(maxsize=64)
def _advanced_options(store_id: int | None) -> AdvancedOptions:
    # Frozen, and the same for every order of a store: built once per store.
    return AdvancedOptions(store_id=store_id, source=ORDER_SOURCE)


def _format_utc(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    # Not strftime: this runs for every imported order and costs a few times as much.
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} {utc.hour:02d}:{utc.minute:02d} UTC"


def _internal_notes(
    bm_order: BackMarketOrder, existing: ShipStationOrder | None, label: Delivery | None
) -> str | None:
    lines = _sdk_notes(bm_order, label)
    kept = seller_notes(existing.internal_notes) if existing is not None else ""
    if kept:
        lines.append(kept)
    return "\n".join(lines) or None


def _status(
    bm_order: BackMarketOrder, status_map: StatusMap, existing: ShipStationOrder | None
) -> OrderStatus:
    status = status_map.status_of(bm_order)
    if status is None:
        raise UnknownStatusError(
            "order state is not importable into ShipStation",
            order_id=bm_order.order_id,
            status=bm_order.state,
        )
    if (
        existing is not None
        and status is OrderStatus.AWAITING_SHIPMENT
        and existing.order_status in (OrderStatus.ON_HOLD, OrderStatus.SHIPPED)
    ):
        # The seller put it on hold, or shipped it already: Back Market has not caught up.
        return existing.order_status
    return status


def to_shipstation_order(
    bm_order: BackMarketOrder,
    *,
    existing: ShipStationOrder | None = None,
    store_id: int | None = None,
    catalog: Mapping[str, CatalogProduct] | None = None,
    status_map: StatusMap = DEFAULT_STATUS_MAP,
    order_key_prefix: str = DEFAULT_ORDER_KEY_PREFIX,
    backship: Delivery | None = None,
) -> ShipStationOrder:
    """The ShipStation order for a Back Market order, ready for createorder(s).

    ``existing`` is the order as ShipStation has it, when it was imported before: the result
    is that order updated (same ``orderId``, the seller's internal notes, tags, carrier choice,
    dimensions and other ShipStation-side edits kept), since createorder replaces the whole
    order. ``store_id`` goes to ``advancedOptions.storeId`` (honoured on creation only).
    ``catalog`` maps SKUs to weights, stock locations and extra options: a
    :class:`~backmarket_shipstation.mapping.Catalog` matches them without regard to case in
    one lookup; a plain mapping matches exact SKUs at once and scans on a miss.

    For a BackShip order (``is_backship``), ``backship`` is its label (``bm.shipping.label_for``):
    its carrier, tracking number and PDF go to SDK lines of the Internal Notes, and the
    requested service reads ``BackShip <carrier> (label from Back Market)``, so that the packer
    marks the order shipped instead of buying a second label (docs/guides/import-orders.md).

    Raises :class:`~backmarket_shipstation.errors.MissingShipToAddressError` when the shipping
    address is absent or lacks the name, street, city, country or (where the country uses
    one) postal code, and :class:`~backmarket_shipstation.errors.UnknownStatusError` when the
    order state is not importable (0, 10 and 8 by default).
    """
    order_id = bm_order.order_id
    bm_order = _lines_on_this_part(bm_order, existing)
    status = _status(bm_order, status_map, existing)
    shipping = bm_order.shipping_address
    if shipping is None:
        raise MissingShipToAddressError(order_id=order_id, missing_fields=["shipping_address"])
    ship_to = _to_address(shipping)
    missing = _missing_ship_to_fields(ship_to)
    if missing:
        raise MissingShipToAddressError(order_id=order_id, missing_fields=missing)
    order_date = bm_order.date_creation or bm_order.date_payment
    if order_date is None:
        raise MappingError("order has no creation date", order_id=order_id)

    billing = bm_order.billing_address
    if billing is None:
        bill_to = _NO_ADDRESS
    elif billing == shipping:
        bill_to = ship_to  # the usual case; both are frozen, so one object serves
    else:
        bill_to = _to_address(billing)
    if bill_to.name is None:
        bill_to = attrs.evolve(bill_to, name=ship_to.name)
    email = _blank(shipping.email) or (_blank(billing.email) if billing is not None else None)

    all_lines = bm_order.lines
    packed = [line for line in all_lines if line.state not in _NOT_TO_PACK]
    # A fully cancelled order keeps its lines so that ShipStation shows what was cancelled.
    item_lines = packed or list(all_lines)
    items = [_to_item(line, _lookup(catalog, line.listing)) for line in item_lines]
    # The total weight comes from the catalog only: weights the seller typed in ShipStation
    # stay with their own order weight.
    weight = _total_weight(items)
    existing_items = {item.line_item_key: item for item in existing.items or ()} if existing else {}
    if existing_items:
        items = [_merge_item(item, existing_items.get(item.line_item_key)) for item in items]
    discount = _discount_item(bm_order, item_lines)
    if discount is not None:
        previous = existing_items.get(DISCOUNT_LINE_KEY)
        items.append(
            attrs.evolve(previous, unit_price=discount.unit_price, adjustment=True)
            if previous is not None
            else discount
        )

    amount_paid = None
    if bm_order.price is not None:
        amount_paid = bm_order.price + (bm_order.shipping_price or Decimal(0))

    fresh = ShipStationOrder(
        order_number=str(order_id),
        order_key=order_key_for(order_id, prefix=order_key_prefix),
        order_date=order_date,
        payment_date=bm_order.date_payment,
        ship_by_date=bm_order.expected_dispatch_date,
        order_status=status,
        customer_email=email,
        customer_username=email,
        bill_to=bill_to,
        ship_to=ship_to,
        items=tuple(items),
        amount_paid=amount_paid,
        tax_amount=bm_order.sales_taxes,
        shipping_amount=bm_order.shipping_price,
        customer_notes=None,
        internal_notes=_internal_notes(bm_order, existing, backship),
        gift=False,
        payment_method=_blank(bm_order.payment_method),
        requested_shipping_service=(
            backship_service(backship)
            if bm_order.is_backship and backship is not None
            else _blank(bm_order.shipper_display)
        ),
        weight=weight,
        advanced_options=_advanced_options(store_id),
    )
    if existing is None:
        return fresh
    return _update_existing(existing, fresh)


# Order fields that come from Back Market. On re-import every other field keeps its
# ShipStation value: tags, carrier and service, package, dimensions, insurance, customs,
# hold date, assigned user, and the order weight unless the catalog gives one.
_OWNED_ORDER_FIELDS = (
    "order_number",
    "order_date",
    "payment_date",
    "ship_by_date",
    "order_status",
    "customer_email",
    "customer_username",
    "items",
    "amount_paid",
    "tax_amount",
    "shipping_amount",
    "customer_notes",
    "internal_notes",
    "gift",
    "payment_method",
    "requested_shipping_service",
)


def _update_existing(existing: ShipStationOrder, fresh: ShipStationOrder) -> ShipStationOrder:
    changes = {name: getattr(fresh, name) for name in _OWNED_ORDER_FIELDS}
    changes["bill_to"] = _merge_address(fresh.bill_to, existing.bill_to)
    changes["ship_to"] = _merge_address(fresh.ship_to, existing.ship_to)
    # The key the order was created with is the upsert key, whatever the prefix now.
    changes["order_key"] = existing.order_key or fresh.order_key
    if fresh.weight is not None:
        changes["weight"] = fresh.weight
    previous = existing.advanced_options
    fresh_options = fresh.advanced_options or AdvancedOptions()
    if previous is None:
        changes["advanced_options"] = fresh_options
    else:
        # storeId is honoured on creation only: keep the one the order has.
        changes["advanced_options"] = attrs.evolve(
            previous,
            source=fresh_options.source,
            store_id=previous.store_id if previous.store_id is not None else fresh_options.store_id,
        )
    return attrs.evolve(existing, **changes)
