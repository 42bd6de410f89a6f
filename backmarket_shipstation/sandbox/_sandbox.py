"""The :class:`Sandbox` facade: both simulators, one clock, credentials, transports, a server."""

from __future__ import annotations

import base64
import random
import sys
import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import replace
from types import TracebackType
from typing import Any, TextIO

import httpx

from ..clock import Clock, SystemClock
from .backmarket import BackMarketSimulator
from .counters import RequestCounters
from .faults import FaultInjector, FaultPlan
from .server import SandboxServer
from .shipstation import ShipStationSimulator
from .shipstation_v2 import ShipStationInventorySimulator
from .transport import SimulatorTransport

__all__ = [
    "BACKMARKET_PREFIX",
    "SHIPSTATION_PREFIX",
    "SHIPSTATION_V2_PREFIX",
    "Sandbox",
    "ServedSandbox",
    "describe",
    "serve_forever",
]

BACKMARKET_PREFIX = "/backmarket"
SHIPSTATION_PREFIX = "/shipstation"
SHIPSTATION_V2_PREFIX = "/shipstation-v2"


class Sandbox:
    """A Back Market account and a ShipStation account, simulated, sharing one clock.

    ``Sandbox(seed=0, orders=50)`` generates ``orders`` Back Market orders deterministic from
    ``seed`` (dated relative to ``clock.now()``; pass a ``VirtualClock`` for identical data on
    every run and time you control). ``clock`` defaults to real time. ``faults`` applies one
    :class:`FaultPlan` to both APIs (ShipStation's draws use ``seed + 1``, so the two streams
    differ); inject single faults with ``sandbox.backmarket_faults.inject(...)``.
    ``backmarket_options`` and ``shipstation_options`` pass keyword options to the
    simulators (see docs/sandbox.md). Every request through :meth:`backmarket_transport`,
    :meth:`shipstation_transport` or :meth:`serve` is counted in :attr:`counters`.

    In-process, clients use the official base URLs (``https://www.backmarket.fr``,
    ``https://ssapi.shipstation.com``) with the transports; served, the URLs of
    :class:`ServedSandbox`.
    """

    backmarket_base_url = "https://www.backmarket.fr"
    shipstation_base_url = "https://ssapi.shipstation.com"
    shipstation_v2_base_url = "https://api.shipstation.com"

    def __init__(
        self,
        seed: int = 0,
        orders: int = 50,
        clock: Clock | None = None,
        faults: FaultPlan | None = None,
        *,
        backmarket_options: Mapping[str, Any] | None = None,
        shipstation_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.seed = seed
        self.clock: Clock = clock or SystemClock()
        rng = random.Random(f"sandbox-credentials-{seed}")
        # Shaped like a real token: base64 of "<22 hex>:BMT-<40 hex>" (backmarket.md §2.1).
        raw = f"{rng.getrandbits(88):022x}:BMT-{rng.getrandbits(160):040x}"
        self.backmarket_token = base64.b64encode(raw.encode()).decode()
        self.backmarket_user_agent = "BM-SandboxSeller-ShipStationSync;dev@sandbox.example"
        self.shipstation_api_key = f"{rng.getrandbits(128):032x}"
        self.shipstation_api_secret = f"{rng.getrandbits(128):032x}"
        self.backmarket = BackMarketSimulator(
            clock=self.clock,
            token=self.backmarket_token,
            base_url=self.backmarket_base_url,
            seed=seed,
            orders=orders,
            **dict(backmarket_options or {}),
        )
        self.shipstation = ShipStationSimulator(
            clock=self.clock,
            api_key=self.shipstation_api_key,
            api_secret=self.shipstation_api_secret,
            base_url=self.shipstation_base_url,
            seed=seed,
            **dict(shipstation_options or {}),
        )
        self.shipstation_store_id: int = self.shipstation.backmarket_store_id
        """The id of the ShipStation store connected to Back Market."""
        self.shipstation_v2_api_key = f"{rng.getrandbits(128):032x}"
        """The V2 API key (``api-key`` header) of the simulated account."""
        self.shipstation_inventory = ShipStationInventorySimulator(
            clock=self.clock,
            api_key=self.shipstation_v2_api_key,
            base_url=self.shipstation_v2_base_url,
        )
        """ShipStation V2 inventory (``GET /v2/inventory``): empty until stock is set."""
        self.counters = RequestCounters()
        plan = faults or FaultPlan()
        self.backmarket_faults = FaultInjector(plan, clock=self.clock, api="backmarket")
        self.shipstation_faults = FaultInjector(
            replace(plan, seed=plan.seed + 1), clock=self.clock, api="shipstation"
        )

    def __repr__(self) -> str:
        # No credentials here, even fake ones: reprs end up in logs.
        return (
            f"Sandbox(seed={self.seed}, orders={self.backmarket.order_count}, clock={self.clock!r})"
        )

    @property
    def backmarket_headers(self) -> dict[str, str]:
        """The headers a Back Market client sends (auth, User-Agent, Accept-Language)."""
        return {
            "Authorization": f"Basic {self.backmarket_token}",
            "User-Agent": self.backmarket_user_agent,
            "Accept-Language": "fr-fr",
            "Accept": "application/json",
        }

    @property
    def shipstation_auth(self) -> tuple[str, str]:
        """``(api_key, api_secret)`` for HTTP Basic, e.g. ``httpx.Client(auth=...)``."""
        return (self.shipstation_api_key, self.shipstation_api_secret)

    def backmarket_transport(self) -> SimulatorTransport:
        """An in-process transport (sync and async) to the Back Market simulator."""
        return SimulatorTransport(
            self.backmarket.handle, self.backmarket_faults, self.counters, api="backmarket"
        )

    def shipstation_transport(self) -> SimulatorTransport:
        """An in-process transport (sync and async) to the ShipStation simulator."""
        return SimulatorTransport(
            self.shipstation.handle, self.shipstation_faults, self.counters, api="shipstation"
        )

    def shipstation_v2_transport(self) -> SimulatorTransport:
        """An in-process transport to the ShipStation V2 inventory simulator."""
        return SimulatorTransport(
            self.shipstation_inventory.handle,
            self.shipstation_faults,
            self.counters,
            api="shipstation_v2",
        )

    def seed_products(self) -> int:
        """Give every SKU of the Back Market orders a ShipStation product record with a unit
        weight (ounces) and a bin, as a seller who keeps them in ShipStation has: then
        ``catalog = "shipstation"`` finds them. Deterministic from the seed; returns how many."""
        skus = sorted(
            {line["listing"] for order in self.backmarket.orders() for line in order["orderlines"]}
        )
        rng = random.Random(f"sandbox-products-{self.seed}")
        for number, sku in enumerate(skus, 1):
            model = sku.split("-")[0]
            self.shipstation.add_product(
                sku,
                weight_oz=f"{rng.uniform(5, 11):.1f}",  # a phone in its box
                warehouse_location=f"Aisle {1 + number % 4} / Bin {model}",
            )
        return len(skus)

    def deliver_webhooks(self, send: Callable[[str, dict[str, Any]], None] | None = None) -> int:
        """POST every due ShipStation webhook (default: with httpx); returns how many went out."""
        return self.shipstation.deliver_webhooks(send or _post_webhook)

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, deliver_webhooks: bool = True
    ) -> ServedSandbox:
        """Serve both simulators over HTTP on ``host:port`` (0: a free port), started.

        Use it as a context manager (``with sandbox.serve() as served:``) or call
        ``stop()``. While served, the simulators build their absolute URLs from the served
        base URLs, and (with ``deliver_webhooks``) due webhooks are POSTed to their targets
        from a background thread.
        """
        return ServedSandbox(self, host, port, deliver_webhooks=deliver_webhooks)


