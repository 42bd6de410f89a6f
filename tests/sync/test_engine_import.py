"""End to end, import side: Back Market orders into ShipStation, accepted, kept in step."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from backmarket_shipstation.sync import SyncOptions

if TYPE_CHECKING:
    from conftest import World

IMPORTABLE = (1, 3)
NOT_IMPORTABLE = (0, 8, 9, 10)


def _store_orders_per_key(world: World) -> Counter[str]:
    return Counter(o["orderKey"] for o in world.ss_orders())


def test_every_importable_order_is_in_shipstation_once_with_ship_to_and_items(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=30)
    importable = world.ids_in_state(*IMPORTABLE)
    assert importable
    assert world.ids_in_state(*NOT_IMPORTABLE)

    report = world.sync()

    assert report.exit_code == 0, report.to_text()
    per_key = _store_orders_per_key(world)
    assert per_key == Counter({f"backmarket-{oid}": 1 for oid in importable})
    # Nothing anywhere else in ShipStation either (no other store got an order).
    assert len(world.sandbox.shipstation.orders(include_deleted=True)) == len(importable)
    by_key = world.ss_order_by_key()
    for oid in importable:
        ss = by_key[f"backmarket-{oid}"]
        bm = world.bm_order(oid)
        assert ss["orderNumber"] == str(oid)
        assert ss["orderStatus"] == "awaiting_shipment"
        address = bm["shipping_address"]
        ship_to = ss["shipTo"]
        assert ship_to["street1"] == address["street"]
        assert ship_to["city"] == address["city"]
        assert ship_to["country"] == address["country"]
        assert ship_to["name"]
        assert address["last_name"] in ship_to["name"]
        packed = {
            str(line["id"]): line for line in bm["orderlines"] if line["state"] not in (0, 4, 5)
        }
        items = {item["lineItemKey"]: item for item in ss["items"] if item["lineItemKey"] in packed}
        assert items.keys() == packed.keys()
        for key, item in items.items():
            assert item["sku"] == packed[key]["listing"]
            assert item["quantity"] == packed[key]["quantity"]
    assert report.accounts[0].imported == len(importable)


def test_a_second_run_makes_no_write_on_either_side(make_world: Callable[..., World]) -> None:
    world = make_world(orders=30)
    world.sync()
    assert world.wire.writes("shipstation")
    assert world.wire.writes("backmarket")
    world.clock.advance(600)
    world.wire.clear()

    report = world.sync()

    assert world.wire.writes() == []
    assert world.wire.requests  # it did look
    account = report.accounts[0]
    assert (account.imported, account.updated, account.accepted) == (0, 0, 0)
    assert account.unchanged > 0


def test_every_paid_line_is_accepted_with_one_post_per_distinct_sku(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=30)
    to_accept = world.ids_in_state(1)
    skus_before = {
        oid: {line["listing"] for line in world.bm_order(oid)["orderlines"] if line["state"] == 1}
        for oid in to_accept
    }

    report = world.sync()

    for oid in to_accept:
        lines = world.bm_order(oid)["orderlines"]
        assert {line["state"] for line in lines} <= {2, 4, 5}, (oid, lines)
    posts: Counter[tuple[int, str]] = Counter()
    for sent in world.wire.writes("backmarket"):
        assert sent.method == "POST"
        assert sent.body["new_state"] == 2
        posts[(int(sent.path.rsplit("/", 1)[1]), sent.body["sku"])] += 1
    expected = Counter({(oid, sku): 1 for oid, skus in skus_before.items() for sku in skus})
    assert posts == expected
    assert report.accounts[0].accepted == len(to_accept)


def test_accept_orders_off_leaves_paid_lines_alone(make_world: Callable[..., World]) -> None:
    world = make_world(orders=30)
    to_accept = world.ids_in_state(1)

    world.sync(SyncOptions(accept_orders=False))

    assert world.wire.writes("backmarket") == []
    for oid in to_accept:
        assert world.bm_order(oid)["state"] == 1
        assert f"backmarket-{oid}" in world.ss_order_by_key()


def test_buyer_cancellation_cancels_the_shipstation_order_and_keeps_seller_notes(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=30)
    world.sync()
    target = min(world.ids_in_state(1))
    ss = world.ss_order_by_key()[f"backmarket-{target}"]
    seller_note = "Packed by Ana: IMEI 356789104512345 - keep for the warranty"
    world.sandbox.shipstation.add_order({**ss, "internalNotes": seller_note})
    for line in world.bm_order(target)["orderlines"]:
        world.sandbox.backmarket.cancel_line_as_buyer(target, line["id"])
    world.clock.advance(600)
    world.wire.clear()

    report = world.sync()

    after = world.ss_order_by_key()[f"backmarket-{target}"]
    assert after["orderStatus"] == "cancelled"
    assert after["orderId"] == ss["orderId"]
    assert after["internalNotes"] == seller_note
    assert report.accounts[0].cancelled == 1
    # Nothing was accepted or shipped on Back Market for a cancelled order.
    assert world.wire.writes("backmarket") == []
    # And the next run leaves it alone.
    world.clock.advance(600)
    world.wire.clear()
    world.sync()
    assert world.wire.writes() == []


def test_seller_edits_survive_a_reimport_when_the_back_market_order_changes(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=30)
    world.sync()
    # An order with two accepted lines: the buyer cancels one, so the Back Market order
    # changes while it waits in ShipStation.
    target = next(
        oid
        for oid in sorted(world.ids_in_state(1, 3))
        if sum(1 for line in world.bm_order(oid)["orderlines"] if line["state"] == 2) >= 2
    )
    ss = world.ss_order_by_key()[f"backmarket-{target}"]
    notes = (ss.get("internalNotes") or "") + "\nSeller: IMEI to scan at the bench"
    world.sandbox.shipstation.add_order({**ss, "internalNotes": notes})
    dropped = world.bm_order(target)["orderlines"][-1]
    world.sandbox.backmarket.cancel_line_as_buyer(target, dropped["id"])
    world.clock.advance(600)
    world.wire.clear()

    report = world.sync()

    assert report.accounts[0].updated == 1, report.to_text()
    assert [s.path for s in world.wire.writes("shipstation")] == ["/orders/createorders"]
    after = world.ss_order_by_key()[f"backmarket-{target}"]
    assert after["orderId"] == ss["orderId"]
    assert after["internalNotes"] == notes
    keys = {item["lineItemKey"] for item in after["items"]}
    assert str(dropped["id"]) not in keys
    assert _store_orders_per_key(world)[f"backmarket-{target}"] == 1


def test_dry_run_writes_nothing_and_lists_the_writes(make_world: Callable[..., World]) -> None:
    world = make_world(orders=30)
    importable = world.ids_in_state(*IMPORTABLE)

    report = world.sync(SyncOptions(dry_run=True))

    assert world.wire.writes() == []
    assert world.ss_orders() == []
    assert all(world.bm_order(oid)["state"] == 1 for oid in world.ids_in_state(1))
    planned = report.accounts[0].planned_writes
    for oid in world.ids_in_state(1):
        assert any(
            f"POST /ws/orders/{oid}" in line and "'new_state': 2" in line for line in planned
        )
    for oid in world.ids_in_state(3):
        assert any(f"order backmarket-{oid} " in line for line in planned), oid
    assert report.accounts[0].dry_run
    # A real run afterwards still does everything: the dry run moved no cursor.
    real = world.sync()
    assert real.accounts[0].imported == len(importable)
