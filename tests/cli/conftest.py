"""Shared fixtures of the CLI tests: a clean environment and a served sandbox's settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backmarket_shipstation.sandbox import Sandbox, ServedSandbox

CONFIG_VARIABLES = (
    "BACKMARKET_TOKEN",
    "BACKMARKET_REGION",
    "BACKMARKET_USER_AGENT",
    "BACKMARKET_SANDBOX",
    "BACKMARKET_BASE_URL",
    "SHIPSTATION_API_KEY",
    "SHIPSTATION_API_SECRET",
    "SHIPSTATION_STORE_ID",
    "SHIPSTATION_BASE_URL",
    "BACKMARKET_SHIPSTATION_STATE",
    "BACKMARKET_SHIPSTATION_WEBHOOK_TOKEN",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer credentials leak into a test; relative state files land in tmp_path."""
    for name in CONFIG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


class LiveSandbox:
    """A served sandbox and the state file of the account the environment points at it."""

    def __init__(self, served: ServedSandbox, state: Path) -> None:
        self.served = served
        self.sandbox = served.sandbox
        self.state = state


@pytest.fixture
def live_sandbox(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Callable[[int], LiveSandbox]]:
    """Serve a real-time sandbox on loopback and configure the single account through
    environment variables, as a user would. Each test passes its own seed so that its
    ShipStation key pair, and with it the process-wide rate limiter, is its own."""
    started: list[ServedSandbox] = []

    def start(seed: int) -> LiveSandbox:
        sandbox = Sandbox(seed=seed, orders=6)
        served = sandbox.serve(deliver_webhooks=False)
        started.append(served)
        state = tmp_path / "state.sqlite3"
        monkeypatch.setenv("BACKMARKET_TOKEN", sandbox.backmarket_token)
        monkeypatch.setenv("BACKMARKET_USER_AGENT", sandbox.backmarket_user_agent)
        monkeypatch.setenv("BACKMARKET_BASE_URL", served.backmarket_url)
        monkeypatch.setenv("SHIPSTATION_API_KEY", sandbox.shipstation_api_key)
        monkeypatch.setenv("SHIPSTATION_API_SECRET", sandbox.shipstation_api_secret)
        monkeypatch.setenv("SHIPSTATION_BASE_URL", served.shipstation_url)
        monkeypatch.setenv("SHIPSTATION_STORE_ID", str(sandbox.shipstation_store_id))
        monkeypatch.setenv("BACKMARKET_SHIPSTATION_STATE", str(state))
        return LiveSandbox(served, state)

    yield start
    for served in started:
        served.stop()
