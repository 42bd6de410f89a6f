"""IMEI and serial numbers: the formats sellers type in Internal Notes, validation, assignment."""

from __future__ import annotations

import pytest

from backmarket_shipstation.errors import (
    DeviceIdentifierError,
    DuplicateIdentifierError,
    IdentifierCountError,
    InvalidIMEIError,
    InvalidSerialNumberError,
    MissingIdentifierError,
)
from backmarket_shipstation.mapping import (
    DeviceIdentifier,
    IdentifiableLine,
    IdentifierKind,
    assign_device_identifiers,
    is_valid_imei,
    parse_device_identifiers,
)
from backmarket_shipstation.mapping.identifiers import imei_check_digit

IMEI_A = "490154203237518"
IMEI_B = "356938035643809"
IMEI_C = "353918057254472"
BAD_IMEI = "490154203237519"

IMEI = IdentifierKind.IMEI
SERIAL = IdentifierKind.SERIAL_NUMBER


def values(notes: str, **kwargs: object) -> list[tuple[str, str, str | None]]:
    parsed = parse_device_identifiers(notes, **kwargs)  # type: ignore[arg-type]
    return [(i.kind.value, i.value, i.sku) for i in parsed]


# ---------------------------------------------------------------------------------------
# Luhn
# ---------------------------------------------------------------------------------------


def test_luhn_check_digit_of_known_imeis() -> None:
    assert imei_check_digit("49015420323751") == 8
    assert is_valid_imei(IMEI_A)
    assert is_valid_imei(IMEI_B)
    assert not is_valid_imei(BAD_IMEI)


FULLWIDTH_IMEI = "".join(chr(0xFF10 + int(digit)) for digit in IMEI_A)


@pytest.mark.parametrize(
    "text", ["", "49015420323751", "4901542032375180", "49015420323751a", FULLWIDTH_IMEI]
)
def test_only_fifteen_ascii_digits_can_be_an_imei(text: str) -> None:
    assert not is_valid_imei(text)


def test_check_digit_rejects_a_malformed_body() -> None:
    with pytest.raises(ValueError, match="14 digits"):
        imei_check_digit("123")


# ---------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------


def test_bare_imei() -> None:
    assert values(IMEI_A) == [("imei", IMEI_A, None)]


@pytest.mark.parametrize(
    "notes",
    [f"IMEI: {IMEI_A}", f"imei {IMEI_A}", f"IMEI1: {IMEI_A}", f"IMEI#{IMEI_A}", f"IMEI - {IMEI_A}"],
)
def test_labelled_imei(notes: str) -> None:
    assert values(notes) == [("imei", IMEI_A, None)]


def test_dashed_imei_is_normalised() -> None:
    assert values("IMEI: 49-015420-323751-8") == [("imei", IMEI_A, None)]
    assert values("49-015420-323751-8") == [("imei", IMEI_A, None)]


@pytest.mark.parametrize("separator", [", ", " ", "\n", ";", ",\n"])
def test_several_imeis_separated(separator: str) -> None:
    notes = "IMEI: " + separator.join([IMEI_A, IMEI_B, IMEI_C])
    assert [v for _, v, _ in values(notes)] == [IMEI_A, IMEI_B, IMEI_C]
    bare = separator.join([IMEI_A, IMEI_B, IMEI_C])
    assert [v for _, v, _ in values(bare)] == [IMEI_A, IMEI_B, IMEI_C]


@pytest.mark.parametrize(
    "notes",
    ["S/N: C02XK0ABJG5H", "s/n C02XK0ABJG5H", "SN: C02XK0ABJG5H", "Serial: C02XK0ABJG5H",
     "Serial number: C02XK0ABJG5H", "serial no. C02XK0ABJG5H"],
)  # fmt: skip
def test_labelled_serial(notes: str) -> None:
    assert values(notes) == [("serial_number", "C02XK0ABJG5H", None)]


def test_sku_imei_pairs() -> None:
    notes = f"IP13-128-MID-EXC: {IMEI_A}\nSM-S911B: {IMEI_B}, {IMEI_C}"
    assert values(notes) == [
        ("imei", IMEI_A, "IP13-128-MID-EXC"),
        ("imei", IMEI_B, "SM-S911B"),
        ("imei", IMEI_C, "SM-S911B"),
    ]


def test_sku_serial_pairs_need_the_order_skus() -> None:
    notes = "MBP13-2019: C02XK0ABJG5H\nIPAD-AIR: S/N DMPXK1ABCD12"
    assert values(notes, skus=["mbp13-2019", "IPAD-AIR"]) == [
        ("serial_number", "C02XK0ABJG5H", "mbp13-2019"),
        ("serial_number", "DMPXK1ABCD12", "IPAD-AIR"),
    ]
    # Without the SKUs, "Word: value" could be anything: such a line yields nothing.
    assert values("MBP13-2019: C02XK0ABJG5H") == []


def test_mixed_imei_and_serial() -> None:
    assert values(f"IMEI: {IMEI_A} S/N: F2LXK0ABJG5H") == [
        ("imei", IMEI_A, None),
        ("serial_number", "F2LXK0ABJG5H", None),
    ]


def test_prose_and_other_numbers_are_ignored() -> None:
    notes = (
        "Customer asked for fast shipping, IMEI photo sent\n"
        "Order 41234567, tracking 1Z1V152Y6827822533, call +33612345678\n"
        "[Back Market] Delivery note: https://www.backmarket.fr/ws/delivery_note/123456789012345.pdf\n"
        "label https://example.com/123456789012345.pdf ref 123456789012345-B"
    )
    assert values(notes) == []
    assert values(f"checked by Tom: IMEI {IMEI_A} ok") == [("imei", IMEI_A, None)]
    assert values(f"Phone checked, {IMEI_A}.") == [("imei", IMEI_A, None)]


