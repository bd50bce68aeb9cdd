"""Retry hints written in reply texts ("try again in 10 minutes", "Retry-After: 30").

A reply's own hint beats the table's window (spec: "A reply's own hint ... beats
the table"); "Retrying will NOT succeed" turns retry off whatever the class says.

Every reply passes through here and almost none carries a hint, so cheap
substring tests come first and the patterns run only where they can match.
"""

from __future__ import annotations

import re

from .verdict import RetryWindow

__all__ = ["PATTERNS", "find_no_retry_hint", "find_retry_hint"]

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}
# "try again in 10 minutes", "retry after 300 seconds", "please wait 5 min",
# "resend ... in 1 hour", "come back in 15-30 minutes". Bounded gaps only.
_HINT = re.compile(
    r"\b(?:try(?: again)?|retry|resend|re-send|wait|come back|deferred for|blocked for|"
    r"temporarily (?:blocked|deferred|rate limited) for)"
    r"[^.;\d]{0,30}?\b(?:in|after|for|within)? ?"
    r"(\d{1,6})(?: ?(?:-|to|or) ?(\d{1,6}))? ?"
    r"(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|s|m|h|d)\b"
)
_RETRY_AFTER = re.compile(r"\bretry-after:? ?(\d{1,6})\b")
_NO_RETRY = re.compile(
    r"\b(?:retrying will not succeed|do not (?:retry|resend|try again)|don'?t (?:retry|resend)|"
    r"will not be retried|not be delivered, do not retry|no further (?:delivery )?attempts?|"
    r"permanent(?:ly)? (?:failure|rejected)[^.]{0,20} do not retry)"
)


#: Every pattern the two functions below search for. The rule set looks for them
#: in its one RE2 pass (as "probes"), so the classifier calls these functions only
#: for the few replies where one may match.
PATTERNS = (_RETRY_AFTER.pattern, _HINT.pattern, _NO_RETRY.pattern)


def find_retry_hint(lowered: str) -> RetryWindow | None:
    """A retry window the (lower-cased) text itself asks for, if any."""
    if "retry-after" in lowered:
        m = _RETRY_AFTER.search(lowered)
        if m is not None:
            return RetryWindow.seconds(int(m[1]))
    # Each alternative of _HINT contains one of these substrings.
    if not (
        "try" in lowered
        or "wait" in lowered
        or "send" in lowered
        or "come back" in lowered
        or "ed for" in lowered
    ):
        return None
    m = _HINT.search(lowered)
    if m is None:
        return None
    unit = _UNITS[m[3]]
    low = int(m[1]) * unit
    high = int(m[2]) * unit if m[2] else low
    if high < low:
        low, high = high, low
    return RetryWindow.seconds(low, high)


def find_no_retry_hint(lowered: str) -> bool:
    """Whether the (lower-cased) text says a resend will not help."""
    if not (
        "retr" in lowered or "resend" in lowered or "try again" in lowered or "further" in lowered
    ):
        return False
    return _NO_RETRY.search(lowered) is not None
