"""A Custom Store over the sandbox's Back Market, called in-process through WSGI.

conftest.py puts this folder on ``sys.path`` so the tests can import this module.
"""

from __future__ import annotations

import base64
import io
import json
from collections import Counter
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.customstore import StoreCredentials
from backmarket_shipstation.customstore.config import StoreAccountConfig, StoreConfig
from backmarket_shipstation.customstore.server import RunningStore, build_store
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sandbox.customstore_client import CustomStoreClient, ExportedOrder
from backmarket_shipstation.sync.store import SQLiteStore

USERNAME = "shipstation"
PASSWORD = "s3cret-Pa55"
SHIP_STATE = 3


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


class Killed(BaseException):
    """The process dies: not an Exception, so nothing in the SDK catches it."""


class BackMarketTap(httpx.BaseTransport):
    """Counts what Back Market applied, by order, in front of the sandbox transport.

    ``kill_after_ship`` makes the process "die" right after Back Market applied a ship POST,
    before the answer reaches the store (the write happened; the journal does not know).
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.ship_posts: Counter[int] = Counter()
        self.accept_posts: Counter[int] = Counter()
        self.patches: Counter[int] = Counter()
        self.kill_after_ship = False
        self.kill_after_patch = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        path = request.url.path
        if response.is_success and request.method == "POST" and path.startswith("/ws/orders/"):
            body = json.loads(request.content or b"{}")
            order_id = int(path.rsplit("/", 1)[1])
            if body.get("new_state") == SHIP_STATE:
                self.ship_posts[order_id] += 1
                if self.kill_after_ship:
                    raise Killed
            else:
                self.accept_posts[order_id] += 1
        if response.is_success and request.method == "PATCH":
            self.patches[int(path.rsplit("/", 1)[1])] += 1
            if self.kill_after_patch:
                raise Killed
        return response


class StoreHarness:
    """One account ``sandbox`` served from ``state_path``; reopen it to "restart"."""

    def __init__(
        self,
        state_path: Path,
        *,
        orders: int = 12,
        seed: int = 2,
        sandbox: Sandbox | None = None,
        tap: BackMarketTap | None = None,
        accept_orders: bool = True,
    ) -> None:
        self.clock: VirtualClock
        if sandbox is None:
            self.clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
            sandbox = Sandbox(seed=seed, orders=orders, clock=self.clock)
        else:
            assert isinstance(sandbox.clock, VirtualClock)
            self.clock = sandbox.clock
        self.sandbox = sandbox
        self.tap = tap or BackMarketTap(sandbox.backmarket_transport())
        self.state_path = state_path
        self.config = StoreConfig(
            accounts=(
                StoreAccountConfig(
                    name="sandbox",
                    backmarket_token=sandbox.backmarket_token,
                    backmarket_user_agent=sandbox.backmarket_user_agent,
                    backmarket_base_url=sandbox.backmarket_base_url,
                    accept_orders=accept_orders,
                ),
            ),
            credentials=StoreCredentials(USERNAME, PASSWORD),
            state_path=str(state_path),
        )
        self._stack = ExitStack()
        self.store = self._stack.enter_context(SQLiteStore(state_path))
        self.running: RunningStore = self._stack.enter_context(
            build_store(
                self.config, store=self.store, clock=self.clock, transport=lambda _: self.tap
            )
        )

    def __enter__(self) -> StoreHarness:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def restart(self) -> StoreHarness:
        """A new process on the same state file and the same Back Market."""
        self.close()
        self.tap.kill_after_ship = self.tap.kill_after_patch = False
        return StoreHarness(self.state_path, sandbox=self.sandbox, tap=self.tap)

    # --- HTTP, in-process --------------------------------------------------------------

    def call(
        self,
        method: str,
        params: dict[str, str],
        body: bytes = b"",
        *,
        auth: str = "basic",
        username: str = USERNAME,
        password: str = PASSWORD,
        path: str = "/sandbox",
    ) -> tuple[int, dict[str, str], bytes]:
        query = dict(params)
        headers: dict[str, str] = {}
        if auth == "basic":
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            headers["HTTP_AUTHORIZATION"] = f"Basic {token}"
        elif auth == "query":
            query = {"SS-UserName": username, "SS-Password": password, **query}
        elif auth == "headers":
            headers["HTTP_SS_USERNAME"] = username
            headers["HTTP_SS_PASSWORD"] = password
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": urlencode(query),
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)) if body or method == "POST" else "",
            **headers,
        }
        seen: list[Any] = []
        chunks = self.running.app(environ, lambda status, hdrs: seen.append((status, hdrs)))
        status, response_headers = seen[0]
        return int(status.split()[0]), dict(response_headers), b"".join(chunks)

    def export(self, page: int = 1, **window: datetime) -> tuple[int, bytes]:
        start = window.get("start", self.clock.now() - timedelta(days=30))
        end = window.get("end", self.clock.now() + timedelta(minutes=1))
        status, _, body = self.call(
            "GET",
            {
                "action": "export",
                "start_date": f"{start:%m/%d/%Y %H:%M}",
                "end_date": f"{end:%m/%d/%Y %H:%M}",
                "page": str(page),
            },
        )
        return status, body

    def exported_orders(self) -> list[ExportedOrder]:
        """Every exported order, parsed by the simulated ShipStation's reader."""
        status, body = self.export()
        assert status == 200, body
        from defusedxml.ElementTree import fromstring

        root = fromstring(body, forbid_dtd=True)
        return [CustomStoreClient._order(element) for element in root.findall("Order")]

    def shipnotify(
        self,
        order: ExportedOrder,
        *,
        tracking_number: str = "1Z999AA10123456784",
        carrier: str = "UPS",
        service: str = "UPS Ground",
        notes: str | None = None,
        items: list[dict[str, Any]] | None = None,
        empty_body: bool = False,
        auth: str = "basic",
    ) -> tuple[int, bytes]:
        body = (
            b""
            if empty_body
            else CustomStoreClient.notice_xml(
                order,
                tracking_number=tracking_number,
                carrier=carrier,
                service=service,
                internal_notes=self.identifier_notes(order, items) if notes is None else notes,
                items=items,
                ship_date=self.clock.now(),
            )
        )
        status, _, answer = self.call(
            "POST",
            {
                "action": "shipnotify",
                "order_number": order.order_number,
                "carrier": carrier,
                "service": service,
                "tracking_number": tracking_number,
            },
            body,
            auth=auth,
        )
        return status, answer

    def identifier_notes(
        self, order: ExportedOrder, items: list[dict[str, Any]] | None = None
    ) -> str:
        from backmarket_shipstation.customstore.sandbox_run import identifier_notes

        return identifier_notes(self.sandbox, order, [dict(i) for i in (items or order.items)])

    def device_lines(self, order_number: str) -> dict[int, str]:
        """Orderline id → the device identifier the sandbox generated for it."""
        order = self.sandbox.backmarket.get_order(int(order_number))
        assert order is not None
        found = {}
        for line in order["orderlines"]:
            value = self.sandbox.backmarket.device_imeis.get(line["id"])
            value = value or self.sandbox.backmarket.device_serials.get(line["id"])
            if value is not None:
                found[line["id"]] = value
        return found

    def registered(self, order_number: str) -> dict[int, str]:
        """Orderline id → the IMEI or serial Back Market holds now."""
        order = self.sandbox.backmarket.get_order(int(order_number))
        assert order is not None
        return {
            line["id"]: line.get("imei") or line.get("serial_number")
            for line in order["orderlines"]
            if line.get("imei") or line.get("serial_number")
        }
