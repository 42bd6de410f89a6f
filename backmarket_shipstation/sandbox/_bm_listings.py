"""The listing and task endpoints of the Back Market simulator (backmarket.md §7.1, A.2).

Raw JSON dicts, no SDK code. :class:`ListingsDesk` holds the seller's listings and the CSV
batch tasks; :class:`~.backmarket.BackMarketSimulator` routes to it under its own lock and
puts the same gateway in front (auth, User-Agent, rate limits). What it does:

- ``GET /ws/listings``: filters ``publication_state``, ``min_quantity``, ``max_quantity``;
  ``page``/``page-size`` (default 10, max 50) and the ``{count, next, previous, results}``
  envelope, as the orders list.
- ``GET /ws/listings/{id}`` (UUID or integer ``listing_id``) and ``GET /ws/listings/detail``
  (``sku``, case-insensitive, or ``listing_id`` or ``id``): the listing plus
  ``statuscode: 200``; 404 when not found.
- ``POST /ws/listings/{id}``: partial update in real time. ``quantity`` is global, ``price``,
  ``comment`` and ``warranty_delay`` belong to the ``Accept-Language`` market, ``currency``
  must be that market's. Quantity 0 takes the listing offline (``publication_state`` 3;
  back to 2 when stock returns: the values are undocumented, this is the simulator's
  choice). Errors are 400 with a bare JSON string, as the spec shows for this endpoint.
- ``POST /ws/listings``: a CSV batch ``{catalog, quotechar, delimiter, encoding}`` (all four
  required: else 400 ``"parameter <name> not found"``), at most 15,000 lines; answers
  ``{bodymessage: <task id>, statuscode: 200}``. The task is "to do" (0) when created, "in
  progress" (2) after ``task_start_seconds`` and done after ``task_seconds`` on the clock: 9
  with a per-SKU ``result`` (see :meth:`ListingsDesk._apply_row`), or 8 with
  ``last_action_error`` when the file itself cannot be read (an unknown encoding, no
  ``sku`` column, a malformed CSV).
- ``GET /ws/tasks/{id}``: ``{task_id, action_status, last_action_error, result,
  statuscode}``; 404 for an unknown task.
- The data limit: about 2,000 SKU lines per hour across both update endpoints (one per
  single update, one per CSV data line). A write that does not fit is refused with 429
  ("Back Market may refuse the task", backmarket.md §6.2) and changes nothing.
- Orders lower stock: :meth:`ListingsDesk.sell` is called for every new order's lines, as Back
  Market decrements a listing's quantity on each order ([OAS] listing update description,
  backmarket.md §7.1). Double checkouts can take a quantity-1 listing to -1 ([ICR] SOP 08),
  so the quantity is not floored at 0.
"""

from __future__ import annotations

import codecs
import copy
import csv
import io
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from ..clock import Clock
from .data import MARKETS, generate_listings, listing_uuid

__all__ = ["ListingsDesk", "ListingError"]

_CURRENCY_BY_MARKET = {m.code: m.currency for m in MARKETS}
_CURRENCY_BY_MARKET.update({"ja-jp": "JPY", "en-au": "AUD", "sv-se": "SEK"})
_MAX_LINES = 15_000
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ONLINE, _OFFLINE = 2, 3


