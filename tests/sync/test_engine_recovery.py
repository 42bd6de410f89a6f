"""Recovering from a lost state file and from an API that stays down."""

from __future__ import annotations

import os
from collections.abc import Callable

from backmarket_shipstation.sync import SQLiteStore

from .conftest import World

IMEI = "490154203237518"


def test_a_lost_state_file_never_wipes_the_sellers_notes(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=12, seed=4)
    world.sync()
    imported = world.ss_order_by_key()
    assert imported
    key, order = sorted(imported.items())[0]
    bm_order_id = int(order["orderNumber"])
    world.sandbox.shipstation.set_internal_notes(int(order["orderId"]), f"IMEI: {IMEI}")

    # The state file is lost (a new machine), and the order changes on Back Market meanwhile.
    world.store.close()
    os.remove(world.config.state_path)
    world.store = SQLiteStore(world.config.state_path)
    world.clock.advance(60)
    world.sandbox.backmarket.set_line_state(
        bm_order_id, world.bm_order(bm_order_id)["orderlines"][0]["id"], 2
    )
    report = world.sync().accounts[0]

    after = world.ss_order_by_key()
    assert len(after) == len(imported), "no order duplicated"
    assert f"IMEI: {IMEI}" in (after[key].get("internalNotes") or "")
    assert report.imported == 0, "orders already in ShipStation are adopted, not created"
    assert report.failed == 0


def test_an_api_down_for_a_whole_loop_stops_that_loop_not_the_run(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=12, seed=5)
    # Every attempt the client makes at the first listing fails (4 attempts by default).
    world.sandbox.backmarket_faults.inject("server_error", 4, path_prefix="/ws/orders")
    run = world.sync()
    report = run.accounts[0]
    (failure,) = [f for f in report.failures if f.order_id == "-"]
    assert failure.stage == "import"
    assert failure.error == "ServerError"
    assert report.stopped == ["import"]
    assert run.exit_code == 3, "an outage, not orders that failed (docs/cli.md#exit-codes)"
    assert "the next run starts over" in failure.reason
    assert world.store.get_cursor("sandbox", "import") is None, "the import cursor did not move"
    assert world.store.get_cursor("sandbox", "notify") is not None, "notify still ran"
    assert world.ss_orders() == []

    healed_run = world.sync()
    healed = healed_run.accounts[0]
    assert healed_run.exit_code == 0
    assert healed.failed == 0
    assert healed.imported > 0


def test_two_accounts_into_one_shipstation_account_keep_their_orders_apart() -> None:
    from datetime import datetime, timezone

    import attrs

    from backmarket_shipstation.clock import VirtualClock
    from backmarket_shipstation.sandbox import Sandbox
    from backmarket_shipstation.sync import run_sync, sandbox_config

    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    eu = Sandbox(seed=9, orders=10, clock=clock)
    us = Sandbox(seed=9, orders=10, clock=clock)  # same seed: the same order ids
    base = sandbox_config(eu).accounts[0]
    accounts = (
        attrs.evolve(base, name="eu"),
        attrs.evolve(
            base,
            name="us",
            backmarket_token=us.backmarket_token,
            order_key_prefix="backmarket-us-",
        ),
    )
    config = attrs.evolve(sandbox_config(eu), accounts=accounts)

    def transports(account: object) -> object:
        backmarket = eu if getattr(account, "name", "") == "eu" else us
        return backmarket.backmarket_transport(), eu.shipstation_transport()

    with SQLiteStore(":memory:") as store:
        report = run_sync(config, store=store, clock=clock, transports=transports)  # type: ignore[arg-type]
    keys = [o["orderKey"] for o in eu.shipstation.orders()]
    imported = [a.imported for a in report.accounts]
    assert imported[0] == imported[1] > 0
    assert len(keys) == len(set(keys)) == sum(imported), "no account overwrote the other's"
    assert sum(k.startswith("backmarket-us-") for k in keys) == imported[1]
