"""Tell Back Market about ShipStation labels: tracking number, carrier and each phone's IMEI.

    .venv/bin/python examples/notify_shipments.py

For every label (``GET /shipments``) of the Back Market store:

1. read the ShipStation order, whose Internal Notes hold the IMEIs the packer typed;
2. ``to_shipment_notification``: tracking number, carrier mapped to Back Market's shipper
   names, and every IMEI or serial number, checked (15 digits and a Luhn check digit for an
   IMEI): a missing or mistyped one raises a typed error and nothing is sent;
3. ``to_backmarket_updates``: the Back Market writes that report it (accept what is still
   waiting, ship with tracking and IMEI, one orderline PATCH per device of a multi-line order).

On the sandbox it first imports the orders and plays the packer (labels bought, one order in
three left without its IMEI), then sends the writes. On your accounts (BACKMARKET_TOKEN etc.
set) it is read-only: it prints the writes for the labels of the last two days and sends
nothing. ``backmarket-shipstation sync`` sends them with exactly-once bookkeeping: use it for the
real job (docs/guides/notify-shipments.md).
"""

from __future__ import annotations

from datetime import timedelta

from connect import Connection, describe, open_clients

from backmarket_shipstation.backmarket import OrderlineIdentifiersUpdate, OrderState
from backmarket_shipstation.errors import MappingError
from backmarket_shipstation.mapping import (
    backmarket_order_id,
    to_backmarket_updates,
    to_shipment_notification,
)
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync import SyncOptions, pack_and_ship, run_sync


def main() -> None:
    with open_clients(orders=12) as connection:
        print(f"notifying {describe(connection)}\n")
        bm, ss = connection.bm, connection.ss
        since = connection.clock.now() - timedelta(days=2)

        if connection.sandbox is not None:
            prepare_sandbox(connection.sandbox, connection)
            since = connection.clock.now() - timedelta(hours=2)

        shipped: list[int] = []
        for shipment in ss.shipments.list(store_id=connection.store_id, create_date_start=since):
            if shipment.order_id is None or shipment.voided:
                continue
            ss_order = ss.orders.get(shipment.order_id)
            print(f"label {shipment.tracking_number} ({shipment.carrier_code}) "
                  f"for order {ss_order.order_number}")  # fmt: skip
            try:
                bm_order = bm.orders.get(backmarket_order_id(ss_order))
                notification = to_shipment_notification(
                    ss_order, shipment, currency=bm_order.currency
                )
                plan = to_backmarket_updates(notification, bm_order)
            except MappingError as error:
                # The order is named, the reason says what to fix in ShipStation.
                print(f"  NOT SENT: {type(error).__name__}: {error}")
                print("  (type it in the order's Internal Notes, e.g. 'IMEI: 35...'; re-run)")
                continue
            for write in plan:
                if isinstance(write, OrderlineIdentifiersUpdate):
                    print(f"  PATCH /ws/orderlines/{write.orderline_id} "
                          f"{write.identifiers.to_dict()}")  # fmt: skip
                else:
                    print(f"  POST /ws/orders/{write.order_id} {write.to_dict()}")
            if connection.is_sandbox and plan:
                bm.apply(plan)
                shipped.append(bm_order.order_id)

        if not connection.is_sandbox:
            print("\nread-only on real accounts: nothing was sent.")
            return
        states = {bm.orders.get(order_id).state for order_id in shipped}
        print(f"\nsent {len(shipped)} orders; their Back Market state now: "
              f"{sorted(s.name for s in states if isinstance(s, OrderState))}")  # fmt: skip


def prepare_sandbox(sandbox: Sandbox, connection: Connection) -> None:
    """Import and accept the sandbox's orders, then buy labels as a packer would."""
    report = run_sync(
        connection.config,
        clock=connection.clock,
        transports=connection.transports,
        options=SyncOptions(),
    )
    print("sync (import): " + report.to_text().splitlines()[0])
    connection.clock.sleep(3600)  # virtual time: an hour of packing
    bought, forgotten = pack_and_ship(sandbox, forget_every=3)
    print(f"packer: {bought} labels bought; orders left without their IMEI: {forgotten}\n")


if __name__ == "__main__":
    main()
