"""Every sync setting in the TOML file, at the top or per account, and each kind of mistake
refused with the key and the value named."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from backmarket_shipstation.backmarket import OrderState
from backmarket_shipstation.errors import ConfigurationError
from backmarket_shipstation.mapping import Catalog, device_lines, every_single_unit_line
from backmarket_shipstation.shipstation import OrderStatus, Weight
from backmarket_shipstation.sync.catalog import FileCatalog, ShipStationCatalog
from backmarket_shipstation.sync.config import OPTION_KEYS, effective_settings, load_config

ENV = {"BM_EU": "t1", "BM_US": "t2", "SS_KEY": "k", "SS_SECRET": "s"}
ACCOUNT = """
backmarket_user_agent = "BM-Acme-ShipStation;ops@acme.example"
shipstation_api_key_env = "SS_KEY"
shipstation_api_secret_env = "SS_SECRET"
"""
EVERY_SETTING = f"""
state_path = "state.sqlite3"
accept_orders = false
order_key_prefix = "bm-"
overlap_minutes = 5
initial_lookback_days = 3
catalog = "products.csv"
requires_identifier = "every_single_unit_line"
notify_fulfillments = false
dry_run = false

[status_map.to_shipstation]
to_accept = "awaiting_payment"
3 = "awaiting_shipment"
shipped = "shipped"

[status_map.from_shipstation]
awaiting_shipment = "to_ship"

[carrier_map.carriers]
my_courier = "Colissimo"

[carrier_map.services]
dpd_uk_express = "DPD UK Express"

[[accounts]]
name = "eu"
backmarket_token_env = "BM_EU"
{ACCOUNT}
shipstation_store_id = 1

[[accounts]]
name = "us"
backmarket_token_env = "BM_US"
backmarket_region = "us"
{ACCOUNT}
shipstation_store_id = 2
order_key_prefix = "bm-us-"
catalog = "shipstation"
requires_identifier = "devices"
overlap_minutes = 15
notify_fulfillments = true
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "products.csv").write_text("sku,weight,location\nIP13,240 g,Bin 13\n")
    path = tmp_path / "sync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_setting_from_the_file_top_level_for_all_and_per_account(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, EVERY_SETTING), env=ENV)
    eu, us = (account.options for account in config.accounts)
    assert eu is not None
    assert us is not None
    assert (eu.accept_orders, us.accept_orders) == (False, False)
    assert (eu.order_key_prefix, us.order_key_prefix) == ("bm-", "bm-us-")
    assert (eu.overlap, us.overlap) == (timedelta(minutes=5), timedelta(minutes=15))
    assert eu.initial_lookback == timedelta(days=3) == us.initial_lookback
    assert isinstance(eu.catalog, FileCatalog)
    assert isinstance(us.catalog, ShipStationCatalog)
    loaded = eu.catalog.load(None)  # type: ignore[arg-type]  # a file needs no client
    assert isinstance(loaded, Catalog)
    assert loaded["ip13"].weight == Weight.grams(240)
    assert (eu.requires_identifier, us.requires_identifier) == (
        every_single_unit_line,
        device_lines,
    )
    assert (eu.notify_fulfillments, us.notify_fulfillments) == (False, True)
    assert eu.status_map.shipstation_status(OrderState.TO_ACCEPT) is OrderStatus.AWAITING_PAYMENT
    assert eu.status_map.backmarket_state(OrderStatus.AWAITING_SHIPMENT) is OrderState.TO_SHIP
    assert eu.carrier_map.shipper_for("my_courier").shipper == "Colissimo"
    assert eu.carrier_map.shipper_for("dpd", "dpd_uk_express").shipper == "DPD UK Express"
    assert eu.carrier_map.shipper_for("ups").shipper == "UPS"  # the defaults stay
    assert config.state_path == "state.sqlite3"
    shown = effective_settings(config.accounts[1])
    assert set(shown) == OPTION_KEYS
    assert shown["catalog"] == "shipstation"
    assert shown["carrier_map"]["services"] == {"dpd_uk_express": "DPD UK Express"}


