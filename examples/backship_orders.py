"""BackShip orders: imported with Back Market's label, reported without a ShipStation label.

    .venv/bin/python examples/backship_orders.py

On the built-in sandbox (no credentials, virtual time):

1. a BackShip order arrives on Back Market (``is_backship``);
2. ``sync`` accepts it (Back Market then makes its label), reads the label
   (``GET /ws/shipping/v1/deliveries``) and imports the order into ShipStation with the label's
   carrier, tracking number and PDF in the Internal Notes and as the requested service;
3. the packer prints that PDF, types the IMEI and marks the order shipped (no label bought);
4. ``sync`` reports it: Back Market's state 3 with its own tracking number and the IMEI.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync import (
    AccountConfig,
    SQLiteStore,
    pack_and_ship,
    run_sync,
    sandbox_config,
)


def main() -> None:
    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    sandbox = Sandbox(seed=3, orders=4, clock=clock)
    config = sandbox_config(sandbox)
    order = sandbox.backmarket.new_order(backship=True, country_code="fr-fr")
    order_id = order["order_id"]
    print(f"BackShip order {order_id} arrives ({order['orderlines'][0]['listing']})")

    def transports(_account: AccountConfig) -> tuple[httpx.BaseTransport, httpx.BaseTransport]:
        return sandbox.backmarket_transport(), sandbox.shipstation_transport()

    with SQLiteStore(":memory:") as store:
        first = run_sync(config, store=store, clock=clock, transports=transports)
        print(f"sync: {first.accounts[0].imported} imported, {first.accounts[0].accepted} accepted")
        [ss_order] = [o for o in sandbox.shipstation.orders() if o["orderNumber"] == str(order_id)]
        print(f"\nin ShipStation, requested service: {ss_order['requestedShippingService']}")
        for line in (ss_order["internalNotes"] or "").splitlines():
            if "BackShip" in line:
                print(f"  {line}")

        pack_and_ship(sandbox)  # the packer types the IMEI and marks it shipped
        labels = [s for s in sandbox.shipstation.shipments() if s["orderId"] == ss_order["orderId"]]
        print(f"\npacked: {len(labels)} ShipStation label bought for it, marked as shipped")

        clock.advance(timedelta(hours=1).total_seconds())
        second = run_sync(config, store=store, clock=clock, transports=transports)
        print(f"sync: {second.accounts[0].notified} notified")

    shipped = sandbox.backmarket.get_order(order_id) or {}
    [label] = sandbox.backmarket.deliveries_of(order_id)
    line = shipped["orderlines"][0]
    print(f"\nBack Market: order state {shipped['state']}, line state {line['state']}")
    print(
        f"  tracking {shipped['tracking_number']} (the BackShip label: {label['trackingNumber']})"
    )
    print(f"  IMEI {line['imei'] or '-'}  serial {line['serial_number'] or '-'}")


if __name__ == "__main__":
    main()
