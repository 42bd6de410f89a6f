"""End to end: several accounts in one run, real sockets on loopback, and no 429 at scale."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import httpx

from backmarket_shipstation.backmarket.regions import Region
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync import (
    AccountConfig,
    SQLiteStore,
    SyncConfig,
    pack_and_ship,
    run_sync,
    sandbox_config,
)

if TYPE_CHECKING:
    from conftest import World

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def _importable(sandbox: Sandbox) -> set[int]:
    return {o["order_id"] for o in sandbox.backmarket.orders() if o["state"] in (1, 3)}


def _keys(sandbox: Sandbox) -> Counter[str]:
    return Counter(o["orderKey"] for o in sandbox.shipstation.orders(include_deleted=True))


def test_two_accounts_sync_in_one_run_with_separate_cursors_and_reports(
    tmp_path: Path,
) -> None:
    clock = VirtualClock(START)
    eu = Sandbox(seed=3, orders=20, clock=clock)
    us = Sandbox(seed=4, orders=12, clock=clock)
    # Both simulators number their orders from the same base: the same order id exists in
    # both accounts, which must never mix.
    assert _importable(eu) & _importable(us)
    expected = {"eu": _importable(eu), "us": _importable(us)}
    accounts = (
        attrs.evolve(sandbox_config(eu).accounts[0], name="eu"),
        attrs.evolve(
            sandbox_config(us).accounts[0],
            name="us",
            backmarket_region=Region.US,
            backmarket_base_url="https://www.backmarket.com",
        ),
    )
    config = SyncConfig(accounts=accounts, state_path=str(tmp_path / "state.sqlite3"))
    sandboxes = {"eu": eu, "us": us}

    def transports(account: AccountConfig) -> tuple[httpx.BaseTransport, httpx.BaseTransport]:
        sandbox = sandboxes[account.name]
        return sandbox.backmarket_transport(), sandbox.shipstation_transport()

    with SQLiteStore(config.state_path) as store:
        report = run_sync(config, store=store, clock=clock, transports=transports)

        assert [a.account for a in report.accounts] == ["eu", "us"]
        for account in report.accounts:
            assert account.imported == len(expected[account.account]), account
            assert account.failed == 0
        for name, sandbox in sandboxes.items():
            assert _keys(sandbox) == Counter({f"backmarket-{oid}": 1 for oid in expected[name]})
            for order in sandbox.shipstation.orders():
                assert order["advancedOptions"]["storeId"] == sandbox.shipstation_store_id
            cursor = store.get_cursor(name, "import")
            assert cursor is not None
            assert store.get_cursor(name, "notify") is not None
        # The US account's own orders, not the EU's, went to the US ShipStation.
        us_numbers = {o["orderNumber"] for o in us.shipstation.orders()}
        assert us_numbers == {str(oid) for oid in expected["us"]}
        assert {r.account for r in store.open_orders("us")} == {"us"}
        assert len(store.open_orders("us")) == len(expected["us"])
        assert len(store.open_orders("eu")) == len(expected["eu"])
        assert us.counters.count(api="backmarket") > 0
        assert eu.counters.count(api="backmarket") > 0

        # Labels in the US store only: only the US account notifies.
        clock.advance(3 * 3600)
        bought, _ = pack_and_ship(us)
        clock.advance(3600)
        second = run_sync(config, store=store, clock=clock, transports=transports)
    by_name = {a.account: a for a in second.accounts}
    assert by_name["us"].notified == bought
    assert by_name["eu"].notified == 0
    assert second.exit_code == 0, second.to_text()
    assert all(o["state"] != 9 for o in eu.backmarket.orders() if o["order_id"] in expected["eu"])


def test_a_round_trip_over_loopback_sockets(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    sandbox = Sandbox(seed=5, orders=25, clock=clock)
    importable = _importable(sandbox)
    with sandbox.serve(port=0, deliver_webhooks=False) as served:
        base = sandbox_config(sandbox, state_path=str(tmp_path / "loopback.sqlite3"))
        account = attrs.evolve(
            base.accounts[0],
            backmarket_base_url=served.backmarket_url,
            shipstation_base_url=served.shipstation_url,
        )
        config = attrs.evolve(base, accounts=(account,))
        assert served.backmarket_url.startswith("http://127.0.0.1:")
        with SQLiteStore(config.state_path) as store:
            first = run_sync(config, store=store, clock=clock)
            clock.advance(3 * 3600)
            bought, forgotten = pack_and_ship(sandbox, forget_every=0)
            clock.advance(3600)
            second = run_sync(config, store=store, clock=clock)
    assert first.exit_code == 0, first.to_text()
    assert first.accounts[0].imported == len(importable)
    assert _keys(sandbox) == Counter({f"backmarket-{oid}": 1 for oid in importable})
    assert second.exit_code == 0, second.to_text()
    assert second.accounts[0].notified == bought == len(importable)
    assert forgotten == 0
    for oid in importable:
        order = sandbox.backmarket.get_order(oid)
        assert order is not None
        assert order["state"] == 9
    # Every request went over the socket, through the server's counters.
    assert sandbox.counters.count(api="shipstation", endpoint="POST /orders/createorders") == 1
    assert sandbox.counters.count(outcome="429") == 0


def test_no_429_from_either_api_over_a_few_hundred_orders(
    make_world: Callable[..., World],
) -> None:
    # ShipStation's limit is lowered to 3 per minute: the engine needs few calls there (one
    # upsert per 100 orders, lists of 500), so at 40 a day of 300 orders would not reach it.
    world = make_world(orders=50, seed=7, shipstation_options={"rate_limit": 3})
    # A busy morning: 250 new paid orders on top of the account's recent history.
    for _ in range(250):
        world.sandbox.backmarket.new_order()
    importable = {o["order_id"] for o in world.sandbox.backmarket.orders() if o["state"] in (1, 3)}
    assert len(importable) > 250

    first = world.sync()
    world.clock.advance(3 * 3600)
    for ss_order in world.open_orders():
        world.pack_one(ss_order, world.notes_for(ss_order))
    world.clock.advance(3600)
    second = world.sync()

    assert first.exit_code == 0, first.to_text()
    assert second.exit_code == 0, second.to_text()
    counters = world.sandbox.counters
    outcomes: dict[str, Any] = {
        api: counters.by_outcome(api=api) for api in ("backmarket", "shipstation")
    }
    assert counters.count(outcome="429") == 0, outcomes
    # Enough traffic that the limits mattered: Back Market allows 200 requests per 10 s.
    assert counters.count(api="backmarket") > 400
    assert counters.count(api="shipstation") > 2 * 3
    assert world.clock.slept > 60  # the clients waited instead of hitting the limits
    assert second.accounts[0].notified == len(importable)
    assert all(n == 1 for n in world.wire.ship_posts().values())
