"""Sync configuration: environment, TOML, arguments, validation, secrets kept out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from backmarket_shipstation.backmarket.client import validate_user_agent
from backmarket_shipstation.backmarket.regions import Region
from backmarket_shipstation.errors import ConfigurationError
from backmarket_shipstation.sync.config import load_config

ENV = {
    "BACKMARKET_TOKEN": "bm-token-very-secret",
    "BACKMARKET_REGION": "US",
    "BACKMARKET_USER_AGENT": "BM-Acme-ShipStation;ops@acme.example",
    "SHIPSTATION_API_KEY": "ss-key-very-secret",
    "SHIPSTATION_API_SECRET": "ss-secret-very-secret",
    "SHIPSTATION_STORE_ID": "518236",
}


def test_single_account_from_environment() -> None:
    config = load_config(env=ENV)
    (account,) = config.accounts
    assert account.name == "default"
    assert account.backmarket_region is Region.US
    assert account.shipstation_store_id == 518236
    assert account.accept_orders is True


def test_secrets_never_appear_in_reprs() -> None:
    config = load_config(env=ENV)
    text = repr(config) + str(config)
    for secret in ("bm-token-very-secret", "ss-key-very-secret", "ss-secret-very-secret"):
        assert secret not in text


def test_arguments_override_environment() -> None:
    config = load_config(env=ENV, overrides={"shipstation_store_id": 7, "state_path": "x.db"})
    assert config.accounts[0].shipstation_store_id == 7
    assert config.state_path == "x.db"


def test_every_problem_is_listed_and_no_secret_is_echoed() -> None:
    env = {
        "BACKMARKET_TOKEN": "bm-token-very-secret",
        "BACKMARKET_REGION": "mars",
        "BACKMARKET_USER_AGENT": "python-requests/2.0",
        "SHIPSTATION_STORE_ID": "main",
    }
    with pytest.raises(ConfigurationError) as caught:
        load_config(env=env)
    message = str(caught.value)
    for expected in (
        "shipstation_api_key is missing",
        "shipstation_api_secret is missing",
        "backmarket_region must be eu, us or ap",
        "BM-{Company}-{Integration};",
        "shipstation_store_id must be a number",
    ):
        assert expected in message
    assert "bm-token-very-secret" not in message


def test_several_accounts_from_toml_with_env_references(tmp_path: Path) -> None:
    path = tmp_path / "sync.toml"
    path.write_text(
        """
state_path = "state.sqlite3"
overlap_minutes = 5

[[accounts]]
name = "eu"
backmarket_token_env = "BM_EU"
backmarket_region = "eu"
backmarket_user_agent = "BM-Acme-ShipStation;ops@acme.example"
shipstation_api_key_env = "SS_KEY"
shipstation_api_secret_env = "SS_SECRET"
shipstation_store_id = 1

[[accounts]]
name = "us"
backmarket_token_env = "BM_US"
backmarket_region = "us"
backmarket_user_agent = "BM-Acme-ShipStation;ops@acme.example"
shipstation_api_key_env = "SS_KEY"
shipstation_api_secret_env = "SS_SECRET"
shipstation_store_id = 2
accept_orders = false
""",
        encoding="utf-8",
    )
    env = {"BM_EU": "t1", "BM_US": "t2", "SS_KEY": "k", "SS_SECRET": "s"}
    config = load_config(path, env=env)
    assert [(a.name, a.backmarket_region, a.shipstation_store_id) for a in config.accounts] == [
        ("eu", Region.EU, 1),
        ("us", Region.US, 2),
    ]
    assert config.accounts[1].accept_orders is False
    assert config.overlap.total_seconds() == 300
    assert config.state_path == "state.sqlite3"


def test_unset_env_reference_and_unknown_key_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "sync.toml"
    path.write_text('[[accounts]]\nbackmarket_token_env = "NOPE"\ncolour = "red"\n')
    with pytest.raises(ConfigurationError) as caught:
        load_config(path, env={})
    assert "environment variable NOPE is unset" in str(caught.value)
    assert "unknown setting 'colour'" in str(caught.value)


def test_bad_toml_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "sync.toml"
    path.write_text("accounts = [")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_config(path, env=ENV)


@pytest.mark.parametrize(
    "user_agent",
    ["BM-Acme-ShipStation;ops@acme.example", "BM-bouygues-automations;contact@bouygues.fr"],
)
def test_documented_user_agents_are_accepted(user_agent: str) -> None:
    assert validate_user_agent(user_agent) == user_agent


@pytest.mark.parametrize(
    "user_agent", ["", "ops@acme.example", "BM-Acme;ops@acme.example", "BM-Acme-Sync;nobody"]
)
def test_malformed_user_agents_are_refused(user_agent: str) -> None:
    with pytest.raises(ConfigurationError):
        validate_user_agent(user_agent)
