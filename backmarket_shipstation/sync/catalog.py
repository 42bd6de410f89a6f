"""Where the catalog comes from: a file the seller keeps, or ShipStation's product records.

``catalog = "shipstation"`` in the configuration reads the account's product records
(``GET /products``, shipstation.md A.2): each SKU's unit weight (``weightOz``) and bin
(``warehouseLocation``). ``catalog = "products.csv"`` (or ``.toml`` / ``.json``) reads a file;
see docs/guides/catalog.md for the three formats. A file with a mistake is refused with its
name, line and column, before anything is synced.

Both are :class:`CatalogSource` s: the engine asks for the catalog once at the start of each
run's import, so a file edited between runs, or a weight changed in ShipStation, is seen by the
next run.
"""

from __future__ import annotations

import abc
import csv
import io
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..mapping.catalog import Catalog, CatalogProduct, parse_weight

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from ..shipstation.client import ShipStationClient
    from ..shipstation.models import Product

__all__ = [
    "CatalogFileError",
    "CatalogSource",
    "FileCatalog",
    "ShipStationCatalog",
    "load_catalog",
]

logger = logging.getLogger("backmarket_shipstation.sync")


class CatalogFileError(ConfigurationError):
    """A catalog file cannot be read: ``path``, ``line`` and ``column`` (1-based) say where."""

    def __init__(self, path: str, line: int, column: int, problem: str) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem
        super().__init__(f"{path}:{line}:{column}: {problem}")


class CatalogSource(abc.ABC):
    """Gives the catalog at the start of a run (see :attr:`SyncOptions.catalog`)."""

    @abc.abstractmethod
    def load(self, shipstation: ShipStationClient) -> Catalog:
        """The catalog for this run; ``shipstation`` is the account's client."""


# --------------------------------------------------------------------------------------
# ShipStation product records
# --------------------------------------------------------------------------------------

_MODIFY_OVERLAP = timedelta(minutes=2)
"""How far behind the newest modifyDate seen the next sweep reaches: ShipStation stamps in
Pacific time with sub-second digits, and two edits in the same instant must not be missed."""


class ShipStationCatalog(CatalogSource):
    """The catalog from the account's ShipStation product records.

    The first :meth:`load` reads every active product (500 a page: one call per 500 SKUs).
    Later loads by the same object (``sync --watch``, the webhook server, a long-lived
    program) read only what changed: products sorted by ``ModifyDate`` newest first, stopping
    at the first one older than the last sweep, inactive ones included so that a deactivated
    product leaves the catalog. Usually that is one call per run.

    A product gives its SKU the unit weight (``weightOz``, ignored when 0: ShipStation's value
    for a product nobody weighed) and the stock location; products with neither are left out.
    """

    def __init__(self) -> None:
        # One state per ShipStation key pair: the same object may serve several accounts.
        self._states: dict[int, _ProductState] = {}

    def __repr__(self) -> str:
        return "ShipStationCatalog()"

    def load(self, shipstation: ShipStationClient) -> Catalog:
        key = id(shipstation._core.limiter)  # one limiter per key pair, process-wide
        state = self._states.setdefault(key, _ProductState())
        state.refresh(shipstation)
        return state.catalog()


class _ProductState:
    def __init__(self) -> None:
        self.products: dict[str, Product] = {}
        self.newest: datetime | None = None

    def refresh(self, shipstation: ShipStationClient) -> None:
        if self.newest is None:
            for product in shipstation.products.list():
                self._keep(product)
            logger.info("catalog: %d products read from ShipStation", len(self.products))
            return
        since = self.newest - _MODIFY_OVERLAP
        changed = 0
        listing = shipstation.products.list(
            sort_by="ModifyDate", sort_dir="DESC", show_inactive=True
        )
        for product in listing:
            if product.modify_date is not None and product.modify_date < since:
                break  # sorted newest first: the rest is older (the paginator stops here)
            changed += 1
            if product.active is False:
                self._drop(product)
            else:
                self._keep(product)
        logger.info("catalog: %d products changed in ShipStation since %s", changed, since)

    def _keep(self, product: Product) -> None:
        if product.modify_date is not None and (
            self.newest is None or product.modify_date > self.newest
        ):
            self.newest = product.modify_date
        sku = (product.sku or "").strip()
        if not sku:
            return
        # A record's SKU may carry stray spaces (" ABC123" in a recorded product): Back
        # Market's never do, so they would never match.
        folded = sku.casefold()
        current = self.products.get(folded)
        if current is not None and _modified(current) > _modified(product):
            return  # two records for one SKU (in any case): the last edited wins
        self.products[folded] = product

    def _drop(self, product: Product) -> None:
        if product.modify_date is not None and (
            self.newest is None or product.modify_date > self.newest
        ):
            self.newest = product.modify_date
        folded = (product.sku or "").strip().casefold()
        current = self.products.get(folded)
        if current is not None and current.product_id == product.product_id:
            del self.products[folded]

    def catalog(self) -> Catalog:
        entries: dict[str, CatalogProduct] = {}
        for product in self.products.values():
            weight = product.unit_weight()
            location = (product.warehouse_location or "").strip() or None
            if weight is None and location is None:
                continue
            sku = (product.sku or "").strip()  # kept only with a SKU
            entries[sku] = CatalogProduct(weight=weight, warehouse_location=location)
        return Catalog(entries)


