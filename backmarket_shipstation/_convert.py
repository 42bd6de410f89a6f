"""The cattrs machinery shared by both APIs' models, built once per API at import.

Rules every model follows (see docs/models-*.md):

- Models are frozen, slotted, keyword-only attrs classes (``@attrs.frozen(kw_only=True)``).
- Required fields have no default; every other field is ``X | None = None``. ``None`` means
  "not given": :meth:`Model.to_dict` leaves it out, so a request never carries ``null`` or the
  string ``"None"`` for a field the caller did not set, while ``False``, ``0`` and ``""`` are
  kept.
- Each model has an ``extras`` field holding the wire keys it does not represent with a value:
  unknown keys (API drift, undocumented fields) and keys that came as ``null`` (or as ``""``
  where a field says blank means absent). ``to_dict()`` writes them back, so a fetched object
  round-trips without loss, which matters because ShipStation's createorder replaces the
  whole order.
- Primitives are checked, not coerced: ``None`` in a required text field is an error, never
  ``"None"``; a boolean is not a number.
- Any failure becomes one :class:`~backmarket_shipstation.errors.PayloadError` naming the
  model and the path of the bad value.
"""

from __future__ import annotations

import itertools
import math
import operator
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from enum import Enum, IntEnum
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory, is_sequence
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, override
from typing_extensions import Self

from .errors import PayloadError

__all__ = [
    "BLANK_IS_NONE",
    "UTC",
    "CodeEnum",
    "blank_is_absent",
    "TextEnum",
    "DatetimeCodec",
    "Model",
    "ModelConverter",
    "extras_field",
    "parse_datetime",
    "to_camel",
    "wire",
]

T = TypeVar("T")
UTC = timezone.utc

_EXTRAS = "bmss_extras"
_WIRE = "bmss_wire"
BLANK_IS_NONE = "bmss_blank_is_none"
"""Field metadata key: an empty string on the wire means the value is absent."""


def extras_field() -> Any:
    """The ``extras`` field every model declares last: wire keys kept for the round trip."""
    return attrs.field(factory=dict, repr=False, eq=False, hash=False, metadata={_EXTRAS: True})


def wire(name: str, *, default: Any = None, blank_is_none: bool = False) -> Any:
    """An optional field whose wire key is not derived from its Python name."""
    return attrs.field(default=default, metadata={_WIRE: name, BLANK_IS_NONE: blank_is_none})


def blank_is_absent() -> Any:
    """An optional field that an API sometimes sends as ``""`` instead of a list or object.

    ``""`` then parses as ``None`` (absent) and is kept in ``extras``, so ``to_dict()`` writes
    it back unchanged: a whole-record update never turns it into something else.
    """
    return attrs.field(default=None, metadata={BLANK_IS_NONE: True})


class Model:
    """Base of every model: ``from_dict`` and ``to_dict`` through the API's converter."""

    __slots__ = ()
    _converter: ClassVar[ModelConverter]
    extras: Mapping[str, Any]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, strict: bool = False) -> Self:
        """Build the model from a decoded JSON payload.

        ``strict=True`` rejects keys the model does not know (useful in tests to catch a typo
        or API drift); by default they are kept in ``extras``.
        """
        converter = cls._converter.strict if strict else cls._converter
        return converter.structure(data, cls)

    def to_dict(self) -> dict[str, Any]:
        """The wire form of the model, ready for ``json.dumps``."""
        return self._converter.unstructure(self)


# --------------------------------------------------------------------------------------
# Dates and times
# --------------------------------------------------------------------------------------

_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)


# From 3.11, fromisoformat reads RFC 3339 with "Z" and fractions of any length, in C.
_FROMISOFORMAT_IS_LENIENT = sys.version_info >= (3, 11)


def parse_datetime(text: str, naive_zone: tzinfo) -> datetime:
    """Parse RFC 3339 / ISO 8601 leniently; a value without an offset is in ``naive_zone``.

    Accepts a ``T`` or a space, no seconds, a fraction of any length (truncated to
    microseconds), ``Z`` or a ``±hh[:mm]`` offset, and a bare date (midnight).
    """
    if _FROMISOFORMAT_IS_LENIENT:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass  # the forms it does not read (a bare hour offset...) go through the regex
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=naive_zone)
    m = _DATETIME_RE.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"not a date-time: {text!r}")
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    naive = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro
    )
    if offset is None:
        return naive.replace(tzinfo=naive_zone)
    if offset in ("Z", "z"):
        return naive.replace(tzinfo=UTC)
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return naive.replace(tzinfo=timezone(sign * delta))


