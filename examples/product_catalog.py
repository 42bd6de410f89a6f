"""A product catalog: unit weights, stock locations and packing-slip options per SKU.

    .venv/bin/python examples/product_catalog.py

Back Market sends no weights and no stock locations. Give the connector a catalog
(SKU -> ``CatalogProduct``) and every imported ShipStation order carries each item's unit
weight and warehouse location, extra options on the packing slip, and the order's total weight,
so rates and labels are right without weighing every parcel.

Here the catalog is built from a small product sheet keyed by model (the first part of the SKU,
``IP13-128-MID-EXC`` -> ``IP13``), as a seller's spreadsheet would be; read yours with
``csv.DictReader``. On the sandbox it imports the orders with the catalog and prints what
ShipStation received. On your accounts (BACKMARKET_TOKEN etc. set) it is read-only: it maps
the open orders with the catalog and prints the result.
"""

from __future__ import annotations

import csv
import io

from connect import describe, open_clients

from backmarket_shipstation.backmarket import OrderState
from backmarket_shipstation.errors import MappingError
from backmarket_shipstation.mapping import CatalogProduct, to_shipstation_order
from backmarket_shipstation.shipstation import Order as ShipStationOrder
from backmarket_shipstation.shipstation import Weight
from backmarket_shipstation.sync import SyncOptions, run_sync

# model, grams (device in its box), stock location, what the packer adds to the parcel
PRODUCT_SHEET = """\
model,grams,location,pack_with
IP11,310,Aisle 1 / Bin 11,Lightning cable
IP12,280,Aisle 1 / Bin 12,Lightning cable
IP13,270,Aisle 1 / Bin 13,Lightning cable
IP14,280,Aisle 1 / Bin 14,Lightning cable
IP15,290,Aisle 1 / Bin 15,USB-C cable
IPAD9,650,Aisle 2 / Shelf A,Lightning cable
GS22,260,Aisle 3 / Bin 22,USB-C cable
GS23,265,Aisle 3 / Bin 23,USB-C cable
PX7,300,Aisle 4 / Bin 7,USB-C cable
PX8,290,Aisle 4 / Bin 8,USB-C cable
CHG,60,Accessories / Chargers,
CASE,40,Accessories / Cases,
"""


def load_sheet(text: str) -> dict[str, CatalogProduct]:
    """Model -> product, from the sheet's CSV text."""
    return {
        row["model"]: CatalogProduct(
            weight=Weight.grams(row["grams"]),
            warehouse_location=row["location"],
            options={"Pack with": row["pack_with"]} if row["pack_with"] else {},
        )
        for row in csv.DictReader(io.StringIO(text))
    }


def catalog_for(skus: set[str], sheet: dict[str, CatalogProduct]) -> dict[str, CatalogProduct]:
    """SKU -> product, for the SKUs of the orders at hand (a SKU starts with its model)."""
    by_model = {sku: sheet.get(sku.partition("-")[0]) for sku in skus}
    return {sku: product for sku, product in by_model.items() if product is not None}


def show(order: ShipStationOrder) -> None:
    total = f"{order.weight.value} {order.weight.units}" if order.weight else "no weight"
    print(f"{order.order_number}: total {total}")
    for item in order.items or ():
        weight = f"{item.weight.value} g" if item.weight else "?"
        options = ", ".join(f"{o.name}: {o.value}" for o in item.options or ())
        print(f"  {item.quantity} x {item.sku:<18} {weight:>7} each  {item.warehouse_location}")
        print(f"    packing slip: {options}")


def main() -> None:
    sheet = load_sheet(PRODUCT_SHEET)
    with open_clients(orders=10, seed=5) as connection:
        print(f"product catalog {describe(connection)}\n")
        open_orders = [
            order
            for state in (OrderState.TO_ACCEPT, OrderState.TO_SHIP)
            for order in connection.bm.orders.list(state=state)
        ]
        skus = {sku for order in open_orders for sku in order.lines_by_sku}
        catalog = catalog_for(skus, sheet)
        print(f"{len(catalog)} of {len(skus)} SKUs found in the product sheet\n")

        if not connection.is_sandbox:
            for bm_order in open_orders:
                try:
                    show(to_shipstation_order(bm_order, catalog=catalog))
                except MappingError as error:
                    print(f"{bm_order.order_id}: {error}")
            print("\nread-only on real accounts: nothing was written.")
            return

        report = run_sync(
            connection.config,
            options=SyncOptions(catalog=catalog),
            clock=connection.clock,
            transports=connection.transports,
        )
        print(report.to_text().splitlines()[0] + "\n")
        for order in connection.ss.orders.list(store_id=connection.store_id):
            show(order)


if __name__ == "__main__":
    main()
