"""The CLI fails clearly: each case found trying it as a new user would (issue 17, item 5),
with its command. Every one ends in a one-line message, the documented exit code (docs/cli.md)
and no traceback."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backmarket_shipstation import cli
from backmarket_shipstation.sync.store import SQLiteStore

from .conftest import LiveSandbox

CREDENTIALS = {
    "BACKMARKET_TOKEN": "t",
    "BACKMARKET_USER_AGENT": "BM-Acme-ShipStation;ops@acme.example",
    "SHIPSTATION_API_KEY": "k",
    "SHIPSTATION_API_SECRET": "s",
}


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('state_pth = "s.sqlite3"\n', "unknown setting 'state_pth' at the top of the file"),
        ("overlap_minuts = 5\n", "(did you mean 'overlap_minutes'?)"),
    ],
)
def test_an_unknown_top_level_key_is_refused_like_an_account_one(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    expected: str,
) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    config = write(tmp_path / "sync.toml", text)
    assert cli.main(["sync", "--config", str(config)]) == cli.EXIT_CONFIG
    assert expected in one_line_error(capsys)


def test_a_config_file_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path / "sync.toml", b'# caf\xe9\nstate_path = "s.sqlite3"\n')
    assert cli.main(["sync", "--config", str(config)]) == cli.EXIT_CONFIG
    assert "is not UTF-8 text (line 1" in one_line_error(capsys)


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_sandbox_serve_on_a_port_in_use(
    taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["sandbox", "serve", "--port", str(taken_port), "--orders", "1"])
    assert code == cli.EXIT_CONFIG
    assert f"cannot listen on 127.0.0.1:{taken_port}" in one_line_error(capsys)


def test_webhook_serve_on_a_port_in_use(
    live_sandbox: Callable[[int], LiveSandbox], taken_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    live_sandbox(181)
    code = cli.main(["webhook", "serve", "--port", str(taken_port), "--path-token", "t0ken"])
    assert code == cli.EXIT_CONFIG
    assert f"cannot listen on 127.0.0.1:{taken_port}" in one_line_error(capsys)


def test_status_into_a_closed_pipe_exits_141_quietly(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    assert cli.main(["sync", "--sandbox", "--orders", "3", "--state", str(state)]) in (0, 1)
    reader, writer = os.pipe()
    os.close(reader)  # like `| head` that has exited: every write meets EPIPE
    done = subprocess.run(
        [sys.executable, "-m", "backmarket_shipstation.cli", "status", "--state", str(state)],
        stdout=writer,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        timeout=60,
    )
    os.close(writer)
    assert done.returncode == cli.EXIT_BROKEN_PIPE
    assert "Traceback" not in done.stderr
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sync", "--orders", "abc"], "argument --orders: 'abc' is not a whole number"),
        (["orders", "list", "--side", "backmarket", "--limit", "0"], "--limit: must be 1 or more"),
        (
            ["orders", "list", "--side", "backmarket", "--state", "42"],
            "is not a Back Market order state",
        ),
        (["sandbox", "serve", "--port", "70000"], "--port: must be 0 to 65535"),
    ],
)
def test_bad_arguments_are_named_in_one_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == cli.EXIT_CONFIG
    err = one_line_error(capsys)
    assert expected in err
    assert "_count" not in err


@pytest.mark.parametrize("command", [["status"], ["sync", "--sandbox", "--orders", "1"]])
def test_a_directory_as_state_path_is_called_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert cli.main([*command, "--state", str(tmp_path)]) == cli.EXIT_CONFIG
    assert f"state path {tmp_path} is a directory, not a file" in one_line_error(capsys)


def test_status_reads_a_read_only_state_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.sqlite3"
    assert cli.main(["sync", "--sandbox", "--orders", "3", "--state", str(state)]) in (0, 1)
    capsys.readouterr()
    state.chmod(0o444)
    try:
        assert cli.main(["status", "--state", str(state)]) == cli.EXIT_OK
    finally:
        state.chmod(0o644)
    assert "import cursor:" in capsys.readouterr().out
    # What status opens refuses writes (even for root, whom file modes do not stop).
    with SQLiteStore(state, read_only=True) as store, pytest.raises(sqlite3.OperationalError):
        store.clear_failure("sandbox", "import", "1")


def test_dry_run_counts_planned_creates_and_leaves_no_state_file(
    live_sandbox: Callable[[int], LiveSandbox], capsys: pytest.CaptureFixture[str]
) -> None:
    live = live_sandbox(182)
    assert cli.main(["sync", "--dry-run", "--json"]) in (cli.EXIT_OK, cli.EXIT_FAILED)
    out = capsys.readouterr().out
    (account,) = json.loads(out)["accounts"]
    assert account["dry_run"] is True
    assert account["imported"] > 0
    assert account["imported"] == sum("create order" in w for w in account["planned_writes"])
    assert not live.state.exists()
    assert live.sandbox.shipstation.orders() == []


def test_a_signal_during_watch_is_acknowledged_at_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stop = threading.Event()
    with cli._stop_signals(stop):
        signal.raise_signal(signal.SIGTERM)
        assert stop.is_set()
        err = capsys.readouterr().err
    assert "signal 15: stopping after the current run" in err


def test_sandbox_serve_prints_a_ready_to_paste_export_block(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from backmarket_shipstation.sandbox import serve_forever

    monkeypatch.setattr(
        cli, "serve_forever", lambda *a, **k: serve_forever(*a, **k, ready=lambda s: s.stop())
    )
    assert cli.main(["sandbox", "serve", "--port", "0", "--orders", "2"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    exports = [line for line in out.splitlines() if line.startswith("export ")]
    names = [line.split("=")[0].removeprefix("export ") for line in exports]
    assert names == [
        "BACKMARKET_TOKEN", "BACKMARKET_USER_AGENT", "BACKMARKET_BASE_URL",
        "SHIPSTATION_API_KEY", "SHIPSTATION_API_SECRET", "SHIPSTATION_BASE_URL",
        "SHIPSTATION_STORE_ID", "SHIPSTATION_V2_API_KEY", "SHIPSTATION_V2_BASE_URL",
    ]  # fmt: skip


def test_environment_users_are_not_told_about_accounts_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BACKMARKET_TOKEN", "t")
    monkeypatch.setenv("BACKMARKET_USER_AGENT", "BM-Acme-ShipStation;ops@acme.example")
    monkeypatch.setenv("SHIPSTATION_API_KEY", "k")
    assert cli.main(["sync"]) == cli.EXIT_CONFIG
    err = one_line_error(capsys)
    assert "shipstation_api_secret is missing (set it, or SHIPSTATION_API_SECRET)" in err
    assert "accounts[0]" not in err


def test_an_unconfigured_script_prints_no_library_warnings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import backmarket_shipstation.sync  # noqa: F401  (installs the package's NullHandler)

    logging.getLogger("backmarket_shipstation.sync").warning("import failed for order 1: x")
    assert capsys.readouterr().err == ""
