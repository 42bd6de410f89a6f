"""ShipStation V1 date handling for the simulator: Pacific wall time without an offset.

ShipStation answers in US Pacific time with no offset and 7 fraction digits
(``2015-07-16T14:00:34.8230000``), item timestamps with fewer digits, ``shipDate`` as a bare
date, and it drops any ``Z`` or offset it is sent (shipstation.md §1.4, INFERRED). Internally the
simulator keeps naive datetimes that mean Pacific wall time, and its date filters compare those
wall times, as ShipStation's do (responses "are in PST/PDT" and callers convert their dates to
PST/PDT: shipstation.md §1.4, [SWAGGER §DateTime Format]). So, as on ShipStation, a record of
the second 01:00-01:59 of a November fall-back night sorts before one of the first, and no
record shows a wall time in March's skipped 02:00-02:59.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from backmarket_shipstation.clock import Clock

__all__ = [
    "PACIFIC",
    "OffsetHandling",
    "format_date",
    "format_item_timestamp",
    "format_timestamp",
    "now_pacific",
    "parse_date",
    "parse_timestamp",
]

PACIFIC = ZoneInfo("America/Los_Angeles")

OffsetHandling = Literal["ignore", "convert"]

_TIMESTAMP = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,7}))?)?)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


def now_pacific(clock: Clock) -> datetime:
    """The clock's current instant as naive Pacific wall time."""
    return clock.now().astimezone(PACIFIC).replace(tzinfo=None)


def format_timestamp(value: datetime | None) -> str | None:
    """``2015-07-16T14:00:34.8230000``: the 7-digit form of orders and shipments."""
    if value is None:
        return None
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond:06d}0"


def format_item_timestamp(value: datetime | None) -> str | None:
    """``2015-07-16T14:00:34.823``: items carry milliseconds with trailing zeros trimmed."""
    if value is None:
        return None
    millis = f"{value.microsecond // 1000:03d}".rstrip("0")
    base = f"{value:%Y-%m-%dT%H:%M:%S}"
    return f"{base}.{millis}" if millis else base


def format_date(value: date | None) -> str | None:
    """``2015-07-02``: the bare form of ``shipDate`` and ``holdUntilDate``."""
    if value is None:
        return None
    return value.isoformat()


def parse_timestamp(text: str, offsets: OffsetHandling = "ignore") -> datetime:
    """Read a date sent by a client as naive Pacific wall time.

    Accepts ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM[:SS]``, the ``T`` form with 0 to 7 fraction digits,
    optionally followed by ``Z`` or an offset. With ``offsets="ignore"`` (ShipStation's observed
    behaviour) the offset is dropped and the wall time kept; with ``"convert"`` the instant is
    converted to Pacific time. Raises ``ValueError`` on anything else.
    """
    match = _TIMESTAMP.match(text.strip())
    if match is None:
        raise ValueError(f"not a date: {text!r}")
    day = date.fromisoformat(match["date"])
    fraction = (match["f"] or "").ljust(7, "0")
    value = datetime(
        day.year,
        day.month,
        day.day,
        int(match["h"] or 0),
        int(match["m"] or 0),
        int(match["s"] or 0),
        int(fraction[:6]),
    )
    zone = match["tz"]
    if zone is None or offsets == "ignore":
        return value
    if zone == "Z":
        delta = timedelta(0)
    else:
        digits = zone[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if zone[0] == "-":
            delta = -delta
    utc = value - delta
    return utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(PACIFIC).replace(tzinfo=None)


def parse_date(text: str, offsets: OffsetHandling = "ignore") -> date:
    """The date part of a client date (``shipDate``, ``holdUntilDate``)."""
    return parse_timestamp(text, offsets).date()
