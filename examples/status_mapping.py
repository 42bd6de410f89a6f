"""A custom status mapping: orders not yet accepted wait in ShipStation's Awaiting Payment.

    .venv/bin/python examples/status_mapping.py

ShipStation's Back Market connector imports orders to accept (Back Market state 1) and to
ship (state 3) as Awaiting Shipment, and accepts them itself. A seller who accepts orders in
the Back Market back office (``accept_orders=False``) may not want packers to see an order
before it is accepted. A ``StatusMap`` whose table sends state 1 to ``awaiting_payment`` does
that: the order moves to Awaiting Shipment on the first sync after it is accepted.

(An order a seller put On Hold in ShipStation stays on hold on re-import, whatever the map
says: see docs/guides/status-mapping.md.)

On the sandbox it runs two syncs with the custom map around a back-office acceptance. On your
accounts (BACKMARKET_TOKEN etc. set) it is read-only: it prints the status each open Back
Market order gets under both maps.
"""

from __future__ import annotations

from collections import Counter

from connect import Connection, describe, open_clients

from backmarket_shipstation.backmarket import OrderState
from backmarket_shipstation.mapping import DEFAULT_STATUS_MAP, StatusMap
from backmarket_shipstation.shipstation import OrderStatus
from backmarket_shipstation.sync import SQLiteStore, SyncOptions, run_sync

ACCEPT_BEFORE_PACKING = StatusMap(
    to_shipstation={
        OrderState.TO_ACCEPT: OrderStatus.AWAITING_PAYMENT,
        OrderState.TO_SHIP: OrderStatus.AWAITING_SHIPMENT,
        OrderState.SHIPPED: OrderStatus.SHIPPED,
    }
)


def show_table(title: str, status_map: StatusMap) -> None:
    print(title)
    for state, status in status_map.to_shipstation.items():
        print(f"  Back Market {state.name} ({state.value}) -> ShipStation {status.value}")


def shipstation_statuses(connection: Connection) -> str:
    counts = Counter(
        order.order_status.value if order.order_status else "?"
        for order in connection.ss.orders.list(store_id=connection.store_id)
    )
    return ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))


def main() -> None:
    with open_clients(orders=16) as connection:
        print(f"status mapping {describe(connection)}\n")
        show_table("default (ShipStation's connector):", DEFAULT_STATUS_MAP)
        show_table("custom (accept in the back office first):", ACCEPT_BEFORE_PACKING)
        print()

        if not connection.is_sandbox:
            for state in (OrderState.TO_ACCEPT, OrderState.TO_SHIP):
                for order in connection.bm.orders.list(state=state):
                    default = DEFAULT_STATUS_MAP.status_of(order)
                    custom = ACCEPT_BEFORE_PACKING.status_of(order)
                    print(
                        f"order {order.order_id}: default {default.value if default else None}, "
                        f"custom {custom.value if custom else None}"
                    )
            print("\nread-only on real accounts: nothing was written.")
            return

        options = SyncOptions(status_map=ACCEPT_BEFORE_PACKING, accept_orders=False)
        # One state store for both runs, as in production: the second run resumes.
        store = SQLiteStore(":memory:")

        def sync(label: str) -> None:
            report = run_sync(
                connection.config,
                store=store,
                options=options,
                clock=connection.clock,
                transports=connection.transports,
            )
            print(f"{label}: {report.to_text().splitlines()[0]}")
            print(f"  ShipStation store: {shipstation_statuses(connection)}")

        sync("sync 1")

        # The seller accepts the waiting orders in the Back Market back office.
        accepted = 0
        for order in list(connection.bm.orders.list(state=OrderState.TO_ACCEPT)):
            for sku in order.lines_by_sku:
                connection.bm.orders.accept(order.order_id, sku)
            accepted += 1
        print(f"back office: {accepted} orders accepted")
        connection.clock.sleep(15 * 60)
        sync("sync 2")
        store.close()


if __name__ == "__main__":
    main()
