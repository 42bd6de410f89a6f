"""Fixtures for the sync engine's end-to-end tests: a sandbox world, a wire log, crashes.

:class:`World` is one Back Market account and its ShipStation store, simulated, with a state
file and a virtual clock. Every request the engine makes goes through :class:`WireTap`, which
logs it (so tests count writes at the transport, not in the engine's own report) and can
"kill the process" at a chosen request with :class:`Crash`, before the request reaches the
simulator or after the simulator applied it (the response is lost).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync import (
    AccountConfig,
    RunReport,
    SyncOptions,
    pack_and_ship,
    run_sync,
    sandbox_config,
)
from backmarket_shipstation.sync.state import open_store

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BM_ORDER_PATH = re.compile(r"/ws/orders/(\d+)$")


class Crash(BaseException):
    """The process dies: not an ``Exception``, so no ``except Exception`` in the SDK stops it."""


@attrs.define
class Sent:
    """One request as it left the engine, and what came back."""

    api: str
    method: str
    path: str
    body: Any
    outcome: str = ""
    """The status code, or the exception's class name (``ReadTimeout``...)."""

    @property
    def is_write(self) -> bool:
        return self.method in _WRITE_METHODS


@attrs.define
class WireLog:
    """Every request of a world, in order, and the crash plan."""

    requests: list[Sent] = attrs.field(factory=list)
    crash_at: int | None = None
    """Index (0-based, over both APIs) of the request at which the process dies."""
    crash_after_delivery: bool = False
    """Die after the simulator applied the request (its response is lost), not before."""
    crash_when: Callable[[Sent], bool] | None = None
    """Die at the first request matching this (instead of ``crash_at``)."""
    crashed: bool = False

    def should_crash(self, sent: Sent, index: int) -> bool:
        if self.crashed:
            return False
        if self.crash_when is not None:
            return self.crash_when(sent)
        return self.crash_at is not None and index == self.crash_at

    def writes(self, api: str | None = None) -> list[Sent]:
        """Requests that change something (POST, PUT, PATCH, DELETE)."""
        return [s for s in self.requests if s.is_write and (api is None or s.api == api)]

    def ship_posts(self) -> Counter[int]:
        """Back Market ``POST /ws/orders/{id}`` with ``new_state`` 3, per order id."""
        counts: Counter[int] = Counter()
        for sent in self.writes("backmarket"):
            match = _BM_ORDER_PATH.search(sent.path)
            if match and isinstance(sent.body, dict) and sent.body.get("new_state") == 3:
                counts[int(match.group(1))] += 1
        return counts

    def clear(self) -> None:
        self.requests.clear()


class WireTap(httpx.BaseTransport):
    """Wraps a sandbox transport: logs each request and crashes where the plan says."""

    def __init__(self, inner: httpx.BaseTransport, api: str, log: WireLog) -> None:
        self.inner = inner
        self.api = api
        self.log = log

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        body: Any = None
        if content:
            try:
                body = json.loads(content)
            except ValueError:
                body = content
        sent = Sent(api=self.api, method=request.method, path=request.url.path, body=body)
        index = len(self.log.requests)
        crash = self.log.should_crash(sent, index)
        if crash and not self.log.crash_after_delivery:
            self.log.crashed = True
            raise Crash(f"crash before request {index}: {sent.method} {sent.path}")
        self.log.requests.append(sent)
        try:
            response = self.inner.handle_request(request)
        except Exception as exc:
            sent.outcome = type(exc).__name__
            raise
        sent.outcome = str(response.status_code)
        if crash:
            self.log.crashed = True
            raise Crash(f"crash after request {index} was applied: {sent.method} {sent.path}")
        return response


