"""The Back Market seller API (orders) in memory, behind ``handle(request) -> response``.

An independent implementation of backmarket.md §3, §5, §6 and §12 on raw JSON dicts: it imports
nothing from the SDK's clients, models or mapping, so a misunderstanding cannot hide in code
both sides share. Routes (paths relative to the API root):

- ``GET /ws/orders``: filters ``state``, ``date_creation``, ``date_modification`` (inclusive lower
  bounds, RFC 3339 or ``YYYY-MM-DD HH:MM:SS`` read as UTC), ``country_code``; ``page`` and
  ``page-size`` (default 10, max 50); ``{count, next, previous, results}`` with absolute
  ``next``/``previous`` URLs that keep the query; states 0 and 8 never listed; unknown
  parameters ignored; a page past the end gives empty ``results`` and ``next: null``.
- ``GET /ws/orders/{id}``; ``POST /ws/orders/{id}`` (the orderline state machine of §5.5);
  ``POST /ws/orders/{id}/invoice`` (multipart); ``PATCH /ws/orderlines/{id}`` (IMEI or serial).
- Listings and CSV batch tasks (``/ws/listings...``, ``/ws/tasks/{id}``): see
  :mod:`._bm_listings`. Their own limits: about 20 requests per 10 s on the catalog endpoints
  and 2,000 SKU lines per hour of listing writes; every new order lowers its listings' stock.

In front of them, like Cloudflare and the API gateway: the rate limit (about 200 requests per
10 s, then 429 for 10 s), the User-Agent check (an HTML 403), ``Authorization: Basic <token>``
(401) and the ``Accept-Language`` check (400). Errors use the V1 envelope
``{"error": {"code", "message"}}``. Options for what the documentation leaves open are
keyword arguments, described in docs/sandbox.md.
"""

from __future__ import annotations

import copy
import json
import random
import re
import threading
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

import httpx

from ..clock import Clock
from ._bm_backship import BackshipSimulator
from ._bm_care import CareSimulator, PlainText
from ._bm_listings import ListingError, ListingsDesk
from ._cloudflare import firewall_block, ray_id
from .data import (
    LINE_ID_BASE,
    LINE_SLOTS_PER_ORDER,
    MARKETS,
    OrderGenerator,
    format_timestamp,
    is_valid_imei,
    to_micros,
)

__all__ = [
    "ACCEPT_LANGUAGES",
    "RETURN_REASONS",
    "SHIPPERS",
    "BackMarketSimulator",
    "SimulatorError",
    "parse_filter_date",
]

ACCEPT_LANGUAGES = frozenset(
    {
        "fr-fr", "fr-be", "es-es", "de-de", "de-at", "it-it", "en-gb", "nl-nl", "pt-pt",
        "en-ie", "el-gr", "sk-sk", "sv-se", "en-us", "ja-jp", "en-au",
    }
)  # fmt: skip
"""The locales Back Market accepts (backmarket.md §2.1), also the ``country_code`` values."""

RETURN_REASONS = frozenset({0, 1, 11, 12, 13, 21, 22, 23, 24, 25})
"""``ReturnReason`` codes (backmarket.md §5.4)."""

SHIPPERS: tuple[str, ...] = (
    "Allied Express", "Aramex Australia", "Australia Post", "Australia Post Express",
    "Austrian Post", "BPost", "BRT", "Chronopost", "Chronopost Express", "ColisPrivé",
    "Colissimo", "Correos", "Correos Express", "Couriers Please", "CTT", "Cubyn",
    "Cubyn Express", "DB Schenker", "Deutsche Post", "DHL", "DHL DE", "DHL Express",
    "DHL  EXPRESS", "DHL NL", "DHL Parcel Spain", "DHL SP", "DPD", "DPD Benelux", "DPD DE",
    "DPD FR", "DPD International", "DPD UK", "DPD UK Express", "DTDC Australia", "FedEx",
    "FedEx - 2Days", "FedEx Express", "FedEx International", "FedEx - Overnight", "Geodis",
    "Girard Agediss - Livraison dans la pièce de votre choix sur RDV", "GLS", "GLS - DE",
    "GLS - FR", "GLS International", "GLS - IT", "GLS-SPAIN", "GLS Spain Express", "Hermes - DE",
    "Hermes - UK", "Japan Post", "Livraison au pied du camion",
    "Livraison dans la pièce de votre choix", "Logoix", "MRW", "Murfy transporteur", "NACEX",
    "ParcelForce Express", "Parcelforce (Worldwide)", "Parcelpoint Pty Ltd", "Poste Italiane",
    "Post NL", "Private Transporter", "Royal Mail", "Royal Mail Express", "Sagawa", "Seino",
    "Sendle", "Seur", "Socolissimo", "Star Track Express", "TIPSA", "TIPSA Express", "TNT",
    "TNT Australia", "TNT Express", "Tourline", "UPS", "UPS 2 days", "UPS 2nd Day Air",
    "UPS Express", "UPS express save", "UPS Ground", "UPS next day", "UPS Overnight",
    "UPS standard", "USPS", "USPS Express", "USPS - First Class", "USPS - Priority Mail",
    "USPS - Priority Mail Express", "VIR", "Yamato", "Zeleris", "Other",
)  # fmt: skip
"""The ``Shipper`` enum of backmarket.md §8, exact strings (note ``"DHL  EXPRESS"``)."""

