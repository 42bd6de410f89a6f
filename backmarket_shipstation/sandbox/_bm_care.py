"""Back Market Care in the simulator: care folders, messages, refunds (backmarket.md §7.3, A.5).

A mixin of :class:`~.backmarket.BackMarketSimulator`, on the same raw JSON dicts and lock:

- ``GET /ws/sav``: filters ``last_id`` (ids above it), ``state`` (0 open, 9 closed),
  ``orderline``, ``last_modification_date`` and ``last_message_date`` (``YYYY-MM-DD-hh-mm``,
  UTC; anything else is a 400); ``page``, **10 per page**, no ``page-size``; ``count`` is the
  number of folders *on the page* ([OAS] documents it so), ``next``/``previous`` absolute.
- ``GET /ws/sav/{id}``: the details, built from the live order: the orderline's ``state``
  moves with refunds; the order's ``shipper`` is an integer id and dates end in ``+00:00``.
- ``POST /ws/sav/{id}/msg``: multipart, ``message`` required, at most 10 ``attachment`` files
  of 3 MB; 201 with the message; a closed folder reopens.
- ``POST /ws/sav/refund`` ``{orderline_pk, refund_type, amount?}``: the type must match the
  line's state (4 for 1, 5 for 2, 6 for 3), else 400; 404 for an unknown line. A full refund
  moves the line to 4, 5 or 6 (as ``new_state`` would); a partial one (type 6 with an
  ``amount`` below what is left to refund) leaves it shipped (INFERRED) and is recorded in
  :attr:`refunds`. 201 ``text/plain`` such as ``99€ refunded on the sku 123456``.

Each endpoint has its documented per-minute and per-day limits (sliding windows; a call over
either is answered 429), on top of the account-wide 200 per 10 s.
"""

from __future__ import annotations

import copy
import json
import re
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import httpx

if TYPE_CHECKING:
    import threading

    from ..clock import Clock

__all__ = ["CARE_LIMITS", "CareSimulator", "PlainText"]

CARE_LIMITS: Mapping[str, tuple[tuple[int, float], ...]] = {
    "_list_care_folders": ((520, 60.0), (4000, 86400.0)),
    "_get_care_folder": ((600, 60.0), (40000, 86400.0)),
    "_post_care_message": ((560, 60.0), (40000, 86400.0)),
    "_refund": ((500, 86400.0),),
}
"""The documented limits of each care endpoint ([OAS]), by simulator handler."""

CARE_FOLDER_ID_BASE = 100_000_000
_CARE_PAGE_SIZE = 10
_CARE_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})")
_REFUND_FROM_STATE = {4: 1, 5: 2, 6: 3}
_CURRENCY_SIGN = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "AUD": "A$"}
_MAX_ATTACHMENTS = 10
_MAX_ATTACHMENT_BYTES = 3 * 1024 * 1024


class PlainText(str):
    """A ``text/plain`` answer body (the refund summary), not JSON."""

    __slots__ = ()


def _offset_time(moment: datetime) -> str:
    """Care dates as [OAS] shows them: ``1970-01-01T00:00:00+00:00``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _parse_care_date(text: str) -> datetime:
    match = _CARE_DATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(text)
    year, month, day, hour, minute = (int(g) for g in match.groups())
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _money_text(amount: Decimal, currency: str) -> str:
    number = f"{amount:.2f}".removesuffix(".00")
    sign = _CURRENCY_SIGN.get(currency)
    return f"{number}{sign}" if sign else f"{number} {currency}"


class _Windows:
    """Sliding windows of one endpoint's limits."""

    def __init__(self, windows: Sequence[tuple[int, float]]) -> None:
        self.windows = tuple(windows)
        self.calls: deque[float] = deque()

    def admit(self, now: float) -> bool:
        longest = max(seconds for _, seconds in self.windows)
        while self.calls and self.calls[0] <= now - longest:
            self.calls.popleft()
        for limit, seconds in self.windows:
            if sum(1 for t in self.calls if t > now - seconds) >= limit:
                return False
        self.calls.append(now)
        return True


