"""The generated fast paths of the converter agree with cattrs' own (detailed) code.

Parsing and writing run through code generated per model class (inline type checks, enum
member tables, slot setters, a date-time formatter built from a table). These tests pin that
the fast code and the reference code give the same objects, the same extras and the same
failures, so a speed-up can never change what a payload means.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backmarket_shipstation._convert import (
    UTC,
    CodeEnum,
    DatetimeCodec,
    Model,
    ModelConverter,
    TextEnum,
    _decimal_to_number,
    extras_field,
    wire,
)
from backmarket_shipstation.errors import PayloadError

PACIFIC = ZoneInfo("America/Los_Angeles")
SNAKE = ModelConverter(
    api="fast", naming="snake", money="string", datetimes=DatetimeCodec(UTC, "rfc3339")
)
CAMEL = ModelConverter(
    api="fastcamel", naming="camel", money="number", datetimes=DatetimeCodec(PACIFIC, "pacific7")
)


class FastModel(Model):
    __slots__ = ()
    _converter = SNAKE


class Grade(CodeEnum):
    A = 1
    B = 2


class Mode(TextEnum):
    HOME = "HOME"


@attrs.frozen(kw_only=True)
class Part(FastModel):
    part_id: int
    price: Decimal | None = None
    serial: str | None = wire("serial_number", blank_is_none=True)
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Box(FastModel):
    box_id: int
    label: str | None = None
    sealed: bool | None = None
    grade: Grade | None = None
    mode: Mode | None = None
    price: Decimal | None = None
    at: datetime | None = None
    part: Part | None = None
    parts: tuple[Part, ...] | None = None
    codes: tuple[int, ...] | None = None
    extras: Mapping[str, Any] = extras_field()


class CamelModel(Model):
    __slots__ = ()
    _converter = CAMEL


@attrs.frozen(kw_only=True)
class Parcel(CamelModel):
    parcel_id: int
    amount: Decimal | None = None
    fee: Decimal | None = None
    shipped_at: datetime | None = None
    extras: Mapping[str, Any] = extras_field()


def _reference(payload: Any, cls: type[Model]) -> Any:
    """cattrs' own structuring code for the same converter rules (the detailed path)."""
    return cls._converter._detailed.structure(payload, cls)


def _fast(payload: Any, cls: type[Model]) -> Any:
    return cls._converter._fast.structure(payload, cls)


def _outcome(run: Any, payload: Any, cls: type[Model] = Box) -> tuple[str, Any]:
    try:
        obj = run(payload, cls)
    except Exception:
        return ("error", None)
    return ("ok", (obj, _all_extras(obj)))


def _all_extras(obj: Any) -> Any:
    """The extras of an object and of every model inside it (eq leaves them out)."""
    if isinstance(obj, tuple):
        return [_all_extras(item) for item in obj]
    if not isinstance(obj, Model):
        return None
    return (
        dict(obj.extras),
        {a.name: _all_extras(getattr(obj, a.name)) for a in attrs.fields(type(obj))},
    )


value = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=3)
    | st.floats(allow_nan=True)
    | st.sampled_from(["", "x", "HOME", "1.50", "NaN", "-Infinity", "2025-03-10T08:30:12Z"])
)
part = st.fixed_dictionaries(
    {"part_id": st.integers(0, 5) | value},
    optional={"price": value, "serial_number": value, "other": value},
)
box = st.fixed_dictionaries(
    {"box_id": st.integers(0, 5) | value},
    optional={
        "label": value,
        "sealed": value,
        "grade": value,
        "mode": value,
        "price": value,
        "at": value,
        "part": part | value,
        "parts": st.lists(part, max_size=2) | value,
        "codes": st.lists(st.integers(0, 3) | value, max_size=2) | value,
        "unknown": value,
    },
)


@given(box)
def test_fast_structuring_agrees_with_cattrs_own_code(payload: dict[str, Any]) -> None:
    assert _outcome(_fast, payload) == _outcome(_reference, payload)


amount = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers()
    | st.sampled_from([2**53, -(2**53), 2**53 - 1, 10**400, True, "1.5", None])
    | value
)
parcel = st.fixed_dictionaries(
    {"parcelId": st.integers(0, 5)},
    optional={
        "amount": amount,
        "fee": amount,
        "shippedAt": st.sampled_from(["2025-03-10T08:30:12.4829130", "2025-03-09T02:30:00"])
        | value,
    },
)


