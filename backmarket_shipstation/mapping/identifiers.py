"""IMEIs and serial numbers, read from the ShipStation Internal Notes the way sellers type them.

Back Market demands an IMEI (or a serial number) for every smartphone it sells, and cannot
correct one once registered. ShipStation's Back Market integration carries them through the
order's Internal Notes (seed; backmarket.md §9). So this module is strict: a 15-digit number
whose Luhn check digit is wrong is a typo and an error, never quietly sent as a serial number.

Formats read (case-insensitive, one or several per note, separated by commas, semicolons,
spaces or new lines):

- a bare IMEI: ``356789104512345`` (also written ``35-678910-451234-5``);
- a labelled IMEI: ``IMEI: 356789104512345``, ``IMEI1 356789104512345``;
- a labelled serial: ``S/N: C02XK0ABJG5H``, ``SN: …``, ``Serial: …``, ``Serial number: …``;
- ``SKU: IMEI`` pairs for multi-line orders: ``IP13-128-MID-EXC: 356789104512345``; with the
  order's SKUs known, ``SKU: S/N …`` and ``SKU: <serial>`` too.

Lines the SDK writes itself (they start with ``[Back Market]``) are skipped, and so is any
other text: only bare 15-digit numbers and labelled values are taken.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence

import attrs

from .._convert import TextEnum
from .._imei import imei_check_digit, is_valid_imei
from ..errors import (
    DuplicateIdentifierError,
    IdentifierCountError,
    InvalidIMEIError,
    InvalidSerialNumberError,
    MissingIdentifierError,
)

__all__ = [
    "SDK_NOTE_PREFIX",
    "SERIAL_NUMBER_MAX_LENGTH",
    "AssignedIdentifiers",
    "DeviceIdentifier",
    "IdentifiableLine",
    "IdentifierKind",
    "assign_device_identifiers",
    "every_single_unit_line",
    "imei_check_digit",
    "is_valid_imei",
    "parse_device_identifiers",
]

SERIAL_NUMBER_MAX_LENGTH = 50
"""Back Market's limit on ``serial_number`` (backmarket.md §3.3)."""

SDK_NOTE_PREFIX = "[Back Market]"
"""Internal-notes lines that start with this were written by the SDK on import, not the seller."""


class IdentifierKind(TextEnum):
    """Which Back Market field a device identifier goes to."""

    IMEI = "imei"
    SERIAL_NUMBER = "serial_number"


@attrs.frozen(kw_only=True)
class DeviceIdentifier:
    """One IMEI or serial number read from the notes, with the SKU it was typed against."""

    kind: IdentifierKind
    value: str
    sku: str | None = None
    """The SKU written before it (``SKU: IMEI``), or ``None`` when it is to be assigned in order."""


@attrs.frozen(kw_only=True)
class IdentifiableLine:
    """What assignment needs to know about an order line.

    ``key`` is the Back Market orderline id as text (ShipStation's ``lineItemKey``).
    """

    key: str
    sku: str | None
    quantity: int
    name: str | None = None
    """The item name (Back Market's product title), for the default device rule."""


@attrs.frozen(kw_only=True)
class AssignedIdentifiers:
    """The IMEI and/or serial number assigned to one order line."""

    line_key: str
    sku: str | None
    imei: str | None = None
    serial_number: str | None = None


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------

_IMEI_LABEL = r"imei\s*[12]?"
_SERIAL_LABEL = r"s\s*/\s*n|sn|serial(?:\s*(?:number|no\.?|n°|#))?"
# A label ends with a colon, a hash or a dash, or just a space before the value.
_LABEL_RE = re.compile(
    rf"(?P<label>{_IMEI_LABEL}|{_SERIAL_LABEL})\s*(?:[:#=-]\s*|\s+|$)", re.IGNORECASE
)
_SEPARATORS_RE = re.compile(r"[,;\s]+")
_DASHED_IMEI_RE = re.compile(r"\d{2}-\d{6}-\d{6}-\d")
# A whole word of 15 digits (or the dashed TAC-SNR-CD form): not part of a longer number,
# a reference or a URL (".../123456789012345.pdf").
_FIFTEEN_DIGITS_RE = re.compile(r"(?<![\w\-/.])(?:\d{15}|\d{2}-\d{6}-\d{6}-\d)(?![\w\-/]|\.\w)")
_PAIR_RE = re.compile(r"^\s*(?P<sku>[^\s:]+)\s*:\s*(?P<rest>.+)$")


