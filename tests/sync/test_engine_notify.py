"""End to end, notify side: labels and mark-as-shipped back to Back Market, with identifiers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from conftest import World


def _patches(world: World) -> Counter[int]:
    """``PATCH /ws/orderlines/{id}`` sent, per orderline id."""
    return Counter(
        int(s.path.rsplit("/", 1)[1])
        for s in world.wire.writes("backmarket")
        if s.method == "PATCH" and s.path.startswith("/ws/orderlines/")
    )


def _ship_body(world: World, order_id: int) -> dict[str, Any]:
    [body] = [
        s.body
        for s in world.wire.writes("backmarket")
        if s.path == f"/ws/orders/{order_id}" and s.body.get("new_state") == 3
    ]
    assert isinstance(body, dict)
    return body


def _imported(make_world: Callable[..., World], orders: int = 30) -> World:
    world = make_world(orders=orders)
    report = world.sync()
    assert report.exit_code == 0, report.to_text()
    world.clock.advance(3 * 3600)
    return world


def test_labels_are_notified_with_tracking_shipper_and_every_device_identifier(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    labels: dict[int, dict[str, Any]] = {}
    identifiers: dict[int, dict[int, tuple[str, str]]] = {}
    for ss_order in world.open_orders():
        order_id = int(ss_order["orderNumber"])
        identifiers[order_id] = world.identifiers_of(ss_order)
        labels[order_id] = world.pack_one(ss_order, world.notes_for(ss_order))
    singles = [oid for oid in labels if len(world.bm_order(oid)["orderlines"]) == 1]
    multis = [oid for oid in labels if len(world.bm_order(oid)["orderlines"]) > 1]
    assert singles
    assert multis
    world.clock.advance(3600)
    world.wire.clear()

    report = world.sync()

    assert report.exit_code == 0, report.to_text()
    assert report.accounts[0].notified == len(labels)
    assert world.wire.ship_posts() == Counter(dict.fromkeys(labels, 1))
    patches = _patches(world)
    for oid in singles:
        [(line_id, (label, value))] = identifiers[oid].items()
        body = _ship_body(world, oid)
        assert body[{"IMEI": "imei", "S/N": "serial_number"}[label]] == value
        assert line_id not in patches
    for oid in multis:
        body = _ship_body(world, oid)
        assert "imei" not in body
        assert "serial_number" not in body
        assert identifiers[oid]  # every multi-line order here has a device
        for line_id in identifiers[oid]:
            assert patches[line_id] == 1, (oid, line_id)
    assert sum(patches.values()) == sum(len(identifiers[oid]) for oid in multis)
    for oid, label in labels.items():
        bm = world.bm_order(oid)
        assert bm["state"] == 9
        assert bm["tracking_number"] == label["trackingNumber"]
        assert bm["shipper"].startswith("UPS")
        for line in bm["orderlines"]:
            known = identifiers[oid].get(line["id"])
            if known is not None:
                field = "imei" if known[0] == "IMEI" else "serial_number"
                assert line[field] == known[1]
    # The next run finds nothing new to send.
    world.clock.advance(600)
    world.wire.clear()
    world.sync()
    assert world.wire.writes() == []


def test_mark_as_shipped_fulfillments_are_notified_too(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    ss_order = next(
        o
        for o in world.open_orders()
        if len(world.bm_order(int(o["orderNumber"]))["orderlines"]) == 1
    )
    order_id = int(ss_order["orderNumber"])
    world.sandbox.shipstation.add_order({**ss_order, "internalNotes": world.notes_for(ss_order)})
    with httpx.Client(
        base_url=world.sandbox.shipstation_base_url,
        transport=world.sandbox.shipstation_transport(),
        auth=world.sandbox.shipstation_auth,
    ) as seller_app:
        response = seller_app.post(
            "/orders/markasshipped",
            json={
                "orderId": ss_order["orderId"],
                "carrierCode": "fedex",
                "trackingNumber": "794698823190",
                "notifySalesChannel": False,
            },
        )
        response.raise_for_status()
    world.clock.advance(3600)
    world.wire.clear()

    report = world.sync()

    assert report.exit_code == 0, report.to_text()
    assert world.wire.ship_posts() == Counter({order_id: 1})
    bm = world.bm_order(order_id)
    assert bm["state"] == 9
    assert bm["tracking_number"] == "794698823190"
    assert bm["shipper"].startswith("FedEx")
    [(_, (_, imei))] = world.identifiers_of(ss_order).items()
    assert _ship_body(world, order_id)["imei"] == imei
    assert bm["orderlines"][0]["imei"] == imei


def test_missing_and_mistyped_imeis_are_reported_never_sent_then_sent_once_fixed(
    make_world: Callable[..., World],
) -> None:
    world = _imported(make_world)
    phones = [
        o
        for o in world.open_orders()
        if any(label == "IMEI" for label, _ in world.identifiers_of(o).values())
    ]
    forgotten, mistyped, *others = phones
    assert others
    bad_line, (_, good_imei) = next(
        (line_id, pair)
        for line_id, pair in world.identifiers_of(mistyped).items()
        if pair[0] == "IMEI"
    )
    typo = good_imei[:14] + str((int(good_imei[14]) + 1) % 10)  # wrong Luhn check digit
    world.pack_one(forgotten, None)
    world.pack_one(mistyped, world.notes_for(mistyped, replace={bad_line: typo}))
    for ss_order in others:
        world.pack_one(ss_order, world.notes_for(ss_order))
    forgotten_id, mistyped_id = int(forgotten["orderNumber"]), int(mistyped["orderNumber"])
    world.clock.advance(3600)
    world.wire.clear()

    report = world.sync()

    assert report.exit_code == 1
    assert report.failed == 2
    failures = {f.order_id: f for f in report.accounts[0].failures}
    assert failures.keys() == {forgotten_id, mistyped_id}
    assert failures[forgotten_id].stage == "notify"
    assert failures[forgotten_id].error == "MissingIdentifierError"
    assert failures[mistyped_id].error == "InvalidIMEIError"
    assert typo in failures[mistyped_id].reason or str(bad_line) in failures[mistyped_id].reason
    assert str(forgotten_id) in report.to_text()
    # Nothing at all went to Back Market for those two; the others were not held back.
    for oid in (forgotten_id, mistyped_id):
        assert all(f"/{oid}" not in s.path for s in world.wire.writes("backmarket"))
        assert world.bm_order(oid)["state"] == 3
    assert not any(typo in str(s.body) for s in world.wire.requests)
    assert world.wire.ship_posts() == Counter({int(o["orderNumber"]): 1 for o in others})

    # A run with nothing fixed reports them again and still sends nothing.
    world.clock.advance(600)
    world.wire.clear()
    again = world.sync()
    assert {f.order_id for f in again.accounts[0].failures} == {forgotten_id, mistyped_id}
    assert world.wire.writes() == []

    # The seller fixes the notes; the next run sends both, once.
    world.edit_notes(int(forgotten["orderId"]), world.notes_for(forgotten))
    world.edit_notes(int(mistyped["orderId"]), world.notes_for(mistyped))
    world.clock.advance(600)
    world.wire.clear()
    fixed = world.sync()
    assert fixed.exit_code == 0, fixed.to_text()
    assert world.wire.ship_posts() == Counter({forgotten_id: 1, mistyped_id: 1})
    for ss_order in (forgotten, mistyped):
        bm = world.bm_order(int(ss_order["orderNumber"]))
        assert bm["state"] == 9
        for line in bm["orderlines"]:
            pair = world.identifiers_of(ss_order).get(line["id"])
            if pair is not None and pair[0] == "IMEI":
                assert line["imei"] == pair[1]
    assert world.store.failures() == []


def test_a_shipstation_order_unreadable_while_notifying_is_retried_by_the_notify_loop(
    make_world: Callable[..., World],
) -> None:
    """The read that fails is a notify failure: the next runs look the shipment up again,
    even once it has left the notify window."""
    world = _imported(make_world)
    ss_order = world.open_orders()[0]
    order_id = int(ss_order["orderNumber"])
    world.pack_one(ss_order, world.notes_for(ss_order))
    world.clock.advance(3600)
    # Every attempt the client makes at reading the order fails (4 attempts by default).
    world.sandbox.shipstation_faults.inject(
        "server_error", 4, path_prefix=f"/orders/{ss_order['orderId']}"
    )
    world.wire.clear()

    failed = world.sync().accounts[0]

    assert [(f.stage, f.order_id) for f in failed.failures] == [("notify", order_id)]
    assert world.wire.ship_posts() == Counter()

    world.clock.advance(6 * 3600)  # the label is far behind the notify cursor now
    healed = world.sync()

    assert healed.exit_code == 0, healed.to_text()
    assert world.wire.ship_posts() == Counter({order_id: 1})
    assert world.bm_order(order_id)["state"] == 9
    assert world.store.failures() == []
