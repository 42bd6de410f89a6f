"""``orders list`` and ``orders show``: one side's orders, as tables, text or JSON.

Lists stay free of buyer details (names, addresses, phones, e-mails): a terminal's scrollback
and a CI log are not places for them. ``show`` prints them, because that is what it is for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import Any, TextIO

from .backmarket.models import Address as BackMarketAddress
from .backmarket.models import Order as BackMarketOrder
from .shipstation.models import Address as ShipStationAddress
from .shipstation.models import Order as ShipStationOrder
from .sync.config import AccountConfig
from .sync.runner import backmarket_client, shipstation_client

__all__ = ["list_orders", "show_order"]

_BM_PAGE = 50
_SS_PAGE = 500


def list_orders(
    account: AccountConfig,
    *,
    side: str,
    state: int | None,
    status: str | None,
    limit: int,
    as_json: bool,
    out: TextIO,
) -> int:
    """Print up to ``limit`` orders of one side; returns how many were printed."""
    rows: list[dict[str, Any]]
    if side == "backmarket":
        with backmarket_client(account) as bm:
            found = bm.orders.list(state=state, page_size=max(1, min(limit, _BM_PAGE)))
            rows = [_bm_row(order) for order in islice(found, limit)]
    else:
        with shipstation_client(account) as ss:
            found_ss = ss.orders.list(
                order_status=status,
                store_id=account.shipstation_store_id,
                page_size=max(1, min(limit, _SS_PAGE)),
            )
            rows = [_ss_row(order) for order in islice(found_ss, limit)]
    if as_json:
        print(json.dumps(rows, indent=2), file=out)
    else:
        print(_table(rows), file=out)
    return len(rows)


def show_order(
    account: AccountConfig, *, side: str, order_id: int, as_json: bool, out: TextIO
) -> None:
    """Print one order in full, buyer details included."""
    if side == "backmarket":
        with backmarket_client(account) as bm:
            bm_order = bm.orders.get(order_id)
        if as_json:
            print(json.dumps(bm_order.to_dict(), indent=2, default=str), file=out)
        else:
            print(_bm_text(bm_order), file=out)
    else:
        with shipstation_client(account) as ss:
            ss_order = ss.orders.get(order_id)
        if as_json:
            print(json.dumps(ss_order.to_dict(), indent=2, default=str), file=out)
        else:
            print(_ss_text(ss_order), file=out)


# --------------------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="minutes")


def _money(amount: Decimal | None, currency: str | None) -> str:
    if amount is None:
        return ""
    return f"{amount} {currency}" if currency else str(amount)


def _name(value: object) -> str:
    if value is None:
        return ""
    name = getattr(value, "name", None)
    return str(name).lower() if isinstance(name, str) else str(value)


def _bm_row(order: BackMarketOrder) -> dict[str, Any]:
    lines = order.orderlines or ()
    return {
        "order_id": order.order_id,
        "state": _name(order.state),
        "created": _when(order.date_creation),
        "modified": _when(order.date_modification),
        "country": order.country_code or "",
        "lines": len(lines),
        "skus": " ".join(line.listing or "" for line in lines),
        "total": _money(order.price, order.currency),
    }


def _ss_row(order: ShipStationOrder) -> dict[str, Any]:
    items = order.items or ()
    return {
        "order_id": order.order_id,
        "order_number": order.order_number,
        "status": str(order.order_status.value),
        "order_date": _when(order.order_date),
        "items": sum(item.quantity or 0 for item in items),
        "skus": " ".join(item.sku or "" for item in items),
        "total": "" if order.order_total is None else str(order.order_total),
    }


def _table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "(no orders)"
    headers = list(rows[0])
    cells = [[str(row[h]) for h in headers] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )
    return "\n".join(lines)


def _fields(pairs: Iterable[tuple[str, object]], indent: str = "") -> list[str]:
    return [f"{indent}{label:<16}{value}" for label, value in pairs if value not in (None, "")]


def _bm_address(title: str, address: BackMarketAddress | None) -> list[str]:
    if address is None:
        return []
    name = " ".join(p for p in (address.first_name, address.last_name) if p)
    street = " ".join(p for p in (address.street, address.street2) if p)
    place = " ".join(p for p in (address.postal_code, address.city) if p)
    return [
        title,
        *_fields(
            [
                ("name", name),
                ("company", address.company),
                ("street", street),
                ("city", place),
                ("state", address.state_or_province),
                ("country", address.country),
                ("phone", address.phone),
                ("email", address.email),
            ],
            "  ",
        ),
    ]


def _bm_text(order: BackMarketOrder) -> str:
    lines = _fields(
        [
            ("order", order.order_id),
            ("state", _name(order.state)),
            ("created", _when(order.date_creation)),
            ("modified", _when(order.date_modification)),
            ("shipped", _when(order.date_shipping)),
            ("total", _money(order.price, order.currency)),
            ("shipper", order.shipper),
            ("tracking", order.tracking_number),
        ]
    )
    lines += _bm_address("ship to", order.shipping_address)
    lines.append("lines")
    for line in order.orderlines or ():
        identifier = line.imei or line.serial_number or ""
        lines.append(
            f"  {line.id}  {line.listing or ''}  x{line.quantity or 0}  "
            f"{_name(line.state)}  {_money(line.price, line.currency)}  {identifier}".rstrip()
        )
    return "\n".join(lines)


def _ss_address(title: str, address: ShipStationAddress | None) -> list[str]:
    if address is None:
        return []
    street = " ".join(p for p in (address.street1, address.street2, address.street3) if p)
    place = " ".join(p for p in (address.postal_code, address.city) if p)
    return [
        title,
        *_fields(
            [
                ("name", address.name),
                ("company", address.company),
                ("street", street),
                ("city", place),
                ("state", address.state),
                ("country", address.country),
                ("phone", address.phone),
            ],
            "  ",
        ),
    ]


def _ss_text(order: ShipStationOrder) -> str:
    lines = _fields(
        [
            ("order id", order.order_id),
            ("order number", order.order_number),
            ("order key", order.order_key),
            ("status", order.order_status.value),
            ("order date", _when(order.order_date)),
            ("total", order.order_total),
            ("email", order.customer_email),
            ("carrier", order.carrier_code),
            ("ship date", order.ship_date),
        ]
    )
    lines += _ss_address("ship to", order.ship_to)
    lines.append("items")
    for item in order.items or ():
        lines.append(
            f"  {item.line_item_key or ''}  {item.sku or ''}  x{item.quantity or 0}  {item.name}"
        )
    if order.internal_notes:
        lines.append("internal notes")
        lines.extend(f"  {note}" for note in order.internal_notes.splitlines())
    return "\n".join(lines)
