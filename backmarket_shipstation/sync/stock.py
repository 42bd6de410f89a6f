"""Stock sync: push available quantities from a source to the seller's Back Market listings.

A phone is a unit of one, sold on several channels: a quantity left standing on Back Market
after it sold elsewhere is an oversale (Back Market penalises cancellations), a listing left
at 0 is lost sales. :func:`sync_stock` reads a **source** (any callable returning
``{sku: available quantity}``: :func:`file_stock_source` for CSV and JSON files, or
ShipStation's inventory, or your own), reads every listing once, plans the writes and sends
them with ``POST /ws/listings/{id}`` (real time; Back Market advises against CSV batches for
stock).

The plan, per listing (SKUs compared case-insensitively, as Back Market does):

- the **target** is the source's quantity, never more (a negative one counts as 0);
- Back Market already shows the target: nothing to write (the quantity is remembered);
- Back Market shows **more** than the target: write the target, always (an oversale risk);
- Back Market shows **less**: write the target only if the source changed since the last
  push. Back Market lowers stock by itself on each order ([OAS]), so a lower quantity with an
  unchanged source means units sold on Back Market that the source has not counted yet;
  writing the old number back would put sold units on sale again.

Writes that prevent oversales go first: to 0, then other decreases (largest first), then
increases. They are planned within the client's hourly SKU-line budget: what does not fit
is **deferred** (reported, not remembered) and goes out on a later run, unless
``wait=True`` (then the run waits for the budget, which may take hours). SKUs on Back
Market but not in the source, and SKUs in the source with no listing, are reported and not
touched. What was written is remembered in the state store (:class:`StockStore`), so a run
with an unchanged source writes nothing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import attrs

from ..clock import Clock
from ..errors import BackMarketShipStationError, BudgetExhaustedError, ConfigurationError
from .store import PushedStock, StockStore

if TYPE_CHECKING:
    from ..backmarket.client import BackMarketClient
    from ..backmarket.listing_models import Listing

__all__ = [
    "StockChange",
    "StockFailure",
    "StockReport",
    "StockSource",
    "StockSourceError",
    "file_stock_source",
    "plan_stock",
    "sync_stock",
]

ChangeKind = Literal["to_zero", "down", "up"]


class StockSource(Protocol):
    """Anything that returns the available quantity of each SKU when called."""

    def __call__(self) -> Mapping[str, int]: ...


class StockSourceError(ConfigurationError):
    """A stock file cannot be used at all: missing, unreadable, or without the columns.

    ``path`` names the file, ``line`` the line when one is at fault. A bad row alone is not
    this error: it is reported in :attr:`StockReport.invalid` and the other rows still count.
    """

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"stock source {where}: {message}")


@attrs.frozen(kw_only=True)
class StockChange:
    """One planned write: listing ``sku`` goes from ``current`` to ``target``."""

    sku: str
    listing_id: str
    current: int | None
    target: int
    kind: ChangeKind


@attrs.frozen(kw_only=True)
class StockFailure:
    """A write Back Market refused or that failed; the listing keeps its quantity."""

    sku: str
    listing_id: str
    reason: str


@attrs.frozen(kw_only=True)
class StockReport:
    """What a stock sync did (or, with ``dry_run``, would do).

    ``planned`` is every write the source calls for, in the order they go out; ``written``
    those Back Market accepted; ``deferred`` those left for a later run (hourly budget);
    ``failed`` those that failed. ``unknown_in_source``: listings whose SKU the source does
    not have (left as they are); ``unknown_on_backmarket``: source SKUs without a listing;
    ``invalid``: source entries that could not be read (``"sku: reason"``), and SKUs given
    twice (the lower quantity counts). ``unchanged``: listings already right.
    ``budget_available`` is the SKU lines the budget had when the run started.
    """

    account: str
    dry_run: bool
    planned: tuple[StockChange, ...]
    written: tuple[StockChange, ...]
    deferred: tuple[StockChange, ...]
    failed: tuple[StockFailure, ...]
    unknown_in_source: tuple[str, ...]
    unknown_on_backmarket: tuple[str, ...]
    invalid: tuple[str, ...]
    unchanged: int
    listings: int
    budget_available: int
    budget_per_hour: int

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready data (the CLI's ``--json``)."""

        def change(c: StockChange) -> dict[str, object]:
            return {
                "sku": c.sku,
                "listing_id": c.listing_id,
                "from": c.current,
                "to": c.target,
                "kind": c.kind,
            }

        return {
            "account": self.account,
            "dry_run": self.dry_run,
            "listings": self.listings,
            "unchanged": self.unchanged,
            "planned": [change(c) for c in self.planned],
            "written": [change(c) for c in self.written],
            "deferred": [change(c) for c in self.deferred],
            "failed": [
                {"sku": f.sku, "listing_id": f.listing_id, "reason": f.reason} for f in self.failed
            ],
            "unknown_in_source": list(self.unknown_in_source),
            "unknown_on_backmarket": list(self.unknown_on_backmarket),
            "invalid": list(self.invalid),
            "budget": {"available": self.budget_available, "per_hour": self.budget_per_hour},
        }


