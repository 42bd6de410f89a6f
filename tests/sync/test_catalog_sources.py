"""Catalog sources: files (CSV, TOML, JSON) with errors naming file, line and column, and the
account's ShipStation product records, read whole once and then by ModifyDate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from backmarket_shipstation.errors import ConfigurationError
from backmarket_shipstation.shipstation import ShipStationClient, Weight
from backmarket_shipstation.sync.catalog import (
    CatalogFileError,
    FileCatalog,
    ShipStationCatalog,
    load_catalog,
)

CSV = """\
sku,weight,location,option:Colour
IP13-128-MID,240 g,Aisle 1 / Bin 13,Midnight
GS22-128-BLK,0.26 kg,Aisle 3 / Bin 22,
CASE-IP13,,Accessories,
"""
TOML = """\
[[product]]
sku = "IP13-128-MID"
weight = "240 g"
location = "Aisle 1 / Bin 13"
options = { Colour = "Midnight" }

[[product]]
sku = "GS22-128-BLK"
weight = "0.26 kg"
location = "Aisle 3 / Bin 22"

[[product]]
sku = "CASE-IP13"
location = "Accessories"
"""
JSON_TEXT = json.dumps(
    [
        {"sku": "IP13-128-MID", "weight": "240 g", "location": "Aisle 1 / Bin 13",
         "options": {"Colour": "Midnight"}},
        {"sku": "GS22-128-BLK", "weight": "0.26 kg", "location": "Aisle 3 / Bin 22"},
        {"sku": "CASE-IP13", "location": "Accessories"},
    ],
    indent=2,
)  # fmt: skip


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "text"), [("p.csv", CSV), ("p.toml", TOML), ("p.json", JSON_TEXT)]
)
def test_the_three_formats_give_the_same_catalog(tmp_path: Path, name: str, text: str) -> None:
    catalog = load_catalog(write(tmp_path, name, text))
    assert len(catalog) == 3
    phone = catalog["ip13-128-mid"]
    assert phone.weight == Weight.grams(240)
    assert phone.warehouse_location == "Aisle 1 / Bin 13"
    assert dict(phone.options) == {"Colour": "Midnight"}
    assert catalog["GS22-128-BLK"].weight == Weight.grams("260.00")
    case = catalog["CASE-IP13"]
    assert case.weight is None
    assert case.warehouse_location == "Accessories"
    assert dict(case.options) == {}


@pytest.mark.parametrize(
    ("name", "text", "line", "column", "problem"),
    [
        ("p.csv", "sku,wieght\nA,1 g\n", 1, 2, "unknown column 'wieght'"),
        ("p.csv", "weight\n1 g\n", 1, 1, "no 'sku' column"),
        ("p.csv", "sku,weight\nA,240\n", 2, 2, "with a unit"),
        ("p.csv", "sku,weight\nA,1 g\n,2 g\n", 3, 1, "SKU is empty"),
        ("p.csv", "sku,weight\nA,1 g\nb,2 g\na,3 g\n", 4, 1, "already on line 2"),
        ("p.csv", "sku,weight\nA,1 g,extra\n", 2, 3, "3 cells for 2 columns"),
        ("p.toml", '[[product]]\nsku = "A"\nwieght = "1 g"\n', 3, 1, "unknown key 'wieght'"),
        ("p.toml", '[[product]]\nsku = "A"\nweight = "1 stone"\n', 3, 10, "unknown weight unit"),
        ("p.toml", '[[product]]\nsku = "A"\n\n[[product]]\nsku = "a"\n', 5, 7, "already on line 2"),
        ("p.toml", '[[product]]\nsku = "A"\nweight = 240\n', 3, 10, "text with a unit"),
        ("p.toml", "products = 1\n", 1, 1, "unknown key 'products'"),
        ("p.toml", '[[product]\nsku = "A"\n', 1, 10, "not valid TOML"),
        ("p.json", '[\n {"sku": "A"},\n {"sku": "B", "colour": "red"}\n]', 3, 15, "unknown key"),
        ("p.json", '[\n {"sku": "A", "weight": "2"}\n]', 2, 15, "with a unit"),
        # Not a trailing comma: Python 3.13 reports that one a column earlier than 3.10-3.12.
        ("p.json", '[\n {"sku" "A"}\n]', 2, 9, "not valid JSON"),
        ("p.json", '{"items": []}', 1, 2, "unknown key 'items'"),
    ],
)
def test_a_mistake_is_named_with_file_line_and_column(
    tmp_path: Path, name: str, text: str, line: int, column: int, problem: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(CatalogFileError, match=problem) as caught:
        load_catalog(path)
    assert (caught.value.path, caught.value.line, caught.value.column) == (str(path), line, column)
    assert str(caught.value).startswith(f"{path}:{line}:{column}: ")


def test_a_file_that_is_not_utf8_or_not_there_or_of_no_known_format(tmp_path: Path) -> None:
    with pytest.raises(CatalogFileError, match="not UTF-8") as caught:
        load_catalog(write(tmp_path, "p.csv", b"sku,location\nA,B\xe9n 4\n"))
    assert (caught.value.line, caught.value.column) == (2, 4)
    with pytest.raises(ConfigurationError, match="cannot read catalog file"):
        load_catalog(tmp_path / "missing.csv")
    with pytest.raises(ConfigurationError, match=r"unknown format '\.xlsx'"):
        load_catalog(write(tmp_path, "p.xlsx", "x"))


def test_a_file_catalog_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "sku,weight\nA,1 g\n")
    source = FileCatalog(path)
    ss = ShipStationClient(api_key="k", api_secret="s", transport=httpx.MockTransport(None))  # type: ignore[arg-type]
    assert source.load(ss)["A"].weight == Weight.grams(1)
    path.write_text("sku,weight\nA,2 g\nB,3 g\n", encoding="utf-8")
    assert len(source.load(ss)) == 2


# --------------------------------------------------------------------------------------
# ShipStation product records
# --------------------------------------------------------------------------------------


def product(pid: int, sku: str, modified: str, **fields: Any) -> dict[str, Any]:
    return {"productId": pid, "sku": sku, "modifyDate": modified, "active": True, **fields}


class Products:
    """GET /products as documented: paged, filtered by showInactive, sorted on request."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.requests: list[httpx.QueryParams] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        self.requests.append(params)
        rows = [r for r in self.records if r["active"] or params.get("showInactive") == "true"]
        if params.get("sortBy") == "ModifyDate":
            rows.sort(key=lambda r: r["modifyDate"], reverse=params.get("sortDir") == "DESC")
        size, page = int(params["pageSize"]), int(params["page"])
        chunk = rows[(page - 1) * size : page * size]
        pages = -(-len(rows) // size)
        return httpx.Response(
            200, json={"products": chunk, "total": len(rows), "page": page, "pages": pages}
        )


def test_shipstation_catalog_reads_every_product_once_then_only_what_changed() -> None:
    records = [
        product(1, "IP13-128-MID", "2025-03-01T10:00:00.000", weightOz=8.5,
                warehouseLocation="Bin 13"),
        product(2, "GS22-128-BLK", "2025-03-02T10:00:00.000", weightOz=0,
                warehouseLocation="Bin 22"),
        product(3, "NOT-WEIGHED", "2025-03-03T10:00:00.000", weightOz=0, warehouseLocation=""),
        product(4, " PADDED-SKU ", "2025-03-03T11:00:00.000", weightOz=4),
    ]  # fmt: skip
    records += [
        product(10 + n, f"OLD-{n}", "2024-01-01T00:00:00.000", weightOz=1) for n in range(600)
    ]
    server = Products(records)
    ss = ShipStationClient(api_key="k", api_secret="s", transport=httpx.MockTransport(server))
    source = ShipStationCatalog()

    first = source.load(ss)
    assert len(server.requests) == 2  # 604 active products, 500 a page
    assert first["ip13-128-mid"].weight == Weight.ounces("8.5")
    assert first["IP13-128-MID"].warehouse_location == "Bin 13"
    assert first["GS22-128-BLK"].weight is None  # weightOz 0: nobody weighed it
    assert "NOT-WEIGHED" not in first  # nothing to give
    assert first["padded-sku"].weight == Weight.ounces(4)  # stray spaces never match
    assert len(first) == 603

    records[0].update(weightOz=9, modifyDate="2025-03-05T09:00:00.000")
    records[1].update(active=False, modifyDate="2025-03-05T09:30:00.000")
    records.append(product(900, "PX8-128", "2025-03-05T10:00:00.000", weightOz=7))
    before = len(server.requests)
    second = source.load(ss)
    assert len(server.requests) == before + 1  # one page, newest first, stops at the old ones
    sweep = server.requests[-1]
    assert (sweep["sortBy"], sweep["sortDir"], sweep["showInactive"]) == (
        "ModifyDate",
        "DESC",
        "true",
    )
    assert second["IP13-128-MID"].weight == Weight.ounces(9)
    assert "GS22-128-BLK" not in second  # deactivated
    assert second["PX8-128"].weight == Weight.ounces(7)
    assert len(second) == 603
