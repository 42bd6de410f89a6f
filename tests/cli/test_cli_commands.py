"""The ``backmarket-shipstation`` command, called in-process through ``main([...])``."""

from __future__ import annotations

import io
import json
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from backmarket_shipstation import __version__, cli
from backmarket_shipstation._cli_webhook import WebhookReceiver
from backmarket_shipstation.sandbox import ServedSandbox
from backmarket_shipstation.sandbox import serve_forever as real_serve_forever
from backmarket_shipstation.sync import pack_and_ship
from backmarket_shipstation.sync import round_trip as real_round_trip

LiveSandboxFactory = Callable[[int], Any]


# --------------------------------------------------------------------------------------
# sync --sandbox
# --------------------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"backmarket-shipstation {__version__}"


def test_sync_sandbox_prints_both_reports_and_what_happened(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["sync", "--sandbox", "--orders", "20", "--seed", "1"])
    out = capsys.readouterr().out
    # Every 10th packed order is left without its IMEI: reported in sync 2, sent in sync 3
    # once the packer typed it, so the round trip ends well.
    assert code == cli.EXIT_OK
    assert "sync 1 (import)" in out
    assert "sync 2 (notify)" in out
    assert "[sandbox] imported 12," in out
    assert "labels bought in ShipStation: 11" in out
    # the sandbox's BackShip order left with Back Market's label: none bought for it
    assert "BackShip orders marked shipped (Back Market's label): 1" in out
    assert "shipments sent to Back Market: 11" in out
    assert "orders packed without an IMEI or serial: 1" in out
    assert "FAILED notify order 41000015" in out
    assert "MissingIdentifierError" in out
    assert "reported in sync 2 and not shipped on Back Market: 41000015" in out
    assert "sync 3 (after the packer typed the missing IMEIs)" in out
    assert "sent in sync 3, once their IMEIs were typed: 1" in out


def test_sync_sandbox_exits_0_when_every_order_goes_through(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["sync", "--sandbox", "--orders", "20", "--seed", "1", "--forget-every", "0"])
    out = capsys.readouterr().out
    assert code == cli.EXIT_OK
    assert "shipments sent to Back Market: 12" in out
    assert "FAILED" not in out


def test_sync_sandbox_json_is_valid_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["sync", "--sandbox", "--json", "--orders", "20", "--seed", "1"])
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert code == result["exit_code"] == cli.EXIT_OK
    assert result["labels_bought"] == 11
    assert result["backship_marked_shipped"] == 1
    assert result["left_without_identifiers"] == 1
    (imported,) = result["import"]["accounts"]
    (notified,) = result["notify"]["accounts"]
    assert imported["imported"] == 12
    assert notified["notified"] == 11
    assert [f["order_id"] for f in notified["failures"]] == [41000015]
    assert notified["failures"][0]["error"] == "MissingIdentifierError"
    (recovered,) = result["recovered"]["accounts"]
    assert (recovered["notified"], recovered["failed"]) == (1, 0)