_USER_AGENT = re.compile(r"BM-[^;\s-][^;]*-[^;]+;[^@;\s]+@[^@;\s]+\.[^@;\s]+")
_FILTER_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?"
)
# orderline state a merchant may move a line *from*, for each new_state (§5.5)
_FROM_STATE = {2: 1, 4: 1, 5: 2, 6: 3, 3: 2}
_PAYMENT_PHASE = frozenset({0, 8, 9})
# path pattern -> {method: handler method name}
_ROUTES: tuple[tuple[re.Pattern[str], dict[str, str]], ...] = (
    (re.compile(r"/ws/orders"), {"GET": "_list_orders"}),
    (re.compile(r"/ws/orders/(\d+)"), {"GET": "_get_order", "POST": "_update_order"}),
    (re.compile(r"/ws/orders/(\d+)/invoice"), {"POST": "_upload_invoice"}),
    (re.compile(r"/ws/orderlines/(\d+)"), {"PATCH": "_patch_orderline"}),
    # Care (sandbox/_bm_care.py)
    (re.compile(r"/ws/sav"), {"GET": "_list_care_folders"}),
    (re.compile(r"/ws/sav/(\d+)"), {"GET": "_get_care_folder"}),
    (re.compile(r"/ws/sav/(\d+)/msg"), {"POST": "_post_care_message"}),
    (re.compile(r"/ws/sav/refund"), {"POST": "_refund"}),
    (re.compile(r"/ws/listings"), {"GET": "_list_listings", "POST": "_submit_listings"}),
    (re.compile(r"/ws/listings/detail"), {"GET": "_listing_detail"}),
    (re.compile(r"/ws/listings/([^/]+)"), {"GET": "_get_listing", "POST": "_update_listing"}),
    (re.compile(r"/ws/tasks/(\d+)"), {"GET": "_get_task"}),
    # BackShip (sandbox/_bm_backship.py)
    (re.compile(r"/ws/shipping/v1/deliveries"), {"GET": "_list_deliveries"}),
    (re.compile(r"/ws/shipping/v1/deliveries/(\d+)"), {"GET": "_get_delivery"}),
)
_CATALOG_PATH = re.compile(r"/ws/listings(?:/.*)?")
_DEFAULT_PAGE_SIZE = 10
_MAX_PAGE_SIZE = 50


