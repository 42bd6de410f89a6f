"""Every documented list filter reaches ShipStation under its documented name and format."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from backmarket_shipstation.shipstation.client import (
    FulfillmentFilters,
    OrderFilters,
    ShipmentFilters,
    list_fulfillments_request,
    list_orders_request,
    list_shipments_request,
)
from backmarket_shipstation.shipstation.models import OrderStatus

# shipstation.md §3.1, §3.5, §3.6: the query parameter names of GET /orders, /shipments,
# /fulfillments.
DOCUMENTED = {
    "orders": (
        "customerName itemKeyword createDateStart createDateEnd modifyDateStart modifyDateEnd "
        "orderDateStart orderDateEnd orderNumber orderStatus paymentDateStart paymentDateEnd "
        "storeId sortBy sortDir"
    ),
    "shipments": (
        "recipientName recipientCountryCode orderNumber orderId carrierCode serviceCode "
        "trackingNumber createDateStart createDateEnd shipDateStart shipDateEnd voidDateStart "
        "voidDateEnd storeId batchId includeShipmentItems sortBy sortDir"
    ),
    "fulfillments": (
        "fulfillmentId orderId orderNumber trackingNumber recipientName createDateStart "
        "createDateEnd shipDateStart shipDateEnd sortBy sortDir"
    ),
}
BUILDERS = {
    "orders": (list_orders_request, OrderFilters),
    "shipments": (list_shipments_request, ShipmentFilters),
    "fulfillments": (list_fulfillments_request, FulfillmentFilters),
}
SUMMER = datetime(2025, 7, 1, 15, 30, tzinfo=timezone.utc)  # 08:30 in Los Angeles (PDT)


@pytest.mark.parametrize("resource", sorted(DOCUMENTED))
def test_every_filter_has_its_documented_wire_name(resource: str) -> None:
    build, filters = BUILDERS[resource]
    values: dict[str, object] = {}
    for name, kind in filters.__annotations__.items():
        if name == "page_size":
            continue
        if name.endswith(("_start", "_end")):
            values[name] = SUMMER
        elif "bool" in str(kind):
            values[name] = True
        elif "int" in str(kind):
            values[name] = 7
        else:
            values[name] = "x"
    request = build(**values)  # type: ignore[operator]
    sent = {name for name, _ in request.params} - {"page", "pageSize"}
    assert sent == set(DOCUMENTED[resource].split())


def test_dates_go_out_as_pacific_wall_time_and_statuses_as_text() -> None:
    request = list_orders_request(
        modify_date_start=SUMMER, order_status=OrderStatus.SHIPPED, page_size=500
    )
    params = dict(request.params)
    assert params["modifyDateStart"] == "2025-07-01 08:30:00"
    assert params["orderStatus"] == "shipped"
    assert params["pageSize"] == "500"
    assert (
        dict(list_shipments_request(ship_date_start=date(2025, 7, 1)).params)["shipDateStart"]
        == "2025-07-01"
    )


def test_unset_filters_are_not_sent() -> None:
    assert {name for name, _ in list_fulfillments_request().params} == {"page", "pageSize"}
