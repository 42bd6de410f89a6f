"""Fuzzing: payloads, Internal Notes, the mapping and the clients' error paths.

Every property says the same two things: only the SDK's typed errors
(:class:`~backmarket_shipstation.errors.BackMarketShipStationError`) escape, and no credential
shows in an exception's text, its repr, a log record or a client's repr.

Payloads are the documented fixtures, mutated at random places (a value replaced by any JSON
value, a key dropped, an unknown key added), so the fuzz reaches deep fields instead of
failing at the first type check. The CI profile runs 300 examples per property;
``BMSS_EXTENDED=1`` runs 10,000.
"""

from __future__ import annotations

import base64
import json
import logging
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reliability_support import FUZZ_SETTINGS

from backmarket_shipstation.backmarket import BackMarketClient
from backmarket_shipstation.backmarket.models import Order as BackMarketOrder
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.errors import BackMarketShipStationError
from backmarket_shipstation.mapping import (
    is_valid_imei,
    parse_device_identifiers,
    to_backmarket_updates,
    to_shipment_notification,
    to_shipstation_order,
)
from backmarket_shipstation.mapping.identifiers import imei_check_digit
from backmarket_shipstation.shipstation import ShipStationClient
from backmarket_shipstation.shipstation.models import Fulfillment, Shipment
from backmarket_shipstation.shipstation.models import Order as ShipStationOrder

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


BM_ORDERS = [
    _fixture(f"backmarket/{name}.json")
    for name in (
        "order_example",
        "order_pending_payment",
        "order_unknown_codes",
        "order_us_multiline",
    )
]
SS_ORDERS = [_fixture("shipstation/order_get.json"), _fixture("shipstation/order_us_on_hold.json")]
SS_SHIPMENTS = [
    _fixture("shipstation/shipment_captured.json"),
    *_fixture("shipstation/shipments_page.json")["shipments"],
]
SS_FULFILLMENTS = list(_fixture("shipstation/fulfillments_page.json")["fulfillments"])

