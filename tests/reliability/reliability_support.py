"""Shared pieces of the reliability suite: run sizes by mode, a wire tap, the invariants.

conftest.py puts this folder on ``sys.path`` so the tests can import this module.

``BMSS_EXTENDED=1`` selects the extended mode: the full 2,000-order soak and 10,000
hypothesis examples per property. Without it the suite is sized for CI (about a minute
on two cores).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import attrs
import httpx
from hypothesis import HealthCheck, settings

from backmarket_shipstation.mapping import order_key_for
from backmarket_shipstation.sandbox import Sandbox

EXTENDED = os.environ.get("BMSS_EXTENDED", "") not in ("", "0")

# Applied per test (a profile loaded at import would change every other module's
# hypothesis tests too). CI runs are derandomised: the same examples on every run.
FUZZ_SETTINGS = settings(
    max_examples=10_000 if EXTENDED else 300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=not EXTENDED,
)

SHIP_STATE = 3
_BM_ORDER_PATH = re.compile(r"/ws/orders/(\d+)$")
# Outcomes of a request the simulator never saw: the edge answered (5xx page, 429 burst) or
# the connection was refused. Any other outcome means the simulator applied the request.
_NOT_DELIVERED = frozenset({"500", "502", "503", "504", "429", "ConnectError"})


@attrs.define
class Sent:
    """One request as it left the SDK and how it ended."""

    api: str
    method: str
    path: str
    body: Any
    outcome: str = ""


class WireTap(httpx.BaseTransport):
    """Logs every request and its outcome (status code or exception class) in front of a
    sandbox transport, so writes are counted at the transport, not in the engine's report."""

    def __init__(self, inner: httpx.BaseTransport, api: str, log: list[Sent]) -> None:
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
        sent = Sent(self.api, request.method, request.url.path, body)
        self.log.append(sent)
        try:
            response = self.inner.handle_request(request)
        except Exception as exc:
            sent.outcome = type(exc).__name__
            raise
        sent.outcome = str(response.status_code)
        return response


def delivered_ship_posts(log: Iterable[Sent]) -> Counter[int]:
    """Back Market ship writes (``new_state`` 3) that reached the simulator, per order id.

    A ship POST answered by an injected 5xx or 429, or refused at connect, never reached Back
    Market, so retrying it is no second write; one that timed out or was reset after it ran
    did reach it. Exactly one delivered ship POST per shipped order is the invariant.
    """
    counts: Counter[int] = Counter()
    for sent in log:
        if sent.api != "backmarket" or sent.method != "POST":
            continue
        match = _BM_ORDER_PATH.search(sent.path)
        if not match or not isinstance(sent.body, dict):
            continue
        if sent.body.get("new_state") == SHIP_STATE and sent.outcome not in _NOT_DELIVERED:
            counts[int(match.group(1))] += 1
    return counts


def store_orders(sandbox: Sandbox) -> list[dict[str, Any]]:
    """ShipStation orders of the Back Market store (deleted ones too)."""
    return [
        order
        for order in sandbox.shipstation.orders(include_deleted=True)
        if (order.get("advancedOptions") or {}).get("storeId") == sandbox.shipstation_store_id
    ]


def identifier_notes(sandbox: Sandbox, ss_order: dict[str, Any]) -> str:
    """What a packer types into Internal Notes: one ``SKU: IMEI <n>`` line per device."""
    lines = []
    for item in ss_order.get("items") or ():
        key = str(item.get("lineItemKey") or "")
        if not key.isdigit():
            continue
        imei = sandbox.backmarket.device_imeis.get(int(key))
        serial = sandbox.backmarket.device_serials.get(int(key))
        if imei is not None:
            lines.append(f"{item.get('sku')}: IMEI {imei}")
        elif serial is not None:
            lines.append(f"{item.get('sku')}: S/N {serial}")
    return "\n".join(lines)


def pack(sandbox: Sandbox, ss_order: dict[str, Any]) -> None:
    """Type the identifiers into the order's Internal Notes and buy its label."""
    notes = identifier_notes(sandbox, ss_order)
    if notes:
        existing = ss_order.get("internalNotes") or ""
        sandbox.shipstation.add_order({**ss_order, "internalNotes": f"{existing}\n{notes}".strip()})
    sandbox.shipstation.buy_label(int(ss_order["orderId"]), weight={"value": 320, "units": "grams"})


def invariant_violations(sandbox: Sandbox, log: Iterable[Sent]) -> list[str]:
    """Everything that breaks "nothing lost, nothing duplicated, no second ship write".

    - every Back Market order still to accept or ship is in ShipStation, once per orderKey;
    - an order whose lines are all cancelled is cancelled in ShipStation if it was imported;
    - every order shipped in ShipStation (a label) is shipped on Back Market with its tracking
      number and every device's IMEI or serial number, after exactly one delivered ship POST.
    """
    problems: list[str] = []
    ss_orders = store_orders(sandbox)
    per_key = Counter(o["orderKey"] for o in ss_orders)
    duplicated = {key: n for key, n in per_key.items() if n > 1}
    if duplicated:
        problems.append(f"duplicated in ShipStation: {duplicated}")
    by_key = {o["orderKey"]: o for o in ss_orders}
    tracking = {s["orderNumber"]: s["trackingNumber"] for s in sandbox.shipstation.shipments()}
    ships = delivered_ship_posts(log)
    bm = sandbox.backmarket
    for order in bm.orders():
        oid = order["order_id"]
        key = order_key_for(oid)
        ss_order = by_key.get(key)
        line_states = {line["state"] for line in order["orderlines"]}
        if order["state"] in (1, 3) and line_states & {1, 2}:
            if ss_order is None:
                problems.append(f"order {oid} (state {order['state']}) lost: not in ShipStation")
            elif ss_order["orderStatus"] not in ("awaiting_shipment", "on_hold"):
                problems.append(f"order {oid} open on Back Market, {ss_order['orderStatus']}")
        if ss_order is None:
            continue
        if line_states <= {4, 5, 6, 7} and ss_order["orderStatus"] != "cancelled":
            problems.append(f"order {oid} cancelled on Back Market, {ss_order['orderStatus']}")
        if ss_order["orderStatus"] == "shipped":
            if order["state"] != 9 or order.get("tracking_number") != tracking.get(str(oid)):
                problems.append(f"order {oid} shipped in ShipStation, state {order['state']}")
            for line in order["orderlines"]:
                if line["state"] in (4, 5):
                    continue
                expected = bm.device_imeis.get(line["id"]) or bm.device_serials.get(line["id"])
                got = line.get("imei") or line.get("serial_number")
                if expected is not None and got != expected:
                    problems.append(f"order {oid} line {line['id']}: {got!r} not {expected!r}")
            if ships[oid] != 1:
                problems.append(f"order {oid}: {ships[oid]} delivered ship POSTs")
    for oid, count in ships.items():
        if order_key_for(oid) not in by_key:
            problems.append(f"order {oid} ship POSTed but not in ShipStation ({count})")
    return problems
