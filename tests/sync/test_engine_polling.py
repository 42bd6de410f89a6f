"""End to end over a working day: frequent polls, orders and labels arriving between them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from backmarket_shipstation.sync import SyncOptions

if TYPE_CHECKING:
    from conftest import World


def test_polling_every_few_minutes_imports_and_notifies_everything_once(
    make_world: Callable[..., World],
) -> None:
    """New orders and labels land between polls, some seconds before a poll starts; the
    cursors (Back Market in UTC, ShipStation in Pacific time) must neither skip nor repeat."""
    world = make_world(orders=20, seed=9)
    world.sync()
    arrived: list[int] = []
    labelled: dict[int, str] = {}
    for step in range(12):
        if step % 2 == 0:
            arrived.append(world.sandbox.backmarket.new_order()["order_id"])
        # Seconds before the poll: the edge of the window.
        world.clock.advance(7 * 60 - 2)
        opened = world.open_orders()
        if opened:
            ss_order = opened[0]
            label = world.pack_one(ss_order, world.notes_for(ss_order))
            labelled[int(ss_order["orderNumber"])] = label["trackingNumber"]
        world.clock.advance(2)
        report = world.sync()
        assert report.exit_code == 0, report.to_text()
    # A last poll later to pick up what the final steps left.
    world.clock.advance(600)
    world.sync()

    per_key = Counter(o["orderKey"] for o in world.ss_orders())
    assert all(n == 1 for n in per_key.values()), per_key
    for oid in arrived:
        assert per_key[f"backmarket-{oid}"] == 1, oid
    assert len(labelled) == 12
    assert world.wire.ship_posts() == Counter(dict.fromkeys(labelled, 1))
    for oid, tracking in labelled.items():
        order = world.bm_order(oid)
        assert order["state"] == 9
        assert order["tracking_number"] == tracking


def test_dry_run_after_packing_lists_the_ship_writes_and_sends_none(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=20)
    world.sync()
    world.clock.advance(3 * 3600)
    packed = []
    for ss_order in world.open_orders():
        world.pack_one(ss_order, world.notes_for(ss_order))
        packed.append(int(ss_order["orderNumber"]))
    assert packed
    world.clock.advance(3600)
    world.wire.clear()

    dry = world.sync(SyncOptions(dry_run=True))

    assert world.wire.writes() == []
    planned = dry.accounts[0].planned_writes
    for oid in packed:
        assert world.bm_order(oid)["state"] == 3
        ships = [
            line
            for line in planned
            if line.startswith(f"backmarket POST /ws/orders/{oid} ") and "'new_state': 3" in line
        ]
        assert len(ships) == 1, (oid, planned)
    # The dry run moved nothing: the real run sends exactly what it listed.
    real = world.sync()
    assert real.accounts[0].notified == len(packed)
    assert world.wire.ship_posts() == Counter(dict.fromkeys(packed, 1))
    sent = len(world.wire.writes("backmarket"))
    assert sent == sum(1 for line in planned if line.startswith("backmarket "))


def test_a_dry_run_leaves_the_state_file_as_it_found_it(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=6)
    world.sync()
    # A notify failure for an order the store holds no record of (nothing to retry).
    world.store.record_failure("sandbox", "notify", "123", "unreadable", world.clock.now())
    before = world.store.failures()

    world.sync(SyncOptions(dry_run=True))

    assert world.store.failures() == before
    world.sync()
    assert world.store.failures() == [], "a real run drops it"
