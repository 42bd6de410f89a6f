"""A faithful local sandbox of the Back Market and ShipStation APIs: no credentials needed.

Start here::

    from backmarket_shipstation.clock import VirtualClock
    from backmarket_shipstation.sandbox import Sandbox

    sandbox = Sandbox(seed=1, orders=200, clock=VirtualClock())
    bm = httpx.Client(base_url="https://www.backmarket.fr",
                      transport=sandbox.backmarket_transport(),
                      headers=sandbox.backmarket_headers)
    bm.get("/ws/orders", params={"state": 1, "page-size": 50})

    with sandbox.serve() as served:          # real sockets on loopback
        print(served.backmarket_url, served.shipstation_url)

The simulators work on raw JSON dicts and share no code with the SDK's clients, models or
mapping. See docs/sandbox.md.
"""

from __future__ import annotations

from ._sandbox import (
    BACKMARKET_PREFIX,
    SHIPSTATION_PREFIX,
    Sandbox,
    ServedSandbox,
    describe,
    serve_forever,
)
from .agency import AgencyCheck, AgencyKeyPair, AgencySandbox, AgencySeller, ServedAgency
from .backmarket import SHIPPERS, BackMarketSimulator, parse_filter_date
from .counters import RequestCounters, endpoint_of
from .data import OrderGenerator, generate_orders, is_valid_imei, make_imei
from .faults import FAULT_KINDS, Fault, FaultInjector, FaultKind, FaultPlan
from .server import SandboxServer
from .shipstation import ShipStationSimulator
from .transport import RequestPipeline, SimulatorTransport

__all__ = [
    "BACKMARKET_PREFIX",
    "FAULT_KINDS",
    "SHIPPERS",
    "SHIPSTATION_PREFIX",
    "AgencyCheck",
    "AgencyKeyPair",
    "AgencySandbox",
    "AgencySeller",
    "BackMarketSimulator",
    "Fault",
    "FaultInjector",
    "FaultKind",
    "FaultPlan",
    "OrderGenerator",
    "RequestCounters",
    "RequestPipeline",
    "Sandbox",
    "SandboxServer",
    "ServedAgency",
    "ServedSandbox",
    "ShipStationSimulator",
    "SimulatorTransport",
    "describe",
    "endpoint_of",
    "generate_orders",
    "is_valid_imei",
    "make_imei",
    "parse_filter_date",
    "serve_forever",
]
