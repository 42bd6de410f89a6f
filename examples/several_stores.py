"""Several Back Market accounts, each into its own ShipStation store, in one run.

    .venv/bin/python examples/several_stores.py
    # a DRY RUN on your accounts:
    BACKMARKET_SHIPSTATION_CONFIG=sync.toml .venv/bin/python examples/several_stores.py

A seller with an EU and a US Back Market account describes both in one TOML file. Secrets stay
in environment variables (``backmarket_token_env = "BM_EU_TOKEN"`` names the variable). Each
account has its own cursors, its own failures and its own part of the report, and only the
shipments of its own ShipStation store are sent back to it. The same order id may exist on
both platforms: they never mix.

On the sandbox it writes the TOML below to a temporary directory, loads it with two simulated
accounts' credentials in a fake environment, and syncs both. With
BACKMARKET_SHIPSTATION_CONFIG set, it loads your file and runs a DRY RUN of every account:
it reads everything and writes nothing (the report lists the writes it would make).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx
from connect import SANDBOX_START

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync import AccountConfig, SyncOptions, load_config, run_sync

SYNC_TOML = """\
state_path = "{state}"

[[accounts]]
name = "eu"
backmarket_region = "eu"
backmarket_token_env = "BM_EU_TOKEN"
backmarket_user_agent = "BM-Acme-ShipStation;ops@acme.example"
shipstation_api_key_env = "SS_EU_KEY"
shipstation_api_secret_env = "SS_EU_SECRET"
shipstation_store_id = {eu_store}

[[accounts]]
name = "us"
backmarket_region = "us"
backmarket_token_env = "BM_US_TOKEN"
backmarket_user_agent = "BM-Acme-ShipStation;ops@acme.example"
shipstation_api_key_env = "SS_US_KEY"
shipstation_api_secret_env = "SS_US_SECRET"
shipstation_store_id = {us_store}
accept_orders = false   # this account's orders are accepted in the back office
"""


def sandbox_run() -> int:
    clock = VirtualClock(SANDBOX_START)
    # Two simulated Back Market accounts, each with its ShipStation store (the sandbox gives
    # each its own simulated ShipStation). Their order ids overlap, as they may in real life.
    sandboxes = {
        "eu": Sandbox(seed=3, orders=15, clock=clock),
        "us": Sandbox(
            seed=4, orders=10, clock=clock, shipstation_options={"backmarket_store_id": 310002}
        ),
    }
    eu, us = sandboxes["eu"], sandboxes["us"]
    fake_environment = {
        "BM_EU_TOKEN": eu.backmarket_token,
        "SS_EU_KEY": eu.shipstation_api_key,
        "SS_EU_SECRET": eu.shipstation_api_secret,
        "BM_US_TOKEN": us.backmarket_token,
        "SS_US_KEY": us.shipstation_api_key,
        "SS_US_SECRET": us.shipstation_api_secret,
    }

    def transports(account: AccountConfig) -> tuple[httpx.BaseTransport, httpx.BaseTransport]:
        sandbox = sandboxes[account.name]
        return sandbox.backmarket_transport(), sandbox.shipstation_transport()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sync.toml"
        path.write_text(
            SYNC_TOML.format(
                state=(Path(tmp) / "state.sqlite3").as_posix(),
                eu_store=eu.shipstation_store_id,
                us_store=us.shipstation_store_id,
            )
        )
        print(f"sync.toml:\n{path.read_text()}")
        config = load_config(path, env=fake_environment)
        for account in config.accounts:  # secrets are never in a repr
            print(f"loaded: {account!r}")
        print()
        report = run_sync(config, clock=clock, transports=transports)
    print(report.to_text())
    for name, sandbox in sandboxes.items():
        numbers = sorted(o["orderNumber"] for o in sandbox.shipstation.orders())
        print(f"{name} ShipStation store {sandbox.shipstation_store_id}: {', '.join(numbers)}")
    return report.exit_code


def main() -> int:
    path = os.environ.get("BACKMARKET_SHIPSTATION_CONFIG")
    if path:
        print(f"DRY RUN of every account of {path} (nothing is written)")
        config = load_config(path)
        # Per account, so that each keeps its own accept_orders setting.
        options = {
            account.name: SyncOptions(
                dry_run=True,
                accept_orders=account.accept_orders,
                overlap=config.overlap,
                initial_lookback=config.initial_lookback,
            )
            for account in config.accounts
        }
        report = run_sync(config, options=options)
        print(report.to_text())
        return report.exit_code
    return sandbox_run()


if __name__ == "__main__":
    raise SystemExit(main())
