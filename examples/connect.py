"""Open a Back Market and a ShipStation client: on the built-in sandbox, or on your accounts.

Every example imports :func:`open_clients` from here. With no environment variables the clients
talk to an in-process sandbox (seeded Back Market orders, a simulated ShipStation account,
virtual time): no credentials, no network. With these variables set they talk to your
accounts (the same variables as the ``backmarket-shipstation`` command, see docs/cli.md):

    BACKMARKET_TOKEN        Back Market integration token
    BACKMARKET_USER_AGENT   BM-{Company}-{Integration};{email}
    BACKMARKET_REGION       eu (default), us or ap
    SHIPSTATION_API_KEY     ShipStation V1 key pair
    SHIPSTATION_API_SECRET
    SHIPSTATION_STORE_ID    the ShipStation store connected to Back Market

Run on its own, it checks the connection (read-only: one page of orders from each side):

    .venv/bin/python examples/connect.py
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from backmarket_shipstation.backmarket import BackMarketClient
from backmarket_shipstation.clock import Clock, SystemClock, VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.shipstation import ShipStationClient
from backmarket_shipstation.sync import SyncConfig, Transports, load_config, sandbox_config

CREDENTIAL_VARIABLES = (
    "BACKMARKET_TOKEN",
    "BACKMARKET_USER_AGENT",
    "SHIPSTATION_API_KEY",
    "SHIPSTATION_API_SECRET",
)

# The sandbox's virtual time starts here, so every run prints the same orders.
SANDBOX_START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


@dataclass
class Connection:
    """Both clients, and what a sync run needs to reach the same place."""

    bm: BackMarketClient
    ss: ShipStationClient
    store_id: int | None
    config: SyncConfig
    clock: Clock
    sandbox: Sandbox | None
    """The simulated accounts, or ``None`` on real accounts."""
    transports: Transports | None
    """For ``run_sync(..., transports=...)``: the sandbox's in-process transports."""

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox is not None


def real_accounts_configured() -> bool:
    """True when the environment names real credentials (then examples use your accounts)."""
    return any(os.environ.get(name) for name in CREDENTIAL_VARIABLES)


@contextmanager
def open_clients(*, orders: int = 30, seed: int = 3) -> Iterator[Connection]:
    """Both clients, open for the ``with`` block, on the sandbox or on your accounts."""
    if real_accounts_configured():
        config = (
            load_config()
        )  # the environment variables above; a ConfigurationError names any gap
        account = config.accounts[0]
        clock: Clock = SystemClock()
        with (
            BackMarketClient(
                token=account.backmarket_token,
                user_agent=account.backmarket_user_agent,
                region=account.backmarket_region,
                sandbox=account.backmarket_sandbox,
                base_url=account.backmarket_base_url,
            ) as bm,
            ShipStationClient(
                api_key=account.shipstation_api_key,
                api_secret=account.shipstation_api_secret,
                base_url=account.shipstation_base_url,
            ) as ss,
        ):
            yield Connection(
                bm=bm,
                ss=ss,
                store_id=account.shipstation_store_id,
                config=config,
                clock=clock,
                sandbox=None,
                transports=None,
            )
        return

    clock = VirtualClock(SANDBOX_START)
    sandbox = Sandbox(seed=seed, orders=orders, clock=clock)
    with (
        BackMarketClient(
            token=sandbox.backmarket_token,
            user_agent=sandbox.backmarket_user_agent,
            transport=sandbox.backmarket_transport(),
            clock=clock,
        ) as bm,
        ShipStationClient(
            api_key=sandbox.shipstation_api_key,
            api_secret=sandbox.shipstation_api_secret,
            transport=sandbox.shipstation_transport(),
            clock=clock,
        ) as ss,
    ):
        yield Connection(
            bm=bm,
            ss=ss,
            store_id=sandbox.shipstation_store_id,
            config=sandbox_config(sandbox),
            clock=clock,
            sandbox=sandbox,
            transports=lambda _account: (
                sandbox.backmarket_transport(),
                sandbox.shipstation_transport(),
            ),
        )


def describe(connection: Connection) -> str:
    """One line saying where the example runs."""
    if connection.is_sandbox:
        return "on the built-in sandbox (no credentials; set BACKMARKET_TOKEN etc. for yours)"
    return "on YOUR accounts (credentials from the environment)"


def main() -> None:
    with open_clients() as connection:
        print(f"connected {describe(connection)}")
        bm_order = next(iter(connection.bm.orders.list()), None)
        print(
            "Back Market: "
            + (
                f"first order listed: {bm_order.order_id}"
                if bm_order
                else "no orders in the listing"
            )
        )
        ss_order = next(iter(connection.ss.orders.list(store_id=connection.store_id)), None)
        print(
            "ShipStation: "
            + (
                f"first order listed: {ss_order.order_number}"
                if ss_order
                else "no orders in the store yet"
            )
        )


if __name__ == "__main__":
    main()
