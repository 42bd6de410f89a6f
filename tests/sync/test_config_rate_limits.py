"""Which runs share their rate budgets, as the configuration says: through a PostgreSQL
state unless turned off, Back Market's budget per token or per host."""

from __future__ import annotations

from pathlib import Path

import pytest

from backmarket_shipstation.errors import ConfigurationError
from backmarket_shipstation.rate_limits import RateLimitSettings
from backmarket_shipstation.sync.config import load_config

ENV = {"BM_EU": "t1", "BM_US": "t2", "SS_KEY": "k", "SS_SECRET": "s"}
PG = "postgresql://sync:pw@db.internal/state"
ACCOUNTS = """
[[accounts]]
name = "eu"
backmarket_token_env = "BM_EU"
backmarket_user_agent = "BM-Acme-ShipStation;ops@acme.example"
shipstation_api_key_env = "SS_KEY"
shipstation_api_secret_env = "SS_SECRET"

[[accounts]]
name = "us"
backmarket_token_env = "BM_US"
backmarket_region = "us"
backmarket_user_agent = "BM-Acme-ShipStation;ops@acme.example"
shipstation_api_key_env = "SS_KEY"
shipstation_api_secret_env = "SS_SECRET"
"""


def load(tmp_path: Path, top: str, env: dict[str, str] | None = None) -> list[object]:
    path = tmp_path / "sync.toml"
    path.write_text(top + ACCOUNTS, encoding="utf-8")
    config = load_config(path, env={**ENV, **(env or {})})
    return [account.rate_limits for account in config.accounts]


def test_a_postgresql_state_shares_every_accounts_budgets_by_default(tmp_path: Path) -> None:
    assert (
        load(tmp_path, f'state_path = "{PG}"\n')
        == [RateLimitSettings(state_url=PG, backmarket_scope="token", host=None)] * 2
    )


def test_a_sqlite_state_keeps_budgets_in_each_process(tmp_path: Path) -> None:
    assert load(tmp_path, 'state_path = "state.sqlite3"\n') == [None, None]


def test_shared_rate_limits_false_opts_out(tmp_path: Path) -> None:
    assert load(tmp_path, f'state_path = "{PG}"\nshared_rate_limits = false\n') == [None, None]
    env = {"BACKMARKET_SHIPSTATION_SHARED_RATE_LIMITS": "0"}
    assert load(tmp_path, f'state_path = "{PG}"\n', env) == [None, None]


def test_per_host_scope_and_its_name_from_the_file_or_the_environment(tmp_path: Path) -> None:
    top = f'state_path = "{PG}"\nbackmarket_rate_limit_scope = "host"\nrate_limit_host = "nat-1"\n'
    chosen = load(tmp_path, top)
    assert chosen == [RateLimitSettings(state_url=PG, backmarket_scope="host", host="nat-1")] * 2
    env = {"BACKMARKET_RATE_LIMIT_SCOPE": "host", "BACKMARKET_SHIPSTATION_RATE_LIMIT_HOST": "eg"}
    assert (
        load(tmp_path, f'state_path = "{PG}"\n', env)
        == [RateLimitSettings(state_url=PG, backmarket_scope="host", host="eg")] * 2
    )


def test_the_settings_never_show_the_state_password(tmp_path: Path) -> None:
    (chosen, _) = load(tmp_path, f'state_path = "{PG}"\n')
    assert "pw" not in repr(chosen)


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ('backmarket_rate_limit_scope = "ip"', "backmarket_rate_limit_scope"),
        ('shared_rate_limits = "maybe"', "shared_rate_limits"),
        ("rate_limit_host = 7", "rate_limit_host"),
    ],
)
def test_a_wrong_setting_is_refused_by_name(tmp_path: Path, line: str, named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        load(tmp_path, f'state_path = "{PG}"\n{line}\n')
