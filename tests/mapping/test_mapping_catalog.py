"""The Catalog mapping and catalog weights: case-insensitive lookups, units, refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backmarket_shipstation.mapping import Catalog, CatalogProduct, as_catalog, parse_weight
from backmarket_shipstation.shipstation import Weight, WeightUnit


def test_a_catalog_finds_a_sku_in_any_case_and_keeps_its_spelling() -> None:
    mug = CatalogProduct(warehouse_location="Bin 22")
    catalog = Catalog({"IP13-128-MID": mug})
    assert catalog["ip13-128-mid"] is mug
    assert catalog.get("Ip13-128-Mid") is mug
    assert "IP13-128-mid" in catalog
    assert catalog.get("IP14") is None
    assert list(catalog) == ["IP13-128-MID"]
    assert len(catalog) == 1
    with pytest.raises(KeyError):
        catalog["IP14"]


def test_two_skus_that_differ_only_in_case_are_refused() -> None:
    with pytest.raises(ValueError, match="differ only in case"):
        Catalog({"ABC": CatalogProduct(), "abc": CatalogProduct()})


def test_as_catalog_keeps_a_catalog_and_wraps_a_mapping() -> None:
    catalog = Catalog({"A": CatalogProduct()})
    assert as_catalog(catalog) is catalog
    assert as_catalog(None) is None
    wrapped = as_catalog({"A": CatalogProduct()})
    assert isinstance(wrapped, Catalog)
    assert wrapped == catalog


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        ("240 g", Weight(value=Decimal(240), units=WeightUnit.GRAMS)),
        ("240g", Weight(value=Decimal(240), units=WeightUnit.GRAMS)),
        ("0.24 kg", Weight(value=Decimal("240.00"), units=WeightUnit.GRAMS)),
        ("8,5 oz", Weight(value=Decimal("8.5"), units=WeightUnit.OUNCES)),
        ("1 LB", Weight(value=Decimal(1), units=WeightUnit.POUNDS)),
        ("2 pounds", Weight(value=Decimal(2), units=WeightUnit.POUNDS)),
    ],
)
def test_weights_are_read_with_their_unit(text: str, weight: Weight) -> None:
    assert parse_weight(text) == weight


@pytest.mark.parametrize(
    ("text", "problem"),
    [("240", "with a unit"), ("240 stone", "unknown weight unit"), ("-1 g", "with a unit")],
)
def test_a_weight_without_a_known_unit_is_refused(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_weight(text)
