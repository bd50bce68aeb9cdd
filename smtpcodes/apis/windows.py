"""Retry windows for HTTP responses: Retry-After, reset headers, daily and hourly resets.

Every function takes the moment the response was received (``now``, an aware
``datetime``) and returns a :class:`~smtpcodes.verdict.RetryWindow` of offsets from
it, so results are reproducible in tests and across time zones.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..verdict import RetryWindow

__all__ = [
    "MAX_WAIT",
    "backoff_window",
    "next_full_hour",
    "next_midnight",
    "parse_reset",
    "parse_retry_after",
    "resolve_timezone",
]

MAX_WAIT = timedelta(days=31)
"""Longest wait a header may ask for; anything beyond is treated as no hint."""
# Epoch seconds below this are read as "seconds from now" (X-RateLimit-Reset is an
# epoch at SendGrid and a delta at others; no delta is anywhere near 2001-09-09).
_EPOCH_FLOOR = 1_000_000_000
_NUMBER = re.compile(r"\s*([0-9]{1,12})(?:\.([0-9]{1,6}))?\s*")


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        msg = "now must be an aware datetime (with a time zone), e.g. datetime.now(timezone.utc)"
        raise ValueError(msg)


def _window(seconds: float) -> RetryWindow | None:
    seconds = max(seconds, 0)
    if seconds > MAX_WAIT.total_seconds():
        return None
    return RetryWindow.seconds(seconds)


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) and abs(value) < 1e13 else None
    if not isinstance(value, str):
        return None
    m = _NUMBER.fullmatch(value[:40])
    if m is None:
        return None
    return float(f"{m[1]}.{m[2] or 0}")


def parse_retry_after(value: object, now: datetime) -> RetryWindow | None:
    """``Retry-After: 30`` or an HTTP-date -> a single-instant window; junk -> ``None``.

    A date in the past means "now" (0 s); a wait longer than :data:`MAX_WAIT` is
    ignored as implausible.
    """
    _require_aware(now)
    seconds = _number(value)
    if seconds is not None:
        return _window(seconds)
    if not isinstance(value, str) or len(value) > 100:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)  # RFC 9110: HTTP-dates are GMT
    return _window((when - now).total_seconds())


def parse_reset(value: object, now: datetime) -> RetryWindow | None:
    """A rate-limit reset header: epoch seconds (SendGrid) or seconds from now (Resend)."""
    _require_aware(now)
    number = _number(value)
    if number is None:
        return None
    if number >= _EPOCH_FLOOR:
        number -= now.timestamp()
    return _window(number)


def resolve_timezone(name: str | tzinfo | None) -> tzinfo:
    """``"UTC"``, an IANA name (``"Asia/Kolkata"``) or a ``tzinfo`` -> a ``tzinfo``.

    :raises ValueError: for a name the time zone database does not know.
    :raises TypeError: for anything that is neither a name nor a ``tzinfo``.
    """
    if name is None:
        return timezone.utc
    if isinstance(name, tzinfo):
        return name
    if not isinstance(name, str):
        msg = (  # type: ignore[unreachable]  # callers without type checking
            "the time zone must be an IANA name such as 'Europe/Berlin' or a tzinfo, "
            f"not {type(name).__name__}"
        )
        raise TypeError(msg)
    if name.upper() in ("UTC", "GMT", "Z"):
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"unknown time zone {name!r}; use 'UTC' or an IANA name such as 'Europe/Berlin'"
        raise ValueError(msg) from None


def _until(now: datetime, target: datetime) -> RetryWindow:
    # Subtract in UTC: two datetimes sharing a ZoneInfo subtract as wall-clock times,
    # which is wrong across a DST change.
    seconds = (target.astimezone(timezone.utc) - now.astimezone(timezone.utc)).total_seconds()
    return RetryWindow.seconds(max(0.0, seconds))


def next_midnight(now: datetime, tz: tzinfo = timezone.utc) -> RetryWindow:
    """The wait until the next midnight in ``tz`` (a daily quota's reset)."""
    _require_aware(now)
    try:
        local = now.astimezone(tz)
        tomorrow = local.date() + timedelta(days=1)
        target = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=tz)
        return _until(now, target)
    except OverflowError:
        # The next midnight is past the end of the calendar (year 9999).
        return _wall_clock_wait(now, 86_400)


def next_full_hour(now: datetime, tz: tzinfo = timezone.utc) -> RetryWindow:
    """The wait until the next full hour of the clock in ``tz`` (an hourly quota's reset)."""
    _require_aware(now)
    try:
        local = now.astimezone(tz)
        start = datetime(local.year, local.month, local.day, local.hour, tzinfo=tz)
        return _until(now, start + timedelta(hours=1))
    except OverflowError:
        # The next full hour is past the end of the calendar (year 9999).
        return _wall_clock_wait(now, 3_600)


def _wall_clock_wait(now: datetime, period: int) -> RetryWindow:
    """The wait until ``now``'s own clock next reaches a multiple of ``period`` seconds.

    Needs no date arithmetic, so it works where the calendar ends.
    """
    elapsed = now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6
    return RetryWindow.seconds(period - elapsed % period)


def backoff_window(attempt: int, *, base: float = 1.0, cap: float = 600.0) -> RetryWindow:
    """Exponential backoff for the ``attempt``-th retry (1-based): ``[d, 2d]``.

    ``d = base * 2 ** (attempt - 1)``.

    Both ends are capped at ``cap`` seconds. Pick a random instant inside the
    window (full jitter) so that many clients do not retry in step.

    :raises ValueError: if ``attempt`` is below 1 or ``base``/``cap`` are not positive.
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        msg = f"attempt must be a whole number from 1 up, not {attempt!r}"
        raise ValueError(msg)
    if base <= 0 or cap <= 0:
        msg = "base and cap must be positive numbers of seconds"
        raise ValueError(msg)
    earliest = min(cap, base * 2.0 ** min(attempt - 1, 64))
    return RetryWindow.seconds(earliest, min(cap, earliest * 2))
