"""Both clients replayed against cassettes built from the documented examples (vcrpy).

Record mode ``none``, sockets refused, request bodies matched for writes: a client that sends
a different body, path or query than the documentation shows fails here. A maintainer with
real credentials re-records as tests/cassettes/README.md explains (``VCR_RECORD_MODE``).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import vcr
import yaml

from backmarket_shipstation.backmarket import BackMarketClient, OrderLineState, OrderState
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.errors import (
    FirewallBlockedError,
    InvalidRequestError,
    ServerError,
)
from backmarket_shipstation.shipstation import (
    Confirmation,
    CreateLabelRequest,
    Order,
    OrderStatus,
    ShipmentPage,
    ShipStationClient,
    WebhookEvent,
)

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
RECORD_MODE = os.environ.get("VCR_RECORD_MODE", "none")
REDACTED = "REDACTED"

# Buyer data that must never be stored: Back Market addresses are snake_case, ShipStation's
# camelCase; both are scrubbed wherever they appear in a body.
PII_KEYS = frozenset(
    {
        "first_name",
        "last_name",
        "first_name_pronunciation",
        "last_name_pronunciation",
        "street",
        "street2",
        "phone",
        "email",
        "customer_id_number",
        "name",
        "company",
        "street1",
        "street3",
        "customerEmail",
        "customerUsername",
        "customerNotes",
    }
)
ADDRESS_KEYS = frozenset({"shipping_address", "billing_address", "shipTo", "billTo"})


def scrub(value: Any, *, inside_address: bool = False) -> Any:
    """Replace buyer names, streets, phones and emails by ``REDACTED``, recursively.

    ``name`` is personal only inside an address (an item's ``name`` is a product title).
    """
    if isinstance(value, dict):
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            address = inside_address or key in ADDRESS_KEYS
            personal = key in PII_KEYS and (address or key != "name")
            if personal and isinstance(item, str) and item:
                cleaned[key] = REDACTED
            else:
                cleaned[key] = scrub(item, inside_address=address)
        return cleaned
    if isinstance(value, list):
        return [scrub(item, inside_address=inside_address) for item in value]
    return value


def scrub_body(raw: bytes | str | None) -> bytes | str | None:
    if not raw:
        return raw
    try:
        data = json.loads(raw)
    except ValueError:
        return raw
    return json.dumps(scrub(data)).encode()


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy ``before_record_response``: scrub the body, drop cookies."""
    body = response.get("body", {})
    body["string"] = scrub_body(body.get("string"))
    response["headers"] = {
        k: v for k, v in response.get("headers", {}).items() if k.lower() != "set-cookie"
    }
    return response


def scrub_request(request: Any) -> Any:
    """vcrpy ``before_record_request``: scrub the body (headers are filtered separately)."""
    request.body = scrub_body(request.body)
    return request


def make_vcr() -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode=RECORD_MODE,
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        filter_headers=[("authorization", REDACTED), ("user-agent", REDACTED)],
        before_record_request=scrub_request,
        before_record_response=scrub_response,
        decode_compressed_response=True,
    )


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every outbound connection while replaying (not while re-recording)."""
    if RECORD_MODE != "none":
        return

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("network access during a cassette test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def cassette(no_network: None) -> Callable[[str], Any]:
    """``with cassette("backmarket/errors.yaml") as tape:`` replays that file."""
    return make_vcr().use_cassette


# Real credentials only when re-recording (see tests/cassettes/README.md).
BM_TOKEN = os.environ.get("BACKMARKET_TOKEN", "Y2Fzc2V0dGU6Qk1ULXRva2Vu")
BM_USER_AGENT = os.environ.get("BACKMARKET_USER_AGENT", "BM-Acme-ShipSync;ops@acme.example")
SS_KEY = os.environ.get("SHIPSTATION_API_KEY", "cassette-key")
SS_SECRET = os.environ.get("SHIPSTATION_API_SECRET", "cassette-secret")

Cassette = Callable[[str], Any]


def backmarket() -> BackMarketClient:
    return BackMarketClient(token=BM_TOKEN, user_agent=BM_USER_AGENT, clock=VirtualClock())


def shipstation() -> ShipStationClient:
    return ShipStationClient(api_key=SS_KEY, api_secret=SS_SECRET, clock=VirtualClock())


def documented_create_body() -> dict[str, Any]:
    tape = yaml.safe_load((CASSETTES / "shipstation" / "orders.yaml").read_text(encoding="utf-8"))
    body: dict[str, Any] = json.loads(tape["interactions"][1]["request"]["body"])
    return body


def test_backmarket_list_and_get(cassette: Cassette) -> None:
    with cassette("backmarket/orders_list_and_get.yaml") as tape, backmarket() as bm:
        orders = list(bm.orders.list(state=OrderState.TO_ACCEPT, page_size=1))
        order = bm.orders.get(41234567)
        assert tape.all_played
    assert [o.order_id for o in orders] == [41234567, 41234568]
    assert order.state is OrderState.TO_ACCEPT
    assert order.price == Decimal("329.00")
    assert order.lines[0].state is OrderLineState.PAID
    assert order.lines[0].imei is None  # "" on the wire means not set
    assert order.expected_dispatch_date == datetime(2025, 3, 12, 16, 0, tzinfo=timezone.utc)


def test_backmarket_accept_ship_and_identifiers(cassette: Cassette) -> None:
    with cassette("backmarket/order_writes.yaml") as tape, backmarket() as bm:
        accepted = bm.orders.accept(41234567, "IP13-128-MID-EXC")
        shipped = bm.orders.ship(
            41234567,
            tracking_number="6A12345678901",
            tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
            shipper="Colissimo",
            date_shipping=datetime(2025, 3, 11, 15, 0, tzinfo=timezone.utc),
            imei="490154203237518",
        )
        identifiers = bm.orderlines.update(55501234, serial_number="F2LXK0ABCD12")
        assert tape.all_played
    assert accepted is not None
    assert accepted.state is OrderState.TO_SHIP
    assert shipped is not None
    assert shipped.state is OrderState.SHIPPED
    assert identifiers.serial_number == "F2LXK0ABCD12"


def test_backmarket_write_with_a_different_body_does_not_match(cassette: Cassette) -> None:
    from vcr.errors import CannotOverwriteExistingCassetteException

    with (
        cassette("backmarket/order_writes.yaml"),
        backmarket() as bm,
        pytest.raises(CannotOverwriteExistingCassetteException),
    ):
        bm.orders.accept(41234567, "ANOTHER-SKU")


def test_backmarket_errors(cassette: Cassette) -> None:
    with cassette("backmarket/errors.yaml") as tape, backmarket() as bm:
        with pytest.raises(InvalidRequestError, match="sku not found") as rejected:
            bm.orders.accept(41234567, "NOT-MINE")
        with pytest.raises(FirewallBlockedError) as html_block:
            bm.orders.get(41234568)
        with pytest.raises(FirewallBlockedError) as challenge:
            bm.orders.get(41234569)
        assert tape.all_played
    assert rejected.value.status_code == 400
    assert html_block.value.request_id == "8a1b2c3d4e5f6789-CDG"
    assert "<html" not in str(html_block.value).lower()
    assert challenge.value.request_id == "8a1b2c3d4e5f0000-AMS"


def test_shipstation_list_upsert_and_mark_shipped(cassette: Cassette) -> None:
    created_body = documented_create_body()
    with cassette("shipstation/orders.yaml") as tape, shipstation() as ss:
        listed = list(ss.orders.list(order_status=OrderStatus.AWAITING_SHIPMENT))
        stored = ss.orders.upsert(Order.from_dict(created_body))
        bulk = ss.orders.upsert_many([Order.from_dict(created_body)])
        marked = ss.orders.mark_as_shipped(
            481516234,
            carrier_code="colissimo",
            ship_date=date(2025, 3, 15),
            tracking_number="6A12345678901",
            notify_customer=False,
            notify_sales_channel=True,
        )
        assert tape.all_played
    # "pages": 0 next to an item, as documented: one request, one order.
    assert [o.order_id for o in listed] == [481516234]
    assert stored.order_id == 481516234
    assert stored.order_total == Decimal("464.0")
    assert stored.order_date.tzinfo is not None
    assert not bulk.has_errors
    assert bulk.results[0].order_key == "backmarket-55501234"
    assert marked.order_number == "BM-55501234"
    assert ss.last_response is not None
    assert ss.last_response.headers["X-Rate-Limit-Remaining"] == "39"


def test_shipstation_webhooks(cassette: Cassette) -> None:
    with cassette("shipstation/webhooks.yaml") as tape, shipstation() as ss:
        subscription = ss.webhooks.subscribe(
            "https://hooks.example/shipstation",
            WebhookEvent.SHIP_NOTIFY,
            store_id=518236,
            friendly_name="Back Market sync",
        )
        hooks = ss.webhooks.list().webhooks
        resource = ss.webhooks.fetch(
            {
                "resource_url": "https://ssapi.shipstation.com/shipments?batchId=144015674&includeShipmentItems=False",
                "resource_type": "SHIP_NOTIFY",
            }
        )
        ss.webhooks.unsubscribe(subscription.id)
        assert tape.all_played
    assert subscription.id == 123456
    assert hooks[0].hook_type is WebhookEvent.SHIP_NOTIFY
    assert isinstance(resource, ShipmentPage)
    assert resource.shipments[0].tracking_number == "1Z1V152Y6827822533"


def test_shipstation_products_tags_and_users(cassette: Cassette) -> None:
    # The PUT body in the cassette is the documented record with two fields changed: a client
    # that left a field out (V1 would wipe it) does not match it.
    with cassette("shipstation/products.yaml") as tape, shipstation() as ss:
        (found,) = ss.products.list(sku="1004", sort_by="ModifyDate", sort_dir="DESC")
        updated = ss.products.update(
            found.product_id, weight_oz=Decimal("8.5"), warehouse_location="Shelf B-04"
        )
        tags = ss.tags.list()
        assigned = ss.orders.assign_user([481516234], "123456AB-ab12-3c4d-5e67-89f1abc1defa")
        assert tape.all_played
    assert found.unit_weight() is not None
    assert updated.success
    assert [t.name for t in tags] == ["Backorder", "Canada"]
    assert assigned.success


def test_shipstation_errors_and_rate_limit_wait(cassette: Cassette) -> None:
    clock = VirtualClock()
    with (
        cassette("shipstation/errors.yaml") as tape,
        ShipStationClient(api_key=SS_KEY, api_secret=SS_SECRET, clock=clock) as ss,
    ):
        with pytest.raises(InvalidRequestError, match="holdUntilDate field is required"):
            ss.orders.hold_until(481516234, date(2025, 4, 1))
        carriers = ss.carriers.list()
        with pytest.raises(ServerError, match="Object reference not set") as server_error:
            ss.orders.create_label(
                CreateLabelRequest(
                    order_id=999,
                    carrier_code="ups",
                    service_code="ups_ground",
                    confirmation=Confirmation.NONE,
                    ship_date=date(2025, 3, 15),
                )
            )
        assert tape.all_played
    assert carriers[0].code == "ups"
    # The 429 asked for 17 s (X-Rate-Limit-Reset): waited on the virtual clock, then retried.
    assert 17.0 <= clock.slept < 18.0
    # A label purchase is never resent after a 500: one request only (all_played above).
    assert server_error.value.details is not None


# --------------------------------------------------------------------------------------
# The cassettes themselves hold no secrets and no buyer data
# --------------------------------------------------------------------------------------

CASSETTE_FILES = sorted(CASSETTES.rglob("*.yaml"))


def test_there_are_cassettes() -> None:
    assert len(CASSETTE_FILES) >= 6


@pytest.mark.parametrize("path", CASSETTE_FILES, ids=lambda p: str(p.relative_to(CASSETTES)))
def test_cassettes_hold_no_credentials_or_buyer_data(path: Path) -> None:
    tape = yaml.safe_load(path.read_text(encoding="utf-8"))
    for item in tape["interactions"]:
        headers = {k.lower(): v for k, v in item["request"]["headers"].items()}
        assert headers.get("authorization", [REDACTED]) == [REDACTED]
        assert headers.get("user-agent", [REDACTED]) == [REDACTED]
        for raw in (item["request"]["body"], item["response"]["body"]["string"]):
            if not raw or not raw.lstrip().startswith(("{", "[")):
                continue
            _assert_scrubbed(json.loads(raw))


PII = ("first_name", "last_name", "street", "street2", "phone", "email", "street1", "customerEmail")


def _assert_scrubbed(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PII and isinstance(item, str) and item:
                assert item == REDACTED, f"{key} holds buyer data"
            _assert_scrubbed(item)
    elif isinstance(value, list):
        for item in value:
            _assert_scrubbed(item)


def test_the_recording_scrubber_removes_buyer_data() -> None:
    live = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Set-Cookie": ["__cf_bm=abc"], "Content-Type": ["application/json"]},
        "body": {
            "string": json.dumps(
                {
                    "results": [
                        {
                            "order_id": 1,
                            "shipping_address": {
                                "first_name": "Camille",
                                "last_name": "Martin",
                                "street": "12 rue des Lilas",
                                "phone": "+33612345678",
                                "email": "c.martin@relay.example",
                                "city": "Lyon",
                            },
                            "orderlines": [{"product": "iPhone 13", "listing": "SKU"}],
                        }
                    ],
                    "shipTo": {"name": "Jeanne Dupont", "street1": "1 rue", "city": "Paris"},
                    "items": [{"name": "iPhone 13 128GB"}],
                }
            ).encode()
        },
    }
    cleaned = scrub_response(live)
    text = cleaned["body"]["string"].decode()
    for secret in ("Camille", "Martin", "12 rue", "+3361", "relay.example", "Jeanne", "1 rue"):
        assert secret not in text
    assert "Lyon" in text
    assert "iPhone 13 128GB" in text  # product names are not personal data
    assert "Set-Cookie" not in cleaned["headers"]


def test_no_network_while_replaying(cassette: Cassette) -> None:
    # Outside any cassette, a request must fail instead of reaching the internet.
    with backmarket() as bm, pytest.raises(RuntimeError, match="network access"):
        bm.orders.get(1)
