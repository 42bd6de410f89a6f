"""``sync --config`` with a catalog: from the sandbox's ShipStation product records, and from
a CSV file; the imported lines carry the weights and locations the catalog gives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backmarket_shipstation import cli

from .conftest import LiveSandbox


def skus(live: LiveSandbox) -> list[str]:
    return sorted(
        {line["listing"] for o in live.sandbox.backmarket.orders() for line in o["orderlines"]}
    )


def imported_items(live: LiveSandbox) -> list[dict[str, Any]]:
    return [item for order in live.sandbox.shipstation.orders() for item in order["items"] or ()]


def test_catalog_shipstation_gives_lines_the_weights_and_bins_of_the_product_records(
    live_sandbox: Callable[[int], LiveSandbox], tmp_path: Path
) -> None:
    live = live_sandbox(171)
    for n, sku in enumerate(skus(live)):
        live.sandbox.shipstation.add_product(sku, weight_oz=5 + n, warehouse_location=f"Bin {n}")
    config = tmp_path / "sync.toml"
    config.write_text('catalog = "shipstation"\n', encoding="utf-8")
    assert cli.main(["sync", "--config", str(config)]) in (cli.EXIT_OK, cli.EXIT_FAILED)
    items = [i for i in imported_items(live) if not i.get("adjustment")]
    assert items
    by_sku = {p["sku"]: p for p in live.sandbox.shipstation.products()}
    for item in items:
        product = by_sku[item["sku"]]
        assert float(item["weight"]["value"]) == float(product["weightOz"])
        assert item["weight"]["units"] == "ounces"
        assert item["warehouseLocation"] == product["warehouseLocation"]


def test_catalog_csv_file_gives_the_lines_its_weights_and_locations(
    live_sandbox: Callable[[int], LiveSandbox], tmp_path: Path
) -> None:
    live = live_sandbox(172)
    rows = [f"{sku},{200 + n} g,Shelf {n}" for n, sku in enumerate(skus(live))]
    (tmp_path / "products.csv").write_text("sku,weight,location\n" + "\n".join(rows) + "\n")
    config = tmp_path / "sync.toml"
    config.write_text('catalog = "products.csv"\n', encoding="utf-8")
    assert cli.main(["sync", "--config", str(config)]) in (cli.EXIT_OK, cli.EXIT_FAILED)
    expected = {sku: (200 + n, f"Shelf {n}") for n, sku in enumerate(skus(live))}
    items = [i for i in imported_items(live) if not i.get("adjustment")]
    assert items
    for item in items:
        grams, location = expected[item["sku"]]
        assert float(item["weight"]["value"]) == grams
        assert item["weight"]["units"] == "grams"
        assert item["warehouseLocation"] == location


def test_a_catalog_file_with_a_mistake_stops_before_anything_is_synced(
    live_sandbox: Callable[[int], LiveSandbox], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = live_sandbox(173)
    (tmp_path / "products.csv").write_text("sku,weight\nIP13,240\n")
    code = cli.main(["sync", "--catalog", str(tmp_path / "products.csv")])
    assert code == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"{tmp_path / 'products.csv'}:2:2: weight:" in err
    assert "Traceback" not in err
    assert live.sandbox.shipstation.orders() == []
