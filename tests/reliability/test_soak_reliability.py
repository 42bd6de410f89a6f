"""Soak: many orders, many rounds, faults on both APIs, then quiet rounds until all is done.

Each faulty round is what a day of a seller looks like, compressed: a sync, buyers cancelling
a few open orders, the packer shipping part of the open orders (editing some as sellers do:
``SellerPacker`` splits, relabels, removes items), new orders arriving, a sync.
Faults hit every request of both APIs at the rates of issue 7 (10 % 5xx, 5 % 429 bursts,
2 % timeouts after the request ran, 1 % connection resets after it ran, 1 % malformed JSON
bodies). Then the faults stop, the packer ships what is left, and the sync runs until a run
reports nothing failed and writes nothing. At the end nothing is lost, nothing is duplicated
in ShipStation, and no order received a second ship write at the transport.

About 2,000 orders reach the sync (a fifth generated, mostly past orders, the rest arriving new).
CI runs one fault seed (about 15 s of CPU); ``BMSS_EXTENDED=1`` runs four.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from reliability_support import (
    EXTENDED,
    SellerPacker,
    Sent,
    WireTap,
    bm_order_id,
    delivered_ship_posts,
    invariant_violations,
    store_orders,
)

from backmarket_shipstation import errors
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.errors import BackMarketShipStationError
from backmarket_shipstation.sandbox import FaultInjector, FaultPlan, Sandbox
from backmarket_shipstation.sync import (
    AccountConfig,
    RunReport,
    SQLiteStore,
    SyncOptions,
    run_sync,
    sandbox_config,
)

ORDERS = 2_000
FAULT_SEEDS = (7, 8, 9, 10) if EXTENDED else (7,)
FAULTY_ROUNDS = 4
ISSUE_7_FAULTS = FaultPlan(
    server_error_rate=0.10,
    rate_limit_rate=0.05,
    timeout_rate=0.02,
    reset_rate=0.01,
    malformed_json_rate=0.01,
)
# The sandbox dates its orders up to 120 days back: look over all of them on the first run.
OPTIONS = SyncOptions(initial_lookback=timedelta(days=150))


class Soak:
    """A sandbox, a state file, a virtual clock and the wire log of every request."""

    def __init__(self, state_dir: Path, orders: int, faults: FaultPlan) -> None:
        self.clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
        # A fifth generated (mostly past orders, already shipped: listed, then skipped), the
        # rest arriving as new paid orders: half before the first run, the others each day.
        self.sandbox = Sandbox(seed=3, orders=orders // 5, clock=self.clock, faults=faults)
        for _ in range(orders // 2):
            self.sandbox.backmarket.new_order()
        self.config = sandbox_config(self.sandbox, state_path=str(state_dir / "soak.sqlite3"))
        self.store = SQLiteStore(self.config.state_path)
        self.log: list[Sent] = []
        self.reports: list[RunReport] = []
        self.aborted: list[str] = []
        self.rng = random.Random(7)
        self.packer = SellerPacker(self.sandbox, random.Random(13))
        self.cancelled: set[int] = set()
        """Back Market ids of the orders buyers cancelled: the packer never ships those, even
        while a fault keeps the cancellation from reaching ShipStation yet."""

    def transports(self, _: AccountConfig) -> tuple[WireTap, WireTap]:
        return (
            WireTap(self.sandbox.backmarket_transport(), "backmarket", self.log),
            WireTap(self.sandbox.shipstation_transport(), "shipstation", self.log),
        )

    def sync(self) -> RunReport | None:
        """One cron run; a loop whose listing fails past the client's retries ends the run
        with an SDK error (its cursor unmoved), which the next run covers."""
        try:
            report = run_sync(
                self.config,
                store=self.store,
                options=OPTIONS,
                clock=self.clock,
                transports=self.transports,
            )
        except BackMarketShipStationError as exc:
            self.aborted.append(type(exc).__name__)
            return None
        finally:
            self.clock.advance(600)
        self.reports.append(report)
        return report

    def stop_faults(self) -> None:
        self.sandbox.backmarket_faults = FaultInjector(clock=self.clock, api="backmarket")
        self.sandbox.shipstation_faults = FaultInjector(clock=self.clock, api="shipstation")

    def open_orders(self) -> list[dict[str, Any]]:
        """Orders the packer may ship: open in ShipStation, not cancelled by their buyer."""
        return [
            o
            for o in store_orders(self.sandbox)
            if o["orderStatus"] == "awaiting_shipment" and bm_order_id(o) not in self.cancelled
        ]

    def day(self, new_orders: int) -> None:
        self.sync()
        self.clock.advance(2 * 3600)
        opened = self.open_orders()
        self.rng.shuffle(opened)
        # A few buyers cancel before the parcel leaves; nobody packs their order. (Not an
        # order the packer split or edited: its parts were all labelled at once.)
        cancellable = [o for o in opened if bm_order_id(o) not in self.packer.edited]
        cancelled = cancellable[:3]
        rest = [o for o in opened if o not in cancelled]
        bm = self.sandbox.backmarket
        for ss_order in cancelled:
            self.cancelled.add(bm_order_id(ss_order))
            order = bm.get_order(bm_order_id(ss_order))
            assert order is not None
            for line in order["orderlines"]:
                if line["state"] in (0, 1, 2, 8, 9):
                    bm.cancel_line_as_buyer(order["order_id"], line["id"])
        for ss_order in rest[: len(rest) * 2 // 3]:
            self.packer.ship(ss_order)
        for _ in range(new_orders):
            bm.new_order()
        self.clock.advance(3600)
        self.sync()

    def quiet_until_done(
        self, max_runs: int = 8, uncovered: frozenset[int] = frozenset()
    ) -> RunReport:
        """Runs without faults until one writes nothing and fails nothing but the orders in
        ``uncovered``, each as an ``UncoveredLinesError``."""
        report: RunReport | None = None
        for _ in range(max_runs):
            before = len(self.log)
            report = self.sync()
            assert report is not None, self.aborted[-1]
            writes = [s for s in self.log[before:] if s.method in ("POST", "PUT", "PATCH")]
            failures = [f for account in report.accounts for f in account.failures]
            expected = all(
                f.order_id in uncovered and f.error == "UncoveredLinesError" for f in failures
            )
            if expected and not writes:
                return report
        assert report is not None
        raise AssertionError(f"not quiet after {max_runs} runs: {report.to_text()[:2000]}")

    def close(self) -> None:
        self.store.close()


@pytest.fixture(params=FAULT_SEEDS, ids=lambda seed: f"faults-seed-{seed}")
def soak(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Soak]:
    world = Soak(tmp_path, ORDERS, replace(ISSUE_7_FAULTS, seed=request.param))
    yield world
    world.close()


def test_soak_with_faults_on_both_apis_loses_nothing_and_duplicates_nothing(soak: Soak) -> None:
    for _ in range(FAULTY_ROUNDS):
        soak.day(new_orders=ORDERS * 3 // 40)
    faulty_requests = len(soak.log)
    outcomes = soak.sandbox.counters.by_outcome()
    injected = {kind: n for kind, n in outcomes.items() if kind.startswith("fault:")}
    failures_reported = sum(r.failed for r in soak.reports) + len(soak.aborted)

    soak.stop_faults()
    for ss_order in soak.open_orders():
        soak.packer.ship(ss_order)
    # The orders labelled without a removed item stay unsent while that line is uncovered...
    uncovered = frozenset(soak.packer.uncovered)
    soak.quiet_until_done(uncovered=uncovered)
    ships = delivered_ship_posts(soak.log)
    assert {oid: ships[oid] for oid in uncovered if ships[oid]} == {}
    reported = {
        f.order_id
        for r in soak.reports
        for a in r.accounts
        for f in a.failures
        if f.error == "UncoveredLinesError"
    }
    assert uncovered <= reported
    assert invariant_violations(soak.sandbox, soak.log) == []
    # ...and are reported once their buyers cancel the removed lines.
    soak.packer.resolve_uncovered()
    final = soak.quiet_until_done()
    mix = soak.packer.mix
    print(f"\nsoak seller mix: {soak.packer.summary()}")
    for kind in (
        "split",
        "removed_then_restored",
        "removed_rest_labelled",
        "second_label",
        "voided_relabelled",
    ):
        assert mix[kind] > 0, mix

    # The faults really happened, on both APIs, and the engine reported what they broke.
    for kind in ("server_error", "rate_limit", "timeout", "reset", "malformed_json"):
        assert injected.get(f"fault:{kind}", 0) > 0, injected
    for api in ("backmarket", "shipstation"):
        api_faults = soak.sandbox.counters.by_outcome(api=api)
        assert sum(n for k, n in api_faults.items() if k.startswith("fault:")) > 0, api
    assert failures_reported > 0
    # Each failure is reported with the SDK error that caused it and a reason.
    for report in soak.reports:
        for failure in (f for account in report.accounts for f in account.failures):
            error = getattr(errors, failure.error, None)
            assert isinstance(error, type), failure
            assert issubclass(error, BackMarketShipStationError), failure
            assert failure.reason, failure
    assert faulty_requests > ORDERS // 2

    assert final.failed == 0
    assert invariant_violations(soak.sandbox, soak.log) == []
    shipped = [o for o in store_orders(soak.sandbox) if o["orderStatus"] == "shipped"]
    assert len(shipped) > ORDERS // 2
    imported = store_orders(soak.sandbox)
    assert len(imported) > ORDERS * 3 // 4
    with soak.store as store:
        assert store.pending_writes(soak.config.accounts[0].name) == []