def _normalise_imei_token(token: str) -> str:
    return token.replace("-", "") if _DASHED_IMEI_RE.fullmatch(token) else token


def _check_imei(value: str, order_id: str | int | None, sku: str | None) -> str:
    value = _normalise_imei_token(value)
    if len(value) != 15 or not value.isascii() or not value.isdigit():
        raise InvalidIMEIError("an IMEI is 15 digits", order_id=order_id, line=sku, value=value)
    if not is_valid_imei(value):
        raise InvalidIMEIError(
            "IMEI check digit is wrong (a typo?)", order_id=order_id, line=sku, value=value
        )
    return value


def _check_serial(value: str, order_id: str | int | None, sku: str | None) -> str:
    if len(value) == 15 and value.isascii() and value.isdigit() and not is_valid_imei(value):
        # Fifteen digits is an IMEI's shape whatever the label says: a wrong check digit is a
        # typo, and Back Market could never correct it once registered.
        raise InvalidIMEIError(
            "15 digits with a wrong IMEI check digit (a typo?)",
            order_id=order_id,
            line=sku,
            value=value,
        )
    if not value:
        raise InvalidSerialNumberError("empty serial number", order_id=order_id, line=sku)
    if len(value) > SERIAL_NUMBER_MAX_LENGTH:
        raise InvalidSerialNumberError(
            f"a serial number has at most {SERIAL_NUMBER_MAX_LENGTH} characters",
            order_id=order_id,
            line=sku,
            value=value,
        )
    return value


def _identifier(
    kind: IdentifierKind, value: str, order_id: str | int | None, sku: str | None
) -> DeviceIdentifier:
    """One identifier, checked as its kind requires (IMEI check digit, serial length)."""
    check = _check_imei if kind is IdentifierKind.IMEI else _check_serial
    return DeviceIdentifier(kind=kind, value=check(value, order_id, sku), sku=sku)


def _is_imei_shaped(token: str) -> bool:
    """15 digits, once the dashes of the TAC-SNR-CD form are removed."""
    normalised = _normalise_imei_token(token)
    return len(normalised) == 15 and normalised.isdigit()


def _tokens(text: str) -> list[str]:
    return [token for token in _SEPARATORS_RE.split(text) if token]


def _labelled_values(
    text: str, sku: str | None, order_id: str | int | None, *, free_values_are_serials: bool
) -> list[DeviceIdentifier] | None:
    """Identifiers in ``text`` when it holds labels (``IMEI: …``, ``S/N: …``), else ``None``.

    Values after a label belong to it up to the next label. Text before the first label is
    read as bare values: IMEIs, or serials when the SKU was explicit (``SKU: C02XK0``).
    """
    matches = [m for m in _LABEL_RE.finditer(text) if _label_starts_word(text, m.start())]
    if not matches:
        return None
    found: list[DeviceIdentifier] = []
    found.extend(_bare_values(text[: matches[0].start()], sku, order_id, free_values_are_serials))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        if match.group("label").lower().startswith("imei"):
            kind, is_value = IdentifierKind.IMEI, _looks_like_imei
        else:
            kind, is_value = IdentifierKind.SERIAL_NUMBER, _has_digit
        found.extend(
            _identifier(kind, value, order_id, sku)
            for value in _value_tokens(text[match.end() : end], is_value)
        )
    return found


def _looks_like_imei(token: str) -> bool:
    return token.replace("-", "").isdigit()


def _has_digit(token: str) -> bool:
    return any(char.isdigit() for char in token)


def _value_tokens(text: str, is_value: Callable[[str], bool]) -> list[str]:
    """The values right after a label: they stop at the first word that is not one.

    ``IMEI photo sent`` is prose, not an IMEI; ``IMEI: 3567891045123 checked`` is a typo.
    """
    values = []
    for token in _tokens(text):
        if not is_value(token):
            break
        values.append(token)
    return values


def _label_starts_word(text: str, start: int) -> bool:
    return start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "-_/")