@given(parcel)
def test_fast_json_number_money_agrees_with_cattrs_own_code(payload: dict[str, Any]) -> None:
    assert _outcome(_fast, payload, Parcel) == _outcome(_reference, payload, Parcel)


@pytest.mark.parametrize("bad", [True, float("inf"), float("nan"), 10**400])
def test_json_number_money_refuses_what_cannot_go_back_out(bad: Any) -> None:
    with pytest.raises(PayloadError) as caught:
        Parcel.from_dict({"parcelId": 1, "amount": bad})
    assert caught.value.path == "amount"


@pytest.mark.parametrize(
    ("field", "bad"),
    [("grade", True), ("grade", "1"), ("mode", 1), ("price", "NaN"), ("price", "Infinity")],
)
def test_values_the_fast_path_must_not_let_through(field: str, bad: Any) -> None:
    # True == 1 in Python: a member table looked up without the type check would take it.
    with pytest.raises(PayloadError) as caught:
        Box.from_dict({"box_id": 1, field: bad})
    assert caught.value.path == field


def test_absent_keys_stay_absent_and_nulls_are_kept() -> None:
    box = Box.from_dict({"box_id": 1, "label": None, "part": {"part_id": 2, "price": None}})
    assert box.extras == {"label": None}
    assert box.part is not None
    assert box.part.extras == {"price": None}
    assert box.to_dict() == {"box_id": 1, "label": None, "part": {"part_id": 2, "price": None}}
    assert Box.from_dict({"box_id": 1}).extras == {}


def test_each_object_gets_its_own_extras() -> None:
    first, second = Box.from_dict({"box_id": 1}), Box.from_dict({"box_id": 2})
    assert first.extras is not second.extras


def test_unknown_codes_go_through_the_tolerant_enum() -> None:
    box = Box.from_dict({"box_id": 1, "grade": 7, "mode": "LOCKER"})
    assert box.grade is not None
    assert not box.grade.is_known
    assert int(box.grade) == 7
    assert box.mode is not None
    assert box.mode.value == "LOCKER"
    assert box.to_dict() == {"box_id": 1, "grade": 7, "mode": "LOCKER"}


moments = st.datetimes(
    min_value=datetime(1000, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)
)


@given(moments)
def test_date_times_are_written_as_strftime_would(moment: datetime) -> None:
    rfc = DatetimeCodec(UTC, "rfc3339")
    expected = moment.strftime("%Y-%m-%dT%H:%M:%S")
    expected += f".{moment.microsecond:06d}Z" if moment.microsecond else "Z"
    assert rfc.format(moment) == expected
    local = moment.astimezone(PACIFIC)
    pacific = DatetimeCodec(PACIFIC, "pacific7")
    assert pacific.format(moment) == local.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


@given(moments, st.sampled_from(["Z", "+02:00", "-07:00", ""]))
def test_the_fast_date_time_parse_agrees_with_the_full_one(moment: datetime, zone: str) -> None:
    text = moment.replace(tzinfo=None).isoformat() + zone
    for codec in (DatetimeCodec(UTC, "rfc3339"), DatetimeCodec(PACIFIC, "pacific7")):
        fast, full = codec.parse(text), codec._parse_any(text)
        assert fast == full
        assert fast.utcoffset() == full.utcoffset()


def test_a_date_time_near_the_end_of_the_calendar_takes_the_full_checks() -> None:
    codec = DatetimeCodec(timezone(timedelta(hours=-1)), "rfc3339")
    with pytest.raises(ValueError, match="usable"):
        codec.parse("9999-12-31T23:30:00")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("900.00"), 900),
        (Decimal("-0"), 0),
        (Decimal("19.99"), 19.99),
        (Decimal("12345678901234567890123"), 12345678901234567890123),
        (Decimal("1.5E+20"), 150000000000000000000),
    ],
)
def test_json_numbers_keep_whole_amounts_exact(amount: Decimal, expected: float) -> None:
    written = _decimal_to_number(amount)
    assert written == expected
    assert type(written) is type(expected)


def test_a_model_whose_optional_field_defaults_to_something_else_is_refused() -> None:
    # to_dict() leaves out the fields equal to None: another default could not be told apart.
    @attrs.frozen(kw_only=True)
    class Odd(FastModel):
        count: int | None = 0
        extras: Mapping[str, Any] = extras_field()

    with pytest.raises(TypeError, match="default to None"):
        Odd().to_dict()
