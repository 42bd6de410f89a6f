"""A SHIP_NOTIFY webhook handler: Back Market hears of a label at once, not at the next poll.

    .venv/bin/python examples/webhook_receiver.py

ShipStation V1 webhooks carry only ``{"resource_url", "resource_type"}`` and are not signed.
The handler below is what any web framework would call with the request body:

1. ``ss.webhooks.fetch_all(body)`` checks that ``resource_url`` is on the ShipStation host of
   the client (else ``UntrustedWebhookURLError``: a forged payload cannot make your server
   send your API key elsewhere), then fetches the announced shipments;
2. ``engine.notify_shipments(report, shipments=...)`` reports them with the sync engine's
   exactly-once records, without moving the poll cursor, so the next ``sync`` still covers
   them: a webhook lost on the way is caught up, and one already sent is not sent twice.

``backmarket-shipstation webhook serve`` is a ready-made HTTP receiver around the same calls
(docs/guides/webhooks.md). On the sandbox this script subscribes to SHIP_NOTIFY, buys labels,
lets the simulated ShipStation deliver its webhooks to the handler (in-process, no socket),
and sends one forged payload. On your accounts (BACKMARKET_TOKEN etc. set) it is read-only:
it lists your webhook subscriptions.
"""

from __future__ import annotations

import json
from typing import Any

from connect import Connection, describe, open_clients

from backmarket_shipstation.errors import UntrustedWebhookURLError
from backmarket_shipstation.shipstation import Fulfillment, Shipment
from backmarket_shipstation.sync import AccountReport, SQLiteStore, engines, pack_and_ship, run_sync

RECEIVER_URL = "https://hooks.example.com/<secret-token>/shipstation"


def sandbox_demo(connection: Connection) -> None:
    assert connection.sandbox is not None
    ss = connection.ss
    with SQLiteStore(":memory:") as store:
        imported = run_sync(
            connection.config, store=store, clock=connection.clock,
            transports=connection.transports,
        )  # fmt: skip
        print("sync (import): " + imported.to_text().splitlines()[0])

        ss.webhooks.subscribe(RECEIVER_URL, "SHIP_NOTIFY", store_id=connection.store_id)
        print(f"subscribed SHIP_NOTIFY for store {connection.store_id}")

        with engines(
            connection.config, store=store, clock=connection.clock,
            transports=connection.transports,
        ) as (engine,):  # fmt: skip
            report = AccountReport(account=engine.account, started_at=connection.clock.now())

            def handle(body: bytes) -> int:
                """What the web route does with a POST body; returns the HTTP status."""
                try:
                    announced = [
                        item
                        for item in engine.ss.webhooks.fetch_all(body)
                        if isinstance(item, Shipment | Fulfillment)
                    ]
                except UntrustedWebhookURLError as error:
                    print(f"  dropped a payload: {error}")
                    return 400
                engine.notify_shipments(report, shipments=announced)
                print(f"  webhook: {len(announced)} shipments announced")
                return 200

            bought, _ = pack_and_ship(connection.sandbox)
            print(f"packer: {bought} labels bought")

            def post(_url: str, payload: dict[str, Any]) -> None:
                """Stands in for ShipStation's HTTP POST to the receiver."""
                handle(json.dumps(payload).encode())

            delivered = connection.sandbox.deliver_webhooks(post)
            print(f"ShipStation delivered {delivered} webhook(s)")
            print("  " + report.to_text().splitlines()[0])

            forged = {
                "resource_url": "https://attacker.example/steal",
                "resource_type": "SHIP_NOTIFY",
            }
            status = handle(json.dumps(forged).encode())
            print(f"forged payload answered {status}, nothing fetched")

        polled = run_sync(
            connection.config, store=store, clock=connection.clock,
            transports=connection.transports,
        )  # fmt: skip
        print("next poll: " + polled.to_text().splitlines()[0])
        print("  (notified 0: the webhook already sent them, and nothing is sent twice)")


def main() -> None:
    with open_clients(orders=12) as connection:
        print(f"webhooks {describe(connection)}\n")
        if connection.is_sandbox:
            sandbox_demo(connection)
            return
        for hook in connection.ss.webhooks.list().webhooks or ():
            state = "active" if hook.active else "inactive"
            print(f"  {hook.web_hook_id}: {hook.hook_type} store {hook.store_id} ({state})")
        print(
            "\nread-only on real accounts: run `backmarket-shipstation webhook serve` to receive."
        )


if __name__ == "__main__":
    main()
