"""The command when another run holds the account: skipped and said so, waited for on request.

A seller's cron starts ``sync`` while a ``--watch`` service (or the previous cron run) still
holds the account's lease in the shared state file. Here that other run is a lease written
into the state file as a live run would hold it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from backmarket_shipstation import cli
from backmarket_shipstation.sync import SQLiteStore


def _hold(state: Any, *, seconds: float, account: str = "default") -> None:
    with SQLiteStore(state) as store:
        lease = store.acquire_lease(
            account,
            "watch-service",
            host="web1",
            pid=4242,
            ttl=timedelta(seconds=seconds),
            now=datetime.now(timezone.utc),
        )
        assert lease is not None


def test_sync_skips_an_account_another_run_holds_and_exits_0(
    live_sandbox: Callable[[int], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    live = live_sandbox(1401)
    assert cli.main(["sync"]) == cli.EXIT_OK  # the service has been syncing the account
    capsys.readouterr()
    _hold(live.state, seconds=600)

    assert cli.main(["sync"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith(
        "[default] skipped: another run holds this account (web1, pid 4242, since "
    )

    assert cli.main(["sync", "--json"]) == cli.EXIT_OK
    (account,) = json.loads(capsys.readouterr().out)["accounts"]
    assert account["held_by"]["host"] == "web1"
    assert account["held_by"]["pid"] == 4242
    assert (account["imported"], account["failed"]) == (0, 0)

    assert cli.main(["status", "--json"]) == cli.EXIT_OK
    (status,) = json.loads(capsys.readouterr().out)["accounts"]
    assert status["lease"]["text"].startswith("web1, pid 4242, since ")
    assert status["lease"]["expired"] is False
    assert cli.main(["status"]) == cli.EXIT_OK
    assert "  lease: held by web1, pid 4242, since " in capsys.readouterr().out


def test_sync_waits_for_a_lease_that_expires_then_takes_the_account_over(
    live_sandbox: Callable[[int], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    live = live_sandbox(1402)
    _hold(live.state, seconds=1)  # a run that died a moment ago

    assert cli.main(["sync", "--json", "--wait-for-lease", "20"]) == cli.EXIT_OK
    (account,) = json.loads(capsys.readouterr().out)["accounts"]
    assert account["held_by"] is None
    assert account["imported"] > 0

    # Given back: free for the next run, and status says so.
    assert cli.main(["status"]) == cli.EXIT_OK
    assert "  lease: free (no run holds this account)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "value"),
    [("--lease-expiry", "0.5"), ("--lease-expiry", "-3"), ("--wait-for-lease", "soon")],
)
def test_lease_options_out_of_range_are_usage_errors(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["sync", option, value]) == 2
    assert option in capsys.readouterr().err


def test_the_lease_settings_of_the_file_apply(
    live_sandbox: Callable[[int], Any], tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    live = live_sandbox(1403)
    config = tmp_path / "sync.toml"
    config.write_text("lease_expiry_seconds = 0.5\n", encoding="utf-8")
    assert cli.main(["sync", "--config", str(config)]) == 2
    assert "lease_expiry_seconds must be 1 or more" in capsys.readouterr().err
    config.write_text("lease_expiry_seconds = 5\nwait_for_lease_seconds = 20\n", encoding="utf-8")
    _hold(live.state, seconds=1)
    assert cli.main(["sync", "--config", str(config), "--json"]) == cli.EXIT_OK
    (account,) = json.loads(capsys.readouterr().out)["accounts"]
    assert account["held_by"] is None
    assert account["imported"] > 0