def test_empty_notes() -> None:
    assert parse_device_identifiers(None) == ()
    assert parse_device_identifiers("") == ()


# ---------------------------------------------------------------------------------------
# Validation errors
# ---------------------------------------------------------------------------------------


def test_fifteen_digits_with_bad_check_digit_is_an_error_not_a_serial() -> None:
    with pytest.raises(InvalidIMEIError) as caught:
        parse_device_identifiers(BAD_IMEI, order_id=41234567)
    assert caught.value.value == BAD_IMEI
    assert caught.value.order_id == "41234567"
    assert BAD_IMEI in str(caught.value)
    with pytest.raises(InvalidIMEIError):
        parse_device_identifiers(f"IP13: {BAD_IMEI}")


def test_fifteen_digits_with_bad_check_digit_is_an_error_even_labelled_serial() -> None:
    with pytest.raises(InvalidIMEIError):
        parse_device_identifiers(f"S/N: {BAD_IMEI}")
    assert values(f"S/N: {IMEI_A}") == [("serial_number", IMEI_A, None)]


def test_labelled_imei_of_wrong_length_is_an_error() -> None:
    with pytest.raises(InvalidIMEIError, match="15 digits"):
        parse_device_identifiers("IMEI: 49015420323751")


def test_serial_longer_than_fifty_characters() -> None:
    with pytest.raises(InvalidSerialNumberError) as caught:
        parse_device_identifiers("S/N: 1" + "A" * 50, order_id=7)
    assert caught.value.value == "1" + "A" * 50
    assert parse_device_identifiers("S/N: 1" + "A" * 49)[0].kind is SERIAL


def test_duplicate_identifier() -> None:
    with pytest.raises(DuplicateIdentifierError) as caught:
        parse_device_identifiers(f"IMEI: {IMEI_A}\nIP13: {IMEI_A}", order_id=9)
    assert caught.value.value == IMEI_A
    assert caught.value.line == "IP13"


# ---------------------------------------------------------------------------------------
# Assignment
# ---------------------------------------------------------------------------------------

PHONE = IdentifiableLine(key="101", sku="IP13", quantity=1)
PHONE_2 = IdentifiableLine(key="102", sku="IP13", quantity=1)
OTHER = IdentifiableLine(key="103", sku="S23", quantity=1)
CABLES = IdentifiableLine(key="104", sku="CABLE", quantity=3)


def imei(value: str, sku: str | None = None) -> DeviceIdentifier:
    return DeviceIdentifier(kind=IMEI, value=value, sku=sku)


def test_assigns_in_order() -> None:
    assigned = assign_device_identifiers([imei(IMEI_A), imei(IMEI_B)], [PHONE, CABLES, OTHER])
    assert [(a.line_key, a.imei) for a in assigned] == [("101", IMEI_A), ("103", IMEI_B)]


def test_assigns_by_sku_first() -> None:
    given = [imei(IMEI_A), imei(IMEI_B, sku="s23"), imei(IMEI_C, sku="IP13")]
    assigned = assign_device_identifiers(given, [PHONE, PHONE_2, OTHER])
    assert {a.line_key: a.imei for a in assigned} == {"101": IMEI_C, "102": IMEI_A, "103": IMEI_B}


def test_one_line_may_take_an_imei_and_a_serial() -> None:
    given = [imei(IMEI_A), DeviceIdentifier(kind=SERIAL, value="F2LXK0ABJG5H")]
    (only,) = assign_device_identifiers(given, [PHONE])
    assert (only.imei, only.serial_number) == (IMEI_A, "F2LXK0ABJG5H")


def test_too_many_identifiers() -> None:
    with pytest.raises(IdentifierCountError) as caught:
        assign_device_identifiers([imei(IMEI_A), imei(IMEI_B)], [PHONE], order_id=5)
    assert caught.value.value == IMEI_B
    assert caught.value.order_id == "5"


def test_too_few_identifiers_names_the_line() -> None:
    with pytest.raises(MissingIdentifierError) as caught:
        assign_device_identifiers([imei(IMEI_A)], [PHONE, OTHER], order_id=5)
    assert caught.value.line == "103"


def test_lines_that_need_no_identifier() -> None:
    assigned = assign_device_identifiers(
        [imei(IMEI_A)], [PHONE, OTHER], requires_identifier=lambda line: line.sku == "IP13"
    )
    assert [a.line_key for a in assigned] == ["101"]


def test_quantity_above_one_takes_no_identifier() -> None:
    with pytest.raises(IdentifierCountError, match="quantity-1"):
        assign_device_identifiers([imei(IMEI_A, sku="CABLE")], [PHONE, CABLES], order_id=5)
    with pytest.raises(IdentifierCountError):
        assign_device_identifiers([imei(IMEI_A)], [CABLES])
    assert assign_device_identifiers([], [CABLES]) == ()


def test_sku_the_order_does_not_have() -> None:
    with pytest.raises(IdentifierCountError, match="SKU") as caught:
        assign_device_identifiers([imei(IMEI_A, sku="NOPE")], [PHONE])
    assert caught.value.line == "NOPE"


def test_more_identifiers_than_lines_for_a_sku() -> None:
    with pytest.raises(IdentifierCountError):
        assign_device_identifiers([imei(IMEI_A, sku="S23"), imei(IMEI_B, sku="S23")], [OTHER])


def test_every_error_is_a_device_identifier_error() -> None:
    for error in (InvalidIMEIError, InvalidSerialNumberError, MissingIdentifierError,
                  IdentifierCountError, DuplicateIdentifierError):  # fmt: skip
        assert issubclass(error, DeviceIdentifierError)
