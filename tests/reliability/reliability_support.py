"""Shared pieces of the reliability suite: run sizes by mode, a wire tap, the invariants.

conftest.py puts this folder on ``sys.path`` so the tests can import this module.

``BMSS_EXTENDED=1`` selects the extended mode: the full 2,000-order soak and 10,000
hypothesis examples per property. Without it the suite is sized for CI (about a minute
on two cores).
"""

from __future__ import annotations

import json
import os
import random
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


def pack(sandbox: Sandbox, ss_order: dict[str, Any]) -> dict[str, Any]:
    """Type the identifiers into the order's Internal Notes and buy its label."""
    notes = identifier_notes(sandbox, ss_order)
    if notes:
        existing = ss_order.get("internalNotes") or ""
        sandbox.shipstation.add_order({**ss_order, "internalNotes": f"{existing}\n{notes}".strip()})
    return sandbox.shipstation.buy_label(
        int(ss_order["orderId"]), weight={"value": 320, "units": "grams"}
    )


def bm_order_id(ss_order: dict[str, Any]) -> int:
    """The Back Market order a ShipStation order (or a split part, ``<id>-<n>``) belongs to."""
    return int(str(ss_order["orderNumber"]).split("-", 1)[0])


def _device_keys(ss_order: dict[str, Any]) -> list[str]:
    return [
        str(item["lineItemKey"])
        for item in ss_order.get("items") or ()
        if not item.get("adjustment") and str(item.get("lineItemKey") or "").isdigit()
    ]


class SellerPacker:
    """The packer of the soaks, editing orders in ShipStation as sellers do (issue 13).

    Each order it ships takes one path, drawn from ``rng`` (so a seed fixes the mix):

    - ``split``: a two-phone order split in two, each part noted and labelled;
    - ``removed_then_restored``: an item removed, put back, then the order labelled;
    - ``removed_rest_labelled``: an item removed and the rest labelled; Back Market would ship
      the removed line too, so the order must stay unsent until that line is covered
      (:meth:`resolve_uncovered`: the buyer cancels it);
    - ``second_label``: a second label bought for the same order;
    - ``voided_relabelled``: the label voided and a new one bought before the next sync;
    - ``plain``: typed and labelled once.

    ``delete_order`` is not in the mix (re-creation of a deleted order is another change).
    """

    def __init__(self, sandbox: Sandbox, rng: random.Random) -> None:
        self.sandbox = sandbox
        self.rng = rng
        self.mix: Counter[str] = Counter()
        self.edited: set[int] = set()
        """Back Market ids of the orders the packer edited (split, items removed)."""
        self.uncovered: dict[int, int] = {}
        """Back Market order id -> the line removed from its labelled ShipStation order."""

    def ship(self, ss_order: dict[str, Any]) -> None:
        ss = self.sandbox.shipstation
        order_id = int(ss_order["orderId"])
        bm_id = bm_order_id(ss_order)
        keys = _device_keys(ss_order)
        quantities = {str(i["lineItemKey"]): i.get("quantity") for i in ss_order["items"]}
        two_phones = len(keys) == 2 and all(quantities[k] == 1 for k in keys)
        roll, other = self.rng.random(), self.rng.random()
        if two_phones and roll < 0.35:
            child = ss.split_order(order_id, [keys[1]])
            parent = ss.get_order(order_id)
            assert parent is not None
            pack(self.sandbox, parent)
            pack(self.sandbox, child)
            self.edited.add(bm_id)
            self.mix["split"] += 1
        elif len(keys) >= 2 and roll < 0.55:
            edited = ss.remove_item(order_id, keys[-1])
            self.edited.add(bm_id)
            if self.rng.random() < 0.5:
                ss.add_order({**edited, "items": ss_order["items"]})
                restored = ss.get_order(order_id)
                assert restored is not None
                assert _device_keys(restored) == keys
                pack(self.sandbox, restored)
                self.mix["removed_then_restored"] += 1
            else:
                pack(self.sandbox, edited)
                self.uncovered[bm_id] = int(keys[-1])
                self.mix["removed_rest_labelled"] += 1
        elif other < 0.1:
            pack(self.sandbox, ss_order)
            ss.buy_another_label(order_id, weight={"value": 200, "units": "grams"})
            self.mix["second_label"] += 1
        elif other < 0.2:
            label = pack(self.sandbox, ss_order)
            assert ss.void_label(int(label["shipmentId"]))["approved"]
            ss.buy_label(order_id, weight={"value": 320, "units": "grams"})
            self.mix["voided_relabelled"] += 1
        else:
            pack(self.sandbox, ss_order)
            self.mix["plain"] += 1

    def resolve_uncovered(self) -> None:
        """The buyers of the half-labelled orders cancel the removed lines: nothing is left
        uncovered, so the next run reports those orders with the labelled rest."""
        bm = self.sandbox.backmarket
        for bm_id, line_id in self.uncovered.items():
            bm.cancel_line_as_buyer(bm_id, line_id)

    def summary(self) -> str:
        return ", ".join(f"{kind} {n}" for kind, n in sorted(self.mix.items()))


