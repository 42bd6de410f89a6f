"""The asyncio clients: both APIs read concurrently, with the same throttles and retries.

    .venv/bin/python examples/async_clients.py

``AsyncBackMarketClient`` and ``AsyncShipStationClient`` take the same arguments as the
blocking clients; lists are async iterators that fetch page by page, and every call is
awaited. Requests of one client to one account share its rate limiter, so ``asyncio.gather``
never pushes either API past its limit: it only overlaps the waiting.

Read-only everywhere: on the sandbox (no credentials) and on your accounts (BACKMARKET_TOKEN
etc. set, see connect.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter

from connect import SANDBOX_START, real_accounts_configured

from backmarket_shipstation.backmarket import AsyncBackMarketClient, Order, OrderState
from backmarket_shipstation.clock import SystemClock, VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.shipstation import AsyncShipStationClient
from backmarket_shipstation.sync import load_config


def open_async_clients() -> tuple[AsyncBackMarketClient, AsyncShipStationClient, str]:
    """Both async clients, on your accounts or on the sandbox, and where they point."""
    if real_accounts_configured():
        account = load_config().accounts[0]
        clock = SystemClock()
        bm = AsyncBackMarketClient(
            token=account.backmarket_token,
            user_agent=account.backmarket_user_agent,
            region=account.backmarket_region,
            sandbox=account.backmarket_sandbox,
            base_url=account.backmarket_base_url,
            clock=clock,
        )
        ss = AsyncShipStationClient(
            api_key=account.shipstation_api_key,
            api_secret=account.shipstation_api_secret,
            base_url=account.shipstation_base_url,
            clock=clock,
        )
        return bm, ss, "your accounts"
    virtual = VirtualClock(SANDBOX_START)
    sandbox = Sandbox(seed=2, orders=40, clock=virtual)
    bm = AsyncBackMarketClient(
        token=sandbox.backmarket_token,
        user_agent=sandbox.backmarket_user_agent,
        transport=sandbox.backmarket_transport(),  # the same transport serves async clients
        clock=virtual,
    )
    ss = AsyncShipStationClient(
        api_key=sandbox.shipstation_api_key,
        api_secret=sandbox.shipstation_api_secret,
        transport=sandbox.shipstation_transport(),
        clock=virtual,
    )
    return bm, ss, "the built-in sandbox"


async def orders_in_state(bm: AsyncBackMarketClient, state: OrderState) -> list[Order]:
    return [order async for order in bm.orders.list(state=state)]


async def main() -> None:
    bm, ss, where = open_async_clients()
    print(f"async clients on {where}\n")
    async with bm, ss:
        # Three listings and one ShipStation call, all in flight together.
        to_accept, to_ship, shipped, stores = await asyncio.gather(
            orders_in_state(bm, OrderState.TO_ACCEPT),
            orders_in_state(bm, OrderState.TO_SHIP),
            orders_in_state(bm, OrderState.SHIPPED),
            ss.stores.list(),
        )
        print(f"Back Market: {len(to_accept)} to accept, {len(to_ship)} to ship, "
              f"{len(shipped)} shipped")  # fmt: skip
        print(f"ShipStation stores: {', '.join(s.store_name or '?' for s in stores)}")

        # Read the orders to ship one by one, concurrently (each a GET /ws/orders/{id}).
        fresh = await asyncio.gather(*(bm.orders.get(o.order_id) for o in to_ship[:5]))
        countries = Counter(order.country_code for order in fresh)
        print(f"re-read {len(fresh)} orders to ship; markets: {dict(countries)}")
        for order in fresh:
            devices = sum(line.quantity or 0 for line in order.lines)
            print(f"  {order.order_id}: {devices} unit(s), {order.price} {order.currency}, "
                  f"dispatch by {order.expected_dispatch_date}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
