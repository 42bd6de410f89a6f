"""shipnotify through the write journal: exactly once per order and line, whatever is retried."""

from __future__ import annotations

import json
from typing import Any

import pytest
from customstore_support import BAD_IMEI, Killed, StoreHarness

from backmarket_shipstation.cli import main
from backmarket_shipstation.customstore import NotifyOptions
from backmarket_shipstation.sandbox.customstore_client import ExportedOrder


def _paid(harness: StoreHarness, *, lines: int) -> ExportedOrder:
    harness.running.refresh_all()
    for order in harness.exported_orders():
        if order.fields["OrderStatus"] != "bm_accepted":
            continue
        devices = harness.device_lines(order.order_number)
        if len(devices) == lines and all(
            i.get("Quantity") == "1" for i in order.items if i.get("Adjustment") != "true"
        ):
            return order
    raise AssertionError(f"the sandbox has no paid order with {lines} device lines")


def test_a_notice_ships_the_order_and_registers_its_imei(harness: StoreHarness) -> None:
    order = _paid(harness, lines=1)
    status, body = harness.shipnotify(order)
    assert (status, body) == (200, b"")
    number = int(order.order_number)
    assert harness.tap.ship_posts[number] == 1
    assert harness.registered(order.order_number) == harness.device_lines(order.order_number)
    stored = harness.sandbox.backmarket.get_order(number)
    assert stored is not None
    assert stored["tracking_number"] == "1Z999AA10123456784"


def test_the_same_notice_again_and_the_same_tracking_write_nothing(harness: StoreHarness) -> None:
    order = _paid(harness, lines=1)
    assert harness.shipnotify(order)[0] == 200
    before = harness.sandbox.counters.snapshot()
    assert harness.shipnotify(order)[0] == 200  # a duplicate
    assert harness.shipnotify(order, auth="query")[0] == 200  # a retry, another auth form
    writes = {
        key: count - before.get(key, 0)
        for key, count in harness.sandbox.counters.snapshot().items()
        if key[1] in ("POST /ws/orders/{id}", "PATCH /ws/orderlines/{id}")
    }
    assert all(count == 0 for count in writes.values()), writes
    assert harness.tap.ship_posts[int(order.order_number)] == 1


