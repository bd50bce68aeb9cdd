"""FakeClock: a callable UTC clock that moves only when told."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from smtpcodes.testing.clock import FakeClock


def test_starts_at_a_fixed_aware_utc_moment() -> None:
    """A new clock reads 2024-01-01T00:00:00Z, timezone-aware."""
    clock = FakeClock()
    assert clock() == datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert clock().tzinfo is timezone.utc


def test_does_not_move_by_itself() -> None:
    """Reading the clock twice gives the same moment."""
    clock = FakeClock()
    assert clock() == clock.now() == clock()


def test_advance_by_seconds_and_timedelta() -> None:
    """advance() takes seconds or a timedelta and returns the new time."""
    clock = FakeClock()
    assert clock.advance(90) == datetime(2024, 1, 1, 0, 1, 30, tzinfo=timezone.utc)
    clock.advance(timedelta(hours=2))
    assert clock() == datetime(2024, 1, 1, 2, 1, 30, tzinfo=timezone.utc)
    assert clock.timestamp() == clock().timestamp()


def test_start_is_converted_to_utc() -> None:
    """A start in another zone is read back in UTC."""
    paris = timezone(timedelta(hours=1))
    clock = FakeClock(datetime(2024, 6, 1, 12, 0, tzinfo=paris))
    assert clock() == datetime(2024, 6, 1, 11, 0, tzinfo=timezone.utc)
    assert clock().utcoffset() == timedelta(0)


def test_refuses_naive_datetimes_and_going_back() -> None:
    """Naive datetimes and negative steps are refused with a sentence."""
    with pytest.raises(ValueError, match="needs a timezone-aware datetime"):
        FakeClock(datetime(2024, 1, 1))  # naive on purpose
    clock = FakeClock()
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)
    assert clock() == datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_set_jumps_anywhere() -> None:
    """set() jumps to a given aware moment, even backwards."""
    clock = FakeClock()
    clock.advance(3600)
    clock.set(datetime(2023, 5, 5, tzinfo=timezone.utc))
    assert clock() == datetime(2023, 5, 5, tzinfo=timezone.utc)