MISTAKES = [
    ("state_pth = 'x'\n",
     "unknown setting 'state_pth' at the top of the file (did you mean 'state_path'?)"),
    ("overlap_minuts = 5\n",
     "unknown setting 'overlap_minuts' at the top of the file"
     " (did you mean 'overlap_minutes'?)"),
    ("overlap_minutes = 'ten'\n", "overlap_minutes must be a number, 0 or more (got 'ten')"),
    ("initial_lookback_days = -1\n", "initial_lookback_days must be a number, 0 or more (got -1)"),
    ("accept_orders = 'maybe'\n", "accept_orders must be true or false (got 'maybe')"),
    ("requires_identifier = 'phones'\n", "requires_identifier: unknown rule 'phones'"),
    ("catalog = 'missing.csv'\n", "catalog = 'missing.csv': cannot read catalog file"),
    ("catalog = 3\n", "catalog must be \"shipstation\" or a file path (got 3)"),
    ("[status_map.to_shipstation]\nto_accept = 'awaiting_shipmnt'\n",
     "status_map.to_shipstation.to_accept: 'awaiting_shipmnt' is not a ShipStation status"),
    ("[status_map.to_shipstation]\nto_packe = 'awaiting_shipment'\n",
     "status_map.to_shipstation: 'to_packe' is not a Back Market order state"),
    ("[status_map.to_shipstation]\n0 = 'awaiting_shipment'\n",
     "status_map.to_shipstation.0: state 0 must never be imported"),
    ("[status_map.from_shipstation]\nshipped = 'done'\n",
     "status_map.from_shipstation.shipped: 'done' is not a Back Market order state"),
    ("[status_map.into]\n", "status_map: unknown table 'into'"),
    ("[carrier_map.carriers]\nups = 'UPS Worldwide'\n",
     "carrier_map.carriers.ups: 'UPS Worldwide' is not a shipper Back Market lists"),
    ("[carrier_map.services]\ndpd_uk = 'DPD Uk'\n",
     "carrier_map.services.dpd_uk: 'DPD Uk' is not a shipper Back Market lists"
     " (did you mean 'DPD UK'?)"),
]  # fmt: skip


@pytest.mark.parametrize("per_account", [False, True])
@pytest.mark.parametrize(("setting", "message"), MISTAKES)
def test_each_kind_of_mistake_names_the_key_and_the_value(
    tmp_path: Path, setting: str, message: str, per_account: bool
) -> None:
    account = f'[[accounts]]\nname = "eu"\nbackmarket_token_env = "BM_EU"\n{ACCOUNT}'
    if not per_account:
        text = setting + account
    elif "[" in setting:
        text = account + setting.replace("[", "[accounts.", 1)
    else:
        text = account + setting
    if per_account and "unknown setting" in message:
        message = message.split(" at the top")[0].replace("unknown", "(eu): unknown")
    with pytest.raises(ConfigurationError) as caught:
        load_config(write(tmp_path, text), env=ENV)
    assert message in str(caught.value)
    if per_account:
        assert "accounts[0] (eu)" in str(caught.value)


def test_environment_users_are_not_told_about_accounts_0() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(env={"BACKMARKET_TOKEN": "t"})
    assert "accounts[0]" not in str(caught.value)
    assert "shipstation_api_key is missing (set it, or SHIPSTATION_API_KEY)" in str(caught.value)


def test_the_command_line_wins_for_dry_run_and_catalog(tmp_path: Path) -> None:
    path = write(tmp_path, EVERY_SETTING)
    config = load_config(path, env=ENV, overrides={"dry_run": True, "catalog": "shipstation"})
    for account in config.accounts:
        assert account.options is not None
        assert account.options.dry_run is True
        assert isinstance(account.options.catalog, ShipStationCatalog)
