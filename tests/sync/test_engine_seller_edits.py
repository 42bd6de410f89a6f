"""End to end: shipments as sellers really make them in ShipStation (issue 13).

Each test plays one seller scenario on the sandbox: an item removed before the label, an
order split into parts with a label each, a second label, a deleted copy, a label voided
after it was reported, a cancelled order shipped anyway. What Back Market receives is read
at the transport (``world.wire``) and on the Back Market simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import World


def _imported(make_world: Callable[..., World], orders: int = 30) -> World:
    world = make_world(orders=orders)
    report = world.sync()
    assert report.exit_code == 0, report.to_text()
    world.clock.advance(3 * 3600)
    return world


def _two_device_order(world: World) -> dict[str, Any]:
    """An open ShipStation order of two quantity-1 device lines, each with an identifier."""
    for ss_order in world.open_orders():
        bm = world.bm_order(int(ss_order["orderNumber"]))
        lines = bm["orderlines"]
        devices = world.identifiers_of(ss_order)
        if len(lines) == 2 and all(line["quantity"] == 1 for line in lines) and len(devices) == 2:
            return ss_order
    raise AssertionError("the sandbox made no two-device order")


def _keys(ss_order: dict[str, Any]) -> list[str]:
    return [str(item["lineItemKey"]) for item in ss_order["items"] if not item["adjustment"]]


def _ship_writes(world: World, order_id: int) -> list[dict[str, Any]]:
    return [
        s.body
        for s in world.wire.writes("backmarket")
        if s.path == f"/ws/orders/{order_id}" and s.body.get("new_state") == 3
    ]


def test_one_of_two_phones_removed_then_the_other_labelled_ships_nothing_and_says_why(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    ss_order = _two_device_order(world)
    order_id = int(ss_order["orderNumber"])
    kept, removed = _keys(ss_order)
    simulator = world.sandbox.shipstation
    edited = simulator.remove_item(int(ss_order["orderId"]), removed)
    world.pack_one(edited, world.notes_for(edited))
    world.clock.advance(3600)
    world.wire.clear()

    report = world.sync()

    assert _ship_writes(world, order_id) == []
    assert not [s for s in world.wire.writes("backmarket") if s.method == "PATCH"]
    [failure] = [f for a in report.accounts for f in a.failures if f.order_id == order_id]
    assert failure.error == "UncoveredLinesError"
    assert f"line {removed}" in failure.reason
    assert "cancel or refund" in failure.reason
    assert report.exit_code == 1
    lines = {line["id"]: line for line in world.bm_order(order_id)["orderlines"]}
    assert lines[int(kept)]["state"] == 2
    assert lines[int(removed)]["state"] == 2
    assert lines[int(removed)]["imei"] in (None, "")
