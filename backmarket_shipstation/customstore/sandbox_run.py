"""The Custom Store round trip against the built-in sandbox, with no credentials.

What ``backmarket-shipstation store serve --sandbox`` runs:

1. the store starts on a loopback port and reads the sandbox's Back Market orders into its
   export feed, accepting the paid ones;
2. a simulated ShipStation (:class:`~backmarket_shipstation.sandbox.customstore_client.
   CustomStoreClient`) exports them page by page over HTTP;
3. a packer types each device's IMEI or serial number and ShipStation posts a notice per
   label: some orders split into one notice per item, some notices sent twice, some first
   sent with an empty body, some without their IMEI (refused, nothing sent to Back Market);
4. the packer types the missing IMEIs and ShipStation sends those notices again.

Time is a :class:`~backmarket_shipstation.clock.VirtualClock` for Back Market's rate limits;
HTTP is real.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import httpx

from ..clock import VirtualClock
from ..sandbox import Sandbox
from ..sandbox.customstore_client import AuthStyle, CustomStoreClient, ExportedOrder
from ..sync.store import SQLiteStore
from .app import StoreCredentials
from .config import StoreAccountConfig, StoreConfig
from .protocol import DEFAULT_STATUSES
from .server import StoreServer, build_store

__all__ = ["ShipTap", "StoreRoundTrip", "identifier_notes", "store_round_trip"]

_CARRIERS = (("UPS", "UPS Ground"), ("FedEx", "FedEx Ground"), ("USPS", "Priority Mail"))
_AUTH_STYLES: tuple[AuthStyle, ...] = ("basic", "query", "headers")
_SHIP_STATE = 3


@attrs.frozen(kw_only=True)
class StoreRoundTrip:
    """What the round trip did, counted on both sides."""

    url: str
    exported: int
    """Orders ShipStation read (all pages)."""
    distinct_exported: int
    export_requests: int
    shipped_orders: int
    notices: int
    """Notice POSTs, retries and duplicates included."""
    outcomes: dict[int, int]
    """HTTP status → how many notice POSTs got it."""
    refused_then_fixed: int
    failures_left: int
    ship_writes: int
    """Ship POSTs Back Market received (one per shipped order when all is well)."""
    identifier_writes: int
    orders_shipped_twice: int = 0
    """Orders Back Market received more than one ship POST for: always 0."""
    lines_patched_twice: int = 0
    """Order lines Back Market received more than one identifier PATCH for: always 0."""
    identifiers_wrong: int = 0
    """Device lines of shipped orders whose IMEI or serial on Back Market is not the one the
    packer typed (missing or different): always 0."""
    shipped_numbers: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        ok = (
            self.failures_left == 0
            and self.ship_writes == self.shipped_orders
            and self.orders_shipped_twice == 0
            and self.lines_patched_twice == 0
            and self.identifiers_wrong == 0
        )
        return 0 if ok and self.exported == self.distinct_exported else 1


def identifier_notes(sandbox: Sandbox, order: ExportedOrder, items: list[dict[str, str]]) -> str:
    """What a packer types in Internal Notes: one ``SKU: IMEI …`` line per device shipped."""
    lines = []
    for item in items:
        key = str(item.get("LineItemID") or "")
        if not key.isdigit():
            continue
        imei = sandbox.backmarket.device_imeis.get(int(key))
        if imei is not None:
            lines.append(f"{item.get('SKU')}: IMEI {imei}")
            continue
        serial = sandbox.backmarket.device_serials.get(int(key))
        if serial is not None:
            lines.append(f"{item.get('SKU')}: S/N {serial}")
    notes = order.fields.get("InternalNotes", "")
    return "\n".join([notes, *lines]).strip()


def _tracking(carrier: str, order_number: str, part: int) -> str:
    digits = f"{int(order_number):010d}{part:02d}"
    if carrier == "UPS":
        return f"1Z999AA1{digits[-10:]}"
    if carrier == "FedEx":
        return f"7{digits[-11:]}"
    return f"9400{digits}{'0' * 8}"


def store_round_trip(
    *,
    orders: int = 50,
    seed: int = 0,
    split_every: int = 5,
    duplicate_every: int = 7,
    empty_every: int = 9,
    forget_every: int = 10,
    state_path: str | Path = ":memory:",
    on_step: Callable[[str], None] | None = None,
    on_url: Callable[[str], None] | None = None,
) -> StoreRoundTrip:
    """Serve the sandbox's orders as a Custom Store and play ShipStation against it."""
    say = on_step or (lambda _: None)
    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    sandbox = Sandbox(seed=seed, orders=orders, clock=clock)
    credentials = StoreCredentials("sandbox", secrets.token_urlsafe(16))
    tap = ShipTap(sandbox.backmarket_transport())
    config = StoreConfig(
        accounts=(
            StoreAccountConfig(
                name="sandbox",
                backmarket_token=sandbox.backmarket_token,
                backmarket_user_agent=sandbox.backmarket_user_agent,
                backmarket_base_url=sandbox.backmarket_base_url,
            ),
        ),
        credentials=credentials,
        state_path=str(state_path),
    )
    with (
        SQLiteStore(config.state_path) as store,
        build_store(config, store=store, clock=clock, transport=lambda _: tap) as running,
    ):
        server = StoreServer(running, port=0, refresh_seconds=3600)
        say(f"sandbox: {orders} Back Market orders, seed {seed}")
        say("the store reads Back Market into its export feed, accepting paid orders")
        server.start(refresh_first=True)
        url = server.url("sandbox")
        if on_url is not None:
            on_url(url)
        try:
            result = _play_shipstation(
                sandbox,
                url,
                credentials,
                clock,
                split_every=split_every,
                duplicate_every=duplicate_every,
                empty_every=empty_every,
                forget_every=forget_every,
                say=say,
            )
            failures_left = len(store.failures("sandbox"))
        finally:
            server.stop()
    return attrs.evolve(
        result,
        failures_left=failures_left,
        ship_writes=sum(tap.ship_posts.values()),
        identifier_writes=sum(tap.patches.values()),
        orders_shipped_twice=sum(1 for n in tap.ship_posts.values() if n > 1),
        lines_patched_twice=sum(1 for n in tap.patches.values() if n > 1),
        identifiers_wrong=sum(_wrong_identifiers(sandbox, int(n)) for n in result.shipped_numbers),
    )