@attrs.frozen
class DatetimeCodec:
    """How one API writes date-times: the zone of naive values and the output format."""

    zone: tzinfo
    """Zone of values without an offset, and the zone values are written in."""
    style: Literal["rfc3339", "pacific7"]
    """``rfc3339``: UTC with ``Z``; ``pacific7``: wall time, no offset, 7 fraction digits."""

    def structure(self, value: object, _: type) -> datetime:
        """:meth:`parse` with the signature of a cattrs structure hook."""
        return self.parse(value)

    def parse(self, value: object) -> datetime:
        if type(value) is str and _FROMISOFORMAT_IS_LENIENT:
            # The common case in one step, in C; anything unusual takes the full path below.
            try:
                parsed = _fromisoformat(value)
            except ValueError:
                pass
            else:
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=self.zone)
                # Any instant of these years can be written back in any zone.
                if 1 < parsed.year < 9999:
                    return parsed if self.style == "rfc3339" else parsed.astimezone(self.zone)
        return self._parse_any(value)

    def _parse_any(self, value: object) -> datetime:
        if type(value) is not str:
            if isinstance(value, datetime):
                return value if value.tzinfo else value.replace(tzinfo=self.zone)
            if not isinstance(value, str):
                raise _BadValue(f"expected a date-time string, got {type(value).__name__}")
        try:
            parsed = parse_datetime(value, self.zone)
            # Hold values in the API's own zone so that what is shown is what the API means;
            # converting also proves the instant can be written back (year 1 minus an hour
            # cannot).
            parsed.astimezone(UTC)
            return parsed if self.style == "rfc3339" else parsed.astimezone(self.zone)
        except (ValueError, OverflowError) as exc:
            raise _BadValue(f"not a usable date-time: {value!r} ({exc})") from None

    def format(self, value: datetime) -> str:
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        if self.style == "rfc3339":
            moment = value.astimezone(UTC)
            end = f".{moment.microsecond:06d}Z" if moment.microsecond else "Z"
        else:
            moment = value.astimezone(self.zone)
            end = f".{moment.microsecond:06d}0"
        # Built from a table of two-digit strings: strftime or isoformat plus trimming cost
        # several times as much, and every order carries a few date-times.
        two = _TWO_DIGITS
        return (
            f"{moment.year:04d}-{two[moment.month]}-{two[moment.day]}"
            f"T{two[moment.hour]}:{two[moment.minute]}:{two[moment.second]}{end}"
        )


_TWO_DIGITS = tuple(f"{number:02d}" for number in range(100))
_fromisoformat = datetime.fromisoformat


# --------------------------------------------------------------------------------------
# Enums that tolerate unknown values
# --------------------------------------------------------------------------------------


class CodeEnum(IntEnum):
    """An integer code enum; an unknown code becomes a member named ``UNKNOWN_<code>``.

    The API may add codes at any time: parsing keeps the raw value (``int(member)``) and shows
    it in the repr instead of failing the whole payload.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            return member
        return None

    @property
    def is_known(self) -> bool:
        """False for a code this SDK version does not know."""
        return self._name_ in type(self).__members__


class TextEnum(str, Enum):
    """A string enum; an unknown string becomes a member named ``UNKNOWN``, value kept."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            member = str.__new__(cls, value)
            member._name_ = "UNKNOWN"
            member._value_ = value
            return member
        return None

    @property
    def is_known(self) -> bool:
        """False for a value this SDK version does not know."""
        return self._name_ in type(self).__members__


def _enum_value(member: Enum) -> Any:
    return member._value_


