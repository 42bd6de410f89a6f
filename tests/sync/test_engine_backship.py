"""BackShip orders end to end: imported with Back Market's label, notified with their IMEIs,
no ShipStation label bought.

A BackShip seller gets the label from Back Market once the lines are accepted
(``GET /ws/shipping/v1/deliveries``); the packer sticks it on, types the IMEI in the Internal
Notes and marks the order shipped in ShipStation; Back Market must then hear "shipped" with
its own label's tracking number and the IMEI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from backmarket_shipstation.mapping.orders import BACKSHIP_NOTE
from backmarket_shipstation.sync import pack_and_ship

if TYPE_CHECKING:
    from conftest import World


def _backship_world(make_world: Callable[..., World]) -> tuple[World, dict[str, Any]]:
    world = make_world(orders=6)
    order = world.sandbox.backmarket.new_order(backship=True, country_code="fr-fr")
    return world, order


def _ss_order(world: World, bm_order_id: int) -> dict[str, Any]:
    [found] = [o for o in world.ss_orders() if o["orderNumber"] == str(bm_order_id)]
    return found


def test_a_backship_order_round_trip(make_world: Callable[..., World]) -> None:
    world, order = _backship_world(make_world)
    order_id = order["order_id"]

    first = world.sync()
    assert first.exit_code == 0, first.to_text()
    [label] = world.sandbox.backmarket.deliveries_of(order_id)
    ss_order = _ss_order(world, order_id)
    notes = ss_order["internalNotes"]
    # Imported with Back Market's label: carrier, tracking number and the PDF's full URL.
    assert f"{BACKSHIP_NOTE} {label['carrierName']} {label['trackingNumber']}" in notes
    assert f"https://www.backmarket.fr{label['labelUrl']}" in notes
    assert (
        ss_order["requestedShippingService"]
        == f"BackShip {label['carrierName']} (label from Back Market)"
    )

    pack_and_ship(world.sandbox)  # the packer marks it shipped and buys no label
    world.clock.advance(3600)
    second = world.sync()
    assert second.exit_code == 0, second.to_text()

    assert not [
        s for s in world.sandbox.shipstation.shipments() if s["orderId"] == ss_order["orderId"]
    ]
    shipped = world.bm_order(order_id)
    assert {line["state"] for line in shipped["orderlines"]} == {3}
    assert shipped["tracking_number"] == label["trackingNumber"]
    [ship] = [
        s.body
        for s in world.wire.writes("backmarket")
        if s.path == f"/ws/orders/{order_id}" and s.body.get("new_state") == 3
    ]
    assert ship["tracking_number"] == label["trackingNumber"]
    assert "shipper" not in ship  # Back Market's own carrier stays as it is
    # The IMEI the packer typed is registered on the line.
    line = shipped["orderlines"][0]
    expected = world.sandbox.backmarket.device_imeis.get(line["id"])
    if expected is not None:
        assert line["imei"] == expected
    else:
        assert line["serial_number"] == world.sandbox.backmarket.device_serials[line["id"]]
    # After shipping, Back Market's delivery shows the parcel scanned.
    [after] = world.sandbox.backmarket.deliveries_of(order_id)
    assert after["hubScanned"] is True

    third = world.sync()
    assert third.exit_code == 0
    ships = [
        s
        for s in world.wire.writes("backmarket")
        if s.path == f"/ws/orders/{order_id}" and s.body.get("new_state") == 3
    ]
    assert len(ships) == 1  # reported once


def test_the_tracking_number_the_packer_types_does_not_replace_back_markets(
    make_world: Callable[..., World],
) -> None:
    world, order = _backship_world(make_world)
    order_id = order["order_id"]
    assert world.sync().exit_code == 0
    ss_order = _ss_order(world, order_id)
    notes = world.notes_for(ss_order)
    world.sandbox.shipstation.add_order(
        {**ss_order, "internalNotes": f"{ss_order['internalNotes']}\n{notes}"}
    )
    world.sandbox.shipstation.mark_shipped(
        int(ss_order["orderId"]), carrier_code="other", tracking_number="TYPED-BY-HAND"
    )
    world.clock.advance(3600)
    assert world.sync().exit_code == 0
    [label] = world.sandbox.backmarket.deliveries_of(order_id)
    assert world.bm_order(order_id)["tracking_number"] == label["trackingNumber"]


def test_a_backship_order_not_accepted_yet_says_its_label_is_coming(
    make_world: Callable[..., World],
) -> None:
    from backmarket_shipstation.sync import SyncOptions

    world, order = _backship_world(make_world)
    report = world.sync(SyncOptions(accept_orders=False))
    assert report.exit_code == 0, report.to_text()
    notes = _ss_order(world, order["order_id"])["internalNotes"]
    assert "BackShip label: not made yet" in notes
    assert BACKSHIP_NOTE not in notes
    # No delivery lookup for an order whose label cannot exist yet.
    assert not [s for s in world.wire.requests if "/ws/shipping/" in s.path]


def test_a_seller_label_bought_anyway_is_reported_as_it_is(
    make_world: Callable[..., World],
) -> None:
    world, order = _backship_world(make_world)
    order_id = order["order_id"]
    assert world.sync().exit_code == 0
    ss_order = _ss_order(world, order_id)
    label = world.pack_one(ss_order, world.notes_for(ss_order))
    world.clock.advance(3600)
    assert world.sync().exit_code == 0
    assert world.bm_order(order_id)["tracking_number"] == label["trackingNumber"]
