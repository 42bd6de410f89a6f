"""Export: served from the feed, 100 orders a page, pages that never shift, accepts journaled."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from customstore_support import StoreHarness
from defusedxml.ElementTree import fromstring


def _numbers(body: bytes) -> list[str]:
    return [element.findtext("OrderNumber") or "" for element in fromstring(body).findall("Order")]


def test_pages_of_at_most_100_in_a_stable_order_without_back_market_calls(
    tmp_path: Path,
) -> None:
    with StoreHarness(tmp_path / "state.sqlite3", orders=260, seed=1) as harness:
        harness.running.refresh_all()
        before = harness.sandbox.counters.count(api="backmarket")
        status, first = harness.export(page=1)
        assert status == 200
        pages = int(fromstring(first).get("pages"))
        assert pages >= 2
        seen: list[str] = []
        for page in range(1, pages + 1):
            body = harness.export(page=page)[1]
            numbers = _numbers(body)
            assert 0 < len(numbers) <= 100
            seen += numbers
        assert seen == sorted(seen, key=int)  # OrderID order, so no shifting
        assert len(seen) == len(set(seen))
        assert harness.sandbox.counters.count(api="backmarket") == before
        # A page past the end is empty, with the same page count.
        past = harness.export(page=pages + 1)[1]
        assert _numbers(past) == []
        assert fromstring(past).get("pages") == str(pages)


def test_an_order_changed_while_shipstation_pages_shifts_nothing(tmp_path: Path) -> None:
    with StoreHarness(tmp_path / "state.sqlite3", orders=260, seed=1) as harness:
        harness.running.refresh_all()
        start = harness.clock.now() - timedelta(days=30)
        end = harness.clock.now() + timedelta(minutes=1)
        page_one = _numbers(harness.export(page=1, start=start, end=end)[1])
        expected_page_two = _numbers(harness.export(page=2, start=start, end=end)[1])
        # While ShipStation reads page 1, a buyer cancels an order of page 1.
        changed = next(
            number
            for number in page_one
            if (order := harness.sandbox.backmarket.get_order(int(number)))
            and len(order["orderlines"]) == 1
            and order["orderlines"][0]["state"] in (1, 2)
        )
        line = harness.sandbox.backmarket.get_order(int(changed))["orderlines"][0]
        harness.clock.advance(3600)
        harness.sandbox.backmarket.cancel_line_as_buyer(int(changed), line["id"])
        harness.running.refresh_all()
        assert _numbers(harness.export(page=2, start=start, end=end)[1]) == expected_page_two
        # The next window carries the change, with a new LastModified.
        later = harness.export(start=end, end=harness.clock.now() + timedelta(minutes=1))[1]
        cancelled = {
            element.findtext("OrderNumber"): element
            for element in fromstring(later).findall("Order")
        }
        assert changed in cancelled
        element = cancelled[changed]
        assert element.findtext("OrderStatus") == "bm_cancelled"
        assert element.findtext("LastModified") == f"{harness.clock.now():%m/%d/%Y %H:%M}"


def test_paid_lines_are_accepted_once_through_the_journal(tmp_path: Path) -> None:
    with StoreHarness(tmp_path / "state.sqlite3", orders=30, seed=2) as harness:
        harness.running.refresh_all()
        accepted = dict(harness.tap.accept_posts)
        assert accepted, "the sandbox has paid orders to accept"
        for order_id in accepted:
            order = harness.sandbox.backmarket.get_order(order_id)
            assert order is not None
            for sku in {line["listing"] for line in order["orderlines"]}:
                record = harness.store.get_write("sandbox", order_id, f"2:{sku}")
                assert record is not None
                assert record.status == "done"
        harness.clock.advance(600)
        harness.running.refresh_all()
        assert dict(harness.tap.accept_posts) == accepted  # never twice
        exported = {o.order_number: o for o in harness.exported_orders()}
        for order_id in accepted:
            # Read back after the accept: the buyer's details are there.
            assert exported[str(order_id)].fields["OrderStatus"] == "bm_accepted"


def test_accepting_can_be_turned_off(tmp_path: Path) -> None:
    with StoreHarness(tmp_path / "state.sqlite3", orders=30, seed=2, accept_orders=False) as h:
        h.running.refresh_all()
        assert sum(h.tap.accept_posts.values()) == 0
        assert h.exported_orders()


def test_the_window_is_on_last_modified(harness: StoreHarness) -> None:
    harness.running.refresh_all()
    now = harness.clock.now()
    assert _numbers(
        harness.export(start=now - timedelta(hours=2), end=now + timedelta(minutes=1))[1]
    )
    # Before anything was recorded (beyond the 10-minute overlap): nothing.
    assert (
        _numbers(harness.export(start=now - timedelta(days=3), end=now - timedelta(hours=1))[1])
        == []
    )


def test_an_order_without_ship_to_is_a_failure_and_never_stops_the_others(
    harness: StoreHarness,
) -> None:
    simulator = harness.sandbox.backmarket
    template = simulator.get_order(simulator.order_ids()[0])
    assert template is not None
    broken_id = max(simulator.order_ids()) + 1
    lines = [
        {**line, "id": 59_000_000 + n, "state": 2} for n, line in enumerate(template["orderlines"])
    ]
    simulator.add_order(
        {
            **template,
            "order_id": broken_id,
            "state": 3,
            "shipping_address": {**template["shipping_address"], "street": "", "city": ""},
            "orderlines": lines,
            "date_modification": template["date_creation"],
        }
    )
    harness.running.refresh_all()
    failures = harness.store.failures("sandbox")
    assert [(f.stage, f.ref) for f in failures] == [("export", str(broken_id))]
    assert "street" in failures[0].reason
    assert "city" in failures[0].reason
    numbers = [o.order_number for o in harness.exported_orders()]
    assert str(broken_id) not in numbers
    assert numbers


def test_a_failed_accept_is_exported_all_the_same_and_retried(harness: StoreHarness) -> None:
    # Every state POST fails (the client does not retry a non-idempotent write).
    harness.sandbox.backmarket_faults.inject("server_error", count=1000, path_prefix="/ws/orders/")
    harness.running.refresh_all()
    failed = {f.ref for f in harness.store.failures("sandbox") if f.stage == "export"}
    assert failed
    exported = {o.order_number for o in harness.exported_orders()}
    assert failed <= exported
    assert sum(harness.tap.accept_posts.values()) == 0
    faults = harness.sandbox.backmarket_faults
    while faults.pending:
        faults.decide("POST", "/ws/orders/1")
    harness.clock.advance(600)
    harness.running.refresh_all()
    assert harness.store.failures("sandbox") == []
    assert set(map(str, harness.tap.accept_posts)) >= failed
    for ref in failed:
        order = harness.sandbox.backmarket.get_order(int(ref))
        assert order is not None
        for sku in {line["listing"] for line in order["orderlines"] if line["state"] == 2}:
            record = harness.store.get_write("sandbox", int(ref), f"2:{sku}")
            assert record is not None
            assert record.status == "done"