# --------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------

_SKU_KEYS = ("sku", "SKU", "Sku")
_QUANTITY_KEYS = ("available", "quantity", "qty", "on_hand")


@attrs.frozen
class _Entries:
    """A source's raw entries, before they are checked: ``(sku, value, where)``."""

    rows: tuple[tuple[str, object, str], ...]


class _FileSource:
    def __init__(self, path: Path, fmt: Literal["csv", "json"]) -> None:
        self.path = path
        self.format = fmt

    def __repr__(self) -> str:
        return f"file_stock_source({str(self.path)!r})"

    def __call__(self) -> Mapping[str, int]:
        quantities, _ = _check(self.entries())
        return quantities

    def entries(self) -> _Entries:
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except OSError as error:
            raise StockSourceError(
                f"cannot be read ({error.strerror or error})", path=str(self.path)
            ) from None
        if self.format == "json":
            return _json_entries(text, str(self.path))
        return _csv_entries(text, str(self.path))


def file_stock_source(path: str | Path) -> StockSource:
    """A stock source read from a file each time it is called.

    - ``.csv`` (or any other extension): a header line naming a ``sku`` column and one of
      ``available``, ``quantity``, ``qty`` or ``on_hand`` (the first found); ``,`` or ``;``
      separated (guessed from the header).
    - ``.json``: ``{"SKU-1": 3, ...}`` or ``[{"sku": "SKU-1", "available": 3}, ...]``.
    """
    file = Path(path)
    return _FileSource(file, "json" if file.suffix.lower() == ".json" else "csv")


def _csv_entries(text: str, path: str) -> _Entries:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise StockSourceError("is empty (expected a header line with sku)", path=path)
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter)
    header = [cell.strip() for cell in next(reader)]
    lowered = [h.lower() for h in header]
    if "sku" not in lowered:
        raise StockSourceError("has no sku column", path=path, line=1)
    quantity_column = next((k for k in _QUANTITY_KEYS if k in lowered), None)
    if quantity_column is None:
        raise StockSourceError(
            "has no quantity column (available, quantity, qty or on_hand)", path=path, line=1
        )
    sku_at, quantity_at = lowered.index("sku"), lowered.index(quantity_column)
    rows: list[tuple[str, object, str]] = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        sku = row[sku_at].strip() if sku_at < len(row) else ""
        value = row[quantity_at].strip() if quantity_at < len(row) else ""
        rows.append((sku, value, f"line {number}"))
    return _Entries(tuple(rows))


def _json_entries(text: str, path: str) -> _Entries:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise StockSourceError(f"is not JSON ({error})", path=path) from None
    rows: list[tuple[str, object, str]] = []
    if isinstance(data, Mapping):
        for sku, value in data.items():
            rows.append((str(sku), value, f"key {sku!r}"))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            if not isinstance(item, Mapping):
                rows.append(("", item, f"item {index}"))
                continue
            sku = next((item[k] for k in _SKU_KEYS if k in item), "")
            value = next((item[k] for k in _QUANTITY_KEYS if k in item), None)
            rows.append((str(sku), value, f"item {index}"))
    else:
        raise StockSourceError("must be an object {sku: quantity} or a list", path=path)
    return _Entries(tuple(rows))