class CareSimulator:
    """The care endpoints of the Back Market simulator (mixed into it)."""

    clock: Clock
    base_url: str
    _lock: threading.RLock

    if TYPE_CHECKING:

        def _find_line(self, line_id: int) -> tuple[int, dict[str, Any]] | None: ...
        def _load(self, position: int) -> dict[str, Any]: ...
        def _commit(self, position: int, order: dict[str, Any]) -> None: ...
        def _position(self, order_id: int) -> int | None: ...
        def _position_count(self) -> int: ...

    def _init_care(
        self, *, care_folders: int, care_limits: bool, refund_amount_on_full: str
    ) -> None:
        if refund_amount_on_full not in ("error", "ignore"):
            raise ValueError("refund_amount_on_full is 'error' or 'ignore'")
        self.care_limits = care_limits
        self.refund_amount_on_full = refund_amount_on_full
        self._care: dict[int, dict[str, Any]] = {}
        self._next_care_id = CARE_FOLDER_ID_BASE + 1
        self._next_message_id = 7_000_001
        self._care_windows = {name: _Windows(w) for name, w in CARE_LIMITS.items()}
        self.refunds: list[dict[str, Any]] = []
        """Every refund Back Market accepted: ``{orderline_pk, refund_type, amount, order_id,
        sku, date}`` (amount a :class:`~decimal.Decimal`), in order. Tests count these."""
        if care_folders:
            self._seed_care_folders(care_folders)

    # --- direct access ------------------------------------------------------------------

    def add_care_folder(
        self,
        orderline_id: int,
        *,
        state: int = 0,
        message: str = "Bonjour, the screen flickers since yesterday.",
        issue: str = "SCREEN_FLICKERING",
        resolution_choice: str = "REFUND",
    ) -> dict[str, Any]:
        """Open a care folder on an existing orderline, with the customer's first message."""
        with self._lock:
            if self._find_line(orderline_id) is None:
                raise KeyError(f"orderline {orderline_id} does not exist")
            now = _offset_time(self.clock.now())
            folder_id = self._next_care_id
            self._next_care_id += 1
            folder = {
                "id": folder_id,
                "orderline": orderline_id,
                "state": state,
                "date_creation": now,
                "date_modification": now,
                "date_last_message": now,
                "date_closed": now if state == 9 else None,
                "claims": [
                    {
                        "id": folder_id * 10 + 1,
                        "issues": [{"customerIssue": issue, "tag": "TECHNICAL"}],
                        "state": state,
                        "resolution_choice": resolution_choice,
                        "declared_warranty_state": "IN_WARRANTY",
                        "return_labels": [],
                    }
                ],
                "messages": [],
            }
            self._care[folder_id] = folder
            self._append_message(folder, message, initiator="Customer", kind="CUSTOMER_TO_ALL")
            return copy.deepcopy(folder)

    def care_folder(self, care_folder_id: int) -> dict[str, Any] | None:
        """The rendered details of a folder (as ``GET /ws/sav/{id}`` answers), or None."""
        with self._lock:
            folder = self._care.get(care_folder_id)
            return None if folder is None else self._render_care(folder)

    def care_folder_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._care)

    def close_care_folder(self, care_folder_id: int) -> None:
        """Back Market closes a folder (state 9)."""
        with self._lock:
            folder = self._care[care_folder_id]
            now = _offset_time(self.clock.now())
            folder.update(state=9, date_closed=now, date_modification=now)

    def _seed_care_folders(self, count: int) -> None:
        made = 0
        for position in range(self._position_count()):
            if made >= count:
                return
            for line in self._load(position)["orderlines"]:
                if line.get("state") == 3:
                    self.add_care_folder(line["id"], state=9 if made % 4 == 3 else 0)
                    made += 1
                    break

    # --- routing helpers ----------------------------------------------------------------

    def _care_limited(self, handler: str) -> bool:
        windows = self._care_windows.get(handler) if self.care_limits else None
        return windows is not None and not windows.admit(self.clock.monotonic())

    # --- GET /ws/sav --------------------------------------------------------------------

    def _list_care_folders(self, request: httpx.Request) -> tuple[int, Any]:
        pairs = parse_qsl(request.url.query.decode("ascii", "replace"), keep_blank_values=True)
        query: dict[str, str] = {}
        for key, value in pairs:
            query.setdefault(key, value)
        page = _int_param(query, "page", 1)
        if page is None or page < 1:
            raise _care_error(400, "invalid_page", "page must be a positive integer")
        last_id = _int_param(query, "last_id", None)
        orderline = _int_param(query, "orderline", None)
        state = _int_param(query, "state", None)
        if state is not None and state not in (0, 9):
            raise _care_error(400, "invalid_state", "state must be 0 (open) or 9 (closed)")
        modified_from = _care_date_param(query, "last_modification_date")
        message_from = _care_date_param(query, "last_message_date")
        matching = [
            folder
            for _, folder in sorted(self._care.items())
            if (last_id is None or folder["id"] > last_id)
            and (state is None or folder["state"] == state)
            and (orderline is None or folder["orderline"] == orderline)
            and (modified_from is None or _parse_time(folder["date_modification"]) > modified_from)
            and (message_from is None or _parse_time(folder["date_last_message"]) > message_from)
        ]
        start = (page - 1) * _CARE_PAGE_SIZE
        results = [self._summary(folder) for folder in matching[start : start + _CARE_PAGE_SIZE]]
        last_page = max(1, -(-len(matching) // _CARE_PAGE_SIZE))
        return 200, {
            "count": len(results),
            "next": self._care_page_url(pairs, page + 1) if page < last_page else None,
            "previous": self._care_page_url(pairs, page - 1) if page > 1 else None,
            "results": results,
        }

    def _care_page_url(self, pairs: list[tuple[str, str]], page: int) -> str:
        kept = [(k, v) for k, v in pairs if k != "page"] + [("page", str(page))]
        return f"{self.base_url.rstrip('/')}/ws/sav?{urlencode(kept)}"

    def _summary(self, folder: dict[str, Any]) -> dict[str, Any]:
        found = self._find_line(folder["orderline"])
        order = self._load(found[0]) if found is not None else {}
        return {
            "id": folder["id"],
            "client": 0,
            "merchant": order.get("merchant_id", 0),
            "orderline": folder["orderline"],
            "date_creation": folder["date_creation"],
            "date_modification": folder["date_modification"],
            "date_last_message": folder["date_last_message"],
            "date_closed": folder["date_closed"],
            "state": folder["state"],
            "lines": [claim["id"] for claim in folder["claims"]],
            "country_code": order.get("country_code", "fr-fr"),
            "backcare": False,
        }

    # --- GET /ws/sav/{id} ---------------------------------------------------------------

    def _get_care_folder(self, request: httpx.Request, care_folder_id: int) -> tuple[int, Any]:
        folder = self._care.get(care_folder_id)
        if folder is None:
            raise _care_error(404, "not_found", "Care Folder does not exist")
        return 200, self._render_care(folder)

    def _render_care(self, folder: dict[str, Any]) -> dict[str, Any]:
        summary = self._summary(folder)
        found = self._find_line(folder["orderline"])
        order: dict[str, Any] = self._load(found[0]) if found is not None else {}
        line: dict[str, Any] = found[1] if found is not None else {}
        billing = order.get("billing_address") or {}
        from .backmarket import SHIPPERS

        shipper = order.get("shipper") or ""
        care_order = {
            "order_id": order.get("order_id"),
            "shipping_address": copy.deepcopy(order.get("shipping_address")),
            "billing_address": copy.deepcopy(order.get("billing_address")),
            "tracking_number": order.get("tracking_number", ""),
            "tracking_url": order.get("tracking_url", ""),
            # An integer id here, not the name (backmarket.md §7.3).
            "shipper": SHIPPERS.index(shipper) + 1 if shipper in SHIPPERS else 0,
            "shipper_display": order.get("shipper_display", ""),
            "state": order.get("state"),
            "price": order.get("price"),
            "shipping_price": order.get("shipping_price"),
            "currency": order.get("currency"),
            "country_code": order.get("country_code"),
        }
        for key in ("date_creation", "date_modification", "date_shipping", "date_payment"):
            value = order.get(key)
            care_order[key] = _offset_time(_parse_time(value)) if value else None
        return {
            "id": folder["id"],
            "state": folder["state"],
            "backcare": summary["backcare"],
            "client": {
                "id": 0,
                "username": "",
                "first_name": billing.get("first_name", ""),
                "last_name": billing.get("last_name", ""),
                "email": billing.get("email", ""),
            },
            "country_code": summary["country_code"],
            "date_closed": folder["date_closed"],
            "date_creation": folder["date_creation"],
            "date_last_message": folder["date_last_message"],
            "date_modification": folder["date_modification"],
            "lines": copy.deepcopy(folder["claims"]),
            "merchant": {"id": summary["merchant"], "username": "seller@sandbox.example"},
            "messages": copy.deepcopy(folder["messages"]),
            "orderline": {
                "id": line.get("id", folder["orderline"]),
                "order": care_order,
                "snapshot": {
                    "id": 0,
                    "sku": line.get("listing"),
                    "listing": line.get("listing_id"),
                    "product": {"product_id": line.get("product_id")},
                },
                "quantity": line.get("quantity"),
                "price": line.get("price"),
                "state": line.get("state"),
            },
        }

    # --- POST /ws/sav/{id}/msg ----------------------------------------------------------

    def _post_care_message(self, request: httpx.Request, care_folder_id: int) -> tuple[int, Any]:
        folder = self._care.get(care_folder_id)
        if folder is None:
            raise _care_error(404, "not_found", "Care Folder does not exist")
        fields, files = _multipart(request)
        message = fields.get("message", "")
        if not message.strip():
            raise _care_error(400, "bad_request", "message is required")
        if len(files) > _MAX_ATTACHMENTS:
            raise _care_error(400, "bad_request", "at most 10 attachments")
        if any(len(content) > _MAX_ATTACHMENT_BYTES for _, content in files):
            raise _care_error(400, "bad_request", "an attachment is larger than 3 MB")
        posted = self._append_message(
            folder, message, initiator="Merchant", kind="MERCHANT_TO_ALL", files=files
        )
        if folder["state"] == 9:  # posting reopens a closed folder ([OAS])
            folder["state"] = 0
            folder["date_closed"] = None
        stored = [
            {"msg": posted["id"], "group": folder["id"], "sender": 1, "attachment": a["attachment"]}
            for a in posted["attachments"]
        ]
        return 201, {
            "id": posted["id"],
            "group": folder["id"],
            "message": message,
            "date_creation": posted["date_creation"],
            "sender": 1,
            "attachment": stored[0] if stored else None,
            "attachments": stored,
        }

    def _append_message(
        self,
        folder: dict[str, Any],
        text: str,
        *,
        initiator: str,
        kind: str,
        files: Sequence[tuple[str, bytes]] = (),
    ) -> dict[str, Any]:
        now = _offset_time(self.clock.now())
        message_id = self._next_message_id
        self._next_message_id += 1
        message = {
            "id": message_id,
            "message": text,
            "date_creation": now,
            "attachments": [
                {
                    "id": message_id * 100 + index,
                    "attachment": f"https://static.sandbox.example/sav/{message_id}/{name}",
                    "date_creation": now,
                }
                for index, (name, _) in enumerate(files, 1)
            ],
            "initiator": initiator,
            "kind": kind,
            "is_informative": False,
        }
        folder["messages"].append(message)
        folder["date_last_message"] = folder["date_modification"] = now
        return message

    # --- POST /ws/sav/refund ------------------------------------------------------------

    def _refund(self, request: httpx.Request) -> tuple[int, Any]:
        try:
            body = json.loads(request.content or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _care_error(400, "bad_request", "Payload not acceptable: a JSON object")
        line_id = body.get("orderline_pk")
        refund_type = body.get("refund_type")
        if not isinstance(line_id, int) or isinstance(line_id, bool):
            raise _care_error(400, "bad_request", "orderline_pk must be an integer")
        if refund_type not in _REFUND_FROM_STATE or isinstance(refund_type, bool):
            raise _care_error(400, "bad_request", "refund_type must be 4, 5 or 6")
        found = self._find_line(line_id)
        if found is None:
            raise _care_error(404, "not_found", "Orderline does not exist")
        position, _ = found
        order = copy.deepcopy(self._load(position))
        line = next(x for x in order["orderlines"] if x["id"] == line_id)
        required = _REFUND_FROM_STATE[refund_type]
        if line["state"] != required:
            raise _care_error(
                400,
                "invalid_refund_type",
                f"refund_type {refund_type} needs an orderline in state {required}; "
                f"orderline {line_id} is in state {line['state']}",
            )
        total = Decimal(str(line.get("price") or "0")) * int(line.get("quantity") or 1)
        already = sum(
            (r["amount"] for r in self.refunds if r["orderline_pk"] == line_id), Decimal(0)
        )
        left = total - already
        amount = left
        if body.get("amount") is not None:
            if refund_type != 6 and self.refund_amount_on_full == "error":
                raise _care_error(400, "bad_request", "amount is only accepted with refund_type 6")
            if refund_type == 6:
                amount = _amount(body["amount"])
                if amount > left:
                    raise _care_error(
                        400,
                        "bad_request",
                        f"amount {amount} is more than the {left} left to refund",
                    )
        if amount >= left:
            # Refunded in full: the line leaves its state as the matching new_state would.
            line["state"] = refund_type
            self._commit(position, order)
        self.refunds.append(
            {
                "orderline_pk": line_id,
                "refund_type": refund_type,
                "amount": amount,
                "order_id": order["order_id"],
                "sku": line.get("listing"),
                "date": self.clock.now(),
            }
        )
        summary = (
            f"{_money_text(amount, str(line.get('currency') or order.get('currency') or 'EUR'))}"
            f" refunded on the sku {line.get('listing')}"
        )
        return 201, PlainText(summary)


def _care_error(status: int, code: str, message: str) -> Exception:
    from .backmarket import SimulatorError

    return SimulatorError(status, code, message)


def _int_param(query: Mapping[str, str], name: str, default: int | None) -> int | None:
    value = query.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise _care_error(400, f"invalid_{name}", f"{name} must be an integer") from None


def _care_date_param(query: Mapping[str, str], name: str) -> datetime | None:
    value = query.get(name, "")
    if value == "":
        return None
    try:
        return _parse_care_date(value)
    except ValueError:
        raise _care_error(
            400, "invalid_date", f"{name} must be formatted YYYY-MM-DD-hh-mm"
        ) from None


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _care_error(400, "bad_request", "amount must be a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _care_error(400, "bad_request", "amount must be a number") from None
    if not amount.is_finite() or amount <= 0:
        raise _care_error(400, "bad_request", "amount must be positive")
    return amount


def _multipart(request: httpx.Request) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise _care_error(400, "bad_request", "the message must be sent as multipart/form-data")
    parsed = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + request.content
    )
    fields: dict[str, str] = {}
    files: list[tuple[str, bytes]] = []
    for part in parsed.iter_parts() if parsed.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if name in ("attachment", "attachment[]") and filename:
            files.append((filename, content))
        elif isinstance(name, str):
            fields[name] = content.decode("utf-8", "replace")
    return fields, files