def _wrong_identifiers(sandbox: Sandbox, order_id: int) -> int:
    order = sandbox.backmarket.get_order(order_id) or {}
    wrong = 0
    for line in order.get("orderlines", ()):
        typed = sandbox.backmarket.device_imeis.get(line["id"])
        held = line.get("imei")
        if typed is None:
            typed = sandbox.backmarket.device_serials.get(line["id"])
            held = line.get("serial_number")
        if typed is not None and held != typed:
            wrong += 1
    return wrong


class ShipTap(httpx.BaseTransport):
    """Counts the ship POSTs (``new_state`` 3) Back Market answered, by order, in front of
    a sandbox transport: what reached Back Market, not what the store believes it sent."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.ship_posts: Counter[int] = Counter()
        self.patches: Counter[int] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        path = request.url.path
        if request.method == "POST" and path.startswith("/ws/orders/") and response.is_success:
            body = json.loads(request.content or b"{}")
            if body.get("new_state") == _SHIP_STATE:
                self.ship_posts[int(path.rsplit("/", 1)[1])] += 1
        if request.method == "PATCH" and response.is_success:
            self.patches[int(path.rsplit("/", 1)[1])] += 1
        return response


def _play_shipstation(
    sandbox: Sandbox,
    url: str,
    credentials: StoreCredentials,
    clock: VirtualClock,
    *,
    split_every: int,
    duplicate_every: int,
    empty_every: int,
    forget_every: int,
    say: Callable[[str], None],
) -> StoreRoundTrip:
    now = clock.now()
    clients = [
        CustomStoreClient(url, credentials.username, credentials.password, auth=style)
        for style in _AUTH_STYLES
    ]
    try:
        say("ShipStation exports the orders, 100 a page")
        exported = clients[0].export(now - timedelta(days=30), now + timedelta(minutes=1))
        numbers = [order.order_number for order in exported]
        to_ship = [o for o in exported if o.fields.get("OrderStatus") == DEFAULT_STATUSES.paid]
        say(f"labels for {len(to_ship)} orders; notices split, repeated, some sent empty")
        forgotten: list[tuple[ExportedOrder, list[dict[str, str]], int]] = []
        for index, order in enumerate(to_ship, start=1):
            client = clients[index % len(clients)]
            items = [dict(item) for item in order.items if item.get("Adjustment") != "true"]
            split = split_every > 0 and index % split_every == 0 and len(items) > 1
            parts = [[item] for item in items] if split else [items]
            carrier, service = _CARRIERS[index % len(_CARRIERS)]
            for part_number, part in enumerate(parts):
                forget = forget_every > 0 and index % forget_every == 0
                notes = "" if forget else identifier_notes(sandbox, order, part)
                tracking = _tracking(carrier, order.order_number, part_number)
                times = 2 if duplicate_every > 0 and index % duplicate_every == 0 else 1
                for _ in range(times):
                    attempt = client.notify(
                        order,
                        tracking_number=tracking,
                        carrier=carrier,
                        service=service,
                        internal_notes=notes,
                        ship_date=clock.now(),
                        items=part if split else None,
                        empty_body_first=empty_every > 0 and index % empty_every == 0,
                        retries=1,
                    )
                    if attempt.status != 200:
                        break
                if forget:
                    forgotten.append((order, part, part_number))
        clock.advance(3600)
        say(f"the packer types {len(forgotten)} missing IMEIs; ShipStation sends them again")
        fixed = 0
        for order, part, part_number in forgotten:
            index = to_ship.index(order) + 1
            carrier, service = _CARRIERS[index % len(_CARRIERS)]
            attempt = clients[0].notify(
                order,
                tracking_number=_tracking(carrier, order.order_number, part_number),
                carrier=carrier,
                service=service,
                internal_notes=identifier_notes(sandbox, order, part),
                ship_date=clock.now(),
                items=part if len(part) < len(order.items) else None,
                retries=1,
            )
            fixed += attempt.status == 200
        attempts = [a for client in clients for a in client.attempts]
        return StoreRoundTrip(
            url=url,
            exported=len(numbers),
            distinct_exported=len(set(numbers)),
            export_requests=clients[0].export_requests,
            shipped_orders=len(to_ship),
            notices=len(attempts),
            outcomes=dict(Counter(a.status for a in attempts)),
            refused_then_fixed=fixed,
            shipped_numbers=tuple(order.order_number for order in to_ship),
            failures_left=0,
            ship_writes=0,
            identifier_writes=0,
        )
    finally:
        for client in clients:
            client.close()