class World:
    """One simulated account pair, a state file and a virtual clock, synced on demand."""

    Crash = Crash

    def __init__(
        self,
        state_dir: Path,
        *,
        orders: int = 12,
        seed: int = 0,
        name: str = "sandbox",
        state: str | None = None,
        **sandbox_options: Any,
    ) -> None:
        self.clock = VirtualClock(START)
        self.lease_clock = VirtualClock(START)
        """The accounts' leases' time (real time in production): see :meth:`restart`."""
        self.sandbox = Sandbox(seed=seed, orders=orders, clock=self.clock, **sandbox_options)
        state = state or str(state_dir / f"{name}.sqlite3")  # or a postgresql:// URL
        base = sandbox_config(self.sandbox, state_path=state)
        self.account = attrs.evolve(base.accounts[0], name=name)
        self.config = attrs.evolve(base, accounts=(self.account,))
        self.store = open_store(self.config.state_path)
        self.wire = WireLog()
        self.initial_states = {o["order_id"]: o["state"] for o in self.sandbox.backmarket.orders()}

    def transports(self, _account: AccountConfig) -> tuple[WireTap, WireTap]:
        return (
            WireTap(self.sandbox.backmarket_transport(), "backmarket", self.wire),
            WireTap(self.sandbox.shipstation_transport(), "shipstation", self.wire),
        )

    def sync(self, options: SyncOptions | None = None) -> RunReport:
        return run_sync(
            self.config,
            store=self.store,
            options=options,
            clock=self.clock,
            transports=self.transports,
            lease_clock=self.lease_clock,
        )

    def restart(self) -> None:
        """After a crash: a new process opens the state file again.

        A process that died could not give its account's lease back: the new one starts once
        that lease expired (as the next cron run after a crash does, or one that waits).
        """
        self.lease_clock.advance(SyncOptions().lease_expiry.total_seconds() + 1)
        self.store.close()
        self.store = open_store(self.config.state_path)
        self.wire.crash_at = None
        self.wire.crash_when = None
        self.wire.crash_after_delivery = False

    def pack(self, *, forget_every: int = 0) -> tuple[int, int]:
        """The packer types identifiers into the notes and buys a label for every open order."""
        return pack_and_ship(self.sandbox, forget_every=forget_every)

    # --- what the simulators hold ------------------------------------------------------

    def ss_orders(self) -> list[dict[str, Any]]:
        """Orders of the Back Market store in ShipStation (deleted ones too)."""
        return [
            o
            for o in self.sandbox.shipstation.orders(include_deleted=True)
            if (o.get("advancedOptions") or {}).get("storeId") == self.sandbox.shipstation_store_id
        ]

    def ss_order_by_key(self) -> dict[str, dict[str, Any]]:
        return {o["orderKey"]: o for o in self.ss_orders()}

    def bm_order(self, order_id: int) -> dict[str, Any]:
        order = self.sandbox.backmarket.get_order(order_id)
        assert order is not None
        return order

    def ids_in_state(self, *states: int) -> set[int]:
        """Back Market orders that were in one of ``states`` when the world was made."""
        return {oid for oid, state in self.initial_states.items() if state in states}

    def edit_notes(self, ss_order_id: int, notes: str) -> None:
        """The seller edits an order's Internal Notes in the ShipStation web app.

        The app allows it on a shipped order; the API (and so ``add_order``) refuses any
        update of a shipped order, so this edits the simulator's record directly.
        """
        simulator = self.sandbox.shipstation
        with simulator._lock:
            simulator._orders[ss_order_id].update(internalNotes=notes)

    def identifiers_of(self, ss_order: Mapping[str, Any]) -> dict[int, tuple[str, str]]:
        """Orderline id → (label, identifier) of the devices to pack in an order."""
        found: dict[int, tuple[str, str]] = {}
        for item in ss_order.get("items") or ():
            key = str(item.get("lineItemKey") or "")
            if not key.isdigit():
                continue
            line_id = int(key)
            imei = self.sandbox.backmarket.device_imeis.get(line_id)
            serial = self.sandbox.backmarket.device_serials.get(line_id)
            if imei is not None:
                found[line_id] = ("IMEI", imei)
            elif serial is not None:
                found[line_id] = ("S/N", serial)
        return found

    def notes_for(
        self, ss_order: Mapping[str, Any], *, replace: Mapping[int, str] | None = None
    ) -> str:
        """The packer's ``SKU: IMEI`` lines (``replace`` swaps some identifiers, typos)."""
        skus = {str(item.get("lineItemKey")): item.get("sku") for item in ss_order["items"]}
        lines = []
        for line_id, (label, value) in self.identifiers_of(ss_order).items():
            value = (replace or {}).get(line_id, value)
            lines.append(f"{skus[str(line_id)]}: {label} {value}")
        return "\n".join(lines)

    def open_orders(self) -> list[dict[str, Any]]:
        return [o for o in self.ss_orders() if o["orderStatus"] == "awaiting_shipment"]

    def pack_one(self, ss_order: Mapping[str, Any], notes: str | None) -> dict[str, Any]:
        """Type ``notes`` (if any) into the order's Internal Notes and buy its label."""
        if notes is not None:
            existing = ss_order.get("internalNotes") or ""
            self.sandbox.shipstation.add_order(
                {**ss_order, "internalNotes": f"{existing}\n{notes}".strip()}
            )
        return self.sandbox.shipstation.buy_label(
            int(ss_order["orderId"]), weight={"value": 320, "units": "grams"}
        )

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    worlds: list[World] = []

    def make(**kwargs: Any) -> World:
        world = World(tmp_path, **kwargs)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()
