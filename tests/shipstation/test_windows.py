"""ShipStation polling windows across US Pacific clock changes (shipstation.md §1.4)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from backmarket_shipstation.shipstation import PACIFIC
from backmarket_shipstation.shipstation.windows import pacific_fall_backs, pacific_window_start

UTC = timezone.utc
FALL_BACK = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)  # 02:00 PDT -> 01:00 PST
SPRING_FORWARD = datetime(2026, 3, 8, 10, 0, tzinfo=UTC)  # 02:00 PST -> 03:00 PDT


def _wall(instant: datetime) -> str:
    """What ShipStation stores and compares: Pacific wall time, no offset."""
    return instant.astimezone(PACIFIC).strftime("%Y-%m-%d %H:%M:%S")


def test_the_fall_back_is_found_to_the_second() -> None:
    found = pacific_fall_backs(FALL_BACK - timedelta(days=2), FALL_BACK + timedelta(days=2))
    assert found == [(FALL_BACK, timedelta(hours=1))]
    assert pacific_fall_backs(SPRING_FORWARD - timedelta(days=1), SPRING_FORWARD) == []


def test_a_window_from_the_first_0150_starts_at_the_first_0100() -> None:
    since = datetime(2026, 11, 1, 8, 50, tzinfo=UTC)  # 01:50 PDT
    start = pacific_window_start(since, since + timedelta(minutes=30))
    assert start == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert _wall(start) == "2026-11-01 01:00:00"


@pytest.mark.parametrize(
    "since",
    [
        datetime(2026, 11, 1, 7, 30, tzinfo=UTC),  # 00:30 PDT: its wall time is the lowest
        FALL_BACK,  # 01:00 PST exactly
        datetime(2026, 11, 1, 9, 10, tzinfo=UTC),  # 01:10 PST
        SPRING_FORWARD - timedelta(minutes=30),
        datetime(2026, 6, 1, 12, 0, tzinfo=UTC),
    ],
)
def test_other_windows_start_where_asked(since: datetime) -> None:
    assert pacific_window_start(since, since + timedelta(hours=3)) == since


def test_a_window_ending_before_the_change_is_not_widened() -> None:
    since = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert pacific_window_start(since, FALL_BACK - timedelta(seconds=1)) == since


def test_every_instant_of_the_window_shows_a_wall_time_the_start_covers() -> None:
    # Starts every 5 minutes from 2 h before each change; windows of 10 min to 3 h; every
    # minute of each window must be "on or after" the start in wall time, as ShipStation
    # compares (shipstation.md §1.4).
    for change in (FALL_BACK, SPRING_FORWARD):
        for step in range(0, 24 * 5 + 1, 5):
            since = change - timedelta(hours=2) + timedelta(minutes=step)
            for length in (10, 60, 180):
                until = since + timedelta(minutes=length)
                start = pacific_window_start(since, until)
                assert start <= since
                assert since - start <= timedelta(hours=1), "widened by one hour at most"
                for minute in range(length + 1):
                    record = since + timedelta(minutes=minute)
                    assert _wall(record) >= _wall(start), (since, until, record)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pacific_window_start(datetime(2026, 11, 1, 1, 50), datetime(2026, 11, 1, 2, 0))
