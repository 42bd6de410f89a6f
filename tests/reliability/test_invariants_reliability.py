"""The reliability suite's invariant checker finds what it must: a suite green because its
checker is blind would prove nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from reliability_support import (
    Sent,
    WireTap,
    delivered_ship_posts,
    invariant_violations,
    pack,
    store_orders,
)

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync import (
    AccountConfig,
    SQLiteStore,
    SyncOptions,
    run_sync,
    sandbox_config,
)


def _synced(tmp_path: Path) -> tuple[Sandbox, list[Sent], SQLiteStore, VirtualClock]:
    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    sandbox = Sandbox(seed=1, orders=5, clock=clock)
    for _ in range(6):
        sandbox.backmarket.new_order()
    log: list[Sent] = []
    config = sandbox_config(sandbox, state_path=str(tmp_path / "check.sqlite3"))
    store = SQLiteStore(config.state_path)

    def transports(_: AccountConfig) -> tuple[WireTap, WireTap]:
        return (
            WireTap(sandbox.backmarket_transport(), "backmarket", log),
            WireTap(sandbox.shipstation_transport(), "shipstation", log),
        )

    def sync() -> None:
        options = SyncOptions(initial_lookback=timedelta(days=150))
        run_sync(config, store=store, options=options, clock=clock, transports=transports)
        clock.advance(600)

    sync()
    for ss_order in store_orders(sandbox):
        if ss_order["orderStatus"] == "awaiting_shipment":
            pack(sandbox, ss_order)
    clock.advance(3600)
    sync()
    return sandbox, log, store, clock


def test_a_clean_round_trip_has_no_violation_and_each_shipped_order_one_ship_post(
    tmp_path: Path,
) -> None:
    sandbox, log, store, _ = _synced(tmp_path)
    shipped = [o for o in store_orders(sandbox) if o["orderStatus"] == "shipped"]
    assert len(shipped) >= 6
    assert invariant_violations(sandbox, log) == []
    assert set(delivered_ship_posts(log).values()) == {1}
    store.close()


def test_the_checker_sees_a_second_ship_post_a_lost_order_and_an_unreported_label(
    tmp_path: Path,
) -> None:
    sandbox, log, store, _ = _synced(tmp_path)
    shipped_id = next(iter(delivered_ship_posts(log)))
    second = Sent("backmarket", "POST", f"/ws/orders/{shipped_id}", {"new_state": 3}, "400")
    assert f"order {shipped_id}: 2 delivered ship POSTs" in invariant_violations(
        sandbox, [*log, second]
    )
    # A ship POST refused at the edge (503) never reached Back Market: no violation.
    edge = Sent("backmarket", "POST", f"/ws/orders/{shipped_id}", {"new_state": 3}, "503")
    assert invariant_violations(sandbox, [*log, edge]) == []

    arrived = sandbox.backmarket.new_order()["order_id"]
    assert any(f"order {arrived} " in p and "lost" in p for p in invariant_violations(sandbox, log))
    store.close()


def test_the_checker_sees_a_label_bought_but_never_reported(tmp_path: Path) -> None:
    sandbox, log, store, clock = _synced(tmp_path)
    fresh = sandbox.backmarket.new_order()["order_id"]
    config = sandbox_config(sandbox, state_path=str(tmp_path / "check.sqlite3"))

    def transports(_: AccountConfig) -> tuple[WireTap, WireTap]:
        return (
            WireTap(sandbox.backmarket_transport(), "backmarket", log),
            WireTap(sandbox.shipstation_transport(), "shipstation", log),
        )

    run_sync(config, store=store, clock=clock, transports=transports)
    [ss_order] = [o for o in store_orders(sandbox) if o["orderNumber"] == str(fresh)]
    pack(sandbox, ss_order)  # the label exists; no sync has reported it yet
    problems = invariant_violations(sandbox, log)
    assert any(
        f"order {fresh} covered by live labels, open on Back Market" in p for p in problems
    ), problems
    store.close()
