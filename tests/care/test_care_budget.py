"""Each care endpoint's documented budget, kept by the client before Back Market says no."""

from __future__ import annotations

import pytest
from care_support import care_sandbox, client, line_in_state

from backmarket_shipstation._http import Budget
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.errors import BudgetExhaustedError


def test_a_budget_keeps_every_window_and_books_in_order() -> None:
    clock = VirtualClock()
    budget = Budget(clock, "care.list", ((3, 60.0), (5, 86400.0)))
    waits = []
    for _ in range(5):
        at = budget.book(budget.earliest())
        waits.append(at - clock.monotonic())
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(60.0)  # the minute window is full
    assert waits[4] == pytest.approx(60.0)
    # the day window (5) is now full until the first call is a day old
    assert budget.earliest() - clock.monotonic() == pytest.approx(86400.0)
    clock.advance(86400.0)
    assert budget.earliest() == pytest.approx(clock.monotonic())


def test_a_cost_larger_than_a_window_can_never_fit() -> None:
    budget = Budget(VirtualClock(), "lines", ((10, 3600.0),))
    assert budget.earliest(10) is not None
    with pytest.raises(ValueError, match="can never fit"):
        budget.earliest(11)


def test_the_501st_refund_of_the_day_is_refused_before_it_is_sent() -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, 2)
    with client(sandbox) as bm:
        budget = bm._core.budgets["care.refund"]
        start = sandbox.clock.monotonic()
        for _ in range(500):  # 500 refunds already sent today by this process
            budget.book(start)
        with pytest.raises(BudgetExhaustedError) as refused:
            bm.care.refund(line["id"], 5, order_id=order_id)
    assert "care.refund" in str(refused.value)
    assert refused.value.wait == pytest.approx(86400.0, abs=1.0)
    assert sandbox.backmarket.refunds == []
    # refused in the client: the refund never reached Back Market
    assert sandbox.counters.count(endpoint="POST /ws/sav/refund") == 0


def test_with_no_wait_limit_the_refund_waits_for_its_budget() -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, 2)
    with client(sandbox, max_budget_wait=None) as bm:
        budget = bm._core.budgets["care.refund"]
        start = sandbox.clock.monotonic()
        for _ in range(500):
            budget.book(start)
        bm.care.refund(line["id"], 5, order_id=order_id)
    assert sandbox.clock.monotonic() - start >= 86400.0
    assert len(sandbox.backmarket.refunds) == 1


def test_listing_beyond_520_a_minute_waits_instead_of_meeting_429() -> None:
    sandbox = care_sandbox(folders=1, rate_limit=None)
    with client(sandbox, max_requests_per_10s=10_000) as bm:
        start = sandbox.clock.monotonic()
        for _ in range(530):
            list(bm.care.list())
    elapsed = sandbox.clock.monotonic() - start
    assert elapsed >= 60.0
    assert sandbox.counters.count(api="backmarket", outcome="429") == 0
    assert sandbox.counters.count(endpoint="GET /ws/sav") == 530


def test_clients_of_one_token_share_the_budget() -> None:
    sandbox = care_sandbox(folders=0)
    with client(sandbox) as first, client(sandbox) as second:
        assert first._core.budgets["care.refund"] is second._core.budgets["care.refund"]
        assert first._core.budgets["care.get"] is not first._core.budgets["care.list"]
