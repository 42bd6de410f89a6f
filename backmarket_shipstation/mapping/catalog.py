"""The seller's product catalog as the mapping reads it: SKU → weight, location, options.

:class:`Catalog` is an immutable mapping whose lookups ignore case, as Back Market's SKUs do
(docs/api-notes/backmarket.md §5.5), in one dictionary read: a SKU the catalog lacks costs
the same as one it has, whatever its size (``benchmarks/catalog.py``).

:func:`parse_weight` reads the weights written in catalog files (``"240 g"``, ``"8.5 oz"``).
Pure: no I/O. Reading files and ShipStation product records is the job of
:mod:`backmarket_shipstation.sync.catalog`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation

import attrs

from ..shipstation.models import Weight, WeightUnit

__all__ = ["Catalog", "CatalogProduct", "as_catalog", "parse_weight"]


@attrs.frozen(kw_only=True)
class CatalogProduct:
    """What the seller's own catalog knows about a SKU, for the packer.

    Back Market sends no weights nor stock locations: pass them per SKU to
    :func:`~backmarket_shipstation.mapping.to_shipstation_order` to fill the item weight (per
    unit), the warehouse location, extra item options and the total order weight.
    """

    weight: Weight | None = None
    """Weight of ONE unit (ShipStation item weights are per unit)."""
    warehouse_location: str | None = None
    """Where the unit is stored, e.g. ``"Aisle 3, Shelf A, Bin 5"``."""
    options: Mapping[str, str] = attrs.field(factory=dict)
    """Extra item options shown on packing slips, e.g. ``{"Colour": "Midnight"}``."""


class Catalog(Mapping[str, CatalogProduct]):
    """SKU → :class:`CatalogProduct`, looked up without regard to case in O(1).

    Iteration and ``len`` see the SKUs as given. Two SKUs that differ only in case are the same
    Back Market listing: giving both is a ``ValueError`` naming them.
    """

    __slots__ = ("_by_folded", "_products")

    def __init__(self, products: Mapping[str, CatalogProduct] | None = None) -> None:
        self._products: dict[str, CatalogProduct] = dict(products or {})
        by_folded: dict[str, CatalogProduct] = {}
        spelled: dict[str, str] = {}
        for sku, product in self._products.items():
            folded = sku.casefold()
            if folded in spelled:
                raise ValueError(
                    f"SKUs {spelled[folded]!r} and {sku!r} differ only in case: "
                    "Back Market treats them as one"
                )
            spelled[folded] = sku
            by_folded[folded] = product
        self._by_folded = by_folded

    def __getitem__(self, sku: str) -> CatalogProduct:
        return self._by_folded[sku.casefold()]

    def get(self, sku: str, default: CatalogProduct | None = None) -> CatalogProduct | None:  # type: ignore[override]
        """The product of ``sku`` (any case), or ``default``."""
        return self._by_folded.get(sku.casefold(), default)

    def __contains__(self, sku: object) -> bool:
        return isinstance(sku, str) and sku.casefold() in self._by_folded

    def __iter__(self) -> Iterator[str]:
        return iter(self._products)

    def __len__(self) -> int:
        return len(self._products)

    def __repr__(self) -> str:
        return f"Catalog({len(self)} SKUs)"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Catalog):
            return self._products == other._products
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def as_catalog(value: Mapping[str, CatalogProduct] | None) -> Catalog | None:
    """A :class:`Catalog` of any mapping (itself when it already is one); ``None`` stays."""
    if value is None or isinstance(value, Catalog):
        return value
    return Catalog(value)


_UNITS: dict[str, tuple[WeightUnit, Decimal]] = {
    "g": (WeightUnit.GRAMS, Decimal(1)),
    "gram": (WeightUnit.GRAMS, Decimal(1)),
    "grams": (WeightUnit.GRAMS, Decimal(1)),
    # ShipStation V1 has no kilograms (shipstation.md §2.5): 1 kg is written as 1000 grams.
    "kg": (WeightUnit.GRAMS, Decimal(1000)),
    "oz": (WeightUnit.OUNCES, Decimal(1)),
    "ounce": (WeightUnit.OUNCES, Decimal(1)),
    "ounces": (WeightUnit.OUNCES, Decimal(1)),
    "lb": (WeightUnit.POUNDS, Decimal(1)),
    "lbs": (WeightUnit.POUNDS, Decimal(1)),
    "pound": (WeightUnit.POUNDS, Decimal(1)),
    "pounds": (WeightUnit.POUNDS, Decimal(1)),
}
_WEIGHT_RE = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*([A-Za-z]+)\s*$")


def parse_weight(text: str) -> Weight:
    """``"240 g"``, ``"0.24 kg"``, ``"8.5 oz"`` or ``"1 lb"`` as a :class:`Weight`.

    A number without a unit is refused (``ValueError``): grams and ounces are both common and
    a guess would be wrong by a factor of 28.
    """
    match = _WEIGHT_RE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a weight with a unit, such as '240 g' or '8.5 oz'")
    number, unit = match.groups()
    known = _UNITS.get(unit.lower())
    if known is None:
        units = ", ".join(sorted(_UNITS))
        raise ValueError(f"unknown weight unit {unit!r} in {text!r} (one of {units})")
    try:
        value = Decimal(number.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        raise ValueError(f"{text!r} is not a number") from None
    wire_unit, factor = known
    return Weight(value=value * factor, units=wire_unit)
