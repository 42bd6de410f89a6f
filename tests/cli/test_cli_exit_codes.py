"""Exit codes as a person or a scheduler reads them (docs/cli.md#exit-codes).

0 all went through, 1 some orders failed (fix them), 2 a setting to fix (retrying will not
help), 3 an API or network outage stopped the run (nothing lost; the next run resumes). An
alert that reads an outage as "orders failed", or a firewall page as "credentials refused",
sends the seller to the wrong fix, and a systemd unit with ``RestartPreventExitStatus=2``
would stop for good on a passing block.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from backmarket_shipstation import cli
from backmarket_shipstation.clock import SystemClock

LiveSandboxFactory = Callable[[int], Any]


@pytest.fixture(autouse=True)
def no_real_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The clients still retry as configured; only the waits between tries are skipped."""
    waits: list[float] = []
    monkeypatch.setattr(SystemClock, "sleep", lambda self, seconds: waits.append(seconds))
    return waits


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _json_report(out: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(out)
    return report


def test_both_apis_refusing_connections_is_an_outage_exit_3(
    live_sandbox: LiveSandboxFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live_sandbox(31)
    port = _closed_port()  # nothing listens there: every connection is refused
    monkeypatch.setenv("BACKMARKET_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("SHIPSTATION_BASE_URL", f"http://127.0.0.1:{port}")
    code = cli.main(["sync"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_API_ERROR, captured.out + captured.err
    assert "credentials" not in captured.err
    assert "Traceback" not in captured.err


def test_base_urls_that_answer_404_are_an_outage_exit_3(
    live_sandbox: LiveSandboxFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A base URL with a wrong path: each API answers its own 404 for an unknown route
    # (Back Market's HTML page, ShipStation's "No HTTP resource was found").
    live = live_sandbox(32)
    monkeypatch.setenv("BACKMARKET_BASE_URL", live.served.backmarket_url + "/v9")
    monkeypatch.setenv("SHIPSTATION_BASE_URL", live.served.shipstation_url + "/v9")
    code = cli.main(["sync", "--json"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_API_ERROR, captured.out + captured.err
    by_outcome = live.sandbox.counters.by_outcome()
    assert set(by_outcome) <= {"404"}, by_outcome
    (account,) = _json_report(captured.out)["accounts"]
    assert account["stopped"] == ["import", "notify"]
    assert "Traceback" not in captured.err


def test_a_back_market_outage_stops_the_import_loop_with_exit_3_and_notify_still_runs(
    live_sandbox: LiveSandboxFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = live_sandbox(33)
    monkeypatch.setenv("BACKMARKET_BASE_URL", f"http://127.0.0.1:{_closed_port()}")
    code = cli.main(["sync", "--json"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_API_ERROR, captured.out + captured.err
    report = _json_report(captured.out)
    (account,) = report["accounts"]
    assert account["stopped"] == ["import"], "the notify loop read ShipStation and finished"
    assert report["stopped"] is True
    assert live.sandbox.shipstation_api_key not in captured.out + captured.err


def test_shipstation_firewall_page_is_a_transient_stop_exit_3(
    live_sandbox: LiveSandboxFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    live = live_sandbox(34)
    # An HTML 403 page on every ShipStation request: a proxy or firewall on the way, not
    # ShipStation refusing the key pair (its own errors are JSON: shipstation.md §1.5).
    live.sandbox.shipstation_faults.inject("firewall", 200)
    code = cli.main(["sync"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_API_ERROR, captured.out + captured.err
    assert "credentials refused" not in captured.err + captured.out
    assert "STOPPED" in captured.out


def test_back_market_firewall_page_is_a_transient_stop_exit_3(
    live_sandbox: LiveSandboxFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    live = live_sandbox(35)
    live.sandbox.backmarket_faults.inject("firewall", 200)  # Cloudflare's page (§6.4)
    code = cli.main(["sync", "--json"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_API_ERROR, captured.out + captured.err
    (account,) = _json_report(captured.out)["accounts"]
    assert "import" in account["stopped"]
    assert any(f["error"] == "FirewallBlockedError" for f in account["failures"])
    assert "credentials refused" not in captured.err


def test_a_json_403_that_names_the_account_is_a_configuration_error_exit_2(
    live_sandbox: LiveSandboxFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    live = live_sandbox(36)
    live.sandbox.backmarket.merchant = False  # a token of a user who is not a merchant
    code = cli.main(["sync"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG, captured.out + captured.err
    assert "credentials refused" in captured.err
    assert "not a merchant" in captured.err
    assert live.sandbox.backmarket_token not in captured.out + captured.err


def test_a_wrong_shipstation_key_pair_is_exit_2(
    live_sandbox: LiveSandboxFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live_sandbox(37)
    monkeypatch.setenv("SHIPSTATION_API_SECRET", "not-the-secret-0123")
    code = cli.main(["sync"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG, captured.out + captured.err
    assert "credentials refused" in captured.err
    assert "401" in captured.err
    assert "not-the-secret-0123" not in captured.out + captured.err


def test_watch_stops_at_once_with_exit_2_on_refused_credentials(
    live_sandbox: LiveSandboxFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live_sandbox(38)
    monkeypatch.setenv("SHIPSTATION_API_SECRET", "not-the-secret-0123")
    # Only refused credentials should end this watch. The timer is a safety net, so that a
    # regression fails (exit 3 after a SIGTERM) instead of hanging the suite.
    guard = threading.Timer(60, os.kill, (os.getpid(), signal.SIGTERM))
    guard.start()
    try:
        code = cli.main(["sync", "--watch", "--interval", "0.01"])
    finally:
        guard.cancel()
    assert code == cli.EXIT_CONFIG
    assert "credentials refused" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# The ShipStation store, checked before anything is accepted (issue 13, item 6)
# --------------------------------------------------------------------------------------


def _back_market_states(live: Any) -> dict[int, int]:
    return {o["order_id"]: o["state"] for o in live.sandbox.backmarket.orders()}


def test_an_unknown_store_id_is_exit_2_naming_it_and_nothing_is_accepted(
    live_sandbox: LiveSandboxFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = live_sandbox(39)
    before = _back_market_states(live)
    assert 1 in before.values(), "orders wait to be accepted"
    monkeypatch.setenv("SHIPSTATION_STORE_ID", "4040404")
    code = cli.main(["sync"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG, captured.out + captured.err
    assert "configuration error" in captured.err
    assert "4040404" in captured.err
    assert "Traceback" not in captured.err
    assert _back_market_states(live) == before, "no order accepted on Back Market"
    assert live.sandbox.shipstation.orders(include_deleted=True) == []


def test_an_unset_store_id_is_exit_2_and_lists_the_stores(
    live_sandbox: LiveSandboxFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = live_sandbox(40)
    before = _back_market_states(live)
    monkeypatch.delenv("SHIPSTATION_STORE_ID")
    code = cli.main(["sync"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG, captured.out + captured.err
    assert "shipstation_store_id is not set" in captured.err
    assert str(live.sandbox.shipstation_store_id) in captured.err
    assert _back_market_states(live) == before
    assert live.sandbox.shipstation.orders(include_deleted=True) == []


def test_webhook_serve_refuses_an_unknown_store_at_start(
    live_sandbox: LiveSandboxFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live_sandbox(41)
    monkeypatch.setenv("SHIPSTATION_STORE_ID", "4040404")
    guard = threading.Timer(60, os.kill, (os.getpid(), signal.SIGTERM))  # never hang
    guard.start()
    try:
        code = cli.main(["webhook", "serve", "--port", "0", "--path-token", "t0ken-4f8a2c9e"])
    finally:
        guard.cancel()
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG, captured.out + captured.err
    assert "4040404" in captured.err
