"""The ShipStation simulator's value helpers: JSON, money, weights, addresses, label costs."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from backmarket_shipstation.sandbox._ss_catalog import (
    WEIGHT_UNIT_CODES,
)

_OUNCES_PER_UNIT = {"ounces": Decimal(1), "pounds": Decimal(16), "grams": Decimal("0.035274")}
_CENT = Decimal("0.01")
_CARRIER_BASE_COST = {
    "stamps_com": Decimal("5.20"),
    "usps": Decimal("5.40"),
    "ups": Decimal("9.85"),
    "fedex": Decimal("9.50"),
    "dhl_express": Decimal("24.90"),
    "royal_mail": Decimal("3.95"),
    "colissimo": Decimal("6.55"),
    "chronopost": Decimal("11.90"),
    "dpd": Decimal("6.95"),
    "gls": Decimal("6.20"),
}


class _OrderInvalid(Exception):
    """One order of a create call does not bind: the ModelState key and message."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _plain(value: Any) -> Any:
    """What a client parsing the JSON answer would hold (floats, fresh containers)."""
    return json.loads(json.dumps(value, default=_json_default))


def _response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> httpx.Response:
    all_headers = dict(headers or {})
    if body is None:
        return httpx.Response(status, headers=all_headers)
    all_headers["Content-Type"] = "application/json; charset=utf-8"
    content = json.dumps(body, default=_json_default).encode("utf-8")
    return httpx.Response(status, headers=all_headers, content=content)


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _OrderInvalid(name, f"{name} must be an integer.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise _OrderInvalid(name, f"{name} must be an integer.")


def _text(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)  # JSON.NET turns numbers into strings for string properties
    raise _OrderInvalid(name, f"{name} must be a string.")


def _bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _OrderInvalid(name, f"{name} must be true or false.")


def _money(value: Any, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _OrderInvalid(name, f"{name} must be a number.")
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    raise _OrderInvalid(name, f"Could not convert to decimal: {value!r}.")


def _tag_ids(value: Any, known: set[int]) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) for t in value
    ):
        raise _OrderInvalid("tagIds", "tagIds must be an array of integers.")
    unknown = [t for t in value if t not in known]
    if unknown:
        raise _OrderInvalid("tagIds", f"Unknown tagId {unknown[0]}.")
    return list(dict.fromkeys(value))


def _address(value: Any, name: str, *, verified: str | None) -> dict[str, Any]:
    if value is None:
        raise _OrderInvalid(name, f"The {name} field is required.")
    if not isinstance(value, dict):
        raise _OrderInvalid(name, f"{name} must be a JSON object.")
    src = {k.lower(): v for k, v in value.items()}
    fields = (
        "name",
        "company",
        "street1",
        "street2",
        "street3",
        "city",
        "state",
        "postalCode",
        "country",
        "phone",
    )
    address: dict[str, Any] = {f: _text(src.get(f.lower()), f"{name}.{f}") for f in fields}
    address["residential"] = _bool(src.get("residential"), f"{name}.residential")
    address["addressVerified"] = verified
    return address


def _weight(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _OrderInvalid(name, f"{name} must be a JSON object.")
    src = {k.lower(): v for k, v in value.items()}
    units = src.get("units")
    if units not in WEIGHT_UNIT_CODES:
        # V1 knows pounds, ounces and grams only: no kilograms (shipstation.md §2.5).
        raise _OrderInvalid(
            f"{name}.units", f"Error converting value \"{units}\" to type 'WeightUnits'."
        )
    amount = _money(src.get("value"), f"{name}.value") or Decimal(0)
    return {"value": amount, "units": units, "WeightUnits": WEIGHT_UNIT_CODES[units]}


def _sum_weights(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Order weight from item weights times quantity when the order sends none (§6.4, INFERRED)."""
    weighted = [i for i in items if i["weight"] is not None and i["quantity"] > 0]
    if not weighted:
        return None
    units = {i["weight"]["units"] for i in weighted}
    if len(units) == 1:
        unit = units.pop()
        total = sum((i["weight"]["value"] * i["quantity"] for i in weighted), Decimal(0))
    else:
        unit = "ounces"
        total = sum(
            (
                i["weight"]["value"] * _OUNCES_PER_UNIT[i["weight"]["units"]] * i["quantity"]
                for i in weighted
            ),
            Decimal(0),
        ).quantize(_CENT)
    return {"value": total, "units": unit, "WeightUnits": WEIGHT_UNIT_CODES[unit]}


def _dimensions(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    src = {k.lower(): v for k, v in value.items()}
    return {
        "units": src.get("units"),
        "length": src.get("length"),
        "width": src.get("width"),
        "height": src.get("height"),
    }


def _insurance(value: Any) -> dict[str, Any]:
    src = {k.lower(): v for k, v in value.items()} if isinstance(value, dict) else {}
    return {
        "provider": src.get("provider"),
        "insureShipment": bool(src.get("insureshipment")),
        "insuredValue": _money(src.get("insuredvalue"), "insuredValue") or Decimal("0.0"),
    }


def _label_cost(carrier: str, weight: Mapping[str, Any], *, international: bool) -> Decimal:
    ounces = Decimal(str(weight["value"])) * _OUNCES_PER_UNIT[weight["units"]]
    pounds = max(1, math.ceil(ounces / 16))
    cost = _CARRIER_BASE_COST.get(carrier, Decimal("7.00")) + Decimal("0.45") * pounds
    if international:
        cost += Decimal("15.00")
    return cost.quantize(_CENT)
