"""ShipStation V1 models: documented payloads round-trip, V1 quirks, typed errors, properties."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backmarket_shipstation._convert import Model, parse_datetime
from backmarket_shipstation.errors import PayloadError
from backmarket_shipstation.shipstation import (
    PACIFIC,
    Address,
    BulkUpsertResult,
    Carrier,
    CarrierPackage,
    CarrierService,
    Confirmation,
    CreateLabelRequest,
    Fulfillment,
    FulfillmentPage,
    Label,
    MarkAsShippedRequest,
    MarkAsShippedResult,
    Marketplace,
    Order,
    OrderItem,
    OrderPage,
    OrderStatus,
    Product,
    ProductPage,
    RefreshStatus,
    Shipment,
    ShipmentPage,
    Store,
    SuccessResponse,
    Tag,
    Warehouse,
    WebhookEvent,
    WebhookList,
    WebhookPayload,
    WebhookSubscription,
    WebhookSubscriptionResult,
    Weight,
    WeightUnit,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "shipstation"
LA = ZoneInfo("America/Los_Angeles")
_DATETIME_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def normalise(value: Any) -> Any:
    """Wire value → comparable value: date-time text as an instant, numbers as Decimal.

    ShipStation writes 0-7 fraction digits and we write 7, so ``.307`` and ``.3070000`` must
    compare equal; booleans are tagged so that ``True`` never equals ``1``.
    """
    if isinstance(value, dict):
        return {key: normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if isinstance(value, str) and _DATETIME_TEXT.match(value):
        return parse_datetime(value, LA)
    return value


# Every fixture, the model that parses it, and whether the fixture is a bare JSON array.
ROUND_TRIPS: list[tuple[str, type[Model], bool]] = [
    ("order_get.json", Order, False),
    ("order_us_on_hold.json", Order, False),
    ("orders_page.json", OrderPage, False),
    ("shipment_captured.json", Shipment, False),
    ("shipments_page.json", ShipmentPage, False),
    ("fulfillments_page.json", FulfillmentPage, False),
    ("carriers.json", Carrier, True),
    ("carrier_services.json", CarrierService, True),
    ("carrier_packages.json", CarrierPackage, True),
    ("stores.json", Store, True),
    ("marketplaces.json", Marketplace, True),
    ("refresh_status.json", RefreshStatus, False),
    ("webhooks_list.json", WebhookList, False),
    ("webhook_payload_order_notify.json", WebhookPayload, False),
    ("webhook_payload_ship_notify.json", WebhookPayload, False),
    ("webhook_subscribe_request.json", WebhookSubscription, False),
    ("webhook_subscribe_response.json", WebhookSubscriptionResult, False),
    ("bulk_upsert_result.json", BulkUpsertResult, False),
    ("mark_as_shipped_request.json", MarkAsShippedRequest, False),
    ("mark_as_shipped_response.json", MarkAsShippedResult, False),
    ("create_label_request.json", CreateLabelRequest, False),
    ("label_response.json", Label, False),
    ("success_response_hold.json", SuccessResponse, False),
    ("products_page.json", ProductPage, False),
    ("warehouses.json", Warehouse, True),
    ("tags.json", Tag, True),
    ("stores_blank_status_mappings.json", Store, True),
    ("warehouses_recorded.json", Warehouse, True),
    ("product_recorded.json", Product, False),
]


def test_every_fixture_file_is_exercised() -> None:
    on_disk = {path.name for path in FIXTURES.glob("*.json")}
    assert on_disk == {name for name, _, _ in ROUND_TRIPS}


@pytest.mark.parametrize(("fixture", "model_cls", "is_array"), ROUND_TRIPS)
def test_documented_payload_round_trips(
    fixture: str, model_cls: type[Model], is_array: bool
) -> None:
    payload = load(fixture)
    records = payload if is_array else [payload]
    for record in records:
        parsed = model_cls.from_dict(record, strict=True)
        written = parsed.to_dict()
        # Every key comes back, nulls as nulls, and the output is plain JSON.
        assert normalise(json.loads(json.dumps(written))) == normalise(record)


def test_dates_are_written_back_in_v1_seven_digit_pacific_form() -> None:
    written = Order.from_dict(load("order_get.json"), strict=True).to_dict()
    assert written["orderDate"] == "2025-03-14T02:11:09.0000000"
    item = written["items"][0]
    # Items come with 3 digits; V1's canonical form has 7.
    assert item["createDate"] == "2025-03-14T02:15:41.3070000"


# --------------------------------------------------------------------------------------
# Dates and times
# --------------------------------------------------------------------------------------


def _order_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "orderNumber": "BM-1",
        "orderDate": "2025-07-04T10:00:00.0000000",
        "orderStatus": "awaiting_shipment",
        "billTo": {"name": "A"},
        "shipTo": {"name": "A", "country": "FR"},
    }
    payload.update(overrides)
    return payload


@pytest.mark.parametrize(
    ("text", "wall", "utc_offset_hours"),
    [
        # July: Pacific Daylight Time, UTC-7.
        ("2025-07-16T14:00:34.8230000", datetime(2025, 7, 16, 14, 0, 34, 823000), -7),
        # January: Pacific Standard Time, UTC-8.
        ("2025-01-16T14:00:34.823", datetime(2025, 1, 16, 14, 0, 34, 823000), -8),
        # No fraction at all, and a space instead of the T.
        ("2016-11-29 23:59:59", datetime(2016, 11, 29, 23, 59, 59), -8),
        ("2015-08-17T09:24:14.78", datetime(2015, 8, 17, 9, 24, 14, 780000), -7),
    ],
)
def test_naive_v1_dates_become_aware_pacific_datetimes(
    text: str, wall: datetime, utc_offset_hours: int
) -> None:
    order = Order.from_dict(_order_payload(orderDate=text))
    assert order.order_date.tzinfo is not None
    assert order.order_date.utcoffset() == timedelta(hours=utc_offset_hours)
    assert order.order_date.replace(tzinfo=None) == wall
    assert order.to_dict()["orderDate"] == wall.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def test_utc_input_is_converted_to_pacific_wall_time() -> None:
    # The create-order doc example sends a Z time [DOCS-CREATE-ORDER].
    order = Order.from_dict(_order_payload(orderDate="2015-06-29T08:46:27.000Z"))
    assert order.order_date == datetime(2015, 6, 29, 8, 46, 27, tzinfo=timezone.utc)
    assert order.order_date.tzinfo == LA
    assert order.order_date.hour == 1
    assert order.to_dict()["orderDate"] == "2015-06-29T01:46:27.0000000"


def test_aware_datetimes_from_python_are_sent_as_pacific_wall_time() -> None:
    paris = ZoneInfo("Europe/Paris")
    order = Order(
        order_number="BM-1",
        order_date=datetime(2025, 1, 10, 18, 30, tzinfo=paris),
        order_status=OrderStatus.AWAITING_SHIPMENT,
        bill_to=Address(name="A"),
        ship_to=Address(name="A"),
    )
    assert order.to_dict()["orderDate"] == "2025-01-10T09:30:00.0000000"


def test_bare_dates_stay_dates() -> None:
    order = Order.from_dict(load("order_us_on_hold.json"), strict=True)
    assert order.ship_date == date(2025, 7, 7)
    assert order.hold_until_date == date(2025, 7, 8)
    assert type(order.ship_date) is date
    written = order.to_dict()
    assert written["shipDate"] == "2025-07-07"
    assert written["holdUntilDate"] == "2025-07-08"
    shipment = Shipment.from_dict(load("shipment_captured.json"), strict=True)
    assert shipment.ship_date == date(2024, 9, 17)
    assert shipment.to_dict()["shipDate"] == "2024-09-17"


def test_fulfillment_ship_date_is_a_datetime_unlike_a_shipment() -> None:
    page = FulfillmentPage.from_dict(load("fulfillments_page.json"), strict=True)
    assert page.fulfillments[0].ship_date == datetime(2016, 6, 8, tzinfo=PACIFIC)
    assert page.to_dict()["fulfillments"][0]["shipDate"] == "2016-06-08T00:00:00.0000000"


def test_refresh_status_keeps_its_odd_dates_as_text() -> None:
    status = RefreshStatus.from_dict(load("refresh_status.json"), strict=True)
    assert status.refresh_date == "8-13-2014"


# --------------------------------------------------------------------------------------
# Enums, money, weights
# --------------------------------------------------------------------------------------


def test_unknown_order_status_is_kept_and_flagged() -> None:
    order = Order.from_dict(_order_payload(orderStatus="awaiting_review"), strict=True)
    assert not order.order_status.is_known
    assert order.order_status.value == "awaiting_review"
    assert order.to_dict()["orderStatus"] == "awaiting_review"
    assert OrderStatus("rejected_fulfillment").is_known


def test_unknown_webhook_event_and_confirmation_are_tolerated() -> None:
    payload = WebhookPayload.from_dict({"resource_url": "u", "resource_type": "LABEL_VOIDED"})
    assert not payload.resource_type.is_known
    label = CreateLabelRequest.from_dict(
        {
            "orderId": 1,
            "carrierCode": "ups",
            "serviceCode": "ups_ground",
            "confirmation": "photo_id",
            "shipDate": "2025-01-02",
        }
    )
    assert not label.confirmation.is_known
    assert label.to_dict()["confirmation"] == "photo_id"


def test_discount_is_an_adjustment_item_with_a_negative_unit_price() -> None:
    order = Order.from_dict(load("order_us_on_hold.json"), strict=True)
    assert order.items is not None
    discount = order.items[1]
    assert discount.adjustment is True
    assert discount.unit_price == Decimal("-20.55")
    assert order.to_dict()["items"][1]["unitPrice"] == -20.55


def test_money_is_decimal_in_python_and_a_number_on_the_wire() -> None:
    order = Order.from_dict(load("order_us_on_hold.json"), strict=True)
    assert order.order_total == Decimal("434.73")
    assert order.items is not None
    assert order.items[0].unit_price == Decimal("219.99")
    assert order.international_options is not None
    assert order.international_options.customs_items is not None
    assert order.international_options.customs_items[0].value == Decimal("219.99")
    written = order.to_dict()
    assert written["orderTotal"] == 434.73
    assert isinstance(written["amountPaid"], float)
    carriers = [Carrier.from_dict(item, strict=True) for item in load("carriers.json")]
    assert carriers[0].balance == Decimal("15.66")


def test_weight_is_per_unit_with_its_read_only_code() -> None:
    order = Order.from_dict(load("order_get.json"), strict=True)
    assert order.items is not None
    weight = order.items[0].weight
    assert weight == Weight(value=Decimal(240), units=WeightUnit.GRAMS, weight_units=3)
    assert order.to_dict()["items"][0]["weight"] == {
        "value": 240,
        "units": "grams",
        "WeightUnits": 3,
    }


def test_weight_helpers_build_request_weights_without_the_read_only_code() -> None:
    assert Weight.grams(240).to_dict() == {"value": 240, "units": "grams"}
    assert Weight.ounces("6.2").units is WeightUnit.OUNCES
    assert Weight.pounds(1).in_grams() == Decimal("453.592370000")
    assert Weight.ounces(2).in_grams() == Decimal("56.699046250")
    assert Weight.grams(Decimal("0.5")).in_grams() == Decimal("0.5")
    with pytest.raises(ValueError, match="kilograms"):
        Weight(value=Decimal(1), units=WeightUnit("kilograms")).in_grams()


# --------------------------------------------------------------------------------------
# What to_dict writes
# --------------------------------------------------------------------------------------


def _walk_values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [v for item in value.values() for v in _walk_values(item)]
    if isinstance(value, list):
        return [v for item in value for v in _walk_values(item)]
    return [value]


def test_unset_optional_fields_are_omitted() -> None:
    order = Order(
        order_number="BM-1",
        order_date=datetime(2025, 7, 4, 10, tzinfo=PACIFIC),
        order_status=OrderStatus.AWAITING_SHIPMENT,
        bill_to=Address(name="Jeanne"),
        ship_to=Address(name="Jeanne", country="FR"),
        items=(OrderItem(name="iPhone 13", quantity=1),),
    )
    written = order.to_dict()
    assert written == {
        "orderNumber": "BM-1",
        "orderDate": "2025-07-04T10:00:00.0000000",
        "orderStatus": "awaiting_shipment",
        "billTo": {"name": "Jeanne"},
        "shipTo": {"name": "Jeanne", "country": "FR"},
        "items": [{"name": "iPhone 13", "quantity": 1}],
    }
    assert None not in _walk_values(written)
    assert "None" not in _walk_values(written)


def test_false_zero_and_empty_text_are_kept() -> None:
    order = Order(
        order_number="BM-1",
        order_date=datetime(2025, 7, 4, 10, tzinfo=PACIFIC),
        order_status=OrderStatus.ON_HOLD,
        bill_to=Address(name=""),
        ship_to=Address(name="A", residential=False, state=""),
        gift=False,
        tax_amount=Decimal(0),
        customer_notes="",
        tag_ids=(),
    )
    written = order.to_dict()
    assert written["gift"] is False
    assert written["taxAmount"] == 0
    assert written["customerNotes"] == ""
    assert written["tagIds"] == []
    assert written["billTo"] == {"name": ""}
    assert written["shipTo"] == {"name": "A", "state": "", "residential": False}


def test_unknown_keys_are_kept_when_not_strict_and_rejected_when_strict() -> None:
    payload = _order_payload(labelMessages={"x": 1}, shipTo={"name": "A", "county": "Kent"})
    order = Order.from_dict(payload)
    assert order.extras["labelMessages"] == {"x": 1}
    assert order.ship_to.extras["county"] == "Kent"
    assert order.to_dict()["labelMessages"] == {"x": 1}
    assert order.to_dict()["shipTo"]["county"] == "Kent"
    with pytest.raises(PayloadError) as info:
        Order.from_dict(payload, strict=True)
    assert info.value.model == "shipstation.Order"


def test_webhook_list_speaks_pascal_case_with_irregular_id_keys() -> None:
    listing = WebhookList.from_dict(load("webhooks_list.json"), strict=True)
    hook = listing.webhooks[0]
    assert hook.web_hook_id == 123456
    assert hook.seller_id == 100000
    assert hook.store_id == 518236
    assert hook.hook_type is WebhookEvent.ORDER_NOTIFY
    assert hook.is_label_api_hook is False
    assert hook.webhook_logs == ()
    written = hook.to_dict()
    assert {"WebHookID", "SellerID", "StoreID", "HookType", "IsLabelAPIHook", "Url"} <= set(written)
    assert listing.webhooks[1].store_id is None
    assert "StoreID" in listing.webhooks[1].to_dict()


def test_webhook_payload_and_subscription_use_snake_case_keys() -> None:
    payload = WebhookPayload.from_dict(load("webhook_payload_ship_notify.json"), strict=True)
    assert payload.resource_type is WebhookEvent.SHIP_NOTIFY
    assert payload.resource_url.endswith("includeShipmentItems=False")
    body = WebhookSubscription(target_url="https://h.example/x", event=WebhookEvent.ORDER_NOTIFY)
    assert body.to_dict() == {"target_url": "https://h.example/x", "event": "ORDER_NOTIFY"}


def test_secret_bearing_urls_and_label_documents_stay_out_of_reprs() -> None:
    body = WebhookSubscription(
        target_url="https://h.example/x?token=s3cret", event=WebhookEvent.SHIP_NOTIFY
    )
    assert "s3cret" not in repr(body)
    hook = WebhookList.from_dict(load("webhooks_list.json")).webhooks[0]
    assert "token=abc" not in repr(hook)
    label = Label.from_dict(load("label_response.json"))
    assert "JVBERi0" not in repr(label)


def test_pages_zero_envelope_parses_as_given() -> None:
    # Doc examples show pages 0 with items present: the model keeps it, callers must not trust it.
    page = OrderPage.from_dict(load("orders_page.json"), strict=True)
    assert (page.total, page.page, page.pages) == (2, 1, 0)
    assert len(page.orders) == 2
    shipments = ShipmentPage.from_dict(load("shipments_page.json"), strict=True)
    assert shipments.pages == 0
    assert shipments.shipments[0].shipment_items is not None


def test_shipment_objects_are_objects_not_lists() -> None:
    shipment = Shipment.from_dict(load("shipment_captured.json"), strict=True)
    assert shipment.ship_to is not None
    assert shipment.ship_to.city == "Calgary"
    assert shipment.advanced_options is not None
    assert shipment.advanced_options.store_id == 518236
    bad = load("shipment_captured.json")
    bad["shipTo"] = [bad["shipTo"]]
    with pytest.raises(PayloadError) as info:
        Shipment.from_dict(bad)
    assert info.value.path == "shipTo"


def test_mark_as_shipped_request_body() -> None:
    body = MarkAsShippedRequest(
        order_id=481516234,
        carrier_code="colissimo",
        ship_date=date(2025, 3, 15),
        tracking_number="6A12345678901",
        notify_customer=False,
        notify_sales_channel=True,
    )
    assert body.to_dict() == load("mark_as_shipped_request.json")


def test_store_status_mappings() -> None:
    stores = [Store.from_dict(item, strict=True) for item in load("stores.json")]
    assert stores[0].marketplace_id == 0
    assert stores[0].status_mappings is None
    assert stores[1].status_mappings is not None
    assert stores[1].status_mappings[1].order_status is OrderStatus.AWAITING_SHIPMENT
    assert stores[1].status_mappings[1].status_key == "Processing"


def test_fulfillment_keeps_notification_outcome() -> None:
    page = FulfillmentPage.from_dict(load("fulfillments_page.json"), strict=True)
    second: Fulfillment = page.fulfillments[1]
    assert second.marketplace_notified is False
    assert second.notify_error_message == "Marketplace rejected the tracking number"
    assert second.fulfillment_fee == Decimal(0)


# --------------------------------------------------------------------------------------
# Malformed payloads
# --------------------------------------------------------------------------------------


def _mutated(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    payload: dict[str, Any] = load("order_us_on_hold.json")
    mutate(payload)
    return payload


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["items"][0].__setitem__("unitPrice", "abc"), "items[0].unitPrice"),
        (lambda d: d["items"][1]["weight"].__setitem__("units", 5), "items[1].weight.units"),
        (lambda d: d.pop("orderNumber"), "orderNumber"),
        (lambda d: d.__setitem__("billTo", None), "billTo"),
        (lambda d: d.__setitem__("shipTo", "Paris"), "shipTo"),
        (lambda d: d.__setitem__("orderDate", "yesterday"), "orderDate"),
        (lambda d: d.__setitem__("shipDate", "2025-13-45"), "shipDate"),
        (lambda d: d.__setitem__("orderId", "481516301"), "orderId"),
        (lambda d: d.__setitem__("gift", "false"), "gift"),
        (lambda d: d.__setitem__("tagIds", [1, "x"]), "tagIds[1]"),
        (lambda d: d.__setitem__("orderStatus", 3), "orderStatus"),
        (lambda d: d.__setitem__("items", {"name": "x"}), "items"),
        (
            lambda d: d["internationalOptions"]["customsItems"][0].__setitem__("value", True),
            "internationalOptions.customsItems[0].value",
        ),
        (lambda d: d["items"][0].__setitem__("name", None), "items[0].name"),
    ],
)
def test_malformed_order_raises_payload_error_naming_the_wire_path(
    mutate: Callable[[dict[str, Any]], None], path: str
) -> None:
    with pytest.raises(PayloadError) as info:
        Order.from_dict(_mutated(mutate))
    assert info.value.model == "shipstation.Order"
    assert info.value.path == path


def test_payload_that_is_not_an_object() -> None:
    with pytest.raises(PayloadError) as info:
        Order.from_dict([])  # type: ignore[arg-type]
    assert info.value.path == ""


def test_pascal_case_error_paths_use_wire_names() -> None:
    payload = load("webhooks_list.json")
    payload["webhooks"][1]["WebHookID"] = "x"
    with pytest.raises(PayloadError) as info:
        WebhookList.from_dict(payload)
    assert info.value.path == "webhooks[1].WebHookID"


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------


def _canonical_pacific(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


def _exists_in_pacific(wall: datetime) -> bool:
    # A wall time inside the spring-forward gap (02:00-03:00 on the DST day) does not exist;
    # it is read as PST and shown as PDT an hour later, so it cannot round-trip as text.
    aware = wall.replace(tzinfo=PACIFIC)
    return aware.astimezone(timezone.utc).astimezone(PACIFIC).replace(tzinfo=None) == wall


pacific_texts = (
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31))
    .filter(_exists_in_pacific)
    .map(_canonical_pacific)
)
date_texts = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)).map(date.isoformat)
money = st.integers(min_value=-(10**9), max_value=10**9).map(lambda cents: round(cents / 100, 2))
amounts = st.integers(min_value=0, max_value=10**7).map(lambda cents: round(cents / 100, 2))
ids = st.integers(min_value=1, max_value=2**31 - 1)
texts = st.text(max_size=20)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """An optional field may be absent (see ``optional=``), null, or a value."""
    return st.one_of(st.none(), strategy)


def obj(
    required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required, optional={k: maybe(v) for k, v in optional.items()})


def enum_text(values: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(values), texts)


weights = obj(
    {"value": amounts, "units": enum_text(["pounds", "ounces", "grams"])},
    {"WeightUnits": st.integers(min_value=0, max_value=9)},
)
addresses = obj(
    {},
    dict.fromkeys(
        [
            "name",
            "company",
            "street1",
            "street2",
            "street3",
            "city",
            "state",
            "postalCode",
            "country",
            "phone",
        ],
        texts,
    )
    | {
        "residential": st.booleans(),
        "addressVerified": enum_text(
            ["Address not yet validated", "Address validated successfully"]
        ),
    },
)
items = obj(
    {"name": texts},
    {
        "orderItemId": ids,
        "lineItemKey": texts,
        "sku": texts,
        "imageUrl": texts,
        "weight": weights,
        "quantity": st.integers(min_value=0, max_value=1000),
        "unitPrice": money,
        "taxAmount": money,
        "shippingAmount": money,
        "warehouseLocation": texts,
        "options": st.lists(obj({}, {"name": texts, "value": texts}), max_size=3),
        "productId": ids,
        "fulfillmentSku": texts,
        "adjustment": st.booleans(),
        "upc": texts,
        "createDate": pacific_texts,
        "modifyDate": pacific_texts,
    },
)
order_payloads = obj(
    {
        "orderNumber": texts,
        "orderDate": pacific_texts,
        "orderStatus": enum_text([status.value for status in OrderStatus]),
        "billTo": addresses,
        "shipTo": addresses,
    },
    {
        "orderId": ids,
        "orderKey": texts,
        "createDate": pacific_texts,
        "modifyDate": pacific_texts,
        "paymentDate": pacific_texts,
        "shipByDate": pacific_texts,
        "customerId": ids,
        "customerUsername": texts,
        "customerEmail": texts,
        "items": st.lists(items, max_size=3),
        "orderTotal": money,
        "amountPaid": money,
        "taxAmount": money,
        "shippingAmount": money,
        "customerNotes": texts,
        "internalNotes": texts,
        "gift": st.booleans(),
        "giftMessage": texts,
        "paymentMethod": texts,
        "requestedShippingService": texts,
        "carrierCode": texts,
        "serviceCode": texts,
        "packageCode": texts,
        "confirmation": enum_text([c.value for c in Confirmation]),
        "shipDate": date_texts,
        "holdUntilDate": date_texts,
        "weight": weights,
        "dimensions": obj(
            {},
            {
                "length": amounts,
                "width": amounts,
                "height": amounts,
                "units": enum_text(["inches", "centimeters"]),
            },
        ),
        "insuranceOptions": obj(
            {},
            {
                "provider": enum_text(["shipsurance", "carrier", "provider"]),
                "insureShipment": st.booleans(),
                "insuredValue": amounts,
            },
        ),
        "internationalOptions": obj(
            {},
            {
                "contents": enum_text(["merchandise", "gift"]),
                "customsItems": st.lists(
                    obj(
                        {},
                        {
                            "customsItemId": ids,
                            "description": texts,
                            "quantity": st.integers(min_value=0, max_value=100),
                            "value": amounts,
                            "harmonizedTariffCode": texts,
                            "countryOfOrigin": texts,
                        },
                    ),
                    max_size=2,
                ),
                "nonDelivery": enum_text(["return_to_sender", "treat_as_abandoned"]),
            },
        ),
        "advancedOptions": obj(
            {},
            {
                "warehouseId": ids,
                "nonMachinable": st.booleans(),
                "saturdayDelivery": st.booleans(),
                "containsAlcohol": st.booleans(),
                "mergedOrSplit": st.booleans(),
                "mergedIds": st.lists(ids, max_size=3),
                "parentId": ids,
                "storeId": ids,
                "customField1": texts,
                "customField2": texts,
                "customField3": texts,
                "source": texts,
                "billToParty": enum_text(["my_account", "recipient", "third_party"]),
                "billToAccount": texts,
                "billToPostalCode": texts,
                "billToCountryCode": texts,
                "billToMyOtherAccount": texts,
            },
        ),
        "tagIds": st.lists(ids, max_size=3),
        "userId": st.uuids().map(str),
        "externallyFulfilled": st.booleans(),
        "externallyFulfilledBy": texts,
        "externallyFulfilledById": ids,
        "externallyFulfilledByName": texts,
    },
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(order_payloads)
def test_generated_valid_orders_round_trip_exactly(payload: dict[str, Any]) -> None:
    order = Order.from_dict(payload, strict=True)
    assert order.to_dict() == payload
    assert json.loads(json.dumps(order.to_dict())) == payload


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["2025-07-04T10:00:00", "2025-13-40", "0000-00-00", "9999-12-31T23:59:59"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
order_keys = st.sampled_from(
    [
        "orderNumber",
        "orderDate",
        "orderStatus",
        "billTo",
        "shipTo",
        "items",
        "orderTotal",
        "shipDate",
        "weight",
        "tagIds",
        "advancedOptions",
        "internationalOptions",
        "gift",
    ]
)
junk_orders = st.one_of(
    json_values,
    st.dictionaries(order_keys, json_values, max_size=8),
    order_payloads.flatmap(
        lambda valid: st.fixed_dictionaries(
            {}, optional=dict.fromkeys(list(valid)[:6], json_values)
        ).map(lambda junk: {**valid, **junk})
    ),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(junk_orders, st.booleans())
def test_junk_raises_only_payload_error(payload: Any, strict: bool) -> None:
    error: PayloadError | None = None
    try:
        order = Order.from_dict(payload, strict=strict)
    except PayloadError as exc:
        error = exc
    else:
        # What parses must also write back without error.
        json.dumps(order.to_dict())
    if error is not None:
        assert error.model == "shipstation.Order"


def test_a_store_whose_status_mappings_came_as_an_empty_string_parses_and_round_trips() -> None:
    # Store lists recorded from a real account (2020) carry "statusMappings": "" where the
    # schema says a list; it reads as absent and goes back out as it came.
    blank, null = (
        Store.from_dict(s, strict=True) for s in load("stores_blank_status_mappings.json")
    )
    assert blank.status_mappings is None
    assert blank.store_name == "Mexico Amazon Store"
    assert blank.to_dict()["statusMappings"] == ""
    assert null.status_mappings is None
    assert null.to_dict()["statusMappings"] is None


def test_a_blank_string_is_still_refused_where_shipstation_is_not_known_to_send_one() -> None:
    with pytest.raises(PayloadError, match="items"):
        Order.from_dict({**load("order_get.json"), "items": ""})


def test_product_weight_reads_as_a_per_unit_item_weight_in_ounces() -> None:
    first, second = ProductPage.from_dict(load("products_page.json")).products
    assert first.unit_weight() == Weight.ounces(26)
    assert second.warehouse_location == "Bin 100"
    assert attrs.evolve(first, weight_oz=Decimal(0)).unit_weight() is None


def test_a_return_address_with_blank_residential_and_verification_parses_and_round_trips() -> None:
    # A Ship From Location recorded from a real account (2020) sent "residential": "" and
    # "addressVerified": "" where the schema says a boolean and an enum.
    (location,) = (Warehouse.from_dict(w, strict=True) for w in load("warehouses_recorded.json"))
    returns = location.return_address
    assert returns is not None
    assert returns.residential is None
    assert returns.address_verified is None
    assert returns.to_dict()["residential"] == ""
    assert location.origin_address is not None
    assert location.origin_address.residential is False


def test_a_recorded_product_with_null_objects_and_a_padded_sku() -> None:
    product = Product.from_dict(load("product_recorded.json"), strict=True)
    assert product.sku == " ABC123456789"  # kept as sent: the catalog strips it
    assert product.unit_weight() == Weight.ounces(5)
    assert product.aliases is None
    assert product.to_dict()["aliases"] is None
