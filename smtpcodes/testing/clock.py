"""A clock that moves only when a test says so, for code that schedules retries.

Code under test takes a clock as a callable returning an aware UTC datetime (the
outbox and retry helpers do); tests hand it a :class:`FakeClock` and move time with
:meth:`FakeClock.advance` instead of sleeping.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["FakeClock"]

_DEFAULT_START = datetime(2024, 1, 1, tzinfo=timezone.utc)


class FakeClock:
    """A callable clock returning an aware UTC datetime that moves only with :meth:`advance`.

    ``start`` must be timezone-aware (it is converted to UTC); it defaults to
    2024-01-01T00:00:00Z.
    """

    def __init__(self, start: datetime = _DEFAULT_START) -> None:
        self._now = _as_utc(start)

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"

    def __call__(self) -> datetime:
        """Return the current fake time."""
        return self._now

    def now(self) -> datetime:
        """Return the current fake time (the same as calling the clock)."""
        return self._now

    def timestamp(self) -> float:
        """Return the current fake time as seconds since the Unix epoch (like ``time.time``)."""
        return self._now.timestamp()

    def advance(self, by: float | timedelta) -> datetime:
        """Move the clock forward by ``by`` (seconds or a timedelta) and return the new time.

        Raises :class:`ValueError` for a negative step: time in these tests never runs back.
        """
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if step < timedelta(0):
            msg = f"A fake clock only moves forward; advance() got {step}."
            raise ValueError(msg)
        self._now += step
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (timezone-aware), forward or back, for tests that need a date."""
        self._now = _as_utc(moment)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = f"A fake clock needs a timezone-aware datetime, not the naive {moment.isoformat()}."
        raise ValueError(msg)
    return moment.astimezone(timezone.utc)