class ServedSandbox:
    """A running loopback server for a :class:`Sandbox`: its URLs, its counters, ``stop()``."""

    def __init__(
        self, sandbox: Sandbox, host: str, port: int, *, deliver_webhooks: bool = True
    ) -> None:
        self.sandbox = sandbox
        # The same pipelines as the in-process transports: one fault injector and one set of
        # counters per API, whichever way a client connects.
        self.server = SandboxServer(
            {
                BACKMARKET_PREFIX: sandbox.backmarket_transport().pipeline,
                SHIPSTATION_PREFIX: sandbox.shipstation_transport().pipeline,
                SHIPSTATION_V2_PREFIX: sandbox.shipstation_v2_transport().pipeline,
            },
            host=host,
            port=port,
        )
        self.backmarket_url = self.server.url + BACKMARKET_PREFIX
        """Base URL of the served Back Market API (``…/backmarket``; append ``/ws/orders``)."""
        self.shipstation_url = self.server.url + SHIPSTATION_PREFIX
        """Base URL of the served ShipStation API (``…/shipstation``; append ``/orders``)."""
        self.shipstation_v2_url = self.server.url + SHIPSTATION_V2_PREFIX
        """Base URL of the served ShipStation V2 inventory (append ``/v2/inventory``)."""
        self._previous_urls = (sandbox.backmarket.base_url, sandbox.shipstation.base_url)
        self._previous_v2_url = sandbox.shipstation_inventory.base_url
        sandbox.shipstation_inventory.base_url = self.shipstation_v2_url
        sandbox.backmarket.base_url = self.backmarket_url
        sandbox.shipstation.base_url = self.shipstation_url
        self._stopping = threading.Event()
        self._webhooks: threading.Thread | None = None
        self.server.start()
        if deliver_webhooks:
            self._webhooks = threading.Thread(
                target=self._deliver_loop, name="sandbox-webhooks", daemon=True
            )
            self._webhooks.start()

    def _deliver_loop(self) -> None:
        while not self._stopping.wait(0.2):
            self.sandbox.deliver_webhooks()

    def stop(self) -> None:
        """Stop the server and the webhook thread; restore the in-process base URLs."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._webhooks is not None:
            self._webhooks.join()
        self.server.stop()
        self.sandbox.backmarket.base_url, self.sandbox.shipstation.base_url = self._previous_urls
        self.sandbox.shipstation_inventory.base_url = self._previous_v2_url

    def __enter__(self) -> ServedSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"ServedSandbox(backmarket_url={self.backmarket_url!r}, "
            f"shipstation_url={self.shipstation_url!r})"
        )


def _post_webhook(url: str, payload: dict[str, Any]) -> None:
    response = httpx.post(url, json=payload, timeout=10.0)
    response.raise_for_status()


def describe(served: ServedSandbox) -> str:
    """What a person needs to point a client, curl or an example at a served sandbox."""
    sandbox = served.sandbox
    return "\n".join(
        [
            "backmarket-shipstation sandbox (simulated APIs, fake credentials)",
            "",
            "Back Market",
            f"  base URL       {served.backmarket_url}",
            f"  token          {sandbox.backmarket_token}",
            f"  User-Agent     {sandbox.backmarket_user_agent}",
            f"  try            curl -H 'Authorization: Basic {sandbox.backmarket_token}' \\",
            f"                      -H 'User-Agent: {sandbox.backmarket_user_agent}' \\",
            f"                      '{served.backmarket_url}/ws/orders?state=1&page-size=50'",
            "",
            "ShipStation",
            f"  base URL       {served.shipstation_url}",
            f"  API key        {sandbox.shipstation_api_key}",
            f"  API secret     {sandbox.shipstation_api_secret}",
            f"  Back Market store id  {sandbox.shipstation_store_id}",
            f"  try            curl -u '{sandbox.shipstation_api_key}:"
            f"{sandbox.shipstation_api_secret}' '{served.shipstation_url}/stores'",
            "",
            "ShipStation V2 (inventory)",
            f"  base URL       {served.shipstation_v2_url}",
            f"  API key        {sandbox.shipstation_v2_api_key}",
            "",
            "Point the CLI and the examples at it (paste into your shell):",
            "",
            f"export BACKMARKET_TOKEN='{sandbox.backmarket_token}'",
            f"export BACKMARKET_USER_AGENT='{sandbox.backmarket_user_agent}'",
            f"export BACKMARKET_BASE_URL='{served.backmarket_url}'",
            f"export SHIPSTATION_API_KEY='{sandbox.shipstation_api_key}'",
            f"export SHIPSTATION_API_SECRET='{sandbox.shipstation_api_secret}'",
            f"export SHIPSTATION_BASE_URL='{served.shipstation_url}'",
            f"export SHIPSTATION_STORE_ID='{sandbox.shipstation_store_id}'",
            f"export SHIPSTATION_V2_API_KEY='{sandbox.shipstation_v2_api_key}'",
            f"export SHIPSTATION_V2_BASE_URL='{served.shipstation_v2_url}'",
        ]
    )


def serve_forever(
    port: int = 8765,
    host: str = "127.0.0.1",
    *,
    seed: int = 0,
    orders: int = 50,
    faults: FaultPlan | None = None,
    out: TextIO | None = None,
    ready: Callable[[ServedSandbox], None] | None = None,
) -> None:
    """Serve a real-time sandbox until interrupted (Ctrl-C), printing URLs and credentials.

    The CLI's ``backmarket-shipstation sandbox serve --port`` calls this. ``ready`` (for tests
    and embedding) receives the running server; calling its ``stop()`` ends the call.
    """
    stream = out or sys.stdout
    sandbox = Sandbox(seed=seed, orders=orders, clock=SystemClock(), faults=faults)
    sandbox.seed_products()  # so that catalog = "shipstation" has weights and bins to read
    # ShipStation's V2 inventory holds the listings' stock: stock sync --source shipstation.
    sandbox.shipstation_inventory.seed_from(sandbox.backmarket.listings.quantities())
    served = sandbox.serve(host, port)
    try:
        print(describe(served), file=stream, flush=True)
        print("\nServing; press Ctrl-C to stop.", file=stream, flush=True)
        if ready is not None:
            ready(served)
        with suppress(KeyboardInterrupt):
            while not served._stopping.wait(0.5):
                pass
    finally:
        served.stop()
