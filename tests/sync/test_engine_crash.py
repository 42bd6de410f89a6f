"""Exactly once through crashes: the process dies at every request of a day, then runs again.

A day is: sync (import, accept), the packer types IMEIs and buys labels, sync (notify). The
process is killed at the k-th request of the day, for every k, either before the request
reaches the API or after the API applied it (the response is lost). A new process then opens
the same state file and runs the day to its end. Whatever k, at the end:

- every Back Market order is in ShipStation exactly once (one order per orderKey);
- every Back Market write happened exactly once (one accept per SKU, one ship POST per
  order, one PATCH per device line), counted at the transport;
- nothing is lost: every order is shipped on Back Market with its tracking number and IMEIs;
- one more run writes nothing and reports nothing failed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from backmarket_shipstation.errors import BackMarketShipStationError
from backmarket_shipstation.sandbox import FaultPlan
from backmarket_shipstation.shipstation import ShipStationClient

if TYPE_CHECKING:
    from conftest import Sent, World

ORDERS = 10
SELLER_NOTE = "Seller: hold for the bench test"


def _sync_to_completion(world: World) -> None:
    """Sync; after a crash, start a new process on the same state file and sync again."""
    try:
        world.sync()
    except world.Crash:
        world.restart()
        world.clock.advance(60)
        world.sync()


def _day(world: World) -> None:
    _sync_to_completion(world)
    world.clock.advance(3 * 3600)
    # The buyer of one order cancels it, the buyer of a multi-line order drops a line; the
    # seller had noted something on both. Neither is packed: the next sync updates them.
    by_lines = sorted(world.open_orders(), key=lambda o: (-len(o["items"]), o["orderNumber"]))
    changed, cancelled = by_lines[0], by_lines[-1]
    for ss_order in (changed, cancelled):
        world.sandbox.shipstation.add_order({**ss_order, "internalNotes": SELLER_NOTE})
    bm = world.sandbox.backmarket
    for line in world.bm_order(int(cancelled["orderNumber"]))["orderlines"]:
        bm.cancel_line_as_buyer(int(cancelled["orderNumber"]), line["id"])
    last_line = world.bm_order(int(changed["orderNumber"]))["orderlines"][-1]
    bm.cancel_line_as_buyer(int(changed["orderNumber"]), last_line["id"])
    for ss_order in world.open_orders():
        if ss_order["orderId"] not in (changed["orderId"], cancelled["orderId"]):
            world.pack_one(ss_order, world.notes_for(ss_order))
    world.clock.advance(3600)
    _sync_to_completion(world)


def _accepts(sent: list[Sent]) -> Counter[tuple[str, str]]:
    return Counter(
        (s.path, s.body["sku"])
        for s in sent
        if s.api == "backmarket" and s.method == "POST" and s.body.get("new_state") == 2
    )


def _patches(sent: list[Sent]) -> Counter[str]:
    return Counter(s.path for s in sent if s.api == "backmarket" and s.method == "PATCH")


def _problems(world: World, expected: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    per_key = Counter(o["orderKey"] for o in world.ss_orders())
    duplicated = {key: n for key, n in per_key.items() if n > 1}
    if duplicated:
        problems.append(f"duplicated in ShipStation: {duplicated}")
    if set(per_key) != expected["keys"]:
        problems.append(f"orderKeys {sorted(set(per_key) ^ expected['keys'])} differ")
    orders = {
        o["orderKey"]: (o["orderStatus"], sorted(i["lineItemKey"] for i in o["items"]))
        for o in world.ss_orders()
    }
    if orders != expected["orders"]:
        problems.append(f"ShipStation orders {orders} instead of {expected['orders']}")
    noted = sorted(
        o["orderKey"] for o in world.ss_orders() if SELLER_NOTE in (o["internalNotes"] or "")
    )
    if noted != expected["noted"]:
        problems.append(f"seller notes kept on {noted} instead of {expected['noted']}")
    ships = world.wire.ship_posts()
    if ships != expected["ships"]:
        problems.append(f"ship POSTs {dict(ships)} instead of {dict(expected['ships'])}")
    accepts = _accepts(world.wire.requests)
    if accepts != expected["accepts"]:
        problems.append(f"accept POSTs {dict(accepts - expected['accepts'])} extra")
    patches = _patches(world.wire.requests)
    if patches != expected["patches"]:
        problems.append(f"PATCHes {dict(patches)} instead of {dict(expected['patches'])}")
    tracking = {
        s["orderNumber"]: s["trackingNumber"] for s in world.sandbox.shipstation.shipments()
    }
    for oid, imeis in expected["shipped"].items():
        bm = world.bm_order(oid)
        if bm["state"] != 9 or bm["tracking_number"] != tracking[str(oid)]:
            problems.append(f"order {oid} not shipped: state {bm['state']}")
        got = {line["id"]: line.get("imei") for line in bm["orderlines"] if line["id"] in imeis}
        if got != imeis:
            problems.append(f"order {oid} IMEIs {got} instead of {imeis}")
    world.wire.clear()
    world.clock.advance(600)
    final = world.sync()
    if world.wire.writes():
        problems.append(f"a further run wrote {[(s.method, s.path) for s in world.wire.writes()]}")
    if final.failed:
        problems.append(f"a further run failed: {final.to_text()}")
    pending = world.store.pending_writes(world.account.name)
    if pending:
        problems.append(f"writes left pending: {[(w.bm_order_id, w.key) for w in pending]}")
    return problems


def _expected(world: World) -> dict[str, Any]:
    """What a day without a crash leaves behind (the reference)."""
    shipped: dict[int, dict[int, str]] = {}
    for ss_order in world.ss_orders():
        if ss_order["orderStatus"] != "shipped":
            continue
        oid = int(ss_order["orderNumber"])
        imeis = {
            line_id: value
            for line_id, (label, value) in world.identifiers_of(ss_order).items()
            if label == "IMEI"
        }
        shipped[oid] = imeis
    return {
        "orders": {
            o["orderKey"]: (o["orderStatus"], sorted(i["lineItemKey"] for i in o["items"]))
            for o in world.ss_orders()
        },
        "noted": sorted(
            o["orderKey"] for o in world.ss_orders() if SELLER_NOTE in (o["internalNotes"] or "")
        ),
        "keys": {o["orderKey"] for o in world.ss_orders()},
        "ships": world.wire.ship_posts(),
        "accepts": _accepts(world.wire.requests),
        "patches": _patches(world.wire.requests),
        "shipped": shipped,
    }


@pytest.fixture
def reference(make_world: Callable[..., World]) -> tuple[dict[str, Any], int]:
    world = make_world(orders=ORDERS, name="reference")
    _day(world)
    requests = len(world.wire.requests)
    expected = _expected(world)
    # The day must exercise every kind of write for the crashes to mean something.
    assert expected["ships"]
    assert expected["accepts"]
    assert expected["patches"]
    assert all(n == 1 for n in expected["ships"].values())
    assert all(n == 1 for n in expected["accepts"].values())
    assert all(n == 1 for n in expected["patches"].values())
    statuses = Counter(status for status, _ in expected["orders"].values())
    assert statuses["cancelled"] == 1
    assert statuses["awaiting_shipment"] == 1
    assert len(expected["noted"]) == 2
    assert _problems(world, expected) == []
    return expected, requests


@pytest.mark.parametrize("after_delivery", [False, True], ids=["before-send", "response-lost"])
def test_a_crash_at_any_request_never_duplicates_nor_loses_anything(
    make_world: Callable[..., World],
    reference: tuple[dict[str, Any], int],
    after_delivery: bool,
) -> None:
    expected, requests = reference
    assert requests > 20
    report: list[str] = []
    for k in range(requests):
        world = make_world(orders=ORDERS, name=f"crash-{k}-{after_delivery}")
        world.wire.crash_at = k
        world.wire.crash_after_delivery = after_delivery
        _day(world)
        assert world.wire.crashed, f"no crash at request {k}"
        report.extend(f"crash at request {k}: {p}" for p in _problems(world, expected))
        world.close()
    assert report == []


def test_a_lost_ship_response_is_not_followed_by_a_second_ship_post(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=ORDERS)
    world.sync()
    world.clock.advance(3 * 3600)
    for ss_order in world.open_orders():
        world.pack_one(ss_order, world.notes_for(ss_order))
    world.clock.advance(3600)
    world.wire.crash_after_delivery = True
    world.wire.crash_when = lambda s: s.method == "POST" and s.body.get("new_state") == 3
    with pytest.raises(world.Crash):
        world.sync()
    [(crashed_order, count)] = world.wire.ship_posts().items()
    assert count == 1
    assert world.bm_order(crashed_order)["state"] == 9  # Back Market did ship it
    pending = world.store.pending_writes("sandbox")
    assert [(w.bm_order_id, w.key) for w in pending] == [(crashed_order, "ship")]
    world.restart()
    world.clock.advance(60)

    report = world.sync()

    assert report.exit_code == 0, report.to_text()
    assert world.wire.ship_posts()[crashed_order] == 1
    assert all(n == 1 for n in world.wire.ship_posts().values())
    assert world.store.pending_writes("sandbox") == []


def test_network_faults_on_every_api_never_duplicate_nor_lose_anything(
    make_world: Callable[..., World],
) -> None:
    """Timeouts and dropped connections after the write was applied, 5xx, refused connections
    and cut bodies, on both APIs; runs are repeated (as a cron job would) until all is done."""
    plan = FaultPlan(
        seed=11,
        timeout_rate=0.08,
        reset_rate=0.08,
        server_error_rate=0.08,
        connect_error_rate=0.04,
        truncated_json_rate=0.04,
    )
    world = make_world(orders=30, faults=plan)
    aborted: list[str] = []

    def cron(runs: int) -> None:
        for _ in range(runs):
            try:
                world.sync()
            except BackMarketShipStationError as exc:
                # A listing that fails after the client's retries ends the run (the cursor
                # stays): the next run covers it.
                aborted.append(type(exc).__name__)
            world.clock.advance(600)

    cron(6)
    world.clock.advance(3 * 3600)
    for ss_order in world.open_orders():
        world.pack_one(ss_order, world.notes_for(ss_order))
    world.clock.advance(3600)
    cron(8)
    faults = world.sandbox.counters.by_outcome()
    assert sum(n for kind, n in faults.items() if kind.startswith("fault:")) > 10, faults

    per_key = Counter(o["orderKey"] for o in world.ss_orders())
    assert per_key
    assert all(n == 1 for n in per_key.values()), per_key
    # No ship POST is sent once one was applied (answered 200, or lost after it ran).
    applied_outcomes = {"200", "ReadTimeout", "RemoteProtocolError"}
    for oid in per_key:
        order_id = int(oid.removeprefix("backmarket-"))
        outcomes = [
            s.outcome
            for s in world.wire.writes("backmarket")
            if s.path == f"/ws/orders/{order_id}" and s.body.get("new_state") == 3
        ]
        first_applied = next(
            (i for i, outcome in enumerate(outcomes) if outcome in applied_outcomes), None
        )
        assert first_applied is not None, (order_id, outcomes)
        assert first_applied == len(outcomes) - 1, (order_id, outcomes)
        bm = world.bm_order(order_id)
        assert bm["state"] == 9, (order_id, bm["state"])
        imeis = [
            line.get("imei")
            for line in bm["orderlines"]
            if line["id"] in world.sandbox.backmarket.device_imeis
        ]
        assert all(imeis), (order_id, imeis)


@pytest.mark.parametrize("first_run", [True, False], ids=["first-run", "later-run"])
def test_orders_created_by_a_killed_run_then_marked_shipped_are_reported_once(
    make_world: Callable[..., World], first_run: bool
) -> None:
    """The run dies once createorders took effect, before the ShipStation ids were stored;
    the packer then marks the orders shipped (fulfillments: no label, no orderKey). The
    next runs learn the ids all the same, and report every order once."""
    world = make_world(orders=8, seed=3)
    if not first_run:
        world.sync()
        world.sandbox.backmarket.new_order()
        world.clock.advance(600)
    before = {o["orderId"] for o in world.ss_orders()}
    world.wire.crash_when = lambda sent: sent.path == "/orders/createorders"
    world.wire.crash_after_delivery = True
    with pytest.raises(world.Crash):
        world.sync()
    world.restart()
    created = [o for o in world.open_orders() if o["orderId"] not in before]
    assert created
    with ShipStationClient(
        api_key=world.sandbox.shipstation_api_key,
        api_secret=world.sandbox.shipstation_api_secret,
        transport=world.sandbox.shipstation_transport(),
        clock=world.clock,
    ) as packer:
        for number, ss_order in enumerate(created):
            world.sandbox.shipstation.add_order(
                {**ss_order, "internalNotes": world.notes_for(ss_order)}
            )
            packer.orders.mark_as_shipped(
                int(ss_order["orderId"]),
                carrier_code="fedex",
                tracking_number=f"7946{number:08d}",
                notify_customer=False,
                notify_sales_channel=False,
            )
    world.clock.advance(3600)
    world.wire.clear()

    reports = [world.sync() for _ in range(2)]

    assert reports[-1].exit_code == 0, reports[-1].to_text()
    assert world.wire.ship_posts() == Counter({int(o["orderNumber"]): 1 for o in created})
