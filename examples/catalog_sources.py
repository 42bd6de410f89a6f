"""The catalog from where sellers keep it: ShipStation's product records, or a file.

    .venv/bin/python examples/catalog_sources.py

``catalog = "shipstation"`` in the configuration (``ShipStationCatalog()`` in Python) reads
the account's product records once per run, 500 a page, then only what changed: each SKU's
unit weight (``weightOz``) and bin (``warehouseLocation``). ``catalog = "products.csv"``
(``load_catalog`` / ``FileCatalog``) reads a file you keep; a mistake in it is refused with
the file, line and column before anything is synced.

On the sandbox it gives the sandbox's product records weights and bins, imports the orders
with them and prints what ShipStation received, then shows a CSV catalog and a refused one.
On your accounts (BACKMARKET_TOKEN etc. set) it only reads: how many of your products carry
a weight or a bin.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from connect import describe, open_clients

from backmarket_shipstation.errors import ConfigurationError
from backmarket_shipstation.sync import SyncOptions, run_sync
from backmarket_shipstation.sync.catalog import ShipStationCatalog, load_catalog


def main() -> None:
    with open_clients(orders=8, seed=11) as connection:
        print(f"catalog sources {describe(connection)}\n")
        catalog = ShipStationCatalog()
        if connection.sandbox is None:
            found = catalog.load(connection.ss)
            print(f"{len(found)} SKUs have a weight or a bin in your ShipStation products")
            print("read-only on real accounts: nothing was written.")
            return

        seeded = connection.sandbox.seed_products()
        print(f"the sandbox's ShipStation account has {seeded} product records\n")
        report = run_sync(
            connection.config,
            options=SyncOptions(catalog=catalog),
            clock=connection.clock,
            transports=connection.transports,
        )
        print(report.to_text().splitlines()[0])
        for order in list(connection.ss.orders.list(store_id=connection.store_id))[:3]:
            total = f"{order.weight.value} {order.weight.units}" if order.weight else "?"
            print(f"  order {order.order_number}: total {total}")
            for item in order.items or ():
                if not item.adjustment:
                    weight = f"{item.weight.value} {item.weight.units}" if item.weight else "?"
                    print(f"    {item.sku:<20} {weight:>12}  {item.warehouse_location}")

        with tempfile.TemporaryDirectory() as folder:
            sheet = Path(folder, "products.csv")
            sheet.write_text(
                "sku,weight,location,option:Pack with\n"
                "IP13-128-MID-EXC,240 g,Aisle 1 / Bin 13,USB-C cable\n"
                "CASE-IP13,0.04 kg,Accessories,\n",
                encoding="utf-8",
            )
            from_file = load_catalog(sheet)
            phone = from_file["ip13-128-mid-exc"]  # SKUs ignore case, as on Back Market
            weight = f"{phone.weight.value} {phone.weight.units}" if phone.weight else "?"
            print(f"\nproducts.csv: {len(from_file)} SKUs; IP13-128-MID-EXC weighs {weight}")
            sheet.write_text("sku,weight\nIP13-128-MID-EXC,240\n", encoding="utf-8")
            try:
                load_catalog(sheet)
            except ConfigurationError as error:
                print(f"refused: {str(error).replace(folder, '...')}")


if __name__ == "__main__":
    main()