def _quantity(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():
            return int(text)
    return None


def _check(entries: _Entries) -> tuple[dict[str, int], list[str]]:
    """Quantities by SKU as given, and the problems: a bad value, a missing SKU, a SKU twice
    (then the lower quantity counts: never more than the source says)."""
    quantities: dict[str, int] = {}
    seen: dict[str, str] = {}
    problems: list[str] = []
    for sku, value, where in entries.rows:
        sku = sku.strip()
        if not sku:
            problems.append(f"{where}: no sku")
            continue
        quantity = _quantity(value)
        if quantity is None:
            problems.append(f"{sku} ({where}): quantity {value!r} is not a whole number")
            continue
        key = sku.lower()
        if key in seen:
            problems.append(f"{sku} ({where}): given twice, the lower quantity counts")
            quantities[seen[key]] = min(quantities[seen[key]], quantity)
            continue
        seen[key] = sku
        quantities[sku] = quantity
    return quantities, problems


def _read_source(source: StockSource | Mapping[str, int]) -> tuple[dict[str, int], list[str]]:
    if isinstance(source, _FileSource):
        return _check(source.entries())
    raw = source if isinstance(source, Mapping) else source()
    return _check(_Entries(tuple((str(k), v, "source") for k, v in raw.items())))


# --------------------------------------------------------------------------------------
# Planning: pure
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Plan:
    changes: tuple[StockChange, ...]
    in_sync: tuple[tuple[str, str, int], ...]
    """(sku, listing id, quantity) of listings already right: remembered, not written."""
    unknown_in_source: tuple[str, ...]
    unknown_on_backmarket: tuple[str, ...]


def _order_key(change: StockChange) -> tuple[int, int, str]:
    rank = {"to_zero": 0, "down": 1, "up": 2}[change.kind]
    drop = (change.current or 0) - change.target
    return (rank, -drop if change.kind != "up" else 0, change.sku.lower())


def plan_stock(
    source: Mapping[str, int],
    listings: Iterable[Listing],
    pushed: Mapping[str, PushedStock],
) -> _Plan:
    """The writes that bring ``listings`` to ``source``, oversale-preventing ones first.

    Pure (no I/O). ``pushed`` is what the state store remembers, by lower-case SKU.
    """
    targets = {sku.lower(): (sku, max(0, quantity)) for sku, quantity in source.items()}
    changes: list[StockChange] = []
    in_sync: list[tuple[str, str, int]] = []
    unknown_in_source: list[str] = []
    matched: set[str] = set()
    for listing in listings:
        if listing.sku is None:
            continue
        key = listing.sku.lower()
        if key not in targets:
            unknown_in_source.append(listing.sku)
            continue
        matched.add(key)
        target = targets[key][1]
        current = listing.quantity
        last = pushed.get(key)
        if current == target:
            if last is None or last.quantity != target or last.listing_id != listing.id:
                in_sync.append((key, listing.id, target))
            continue
        if (
            current is not None
            and current < target
            and last is not None
            and last.quantity == target
        ):
            # Sold on Back Market since the push, not yet counted by the source.
            continue
        kind: ChangeKind = "to_zero" if target == 0 else "up" if (current or 0) < target else "down"
        changes.append(
            StockChange(
                sku=listing.sku, listing_id=listing.id, current=current, target=target, kind=kind
            )
        )
    unknown_on_backmarket = sorted(sku for key, (sku, _) in targets.items() if key not in matched)
    return _Plan(
        changes=tuple(sorted(changes, key=_order_key)),
        in_sync=tuple(in_sync),
        unknown_in_source=tuple(sorted(unknown_in_source, key=str.lower)),
        unknown_on_backmarket=tuple(unknown_on_backmarket),
    )


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


def sync_stock(
    bm: BackMarketClient,
    source: StockSource | Mapping[str, int],
    store: StockStore,
    *,
    account: str = "default",
    dry_run: bool = False,
    wait: bool = False,
    clock: Clock | None = None,
) -> StockReport:
    """Bring the Back Market listings' quantities to what ``source`` says is available.

    Reads every listing (50 a page), plans (see the module text), then writes each change
    with ``bm.listings.set_quantity``, oversale-preventing ones first, and remembers it in
    ``store`` (by ``account``). Only as many writes as the hourly SKU-line budget has room
    for go out; the rest are deferred to a later run, unless ``wait`` (the run then waits for
    the budget). ``dry_run`` plans and reports without writing anything, to Back Market or
    to the store. One failed write does not stop the others. ``clock`` dates the records
    (default: the client's).
    """
    clock = clock or bm._core.clock
    quantities, invalid = _read_source(source)
    listings = list(bm.listings.list())
    pushed = store.pushed_stock(account)
    plan = plan_stock(quantities, listings, pushed)
    available = bm.listings.sku_lines_available()
    per_hour = bm.listings.sku_lines_per_hour
    changes = plan.changes
    fits = changes if wait else changes[:available]
    deferred = () if wait else changes[available:]
    if dry_run:
        return StockReport(
            account=account,
            dry_run=True,
            planned=changes,
            written=(),
            deferred=tuple(deferred),
            failed=(),
            unknown_in_source=plan.unknown_in_source,
            unknown_on_backmarket=plan.unknown_on_backmarket,
            invalid=tuple(invalid),
            unchanged=len(listings) - len(changes) - len(plan.unknown_in_source),
            listings=len(listings),
            budget_available=available,
            budget_per_hour=per_hour,
        )
    store.record_stock(
        PushedStock(account=account, sku=sku, listing_id=lid, quantity=q, pushed_at=clock.now())
        for sku, lid, q in plan.in_sync
    )
    written: list[StockChange] = []
    failed: list[StockFailure] = []
    late: list[StockChange] = list(deferred)
    for index, change in enumerate(fits):
        try:
            bm.listings.set_quantity(
                change.listing_id, change.target, over_budget="wait" if wait else "refuse"
            )
        except BudgetExhaustedError:
            # Another client of the token spent lines meanwhile: keep the rest for later.
            late = [*fits[index:], *late]
            break
        except BackMarketShipStationError as error:
            failed.append(
                StockFailure(sku=change.sku, listing_id=change.listing_id, reason=str(error))
            )
            continue
        # Remembered one by one: a run killed mid-way keeps what it wrote.
        store.record_stock(
            [
                PushedStock(
                    account=account,
                    sku=change.sku.lower(),
                    listing_id=change.listing_id,
                    quantity=change.target,
                    pushed_at=clock.now(),
                )
            ]
        )
        written.append(change)
    return StockReport(
        account=account,
        dry_run=False,
        planned=changes,
        written=tuple(written),
        deferred=tuple(late),
        failed=tuple(failed),
        unknown_in_source=plan.unknown_in_source,
        unknown_on_backmarket=plan.unknown_on_backmarket,
        invalid=tuple(invalid),
        unchanged=len(listings) - len(changes) - len(plan.unknown_in_source),
        listings=len(listings),
        budget_available=available,
        budget_per_hour=per_hour,
    )