def _coverage_problem(
    sandbox: Sandbox, order: dict[str, Any], parts: list[dict[str, Any]], live: set[int]
) -> str | None:
    """Why Back Market may not be told this order shipped yet, or None when it may: every
    line still to ship is in a ShipStation part that is shipped with a live label, in full,
    and each device's IMEI or serial number is in the Internal Notes of those parts."""
    shipped_parts = [p for p in parts if p["orderStatus"] == "shipped" and p["orderId"] in live]
    labelled: Counter[str] = Counter()
    notes = ""
    for part in shipped_parts:
        notes += "\n" + (part.get("internalNotes") or "")
        for item in part.get("items") or ():
            if not item.get("adjustment"):
                labelled[str(item.get("lineItemKey"))] += int(item.get("quantity") or 0)
    bm = sandbox.backmarket
    for line in order["orderlines"]:
        if line["state"] in (4, 5, 6, 7):
            continue
        if labelled[str(line["id"])] < line["quantity"]:
            return f"line {line['id']} not in a live-labelled part"
        expected = bm.device_imeis.get(line["id"]) or bm.device_serials.get(line["id"])
        if expected is not None and expected not in notes:
            return f"line {line['id']}: identifier not in the notes"
    return None


def invariant_violations(sandbox: Sandbox, log: Iterable[Sent]) -> list[str]:
    """Everything that breaks "nothing lost, nothing duplicated, no second ship write".

    - every Back Market order still to accept or ship is in ShipStation, once per orderKey;
    - an order whose lines are all cancelled is cancelled in ShipStation if it was imported;
    - an order is expected shipped on Back Market exactly when every line still to ship is
      covered by a live label in one of its ShipStation parts (the order, its split parts
      ``<id>-<n>``) with its device's identifier in their notes; then Back Market holds the
      earliest live label's tracking number and every device's IMEI or serial number on its
      own line, after exactly one delivered ship POST;
    - an order with a part shipped but a line not covered had no ship POST delivered at all.
    """
    problems: list[str] = []
    ss_orders = store_orders(sandbox)
    per_key = Counter(o["orderKey"] for o in ss_orders)
    duplicated = {key: n for key, n in per_key.items() if n > 1}
    if duplicated:
        problems.append(f"duplicated in ShipStation: {duplicated}")
    by_key = {o["orderKey"]: o for o in ss_orders}
    parts_of: dict[int, list[dict[str, Any]]] = {}
    for ss_order in ss_orders:
        parts_of.setdefault(bm_order_id(ss_order), []).append(ss_order)
    live_labels: dict[int, list[dict[str, Any]]] = {}
    for shipment in sandbox.shipstation.shipments():
        if not shipment.get("voided"):
            number = str(shipment["orderNumber"]).split("-", 1)[0]
            live_labels.setdefault(int(number), []).append(shipment)
    live_orders = {s["orderId"] for labels in live_labels.values() for s in labels}
    ships = delivered_ship_posts(log)
    bm = sandbox.backmarket
    for order in bm.orders():
        oid = order["order_id"]
        key = order_key_for(oid)
        ss_order = by_key.get(key)
        parts = parts_of.get(oid, [])
        line_states = {line["state"] for line in order["orderlines"]}
        uncovered = _coverage_problem(sandbox, order, parts, live_orders) if parts else "none"
        if order["state"] in (1, 3) and line_states & {1, 2}:
            if ss_order is None:
                problems.append(f"order {oid} (state {order['state']}) lost: not in ShipStation")
            elif uncovered is None:
                problems.append(f"order {oid} covered by live labels, open on Back Market")
            elif not {p["orderStatus"] for p in parts} & {
                "awaiting_shipment",
                "on_hold",
                "shipped",
            }:
                problems.append(f"order {oid} open on Back Market, {ss_order['orderStatus']}")
        if ss_order is None:
            continue
        if line_states <= {4, 5, 6, 7} and ss_order["orderStatus"] != "cancelled":
            problems.append(f"order {oid} cancelled on Back Market, {ss_order['orderStatus']}")
        if not any(p["orderStatus"] == "shipped" for p in parts):
            continue
        if uncovered is not None:
            if ships[oid] != 0 or order["state"] == 9:
                problems.append(
                    f"order {oid} uncovered ({uncovered}) but {ships[oid]} ship POSTs,"
                    f" state {order['state']}"
                )
            continue
        labels = sorted(live_labels[oid], key=lambda s: (s["shipDate"], s["shipmentId"]))
        if order["state"] != 9 or order.get("tracking_number") != labels[0]["trackingNumber"]:
            problems.append(
                f"order {oid} covered, state {order['state']},"
                f" tracking {order.get('tracking_number')} not {labels[0]['trackingNumber']}"
            )
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
