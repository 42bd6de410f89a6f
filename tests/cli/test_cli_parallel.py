"""`sync --parallel N` on a configuration of several sellers (issue 15, item 2).

Each seller is a served sandbox of its own (its own token and key pair) on loopback, as a
user's TOML file would point at real accounts. One seller's refused key pair must not keep
the others from syncing, and the exit code must still say that a setting needs fixing.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from backmarket_shipstation import cli
from backmarket_shipstation.sandbox import Sandbox, ServedSandbox

ACCOUNT = """
[[accounts]]
name = "{name}"
backmarket_token = "{token}"
backmarket_user_agent = "{agent}"
backmarket_base_url = "{bm_url}"
shipstation_api_key = "{key}"
shipstation_api_secret = "{secret}"
shipstation_base_url = "{ss_url}"
shipstation_store_id = {store}
"""


@pytest.fixture
def sellers() -> Iterator[dict[str, ServedSandbox]]:
    served = {name: Sandbox(seed=61 + i, orders=5).serve(deliver_webhooks=False)
              for i, name in enumerate(("acme", "globex", "initech"))}  # fmt: skip
    yield served
    for server in served.values():
        server.stop()


def _config(
    tmp_path: Path, sellers: dict[str, ServedSandbox], *, refused: str = "", top: str = ""
) -> Path:
    parts = [f'state_path = "{tmp_path / "state.sqlite3"}"\n{top}']
    for name, served in sellers.items():
        sandbox = served.sandbox
        parts.append(
            ACCOUNT.format(
                name=name,
                token=sandbox.backmarket_token,
                agent=sandbox.backmarket_user_agent,
                bm_url=served.backmarket_url,
                key=sandbox.shipstation_api_key,
                secret="not-the-secret-0123" if name == refused else sandbox.shipstation_api_secret,
                ss_url=served.shipstation_url,
                store=sandbox.shipstation_store_id,
            )
        )
    path = tmp_path / "agency.toml"
    path.write_text("".join(parts), encoding="utf-8")
    return path


def test_one_refused_seller_is_reported_and_the_others_are_synced(
    tmp_path: Path, sellers: dict[str, ServedSandbox], capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, sellers, refused="globex")
    code = cli.main(["sync", "--config", str(config), "--parallel", "3", "--json"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG, captured.out + captured.err
    report = json.loads(captured.out)
    assert [a["account"] for a in report["accounts"]] == ["acme", "globex", "initech"]
    acme, globex, initech = report["accounts"]
    assert globex["error"]["error"] == "AuthenticationError"
    assert globex["imported"] == 0
    for account, name in ((acme, "acme"), (initech, "initech")):
        assert account["error"] is None
        assert account["imported"] == len(sellers[name].sandbox.shipstation.orders()) > 0
    assert report["exit_code"] == cli.EXIT_CONFIG
    assert "[globex] credentials refused" in captured.err
    assert "not-the-secret-0123" not in captured.out + captured.err
    assert "Traceback" not in captured.err


def test_watch_goes_on_while_some_seller_can_progress(
    tmp_path: Path, sellers: dict[str, ServedSandbox], capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, sellers, refused="globex")
    runs = 0
    real_sync_live = cli._sync_live

    def counting(*args: object) -> int:
        nonlocal runs
        runs += 1
        if runs == 2:  # the watch did not stop at the refused seller: end it as a user would
            os.kill(os.getpid(), signal.SIGTERM)
        return real_sync_live(*args)  # type: ignore[arg-type]

    guard = threading.Timer(60, os.kill, (os.getpid(), signal.SIGINT))
    guard.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cli, "_sync_live", counting)
            code = cli.main(
                [
                    "sync",
                    "--config",
                    str(config),
                    "--parallel",
                    "2",
                    "--watch",
                    "--interval",
                    "0.01",
                ]
            )
    finally:
        guard.cancel()
    assert runs == 2
    assert code == cli.EXIT_CONFIG, "the last run's code: a seller's settings to fix"
    assert capsys.readouterr().err.count("[globex] credentials refused") == 2


def test_watch_ends_when_every_seller_is_refused(
    tmp_path: Path, sellers: dict[str, ServedSandbox], capsys: pytest.CaptureFixture[str]
) -> None:
    only = {"globex": sellers["globex"]}
    config = _config(tmp_path, only, refused="globex")
    guard = threading.Timer(60, os.kill, (os.getpid(), signal.SIGTERM))
    guard.start()
    try:
        code = cli.main(["sync", "--config", str(config), "--watch", "--interval", "0.01"])
    finally:
        guard.cancel()
    assert code == cli.EXIT_CONFIG
    assert "credentials refused" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "top", "message"),
    [
        (["--parallel", "0"], "", "must be 1 or more"),
        ([], "parallel = 0\n", "parallel must be a whole number, 1 or more (got 0)"),
        ([], 'parallel = "four"\n', "parallel must be a whole number"),
    ],
)
def test_a_bad_parallel_setting_is_exit_2(
    tmp_path: Path,
    sellers: dict[str, ServedSandbox],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    top: str,
    message: str,
) -> None:
    config = _config(tmp_path, sellers, top=top)
    assert cli.main(["sync", "--config", str(config), *argv]) == cli.EXIT_CONFIG
    assert message in capsys.readouterr().err


def test_the_files_parallel_setting_is_shown_by_config_check(
    tmp_path: Path, sellers: dict[str, ServedSandbox], capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, sellers, top="parallel = 3\n")
    assert cli.main(["config", "check", "--config", str(config), "--json"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["parallel"] == 3