def test_sync_without_any_credentials_says_so_and_runs_the_sandbox(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["sync", "--orders", "5", "--forget-every", "0"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_OK
    assert "no credentials configured" in captured.err
    assert "running the built-in sandbox" in captured.err
    assert "[sandbox] imported" in captured.out


@pytest.mark.parametrize("argv_head", [["-v", "sync"], ["sync", "-v"]])
def test_verbose_logs_to_stderr_and_leaves_logging_as_it_was(
    argv_head: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    sdk_logger = logging.getLogger("backmarket_shipstation")
    before = (sdk_logger.level, sdk_logger.propagate, list(sdk_logger.handlers))
    cli.main([*argv_head, "--sandbox", "--orders", "20", "--seed", "1"])
    err = capsys.readouterr().err
    assert "WARNING backmarket_shipstation.sync: notify failed for order 41000015" in err
    assert (sdk_logger.level, sdk_logger.propagate, list(sdk_logger.handlers)) == before

    cli.main(["sync", "--sandbox", "--orders", "20", "--seed", "1"])
    assert "WARNING" not in capsys.readouterr().err, "errors only without -v"


def test_watch_repeats_until_sigterm_and_returns_the_last_runs_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[int] = []

    def round_trip(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            kwargs["forget_every"] = 0  # a clean first run (exit 0)
            return real_round_trip(**kwargs)
        kwargs["recover"] = False  # leaves an order without its IMEI (exit 1)
        result = real_round_trip(**kwargs)
        signal.raise_signal(signal.SIGTERM)
        return result

    monkeypatch.setattr(cli, "round_trip", round_trip)
    code = cli.main(
        ["sync", "--sandbox", "--watch", "--interval", "0.01", "--orders", "20", "--seed", "1"]
    )
    assert len(calls) == 2, "a signal stops the loop after the run in progress"
    assert code == cli.EXIT_FAILED
    assert capsys.readouterr().out.count("sync 2 (notify)") == 2
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


# --------------------------------------------------------------------------------------
# configuration errors
# --------------------------------------------------------------------------------------


def test_incomplete_environment_is_a_configuration_error_without_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "c2VjcmV0LXRva2VuLXRoYXQtbXVzdC1uZXZlci1iZS1wcmludGVk"
    monkeypatch.setenv("BACKMARKET_TOKEN", secret)
    monkeypatch.setenv("SHIPSTATION_API_SECRET", "another-secret-value-0123456789")
    code = cli.main(["sync"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG
    assert "configuration error" in captured.err
    assert "shipstation_api_key is missing (set it, or SHIPSTATION_API_KEY)" in captured.err
    assert "backmarket_user_agent is missing" in captured.err
    assert "Traceback" not in captured.err
    for text in (captured.out, captured.err):
        assert secret not in text
        assert "another-secret-value" not in text


def test_invalid_config_file_names_every_problem_and_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "sync.toml"
    config.write_text(
        "[[accounts]]\n"
        'name = "eu"\n'
        'backmarket_token = "tok-secret-abcdef"\n'
        'backmarket_region = "mars"\n'
        'backmarket_user_agent = "BM-Acme-ShipStation;ops@acme.example"\n'
        'shipstation_api_key = "key-secret-123"\n'
        'shipstation_api_secret = "secret-secret-456"\n'
        'shipstation_store_id = "not-a-number"\n',
        encoding="utf-8",
    )
    code = cli.main(["sync", "--config", str(config)])
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG
    assert "backmarket_region must be eu, us or ap (got 'mars')" in captured.err
    assert "shipstation_store_id must be a number" in captured.err
    assert "Traceback" not in captured.err
    for secret in ("tok-secret-abcdef", "key-secret-123", "secret-secret-456"):
        assert secret not in captured.out + captured.err


def test_refused_credentials_exit_2_without_the_token(
    live_sandbox: LiveSandboxFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = live_sandbox(22)
    wrong = "d3JvbmctdG9rZW4tdGhhdC1pcy1zZWNyZXQ="
    monkeypatch.setenv("BACKMARKET_TOKEN", wrong)
    code = cli.main(["sync"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG
    assert "credentials refused" in captured.err
    assert "401" in captured.err
    assert wrong not in captured.out + captured.err
    assert live.sandbox.backmarket_token not in captured.out + captured.err
    assert "Traceback" not in captured.err


def test_missing_config_file_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["sync", "--config", str(tmp_path / "absent.toml")])
    assert code == cli.EXIT_CONFIG
    assert "cannot read config file" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# dry run, status
# --------------------------------------------------------------------------------------


def test_dry_run_writes_nothing_and_a_real_run_then_imports_everything(
    live_sandbox: LiveSandboxFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    live = live_sandbox(21)
    states_before = {o["order_id"]: o["state"] for o in live.sandbox.backmarket.orders()}

    assert cli.main(["sync", "--dry-run"]) == cli.EXIT_OK
    dry = capsys.readouterr().out
    planned_creates = [line for line in dry.splitlines() if "shipstation create order" in line]
    assert "(dry run)" in dry
    assert planned_creates, dry
    assert live.sandbox.shipstation.orders() == []
    assert {o["order_id"]: o["state"] for o in live.sandbox.backmarket.orders()} == states_before

    assert cli.main(["sync", "--json"]) == cli.EXIT_OK
    (account,) = json.loads(capsys.readouterr().out)["accounts"]
    assert account["dry_run"] is False
    assert account["imported"] == len(planned_creates)
    assert len(live.sandbox.shipstation.orders()) == len(planned_creates)


def test_status_after_a_sandbox_run_shows_cursors_and_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "sandbox-state.sqlite3"
    # Stop before the packer types the forgotten IMEI: one failure is left to retry.
    real_round_trip(orders=20, seed=1, state_path=state, recover=False)

    assert cli.main(["status", "--state", str(state)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "[sandbox]" in out
    assert "import cursor: 2026-03-02" in out
    assert "notify cursor: 2026-03-02" in out
    assert "pending writes: 0" in out
    assert "failures to retry: 1" in out
    assert "notify order 41000015 (attempts 1): " in out

    assert cli.main(["status", "--state", str(state), "--json"]) == cli.EXIT_OK
    (account,) = json.loads(capsys.readouterr().out)["accounts"]
    assert account["account"] == "sandbox"
    assert set(account["cursors"]) == {"import", "notify"}
    assert [f["order_id"] for f in account["failures"]] == ["41000015"]


def test_status_reads_the_state_path_of_a_config_file_that_has_no_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "elsewhere.sqlite3"
    real_round_trip(orders=5, seed=1, state_path=state, forget_every=0)
    config = tmp_path / "sync.toml"
    config.write_text(f'state_path = "{state.as_posix()}"\n', encoding="utf-8")

    assert cli.main(["status", "--config", str(config)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert f"state: {state.as_posix()}" in out
    assert "[sandbox]" in out


def test_status_without_a_state_file_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["status", "--state", str(tmp_path / "nothing.sqlite3")])
    assert code == cli.EXIT_CONFIG
    assert "no state file at" in capsys.readouterr().err
    assert not (tmp_path / "nothing.sqlite3").exists(), "status never creates a state file"


# --------------------------------------------------------------------------------------
# orders
# --------------------------------------------------------------------------------------


def test_orders_list_and_show_both_sides_over_loopback(
    live_sandbox: LiveSandboxFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    live = live_sandbox(31)
    orders = list(live.sandbox.backmarket.orders())
    last_names = {o["shipping_address"]["last_name"] for o in orders} - {""}
    assert last_names

    assert cli.main(["orders", "list", "--side", "backmarket"]) == cli.EXIT_OK
    listed = capsys.readouterr().out
    assert listed.splitlines()[0].split()[:3] == ["ORDER_ID", "STATE", "CREATED"]
    for order in orders:
        assert str(order["order_id"]) in listed
    assert not any(name in listed for name in last_names), "no buyer PII in lists"

    assert cli.main(["orders", "list", "--side", "backmarket", "--limit", "2", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2

    shown = orders[0]
    assert cli.main(["orders", "show", "--side", "backmarket", str(shown["order_id"])]) == 0
    text = capsys.readouterr().out
    assert f"order           {shown['order_id']}" in text
    if shown["shipping_address"]["last_name"]:
        assert shown["shipping_address"]["last_name"] in text

    assert cli.main(["sync"]) == cli.EXIT_OK
    capsys.readouterr()
    imported = live.sandbox.shipstation.orders()
    args = ["orders", "list", "--side", "shipstation", "--status", "awaiting_shipment", "--json"]
    assert cli.main(args) == cli.EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["order_number"] for r in rows) == sorted(o["orderNumber"] for o in imported)
    assert all(set(r) >= {"order_id", "status", "items"} for r in rows)

    ss_order = imported[0]
    args = ["orders", "show", "--side", "shipstation", str(ss_order["orderId"]), "--json"]
    assert cli.main(args) == cli.EXIT_OK
    full = json.loads(capsys.readouterr().out)
    assert full["orderNumber"] == ss_order["orderNumber"]
    assert full["shipTo"]["name"] == ss_order["shipTo"]["name"]


def test_orders_filters_belong_to_their_side(
    live_sandbox: LiveSandboxFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    live_sandbox(32)
    code = cli.main(["orders", "list", "--side", "backmarket", "--status", "shipped"])
    assert code == cli.EXIT_CONFIG
    assert "--status is for --side shipstation" in capsys.readouterr().err
    code = cli.main(["orders", "list", "--side", "shipstation", "--account", "eu"])
    assert code == cli.EXIT_CONFIG
    assert "no account named 'eu' (accounts: default)" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# webhook serve
# --------------------------------------------------------------------------------------


def _start_receiver(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> tuple[WebhookReceiver, threading.Thread, list[int]]:
    """Run ``main(["webhook", "serve", ...])`` in a thread; return its running receiver."""
    ready = threading.Event()
    receivers: list[WebhookReceiver] = []
    codes: list[int] = []
    real_serve = cli.serve_webhooks

    def serve(*a: Any, **kw: Any) -> None:
        def on_ready(receiver: WebhookReceiver) -> None:
            receivers.append(receiver)
            ready.set()

        real_serve(*a, **kw, ready=on_ready)

    monkeypatch.setattr(cli, "serve_webhooks", serve)
    thread = threading.Thread(
        target=lambda: codes.append(cli.main(["webhook", "serve", "--port", "0", *args]))
    )
    thread.start()
    assert ready.wait(30), "the receiver starts"
    return receivers[0], thread, codes


def test_webhook_serve_notifies_back_market_and_refuses_foreign_urls(
    live_sandbox: LiveSandboxFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = live_sandbox(41)
    assert cli.main(["sync"]) == cli.EXIT_OK
    capsys.readouterr()
    imported = {int(o["orderNumber"]) for o in live.sandbox.shipstation.orders()}
    assert imported

    receiver, thread, codes = _start_receiver(monkeypatch, [])
    try:
        with httpx.Client(
            base_url=live.served.shipstation_url, auth=live.sandbox.shipstation_auth
        ) as ss:
            subscribed = ss.post(
                "/webhooks/subscribe", json={"target_url": receiver.url(), "event": "SHIP_NOTIFY"}
            )
            assert subscribed.status_code in (200, 201), subscribed.text
        bought, _ = pack_and_ship(live.sandbox, forget_every=0)
        assert bought == len(imported)
        # The simulated ShipStation posts its SHIP_NOTIFY to the receiver, which answers 200.
        assert live.sandbox.deliver_webhooks() >= 1
        receiver.wait_idle()
        for order_id in imported:
            order = live.sandbox.backmarket.get_order(order_id)
            assert order is not None
            assert order["state"] == 9, f"order {order_id} shipped on Back Market"
            assert order["tracking_number"]

        before = live.sandbox.counters.total
        foreign = {
            "resource_url": "http://attacker.example/shipments?batchId=1",
            "resource_type": "SHIP_NOTIFY",
        }
        answer = httpx.post(receiver.url(), json=foreign)
        # Refused at the door (docs/guides/webhooks.md): 400, nothing queued, nothing fetched.
        assert answer.status_code == 400
        receiver.wait_idle()
        assert receiver.dropped == 1
        assert live.sandbox.counters.total == before, "nothing fetched for a foreign URL"
    finally:
        receiver.stop()
        thread.join()
    assert codes == [cli.EXIT_OK]
    captured = capsys.readouterr()
    assert "receiving ShipStation SHIP_NOTIFY webhooks" in captured.out
    # Without -v the server still shows what it refused, at WARNING, naming the host.
    refused = [line for line in captured.err.splitlines() if "attacker.example" in line]
    assert len(refused) == 1, captured.err
    assert " WARNING " in refused[0]


def test_webhook_path_token_is_required_and_never_printed(
    live_sandbox: LiveSandboxFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live_sandbox(42)
    token = "s3cret-path-token"
    receiver, thread, codes = _start_receiver(monkeypatch, ["--path-token", token])
    try:
        payload = {"resource_url": "http://x/shipments", "resource_type": "SHIP_NOTIFY"}
        without = receiver.url().replace(f"/{token}", "")
        assert httpx.post(without, json=payload).status_code == 404
        assert httpx.post(receiver.url(), content=b"not json").status_code == 400
        assert httpx.get(receiver.url()).status_code == 405
        receiver.wait_idle()
        assert receiver.handled == 0, "nothing refused at the door reaches the worker"
    finally:
        receiver.stop()
        thread.join()
    assert codes == [cli.EXIT_OK]
    captured = capsys.readouterr()
    assert "/<path-token>/shipstation" in captured.out
    assert token not in captured.out + captured.err
    assert token not in repr(receiver)


# --------------------------------------------------------------------------------------
# sandbox serve
# --------------------------------------------------------------------------------------


def test_sandbox_serve_prints_urls_and_credentials_that_work(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[int] = []

    def serve_forever(*args: Any, **kwargs: Any) -> None:
        def ready(served: ServedSandbox) -> None:
            sandbox = served.sandbox
            with httpx.Client(headers=sandbox.backmarket_headers) as bm:
                listed = bm.get(f"{served.backmarket_url}/ws/orders", params={"page-size": 50})
            seen.append(listed.status_code)
            seen.append(sandbox.backmarket.order_count)
            served.stop()

        real_serve_forever(*args, **kwargs, ready=ready)

    monkeypatch.setattr(cli, "serve_forever", serve_forever)
    code = cli.main(["sandbox", "serve", "--port", "0", "--orders", "7", "--seed", "5"])
    out = capsys.readouterr().out
    assert code == cli.EXIT_OK
    assert seen == [200, 7]
    assert "http://127.0.0.1:" in out
    assert "/backmarket" in out
    assert "/shipstation" in out
    assert "API secret" in out


def test_unusable_state_path_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "missing-directory" / "state.sqlite3"
    code = cli.main(["sync", "--sandbox", "--orders", "3", "--state", str(state)])
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG
    assert f"cannot use the state file {state}" in captured.err
    assert "Traceback" not in captured.err


# --------------------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------------------


def test_progress_rewrites_one_line_on_a_terminal() -> None:
    stream = io.StringIO()
    progress = cli.ProgressLine(stream, tty=True)
    for count in range(3):
        progress("import", count)
    progress.done()
    text = stream.getvalue()
    assert "\n" not in text
    assert text.count("\r\x1b[K") == 4
    assert "import: 2 orders" in text


def test_progress_writes_a_plain_line_per_hundred_orders_otherwise() -> None:
    stream = io.StringIO()
    progress = cli.ProgressLine(stream, tty=False)
    for count in range(250):
        progress("import", count)
    progress("notify", 0)
    progress.done()
    assert stream.getvalue().splitlines() == ["import: 100 orders", "import: 200 orders"]