# --- strategies ------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(
        ["", "0", "1", "-1", "12.50", "1e400", "2025-03-10T08:30:12Z", "2025-13-45", "None"]
    )
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in a JSON document (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    children: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


@st.composite
def mutated(draw: st.DrawFn, documents: list[Any]) -> Any:
    """A fixture with a few random edits: replace a value, drop a key, add an unknown key."""
    document = json.loads(json.dumps(draw(st.sampled_from(documents))))
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        paths = _paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
    return document


def _typed_only(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``call``; an SDK error is an answer, anything else fails the property."""
    try:
        return call(*args, **kwargs)
    except BackMarketShipStationError:
        return None


# --- payloads and mapping ---------------------------------------------------------------


@FUZZ_SETTINGS
@given(payload=mutated(BM_ORDERS), strict=st.booleans())
def test_backmarket_order_payloads_raise_only_typed_errors_and_map_or_refuse(
    payload: Any, strict: bool
) -> None:
    order = _typed_only(BackMarketOrder.from_dict, payload, strict=strict)
    if order is None:
        return
    # What parsed serialises, and parses back to the same order.
    assert BackMarketOrder.from_dict(order.to_dict()) == order
    mapped = _typed_only(to_shipstation_order, order, store_id=518236)
    if mapped is not None:
        assert ShipStationOrder.from_dict(mapped.to_dict()) == mapped


@FUZZ_SETTINGS
@given(
    ss_payload=mutated(SS_ORDERS),
    shipped=mutated(SS_SHIPMENTS) | mutated(SS_FULFILLMENTS),
    bm_payload=mutated(BM_ORDERS),
    as_fulfillment=st.booleans(),
)
def test_shipstation_payloads_through_notification_and_write_plan_raise_only_typed_errors(
    ss_payload: Any, shipped: Any, bm_payload: Any, as_fulfillment: bool
) -> None:
    ss_order = _typed_only(ShipStationOrder.from_dict, ss_payload)
    model = Fulfillment if as_fulfillment else Shipment
    record = _typed_only(model.from_dict, shipped)
    bm_order = _typed_only(BackMarketOrder.from_dict, bm_payload)
    if ss_order is not None:
        assert ShipStationOrder.from_dict(ss_order.to_dict()) == ss_order
    if ss_order is None or record is None:
        return
    notification = _typed_only(to_shipment_notification, ss_order, record, currency="EUR")
    if notification is None or bm_order is None:
        return
    _typed_only(to_backmarket_updates, notification, bm_order)


# --- Internal Notes ---------------------------------------------------------------------

imei_bodies = st.text(alphabet="0123456789", min_size=14, max_size=14)
valid_imeis = imei_bodies.map(lambda body: body + str(imei_check_digit(body)))
SKUS = ["IP13-128-MID-EXC", "S23-256-GRN", "MBA-M1-256", "CASE-IP13"]
note_tokens = (
    valid_imeis
    | st.text(alphabet="0123456789", min_size=13, max_size=17)
    | st.sampled_from(
        ["IMEI", "IMEI:", "imei1", "S/N", "SN:", "Serial", "Serial number:", ":", "-", ",", ";"]
    )
    | st.sampled_from(SKUS).map(lambda sku: f"{sku}:")
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
    | st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=8, max_size=60)
)
notes = st.lists(
    st.tuples(note_tokens, st.sampled_from([" ", "\n", "\t", "  ", "\r\n", "", " / "])),
    max_size=14,
).map(lambda parts: "".join(token + gap for token, gap in parts))


@FUZZ_SETTINGS
@given(text=st.none() | notes | st.text(max_size=200), with_skus=st.booleans())
def test_internal_notes_yield_valid_identifiers_or_a_typed_error(
    text: str | None, with_skus: bool
) -> None:
    found = _typed_only(
        parse_device_identifiers, text, skus=SKUS if with_skus else None, order_id=41000001
    )
    for identifier in found or ():
        if identifier.kind.value == "imei":
            assert is_valid_imei(identifier.value), identifier
        else:
            assert 0 < len(identifier.value) <= 50, identifier


# --- clients' error paths ---------------------------------------------------------------

BM_RAW = "0f1e2d3c4b5a69788796a5:BMT-feedfacecafebeef0123456789abcdef01234567"
BM_TOKEN = base64.b64encode(BM_RAW.encode()).decode()
SS_KEY = "9c1f0e7d6b5a4c3d2e1f0a9b8c7d6e5f"
SS_SECRET = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
SS_BASIC = base64.b64encode(f"{SS_KEY}:{SS_SECRET}".encode()).decode()

statuses = st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 405, 409, 422, 429]) | (
    st.integers(min_value=400, max_value=599)
)
error_bodies = (
    json_values.map(lambda value: json.dumps(value).encode())
    | st.fixed_dictionaries(
        {"error": st.fixed_dictionaries({"code": json_scalars, "message": json_scalars})}
    ).map(lambda value: json.dumps(value).encode())
    | st.fixed_dictionaries(
        {"Message": json_scalars, "ExceptionMessage": json_scalars, "ModelState": json_values}
    ).map(lambda value: json.dumps(value).encode())
    | st.sampled_from(
        [
            b"",
            b"<html><body>Attention Required! | Cloudflare</body></html>",
            b'{"results": [{"order_id": 1,, <!-- cut',
            b"\xff\xfe\x00garbage",
        ]
    )
    | st.binary(max_size=80)
)
# Servers that echo what they refused: the header, the token, the key, the secret. A client
# knows its own credential only, so each client is fed echoes of its own.
BM_SECRETS = (f"Basic {BM_TOKEN}", BM_TOKEN, BM_RAW)
SS_SECRETS = (f"Basic {SS_BASIC}", SS_BASIC, SS_KEY, SS_SECRET, f"{SS_KEY}:{SS_SECRET}")


def _echo_body(parts: tuple[str, str, str]) -> bytes:
    prefix, secret, shape = parts
    text = f"{prefix} invalid credential {secret}"
    if shape == "json":
        return json.dumps({"error": {"code": "auth", "message": text}, "Message": text}).encode()
    if shape == "model":
        return json.dumps({"Message": "bad", "ModelState": {"apiKey": [text]}}).encode()
    return text.encode()


def bodies(secrets: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    shapes = st.sampled_from(["json", "text", "model"])
    echoes = st.tuples(st.text(max_size=20), st.sampled_from(secrets), shapes).map(_echo_body)
    return error_bodies | echoes


header_sets = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.sampled_from(
            ["application/json", "text/html", "text/plain", "application/json; charset=utf-8"]
        ),
        "retry-after": st.sampled_from(
            ["0", "1", "30", "-5", "abc", "Wed, 21 Oct 2015 07:28:00 GMT"]
        ),
        "x-rate-limit-remaining": st.sampled_from(["0", "39", "-1", "x"]),
        "x-rate-limit-reset": st.sampled_from(["0", "12", "-3", "1e9", "y"]),
        "x-rate-limit-limit": st.sampled_from(["40", "0", "z"]),
        "server": st.just("cloudflare"),
        "cf-ray": st.just("8a1b2c3d4e5f6071-CDG"),
    },
)


def answers(secrets: tuple[str, ...]) -> st.SearchStrategy[list[tuple[int, bytes, dict[str, str]]]]:
    """One to six scripted answers (the last repeats), bodies echoing ``secrets`` at times."""
    return st.lists(st.tuples(statuses, bodies(secrets), header_sets), min_size=1, max_size=6)


class _Script:
    """A MockTransport handler that plays scripted answers, the last one forever."""

    def __init__(self, script: list[tuple[int, bytes, dict[str, str]]]) -> None:
        self.script = script
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        status, body, headers = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return httpx.Response(status, content=body, headers=headers)


def _assert_no_secret(secrets: tuple[str, ...], *texts: str) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"credential in {text[:300]!r}"


@pytest.fixture(scope="module")
def secret_log() -> Any:
    """Every log record of the SDK, at DEBUG, kept for the module."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.DEBUG)
    root = logging.getLogger("backmarket_shipstation")
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield records
    root.removeHandler(handler)
    root.setLevel(previous)


def _call_and_check(
    secrets: tuple[str, ...], client: Any, call: Any, records: list[logging.LogRecord]
) -> None:
    records.clear()
    try:
        result = call()
    except BackMarketShipStationError as exc:
        _assert_no_secret(secrets, str(exc), repr(exc), repr(exc.args))
        cause = exc.__cause__ or exc.__context__
        if cause is not None:
            _assert_no_secret(secrets, str(cause), repr(cause))
    else:
        _assert_no_secret(secrets, repr(result))
    _assert_no_secret(secrets, repr(client), *(r.getMessage() for r in records))
    _assert_no_secret(secrets, *(repr(r.args) for r in records if r.args))


@FUZZ_SETTINGS
@given(script=answers(BM_SECRETS), call=st.sampled_from(["get", "list", "ship"]))
def test_backmarket_client_errors_are_typed_and_never_carry_the_token(
    script: list[tuple[int, bytes, dict[str, str]]], call: str, secret_log: list[logging.LogRecord]
) -> None:
    clock = VirtualClock()
    with BackMarketClient(
        token=BM_TOKEN,
        user_agent="BM-Acme-ShipStation;ops@acme.example",
        transport=httpx.MockTransport(_Script(script)),
        clock=clock,
    ) as client:
        calls = {
            "get": lambda: client.orders.get(41000001),
            "list": lambda: list(islice(client.orders.list(state=1), 200)),
            "ship": lambda: client.orders.ship(
                41000001, sku="IP13-128-MID-EXC", tracking_number="1Z999", shipper="UPS"
            ),
        }
        _call_and_check(BM_SECRETS, client, calls[call], secret_log)


@FUZZ_SETTINGS
@given(script=answers(SS_SECRETS), call=st.sampled_from(["get", "list", "shipments"]))
def test_shipstation_client_errors_are_typed_and_never_carry_the_key_pair(
    script: list[tuple[int, bytes, dict[str, str]]], call: str, secret_log: list[logging.LogRecord]
) -> None:
    clock = VirtualClock()
    with ShipStationClient(
        api_key=SS_KEY,
        api_secret=SS_SECRET,
        transport=httpx.MockTransport(_Script(script)),
        clock=clock,
    ) as client:
        calls = {
            "get": lambda: client.orders.get(100000001),
            "list": lambda: list(islice(client.orders.list(store_id=518236), 200)),
            "shipments": lambda: list(islice(client.shipments.list(), 200)),
        }
        _call_and_check(SS_SECRETS, client, calls[call], secret_log)
