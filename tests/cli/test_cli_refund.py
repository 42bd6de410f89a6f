"""``backmarket-shipstation refund``: a seller refunds a line from the shell, exactly once."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from backmarket_shipstation.cli import main

from .conftest import LiveSandbox


def _line(live: LiveSandbox, state: int) -> tuple[int, int]:
    for order in live.sandbox.backmarket.orders():
        for line in order["orderlines"]:
            if line["state"] == state and float(line["price"]) > 6:
                return order["order_id"], line["id"]
    raise LookupError(state)


def test_refund_twice_refunds_once(
    live_sandbox: Callable[[int], LiveSandbox], capsys: pytest.CaptureFixture[str]
) -> None:
    live = live_sandbox(181)
    order_id, line_id = _line(live, 3)
    assert main(["refund", str(order_id), "--line", str(line_id), "--amount", "5.50"]) == 0
    first = capsys.readouterr().out
    assert main(["refund", str(order_id), "--line", str(line_id), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert "refunded (type 6, partial 5.50): 5.5" in first
    assert second["status"] == "already_done"
    assert [r["orderline_pk"] for r in live.sandbox.backmarket.refunds] == [line_id]


def test_refund_dry_run_and_refusals(
    live_sandbox: Callable[[int], LiveSandbox], capsys: pytest.CaptureFixture[str]
) -> None:
    live = live_sandbox(182)
    order_id, line_id = _line(live, 2)
    assert main(["refund", str(order_id), "--line", str(line_id), "--dry-run"]) == 0
    assert "dry run: would refund (type 5, full)" in capsys.readouterr().out
    assert main(["refund", str(order_id), "--line", str(line_id), "--amount", "3"]) == 3
    assert "only for a shipped line" in capsys.readouterr().err
    assert main(["refund", str(order_id), "--line", str(line_id), "--amount", "3.001"]) == 2
    assert live.sandbox.backmarket.refunds == []