class ListingError(Exception):
    """An error answer: ``status`` and ``body`` (a bare string or a V1 envelope)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


def _bare(status: int, message: str) -> ListingError:
    return ListingError(status, message)


def _v1(status: int, code: str, message: str) -> ListingError:
    return ListingError(status, {"error": {"code": code, "message": message}})


@attrs.define
class _Task:
    task_id: int
    created: float
    lines: list[dict[str, str]] | None
    """The parsed data lines; None when the file could not be read (``error`` says why)."""
    error: str | None
    status: int = 0
    result: list[dict[str, Any]] | None = None


class ListingsDesk:
    """The seller's listings and batch tasks, in memory. Not thread-safe on its own: the
    simulator calls it under its lock.

    Args:
        clock: time for the SKU-line window and the task lifecycle.
        seed, count: the generated listings (:func:`~.data.generate_listings`).
        sku_lines_per_hour: the data limit (None: no limit).
        task_start_seconds, task_seconds: when a task goes from 0 to 2, and when it ends.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        seed: int = 0,
        count: int | None = None,
        sku_lines_per_hour: int | None = 2000,
        task_start_seconds: float = 20.0,
        task_seconds: float = 300.0,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.sku_lines_per_hour = sku_lines_per_hour
        self.task_start_seconds = task_start_seconds
        self.task_seconds = task_seconds
        self._by_id: dict[str, dict[str, Any]] = {}
        self._by_sku: dict[str, str] = {}
        self._by_int: dict[int, str] = {}
        for listing in generate_listings(seed, count):
            self._store(listing)
        self._next_number = len(self._by_id)
        self._tasks: dict[int, _Task] = {}
        self._next_task = 810_000
        self._lines: deque[tuple[float, int]] = deque()
        self.writes: list[dict[str, Any]] = []
        """Every accepted write, in order: ``{"at", "via", "id", "sku", "fields"}``
        (``via`` is ``"update"`` or ``"task:<id>"``), for tests and benchmarks."""
        self.refused_writes = 0
        """Writes answered 429 because the SKU-line budget was spent."""

    # --- direct access --------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_id)

    def listing(self, key: str) -> dict[str, Any] | None:
        """A copy of the stored listing with this SKU (any case) or UUID, or None."""
        found = self._find(key)
        return None if found is None else copy.deepcopy(found)

    def quantities(self) -> dict[str, int]:
        """Every listing's quantity, by SKU as stored."""
        return {listing["sku"]: listing["quantity"] for listing in self._by_id.values()}

    def set_quantity(self, key: str, quantity: int) -> None:
        """Change a quantity as the seller would in the Back Office (no budget, no log)."""
        listing = self._require(key)
        self._set_quantity(listing, quantity)

    def sell(self, sku: str, quantity: int) -> None:
        """An order for ``quantity`` units of ``sku`` was placed: lower the stock."""
        listing_id = self._by_sku.get(sku.lower())
        if listing_id is None:
            return
        listing = self._by_id[listing_id]
        self._set_quantity(listing, listing["quantity"] - quantity)

    # --- routes ---------------------------------------------------------------------------

    def list(self, query: Mapping[str, str], market: str, page_url: PageUrl) -> dict[str, Any]:
        page = _positive(query.get("page", "1"), "page")
        size = min(50, _positive(query.get("page-size", "10"), "page-size"))
        state = _optional_int(query, "publication_state")
        low = _optional_int(query, "min_quantity")
        high = _optional_int(query, "max_quantity")
        matching = [
            listing
            for listing in self._by_id.values()
            if (state is None or listing["publication_state"] == state)
            and (low is None or listing["quantity"] >= low)
            and (high is None or listing["quantity"] <= high)
        ]
        count = len(matching)
        start = (page - 1) * size
        last = max(1, -(-count // size))
        return {
            "count": count,
            "next": page_url(page + 1) if page < last else None,
            "previous": page_url(min(page - 1, last)) if page > 1 else None,
            "results": [self._render(x, market) for x in matching[start : start + size]],
        }

    def get(self, key: str, market: str) -> dict[str, Any]:
        listing = self._find(key)
        if listing is None:
            raise _v1(404, "not_found", "Listing not found")
        return {**self._render(listing, market), "statuscode": 200}

    def detail(self, query: Mapping[str, str], market: str) -> dict[str, Any]:
        for name in ("sku", "listing_id", "id"):
            value = query.get(name)
            if value:
                listing = self._find(value) if name != "sku" else self._find_sku(value)
                if listing is None:
                    raise _v1(404, "not_found", "Listing not found")
                return {**self._render(listing, market), "statuscode": 200}
        raise _v1(400, "bad_request", "give one of sku, listing_id or id")

    def update(self, key: str, body: Any, market: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _bare(400, "the body must be a JSON object")
        listing = self._find(key)
        if listing is None:
            raise _v1(404, "not_found", "Listing not found")
        changes = self._validate(body, market)
        self._spend(1)
        self._apply(listing, changes, market)
        self._log("update", listing, changes)
        rendered = self._render(listing, market)
        return {**rendered, "shippings_response": [], "statuscode": 200}

    def submit(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _bare(400, "the body must be a JSON object")
        for name in ("catalog", "quotechar", "delimiter", "encoding"):
            if not isinstance(body.get(name), str) or body.get(name) == "":
                raise _bare(400, f"parameter {name} not found")
        catalog: str = body["catalog"]
        delimiter, quotechar = body["delimiter"], body["quotechar"]
        if len(delimiter) != 1 or len(quotechar) != 1:
            raise _bare(400, "delimiter and quotechar must be one character")
        physical = [line for line in catalog.splitlines() if line.strip()]
        if len(physical) > _MAX_LINES:
            raise _bare(400, f"the catalog has more than {_MAX_LINES} lines")
        rows, error = _read_catalog(catalog, delimiter, quotechar, body["encoding"])
        # A file that cannot be read costs its lines all the same: they were sent.
        self._spend(max(1, len(physical) - 1))
        task = _Task(
            task_id=self._next_task, created=self.clock.monotonic(), lines=rows, error=error
        )
        self._next_task += 1
        self._tasks[task.task_id] = task
        return {"bodymessage": task.task_id, "statuscode": 200}

    def task(self, task_id: int) -> dict[str, Any]:
        task = self._tasks.get(task_id)
        if task is None:
            raise _v1(404, "not_found", "Task not found")
        self.advance()
        return {
            "task_id": task.task_id,
            "action_status": task.status,
            "last_action_error": task.error if task.status == 8 else None,
            "result": task.result,
            "statuscode": 200,
        }

    def advance(self) -> None:
        """Move every task along its lifecycle up to the clock's present."""
        now = self.clock.monotonic()
        for task in self._tasks.values():
            if task.status in (8, 9):
                continue
            age = now - task.created
            if age >= self.task_seconds:
                self._finish(task)
            elif age >= self.task_start_seconds:
                task.status = 2

    # --- internals ------------------------------------------------------------------------

    def _store(self, listing: dict[str, Any]) -> None:
        self._by_id[listing["id"]] = listing
        self._by_sku[listing["sku"].lower()] = listing["id"]
        self._by_int[listing["listing_id"]] = listing["id"]

    def _find(self, key: str) -> dict[str, Any] | None:
        key = key.strip()
        if _UUID.fullmatch(key.lower()):
            return self._by_id.get(key.lower())
        if key.isdigit():
            found = self._by_int.get(int(key))
            return None if found is None else self._by_id[found]
        return self._find_sku(key)

    def _find_sku(self, sku: str) -> dict[str, Any] | None:
        found = self._by_sku.get(sku.strip().lower())
        return None if found is None else self._by_id[found]

    def _require(self, key: str) -> dict[str, Any]:
        listing = self._find(key)
        if listing is None:
            raise KeyError(key)
        return listing

    def _set_quantity(self, listing: dict[str, Any], quantity: int) -> None:
        listing["quantity"] = quantity
        listing["publication_state"] = _ONLINE if quantity > 0 else _OFFLINE

    def _render(self, listing: dict[str, Any], market: str) -> dict[str, Any]:
        prices: dict[str, str] = listing["prices"]
        out = {k: v for k, v in listing.items() if k not in ("prices", "comments")}
        out["price"] = prices.get(market, prices.get("fr-fr"))
        out["currency"] = _CURRENCY_BY_MARKET.get(market, "EUR") if market in prices else "EUR"
        out["comment"] = listing["comments"].get(market, "")
        out["shippings"] = copy.deepcopy(listing["shippings"])
        return out

    def _validate(self, body: Mapping[str, Any], market: str) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if "quantity" in body:
            quantity = _as_int(body["quantity"])
            if quantity is None or quantity < 0:
                raise _bare(400, "quantity must be a positive integer or 0")
            changes["quantity"] = quantity
        for name in ("price", "min_price"):
            if name in body:
                changes[name] = _price(body[name], name)
        if "currency" in body:
            expected = _CURRENCY_BY_MARKET.get(market, "EUR")
            if body["currency"] != expected:
                raise _bare(400, f"currency {body['currency']} does not match market {market}")
        if "comment" in body:
            comment = body["comment"]
            if not isinstance(comment, str) or len(comment) > 500:
                raise _bare(400, "comment must be a string of at most 500 characters")
            changes["comment"] = comment
        if "warranty_delay" in body:
            delay = _as_int(body["warranty_delay"])
            if delay is None or delay < 12:
                raise _bare(400, "warranty_delay must be at least 12 months")
            changes["warranty_delay"] = delay
        return changes

    def _apply(self, listing: dict[str, Any], changes: Mapping[str, Any], market: str) -> None:
        if "quantity" in changes:
            self._set_quantity(listing, changes["quantity"])
        if "price" in changes:
            listing["prices"][market] = changes["price"]
        if "min_price" in changes:
            listing["min_price"] = changes["min_price"]
        if "comment" in changes:
            listing["comments"][market] = changes["comment"]
        if "warranty_delay" in changes:
            listing["warranty_delay"] = changes["warranty_delay"]

    def _log(self, via: str, listing: dict[str, Any], changes: Mapping[str, Any]) -> None:
        self.writes.append(
            {
                "at": self.clock.monotonic(),
                "via": via,
                "id": listing["id"],
                "sku": listing["sku"],
                "fields": dict(changes),
            }
        )

    def _spend(self, lines: int) -> None:
        if self.sku_lines_per_hour is None:
            return
        now = self.clock.monotonic()
        while self._lines and self._lines[0][0] <= now - 3600.0:
            self._lines.popleft()
        used = sum(n for _, n in self._lines)
        if used + lines > self.sku_lines_per_hour:
            self.refused_writes += 1
            raise _v1(
                429,
                "too_many_sku_lines",
                f"data limit reached: {used} of {self.sku_lines_per_hour} SKU lines used "
                "in the last hour",
            )
        self._lines.append((now, lines))

    def _finish(self, task: _Task) -> None:
        if task.lines is None:
            task.status = 8
            return
        report: list[dict[str, Any]] = []
        for row in task.lines:
            report.append(self._apply_row(task.task_id, row))
        task.result = report
        task.status = 9

    def _apply_row(self, task_id: int, row: Mapping[str, str]) -> dict[str, Any]:
        """One data line: update the listing of ``sku``, or create one when ``product_id``
        or ``ean`` is given. Per-SKU report entry: ``{"sku", "status": "success"|"error",
        "message"?}`` (the report's shape is undocumented; this one is the simulator's)."""
        sku = (row.get("sku") or "").strip()
        if not sku:
            return {"sku": "", "status": "error", "message": "empty sku"}
        market = (row.get("country_code") or row.get("market") or "fr-fr").strip().lower()
        body: dict[str, Any] = {}
        for name in ("quantity", "price", "comment", "warranty_delay", "min_price"):
            value = row.get(name)
            if value is not None and value.strip() != "":
                body[name] = value.strip()
        listing = self._find_sku(sku)
        try:
            changes = self._validate(body, market)
        except ListingError as error:
            return {"sku": sku, "status": "error", "message": str(error.body)}
        if listing is None:
            product = (row.get("product_id") or row.get("ean") or "").strip()
            if not product:
                return {
                    "sku": sku,
                    "status": "error",
                    "message": "unknown sku: product_id or ean needed to create a listing",
                }
            listing = self._new_listing(sku, product, row.get("title"))
        self._apply(listing, changes, market)
        self._log(f"task:{task_id}", listing, changes)
        return {"sku": sku, "status": "success"}

    def _new_listing(self, sku: str, product: str, title: str | None) -> dict[str, Any]:
        number = self._next_number
        self._next_number += 1
        listing: dict[str, Any] = {
            "id": listing_uuid(self.seed, number),
            "listing_id": 4_000_000 + number,
            "product_id": product if _UUID.fullmatch(product.lower()) else None,
            "backmarket_id": None,
            "sku": sku,
            "title": title or sku,
            "quantity": 0,
            "prices": {},
            "min_price": None,
            "max_price": None,
            "state": 0,
            "grade": "EXCELLENT",
            "publication_state": _OFFLINE,
            "warranty_delay": 12,
            "comments": {},
            "shippings": [],
            "new_battery": False,
        }
        self._store(listing)
        return listing


PageUrl = Callable[[int], str]


def _read_catalog(
    catalog: str, delimiter: str, quotechar: str, encoding: str
) -> tuple[list[dict[str, str]] | None, str | None]:
    try:
        codecs.lookup(encoding)
    except LookupError:
        return None, f"unknown encoding {encoding}"
    try:
        reader = csv.reader(
            io.StringIO(catalog), delimiter=delimiter, quotechar=quotechar, strict=True
        )
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as error:
        return None, f"malformed CSV: {error}"
    if not rows:
        return None, "the catalog is empty"
    header = [cell.strip().lower() for cell in rows[0]]
    if "sku" not in header:
        return None, "column sku not found in the catalog header"
    lines: list[dict[str, str]] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            return None, f"line {number}: {len(row)} fields, the header has {len(header)}"
        lines.append(dict(zip(header, row, strict=True)))
    return lines, None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _price(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _bare(400, f"{name} must be a decimal string")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _bare(400, f"{name} must be a decimal string") from None
    if not amount.is_finite() or amount <= 0:
        raise _bare(400, f"{name} must be positive")
    return str(amount.quantize(Decimal("0.01")))


def _positive(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise _v1(400, f"invalid_{name}", f"{name} must be a positive integer")
    return value


def _optional_int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name, "")
    if value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise _v1(400, f"invalid_{name}", f"{name} must be an integer") from None


def skus_of(orders: Iterable[Mapping[str, Any]]) -> set[str]:
    """The SKUs of some orders' lines (for tests that sell from the generated catalog)."""
    return {str(line.get("listing")) for order in orders for line in order.get("orderlines", ())}
