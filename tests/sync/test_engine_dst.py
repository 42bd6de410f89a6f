"""Labels and mark-as-shipped records bought around clock changes, on the virtual clock.

ShipStation V1 stores and filters dates as US Pacific wall time (shipstation.md §1.4), and the
simulator does the same. On the night US clocks go back, 01:00-01:59 happens twice; in March,
02:00-02:59 never happens. Issue 13: a label bought at 01:05 Pacific on the fall-back night
was never reported to Back Market, another at 01:15 one sync late. The seller's promise is
that every label is reported by the first sync after it was bought, once, at any of these
moments, with the sync run at any cadence. Europe's clock changes (last Sunday of March and
October, 01:00 UTC) are played too: Back Market filters in UTC, ShipStation in Pacific time,
and neither may confuse the other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from backmarket_shipstation.shipstation import PACIFIC

from .conftest import World

UTC = timezone.utc
US_FALL_BACK = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)  # 02:00 PDT -> 01:00 PST
US_SPRING_FORWARD = datetime(2026, 3, 8, 10, 0, tzinfo=UTC)  # 02:00 PST -> 03:00 PDT
EU_SPRING_FORWARD = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET -> 03:00 CEST
EU_FALL_BACK = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 03:00 CEST -> 02:00 CET


def _pacific(day: datetime, hour: int, minute: int, *, fold: int = 0) -> datetime:
    """A Pacific wall time of ``day``'s date (``fold=1``: the second of a repeated hour)."""
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=PACIFIC, fold=fold)
    return local.astimezone(UTC)


def _single_line_orders(world: World) -> Iterator[dict[str, Any]]:
    for ss_order in world.open_orders():
        if len(world.bm_order(int(ss_order["orderNumber"]))["orderlines"]) == 1:
            yield ss_order


def _mark_as_shipped(world: World, ss_order: dict[str, Any], tracking: str) -> None:
    """The seller marks the order shipped in ShipStation (no label): a fulfillment."""
    world.sandbox.shipstation.add_order({**ss_order, "internalNotes": world.notes_for(ss_order)})
    with httpx.Client(
        base_url=world.sandbox.shipstation_base_url,
        transport=world.sandbox.shipstation_transport(),
        auth=world.sandbox.shipstation_auth,
    ) as seller_app:
        seller_app.post(
            "/orders/markasshipped",
            json={
                "orderId": ss_order["orderId"],
                "carrierCode": "fedex",
                "trackingNumber": tracking,
                "notifySalesChannel": False,
            },
        ).raise_for_status()


def _play(
    world: World, syncs: list[datetime], shipped: list[tuple[datetime, str]]
) -> dict[int, tuple[datetime, datetime | None]]:
    """Sync at ``syncs``; at each ``(when, kind)`` the seller labels (``label``) or marks as
    shipped (``mark``) another order. Returns order id → (shipped at, first sync that showed
    it shipped on Back Market, or None)."""
    first = world.sync()  # the import, long before the night played
    assert first.exit_code == 0, first.to_text()
    orders = _single_line_orders(world)
    events = sorted([(t, "sync") for t in syncs] + shipped)
    seen: dict[int, tuple[datetime, datetime | None]] = {}
    for when, what in events:
        world.clock.advance((when - world.clock.now()).total_seconds())
        if what == "sync":
            run = world.sync()
            assert run.exit_code == 0, run.to_text()
            for order_id, (at, reported) in seen.items():
                if reported is None and world.bm_order(order_id)["state"] == 9:
                    seen[order_id] = (at, when)
            continue
        ss_order = next(orders)
        order_id = int(ss_order["orderNumber"])
        if what == "label":
            world.pack_one(ss_order, world.notes_for(ss_order))
        else:
            _mark_as_shipped(world, ss_order, f"7946988{order_id % 100000:05d}")
        seen[order_id] = (when, None)
    return seen


def _cadence(start: datetime, end: datetime, minutes: int) -> list[datetime]:
    times, at = [], start
    while at <= end:
        times.append(at)
        at += timedelta(minutes=minutes)
    return times


def _assert_each_reported_by_the_next_sync(
    world: World, seen: dict[int, tuple[datetime, datetime | None]], syncs: list[datetime]
) -> None:
    for order_id, (at, reported) in sorted(seen.items()):
        expected = min(t for t in syncs if t >= at)  # a sync at that minute runs after it
        local = at.astimezone(PACIFIC)
        when = f"{local:%H:%M} {local.tzname()} ({at:%H:%M} UTC)"
        assert reported is not None, f"order {order_id} shipped at {when} was never reported"
        assert reported == expected, (
            f"order {order_id} shipped at {when} was reported by the sync of {reported:%H:%M}"
            f" UTC, not the first one after it ({expected:%H:%M} UTC)"
        )
    posts = world.wire.ship_posts()
    assert {order_id: posts[order_id] for order_id in seen} == dict.fromkeys(seen, 1), (
        "one ship write per order, though the widened windows saw them again"
    )