def _structure_code_enum(value: object, cls: type[CodeEnum]) -> CodeEnum:
    if type(value) is int:
        # The member table first: Enum's own call is several times slower.
        member: CodeEnum | None = cls._value2member_map_.get(value)  # type: ignore[assignment]
        return member if member is not None else cls(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return cls(value)
    raise _BadValue(f"expected a {cls.__name__} code, got {_describe(value)}")


def _structure_text_enum(value: object, cls: type[TextEnum]) -> TextEnum:
    if isinstance(value, str):
        member: TextEnum | None = cls._value2member_map_.get(value)  # type: ignore[assignment]
        return member if member is not None else cls(value)
    raise _BadValue(f"expected a {cls.__name__} value, got {_describe(value)}")


# --------------------------------------------------------------------------------------
# Strict primitive hooks
# --------------------------------------------------------------------------------------


class _BadValue(ValueError):
    """Raised by our hooks; its text is the reason shown in PayloadError."""


def _structure_str(value: object, _: type) -> str:
    if isinstance(value, str):
        return value
    raise _BadValue(f"expected text, got {_describe(value)}")


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _BadValue(f"expected an integer, got {_describe(value)}")


def _structure_bool(value: object, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise _BadValue(f"expected true or false, got {_describe(value)}")


def _structure_float(value: object, _: type) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise _BadValue(f"expected a number, got {_describe(value)}")


def _structure_decimal(value: object, _: type) -> Decimal:
    kind = type(value)
    if kind is str or kind is int or kind is Decimal:
        source: Any = value
    elif kind is float:
        # str(float) is the shortest repr, so 19.99 stays 19.99 rather than its binary value.
        source = str(value)
    elif isinstance(value, (str, int, float, Decimal)) and not isinstance(value, bool):
        source = value if not isinstance(value, float) else str(value)
    else:
        raise _BadValue(f"expected a decimal amount, got {_describe(value)}")
    try:
        amount = Decimal(source)
    except InvalidOperation:
        raise _BadValue(f"expected a decimal amount, got {value!r}") from None
    if not amount.is_finite():
        raise _BadValue(f"expected a finite amount, got {value!r}")
    return amount


def _structure_json_number(value: object, type_: type) -> Decimal:
    """A decimal that must also go back out, unchanged, as a JSON number (ShipStation's money).

    Whole amounts are written as exact integers; others as floats, which carry about 15
    significant digits: an amount with more would come back different, so it is refused.
    """
    amount = _structure_decimal(value, type_)
    number = float(amount)
    if not math.isfinite(number):
        raise _BadValue(f"amount out of range: {value!r}")
    if amount != amount.to_integral_value() and Decimal(repr(number)) != amount:
        raise _BadValue(f"amount {value!r} has more digits than a JSON number carries")
    return amount


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    return f"{type(value).__name__} {value!r}"[:80]


def _format_exception(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, _BadValue):
        return str(exc)
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, cattrs.errors.ForbiddenExtraKeysError):
        return f"unknown keys {sorted(exc.extra_fields)}"
    if isinstance(exc, ValueError) and type_ is not None and issubclass(type_, Enum):
        return f"not a {type_.__name__} value"
    name = getattr(type_, "__name__", str(type_))
    return f"invalid value for {name} ({type(exc).__name__}: {exc})"[:200]


def _snake_identity(name: str) -> str:
    return name


def to_camel(name: str) -> str:
    """``order_id`` → ``orderId``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def to_pascal(name: str) -> str:
    """``web_hook_id`` → ``WebHookId``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


_NAMINGS: dict[str, Callable[[str], str]] = {
    "snake": _snake_identity,
    "camel": to_camel,
    "pascal": to_pascal,
}


class ModelConverter:
    """One API's converter: its key naming, its money style and its date-time codec."""

    def __init__(
        self,
        *,
        api: str,
        naming: Literal["snake", "camel"],
        money: Literal["string", "number"],
        datetimes: DatetimeCodec,
        forbid_extra_keys: bool = False,
    ) -> None:
        self.api = api
        self._naming: Literal["snake", "camel"] = naming
        self._money: Literal["string", "number"] = money
        self._datetimes = datetimes
        self._forbid_extra_keys = forbid_extra_keys
        self._fast = self._build(detailed=False)
        self._detailed = self._build(detailed=True)
        self._strict: ModelConverter | None = None

    @property
    def strict(self) -> ModelConverter:
        """The same converter, rejecting unknown keys (for tests and drift detection)."""
        if self._forbid_extra_keys:
            return self
        if self._strict is None:
            self._strict = ModelConverter(
                api=self.api,
                naming=self._naming,
                money=self._money,
                datetimes=self._datetimes,
                forbid_extra_keys=True,
            )
        return self._strict

    def structure(self, data: Any, cls: type[T]) -> T:
        try:
            return self._fast.structure(data, cls)
        except PayloadError:
            raise
        except Exception as fast_exc:
            # The fast converter does not say where it failed: re-run the detailed one to
            # name the field. Both share every hook, so the detailed run fails too.
            try:
                self._detailed.structure(data, cls)
            except Exception as exc:
                raise self._payload_error(cls, exc) from None
            raise self._payload_error(cls, fast_exc) from None

    def unstructure(self, obj: object) -> dict[str, Any]:
        result: dict[str, Any] = self._fast.unstructure(obj)
        return result

    def wire_name(self, cls: type, field: attrs.Attribute[Any]) -> str:
        explicit = field.metadata.get(_WIRE)
        if explicit:
            return str(explicit)
        naming = getattr(cls, "__wire_naming__", self._naming)
        return _NAMINGS[naming](field.name)

    # ----------------------------------------------------------------------------------

    def _payload_error(self, cls: type, exc: BaseException) -> PayloadError:
        path, leaf = self._first_failure(exc, "")
        return PayloadError(f"{self.api}.{cls.__name__}", path, _format_exception(leaf[0], leaf[1]))

    def _first_failure(
        self, exc: BaseException, path: str, type_: type | None = None
    ) -> tuple[str, tuple[BaseException, type | None]]:
        """Walk cattrs' exception groups to the first leaf; the path uses wire names."""
        if isinstance(exc, cattrs.ClassValidationError):
            with_notes, _ = exc.group_exceptions()
            if with_notes:
                sub, note = with_notes[0]
                key = note.name
                if attrs.has(exc.cl):
                    fields = attrs.fields_dict(exc.cl)
                    if note.name in fields:
                        key = self.wire_name(exc.cl, fields[note.name])
                return self._first_failure(sub, f"{path}.{key}" if path else key, note.type)
            if exc.exceptions:
                return self._first_failure(exc.exceptions[0], path, exc.cl)
        if isinstance(exc, cattrs.IterableValidationError):
            indexed, _ = exc.group_exceptions()
            if indexed:
                sub, index_note = indexed[0]
                return self._first_failure(sub, f"{path}[{index_note.index}]", index_note.type)
            if exc.exceptions:
                return self._first_failure(exc.exceptions[0], path)
        if isinstance(exc, cattrs.BaseValidationError) and exc.exceptions:
            return self._first_failure(exc.exceptions[0], path, type_)
        return path, (exc, type_)

    def _build(self, *, detailed: bool) -> cattrs.Converter:
        conv = cattrs.Converter(
            detailed_validation=detailed, forbid_extra_keys=self._forbid_extra_keys
        )
        conv.register_structure_hook(str, _structure_str)
        conv.register_structure_hook(int, _structure_int)
        conv.register_structure_hook(bool, _structure_bool)
        conv.register_structure_hook(float, _structure_float)
        conv.register_structure_hook(
            Decimal, _structure_decimal if self._money == "string" else _structure_json_number
        )
        # Registered on our enum bases, which come before int and str in their MROs, so that
        # the strict int and str hooks above do not swallow enum values.
        conv.register_structure_hook(CodeEnum, _structure_code_enum)
        conv.register_structure_hook(TextEnum, _structure_text_enum)
        # Likewise on the way out: plain int and str values, not enum members, in to_dict().
        conv.register_unstructure_hook(CodeEnum, _enum_value)
        conv.register_unstructure_hook(TextEnum, _enum_value)
        if self._money == "string":
            conv.register_unstructure_hook(Decimal, str)
        else:
            conv.register_unstructure_hook(Decimal, _decimal_to_number)
        codec = self._datetimes
        conv.register_structure_hook(datetime, codec.structure)
        conv.register_unstructure_hook(datetime, codec.format)
        conv.register_structure_hook(date, lambda v, _: _parse_date(v))
        conv.register_unstructure_hook(date, date.isoformat)
        # ``X | None`` in cattrs' own code (the detailed and strict paths): None, or X's hook.
        conv.register_structure_hook_factory(
            _is_optional, lambda t: _optional_structure(conv.get_structure_hook(_inner(t)), t)
        )
        # Text, numbers and booleans go out as they are: identity hooks, which cattrs' generated
        # code inlines (no call per field).
        for primitive in (str, int, bool):
            conv.register_unstructure_hook(primitive, identity)
        # Tuples hold sequences in frozen models; JSON wants lists. A JSON object where a list
        # belongs is an error, not a list of its keys.
        # The fast path resolves the item hook once; the detailed path keeps cattrs' own,
        # which names the index of a bad item.
        conv.register_structure_hook_factory(
            lambda t: is_sequence(t) and not _is_str_type(t),
            lambda t: _sequence_only(
                homogenous_tuple_structure_factory(t, conv)
                if detailed
                else _tuple_of(conv.get_structure_hook(_item_type(t)), _item_type(t))
            ),
        )
        conv.register_unstructure_hook_factory(
            lambda t: is_sequence(t) and not _is_str_type(t),
            lambda t: _list_of(conv.get_unstructure_hook(_item_type(t))),
        )
        conv.register_structure_hook_factory(
            lambda t: attrs.has(t) and issubclass(t, Model),
            lambda t: self._structure_fn(conv, t, detailed),
        )
        conv.register_unstructure_hook_factory(
            lambda t: attrs.has(t) and issubclass(t, Model),
            lambda t: self._unstructure_fn(conv, t),
        )
        return conv

    def _fields(self, cls: type) -> tuple[str, list[attrs.Attribute[Any]]]:
        extras_name = ""
        fields: list[attrs.Attribute[Any]] = []
        for f in attrs.fields(cls):
            if f.metadata.get(_EXTRAS):
                extras_name = f.name
            else:
                fields.append(f)
        if not extras_name:
            raise TypeError(f"{cls.__name__} has no extras field")
        return extras_name, fields

    def _structure_fn(
        self, conv: cattrs.Converter, cls: type[Model], detailed: bool
    ) -> Callable[[Any, type], Any]:
        extras_name, fields = self._fields(cls)
        wire = {f.name: self.wire_name(cls, f) for f in fields}
        known = frozenset(wire.values())
        blank = frozenset(wire[f.name] for f in fields if f.metadata.get(BLANK_IS_NONE))
        if not detailed and not self._forbid_extra_keys:
            # The hot path: code generated for this class. The detailed path (only run to
            # name a field after a failure) and the strict path keep cattrs' own.
            return _compile(cls, fields, wire, self, conv, extras_name, known, blank)
        overrides = {name: override(rename=key) for name, key in wire.items()}
        overrides[extras_name] = override(omit=True)
        base = make_dict_structure_fn(
            cls,
            conv,
            _cattrs_forbid_extra_keys=self._forbid_extra_keys,
            _cattrs_detailed_validation=detailed,
            **overrides,  # type: ignore[arg-type]
        )
        set_attr = object.__setattr__

        def structure(data: Any, _: type) -> Any:
            if not isinstance(data, Mapping):
                raise _BadValue(f"expected an object, got {_describe(data)}")
            # Set and membership operations run in C: most payloads have no unknown key and
            # few nulls, so the Python-level loops below rarely run.
            unknown = data.keys() - known
            extras: dict[str, Any] | None = {k: data[k] for k in unknown} if unknown else None
            values = data.values()
            if None in values:
                if extras is None:
                    extras = {}
                for key, value in data.items():
                    if value is None:
                        extras[key] = None
            if blank and "" in values:
                blanks = [key for key in blank if data.get(key) == ""]
                if blanks:
                    if extras is None:
                        extras = {}
                    data = dict(data)
                    for key in blanks:
                        extras[key] = ""
                        data[key] = None
            obj = base(data, cls)
            if extras:
                set_attr(obj, extras_name, extras)
            return obj

        return structure

    def _unstructure_fn(self, conv: cattrs.Converter, cls: type[Model]) -> Callable[[Any], Any]:
        extras_name, fields = self._fields(cls)
        # to_dict() leaves out exactly the unset fields, which the model rules make None.
        odd = [f.name for f in fields if f.default is not None and f.default is not attrs.NOTHING]
        if odd:
            raise TypeError(f"{cls.__name__}: optional fields must default to None: {odd}")
        return _compile_unstructure(cls, fields, self, conv, extras_name)


_INLINE_CHECKED = (str, int, bool)


def _compile(
    cls: type,
    fields: list[attrs.Attribute[Any]],
    wire: Mapping[str, str],
    converter: ModelConverter,
    conv: cattrs.Converter,
    extras_name: str,
    known: frozenset[str],
    blank: frozenset[str],
) -> Callable[[Any, type], Any]:
    """Generate ``cls``'s structuring function: the hot path of parsing every payload.

    Like cattrs' generated code, but each field is converted inline for its type: text,
    integers and booleans are checked with ``type(v) is str``, enum members come from the
    member table, decimal strings and JSON-number amounts go straight to ``Decimal``, lists of
    models are built with a comprehension, and ``None`` in an optional field costs one
    comparison. The object is filled through its slots, as attrs' ``__init__`` would, without a
    keyword call. The ``extras`` (unknown keys, nulls, blanks) are gathered on the way or with
    C-level set and membership checks.
    Anything unusual goes to the field's strict hook, which accepts the value or raises; the
    caller then re-runs cattrs' detailed path to name the bad field.
    """
    hints = typing.get_type_hints(cls)
    setters = _slot_setters(cls)
    namespace: dict[str, Any] = {
        "__cls": cls,
        "__known": known,
        "__absent": dict.fromkeys(known),
        "__fromkeys": dict.fromkeys,
        "__compress": itertools.compress,
        "__map": map,
        "__is": operator.is_,
        "__nones": itertools.repeat(None),
        "__Mapping": Mapping,
        "__bad": _not_an_object,
        "__set": object.__setattr__,
        "__new": object.__new__,
        "__str": str,
        "__int": int,
        "__list": list,
        "__tuple": tuple,
        "__Decimal": Decimal,
        "__float": float,
        "__repr": repr,
        "__EXACT": 2**53,
    }
    lines = [
        "def build(data, _):",
        "    if type(data) is not dict and not isinstance(data, __Mapping):",
        "        __bad(data)",
        # dict views compare with a set in C, key by key; frozenset.issuperset(a dict) would
        # first copy the keys into a new set.
        "    keys = data.keys()",
        "    extras = None if keys <= __known else {k: data[k] for k in keys - __known}",
        # API payloads carry every key (null when unset): then a subscript per field is
        # enough, and a None read is a null to keep. Otherwise the absent keys read as None
        # from a completed copy, and the nulls are found at the end.
        "    src = data if keys >= __known else {**__absent, **data}",
    ]
    if setters is not None:
        lines.append("    obj = __new(__cls)")
    arguments = []
    for index, field in enumerate(fields):
        declared = hints[field.name]
        optional = _is_optional(declared)
        inner = _inner(declared) if optional else declared
        namespace[f"__h{index}"] = conv.get_structure_hook(inner)
        namespace[f"__t{index}"] = inner
        key = wire[field.name]
        value = f"v{index}"
        lines.append(f"    {value} = src[{key!r}]" if optional else f"    {value} = data[{key!r}]")
        body = _structure_lines(value, index, inner, converter, conv, namespace)
        if optional:
            lines.append(f"    if {value} is not None:")
            indent = "        "
        else:
            indent = "    "
        if key in blank:
            lines += [
                f"{indent}if {value} == '':",
                f"{indent}    {value} = None",
                f"{indent}    extras = {{}} if extras is None else extras",
                f"{indent}    extras[{key!r}] = ''",
                f"{indent}else:",
            ]
            indent += "    "
        lines += [indent + line for line in body]
        if optional:
            lines += [
                "    elif src is data:",
                "        extras = {} if extras is None else extras",
                f"        extras[{key!r}] = None",
            ]
        if setters is not None:
            namespace[f"__s{index}"] = setters[field.name]
            lines.append(f"    __s{index}(obj, {value})")
        else:
            arguments.append(f"{field.alias or field.name}={value}")
    if setters is None:
        lines.append(f"    obj = __cls({', '.join(arguments)})")
    lines += [
        "    if src is not data and None in data.values():",
        "        extras = {} if extras is None else extras",
        # The keys whose value is null, picked out in C.
        "        extras.update(__fromkeys(__compress(data, __map(__is, data.values(), __nones))))",
    ]
    if setters is not None:
        namespace["__set_extras"] = setters[extras_name]
        lines.append("    __set_extras(obj, {} if extras is None else extras)")
    else:
        lines += ["    if extras:", f"        __set(obj, {extras_name!r}, extras)"]
    lines.append("    return obj")
    exec("\n".join(lines), namespace)  # noqa: S102 - source built above from field names
    built: Callable[[Any, type], Any] = namespace["build"]
    return built


def _structure_lines(
    value: str,
    index: int,
    inner: Any,
    converter: ModelConverter,
    conv: cattrs.Converter,
    namespace: dict[str, Any],
) -> list[str]:
    """The statements converting a present ``value`` of type ``inner``, fastest form first."""
    hook = f"__h{index}({value}, __t{index})"
    if inner in _INLINE_CHECKED:
        return [f"if type({value}) is not __t{index}:", f"    {value} = {hook}"]
    if isinstance(inner, type) and issubclass(inner, (CodeEnum, TextEnum)):
        namespace[f"__m{index}"] = inner._value2member_map_.get
        # The exact type first: True must not find the member of 1.
        exact = "__int" if issubclass(inner, CodeEnum) else "__str"
        return [
            f"m = __m{index}({value}) if type({value}) is {exact} else None",
            f"{value} = m if m is not None else {hook}",
        ]
    if inner is datetime:
        namespace[f"__p{index}"] = converter._datetimes.parse
        return [f"{value} = __p{index}({value})"]
    if inner is Decimal and converter._money == "string":
        return [
            f"if type({value}) is __str:",
            f"    {value} = __Decimal({value})",
            f"    if not {value}.is_finite():",
            f"        {value} = {hook}",
            "else:",
            f"    {value} = {hook}",
        ]
    if inner is Decimal:
        # A JSON number. repr() of a float is the shortest text that reads back as the same
        # float, so its Decimal always goes back out unchanged; integers are exact while a
        # float can carry them. The rest (non-finite, huge) goes to the hook, which refuses.
        return [
            f"if type({value}) is __float:",
            f"    {value} = __Decimal(__repr({value}))",
            f"    if not {value}.is_finite():",
            f"        {value} = {hook}",
            f"elif type({value}) is __int and -__EXACT < {value} < __EXACT:",
            f"    {value} = __Decimal({value})",
            "else:",
            f"    {value} = {hook}",
        ]
    if is_sequence(inner) and not _is_str_type(inner):
        item = _item_type(inner)
        namespace[f"__e{index}"] = conv.get_structure_hook(item)
        namespace[f"__et{index}"] = item
        return [
            f"if type({value}) is __list:",
            f"    {value} = __tuple([__e{index}(x, __et{index}) for x in {value}])",
            "else:",
            f"    {value} = {hook}",
        ]
    return [f"{value} = {hook}"]


def _slot_setters(cls: type) -> dict[str, Callable[[Any, Any], None]] | None:
    """The setters of ``cls``'s field slots, or None where attrs' ``__init__`` must run.

    attrs' frozen ``__init__`` stores each field with ``object.__setattr__``; storing through
    the slot descriptors does the same, faster, and skips a keyword call of some thirty
    arguments per object.
    """
    if getattr(cls, "__attrs_post_init__", None) or getattr(cls, "__attrs_pre_init__", None):
        return None
    setters: dict[str, Callable[[Any, Any], None]] = {}
    for field in attrs.fields(cls):
        if field.validator is not None or field.converter is not None:
            return None
        descriptor = next(
            (klass.__dict__[field.name] for klass in cls.__mro__ if field.name in klass.__dict__),
            None,
        )
        if not isinstance(descriptor, types.MemberDescriptorType):
            return None
        setters[field.name] = descriptor.__set__
    return setters


def _compile_unstructure(
    cls: type,
    fields: list[attrs.Attribute[Any]],
    converter: ModelConverter,
    conv: cattrs.Converter,
    extras_name: str,
) -> Callable[[Any], dict[str, Any]]:
    """Generate ``cls``'s ``to_dict``: unset (``None``) fields left out with an identity test,
    each value written in the fastest form for its type (as is, an enum's value, a list
    comprehension of nested models...), then the ``extras`` written back."""
    hints = typing.get_type_hints(cls)
    namespace: dict[str, Any] = {"__list": list, "__str": str}
    lines = ["def unstructure(obj):", "    out = {}"]
    for index, field in enumerate(fields):
        declared = hints[field.name]
        optional = _is_optional(declared)
        inner = _inner(declared) if optional else declared
        key = converter.wire_name(cls, field)
        expression = _unstructure_expression(f"v{index}", index, inner, converter, conv, namespace)
        lines.append(f"    v{index} = obj.{field.name}")
        if optional:
            lines.append(f"    if v{index} is not None:")
            lines.append(f"        out[{key!r}] = {expression}")
        else:
            lines.append(f"    out[{key!r}] = {expression}")
    lines += [
        f"    extras = obj.{extras_name}",
        "    if extras:",
        "        for key, value in extras.items():",
        "            if key not in out:",
        "                out[key] = value",
        "    return out",
    ]
    exec("\n".join(lines), namespace)  # noqa: S102 - source built above from field names
    built: Callable[[Any], dict[str, Any]] = namespace["unstructure"]
    return built


def _unstructure_expression(
    value: str,
    index: int,
    inner: Any,
    converter: ModelConverter,
    conv: cattrs.Converter,
    namespace: dict[str, Any],
) -> str:
    """The expression writing a present ``value`` of type ``inner`` to the wire."""
    hook = conv.get_unstructure_hook(inner)
    if hook is identity:
        return value
    if hook is _enum_value:
        return f"{value}._value_"
    if inner is Decimal and converter._money == "string":
        return f"__str({value})"
    if is_sequence(inner) and not _is_str_type(inner):
        item_hook = conv.get_unstructure_hook(_item_type(inner))
        if item_hook is identity:
            return f"__list({value})"
        namespace[f"__e{index}"] = item_hook
        return f"[__e{index}(x) for x in {value}]"
    namespace[f"__h{index}"] = hook
    return f"__h{index}({value})"


def _not_an_object(data: Any) -> None:
    raise _BadValue(f"expected an object, got {_describe(data)}")


def _is_optional(t: Any) -> bool:
    if get_origin(t) not in (Union, types.UnionType):
        return False
    args = get_args(t)
    return len(args) == 2 and type(None) in args


def _inner(t: Any) -> Any:
    return next(arg for arg in get_args(t) if arg is not type(None))


def _optional_structure(
    inner: Callable[[Any, Any], Any], optional: Any
) -> Callable[[Any, Any], Any]:
    inner_type = _inner(optional)

    def structure(value: Any, _: Any) -> Any:
        return None if value is None else inner(value, inner_type)

    return structure


def _item_type(t: Any) -> Any:
    args = get_args(t)
    return args[0] if args else Any


def _tuple_of(hook: Callable[[Any, Any], Any], item: Any) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> tuple[Any, ...]:
        return tuple([hook(entry, item) for entry in value])

    return structure


def _list_of(hook: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    if hook is identity:
        return list
    return lambda seq: [hook(entry) for entry in seq]


def _sequence_only(hook: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, type_: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise _BadValue(f"expected a list, got {_describe(value)}")
        return hook(value, type_)

    return structure


def _is_str_type(t: Any) -> bool:
    return t in (str, bytes)


def _decimal_to_number(value: Decimal) -> int | float:
    # JSON numbers: ShipStation V1 sends and expects plain numbers for money and weights.
    # Whole amounts as integers, which JSON carries exactly whatever their size.
    number = float(value)
    if number.is_integer() and -_EXACT_FLOAT_INTEGERS < number < _EXACT_FLOAT_INTEGERS:
        return int(number)  # every whole amount in this range is exact as a float
    if not math.isfinite(number):
        raise ValueError(f"{value} cannot be written as a JSON number")
    if value == value.to_integral_value():
        return int(value)
    return number


_EXACT_FLOAT_INTEGERS = 2.0**53


def _parse_date(value: object) -> date:
    if isinstance(value, date):
        return value if not isinstance(value, datetime) else value.date()
    if not isinstance(value, str):
        raise _BadValue(f"expected a date string, got {_describe(value)}")
    try:
        return parse_datetime(value, UTC).date()
    except ValueError:
        raise _BadValue(f"not a date: {value!r}") from None
