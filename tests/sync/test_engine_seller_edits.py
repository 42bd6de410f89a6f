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


def _patches(world: World) -> dict[int, dict[str, Any]]:
    return {
        int(s.path.rsplit("/", 1)[1]): s.body
        for s in world.wire.writes("backmarket")
        if s.method == "PATCH" and s.path.startswith("/ws/orderlines/")
    }


def _label(world: World, ss_order: dict[str, Any]) -> dict[str, Any]:
    """The packer types the devices of this (part of the) order and buys its label."""
    label = world.pack_one(ss_order, world.notes_for(ss_order))
    world.clock.advance(120)
    return label


def test_a_two_phone_order_split_in_two_with_a_label_each_is_reported_once_with_both_imeis(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    ss_order = _two_device_order(world)
    order_id = int(ss_order["orderNumber"])
    _, second_key = _keys(ss_order)
    devices = world.identifiers_of(ss_order)
    simulator = world.sandbox.shipstation
    child = simulator.split_order(int(ss_order["orderId"]), [second_key])
    assert child["orderNumber"] == f"{order_id}-1"
    parent = simulator.get_order(int(ss_order["orderId"]))
    assert parent is not None
    first = _label(world, parent)
    world.clock.advance(3600)
    world.wire.clear()

    # Only the first part is labelled: Back Market would ship both phones, so nothing goes.
    report = world.sync()
    assert _ship_writes(world, order_id) == []
    [failure] = [f for a in report.accounts for f in a.failures if f.order_id == order_id]
    assert failure.error == "UncoveredLinesError"
    assert f"line {second_key}" in failure.reason

    child_now = simulator.get_order(int(child["orderId"]))
    assert child_now is not None
    second = _label(world, child_now)
    world.clock.advance(3600)
    world.wire.clear()
    report = world.sync()

    assert report.exit_code == 0, report.to_text()
    [ship] = _ship_writes(world, order_id)
    assert ship["tracking_number"] == first["trackingNumber"]  # the earliest live label
    assert second["trackingNumber"] != first["trackingNumber"]
    patches = _patches(world)
    for line_id, (_, value) in devices.items():
        body = patches[line_id]
        assert value in (body.get("imei"), body.get("serial_number"))
    lines = {line["id"]: line for line in world.bm_order(order_id)["orderlines"]}
    assert {line["state"] for line in lines.values()} == {3}
    for line_id, (_, value) in devices.items():
        assert value in (lines[line_id]["imei"], lines[line_id]["serial_number"])

    world.clock.advance(3600)
    world.wire.clear()
    again = world.sync()
    assert again.exit_code == 0
    assert world.wire.writes("backmarket") == []


def test_a_second_label_on_one_order_sends_the_earliest_tracking_once(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    ss_order = _two_device_order(world)
    order_id = int(ss_order["orderNumber"])
    first = _label(world, ss_order)
    world.sandbox.shipstation.buy_another_label(
        int(ss_order["orderId"]), weight={"value": 200, "units": "grams"}
    )
    world.clock.advance(3600)
    world.wire.clear()

    report = world.sync()

    assert report.exit_code == 0, report.to_text()
    [ship] = _ship_writes(world, order_id)
    assert ship["tracking_number"] == first["trackingNumber"]
    assert len(_patches(world)) == 2
    assert not [w for a in report.accounts for w in a.warnings]


def test_a_label_voided_after_the_report_is_a_failure_that_says_what_back_market_holds(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    ss_order = _two_device_order(world)
    order_id = int(ss_order["orderNumber"])
    label = _label(world, ss_order)
    world.clock.advance(3600)
    assert world.sync().exit_code == 0
    world.clock.advance(3600)
    world.sandbox.shipstation.void_label(int(label["shipmentId"]))
    world.clock.advance(600)
    world.wire.clear()

    report = world.sync()

    assert world.wire.writes("backmarket") == []
    [failure] = [f for a in report.accounts for f in a.failures if f.order_id == order_id]
    assert failure.error == "LabelVoidedAfterReport"
    assert f"holds tracking {label['trackingNumber']}" in failure.reason
    assert report.exit_code == 1
    assert "LabelVoidedAfterReport" in report.to_text()
    assert world.bm_order(order_id)["tracking_number"] == label["trackingNumber"]

    world.clock.advance(3600)
    assert world.sync().exit_code == 0  # said once


def test_a_replacement_label_after_a_void_is_not_sent_and_is_named_in_the_failure(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    ss_order = _two_device_order(world)
    order_id = int(ss_order["orderNumber"])
    label = _label(world, ss_order)
    world.clock.advance(3600)
    assert world.sync().exit_code == 0
    world.clock.advance(3600)
    simulator = world.sandbox.shipstation
    simulator.void_label(int(label["shipmentId"]))
    again = simulator.get_order(int(ss_order["orderId"]))
    assert again is not None
    assert again["orderStatus"] == "awaiting_shipment"
    replacement = simulator.buy_label(
        int(ss_order["orderId"]), weight={"value": 300, "units": "grams"}
    )
    world.clock.advance(600)
    world.wire.clear()

    report = world.sync()

    assert world.wire.writes("backmarket") == []
    [failure] = [f for a in report.accounts for f in a.failures if f.order_id == order_id]
    assert failure.error == "LabelVoidedAfterReport"
    assert replacement["trackingNumber"] in failure.reason
    assert f"holds tracking {label['trackingNumber']}" in failure.reason
    assert not [w for a in report.accounts for w in a.warnings]
    assert world.bm_order(order_id)["tracking_number"] == label["trackingNumber"]
    world.clock.advance(3600)
    later = world.sync()
    assert later.exit_code == 0
    assert not [w for a in later.accounts for w in a.warnings]


def test_a_label_voided_and_replaced_just_before_a_run_is_reported_once_without_a_failure(
    make_world: Callable[..., World],
) -> None:
    # Found by the fault soak (seed 7): the next run's voided-labels poll, whose window starts
    # at the run that reported the order, still lists the void and called it "after the
    # report" although Back Market was sent the replacement.
    world = _imported(make_world)
    ss_order = _two_device_order(world)
    order_id = int(ss_order["orderNumber"])
    label = _label(world, ss_order)
    simulator = world.sandbox.shipstation
    simulator.void_label(int(label["shipmentId"]))
    world.clock.advance(60)
    replacement = simulator.buy_label(
        int(ss_order["orderId"]), weight={"value": 300, "units": "grams"}
    )
    world.clock.advance(30)
    world.wire.clear()

    first = world.sync()
    assert first.exit_code == 0, first.to_text()
    [ship] = _ship_writes(world, order_id)
    assert ship["tracking_number"] == replacement["trackingNumber"]

    world.clock.advance(600)
    world.wire.clear()
    second = world.sync()
    assert second.exit_code == 0, second.to_text()
    assert not [f for a in second.accounts for f in a.failures]
    assert world.wire.writes("backmarket") == []
    assert world.bm_order(order_id)["tracking_number"] == replacement["trackingNumber"]


def test_a_label_bought_for_an_order_already_reported_is_a_warning_once(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    ss_order = _two_device_order(world)
    order_id = int(ss_order["orderNumber"])
    first = _label(world, ss_order)
    world.clock.advance(3600)
    assert world.sync().exit_code == 0
    world.clock.advance(3600)
    extra = world.sandbox.shipstation.buy_another_label(
        int(ss_order["orderId"]), weight={"value": 200, "units": "grams"}
    )
    world.clock.advance(600)
    world.wire.clear()

    report = world.sync()

    assert world.wire.writes("backmarket") == []
    [warning] = [w for a in report.accounts for w in a.warnings]
    assert warning.order_id == order_id
    assert warning.kind == "label_after_report"
    assert extra["trackingNumber"] in warning.message
    assert report.exit_code == 0
    assert world.bm_order(order_id)["tracking_number"] == first["trackingNumber"]
    world.clock.advance(3600)
    assert not [w for a in world.sync().accounts for w in a.warnings]


def test_an_order_labelled_after_the_buyer_cancelled_it_is_a_warning_and_no_write(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    ss_order = _two_device_order(world)
    order_id = int(ss_order["orderNumber"])
    for line in world.bm_order(order_id)["orderlines"]:
        world.sandbox.backmarket.cancel_line_as_buyer(order_id, line["id"])
    world.clock.advance(60)
    label = _label(world, ss_order)
    world.clock.advance(3600)
    world.wire.clear()

    report = world.sync()

    assert _ship_writes(world, order_id) == []
    assert not [s for s in world.wire.writes("backmarket") if s.method == "PATCH"]
    [warning] = [w for a in report.accounts for w in a.warnings if w.order_id == order_id]
    assert warning.kind == "shipped_after_cancel"
    assert label["trackingNumber"] in warning.message
    assert "WARNING notify order" in report.to_text()
    assert '"shipped_after_cancel"' in report.to_json()
    world.clock.advance(3600)
    assert not [w for a in world.sync().accounts for w in a.warnings]


def _single_device_order(world: World) -> dict[str, Any]:
    """An open ShipStation order of one quantity-1 device line with an identifier."""
    for ss_order in world.open_orders():
        if not ss_order.get("active", True):
            continue
        lines = world.bm_order(int(ss_order["orderNumber"]))["orderlines"]
        if len(lines) == 1 and lines[0]["quantity"] == 1 and world.identifiers_of(ss_order):
            return ss_order
    raise AssertionError("the sandbox made no single-device order")


def _live_copies(world: World, order_key: str) -> list[dict[str, Any]]:
    return [o for o in world.sandbox.shipstation.orders() if o["orderKey"] == order_key]


def test_a_deleted_copy_of_an_accepted_order_is_created_again_then_reported_with_its_imei(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    ss_order = _single_device_order(world)
    order_id = int(ss_order["orderNumber"])
    world.sandbox.shipstation.delete_order(int(ss_order["orderId"]))
    world.clock.advance(600)

    report = world.sync()

    assert report.exit_code == 0, report.to_text()
    [copy] = _live_copies(world, ss_order["orderKey"])
    assert copy["orderId"] != ss_order["orderId"]
    assert copy["orderStatus"] == "awaiting_shipment"
    [warning] = [w for a in report.accounts for w in a.warnings]
    assert (warning.order_id, warning.kind) == (order_id, "recreated")
    assert str(copy["orderId"]) in warning.message
    assert "WARNING import order" in report.to_text()
    assert '"recreated"' in report.to_json()
    assert world.wire.ship_posts()[order_id] == 0

    label = _label(world, copy)
    world.clock.advance(3600)
    report = world.sync()

    assert report.exit_code == 0, report.to_text()
    assert not [w for a in report.accounts for w in a.warnings]
    assert len(_ship_writes(world, order_id)) == 1
    bm = world.bm_order(order_id)
    assert bm["tracking_number"] == label["trackingNumber"]
    [line] = bm["orderlines"]
    [(_, identifier)] = world.identifiers_of(copy).values()
    assert identifier in (line["imei"], line["serial_number"])
    assert line["state"] == 3
    world.clock.advance(3600)
    again = world.sync()
    assert again.exit_code == 0
    assert not [w for a in again.accounts for w in a.warnings]
    assert len(_live_copies(world, ss_order["orderKey"])) == 1


def test_a_deleted_copy_of_an_order_changed_on_back_market_is_created_again_not_failed(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    ss_order = _two_device_order(world)
    order_id = int(ss_order["orderNumber"])
    cancelled, kept = world.bm_order(order_id)["orderlines"]
    world.sandbox.shipstation.delete_order(int(ss_order["orderId"]))
    world.sandbox.backmarket.cancel_line_as_buyer(order_id, cancelled["id"])
    world.clock.advance(600)

    report = world.sync()

    assert not [f for a in report.accounts for f in a.failures], report.to_text()
    [copy] = _live_copies(world, ss_order["orderKey"])
    assert copy["orderStatus"] == "awaiting_shipment"
    assert str(kept["id"]) in _keys(copy)
    [warning] = [w for a in report.accounts for w in a.warnings]
    assert (warning.order_id, warning.kind) == (order_id, "recreated")
    world.clock.advance(3600)
    again = world.sync()
    assert again.exit_code == 0, again.to_text()
    assert not [w for a in again.accounts for w in a.warnings]
    assert len(_live_copies(world, ss_order["orderKey"])) == 1


def test_a_changed_order_whose_copy_is_gone_is_created_again_when_the_check_could_not_run(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    ss_order = _two_device_order(world)
    order_id = int(ss_order["orderNumber"])
    cancelled, kept = world.bm_order(order_id)["orderlines"]
    world.sandbox.shipstation.delete_order(int(ss_order["orderId"]))
    world.sandbox.backmarket.cancel_line_as_buyer(order_id, cancelled["id"])
    world.clock.advance(600)
    # ShipStation fails the list of open orders: the update of the changed order meets the 404.
    faults = world.sandbox.shipstation_faults
    faults.inject("server_error", 4, path_prefix="/orders")
    world.wire.clear()

    report = world.sync()

    assert faults.pending == 0
    assert not [f for a in report.accounts for f in a.failures], report.to_text()
    gets = [s for s in world.wire.requests if s.path == f"/orders/{ss_order['orderId']}"]
    assert [s.outcome for s in gets] == ["404"]
    [copy] = _live_copies(world, ss_order["orderKey"])
    assert str(kept["id"]) in _keys(copy)
    [warning] = [w for a in report.accounts for w in a.warnings]
    assert (warning.order_id, warning.kind) == (order_id, "recreated")


def test_a_deleted_copy_shipstation_refuses_to_create_again_is_a_failure_naming_the_order(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    ss_order = _single_device_order(world)
    order_id = int(ss_order["orderNumber"])
    world.sandbox.shipstation.delete_order(int(ss_order["orderId"]))
    world.clock.advance(600)
    faults = world.sandbox.shipstation_faults
    faults.inject("server_error", 4, path_prefix="/orders/createorders")

    report = world.sync()

    assert faults.pending == 0
    [failure] = [f for a in report.accounts for f in a.failures]
    assert (failure.stage, failure.order_id) == ("import", order_id)
    assert report.exit_code == 1, report.to_text()
    assert _live_copies(world, ss_order["orderKey"]) == []
    assert not [w for a in report.accounts for w in a.warnings]

    world.clock.advance(3600)
    healed = world.sync()

    assert healed.exit_code == 0, healed.to_text()
    assert len(_live_copies(world, ss_order["orderKey"])) == 1
    [warning] = [w for a in healed.accounts for w in a.warnings]
    assert (warning.order_id, warning.kind) == (order_id, "recreated")


def test_a_split_order_changed_on_back_market_keeps_each_phone_on_one_part_only(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    ss_order = _two_device_order(world)
    order_id = int(ss_order["orderNumber"])
    first_key, second_key = _keys(ss_order)
    devices = world.identifiers_of(ss_order)
    simulator = world.sandbox.shipstation
    child = simulator.split_order(int(ss_order["orderId"]), [second_key])
    # The buyer cancels the phone left on the original: the import re-reads the order.
    world.sandbox.backmarket.cancel_line_as_buyer(order_id, int(first_key))
    world.clock.advance(600)

    report = world.sync()

    assert report.exit_code == 0, report.to_text()
    parent = simulator.get_order(int(ss_order["orderId"]))
    child_now = simulator.get_order(int(child["orderId"]))
    assert parent is not None
    assert child_now is not None
    # The moved phone is on the split part only, never put back on the original to be
    # packed twice; the original holds nothing left to ship.
    assert second_key not in _keys(parent)
    assert parent["orderStatus"] == "cancelled"
    assert _keys(child_now) == [second_key]

    _label(world, child_now)
    world.clock.advance(3600)
    world.wire.clear()
    report = world.sync()

    assert report.exit_code == 0, report.to_text()
    [ship] = _ship_writes(world, order_id)
    assert ship["tracking_number"]
    lines = {line["id"]: line for line in world.bm_order(order_id)["orderlines"]}
    assert lines[int(second_key)]["state"] == 3
    _, value = devices[int(second_key)]
    assert value in (lines[int(second_key)]["imei"], lines[int(second_key)]["serial_number"])
