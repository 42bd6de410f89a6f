"""A PostgreSQL state from the command line: sync, status, state migrate, state copy.

A seller moving to two servers runs ``state copy`` from the SQLite file to the database,
points ``--state`` (or ``BACKMARKET_SHIPSTATION_STATE``) at the URL and syncs on; the
password in that URL is never printed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backmarket_shipstation import cli
from backmarket_shipstation.sync.state import open_store

PASSWORD = "pg-pass-very-secret"


def secret_url(url: str) -> str:
    """The server trusts loopback, so a password in the URL is accepted and ignored."""
    return url.replace("postgresql://bmss@", f"postgresql://bmss:{PASSWORD}@", 1)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    assert PASSWORD not in captured.out + captured.err
    return code, captured.out, captured.err


def test_sync_and_status_on_a_postgresql_state(
    postgres_url: str,
    live_sandbox: Callable[[int], Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = live_sandbox(611)
    url = secret_url(postgres_url)
    monkeypatch.setenv("BACKMARKET_SHIPSTATION_STATE", url)
    code, out, _ = run(capsys, "sync", "--json")
    assert code == cli.EXIT_OK
    imported = json.loads(out)["accounts"][0]["imported"]
    assert imported > 0
    assert not live.state.exists(), "the state went to PostgreSQL, not to a file"

    code, out, _ = run(capsys, "status", "--json")
    assert code == cli.EXIT_OK
    status = json.loads(out)
    assert status["state"] == url.replace(PASSWORD, "***")
    (account,) = status["accounts"]
    assert account["cursors"]["import"] is not None

    code, out, _ = run(capsys, "status", "--state", url)
    assert code == cli.EXIT_OK
    assert "bmss:***@" in out
    # A second run finds every order known: nothing imported twice.
    code, out, _ = run(capsys, "sync", "--json")
    assert code == cli.EXIT_OK
    assert json.loads(out)["accounts"][0]["imported"] == 0


def test_state_migrate_creates_then_finds_the_schema_current(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = secret_url(postgres_url)
    code, out, _ = run(capsys, "state", "migrate", "--state", url)
    assert code == cli.EXIT_OK
    assert "schema version 0 -> " in out
    assert "bmss:***@" in out
    code, out, _ = run(capsys, "state", "migrate", "--state", url, "--json")
    assert code == cli.EXIT_OK
    result = json.loads(out)
    assert result["before"] == result["after"] >= 1


def test_status_of_an_empty_database_says_nothing_was_synced(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "status", "--state", secret_url(postgres_url))
    assert code == cli.EXIT_CONFIG
    assert "nothing synced yet" in err


def test_state_copy_to_postgresql_and_back_keeps_pending_writes(
    postgres_url: str,
    live_sandbox: Callable[[int], Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = live_sandbox(612)
    assert run(capsys, "sync", "--json")[0] == cli.EXIT_OK
    with open_store(str(live.state)) as store:
        # A run died mid-write: its ship write is pending, for the next run to settle.
        (record, *_) = list(store.all_orders())
        from backmarket_shipstation.sync.store import WriteRecord

        store.put_write(
            WriteRecord(
                account=record.account,
                bm_order_id=record.bm_order_id,
                key="ship",
                status="pending",
                source="shipment:1",
                updated_at=record.updated_at,
            )
        )
    url = secret_url(postgres_url)
    code, out, _ = run(capsys, "state", "copy", str(live.state), url, "--json")
    assert code == cli.EXIT_OK
    copied = json.loads(out)
    assert copied["pending_writes"] == 1
    assert copied["orders"] == len(live.sandbox.shipstation.orders())
    back = tmp_path / "back.sqlite3"
    code, out, _ = run(capsys, "state", "copy", url, f"sqlite:///{back}")
    assert code == cli.EXIT_OK
    assert "1 pending" in out
    with open_store(str(live.state), read_only=True) as a, open_store(str(back)) as b:
        assert list(a.all_orders()) == list(b.all_orders())
        assert a.all_writes() == b.all_writes()
        assert a.all_cursors() == b.all_cursors()

    # Once more into the same database: refused, nothing merged.
    code, _, err = run(capsys, "state", "copy", str(live.state), url)
    assert code == cli.EXIT_CONFIG
    assert "not empty" in err
    assert "bmss:***@" in err


def test_state_copy_of_a_missing_file_is_refused_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "state", "copy", "nowhere.sqlite3", str(tmp_path / "t.sqlite3"))
    assert code == cli.EXIT_CONFIG
    assert "no such state file" in err
    assert not (tmp_path / "nowhere.sqlite3").exists()
    assert not (tmp_path / "t.sqlite3").exists()


def test_an_unreachable_database_stops_with_exit_3_and_no_password(
    postgres_server: object, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://sync:{PASSWORD}@127.0.0.1:1/state?connect_timeout=3"
    code, _, err = run(capsys, "status", "--state", url)
    assert code == cli.EXIT_API_ERROR
    assert "sync:***@127.0.0.1:1" in err


def test_without_the_postgres_extra_the_error_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    code, _, err = run(capsys, "state", "migrate", "--state", "postgresql://db/state")
    assert code == cli.EXIT_CONFIG
    assert "pip install 'backmarket-shipstation[postgres]'" in err


def test_config_check_masks_the_password_of_the_state_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sync.toml"
    path.write_text(
        f'state_path = "postgresql://sync:{PASSWORD}@db.internal:5432/bm"\n'
        "[[accounts]]\n"
        'name = "eu"\n'
        'backmarket_token = "t"\n'
        'backmarket_user_agent = "BM-Acme-ShipStation;ops@acme.example"\n'
        'shipstation_api_key = "k"\n'
        'shipstation_api_secret = "s"\n',
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "config", "check", "--config", str(path))
    assert code == cli.EXIT_OK
    assert 'state_path = "postgresql://sync:***@db.internal:5432/bm"' in out
