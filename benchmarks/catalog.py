"""The catalog's cost per imported order at 100,000 SKUs, hits and misses.

Maps the same Back Market orders (1 to 3 lines, from ``benchmarks/mapping.py``) with
``to_shipstation_order`` four ways and prints the time per order of each, and the catalog's
share (the time beyond mapping with no catalog):

- ``no catalog``: the baseline;
- ``Catalog, hits``: every SKU in a 100,000-SKU :class:`Catalog`, looked up in another case
  (Back Market SKUs ignore case), so the folded index is what finds them;
- ``Catalog, misses``: none of the SKUs in it;
- ``plain dict, misses``: the same 100,000 entries as a plain ``dict``, the way every catalog
  was looked up before ``Catalog`` (a miss scans every key, case-folded).

Also the bare lookup cost of one miss in each. Best of the rounds. Run::

    .venv/bin/python benchmarks/catalog.py [--skus 100000] [--orders 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mapping import SKUS, sample_payload  # the sibling benchmark's orders

from backmarket_shipstation.backmarket.models import Order as BackMarketOrder
from backmarket_shipstation.mapping import Catalog, CatalogProduct, to_shipstation_order
from backmarket_shipstation.shipstation.models import Weight


def best(rounds: int, run: Callable[[], None]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    rng = random.Random(7)
    orders = [
        BackMarketOrder.from_dict(sample_payload(rng, 50_000_000 + n)) for n in range(args.orders)
    ]
    lines = sum(len(o.lines) for o in orders)
    filler = {
        f"FILLER-{n:06d}": CatalogProduct(weight=Weight.grams(200), warehouse_location=f"Bin {n}")
        for n in range(args.skus - len(SKUS))
    }
    # The orders' SKUs, stored lower-case: every hit goes through case folding.
    with_hits = {
        **filler,
        **{sku.lower(): CatalogProduct(weight=Weight.grams(180)) for sku in SKUS},
    }
    without = {**filler, **{f"OTHER-{n}": CatalogProduct() for n in range(len(SKUS))}}

    def mapping(catalog: Mapping[str, CatalogProduct] | None, count: int) -> Callable[[], None]:
        def run() -> None:
            for order in orders[:count]:
                to_shipstation_order(order, store_id=518236, catalog=catalog)

        return run

    cases = [
        ("no catalog", None),
        ("Catalog, hits", Catalog(with_hits)),
        ("Catalog, misses", Catalog(without)),
        ("plain dict, misses", without),
    ]
    print(f"{args.orders} orders, {lines} lines, {args.skus} SKUs, best of {args.rounds} rounds")
    baseline = 0.0
    for name, catalog in cases:
        # The scan takes milliseconds per order: a tenth of the orders, once, is enough.
        slow = name.startswith("plain")
        count = max(1, args.orders // 10) if slow else args.orders
        seconds = best(1 if slow else args.rounds, mapping(catalog, count))
        per_order = seconds / count * 1e6
        if catalog is None:
            baseline = per_order
            print(f"  {name:<20} {per_order:9.1f} µs per order")
        else:
            extra = per_order - baseline
            print(f"  {name:<20} {per_order:9.1f} µs per order  (catalog: {extra:+.1f} µs)")

    catalog = Catalog(without)
    probes = [f"MISSING-{n}" for n in range(10_000)]
    seconds = best(args.rounds, lambda: [catalog.get(p) for p in probes])
    print(f"one miss, Catalog:    {seconds / len(probes) * 1e9:9.0f} ns (one dict read)")
    order = orders[0]
    line = order.lines[0]
    missing = {**without}
    scan = best(3, lambda: to_shipstation_order(order, catalog=missing))
    fast = best(3, lambda: to_shipstation_order(order, catalog=catalog))
    print(
        f"one miss, plain dict: {(scan - fast) / len(order.lines) * 1e3:9.2f} ms (the scan;"
        f" {line.listing!r})"
    )


if __name__ == "__main__":
    main()
