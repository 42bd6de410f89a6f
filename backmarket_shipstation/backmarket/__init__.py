"""The Back Market seller API: clients, models, codes and platforms."""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .care import (
        AsyncCare,
        Care,
        CareClaim,
        CareFolder,
        CareFolderPage,
        CareFolderState,
        CareFolderSummary,
        CareMessage,
        CareOrderline,
        PostedMessage,
        RefundReceipt,
        RefundType,
        refund_type_for,
    )
    from .client import AsyncBackMarketClient, BackMarketClient
from .listing_models import (
    BatchTask,
    Grade,
    Listing,
    ListingPage,
    ListingShipping,
    ListingUpdate,
    SkuResult,
    Task,
    TaskOutcome,
    TaskStatus,
)
from .models import (
    BACKMARKET_CONVERTER,
    Address,
    BackMarketModel,
    BackMarketWrite,
    Condition,
    Delivery,
    DeliveryMode,
    DeliveryPage,
    Gender,
    Order,
    OrderLine,
    OrderlineIdentifiers,
    OrderlineIdentifiersUpdate,
    OrderLineState,
    OrderPage,
    OrderState,
    OrderUpdate,
    PickupInfo,
    ReturnReason,
    VatType,
)
from .regions import (
    ALL_COUNTRY_CODES,
    AP_COUNTRY_CODES,
    EU_COUNTRY_CODES,
    US_COUNTRY_CODES,
    Region,
)

__all__ = [
    "AsyncCare",
    "Care",
    "CareClaim",
    "CareFolder",
    "CareFolderPage",
    "CareFolderState",
    "CareFolderSummary",
    "CareMessage",
    "CareOrderline",
    "PostedMessage",
    "RefundReceipt",
    "RefundType",
    "refund_type_for",
    "AsyncBackMarketClient",
    "BackMarketClient",
    "ALL_COUNTRY_CODES",
    "AP_COUNTRY_CODES",
    "BACKMARKET_CONVERTER",
    "EU_COUNTRY_CODES",
    "US_COUNTRY_CODES",
    "Address",
    "BackMarketModel",
    "BackMarketWrite",
    "BatchTask",
    "Condition",
    "Delivery",
    "DeliveryMode",
    "DeliveryPage",
    "Gender",
    "Grade",
    "Listing",
    "ListingPage",
    "ListingShipping",
    "ListingUpdate",
    "Order",
    "OrderLine",
    "OrderLineState",
    "OrderPage",
    "OrderState",
    "OrderUpdate",
    "OrderlineIdentifiers",
    "OrderlineIdentifiersUpdate",
    "PickupInfo",
    "Region",
    "ReturnReason",
    "SkuResult",
    "Task",
    "TaskOutcome",
    "TaskStatus",
    "VatType",
]


# The clients (and the care module, which builds requests) load on first use, so that
# importing the models (as the pure mapping layer does) does not pull in the HTTP stack.
_LAZY = {
    "BackMarketClient": ".client",
    "AsyncBackMarketClient": ".client",
    "AsyncCare": ".care",
    "Care": ".care",
    "CareClaim": ".care",
    "CareFolder": ".care",
    "CareFolderPage": ".care",
    "CareFolderState": ".care",
    "CareFolderSummary": ".care",
    "CareMessage": ".care",
    "CareOrderline": ".care",
    "PostedMessage": ".care",
    "RefundReceipt": ".care",
    "RefundType": ".care",
    "refund_type_for": ".care",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
