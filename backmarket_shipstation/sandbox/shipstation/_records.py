"""The ShipStation simulator's records: orders, shipments, fulfillments, webhooks, errors.

Records keep their wire form as compressed JSON beside the few fields filters read.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ._values import (
    _json_default,
)

_INVALID = "The request is invalid."


class SimulatorRequestError(ValueError):
    """A direct simulator call (``buy_label``, ``add_order``) failed as the endpoint would.

    ``status_code`` and ``body`` are what the HTTP endpoint answers for the same input.
    """

    def __init__(self, status_code: int, body: Any) -> None:
        self.status_code = status_code
        self.body = body
        message = body.get("Message") or body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{status_code}: {message}")


class _Reply(Exception):
    """Raised inside a handler to answer with an error status and body at once."""

    def __init__(self, status_code: int, body: Any) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.body = body


def _bad_request(message: str, model_state: Mapping[str, list[str]] | None = None) -> _Reply:
    body: dict[str, Any] = {"Message": message}
    if model_state is not None:
        body["ModelState"] = dict(model_state)
    return _Reply(400, body)


def _invalid(key: str, message: str) -> _Reply:
    return _bad_request(_INVALID, {key: [message]})


def _pack(data: Any) -> bytes:
    text = json.dumps(data, default=_json_default, separators=(",", ":"))
    # Level 1: the null-heavy JSON still shrinks by half or more, for a few microseconds.
    return zlib.compress(text.encode("utf-8"), 1)


def _unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


class _Packed:
    """A record whose wire form is kept as compact JSON bytes.

    Dicts per order, address and item cost about 6 KB an order; compressed JSON about 1 KB, so
    a simulator holding 100,000 orders stays around 200 MB. The fields that filters and state
    changes read live beside it as attributes.
    """

    __slots__ = ()
    blob: bytes

    @property
    def data(self) -> dict[str, Any]:
        """A fresh dict of the wire form, as a client would parse it."""
        loaded: dict[str, Any] = _unpack(self.blob)
        return loaded

    def update(self, **changes: Any) -> None:
        data = self.data
        data.update(changes)
        # The slot itself is made by each slotted dataclass below, which mypy cannot see here.
        self.blob = _pack(data)  # type: ignore[misc]


@dataclass(slots=True)
class _Order(_Packed):
    order_id: int
    order_key: str
    order_number: str
    store_id: int
    status: str
    order_date: datetime
    create_date: datetime
    modify_date: datetime
    payment_date: datetime | None
    blob: bytes
    # Lower-cased text searched by the customerName and itemKeyword filters.
    search_names: str
    search_items: str
    hold_until: date | None = None
    active: bool = True
    import_batch: str | None = None
    tag_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Shipment(_Packed):
    shipment_id: int
    order_id: int
    order_number: str
    store_id: int
    batch_id: int
    create_date: datetime
    ship_date: date
    carrier_code: str
    service_code: str
    tracking_number: str
    recipient_name: str
    recipient_country: str
    blob: bytes
    items_blob: bytes
    void_date: datetime | None = None


@dataclass(slots=True)
class _Fulfillment(_Packed):
    fulfillment_id: int
    order_id: int
    order_number: str
    tracking_number: str | None
    recipient_name: str
    create_date: datetime
    ship_date: date
    blob: bytes


@dataclass
class _Webhook:
    webhook_id: int
    target_url: str
    event: str
    store_id: int | None
    name: str | None


@dataclass
class _Delivery:
    due: float
    url: str
    payload: dict[str, Any]
    attempts: int = 0


@dataclass
class _Window:
    index: int
    used: int


@dataclass
class _Request:
    method: str
    path: str
    url: str
    query: dict[str, str]
    content: bytes
    params: dict[str, str]

    def json(self, model_key: str) -> Any:
        if not self.content.strip():
            return None
        try:
            return json.loads(self.content, parse_float=Decimal)
        except ValueError as exc:
            raise _invalid(
                model_key, f"Unexpected character encountered while parsing value: {exc}"
            ) from None


class _Locked(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
