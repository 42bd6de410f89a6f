"""Polling windows that survive US Pacific daylight-saving changes.

ShipStation V1 stores its timestamps and reads its date filters as US Pacific *wall time*, with
no offset (shipstation.md §1.4: "Responses are in PST/PDT", callers convert to PST/PDT before
sending any date [SWAGGER §DateTime Format]). Wall time is not monotonic:

- **fall back** (first Sunday of November, 02:00 PDT → 01:00 PST): 01:00-01:59 happens twice.
  A label bought at 01:05 PST is stored as ``01:05``; a poll whose window starts at the instant
  01:50 PDT sends ``createDateStart=01:50`` and never sees it, though it was bought 15 minutes
  *after* the window's start. Every later window starts later still: the label is lost.
- **spring forward** (second Sunday of March, 02:00 PST → 03:00 PDT): 02:00-02:59 never
  happens. Wall time jumps ahead, so a window that starts before the jump loses nothing; no
  record is ever stored with a wall time in the gap.

:func:`pacific_window_start` gives the start to send: the earliest instant whose wall time is
no later than that of *any* instant in ``[since, until]``. Across a fall-back that is one hour
earlier than the transition's instant (the first 01:00); elsewhere it is ``since`` itself. The
wider window only brings back records already seen, which the caller must de-duplicate (the
sync keeps a record of every shipment it reported, and reports each once).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from .models import PACIFIC

__all__ = ["pacific_fall_backs", "pacific_window_start"]

_STEP = timedelta(hours=1)
_SCAN = timedelta(days=1)


def pacific_fall_backs(since: datetime, until: datetime) -> list[tuple[datetime, timedelta]]:
    """The instants in ``(since, until]`` where Pacific wall time goes back, with how far.

    Found by comparing UTC offsets hour by hour (zone changes fall on whole hours), then by
    bisection inside the hour, to the second.
    """
    since = since.astimezone(timezone.utc)
    until = until.astimezone(timezone.utc)
    found: list[tuple[datetime, timedelta]] = []
    cursor = since
    before = _offset(cursor)
    while cursor < until:
        step_end = min(cursor + _STEP, until)
        after = _offset(step_end)
        if after != before:
            if after < before:
                found.append((_first_with_offset(cursor, step_end, after), before - after))
            before = after
        cursor = step_end
    return found


def pacific_window_start(since: datetime, until: datetime) -> datetime:
    """The instant to send as a ShipStation ``…DateStart`` so that every record created in
    ``[since, until]`` matches, whatever Pacific's clocks did in between.

    ``since`` and ``until`` must be timezone-aware. Returns ``since`` unless a fall-back lies in
    ``(since, until]``; then the instant, before the transition, that shows the same wall time
    as the transition's first instant (01:00 PDT for the 01:00 PST of November), if that is
    earlier than ``since``.
    """
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("pacific_window_start needs timezone-aware datetimes")
    # Only a fall-back less than its own size (one hour) after ``since`` can show a wall time
    # earlier than ``since``'s: past that, wall time has already passed ``since``'s again.
    # So a day is scanned, not the window: a 30-day first look-back costs 24 offset lookups.
    start = since
    for instant, back in pacific_fall_backs(since, min(until, since + _SCAN)):
        start = min(start, instant - back)
    return start


def _offset(instant: datetime) -> timedelta:
    offset = instant.astimezone(PACIFIC).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset


def _first_with_offset(low: datetime, high: datetime, offset: timedelta) -> datetime:
    """The first whole second in ``(low, high]`` at the new ``offset`` (zones change on whole
    seconds; ``high`` is at it already)."""
    lo, hi = math.floor(low.timestamp()), math.ceil(high.timestamp())
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if _offset(datetime.fromtimestamp(middle, timezone.utc)) == offset:
            hi = middle
        else:
            lo = middle
    return datetime.fromtimestamp(hi, timezone.utc)
