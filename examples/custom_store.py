"""Back Market as a ShipStation Custom Store: ShipStation pulls the orders, pushes the labels.

    pip install 'backmarket-shipstation[customstore]'
    python examples/custom_store.py

On the built-in sandbox (no credentials), over real loopback HTTP:

1. the store reads the sandbox's Back Market orders into its export feed (accepting the paid
   ones) and serves them at ``http://127.0.0.1:<port>/sandbox``;
2. a simulated ShipStation exports them page by page, with the credentials typed in its
   Custom Store form (HTTP Basic here; the ``SS-UserName``/``SS-Password`` query parameters
   and headers work too);
3. a label is bought for one order and ShipStation posts its ``<ShipNotice>``, first without
   the IMEI in the Internal Notes (refused with a 400: nothing reaches Back Market, the
   failure shows in ``backmarket-shipstation status``), then with it, then once more (a
   retry: 200, nothing written twice).

``backmarket-shipstation store serve --config store.toml`` serves your real accounts;
docs/guides/custom-store.md sets it up in ShipStation step by step.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.customstore import StoreCredentials
from backmarket_shipstation.customstore.config import StoreAccountConfig, StoreConfig
from backmarket_shipstation.customstore.sandbox_run import identifier_notes
from backmarket_shipstation.customstore.server import StoreServer, build_store
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sandbox.customstore_client import CustomStoreClient
from backmarket_shipstation.sync import SQLiteStore


def main() -> int:
    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    sandbox = Sandbox(seed=5, orders=30, clock=clock)
    config = StoreConfig(
        accounts=(
            StoreAccountConfig(
                name="sandbox",
                backmarket_token=sandbox.backmarket_token,
                backmarket_user_agent=sandbox.backmarket_user_agent,
                backmarket_base_url=sandbox.backmarket_base_url,
            ),
        ),
        # What you type in ShipStation's Custom Store form (and set as
        # BACKMARKET_SHIPSTATION_STORE_USERNAME / _PASSWORD for the real thing).
        credentials=StoreCredentials("shipstation", "example-password"),
    )
    with (
        SQLiteStore(":memory:") as store,
        build_store(
            config, store=store, clock=clock, transport=lambda _: sandbox.backmarket_transport()
        ) as running,
    ):
        server = StoreServer(running, port=0)
        server.start()  # reads Back Market once before serving
        try:
            url = server.url("sandbox")
            print(f"Custom Store URL: {url}")
            with CustomStoreClient(url, "shipstation", "example-password") as shipstation:
                now = clock.now()
                orders = shipstation.export(now - timedelta(days=14), now + timedelta(minutes=1))
                print(f"ShipStation exported {len(orders)} orders")
                paid = [o for o in orders if o.fields["OrderStatus"] == "bm_accepted"]
                order = paid[0]
                print(f"order {order.order_number}: {len(order.items)} item(s), status bm_accepted")

                label = {
                    "tracking_number": "1Z999AA10123456784",
                    "carrier": "UPS",
                    "service": "UPS Ground",
                    "ship_date": clock.now(),
                    "retries": 0,
                }
                refused = shipstation.notify(order, internal_notes="", **label)
                print(f"notice without the IMEI: {refused.status} ({refused.body[-60:]!r})")
                print(f"  failures recorded: {[f.stage for f in store.failures('sandbox')]}")

                notes = identifier_notes(sandbox, order, [dict(i) for i in order.items])
                sent = shipstation.notify(order, internal_notes=notes, **label)
                again = shipstation.notify(order, internal_notes=notes, **label)
                print(f"notice with the IMEI: {sent.status}; the same notice again: {again.status}")

            shipped = sandbox.backmarket.get_order(int(order.order_number)) or {}
            print(
                f"Back Market: order {order.order_number} state {shipped.get('state')},"
                f" tracking {shipped.get('tracking_number')},"
                f" IMEIs {[line.get('imei') for line in shipped.get('orderlines', [])]}"
            )
            ok = sent.status == 200 and again.status == 200 and refused.status == 400
            return 0 if ok and not store.failures("sandbox") else 1
        finally:
            server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