def _modified(product: Product) -> datetime:
    return product.modify_date or product.create_date or _EPOCH


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


class FileCatalog(CatalogSource):
    """A catalog file, read again at the start of a run when it changed on disk."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._catalog = Catalog()
        self._read()

    def __repr__(self) -> str:
        return f"FileCatalog({str(self.path)!r})"

    def _read(self) -> None:
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read catalog file {self.path}: {exc.strerror}"
            ) from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._catalog = load_catalog(self.path)
            self._stamp = stamp

    def load(self, shipstation: ShipStationClient) -> Catalog:
        self._read()
        return self._catalog


def load_catalog(path: str | Path) -> Catalog:
    """The catalog in a ``.csv``, ``.toml`` or ``.json`` file (see docs/guides/catalog.md).

    Raises :class:`CatalogFileError` naming the file, line and column of the first mistake,
    or :class:`~backmarket_shipstation.errors.ConfigurationError` when it cannot be read.
    """
    where = str(path)
    suffix = Path(path).suffix.lower()
    readers = {".csv": _read_csv, ".toml": _read_toml, ".json": _read_json}
    reader = readers.get(suffix)
    if reader is None:
        raise ConfigurationError(
            f"catalog file {where}: unknown format {suffix or '(no extension)'!r}"
            " (use .csv, .toml or .json)"
        )
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _position(Path(path).read_bytes().decode("utf-8", "replace"), exc.start)
        raise CatalogFileError(where, line, column, "not UTF-8 text") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read catalog file {where}: {exc.strerror}") from None
    return reader(text, where)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


class _Builder:
    """Collects entries, refusing the same SKU twice (in any case) with both places named."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.entries: dict[str, CatalogProduct] = {}
        self._seen: dict[str, tuple[str, int]] = {}

    def add(self, sku: str, product: CatalogProduct, line: int, column: int) -> None:
        folded = sku.casefold()
        if folded in self._seen:
            first, first_line = self._seen[folded]
            spelled = "" if first == sku else f" (as {first!r}; SKUs ignore case)"
            problem = f"SKU {sku!r} is already on line {first_line}{spelled}"
            raise CatalogFileError(self.where, line, column, problem)
        self._seen[folded] = (sku, line)
        self.entries[sku] = product

    def catalog(self) -> Catalog:
        return Catalog(self.entries)


def _weight(text: object, where: str, line: int, column: int) -> Any:
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise CatalogFileError(
            where, line, column, f'weight must be text with a unit, such as "240 g" (got {text!r})'
        )
    try:
        return parse_weight(text)
    except ValueError as exc:
        raise CatalogFileError(where, line, column, f"weight: {exc}") from None


_CSV_COLUMNS = ("sku", "weight", "location")
_OPTION_PREFIX = "option:"


def _read_csv(text: str, where: str) -> Catalog:
    """``sku,weight,location,option:Colour,...``: one product a row, a header first."""
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows)
    except StopIteration:
        raise CatalogFileError(
            where, 1, 1, "empty file: a header row (sku,weight,...) is needed"
        ) from None
    names = [name.strip() for name in header]
    for index, name in enumerate(names):
        if name.lower() not in _CSV_COLUMNS and not name.lower().startswith(_OPTION_PREFIX):
            raise CatalogFileError(
                where, 1, index + 1,
                f"unknown column {name!r} (sku, weight, location, option:<name>)",
            )  # fmt: skip
    lowered = [name.lower() for name in names]
    if "sku" not in lowered:
        raise CatalogFileError(where, 1, 1, "no 'sku' column")
    for index, name in enumerate(lowered):
        if name in _CSV_COLUMNS and lowered.index(name) != index:
            raise CatalogFileError(where, 1, index + 1, f"column {names[index]!r} appears twice")
    builder = _Builder(where)
    for row in rows:
        line = rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(names):
            raise CatalogFileError(
                where, line, len(names) + 1, f"{len(row)} cells for {len(names)} columns"
            )
        cells = {lowered[i]: (cell.strip(), i + 1) for i, cell in enumerate(row)}
        sku, sku_column = cells.get("sku", ("", lowered.index("sku") + 1))
        if not sku:
            raise CatalogFileError(where, line, sku_column, "the SKU is empty")
        weight_text, weight_column = cells.get("weight", ("", 0))
        options = {
            names[i][len(_OPTION_PREFIX) :].strip(): cell.strip()
            for i, cell in enumerate(row)
            if lowered[i].startswith(_OPTION_PREFIX) and cell.strip()
        }
        product = CatalogProduct(
            weight=_weight(weight_text, where, line, weight_column),
            warehouse_location=cells.get("location", ("", 0))[0] or None,
            options=options,
        )
        builder.add(sku, product, line, sku_column)
    return builder.catalog()


def _at(where: str, place: tuple[int, int], problem: str) -> CatalogFileError:
    return CatalogFileError(where, place[0], place[1], problem)