def _bare_values(
    text: str, sku: str | None, order_id: str | int | None, serials: bool
) -> list[DeviceIdentifier]:
    if serials:
        return [
            _identifier(
                IdentifierKind.IMEI if _is_imei_shaped(token) else IdentifierKind.SERIAL_NUMBER,
                token,
                order_id,
                sku,
            )
            for token in _value_tokens(text, _has_digit)
        ]
    return [
        _identifier(IdentifierKind.IMEI, match.group(), order_id, sku)
        for match in _FIFTEEN_DIGITS_RE.finditer(text)
    ]


def _only_imeis(text: str) -> bool:
    tokens = _tokens(text)
    return bool(tokens) and all(_is_imei_shaped(token) for token in tokens)


def parse_device_identifiers(
    internal_notes: str | None,
    *,
    skus: Collection[str] | None = None,
    order_id: str | int | None = None,
) -> tuple[DeviceIdentifier, ...]:
    """Read the IMEIs and serial numbers a seller typed in ShipStation's Internal Notes.

    ``skus`` are the order's SKUs: with them, ``SKU: <serial>`` pairs are recognised too
    (without them only ``SKU: <IMEI>`` pairs are, since any ``Word: value`` line could be a
    pair). Identifiers come back in the order they were typed.

    Raises :class:`~backmarket_shipstation.errors.InvalidIMEIError` for a labelled value that
    is not 15 digits or any 15-digit number with a wrong check digit,
    :class:`~backmarket_shipstation.errors.InvalidSerialNumberError` for a serial longer than
    50 characters, and :class:`~backmarket_shipstation.errors.DuplicateIdentifierError` for a
    value given twice. Each names the order (``order_id``), the SKU when one was typed, and the
    value. For example:

        >>> [i.value for i in parse_device_identifiers("IMEI: 490154203237518")]
        ['490154203237518']
    """
    if not internal_notes:
        return ()
    known = {sku.casefold(): sku for sku in skus} if skus is not None else None
    found: list[DeviceIdentifier] = []
    for raw_line in internal_notes.splitlines():
        line = raw_line.strip()
        if not line or line.startswith(SDK_NOTE_PREFIX):
            continue
        found.extend(_parse_line(line, known, order_id))
    _reject_duplicates(found, order_id)
    return tuple(found)


def _parse_line(
    line: str, known_skus: dict[str, str] | None, order_id: str | int | None
) -> list[DeviceIdentifier]:
    pair = _PAIR_RE.match(line)
    if pair is not None:
        label, rest = pair.group("sku"), pair.group("rest")
        is_keyword = _LABEL_RE.fullmatch(label + ":") is not None
        if not is_keyword:
            if known_skus is not None and label.casefold() in known_skus:
                sku = known_skus[label.casefold()]
                labelled = _labelled_values(rest, sku, order_id, free_values_are_serials=True)
                if labelled is not None:
                    return labelled
                return _bare_values(rest, sku, order_id, serials=True)
            if _only_imeis(rest):
                return _bare_values(rest, label, order_id, serials=False)
    labelled = _labelled_values(line, None, order_id, free_values_are_serials=False)
    if labelled is not None:
        return labelled
    return _bare_values(line, None, order_id, serials=False)


def _reject_duplicates(found: Iterable[DeviceIdentifier], order_id: str | int | None) -> None:
    seen: set[str] = set()
    for identifier in found:
        if identifier.value in seen:
            raise DuplicateIdentifierError(
                "identifier given twice",
                order_id=order_id,
                line=identifier.sku,
                value=identifier.value,
            )
        seen.add(identifier.value)


# --------------------------------------------------------------------------------------
# Assignment to order lines
# --------------------------------------------------------------------------------------


def every_single_unit_line(line: IdentifiableLine) -> bool:
    """The strict rule: every quantity-1 line is a device that needs an identifier."""
    return line.quantity == 1


# Words that name an accessory in the languages of Back Market's markets. Back Market
# requires an IMEI or serial number for devices, never for a case or a charger; order lines
# carry no product category, so the title is the only clue.
_ACCESSORY_WORDS = re.compile(
    r"\b("
    r"case|cover|charger|cable|adapter|adaptor|protector|screen protector|tempered glass|"
    r"stylus|power ?bank|sim tool|"
    r"coque|[ée]tui|chargeur|c[âa]ble|adaptateur|protection d.[ée]cran|verre tremp[ée]|"
    r"h[üu]lle|ladeger[äa]t|ladekabel|kabel|netzteil|schutzfolie|panzerglas|"
    r"funda|cargador|adaptador|protector de pantalla|"
    r"custodia|caricabatterie|caricatore|cavo|adattatore|pellicola|"
    r"hoesje|oplader|screenprotector|"
    r"capa|carregador|cabo|pel[íi]cula"
    r")\b",
    re.IGNORECASE,
)