def _two_packages(
    order: ExportedOrder, devices: dict[int, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One device in the first package, everything else (accessories too) in the second."""
    items = [dict(item) for item in order.items if item.get("Adjustment") != "true"]
    first = next(item for item in items if int(item["LineItemID"]) in devices)
    return [first], [item for item in items if item is not first]


def test_a_split_shipment_ships_once_and_registers_every_imei(harness: StoreHarness) -> None:
    order = _paid(harness, lines=2)
    devices = harness.device_lines(order.order_number)
    first, second = _two_packages(order, devices)
    number = int(order.order_number)
    assert harness.shipnotify(order, items=first, tracking_number="1Z999AA10000000001")[0] == 200
    # One package of two: Back Market ships a whole order at once, so it waits for the other.
    assert harness.tap.ship_posts[number] == 0
    assert harness.shipnotify(order, items=first, tracking_number="1Z999AA10000000001")[0] == 200
    assert harness.tap.ship_posts[number] == 0
    assert harness.shipnotify(order, items=second, tracking_number="1Z999AA10000000002")[0] == 200
    assert harness.shipnotify(order, items=second, tracking_number="1Z999AA10000000002")[0] == 200
    assert harness.tap.ship_posts[number] == 1
    assert harness.registered(order.order_number) == devices
    assert sum(harness.tap.patches.values()) == 2  # one PATCH per line, never repeated
    stored = harness.sandbox.backmarket.get_order(number)
    assert stored is not None
    assert stored["tracking_number"] == "1Z999AA10000000001"  # the first package's


def test_a_split_package_without_its_imei_holds_the_order_until_corrected(
    harness: StoreHarness,
) -> None:
    order = _paid(harness, lines=2)
    devices = harness.device_lines(order.order_number)
    first, second = _two_packages(order, devices)
    number = int(order.order_number)
    assert harness.shipnotify(order, items=first, notes="")[0] == 400
    assert harness.shipnotify(order, items=second, tracking_number="1Z999AA10000000002")[0] == 200
    assert harness.tap.ship_posts[number] == 0
    assert [f.stage for f in harness.store.failures("sandbox")] == ["shipnotify"]
    assert harness.shipnotify(order, items=first)[0] == 200  # corrected
    assert harness.tap.ship_posts[number] == 1
    assert harness.registered(order.order_number) == devices
    assert harness.store.failures("sandbox") == []


def test_an_empty_body_falls_back_on_the_query_then_the_full_notice_succeeds(
    harness: StoreHarness,
) -> None:
    order = _paid(harness, lines=1)
    status, body = harness.shipnotify(order, empty_body=True)
    # The query string names the order, not its IMEI: nothing may be sent.
    assert status == 400
    assert b"no IMEI or serial number" in body
    assert harness.tap.ship_posts[int(order.order_number)] == 0
    assert harness.shipnotify(order)[0] == 200
    assert harness.tap.ship_posts[int(order.order_number)] == 1


def test_an_accessory_order_ships_from_an_empty_body(harness: StoreHarness) -> None:
    order = _paid(harness, lines=1)
    handler = harness.running.app.accounts["sandbox"].notices
    # A seller of accessories only: no line needs an identifier.
    handler.options = NotifyOptions(requires_identifier=lambda _: False)
    assert harness.shipnotify(order, empty_body=True)[0] == 200
    assert harness.tap.ship_posts[int(order.order_number)] == 1


@pytest.mark.parametrize("notes", ["", f"IMEI {BAD_IMEI}"], ids=["missing", "invalid"])
def test_a_bad_imei_sends_nothing_shows_in_status_and_recovers(
    harness: StoreHarness, notes: str, capsys: pytest.CaptureFixture[str]
) -> None:
    order = _paid(harness, lines=1)
    status, body = harness.shipnotify(order, notes=notes)
    assert status == 400
    assert order.order_number.encode() in body
    number = int(order.order_number)
    assert harness.tap.ship_posts[number] == 0
    assert harness.registered(order.order_number) == {}

    assert main(["status", "--state", str(harness.state_path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    failures = shown["accounts"][0]["failures"]
    assert [(f["stage"], f["order_id"]) for f in failures] == [("shipnotify", order.order_number)]

    assert harness.shipnotify(order)[0] == 200  # the corrected notice
    assert harness.tap.ship_posts[number] == 1
    assert harness.store.failures("sandbox") == []


def test_back_market_down_answers_503_and_the_retry_writes_once(harness: StoreHarness) -> None:
    order = _paid(harness, lines=1)
    harness.sandbox.backmarket_faults.inject("server_error", count=30, path_prefix="/ws/orders")
    status, _ = harness.shipnotify(order)
    assert status == 503  # ShipStation retries (hourly)
    assert harness.tap.ship_posts[int(order.order_number)] == 0
    faults = harness.sandbox.backmarket_faults
    while faults.pending:  # Back Market is back
        faults.decide("GET", "/ws/orders")
    assert harness.shipnotify(order)[0] == 200
    assert harness.tap.ship_posts[int(order.order_number)] == 1


def test_an_order_this_store_never_exported_is_a_400(harness: StoreHarness) -> None:
    order = _paid(harness, lines=1)
    stranger = ExportedOrder(
        fields={**order.fields, "OrderNumber": "99999999"},
        bill_to=order.bill_to,
        ship_to=order.ship_to,
        items=order.items,
    )
    status, body = harness.shipnotify(stranger)
    assert status == 400
    assert b"not exported by this store" in body
    assert sum(harness.tap.ship_posts.values()) == 0


@pytest.mark.parametrize("kill", ["after_ship", "after_patch"])
def test_exactly_once_across_a_killed_server(harness: StoreHarness, kill: str) -> None:
    order = _paid(harness, lines=2 if kill == "after_patch" else 1)
    number = int(order.order_number)
    setattr(harness.tap, f"kill_{kill}", True)
    with pytest.raises(Killed):
        harness.shipnotify(order)  # Back Market applied the write; the process died
    pending = harness.store.pending_writes("sandbox")
    assert pending, "the write in flight is recorded pending"

    restarted = harness.restart()
    try:
        # ShipStation got no answer: it retries the same notice, twice for good measure.
        assert restarted.shipnotify(order)[0] == 200
        assert restarted.shipnotify(order)[0] == 200
        assert restarted.tap.ship_posts[number] == 1
        assert restarted.registered(order.order_number) == restarted.device_lines(
            order.order_number
        )
        assert max(restarted.tap.patches.values(), default=0) <= 1
        assert restarted.store.pending_writes("sandbox") == []
    finally:
        restarted.close()


def test_a_split_killed_after_the_ship_write_registers_every_imei_on_retry(
    harness: StoreHarness,
) -> None:
    order = _paid(harness, lines=2)
    devices = harness.device_lines(order.order_number)
    first, second = _two_packages(order, devices)
    number = int(order.order_number)
    assert harness.shipnotify(order, items=first, tracking_number="1Z999AA10000000001")[0] == 200
    harness.tap.kill_after_ship = True
    with pytest.raises(Killed):
        harness.shipnotify(order, items=second, tracking_number="1Z999AA10000000002")
    restarted = harness.restart()
    try:
        # ShipStation retries the last package; the first package's IMEI is not in it.
        retried = restarted.shipnotify(order, items=second, tracking_number="1Z999AA10000000002")
        assert retried[0] == 200
        assert restarted.tap.ship_posts[number] == 1
        assert restarted.registered(order.order_number) == devices
        assert restarted.store.pending_writes("sandbox") == []
    finally:
        restarted.close()
