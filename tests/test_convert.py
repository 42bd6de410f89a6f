"""The shared model machinery: round trips, omission rules, strict primitives, error paths."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
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
    extras_field,
    parse_datetime,
    wire,
)
from backmarket_shipstation.errors import PayloadError

PACIFIC = ZoneInfo("America/Los_Angeles")
CAMEL = ModelConverter(
    api="demo", naming="camel", money="number", datetimes=DatetimeCodec(PACIFIC, "pacific7")
)
SNAKE = ModelConverter(
    api="demo", naming="snake", money="string", datetimes=DatetimeCodec(UTC, "rfc3339")
)


class CamelModel(Model):
    __slots__ = ()
    _converter = CAMEL


class SnakeModel(Model):
    __slots__ = ()
    _converter = SNAKE


class Level(CodeEnum):
    LOW = 1
    HIGH = 2


class Colour(TextEnum):
    RED = "red"


@attrs.frozen(kw_only=True)
class Line(CamelModel):
    name: str
    unit_price: Decimal | None = None
    serial: str | None = wire("SerialNo", blank_is_none=True)
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Doc(CamelModel):
    doc_id: int
    created: datetime | None = None
    ship_date: date | None = None
    lines: tuple[Line, ...] | None = None
    level: Level | None = None
    colour: Colour | None = None
    gift: bool | None = None
    count: int | None = None
    note: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Pascal(CamelModel):
    __wire_naming__ = "pascal"
    hook_type: str | None = None
    web_hook_id: int | None = wire("WebHookID")
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Priced(SnakeModel):
    price: Decimal
    at: datetime | None = None
    extras: Mapping[str, Any] = extras_field()


def test_round_trip_keeps_unknown_keys_and_nulls() -> None:
    data = {
        "docId": 7,
        "created": "2015-07-16T14:00:34.8230000",
        "shipDate": "2015-07-02",
        "lines": [{"name": "phone", "unitPrice": 19.99, "SerialNo": "", "colorway": "blue"}],
        "gift": False,
        "count": 0,
        "note": "",
        "futureField": {"nested": [1, 2]},
        "customerNotes": None,
    }
    doc = Doc.from_dict(data)
    assert doc.lines is not None
    assert doc.lines[0].serial is None  # "" means absent for this field
    assert doc.lines[0].unit_price == Decimal("19.99")
    assert doc.extras == {"futureField": {"nested": [1, 2]}, "customerNotes": None}
    assert doc.to_dict() == data


def test_unset_fields_are_omitted_but_false_zero_and_empty_are_kept() -> None:
    assert Doc(doc_id=1).to_dict() == {"docId": 1}
    assert Doc(doc_id=1, gift=False, count=0, note="").to_dict() == {
        "docId": 1,
        "gift": False,
        "count": 0,
        "note": "",
    }


def test_pacific_wall_time_is_held_aware_and_written_back_in_v1_format() -> None:
    doc = Doc.from_dict({"docId": 1, "created": "2025-01-15T08:00:00.5"})
    assert doc.created == datetime(2025, 1, 15, 16, 0, 0, 500000, tzinfo=timezone.utc)
    assert doc.created is not None
    assert doc.created.utcoffset() == timedelta(hours=-8)
    summer = Doc(doc_id=1, created=datetime(2025, 7, 15, 15, 0, tzinfo=timezone.utc))
    assert summer.to_dict()["created"] == "2025-07-15T08:00:00.0000000"


def test_rfc3339_any_fraction_naive_means_utc() -> None:
    naive = Priced.from_dict({"price": "1.00", "at": "2022-04-29T09:35:24"})
    assert naive.at == datetime(2022, 4, 29, 9, 35, 24, tzinfo=timezone.utc)
    long_fraction = Priced.from_dict({"price": "1", "at": "2022-04-29T09:35:24.1234567Z"})
    assert long_fraction.at is not None
    assert long_fraction.at.microsecond == 123456
    offset = Priced.from_dict({"price": "1", "at": "2022-04-29T11:35:24+02:00"})
    assert offset.at == naive.at
    assert offset.to_dict() == {"price": "1", "at": "2022-04-29T09:35:24Z"}


def test_money_style_follows_the_api() -> None:
    assert Priced(price=Decimal("229.0")).to_dict() == {"price": "229.0"}
    line = Line(name="x", unit_price=Decimal("459.00"))
    assert line.to_dict() == {"name": "x", "unitPrice": 459.0}


def test_unknown_enum_values_are_kept_and_visible() -> None:
    doc = Doc.from_dict({"docId": 1, "level": 42, "colour": "ultraviolet"})
    assert doc.level == 42
    assert doc.level is not None
    assert not doc.level.is_known
    assert "UNKNOWN_42" in repr(doc.level)
    assert doc.colour == "ultraviolet"
    assert doc.colour is not None
    assert not doc.colour.is_known
    assert Level.HIGH.is_known
    assert doc.to_dict() == {"docId": 1, "level": 42, "colour": "ultraviolet"}


def test_pascal_naming_and_explicit_wire_names() -> None:
    data = {"HookType": "SHIP_NOTIFY", "WebHookID": 5}
    hook = Pascal.from_dict(data, strict=True)
    assert hook.web_hook_id == 5
    assert hook.to_dict() == data


@pytest.mark.parametrize(
    ("payload", "path", "reason"),
    [
        ({"docId": None}, "docId", "expected an integer, got null"),
        ({"docId": "1"}, "docId", "expected an integer"),
        ({}, "docId", "required field missing"),
        ({"docId": 1, "lines": [{"name": "a"}, {"name": None}]}, "lines[1].name", "expected text"),
        ({"docId": 1, "lines": [{"name": "a", "unitPrice": "x"}]}, "lines[0].unitPrice", "decimal"),
        ({"docId": 1, "lines": [{"name": "a", "unitPrice": "NaN"}]}, "lines[0].unitPrice", "finit"),
        ({"docId": 1, "lines": {"name": "a"}}, "lines", "expected a list, got an object"),
        ({"docId": 1, "gift": "yes"}, "gift", "expected true or false"),
        ({"docId": 1, "count": True}, "count", "expected an integer"),
        ({"docId": 1, "created": "yesterday"}, "created", "not a date-time"),
        ({"docId": 1, "shipDate": 20150702}, "shipDate", "expected a date string"),
        ({"docId": 1, "level": "high"}, "level", "Level"),
        ([], "", "expected an object"),
    ],
)
def test_bad_payloads_raise_payload_error_with_model_and_path(
    payload: Any, path: str, reason: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        Doc.from_dict(payload)
    assert caught.value.model == "demo.Doc"
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_strict_mode_rejects_unknown_keys() -> None:
    with pytest.raises(PayloadError) as caught:
        Doc.from_dict({"docId": 1, "lines": [{"name": "a", "colour": "red"}]}, strict=True)
    assert caught.value.path == "lines[0]"
    assert "colour" in caught.value.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-06-24T12:55:57Z", datetime(2014, 6, 24, 12, 55, 57, tzinfo=UTC)),
        ("2014-06-24 12:55:57", datetime(2014, 6, 24, 12, 55, 57, tzinfo=UTC)),
        ("2014-06-24T12:55", datetime(2014, 6, 24, 12, 55, tzinfo=UTC)),
        ("2014-06-24", datetime(2014, 6, 24, tzinfo=UTC)),
        ("2014-06-24T14:55:57.5+0200", datetime(2014, 6, 24, 12, 55, 57, 500000, tzinfo=UTC)),
        ("2014-06-24T07:55:57-05", datetime(2014, 6, 24, 12, 55, 57, tzinfo=UTC)),
    ],
)
def test_parse_datetime_forms(text: str, expected: datetime) -> None:
    assert parse_datetime(text, UTC) == expected


json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
junk = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["docId", "lines", "name", "unitPrice", "created", "level", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(junk)
def test_only_payload_errors_escape(payload: Any) -> None:
    with contextlib.suppress(PayloadError):
        Doc.from_dict(payload)


money = st.decimals(min_value=-10000, max_value=10000, places=2).map(lambda d: float(d))
line_payload = st.fixed_dictionaries(
    {"name": st.text(max_size=10)},
    optional={"unitPrice": money, "SerialNo": st.text(min_size=1, max_size=5) | st.just("")},
)
doc_payload = st.fixed_dictionaries(
    {"docId": st.integers()},
    optional={
        "lines": st.lists(line_payload, max_size=3),
        "gift": st.booleans(),
        "count": st.integers(),
        "note": st.text(max_size=10) | st.none(),
        "level": st.integers(min_value=-5, max_value=5),
        "created": st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)).map(
            lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"
        ),
        "unknownKey": st.text(max_size=3),
    },
)


@given(doc_payload)
def test_round_trip_property(payload: dict[str, Any]) -> None:
    # Wall times inside a DST gap or fold do not round-trip in any zone-aware representation.
    created = payload.get("created")
    if created is not None:
        wall = datetime.strptime(created[:26], "%Y-%m-%dT%H:%M:%S.%f")
        local = wall.replace(tzinfo=PACIFIC)
        back = local.astimezone(UTC).astimezone(PACIFIC).replace(tzinfo=None)
        if back != wall or local.fold or wall.replace(fold=1).utcoffset() != wall.utcoffset():
            payload = {k: v for k, v in payload.items() if k != "created"}
    assert Doc.from_dict(payload).to_dict() == payload


@pytest.mark.parametrize("text", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_instants_outside_the_representable_range_are_payload_errors(text: str) -> None:
    with pytest.raises(PayloadError) as caught:
        Priced.from_dict({"price": "1", "at": text})
    assert caught.value.path == "at"


def test_to_dict_holds_plain_values_not_enum_members() -> None:
    out = Doc(doc_id=1, level=Level.HIGH, colour=Colour.RED).to_dict()
    assert type(out["level"]) is int
    assert type(out["colour"]) is str


def test_a_number_money_field_refuses_what_json_cannot_carry() -> None:
    # 1e400 is a valid decimal but no finite JSON number: it could never be sent back.
    with pytest.raises(PayloadError) as caught:
        Line.from_dict({"name": "x", "unitPrice": "1e400"})
    assert caught.value.path == "unitPrice"
    assert "out of range" in caught.value.reason
    with pytest.raises(ValueError, match="JSON number"):
        Line(name="x", unit_price=Decimal("1e400")).to_dict()
    assert Priced.from_dict({"price": "1e400"}).to_dict() == {"price": "1E+400"}


def test_number_money_goes_out_exactly_or_is_refused() -> None:
    big = Decimal("-9007199254740993")  # beyond a float's 2**53: exact only as an integer
    out = Line(name="x", unit_price=big).to_dict()
    assert out["unitPrice"] == int(big)
    assert Line.from_dict(out).unit_price == big
    assert Line(name="x", unit_price=Decimal("19.99")).to_dict()["unitPrice"] == 19.99
    with pytest.raises(PayloadError, match="more digits than a JSON number carries"):
        Line.from_dict({"name": "x", "unitPrice": "0.12345678901234567891"})