def is_accessory_name(name: str | None) -> bool:
    """True when an item title names an accessory (case, charger, cable...) in any market's
    language. A device sold with one ("iPhone 13 with charger") is still a device."""
    if not name:
        return False
    match = _ACCESSORY_WORDS.search(name)
    return match is not None and not _SOLD_WITH.search(name[: match.start()])


# "with", in the markets' languages, just before the accessory word.
_SOLD_WITH = re.compile(r"(\b(with|avec|mit|con|com|met)\b|\+)\s*(\S+\s+){0,2}$", re.IGNORECASE)


def device_lines(line: IdentifiableLine) -> bool:
    """The default rule: a quantity-1 line needs an identifier unless its title names an
    accessory (a case, a charger, a cable...). Pass :func:`every_single_unit_line` to require
    one on every quantity-1 line, or your own rule (e.g. from your catalog)."""
    return line.quantity == 1 and not is_accessory_name(line.name)


def assign_device_identifiers(
    identifiers: Sequence[DeviceIdentifier],
    lines: Sequence[IdentifiableLine],
    *,
    order_id: str | int | None = None,
    requires_identifier: Callable[[IdentifiableLine], bool] = device_lines,
) -> tuple[AssignedIdentifiers, ...]:
    """Give each order line its IMEI and/or serial number.

    Identifiers typed with a SKU go to the lines with that SKU, the others to the remaining
    lines in order (IMEIs and serial numbers each in turn, so one line may take one of each).
    Only quantity-1 lines take identifiers: Back Market refuses them on other lines.

    Raises :class:`~backmarket_shipstation.errors.IdentifierCountError` when there are more
    identifiers than lines to take them (or a SKU no line of the order has), and
    :class:`~backmarket_shipstation.errors.MissingIdentifierError` when a line for which
    ``requires_identifier`` is true gets none. Lines that get nothing and need nothing are
    left out of the result.
    """
    eligible = [line for line in lines if line.quantity == 1]
    imei: dict[str, str] = {}
    serial: dict[str, str] = {}
    slots = {IdentifierKind.IMEI: imei, IdentifierKind.SERIAL_NUMBER: serial}
    by_sku = [i for i in identifiers if i.sku is not None]
    in_order = [i for i in identifiers if i.sku is None]
    for identifier in by_sku:
        sku = identifier.sku or ""
        candidates = [line for line in lines if (line.sku or "").casefold() == sku.casefold()]
        if not candidates:
            raise IdentifierCountError(
                "no order line has this SKU", order_id=order_id, line=sku, value=identifier.value
            )
        taken = slots[identifier.kind]
        free = [line for line in candidates if line.quantity == 1 and line.key not in taken]
        if not free:
            reason = (
                "Back Market takes identifiers only on quantity-1 lines"
                if all(line.quantity != 1 for line in candidates)
                else f"more identifiers than lines for SKU {sku}"
            )
            raise IdentifierCountError(
                reason, order_id=order_id, line=candidates[0].key, value=identifier.value
            )
        taken[free[0].key] = identifier.value
    for identifier in in_order:
        taken = slots[identifier.kind]
        free = [line for line in eligible if line.key not in taken]
        if not free:
            raise IdentifierCountError(
                "more identifiers than quantity-1 lines", order_id=order_id, value=identifier.value
            )
        taken[free[0].key] = identifier.value
    result: list[AssignedIdentifiers] = []
    for line in lines:
        if line.key not in imei and line.key not in serial:
            if line.quantity == 1 and requires_identifier(line):
                raise MissingIdentifierError(
                    "no IMEI or serial number for this line", order_id=order_id, line=line.key
                )
            continue
        result.append(
            AssignedIdentifiers(
                line_key=line.key,
                sku=line.sku,
                imei=imei.get(line.key),
                serial_number=serial.get(line.key),
            )
        )
    return tuple(result)