class SimulatorError(Exception):
    """An error response the simulator answers with (status, V1 code and message)."""

    def __init__(
        self, status: int, code: str, message: str, data: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data
        """The envelope's ``data`` (BackShip's 422 names the bad fields there)."""


def parse_filter_date(text: str) -> datetime:
    """A ``date_creation``/``date_modification`` filter value as an aware UTC datetime.

    Accepts RFC 3339 (``2025-01-01T00:00:00Z``, fractions, offsets), the space form
    ``2025-01-01 00:00:00`` and a bare date. A value without an offset is UTC (§3.1).
    Raises ``ValueError`` otherwise.
    """
    match = _FILTER_DATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid date {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        int((fraction or "0").ljust(6, "0")),
        tzinfo=timezone.utc,
    )
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        moment = moment - sign * offset
    return moment


def _error(status: int, code: str, message: str) -> SimulatorError:
    return SimulatorError(status, code, message)


class _Identifiers(Mapping[int, str]):
    """A read-only view of generated device identifiers of one kind, by orderline id."""

    def __init__(self, simulator: BackMarketSimulator, kind: str) -> None:
        self._simulator = simulator
        self._kind = kind

    def __getitem__(self, line_id: int) -> str:
        found = self._simulator._device_identifier(line_id)
        if found is None or found[0] != self._kind:
            raise KeyError(line_id)
        return found[1]

    def __iter__(self) -> Iterator[int]:
        # Builds every generated order: fine for tests, slow for 100,000 orders.
        for line_id, (kind, _) in self._simulator._all_device_identifiers():
            if kind == self._kind:
                yield line_id

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"<device {self._kind} identifiers of {self._simulator!r}>"


class BackMarketSimulator(CareSimulator, BackshipSimulator):
    """The Back Market seller API's order, care and BackShip endpoints, in memory, on raw
    JSON dicts.

    Thread-safe (one lock around all state). Time comes only from ``clock``: the rate-limit
    window, ``date_modification`` bumps and the generated data's "now".

    Args:
        clock: the time source.
        token: the accepted access token (requests send ``Authorization: Basic <token>``).
        base_url: the external base URL, for absolute ``next``/``previous`` URLs.
        seed, orders: the generated orders (:class:`~.data.OrderGenerator`); ``now`` anchors
            their dates (default: ``clock.now()`` at construction); ``markets`` (country
            codes) limits them to those markets (default: every market).
        require_user_agent: answer a missing or malformed User-Agent (not
            ``BM-{Company}-{Integration};{email}``) with Cloudflare's HTML 403.
        accept_language: ``"strict"`` answers 400 to an ``Accept-Language`` that is not one of
            the 16 locales; ``"ignore"`` accepts anything. A missing header is accepted.
        rate_limit, rate_window_seconds, rate_block_seconds: more than ``rate_limit`` requests
            within the window block every request for ``rate_block_seconds`` with a 429.
            ``rate_limit=None`` disables the limit.
        retry_after: send ``Retry-After`` (the block length) on 429s.
        rate_limit_body: ``"json"`` (V1 envelope, as the spec's ``RateLimited``) or ``"html"``
            (Cloudflare's edge page).
        page_size_over_max: ``"clamp"`` serves 50 when more is asked; ``"error"`` answers 400.
        hide_pii_until_accepted: orders in state 1 come back without the recipient's names,
            postal code and phone (the §4.3 observation) until a line is accepted.
        imei_check: ``"luhn"`` (15 digits and a valid check digit) or ``"digits"`` (15 digits).
        shippers: accepted ``shipper`` values on ship (case-sensitive), or None for any string.
        care_folders: how many care folders to open on shipped lines at start (see
            :meth:`add_care_folder` for more).
        care_limits: enforce each care endpoint's per-minute and per-day limits (429).
        refund_amount_on_full: a refund of type 4 or 5 that carries an ``amount``:
            ``"error"`` answers 400 (the amount is documented for type 6 only), ``"ignore"``
            refunds in full.
        listings: how many listings the seller has (default: one per SKU the generated
            orders sell, 250); more are numbered ``SB-000001``...
        catalog_rate_limit: more than this many requests to ``/ws/listings...`` within the
            rate window block those endpoints for ``rate_block_seconds`` with a 429 (about
            20 per 10 s, backmarket.md §6.2). None disables it.
        sku_lines_per_hour: the data limit of listing writes (None: no limit).
        task_start_seconds, task_seconds: a CSV task is in progress after the first and done
            after the second (Back Market: about 5 minutes on average).

    ``merchant`` (an attribute, True by default) set to False makes the token one of a user
    who is not a merchant: every authenticated request answers the application's JSON 403
    "Forbidden. Authenticated user is not a merchant." (backmarket.md §2.2, [OAS]).
    """

    def __init__(
        self,
        *,
        clock: Clock,
        token: str,
        base_url: str = "https://www.backmarket.fr",
        seed: int = 0,
        orders: int = 50,
        now: datetime | None = None,
        markets: Iterable[str] | None = None,
        require_user_agent: bool = True,
        accept_language: Literal["strict", "ignore"] = "strict",
        rate_limit: int | None = 200,
        rate_window_seconds: float = 10.0,
        rate_block_seconds: float = 10.0,
        retry_after: bool = True,
        rate_limit_body: Literal["json", "html"] = "json",
        page_size_over_max: Literal["clamp", "error"] = "clamp",
        hide_pii_until_accepted: bool = False,
        imei_check: Literal["luhn", "digits"] = "luhn",
        shippers: Iterable[str] | None = SHIPPERS,
        care_folders: int = 0,
        care_limits: bool = True,
        refund_amount_on_full: Literal["error", "ignore"] = "error",
        listings: int | None = None,
        catalog_rate_limit: int | None = 20,
        sku_lines_per_hour: int | None = 2000,
        task_start_seconds: float = 20.0,
        task_seconds: float = 300.0,
    ) -> None:
        if not token:
            raise ValueError("token must be non-empty")
        self.clock = clock
        self.base_url = base_url
        self._token = token
        self.require_user_agent = require_user_agent
        self.merchant = True
        self.accept_language = accept_language
        self.rate_limit = rate_limit
        self.rate_window_seconds = rate_window_seconds
        self.rate_block_seconds = rate_block_seconds
        self.retry_after = retry_after
        self.rate_limit_body = rate_limit_body
        self.page_size_over_max = page_size_over_max
        self.hide_pii_until_accepted = hide_pii_until_accepted
        self.imei_check = imei_check
        self.shippers = frozenset(shippers) if shippers is not None else None

        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._seed = seed
        self._generator = OrderGenerator(seed, orders, now or clock.now(), markets=markets)
        # Compact per-position index (position = generator index, then added orders).
        self._ids = array("q")  # ids of added orders (generated ids follow from positions)
        self._created = array("q", self._generator.created)
        self._modified = array("q", self._generator.modified)
        self._states = array("b", self._generator.states)
        self._countries: list[str] = [m.code for m in MARKETS]
        self._country = array("b", self._generator.markets)
        self._added_positions: dict[int, int] = {}
        self._added_lines: dict[int, int] = {}
        self._added_identifiers: dict[int, tuple[str, str]] = {}
        # Orders changed since generation (or added), by position: the only full dicts kept.
        self._stored: dict[int, dict[str, Any]] = {}
        self._next_order_id = self._generator.order_id(orders)
        self._next_line_id = LINE_ID_BASE + orders * LINE_SLOTS_PER_ORDER
        # List scans by filter set, valid while _version (bumped on every write) is unchanged.
        self._version = 0
        self._list_cache: dict[
            tuple[int | None, int | None, int | None, int], tuple[int, array[int]]
        ] = {}
        self._window: deque[float] = deque()
        self._blocked_until = float("-inf")
        self.catalog_rate_limit = catalog_rate_limit
        self._catalog_window: deque[float] = deque()
        self._catalog_blocked_until = float("-inf")
        self.listings = ListingsDesk(
            clock=clock,
            seed=seed,
            count=listings,
            sku_lines_per_hour=sku_lines_per_hour,
            task_start_seconds=task_start_seconds,
            task_seconds=task_seconds,
        )
        """The seller's listings and CSV tasks (direct access: ``listing(sku)``,
        ``quantities()``, ``set_quantity``, ``writes``)."""
        self.invoices: dict[int, list[dict[str, Any]]] = {}
        """Uploaded invoices by order id: ``{"filename", "content_type", "content"}`` each."""
        self.device_imeis: Mapping[int, str] = _Identifiers(self, "imei")
        """IMEIs of the smartphones to pack, by orderline id (not set on the order until sent)."""
        self.device_serials: Mapping[int, str] = _Identifiers(self, "serial_number")
        """Serial numbers of the tablets and laptops to pack, by orderline id."""
        self._init_backship()
        self._init_care(
            care_folders=care_folders,
            care_limits=care_limits,
            refund_amount_on_full=refund_amount_on_full,
        )

    def __repr__(self) -> str:
        return f"BackMarketSimulator(base_url={self.base_url!r}, orders={self.order_count})"

    # --- direct access for tests and examples ------------------------------------------

    @property
    def order_count(self) -> int:
        """How many orders are stored, listed or not."""
        with self._lock:
            return self._position_count()

    def order_ids(self) -> list[int]:
        """Every stored order id, in creation order."""
        with self._lock:
            return [self._order_id(p) for p in range(self._position_count())]

    def get_order(self, order_id: int) -> dict[str, Any] | None:
        """A copy of a stored order (as stored: PII never hidden), or None."""
        with self._lock:
            position = self._position(order_id)
            return None if position is None else copy.deepcopy(self._load(position))

    def orders(self) -> Iterator[dict[str, Any]]:
        """Copies of every stored order, in creation order (builds each generated order)."""
        for order_id in self.order_ids():
            order = self.get_order(order_id)
            if order is not None:
                yield order

    def get_orderline(self, line_id: int) -> dict[str, Any] | None:
        """A copy of a stored orderline, or None."""
        with self._lock:
            found = self._find_line(line_id)
            return None if found is None else copy.deepcopy(found[1])

    def add_order(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """Store an order dict as given (ids, dates and state filled in when absent).

        Missing ``order_id`` and orderline ``id`` values are assigned; missing
        ``date_creation``/``date_modification`` are now; a missing ``state`` is derived
        from the lines. Returns a copy of what was stored.
        """
        stored: dict[str, Any] = json.loads(json.dumps(order))
        with self._lock:
            order_id = stored.setdefault("order_id", self._next_order_id)
            if not isinstance(order_id, int) or self._position(order_id) is not None:
                raise ValueError(f"order_id {order_id!r} is not a new integer id")
            self._next_order_id = max(self._next_order_id, order_id + 1)
            lines = stored.setdefault("orderlines", [])
            for line in lines:
                line_id = line.setdefault("id", self._next_line_id)
                if self._find_line(line_id) is not None or line_id in self._added_lines:
                    raise ValueError(f"orderline id {line_id} already exists")
                self._next_line_id = max(self._next_line_id, line_id + 1)
            now = format_timestamp(self.clock.now(), 6)
            stored.setdefault("date_creation", now)
            stored.setdefault("date_modification", stored["date_creation"])
            stored.setdefault("country_code", "fr-fr")
            if "state" not in stored:
                stored["state"] = _derive_order_state(lines, 1)
            position = self._position_count()
            self._ids.append(order_id)
            self._created.append(to_micros(parse_filter_date(stored["date_creation"])))
            self._modified.append(to_micros(parse_filter_date(stored["date_modification"])))
            self._states.append(stored["state"])
            self._country.append(self._country_index(stored["country_code"]))
            self._added_positions[order_id] = position
            for line in lines:
                self._added_lines[line["id"]] = position
                # Back Market lowers a listing's stock on each order ([OAS], §7.1).
                if isinstance(line.get("listing"), str) and isinstance(line.get("quantity"), int):
                    self.listings.sell(line["listing"], line["quantity"])
            self._stored[position] = stored
            self._version += 1
            return copy.deepcopy(stored)

    def new_order(
        self,
        *,
        country_code: str | None = None,
        identifiers: Mapping[int, tuple[str, str]] | None = None,
        backship: bool = False,
    ) -> dict[str, Any]:
        """A new realistic order in state 1 (paid, to accept), created now, and stored.

        Its devices' identifiers join :attr:`device_imeis`/:attr:`device_serials`. Examples use
        it to show "a new order arrives". ``country_code`` picks the market (e.g. ``"en-us"``).
        ``backship=True`` makes it a BackShip order: Back Market makes its label when a line
        is accepted (see :meth:`deliveries_of`).
        """
        with self._lock:
            for attempt in range(10_000):
                template = OrderGenerator(
                    self._seed * 7919 + self._next_order_id + attempt, 1, self.clock.now()
                )
                if country_code is None or template.summary(0).country_code == country_code:
                    break
            else:
                raise ValueError(f"unknown country_code {country_code!r}")
            order = template.order(0)
            # Every line of a new order is to pack, whatever the template's lines became.
            found = template.device_identifiers(0, include_unshipped_final=True)
            now = self.clock.now()
            order.update(
                order_id=self._next_order_id,
                state=1,
                date_creation=format_timestamp(now, 6),
                date_modification=format_timestamp(now),
                date_payment=format_timestamp(now, 3),
                date_shipping=None,
                tracking_number="",
                tracking_url="",
                shipper="",
                is_backship=backship,
            )
            renumbered: dict[int, tuple[str, str]] = {}
            for line in order["orderlines"]:
                old_id = line["id"]
                line.update(
                    id=self._next_line_id,
                    date_creation=order["date_creation"],
                    state=1,
                    imei="",
                    serial_number="",
                    return_reason=0,
                    return_message="",
                )
                if old_id in found:
                    renumbered[self._next_line_id] = found[old_id]
                self._next_line_id += 1
            stored = self.add_order(order)
            self._added_identifiers.update(renumbered)
            self._added_identifiers.update(identifiers or {})
            return stored

    def cancel_line_as_buyer(self, order_id: int, line_id: int) -> dict[str, Any]:
        """Simulate the buyer cancelling one line before shipping: the line goes to 4.

        Raises ``KeyError`` for an unknown order or line and ``ValueError`` when the line is
        already shipped or final. Returns a copy of the updated order.
        """
        with self._lock:
            position, order, line = self._line_of_order(order_id, line_id)
            if line["state"] not in (0, 1, 2, 8, 9):
                raise ValueError(
                    f"orderline {line_id} in state {line['state']} cannot be cancelled"
                )
            line["state"] = 4
            self._commit(position, order)
            return copy.deepcopy(order)

    def set_line_state(self, order_id: int, line_id: int, state: int) -> dict[str, Any]:
        """Force an orderline state (any 0..9), as Back Market's own processes would.

        For tests: put a line on hold (9), release a payment (8 → 1), and so on. The order
        state is derived again. Returns a copy of the updated order.
        """
        if state not in range(10):
            raise ValueError("orderline states are 0..9")
        with self._lock:
            position, order, line = self._line_of_order(order_id, line_id)
            line["state"] = state
            self._commit(position, order)
            return copy.deepcopy(order)

    # --- HTTP ---------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (path relative to the API root, e.g. ``/ws/orders``)."""
        with self._lock:
            ray = ray_id(self._rng)
            limited = self._rate_limited() or self._catalog_limited(request)
            if limited is not None:
                return self._with_ray(limited(request), ray)
            if self.require_user_agent and not _USER_AGENT.fullmatch(
                request.headers.get("user-agent", "")
            ):
                return firewall_block(request, ray)
            try:
                status, body = self._route(request)
            except SimulatorError as error:
                status, body = (
                    error.status,
                    {"error": {"code": error.code, "message": error.message}},
                )
                if error.data is not None:
                    body["data"] = dict(error.data)
            if isinstance(body, PlainText):
                return self._with_ray(
                    httpx.Response(
                        status,
                        headers={"content-type": "text/plain; charset=utf-8"},
                        content=body.encode(),
                        request=request,
                    ),
                    ray,
                )
            if isinstance(body, bytes):
                return self._with_ray(
                    httpx.Response(
                        status, headers={"content-type": "text/html"}, content=body, request=request
                    ),
                    ray,
                )
            return self._with_ray(
                httpx.Response(
                    status,
                    headers={"content-type": "application/json"},
                    content=json.dumps(body, ensure_ascii=False).encode(),
                    request=request,
                ),
                ray,
            )

    def _with_ray(self, response: httpx.Response, ray: str) -> httpx.Response:
        response.headers["cf-ray"] = ray
        response.headers.setdefault("server", "cloudflare")
        return response

    def _rate_limited(self) -> Callable[[httpx.Request], httpx.Response] | None:
        if self.rate_limit is None:
            return None
        now = self.clock.monotonic()
        if now < self._blocked_until:
            return self._too_many_requests
        while self._window and self._window[0] <= now - self.rate_window_seconds:
            self._window.popleft()
        if len(self._window) >= self.rate_limit:
            self._blocked_until = now + self.rate_block_seconds
            self._window.clear()
            return self._too_many_requests
        self._window.append(now)
        return None

    def _catalog_limited(
        self, request: httpx.Request
    ) -> Callable[[httpx.Request], httpx.Response] | None:
        if self.catalog_rate_limit is None:
            return None
        if not _CATALOG_PATH.fullmatch(request.url.path.rstrip("/")):
            return None
        now = self.clock.monotonic()
        if now < self._catalog_blocked_until:
            return self._too_many_requests
        window = self._catalog_window
        while window and window[0] <= now - self.rate_window_seconds:
            window.popleft()
        if len(window) >= self.catalog_rate_limit:
            self._catalog_blocked_until = now + self.rate_block_seconds
            window.clear()
            return self._too_many_requests
        window.append(now)
        return None

    def _too_many_requests(self, request: httpx.Request) -> httpx.Response:
        headers = {}
        if self.retry_after:
            headers["retry-after"] = str(round(self.rate_block_seconds))
        if self.rate_limit_body == "html":
            headers["content-type"] = "text/html"
            content = b"<html><body><h1>429 Too Many Requests</h1></body></html>\n"
        else:
            headers["content-type"] = "application/json"
            content = json.dumps(
                {"error": {"code": "rate_limited", "message": "Too Many Requests"}}
            ).encode()
        return httpx.Response(429, headers=headers, content=content, request=request)

    def _route(self, request: httpx.Request) -> tuple[int, Any]:
        path = request.url.path.rstrip("/") or "/"
        method = request.method.upper()
        for pattern, methods in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            self._authenticate(request)
            action_name = methods.get(method)
            if action_name is None:
                raise _error(405, "method_not_allowed", f'Method "{method}" not allowed.')
            self._check_language(request)
            if self._care_limited(action_name):
                raise _error(429, "rate_limited", "Too Many Requests (endpoint limit)")
            action: Callable[..., tuple[int, Any]] = getattr(self, action_name)
            arguments = (int(g) if g.isdigit() else g for g in match.groups())
            try:
                return action(request, *arguments)
            except ListingError as error:
                return error.status, error.body
        # Unknown paths (including GET /ws/) answer Back Market's HTML 404.
        return 404, b"<html><body><h1>Not Found</h1></body></html>\n"

    def _authenticate(self, request: httpx.Request) -> None:
        if request.headers.get("authorization") != f"Basic {self._token}":
            raise _error(401, "unauthorized", "Unauthenticated.")
        if not self.merchant:
            raise _error(403, "forbidden", "Forbidden. Authenticated user is not a merchant.")

    def _check_language(self, request: httpx.Request) -> None:
        language = request.headers.get("accept-language")
        if language is None or self.accept_language == "ignore":
            return
        if language not in ACCEPT_LANGUAGES:
            raise _error(
                400,
                "invalid_accept_language",
                f"Accept-Language {language!r} is not a supported locale (e.g. fr-fr, en-us)",
            )

    # --- GET /ws/orders -----------------------------------------------------------------

    def _list_orders(self, request: httpx.Request) -> tuple[int, Any]:
        pairs = parse_qsl(request.url.query.decode("ascii", "replace"), keep_blank_values=True)
        query: dict[str, str] = {}
        for key, value in pairs:
            query.setdefault(key, value)
        page = _positive_int(query.get("page", "1"))
        if page is None:
            raise _error(400, "invalid_page", "page must be a positive integer")
        page_size = _positive_int(query.get("page-size", str(_DEFAULT_PAGE_SIZE)))
        if page_size is None:
            page_size = _DEFAULT_PAGE_SIZE
        elif page_size > _MAX_PAGE_SIZE:
            if self.page_size_over_max == "error":
                raise _error(
                    400, "invalid_page_size", f"page-size must be at most {_MAX_PAGE_SIZE}"
                )
            page_size = _MAX_PAGE_SIZE
        state: int | None = None
        if query.get("state", "") != "":
            try:
                state = int(query["state"])
            except ValueError:
                raise _error(400, "invalid_state", "state must be an integer") from None
        created_from = self._date_param(query, "date_creation")
        modified_from = self._date_param(query, "date_modification")
        country = query.get("country_code") or None
        country_index = -1
        if country is not None:
            country_index = self._countries.index(country) if country in self._countries else -2

        matching = self._matching(state, created_from, modified_from, country_index)
        count = len(matching)
        start = (page - 1) * page_size
        results = [self._render(p) for p in matching[start : start + page_size]]
        last_page = max(1, -(-count // page_size))
        next_url = self._page_url(pairs, page + 1) if page < last_page else None
        previous_url = self._page_url(pairs, min(page - 1, last_page)) if page > 1 else None
        return 200, {"count": count, "next": next_url, "previous": previous_url, "results": results}

    def _matching(
        self,
        state: int | None,
        created_from: int | None,
        modified_from: int | None,
        country_index: int,
    ) -> array[int]:
        """Positions of the listed orders that pass the filters, in creation order.

        A client walking the pages repeats the same filters page after page; caching the
        scan per filter set (until the next write) keeps a 2,000-page walk linear, not
        quadratic, at 100,000 orders.
        """
        key = (state, created_from, modified_from, country_index)
        cached = self._list_cache.get(key)
        if cached is not None and cached[0] == self._version:
            return cached[1]
        states, created, modified, countries = (
            self._states,
            self._created,
            self._modified,
            self._country,
        )
        matching = array(
            "l",
            (
                position
                for position in range(self._position_count())
                if states[position] not in (0, 8)
                and (state is None or states[position] == state)
                and (created_from is None or created[position] >= created_from)
                and (modified_from is None or modified[position] >= modified_from)
                and (country_index == -1 or countries[position] == country_index)
            ),
        )
        if len(self._list_cache) >= 16:
            self._list_cache.clear()
        self._list_cache[key] = (self._version, matching)
        return matching

    def _date_param(self, query: Mapping[str, str], name: str) -> int | None:
        value = query.get(name, "")
        if value == "":
            return None
        try:
            return to_micros(parse_filter_date(value))
        except ValueError:
            raise _error(
                400,
                "invalid_date",
                f"{name} must be an RFC 3339 date-time (e.g. 2025-01-01T00:00:00Z)",
            ) from None

    def _page_url(self, pairs: list[tuple[str, str]], page: int) -> str:
        kept = [(k, v) for k, v in pairs if k != "page"]
        index = next((i for i, (k, _) in enumerate(pairs) if k == "page"), len(kept))
        kept.insert(min(index, len(kept)), ("page", str(page)))
        return f"{self.base_url.rstrip('/')}/ws/orders?{urlencode(kept)}"

    # --- GET /ws/orders/{id} ------------------------------------------------------------

    def _get_order(self, request: httpx.Request, order_id: int) -> tuple[int, Any]:
        return 200, self._render(self._require_position(order_id))

    # --- POST /ws/orders/{id} -----------------------------------------------------------

    def _update_order(self, request: httpx.Request, order_id: int) -> tuple[int, Any]:
        position = self._require_position(order_id)
        body = _json_object(request)
        if "order_id" in body and str(body["order_id"]) != str(order_id):
            raise _error(
                400, "order_id_mismatch", "order_id in the body does not match the order in the URL"
            )
        raw_state = body.get("new_state")
        new_state = _as_int(raw_state)
        if new_state is None or not 2 <= new_state <= 6:
            raise _error(400, "invalid_new_state", f"new_state {raw_state} must be in 2,3,4,5,6")
        # Work on a copy: a request either applies entirely or not at all.
        order = copy.deepcopy(self._load(position))
        lines: list[dict[str, Any]] = order["orderlines"]
        vat_type = body.get("vat_type")
        if vat_type is not None and vat_type not in ("REGULAR", "MARGINAL"):
            raise _error(400, "invalid_vat_type", "vat_type must be REGULAR or MARGINAL")
        if new_state == 3:
            self._ship(order, lines, body)
        else:
            sku = body.get("sku")
            if not isinstance(sku, str) or not sku:
                raise _error(400, "sku_not_found", "sku not found")
            selected = [x for x in lines if str(x.get("listing", "")).lower() == sku.lower()]
            if not selected:
                raise _error(400, "sku_not_found", "sku not found")
            required = _FROM_STATE[new_state]
            movable = [x for x in selected if x["state"] == required]
            if not movable:
                raise _error(
                    400,
                    "invalid_transition",
                    f"orderline {selected[0]['id']} is in state {selected[0]['state']} "
                    f"and cannot be set to {new_state}",
                )
            if new_state == 6:
                reason = _as_int(body.get("return_reason"))
                if reason not in RETURN_REASONS:
                    raise _error(
                        400,
                        "invalid_return_reason",
                        f"return_reason {body.get('return_reason')} is not a valid return reason",
                    )
                message = _bounded_str(body, "return_message", 500) or ""
                for line in movable:
                    line["return_reason"] = reason
                    line["return_message"] = message
            for line in movable:
                line["state"] = new_state
        self._backship_label(order)
        self._commit(position, order)
        return 200, self._render(position)

    def _ship(
        self, order: dict[str, Any], lines: list[dict[str, Any]], body: dict[str, Any]
    ) -> None:
        tracking_number = _bounded_str(body, "tracking_number", 200)
        if not tracking_number:
            raise _error(
                400, "tracking_number_required", "tracking_number is required for new_state 3"
            )
        tracking_url = _bounded_str(body, "tracking_url", 300)
        shipper = _bounded_str(body, "shipper", 200)
        if shipper is not None and self.shippers is not None and shipper not in self.shippers:
            raise _error(400, "shipper_not_found", f"shipper {shipper} not found")
        date_shipping = self.clock.now()
        if body.get("date_shipping") is not None:
            try:
                date_shipping = parse_filter_date(str(body["date_shipping"]))
            except ValueError:
                raise _error(
                    400, "invalid_date", "date_shipping must be an RFC 3339 date-time"
                ) from None
        accepted = [x for x in lines if x["state"] == 2]
        if not accepted:
            raise _error(
                400,
                "invalid_transition",
                "no orderline is accepted (state 2): accept the orderlines before shipping",
            )
        imei = _bounded_str(body, "imei", 15)
        serial = _bounded_str(body, "serial_number", 50)
        # Identifiers are processed only for one line of quantity 1 (§3.3), else ignored.
        if (imei or serial) and len(lines) == 1 and lines[0].get("quantity") == 1:
            self._set_identifiers(lines[0], imei, serial, status=400)
        for line in accepted:
            line["state"] = 3
        order["tracking_number"] = tracking_number
        order["tracking_url"] = tracking_url or ""
        order["shipper"] = shipper if shipper is not None else order.get("shipper_display", "")
        order["date_shipping"] = format_timestamp(date_shipping)

    def _set_identifiers(
        self, line: dict[str, Any], imei: str | None, serial: str | None, *, status: int
    ) -> None:
        if imei is not None and not is_valid_imei(imei, luhn=self.imei_check == "luhn"):
            raise _error(status, "invalid_imei", f"imei {imei} is not a valid IMEI")
        if serial is not None and not serial.strip():
            raise _error(status, "invalid_serial_number", "serial_number cannot be blank")
        for field, value in (("imei", imei), ("serial_number", serial)):
            current = line.get(field) or ""
            if value is not None and current and current != value:
                raise _error(
                    status,
                    "identifier_already_registered",
                    f"{field} is already registered on orderline {line['id']} "
                    "and cannot be corrected",
                )
        if imei is not None:
            line["imei"] = imei
        if serial is not None:
            line["serial_number"] = serial

    # --- PATCH /ws/orderlines/{id} ------------------------------------------------------

    def _patch_orderline(self, request: httpx.Request, line_id: int) -> tuple[int, Any]:
        found = self._find_line(line_id)
        if found is None:
            raise _error(404, "not_found", f"Orderline {line_id} does not exist")
        position, _ = found
        body = _json_object(request)
        try:
            imei = _bounded_str(body, "imei", None)
            serial = _bounded_str(body, "serial_number", None)
        except SimulatorError as error:
            raise _error(422, error.code, error.message) from None
        if imei is None and serial is None:
            raise _error(400, "bad_request", "at least one of imei and serial_number is required")
        if serial is not None and len(serial) > 50:
            raise _error(
                422, "invalid_serial_number", "serial_number must be at most 50 characters"
            )
        order = copy.deepcopy(self._load(position))
        line = next(x for x in order["orderlines"] if x["id"] == line_id)
        if line.get("quantity") != 1:
            raise _error(
                422,
                "invalid_quantity",
                "identifiers can only be set on an orderline with a quantity of 1",
            )
        self._set_identifiers(line, imei, serial, status=422)
        self._commit(position, order)
        return 200, {"imei": line.get("imei", ""), "serial_number": line.get("serial_number", "")}

    # --- POST /ws/orders/{id}/invoice ---------------------------------------------------

    def _upload_invoice(self, request: httpx.Request, order_id: int) -> tuple[int, Any]:
        if self._position(order_id) is None:
            raise _error(404, "not_found", "Order doesn't exist")
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            raise _error(400, "bad_request", "the invoice must be sent as multipart/form-data")
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + request.content
        )
        files = []
        for part in message.iter_parts() if message.is_multipart() else ():
            if part.get_param("name", header="content-disposition") != "invoice":
                continue
            payload = part.get_payload(decode=True)
            files.append(
                {
                    "filename": part.get_filename() or "",
                    "content_type": part.get_content_type(),
                    "content": payload if isinstance(payload, bytes) else b"",
                }
            )
        if not files:
            raise _error(400, "bad_request", "the form must contain at least one 'invoice' file")
        self.invoices.setdefault(order_id, []).extend(files)
        return 200, {"message": "The invoice has been updated"}

    # --- listings and tasks (see _bm_listings) ------------------------------------------

    def _market(self, request: httpx.Request) -> str:
        return (request.headers.get("accept-language") or "fr-fr").lower()

    def _query(self, request: httpx.Request) -> tuple[list[tuple[str, str]], dict[str, str]]:
        pairs = parse_qsl(request.url.query.decode("ascii", "replace"), keep_blank_values=True)
        query: dict[str, str] = {}
        for key, value in pairs:
            query.setdefault(key, value)
        return pairs, query

    def _list_listings(self, request: httpx.Request) -> tuple[int, Any]:
        pairs, query = self._query(request)

        def page_url(page: int) -> str:
            kept = [(k, v) for k, v in pairs if k != "page"] + [("page", str(page))]
            return f"{self.base_url.rstrip('/')}/ws/listings?{urlencode(kept)}"

        return 200, self.listings.list(query, self._market(request), page_url)

    def _listing_detail(self, request: httpx.Request) -> tuple[int, Any]:
        _, query = self._query(request)
        return 200, self.listings.detail(query, self._market(request))

    def _get_listing(self, request: httpx.Request, key: int | str) -> tuple[int, Any]:
        return 200, self.listings.get(str(key), self._market(request))

    def _update_listing(self, request: httpx.Request, key: int | str) -> tuple[int, Any]:
        try:
            body = json.loads(request.content or b"null")
        except ValueError:
            body = None
        return 200, self.listings.update(str(key), body, self._market(request))

    def _submit_listings(self, request: httpx.Request) -> tuple[int, Any]:
        try:
            body = json.loads(request.content or b"null")
        except ValueError:
            body = None
        return 200, self.listings.submit(body)

    def _get_task(self, request: httpx.Request, task_id: int) -> tuple[int, Any]:
        return 200, self.listings.task(task_id)

    # --- storage ------------------------------------------------------------------------

    def _position_count(self) -> int:
        return self._generator.count + len(self._added_positions)

    def _order_id(self, position: int) -> int:
        if position < self._generator.count:
            return self._generator.order_id(position)
        return self._ids[position - self._generator.count]

    def _position(self, order_id: int) -> int | None:
        index = self._generator.index_of(order_id)
        return index if index is not None else self._added_positions.get(order_id)

    def _require_position(self, order_id: int) -> int:
        position = self._position(order_id)
        if position is None:
            raise _error(404, "not_found", f"Order {order_id} does not exist")
        return position

    def _load(self, position: int) -> dict[str, Any]:
        """The live order dict (callers that change it must :meth:`_commit`)."""
        stored = self._stored.get(position)
        return stored if stored is not None else self._generator.order(position)

    def _find_line(self, line_id: int) -> tuple[int, dict[str, Any]] | None:
        position = self._added_lines.get(line_id)
        if position is None:
            index = (line_id - LINE_ID_BASE) // LINE_SLOTS_PER_ORDER
            if not 0 <= index < self._generator.count:
                return None
            position = index
        for line in self._load(position)["orderlines"]:
            if line["id"] == line_id:
                return position, line
        return None

    def _line_of_order(
        self, order_id: int, line_id: int
    ) -> tuple[int, dict[str, Any], dict[str, Any]]:
        position = self._position(order_id)
        if position is None:
            raise KeyError(f"order {order_id} does not exist")
        order = copy.deepcopy(self._load(position))
        for line in order["orderlines"]:
            if line["id"] == line_id:
                return position, order, line
        raise KeyError(f"orderline {line_id} is not in order {order_id}")

    def _commit(self, position: int, order: dict[str, Any]) -> None:
        """Store a changed order: derive its state, bump ``date_modification``."""
        order["state"] = _derive_order_state(order["orderlines"], order.get("state", 1))
        now = self.clock.now()
        order["date_modification"] = format_timestamp(now, 6)
        self._stored[position] = order
        self._states[position] = order["state"]
        self._modified[position] = to_micros(now)
        self._version += 1

    def _render(self, position: int) -> dict[str, Any]:
        order = self._load(position)
        if (
            self.hide_pii_until_accepted
            and order.get("state") == 1
            and not any(line.get("state") in (2, 3) for line in order.get("orderlines", ()))
        ):
            order = copy.deepcopy(order)
            for key in ("shipping_address", "billing_address"):
                address = order.get(key)
                if isinstance(address, dict):
                    for hidden in ("first_name", "last_name", "postal_code", "phone"):
                        if hidden in address:
                            address[hidden] = ""
        return order

    def _country_index(self, code: str) -> int:
        if code not in self._countries:
            self._countries.append(code)
        return self._countries.index(code)

    def _device_identifier(self, line_id: int) -> tuple[str, str] | None:
        with self._lock:
            if line_id in self._added_identifiers:
                return self._added_identifiers[line_id]
            index, _ = divmod(line_id - LINE_ID_BASE, LINE_SLOTS_PER_ORDER)
            if 0 <= index < self._generator.count:
                return self._generator.device_identifiers(index).get(line_id)
            return None

    def _all_device_identifiers(self) -> Iterator[tuple[int, tuple[str, str]]]:
        for index in range(self._generator.count):
            yield from self._generator.device_identifiers(index).items()
        with self._lock:
            added = list(self._added_identifiers.items())
        yield from added


def _derive_order_state(lines: list[dict[str, Any]], current: int) -> int:
    """The order state from its lines (§5.5), given the order's current state."""
    states = {line.get("state") for line in lines}
    if not states:
        return current
    if states & _PAYMENT_PHASE:
        if current in (0, 10):
            return current
        return 0 if 0 in states else 10
    if states == {7}:
        return 8
    if 1 in states:
        return 1
    if 2 in states:
        return 3
    return 9


def _as_int(value: Any) -> int | None:
    """An integer field as a Django REST serializer reads it: an int or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _positive_int(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 1 else None


def _json_object(request: httpx.Request) -> dict[str, Any]:
    try:
        body = json.loads(request.content or b"null")
    except ValueError:
        raise _error(400, "bad_request", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _error(400, "bad_request", "the body must be a JSON object")
    return body


def _bounded_str(body: Mapping[str, Any], name: str, limit: int | None) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _error(400, f"invalid_{name}", f"{name} must be a string")
    if limit is not None and len(value) > limit:
        raise _error(400, f"invalid_{name}", f"{name} must be at most {limit} characters")
    return value
