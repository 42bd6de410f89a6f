"""Shared pieces of the Custom Store tests: Back Market payloads, a sandboxed store, notices."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from customstore_support import StoreHarness

# Valid IMEIs (Luhn check digit right); the first is the GSMA's textbook example.
IMEI_A = "490154203237518"
IMEI_B = "356938035643809"
BAD_IMEI = "490154203237519"


def bm_line(**overrides: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "id": 55501234,
        "state": 2,
        "listing": "IP13-128-MID-EXC",
        "product": "iPhone 13 128 Go - Minuit",
        "brand": "apple",
        "quantity": 1,
        "price": "329.00",
        "shipping_price": "0.00",
        "currency": "EUR",
        "backcare": True,
        "imei": "",
        "serial_number": "",
        "condition": 10,
    }
    line.update(overrides)
    return line


def bm_address(**overrides: Any) -> dict[str, Any]:
    address: dict[str, Any] = {
        "company": "Atelier <Lilas> & Co",
        "first_name": "Camille",
        "last_name": "Martin",
        "street": "12 rue des Lilas",
        "street2": "Bât. B ]]> escape",
        "postal_code": "69003",
        "city": "Lyon",
        "state_or_province": "",
        "country": "fr",
        "phone": "+33612345678\x07",
        "email": "c.martin.abc123@relay.example",
    }
    address.update(overrides)
    return address


def bm_order(**overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "order_id": 41234567,
        "state": 3,
        "date_creation": "2025-03-10T08:30:12Z",
        "date_modification": "2025-03-10T08:35:40Z",
        "date_payment": "2025-03-10T08:35:39Z",
        "expected_dispatch_date": "2025-03-12T16:00:00Z",
        "shipping_address": bm_address(),
        "billing_address": bm_address(street="1 place Bellecour"),
        "delivery_note": "https://www.backmarket.fr/bo-seller/orders/delivery_note/41234567.pdf",
        "shipper_display": "Colissimo Expert",
        "is_backship": False,
        "orderlines": [bm_line()],
        "price": "300.00",
        "shipping_price": "9.90",
        "currency": "EUR",
        "country_code": "FR",
        "payment_method": "CARD",
        "sales_taxes": "50.00",
    }
    order.update(overrides)
    return order


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[StoreHarness]:
    with StoreHarness(tmp_path / "state.sqlite3") as built:
        yield built


def wsgi_environ(
    method: str = "GET",
    path: str = "/sandbox",
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    content_length: int | None = None,
) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": "203.0.113.7",
        "wsgi.input": io.BytesIO(body),
    }
    length = len(body) if content_length is None else content_length
    if length or method == "POST":
        environ["CONTENT_LENGTH"] = str(length)
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


NOW = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
