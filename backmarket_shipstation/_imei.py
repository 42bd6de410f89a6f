"""IMEI check digits (GSMA TS.06), shared by the mapping and the Back Market client.

A module of its own so that the client can refuse a mistyped IMEI before sending it (Back
Market cannot correct one) without importing the mapping package and its models.
"""

from __future__ import annotations

__all__ = ["imei_check_digit", "is_valid_imei"]


def imei_check_digit(first14: str) -> int:
    """The Luhn check digit of the first 14 digits of an IMEI (GSMA TS.06)."""
    if len(first14) != 14 or not first14.isascii() or not first14.isdigit():
        raise ValueError("an IMEI body is 14 digits")
    total = 0
    for index, char in enumerate(first14):
        digit = ord(char) - 48
        if index % 2 == 1:  # every second digit from the left is doubled
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_valid_imei(value: str) -> bool:
    """True for exactly 15 ASCII digits whose last one is the Luhn check digit."""
    if len(value) != 15 or not value.isascii() or not value.isdigit():
        return False
    return imei_check_digit(value[:14]) == ord(value[14]) - 48
