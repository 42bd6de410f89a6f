"""The pure mapping between Back Market and ShipStation: no I/O, no clock, no globals.

- :func:`to_shipstation_order`: a Back Market order → the ShipStation order to upsert.
- :class:`Catalog`: SKU → unit weight, stock location and options, any case, one lookup.
- :class:`StatusMap`: order statuses both ways, derived from the order lines.
- :func:`parse_device_identifiers`: IMEIs and serial numbers from ShipStation Internal Notes.
- :func:`to_shipment_notification`: a ShipStation label or fulfillment → a
  :class:`ShipmentNotification`.
- :func:`to_backmarket_updates`: a notification → the Back Market writes that report it.

See docs/mapping.md for every rule with a before/after example.
"""

from .carriers import (
    BACKMARKET_SHIPPERS,
    DEFAULT_CARRIER_MAP,
    OTHER_SHIPPER,
    CarrierMap,
    ShipperChoice,
    tracking_url_for,
)
from .catalog import Catalog, CatalogProduct, as_catalog, parse_weight
from .identifiers import (
    AssignedIdentifiers,
    DeviceIdentifier,
    IdentifiableLine,
    IdentifierKind,
    assign_device_identifiers,
    device_lines,
    every_single_unit_line,
    is_accessory_name,
    is_valid_imei,
    parse_device_identifiers,
)
from .notification import (
    LineIdentifiers,
    NotificationItem,
    NotificationSource,
    NotificationStatus,
    ShipmentNotification,
    ShippedLine,
)
from .orders import order_key_for, seller_notes, to_shipstation_order
from .plan import to_backmarket_updates
from .shipments import (
    backmarket_order_id,
    order_number_id,
    to_order_notification,
    to_shipment_notification,
)
from .status import DEFAULT_STATUS_MAP, StatusMap

__all__ = [
    "BACKMARKET_SHIPPERS",
    "DEFAULT_CARRIER_MAP",
    "DEFAULT_STATUS_MAP",
    "OTHER_SHIPPER",
    "AssignedIdentifiers",
    "CarrierMap",
    "Catalog",
    "CatalogProduct",
    "DeviceIdentifier",
    "IdentifiableLine",
    "IdentifierKind",
    "LineIdentifiers",
    "NotificationItem",
    "ShippedLine",
    "NotificationSource",
    "NotificationStatus",
    "ShipmentNotification",
    "ShipperChoice",
    "StatusMap",
    "as_catalog",
    "assign_device_identifiers",
    "backmarket_order_id",
    "device_lines",
    "every_single_unit_line",
    "is_accessory_name",
    "is_valid_imei",
    "order_key_for",
    "parse_device_identifiers",
    "parse_weight",
    "seller_notes",
    "to_backmarket_updates",
    "to_order_notification",
    "to_shipment_notification",
    "order_number_id",
    "to_shipstation_order",
    "tracking_url_for",
]
