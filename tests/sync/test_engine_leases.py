"""The engine under overlapping runs: one run per account, and no write or count twice.

Each scenario is something a seller's setup produces: a cron run still going when the next
one starts, a run killed with its lease held, a run paused (a suspended VM) for longer than
its lease lasts while the next run takes over. The lease's own time is a separate virtual
clock here (``lease_clock``), so that expiry is tested without waiting; Back Market writes
are counted at the transport.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import attrs

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sync import RunReport, SyncOptions, run_sync
from backmarket_shipstation.sync.journal import AccountLease
from backmarket_shipstation.sync.store import Lease, WriteRecord

if TYPE_CHECKING:
    from conftest import Sent, World

TTL = timedelta(seconds=60)


def _sync(world: World, lease_clock: VirtualClock, options: SyncOptions | None = None) -> RunReport:
    return run_sync(
        world.config,
        store=world.store,
        options=options,
        clock=world.clock,
        transports=world.transports,
        lease_clock=lease_clock,
    )


def _options(world: World, **changes: object) -> SyncOptions:
    return attrs.evolve(world.account.options or SyncOptions(), **changes)  # type: ignore[arg-type]


def test_an_account_another_run_holds_is_skipped_untouched(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=8, seed=3)
    lease_clock = VirtualClock(world.clock.now())
    other = world.store.acquire_lease(
        "sandbox", "cron-run", host="web1", pid=4242, ttl=TTL, now=lease_clock.now()
    )
    assert other is not None

    report = _sync(world, lease_clock)

    assert world.wire.requests == []  # not one read, not one write
    account = report.accounts[0]
    assert account.held_by == other
    assert report.exit_code == 0  # neither a failure nor work done
    assert (account.imported, account.notified, account.failed) == (0, 0, 0)
    assert report.to_text() == (
        "[sandbox] skipped: another run holds this account"
        " (web1, pid 4242, since 2026-03-02 08:00:00 UTC)"
    )
    held = json.loads(report.to_json())["accounts"][0]["held_by"]
    assert (held["host"], held["pid"]) == ("web1", 4242)
    assert held["text"].startswith("skipped: another run holds this account (web1, pid 4242")
    # The other run's lease is untouched.
    assert world.store.get_lease("sandbox") == other


def test_a_run_gives_the_lease_back_so_the_next_one_runs(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=8, seed=3)
    lease_clock = VirtualClock(world.clock.now())
    first = _sync(world, lease_clock)
    assert first.accounts[0].imported > 0
    assert world.store.get_lease("sandbox") is None
    world.wire.clear()
    second = _sync(world, lease_clock)
    assert second.accounts[0].held_by is None
    assert world.wire.requests  # it did run
    assert second.accounts[0].imported == 0
    assert second.accounts[0].unchanged > 0


def test_a_dead_runs_lease_is_taken_over_after_its_expiry_when_waiting(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=8, seed=3)
    lease_clock = VirtualClock(world.clock.now())
    world.store.acquire_lease(
        "sandbox", "killed", host="web1", pid=9, ttl=TTL, now=lease_clock.now()
    )
    short = _sync(world, lease_clock, _options(world, lease_wait=timedelta(seconds=30)))
    assert short.accounts[0].held_by is not None
    assert world.wire.requests == []

    waited = _sync(world, lease_clock, _options(world, lease_wait=timedelta(seconds=120)))
    assert waited.accounts[0].held_by is None
    assert waited.accounts[0].imported > 0
    assert lease_clock.slept >= 30  # it waited for the expiry, then took the account


def test_a_run_that_lost_its_lease_mid_notify_writes_nothing_more(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=10, seed=4)
    lease_clock = VirtualClock(world.clock.now())
    imported = _sync(world, lease_clock)
    assert imported.exit_code == 0
    world.clock.advance(3600)
    shipped, _ = world.pack()
    assert shipped >= 3
    world.clock.advance(600)

    # The run is paused right after its first ship POST, for longer than the lease lasts,
    # and another run takes the account meanwhile.
    taken: list[str] = []

    def pause_and_take_over(sent: Sent) -> bool:
        if not taken and sent.api == "backmarket" and (sent.body or {}).get("new_state") == 3:
            lease_clock.advance(TTL.total_seconds() + 1)
            lease = world.store.acquire_lease(
                "sandbox", "next-run", host="web2", pid=77, ttl=TTL, now=lease_clock.now()
            )
            assert lease is not None
            taken.append(sent.path)
        return False

    world.wire.crash_when = pause_and_take_over
    world.wire.clear()
    report = _sync(world, lease_clock)
    assert taken
    ship_posts = world.wire.ship_posts()
    # The POST in flight when it paused went out; nothing after it.
    assert sum(ship_posts.values()) == 1
    after = world.wire.requests[
        next(i for i, s in enumerate(world.wire.requests) if s.path == taken[0]) + 1 :
    ]
    assert [s for s in after if s.is_write] == []
    account = report.accounts[0]
    assert [f.stage for f in account.failures] == ["lease"]
    assert "web2, pid 77" in account.failures[0].reason
    assert account.notified == 0  # the shipment whose write went out is counted by the next run
    assert report.exit_code == 1
    # The new holder's lease was not given back by the run that lost it.
    lease = world.store.get_lease("sandbox")
    assert lease is not None
    assert lease.holder == "next-run"

    # The next run (the new holder gone, its lease expired) reports every shipment once.
    world.wire.crash_when = None
    lease_clock.advance(TTL.total_seconds() + 1)
    world.clock.advance(600)
    world.wire.clear()
    final = _sync(world, lease_clock)
    assert final.exit_code == 0, final.to_text()
    assert final.accounts[0].notified == shipped
    both = ship_posts + world.wire.ship_posts()
    assert all(count == 1 for count in both.values()), both
    assert len(both) == shipped


def test_a_pending_write_of_a_live_run_is_in_flight_and_never_sent_again(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=10, seed=4)
    lease_clock = VirtualClock(world.clock.now())
    assert _sync(world, lease_clock).exit_code == 0
    world.clock.advance(3600)
    shipped, _ = world.pack()
    assert shipped >= 2
    world.clock.advance(600)
    records = {r.bm_order_id: r for r in world.store.open_orders("sandbox")}
    # A run on another host holds the account, with one ship write claimed and in flight...
    other = world.store.acquire_lease(
        "sandbox", "host-b-run", host="b", pid=1, ttl=TTL, now=lease_clock.now()
    )
    assert other is not None
    in_flight = min(records)
    assert world.store.claim_write(
        WriteRecord(
            account="sandbox",
            bm_order_id=in_flight,
            key="ship",
            status="pending",
            source="shipment:0",
            updated_at=world.clock.now(),
        ),
        other,
        lease_clock.now(),
    )
    # ...and a run that somehow holds the account too (as if the lease had failed) must
    # not send that write: its claimant is alive.
    mine = AccountLease(world.store, other, ttl=TTL, clock=lease_clock)
    pretend = WriteRecord(
        account="sandbox",
        bm_order_id=in_flight,
        key="ship",
        status="pending",
        source="shipment:0",
        updated_at=world.clock.now(),
        claimant="host-b-run",
    )
    assert not mine.in_flight(pretend)  # its own claim is not "another run's"
    stranger = AccountLease(
        world.store,
        Lease(
            account="sandbox",
            holder="intruder",
            host="c",
            pid=2,
            acquired_at=other.acquired_at,
            expires_at=other.expires_at,
        ),
        ttl=TTL,
        clock=lease_clock,
    )
    assert stranger.in_flight(pretend)

    # Once host B's run is gone (its lease expired), the pending write is re-read on Back
    # Market and sent once, by exactly one run.
    lease_clock.advance(TTL.total_seconds() + 1)
    world.wire.clear()
    report = _sync(world, lease_clock)
    assert report.exit_code == 0, report.to_text()
    assert report.accounts[0].notified == shipped
    assert world.wire.ship_posts()[in_flight] == 1
    assert all(count == 1 for count in world.wire.ship_posts().values())
