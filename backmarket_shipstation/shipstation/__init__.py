"""ShipStation API V1: clients and models."""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import AsyncShipStationClient, ShipStationClient
from ..errors import UntrustedWebhookURLError
from .models import (
    PACIFIC,
    SHIPSTATION_CONVERTER,
    Address,
    AddressVerification,
    AdvancedOptions,
    BillToParty,
    BulkUpsertOrderResult,
    BulkUpsertResult,
    Carrier,
    CarrierPackage,
    CarrierService,
    Confirmation,
    CreateLabelRequest,
    CustomsContents,
    CustomsItem,
    Dimensions,
    DimensionUnit,
    Fulfillment,
    FulfillmentPage,
    InsuranceOptions,
    InsuranceProvider,
    InternationalOptions,
    ItemOption,
    Label,
    MarkAsShippedRequest,
    MarkAsShippedResult,
    Marketplace,
    NonDelivery,
    Order,
    OrderItem,
    OrderPage,
    OrderStatus,
    RefreshStatus,
    Shipment,
    ShipmentItem,
    ShipmentPage,
    ShipStationModel,
    StatusMapping,
    Store,
    SuccessResponse,
    Webhook,
    WebhookEvent,
    WebhookList,
    WebhookPayload,
    WebhookSubscription,
    WebhookSubscriptionResult,
    Weight,
    WeightUnit,
)

__all__ = [
    "AsyncShipStationClient",
    "ShipStationClient",
    "UntrustedWebhookURLError",
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
    "Dimensions",
    "DimensionUnit",
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
    "PACIFIC",
    "RefreshStatus",
    "Shipment",
    "ShipmentItem",
    "ShipmentPage",
    "SHIPSTATION_CONVERTER",
    "ShipStationModel",
    "StatusMapping",
    "Store",
    "SuccessResponse",
    "Webhook",
    "WebhookEvent",
    "WebhookList",
    "WebhookPayload",
    "WebhookSubscription",
    "WebhookSubscriptionResult",
    "Weight",
    "WeightUnit",
]


# The clients load on first use, so that importing the models (as the pure mapping layer does)
# does not pull in the HTTP stack.
_LAZY = {"ShipStationClient": ".client", "AsyncShipStationClient": ".client"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