# Cadences: every 10 min (the default overlap), 25 min, hourly just before the hour.
CADENCES = [(10, 0), (25, 5), (60, 50)]


@pytest.mark.parametrize(("every", "offset"), CADENCES)
def test_labels_in_the_repeated_hour_of_the_us_fall_back_are_reported_at_once(
    make_world: Callable[..., World], every: int, offset: int
) -> None:
    world = make_world(orders=60, seed=51)
    night = US_FALL_BACK
    first_0105 = _pacific(night, 1, 5)
    second_0105 = _pacific(night, 1, 5, fold=1)
    assert second_0105 - first_0105 == timedelta(hours=1), "01:05 happens twice that night"
    shipped = [
        (first_0105, "label"),
        (_pacific(night, 1, 10), "mark"),
        (_pacific(night, 1, 15), "label"),
        (second_0105, "label"),
        (_pacific(night, 1, 10, fold=1), "mark"),
        (_pacific(night, 1, 15, fold=1), "label"),
        (_pacific(night, 1, 55, fold=1), "label"),
    ]
    syncs = _cadence(
        _pacific(night, 0, 0) + timedelta(minutes=offset), _pacific(night, 5, 0), every
    )
    seen = _play(world, syncs, shipped)
    _assert_each_reported_by_the_next_sync(world, seen, syncs)


@pytest.mark.parametrize(("every", "offset"), CADENCES)
def test_labels_around_the_skipped_hour_of_the_us_spring_forward_are_reported_at_once(
    make_world: Callable[..., World], every: int, offset: int
) -> None:
    world = make_world(orders=60, seed=52)
    jump = US_SPRING_FORWARD
    assert _pacific(jump, 3, 0) == _pacific(jump, 1, 0) + timedelta(hours=1)
    # 02:00-02:59 is not on the wall that night: the instants of that hour read 03:xx PDT.
    shipped = [
        (jump - timedelta(minutes=5), "label"),  # 01:55 PST
        (jump, "label"),  # 03:00 PDT
        (jump + timedelta(minutes=5), "mark"),  # 03:05 PDT
        (jump + timedelta(minutes=15), "label"),
        (jump + timedelta(minutes=45), "label"),
    ]
    syncs = _cadence(jump - timedelta(hours=2, minutes=-offset), jump + timedelta(hours=3), every)
    seen = _play(world, syncs, shipped)
    _assert_each_reported_by_the_next_sync(world, seen, syncs)


@pytest.mark.parametrize("change", [EU_SPRING_FORWARD, EU_FALL_BACK], ids=["march", "october"])
def test_labels_at_the_european_clock_changes_are_reported_at_once(
    make_world: Callable[..., World], change: datetime
) -> None:
    world = make_world(orders=60, seed=53)
    shipped = [
        (change - timedelta(minutes=5), "label"),
        (change + timedelta(minutes=5), "label"),
        (change + timedelta(minutes=10), "mark"),
        (change + timedelta(minutes=15), "label"),
        (change + timedelta(minutes=65), "label"),
    ]
    syncs = _cadence(change - timedelta(hours=1), change + timedelta(hours=3), 10)
    seen = _play(world, syncs, shipped)
    _assert_each_reported_by_the_next_sync(world, seen, syncs)


def test_the_shipstation_simulator_filters_on_pacific_wall_time(
    make_world: Callable[..., World],
) -> None:
    """The simulator keeps ShipStation's rule, so the tests above can fail: a label bought at
    01:05 PST (after 01:50 PDT as an instant) is *not* matched by a window starting 01:50."""
    world = make_world(orders=30, seed=54)
    assert world.sync().exit_code == 0
    ss_order = next(_single_line_orders(world))
    bought = _pacific(US_FALL_BACK, 1, 5, fold=1)
    world.clock.advance((bought - world.clock.now()).total_seconds())
    world.pack_one(ss_order, world.notes_for(ss_order))
    (label,) = [
        s for s in world.sandbox.shipstation.shipments() if s["orderId"] == ss_order["orderId"]
    ]
    assert label["createDate"].startswith("2026-11-01T01:05:00"), "stored as wall time"
    with httpx.Client(
        base_url=world.sandbox.shipstation_base_url,
        transport=world.sandbox.shipstation_transport(),
        auth=world.sandbox.shipstation_auth,
    ) as app:

        def listed(start: str) -> Counter[int]:
            answer = app.get("/shipments", params={"createDateStart": start})
            return Counter(s["orderId"] for s in answer.json()["shipments"])

        assert listed("2026-11-01 01:50:00")[ss_order["orderId"]] == 0
        assert listed("2026-11-01 01:00:00")[ss_order["orderId"]] == 1