_ENTRY_KEYS = frozenset({"sku", "weight", "location", "options"})


Locate = Callable[[int, "str | None"], tuple[int, int]]
"""``locate(index, key)``: line and column of product ``index`` (or of its ``key``)."""


def _entry(raw: object, where: str, locate: Locate, builder: _Builder, index: int) -> None:
    """One ``{sku, weight, location, options}`` entry of a TOML or JSON catalog."""
    line, column = locate(index, None)
    if not isinstance(raw, Mapping):
        raise CatalogFileError(where, line, column, "each product must be a table/object")
    for key in raw:
        if key not in _ENTRY_KEYS:
            key_line, key_column = locate(index, key)
            raise CatalogFileError(
                where, key_line, key_column,
                f"unknown key {key!r} (sku, weight, location, options)",
            )  # fmt: skip
    sku = raw.get("sku")
    if not isinstance(sku, str) or not sku.strip():
        raise _at(where, locate(index, "sku"), "each product needs a text 'sku'")
    location = raw.get("location")
    if location is not None and not isinstance(location, str):
        raise _at(where, locate(index, "location"), "location must be text")
    options = raw.get("options") or {}
    if not isinstance(options, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in options.items()
    ):
        raise _at(
            where,
            locate(index, "options"),
            'options must map names to text, e.g. {Colour = "Midnight"}',
        )
    product = CatalogProduct(
        weight=_weight(raw.get("weight"), where, *locate(index, "weight")),
        warehouse_location=(location or "").strip() or None,
        options=dict(options),
    )
    builder.add(sku.strip(), product, *locate(index, "sku"))


def _read_toml(text: str, where: str) -> Catalog:
    """``[[product]]`` tables with ``sku``, ``weight``, ``location`` and ``options``."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column = _toml_error_position(str(exc))
        raise CatalogFileError(where, line, column, f"not valid TOML: {exc}") from None
    for key in document:
        if key != "product":
            line = _first_line(text, rf"^\s*\[*\s*{re.escape(key)}\b") or 1
            raise CatalogFileError(where, line, 1, f"unknown key {key!r} (use [[product]] tables)")
    products = document.get("product", [])
    if not isinstance(products, list):
        raise CatalogFileError(where, 1, 1, "'product' must be [[product]] tables")
    headers = [
        number for number, line in enumerate(text.splitlines(), 1)
        if re.match(r"^\s*\[\[\s*product\s*\]\]", line)
    ]  # fmt: skip
    lines = text.splitlines()

    def locate(index: int, key: str | None) -> tuple[int, int]:
        start = headers[index] if index < len(headers) else 1
        if key is None:
            return start, 1
        end = headers[index + 1] if index + 1 < len(headers) else len(lines) + 1
        for number in range(start, end):
            match = re.match(rf"^(\s*){re.escape(key)}\s*=\s*", lines[number - 1])
            if match:
                # A known key is pointed at its value, an unknown one at itself.
                return number, (match.end() if key in _ENTRY_KEYS else match.end(1)) + 1
        return start, 1

    builder = _Builder(where)
    for index, raw in enumerate(products):
        _entry(raw, where, locate, builder, index)
    return builder.catalog()


def _toml_error_position(message: str) -> tuple[int, int]:
    match = re.search(r"line (\d+), column (\d+)", message)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)


def _first_line(text: str, pattern: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(pattern, line):
            return number
    return None


def _read_json(text: str, where: str) -> Catalog:
    """A JSON array of ``{sku, weight, location, options}`` objects (or ``{"products": [...]}``)."""
    decoder = json.JSONDecoder()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogFileError(where, exc.lineno, exc.colno, f"not valid JSON: {exc.msg}") from None
    if isinstance(document, dict):
        unknown = [key for key in document if key != "products"]
        if unknown:
            line, column = _position(text, text.find(json.dumps(unknown[0])))
            raise CatalogFileError(
                where, line, column, f'unknown key {unknown[0]!r} (use "products")'
            )
        document = document.get("products", [])
    if not isinstance(document, list):
        raise CatalogFileError(where, 1, 1, "expected an array of products")
    starts = list(_array_item_offsets(text, decoder))

    def locate(index: int, key: str | None) -> tuple[int, int]:
        start = starts[index] if index < len(starts) else 0
        if key is not None:
            found = text.find(json.dumps(key), start)
            end = starts[index + 1] if index + 1 < len(starts) else len(text)
            if 0 <= found < end:
                return _position(text, found)
        return _position(text, start)

    builder = _Builder(where)
    for index, raw in enumerate(document):
        _entry(raw, where, locate, builder, index)
    return builder.catalog()


def _array_item_offsets(text: str, decoder: json.JSONDecoder) -> Iterator[int]:
    """Where each item of the products array starts (the file parsed already)."""
    opening = text.find("[")
    if opening < 0:
        return
    index = opening + 1
    whitespace = re.compile(r"[\s,]*")
    while True:
        index = whitespace.match(text, index).end()  # type: ignore[union-attr]
        if index >= len(text) or text[index] == "]":
            return
        yield index
        _, index = decoder.raw_decode(text, index)
