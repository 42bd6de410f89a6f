"""The Custom Store configuration: credentials from the environment or the file, never shown."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from backmarket_shipstation.customstore.config import load_store_config
from backmarket_shipstation.customstore.feed import ExportFeed
from backmarket_shipstation.errors import ConfigurationError

TOKEN = "dG9rZW4tZm9yLXRlc3Rz"
AGENT = "BM-Acme-ShipStation;ops@acme.example"


def test_credentials_from_the_environment_win_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'state_path = "s.sqlite3"\n'
        '[store]\nusername = "from-file"\npassword = "file-password"\nrefresh_seconds = 30\n'
        '[store.statuses]\npaid = "Ready to ship"\n'
        f'[[accounts]]\nname = "eu"\nbackmarket_token = "{TOKEN}"\n'
        f'backmarket_user_agent = "{AGENT}"\nshipstation_api_key = "ignored here"\n'
        f'[[accounts]]\nname = "us"\nbackmarket_token_env = "BM_US"\n'
        f'backmarket_user_agent = "{AGENT}"\nbackmarket_region = "us"\naccept_orders = false\n',
        encoding="utf-8",
    )
    env = {
        "BACKMARKET_SHIPSTATION_STORE_USERNAME": "from-env",
        "BACKMARKET_SHIPSTATION_STORE_PASSWORD": "env-password",
        "BM_US": TOKEN,
    }
    config = load_store_config(path, env=env)
    assert config.credentials.matches("from-env", "env-password")
    assert [a.name for a in config.accounts] == ["eu", "us"]
    assert config.accounts[1].accept_orders is False
    assert config.statuses.paid == "Ready to ship"
    assert config.refresh_interval == timedelta(seconds=30)
    assert config.state_path == "s.sqlite3"
    for secret in ("env-password", TOKEN):
        assert secret not in repr(config)


def test_credentials_from_the_file_and_env_references(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[store]\nusername = "ss"\npassword_env = "MY_STORE_PW"\n', encoding="utf-8")
    env = {"MY_STORE_PW": "pw-1", "BACKMARKET_TOKEN": TOKEN, "BACKMARKET_USER_AGENT": AGENT}
    config = load_store_config(path, env=env)
    assert config.credentials.matches("ss", "pw-1")
    assert config.accounts[0].name == "default"


def test_every_problem_is_listed_and_no_secret_shown(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[store]\npassword = "leaky-secret"\nrequests_per_minute = 0\ncolour = "blue"\n'
        '[store.statuses]\npaid = ""\n'
        '[[accounts]]\nname = "a/b"\nbackmarket_user_agent = "nope"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError) as caught:
        load_store_config(path, env={})
    message = str(caught.value)
    assert "username is missing" in message
    assert "requests_per_minute must be a positive whole number" in message
    assert "unknown setting 'colour'" in message
    assert "store.statuses" in message
    assert "backmarket_token is missing" in message
    assert "leaky-secret" not in message


def test_old_versions_are_pruned_but_each_orders_latest_is_kept(tmp_path: Path) -> None:
    day = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with ExportFeed(tmp_path / "feed.sqlite3") as feed:
        for n in range(3):
            feed.put("a", 1, digest=str(n), recorded_at=day + timedelta(days=n),
                     fragment=f"<Order>{n}</Order>", bm_snapshot="{}")  # fmt: skip
        assert feed.prune("a", day + timedelta(days=10)) == 2
        old_window = feed.page("a", day, day + timedelta(hours=1), 1)
        assert old_window.orders == ()
        latest = feed.page("a", day + timedelta(days=2), day + timedelta(days=3), 1)
        assert latest.orders == ("<Order>2</Order>",)
