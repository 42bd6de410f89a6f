"""Import Back Market orders into ShipStation, by hand, with the clients and the mapping.

    .venv/bin/python examples/import_orders.py

1. List the Back Market orders waiting for acceptance (state 1) and to ship (state 3).
2. Map each one to the ShipStation order the connector creates (``to_shipstation_order``):
   the ``orderKey`` is ``backmarket-<order id>``, so importing twice updates, never duplicates.
3. Upsert them in bulk (``createorders``, 100 a call) and upsert again to show that nothing is
   duplicated.

On the sandbox it writes to the simulated ShipStation. On your accounts (BACKMARKET_TOKEN etc.
set, see connect.py) it is read-only: it lists and maps, and prints what it would send.
``backmarket-shipstation sync`` does all of this plus accepting orders, reading them back and
keeping the seller's edits: use it for the real job (docs/guides/import-orders.md).
"""

from __future__ import annotations

from connect import describe, open_clients

from backmarket_shipstation.backmarket import OrderState
from backmarket_shipstation.errors import MappingError
from backmarket_shipstation.mapping import to_shipstation_order
from backmarket_shipstation.shipstation import Order as ShipStationOrder


def main() -> None:
    with open_clients(orders=12) as connection:
        print(f"importing {describe(connection)}\n")
        bm, ss = connection.bm, connection.ss

        mapped: list[ShipStationOrder] = []
        print(f"{'ORDER':<9} {'STATE':<10} {'COUNTRY':<8} {'SHIPSTATION ORDER':<40} SKUS")
        for state in (OrderState.TO_ACCEPT, OrderState.TO_SHIP):
            for bm_order in bm.orders.list(state=state):
                skus = ", ".join(sorted(bm_order.lines_by_sku))
                try:
                    order = to_shipstation_order(bm_order, store_id=connection.store_id)
                except MappingError as error:
                    # Typed, and it names the order: e.g. a buyer address Back Market hides
                    # until the order is accepted (MissingShipToAddressError).
                    print(f"{bm_order.order_id:<9} {state.name:<10} {'':<8} {error!s:<40} {skus}")
                    continue
                mapped.append(order)
                status = order.order_status.value if order.order_status else "?"
                country = order.ship_to.country if order.ship_to else ""
                shipstation = f"{order.order_key} ({status})"
                print(
                    f"{bm_order.order_id:<9} {state.name:<10} {country or '':<8} "
                    f"{shipstation:<40} {skus}"
                )

        if not connection.is_sandbox:
            print(f"\n{len(mapped)} orders mapped; nothing written (read-only on real accounts).")
            return

        first = ss.orders.upsert_many(mapped)
        created = [r for r in first.results if r.success]
        print(f"\ncreateorders: {len(created)} orders upserted, errors: {first.has_errors}")
        for result in created[:3]:
            print(f"  {result.order_key} -> ShipStation orderId {result.order_id}")

        again = ss.orders.upsert_many(mapped)
        same_ids = {r.order_id for r in again.results} == {r.order_id for r in first.results}
        in_store = list(ss.orders.list(store_id=connection.store_id))
        print(
            f"upserted again: same orderIds: {same_ids}; "
            f"orders in the ShipStation store: {len(in_store)} (not {2 * len(mapped)})"
        )


if __name__ == "__main__":
    main()
