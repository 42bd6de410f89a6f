"""``backmarket-shipstation store serve``: the sandbox round trip, a live serve, the extra."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from backmarket_shipstation.cli import main

USERNAME = "shipstation"
PASSWORD = "Very-s3cret-store-pw"


def test_store_serve_sandbox_runs_the_round_trip(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "serve", "--sandbox", "--orders", "30", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "Custom Store URL (sandbox): http://127.0.0.1:" in out
    assert "0 orders shipped twice, 0 wrong identifiers" in out
    assert "failures left: 0" in out


def test_without_defusedxml_the_command_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "defusedxml" else real(name)
    )
    assert main(["store", "serve", "--sandbox"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "backmarket-shipstation: store serve needs the Custom Store extra:"
        " pip install 'backmarket-shipstation[customstore]'"
    )


def test_missing_store_credentials_are_a_configuration_error(
    live_sandbox: Callable[[int], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    live_sandbox(41)
    assert main(["store", "serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "BACKMARKET_SHIPSTATION_STORE_USERNAME" in err
    assert "BACKMARKET_SHIPSTATION_STORE_PASSWORD" in err


def test_store_serve_prints_its_url_serves_shipstation_and_stops_on_sigterm(
    live_sandbox: Callable[[int], Any], tmp_path: Path
) -> None:
    live = live_sandbox(42)
    env = {
        **os.environ,
        "BACKMARKET_SHIPSTATION_STORE_USERNAME": USERNAME,
        "BACKMARKET_SHIPSTATION_STORE_PASSWORD": PASSWORD,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "backmarket_shipstation.cli", "store", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        url = ""
        for line in process.stdout:
            if line.strip().startswith("[default] http://"):
                url = line.split()[-1]
                break
        assert url.startswith("http://127.0.0.1:")
        params = {
            "action": "export",
            "start_date": "01/01/2000 00:00",
            "end_date": "12/31/2099 00:00",
        }
        answer = httpx.get(url, params=params, auth=(USERNAME, PASSWORD))
        assert answer.status_code == 200
        assert answer.text.count("<Order>") > 0
        assert httpx.get(url, params=params, auth=(USERNAME, "wrong")).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert PASSWORD not in out + err
    assert live.state.exists()
