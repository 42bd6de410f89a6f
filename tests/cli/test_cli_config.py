"""``backmarket-shipstation config check``: the effective configuration, secrets masked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backmarket_shipstation import cli

TOKEN = "bm-token-very-secret-4c1d"
CONFIG = """
catalog = "shipstation"
overlap_minutes = 5

[status_map.to_shipstation]
to_accept = "awaiting_payment"

[[accounts]]
name = "eu"
backmarket_token_env = "BM_EU"
backmarket_user_agent = "BM-Acme-ShipStation;ops@acme.example"
shipstation_api_key = "ss-key-very-secret"
shipstation_api_secret = "ss-secret-very-secret"
shipstation_store_id = 518236

[accounts.carrier_map.services]
dpd_uk_express = "DPD UK Express"
"""


def test_config_check_prints_the_effective_settings_with_secrets_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BM_EU", TOKEN)
    path = tmp_path / "sync.toml"
    path.write_text(CONFIG, encoding="utf-8")
    assert cli.main(["config", "check", "--config", str(path)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    for secret in (TOKEN, "ss-key-very-secret", "ss-secret-very-secret"):
        assert secret not in out
    assert f'backmarket_token = "*** ({len(TOKEN)} characters)"' in out
    assert 'catalog = "shipstation"' in out
    assert "overlap_minutes = 5" in out
    assert "initial_lookback_days = 14" in out  # a default, filled in
    assert 'status_map.to_shipstation = { to_accept = "awaiting_payment"' in out
    assert 'carrier_map.services = { dpd_uk_express = "DPD UK Express" }' in out
    assert 'shipstation_base_url = "https://ssapi.shipstation.com"' in out

    assert cli.main(["config", "check", "--config", str(path), "--json"]) == cli.EXIT_OK
    described = json.loads(capsys.readouterr().out)
    (account,) = described["accounts"]
    assert account["name"] == "eu"
    assert account["requires_identifier"] == "devices"
    assert TOKEN not in json.dumps(described)


def test_config_check_lists_every_mistake_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sync.toml"
    path.write_text(
        'state_pth = "x"\n[carrier_map.carriers]\nups = "UPS Worldwide"\n', encoding="utf-8"
    )
    assert cli.main(["config", "check", "--config", str(path)]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert "unknown setting 'state_pth'" in err
    assert "carrier_map.carriers.ups: 'UPS Worldwide' is not a shipper Back Market lists" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("top", "expected", "absent"),
    [
        ('state_path = "state.sqlite3"\n', ["shared_rate_limits = false"], "scope"),
        (
            'state_path = "postgresql://sync@db.internal/bm"\n',
            ["shared_rate_limits = true", 'backmarket_rate_limit_scope = "token"'],
            "rate_limit_host",
        ),
        (
            'state_path = "postgresql://sync@db.internal/bm"\n'
            'backmarket_rate_limit_scope = "host"\nrate_limit_host = "nat-eu-1"\n',
            ['backmarket_rate_limit_scope = "host"', 'rate_limit_host = "nat-eu-1"'],
            "shared_rate_limits = false",
        ),
    ],
)
def test_config_check_says_how_rate_budgets_are_shared(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    top: str,
    expected: list[str],
    absent: str,
) -> None:
    monkeypatch.setenv("BM_EU", TOKEN)
    path = tmp_path / "sync.toml"
    path.write_text(top + CONFIG, encoding="utf-8")
    assert cli.main(["config", "check", "--config", str(path)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    for line in expected:
        assert line in out.splitlines()
    assert absent not in out


def test_config_check_warns_of_accounts_whose_orders_would_overwrite_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An agency's EU and US sellers in one ShipStation account, both left on the default
    # order_key_prefix: an order id both platforms have would become one ShipStation order.
    monkeypatch.setenv("BM_EU", TOKEN)
    us = CONFIG.split("[[accounts]]")[1].split("[accounts.carrier_map")[0]
    us = us.replace('name = "eu"', 'name = "us"\nbackmarket_region = "us"')
    us = us.replace("518236", "518237")
    path = tmp_path / "sync.toml"
    path.write_text(CONFIG + "\n[[accounts]]" + us, encoding="utf-8")
    assert cli.main(["config", "check", "--config", str(path)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    warning = (
        "# warning: accounts eu, us share a ShipStation key pair and the order_key_prefix"
        " 'backmarket-': an order id both have becomes one ShipStation order; give each"
        " account its own order_key_prefix"
    )
    assert warning in out.splitlines()

    path.write_text(
        CONFIG
        + "\n[[accounts]]"
        + us.replace('name = "us"', 'name = "us"\norder_key_prefix = "us-"'),
        encoding="utf-8",
    )
    assert cli.main(["config", "check", "--config", str(path), "--json"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["warnings"] == []
