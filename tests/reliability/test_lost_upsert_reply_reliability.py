"""Found by the extended crash-resume run: the process dies after ShipStation created the
orders (their ids never stored), the packer then ships them, and ShipStation refuses every
later update of a shipped order. The label must still be reported to Back Market, once, and
the sync must settle instead of failing the import forever."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from reliability_support import (
    Sent,
    WireTap,
    delivered_ship_posts,
    identifier_notes,
    invariant_violations,
    pack,
    store_orders,
)

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.shipstation import ShipStationClient
from backmarket_shipstation.sync import (
    AccountConfig,
    RunReport,
    SQLiteStore,
    SyncOptions,
    run_sync,
    sandbox_config,
)


class Killed(BaseException):
    """The process dies (not an Exception: nothing in the SDK catches it)."""


class BackMarketDown(WireTap):
    """Back Market answers 503 to everything while ``down``."""

    down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if BackMarketDown.down:
            return httpx.Response(503, text="Service Unavailable", request=request)
        return super().handle_request(request)


class KillAfterUpsert(WireTap):
    """Lets the first createorders reach ShipStation, then dies before its answer arrives."""

    armed = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if self.armed and request.url.path.endswith("/orders/createorders"):
            KillAfterUpsert.armed = False
            raise Killed("killed after ShipStation applied createorders")
        return response


def _killable_sync(
    tmp_path: Path, *, seed: int
) -> tuple[VirtualClock, Sandbox, list[Sent], Callable[[], RunReport]]:
    """A sandbox, the wire log, and a sync that runs as a new process each time (its own
    store) and dies after createorders while ``KillAfterUpsert.armed``; disarmed to start."""
    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    sandbox = Sandbox(seed=seed, orders=3, clock=clock)
    log: list[Sent] = []
    config = sandbox_config(sandbox, state_path=str(tmp_path / "killed.sqlite3"))
    options = SyncOptions(initial_lookback=timedelta(days=150))

    def transports(_: AccountConfig) -> tuple[WireTap, WireTap]:
        return (
            BackMarketDown(sandbox.backmarket_transport(), "backmarket", log),
            KillAfterUpsert(sandbox.shipstation_transport(), "shipstation", log),
        )

    def sync() -> RunReport:
        with SQLiteStore(config.state_path) as store:
            report = run_sync(
                config, store=store, options=options, clock=clock, transports=transports
            )
        clock.advance(600)
        return report

    KillAfterUpsert.armed = False
    return clock, sandbox, log, sync


def _mark_shipped(
    sandbox: Sandbox, clock: VirtualClock, ss_order: dict[str, Any], tracking: str
) -> None:
    """The packer types the identifiers and marks the order shipped without a label."""
    notes = identifier_notes(sandbox, ss_order)
    if notes:
        sandbox.shipstation.set_internal_notes(int(ss_order["orderId"]), notes)
    with ShipStationClient(
        api_key=sandbox.shipstation_api_key,
        api_secret=sandbox.shipstation_api_secret,
        transport=sandbox.shipstation_transport(),
        clock=clock,
    ) as packer:
        packer.orders.mark_as_shipped(
            int(ss_order["orderId"]),
            carrier_code="colissimo",
            tracking_number=tracking,
            notify_customer=False,
            notify_sales_channel=False,
        )


def test_orders_created_by_a_killed_run_then_shipped_are_still_reported(tmp_path: Path) -> None:
    clock, sandbox, log, sync = _killable_sync(tmp_path, seed=4)
    for _ in range(5):
        sandbox.backmarket.new_order()
    sync()  # a first run sets the cursors; nothing to import before the orders below
    for _ in range(4):
        sandbox.backmarket.new_order()
    clock.advance(600)
    KillAfterUpsert.armed = True
    with pytest.raises(Killed):
        sync()
    created = [o for o in store_orders(sandbox) if o["orderStatus"] == "awaiting_shipment"]
    assert len(created) >= 4
    for ss_order in created:
        pack(sandbox, ss_order)
    clock.advance(3600)

    reports = [sync() for _ in range(3)]

    assert reports[-1].exit_code == 0, reports[-1].to_text()
    assert invariant_violations(sandbox, log) == []
    for ss_order in created:
        bm_order = sandbox.backmarket.get_order(int(ss_order["orderNumber"]))
        assert bm_order is not None
        assert bm_order["state"] == 9, ss_order["orderNumber"]


def test_an_order_created_by_a_killed_run_then_marked_shipped_is_still_reported(
    tmp_path: Path,
) -> None:
    """The same, when the packer marks the order shipped (a fulfillment, no label).

    A fulfillment carries no orderKey: the import, refused, finds the order by its number and
    proves it ours by its orderKey, so other stores' fulfillments cost nothing.
    """
    clock, sandbox, log, sync = _killable_sync(tmp_path, seed=5)
    sync()
    lost = str(sandbox.backmarket.new_order()["order_id"])
    clock.advance(600)
    KillAfterUpsert.armed = True
    with pytest.raises(Killed):
        sync()
    created = [o for o in store_orders(sandbox) if o["orderNumber"] == lost]
    assert len(created) == 1
    for number, ss_order in enumerate(created):
        _mark_shipped(sandbox, clock, ss_order, f"6A{number:011d}")
    clock.advance(3600)

    reports = [sync() for _ in range(3)]

    assert reports[-1].exit_code == 0, reports[-1].to_text()
    ships = delivered_ship_posts(log)
    for number, ss_order in enumerate(created):
        bm_order = sandbox.backmarket.get_order(int(ss_order["orderNumber"]))
        assert bm_order is not None
        assert bm_order["state"] == 9, ss_order["orderNumber"]
        assert bm_order["tracking_number"] == f"6A{number:011d}"
        assert ships[int(ss_order["orderNumber"])] == 1
    # Each claimed order is read once, for its notes.
    reads = Counter(sent.path for sent in log if sent.api == "shipstation" and sent.method == "GET")
    assert reads[f"/orders/{created[0]['orderId']}"] == 1


def test_a_mark_as_shipped_long_out_of_the_polling_window_is_still_reported(
    tmp_path: Path,
) -> None:
    """Back Market is down for days after the crash: the notify loop polls past the
    fulfillment before any import can claim the order. The claim then marks the order for
    the notify loop, which looks its shipment up by order id, window or not."""
    clock, sandbox, log, sync = _killable_sync(tmp_path, seed=6)
    sync()
    lost = str(sandbox.backmarket.new_order()["order_id"])
    clock.advance(600)
    KillAfterUpsert.armed = True
    with pytest.raises(Killed):
        sync()
    (ss_order,) = [o for o in store_orders(sandbox) if o["orderNumber"] == lost]
    _mark_shipped(sandbox, clock, ss_order, "6A00000000042")
    BackMarketDown.down = True
    try:
        for _ in range(4):
            clock.advance(86400)
            assert sync().exit_code != 0  # the import cannot run
    finally:
        BackMarketDown.down = False

    reports = [sync() for _ in range(2)]

    assert reports[-1].exit_code == 0, reports[-1].to_text()
    bm_order = sandbox.backmarket.get_order(int(lost))
    assert bm_order is not None
    assert bm_order["state"] == 9
    assert bm_order["tracking_number"] == "6A00000000042"
    assert delivered_ship_posts(log)[int(lost)] == 1
