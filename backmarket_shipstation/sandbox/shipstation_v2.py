"""ShipStation API V2 inventory in memory: ``GET /v2/inventory`` (shipstation.md A.5).

An independent model of what the stock sync reads, on raw JSON dicts:

- ``api-key`` header (any case) must be the account's V2 key, else 401 with V2's error body
  ``{request_id, errors: [{error_source, error_type, error_code, message}]}``;
- **200 requests per minute** (sliding window), then 429 with ``Retry-After`` (seconds until
  a request fits again), as [V2-RATE] documents;
- filters ``sku`` (one or comma-separated), ``inventory_warehouse_id``,
  ``inventory_location_id``, ``group_by`` (``warehouse``: one row per SKU and warehouse;
  ``location``: per location, the default), ``limit`` (page size, default 25, INFERRED) and
  ``page``; answers ``{inventory, total, page, pages, links: {first, last, prev, next}}``,
  each link ``{"href": ...}`` or ``{}`` when there is no such page.

Stock is per SKU, warehouse and location: ``on_hand``, ``allocated`` (to open orders) and
``available = on_hand - allocated``.
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from ..clock import Clock

__all__ = ["ShipStationInventorySimulator"]

_DEFAULT_LIMIT = 25


class ShipStationInventorySimulator:
    """ShipStation V2 inventory levels behind ``handle(request) -> response``."""

    def __init__(
        self,
        *,
        clock: Clock,
        api_key: str,
        base_url: str = "https://api.shipstation.com",
        rate_limit: int | None = 200,
        rate_window_seconds: float = 60.0,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must be non-empty")
        self.clock = clock
        self.base_url = base_url
        self._api_key = api_key
        self.rate_limit = rate_limit
        self.rate_window_seconds = rate_window_seconds
        self._lock = threading.RLock()
        self._window: deque[float] = deque()
        self._rows: dict[tuple[str, str, str], dict[str, int]] = {}
        """(sku, warehouse id, location id) -> {on_hand, allocated}."""

    def __repr__(self) -> str:
        return f"ShipStationInventorySimulator(base_url={self.base_url!r}, rows={len(self._rows)})"

    # --- direct access ------------------------------------------------------------------

    def set_stock(
        self,
        sku: str,
        on_hand: int,
        *,
        allocated: int = 0,
        warehouse_id: str = "se-100",
        location_id: str = "se-1000",
    ) -> None:
        """Set one SKU's counts in one warehouse location (a stock count in the web app)."""
        with self._lock:
            self._rows[(sku, warehouse_id, location_id)] = {
                "on_hand": on_hand,
                "allocated": allocated,
            }

    def available(self) -> dict[str, int]:
        """``{sku: available}`` over every warehouse, as the stock sync should read it."""
        with self._lock:
            totals: dict[str, int] = {}
            for (sku, _, _), counts in self._rows.items():
                totals[sku] = totals.get(sku, 0) + counts["on_hand"] - counts["allocated"]
            return totals

    # --- HTTP ---------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            path = request.url.path.rstrip("/")
            if request.headers.get("api-key") != self._api_key:
                return self._error(
                    request, 401, "unauthorized", "The API key is invalid or missing."
                )
            wait = self._rate_limited()
            if wait is not None:
                response = self._error(
                    request, 429, "rate_limit_exceeded", "You have exceeded the rate limit."
                )
                response.headers["retry-after"] = str(max(1, math.ceil(wait)))
                return response
            if path != "/v2/inventory":
                return self._error(request, 404, "not_found", "The resource was not found.")
            if request.method.upper() != "GET":
                return self._error(request, 405, "method_not_allowed", "Method not allowed.")
            try:
                body = self._list(request)
            except ValueError as error:
                return self._error(request, 400, "invalid_field_value", str(error))
            return httpx.Response(
                200,
                headers={"content-type": "application/json"},
                content=json.dumps(body).encode(),
                request=request,
            )

    def _rate_limited(self) -> float | None:
        if self.rate_limit is None:
            return None
        now = self.clock.monotonic()
        while self._window and self._window[0] <= now - self.rate_window_seconds:
            self._window.popleft()
        if len(self._window) >= self.rate_limit:
            return self._window[0] + self.rate_window_seconds - now
        self._window.append(now)
        return None

    def _error(
        self, request: httpx.Request, status: int, code: str, message: str
    ) -> httpx.Response:
        body = {
            "request_id": str(uuid.UUID(int=len(self._window) + status)),
            "errors": [
                {
                    "error_source": "shipstation",
                    "error_type": "security" if status == 401 else "system",
                    "error_code": code,
                    "message": message,
                }
            ],
        }
        return httpx.Response(
            status,
            headers={"content-type": "application/json"},
            content=json.dumps(body).encode(),
            request=request,
        )

    def _list(self, request: httpx.Request) -> dict[str, Any]:
        pairs = parse_qsl(request.url.query.decode("ascii", "replace"), keep_blank_values=True)
        query: dict[str, str] = {}
        for key, value in pairs:
            query.setdefault(key, value)
        limit = _positive(query.get("limit"), _DEFAULT_LIMIT, "limit")
        page = _positive(query.get("page"), 1, "page")
        group_by = query.get("group_by") or "location"
        if group_by not in ("warehouse", "location"):
            raise ValueError("group_by must be 'warehouse' or 'location'")
        skus = {s for s in (query.get("sku") or "").split(",") if s} or None
        warehouse = query.get("inventory_warehouse_id") or None
        location = query.get("inventory_location_id") or None
        grouped: dict[tuple[str, str, str | None], dict[str, int]] = {}
        for (sku, wh, loc), counts in sorted(self._rows.items()):
            if skus is not None and sku not in skus:
                continue
            if (warehouse and wh != warehouse) or (location and loc != location):
                continue
            group = (sku, wh, loc if group_by == "location" else None)
            into = grouped.setdefault(group, {"on_hand": 0, "allocated": 0})
            into["on_hand"] += counts["on_hand"]
            into["allocated"] += counts["allocated"]
        rows = [
            {
                "sku": sku,
                "on_hand": counts["on_hand"],
                "allocated": counts["allocated"],
                "available": counts["on_hand"] - counts["allocated"],
                "average_cost": {"amount": 0.0, "currency": "USD"},
                "inventory_warehouse_id": wh,
                "inventory_location_id": loc,
            }
            for (sku, wh, loc), counts in grouped.items()
        ]
        pages = max(1, -(-len(rows) // limit))
        start = (page - 1) * limit

        def link(number: int | None) -> dict[str, str]:
            if number is None:
                return {}
            kept = [(k, v) for k, v in pairs if k != "page"] + [("page", str(number))]
            return {"href": f"{self.base_url.rstrip('/')}/v2/inventory?{urlencode(kept)}"}

        return {
            "inventory": rows[start : start + limit],
            "total": len(rows),
            "page": page,
            "pages": pages,
            "links": {
                "first": link(1),
                "last": link(pages),
                "prev": link(page - 1 if page > 1 else None),
                "next": link(page + 1 if page < pages else None),
            },
        }

    def seed_from(self, quantities: Mapping[str, int], *, allocated_every: int = 7) -> None:
        """Stock for each SKU of ``quantities`` (e.g. the Back Market listings): on hand as
        given, one unit allocated to an open order for every ``allocated_every``-th SKU."""
        for index, (sku, quantity) in enumerate(sorted(quantities.items()), 1):
            allocated = 1 if allocated_every and index % allocated_every == 0 else 0
            self.set_stock(sku, max(0, quantity) + allocated, allocated=allocated)


def _positive(text: str | None, default: int, name: str) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer") from None
    if value < 1:
        raise ValueError(f"{name} must be a positive integer")
    return value
