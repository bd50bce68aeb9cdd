"""Retry windows of HTTP responses: Retry-After, reset headers, daily/hourly resets, backoff."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from smtpcodes.apis.classify import classify_http
from smtpcodes.apis.windows import (
    backoff_window,
    next_full_hour,
    next_midnight,
    parse_reset,
    parse_retry_after,
    resolve_timezone,
)

NOW = datetime(2026, 1, 15, 22, 30, tzinfo=timezone.utc)


def test_retry_after_seconds() -> None:
    """Retry-After in seconds is a single-instant window."""
    window = parse_retry_after("30", NOW)
    assert window is not None
    assert window.as_seconds() == (30.0, 30.0)


def test_retry_after_http_date() -> None:
    """Retry-After as an HTTP-date counts from now."""
    window = parse_retry_after("Thu, 15 Jan 2026 22:32:00 GMT", NOW)
    assert window is not None
    assert window.as_seconds() == (120.0, 120.0)


def test_retry_after_in_the_past_means_now() -> None:
    """A date already past means retry at once."""
    window = parse_retry_after("Thu, 15 Jan 2026 20:00:00 GMT", NOW)
    assert window is not None
    assert window.as_seconds() == (0.0, 0.0)


@pytest.mark.parametrize("junk", ["soon", "", "-5", "1e9999", "9" * 40, "Thu, 99 Foo 2026"])
def test_retry_after_junk_is_no_hint(junk: str) -> None:
    """An unreadable or absurd Retry-After gives no window instead of an error."""
    assert parse_retry_after(junk, NOW) is None


def test_reset_header_epoch_and_delta() -> None:
    """X-RateLimit-Reset is read as an epoch when large and as seconds when small."""
    epoch = parse_reset(str(int(NOW.timestamp()) + 60), NOW)
    delta = parse_reset("45", NOW)
    assert epoch is not None
    assert delta is not None
    assert epoch.as_seconds() == (60.0, 60.0)
    assert delta.as_seconds() == (45.0, 45.0)


def test_next_midnight_in_utc_and_in_a_zone() -> None:
    """Daily resets end at the next midnight of the profile's (or caller's) time zone."""
    assert next_midnight(NOW).as_seconds() == (5400.0, 5400.0)
    # 22:30 UTC is 04:00 next day in Kolkata (+05:30): midnight is 20 h away.
    kolkata = next_midnight(NOW, ZoneInfo("Asia/Kolkata"))
    assert kolkata.as_seconds() == (72000.0, 72000.0)


def test_next_midnight_across_a_dst_change() -> None:
    """A day with a DST change is counted in real seconds (23 h on the spring-forward day)."""
    new_york = ZoneInfo("America/New_York")
    start = datetime(2026, 3, 8, 0, 0, tzinfo=new_york)  # DST starts 2026-03-08 02:00
    window = next_midnight(start, new_york)
    assert window.earliest == timedelta(hours=23)


def test_next_full_hour() -> None:
    """Hourly resets end at the next full hour, also in half-hour zones."""
    assert next_full_hour(NOW).as_seconds() == (1800.0, 1800.0)
    assert next_full_hour(NOW, ZoneInfo("Asia/Kolkata")).as_seconds() == (3600.0, 3600.0)


def test_naive_now_is_refused() -> None:
    """A naive datetime is a clear ValueError, not a silent wrong window."""
    with pytest.raises(ValueError, match="aware"):
        next_midnight(datetime(2026, 1, 15, 22, 30))
    with pytest.raises(ValueError, match="aware"):
        classify_http(429, None, None, None, datetime(2026, 1, 15))


def test_unknown_time_zone_is_a_value_error() -> None:
    """An unknown zone name says what is accepted."""
    with pytest.raises(ValueError, match="IANA"):
        resolve_timezone("Mars/Olympus")


def test_backoff_window_doubles_and_caps() -> None:
    """Exponential backoff doubles per attempt and stops at the cap."""
    assert backoff_window(1).as_seconds() == (1.0, 2.0)
    assert backoff_window(4).as_seconds() == (8.0, 16.0)
    assert backoff_window(30).as_seconds() == (600.0, 600.0)
    assert backoff_window(10_000, cap=60).as_seconds() == (60.0, 60.0)
    with pytest.raises(ValueError, match="attempt"):
        backoff_window(0)


def test_retry_after_header_wins_over_daily_window() -> None:
    """A Retry-After header beats the profile's daily reset."""
    body = {"error": "daily_limit_reached"}
    verdict = classify_http(429, body, {"Retry-After": "120"}, "migosmtp", NOW)
    assert verdict.as_dict()["retry_after"] == [120.0, 120.0]


def test_caller_time_zone_overrides_profile() -> None:
    """timezone= moves the daily reset to the account's midnight."""
    body = {"error": "daily_limit_reached"}
    verdict = classify_http(429, body, None, "migosmtp", NOW, timezone="Asia/Kolkata")
    assert verdict.as_dict()["retry_after"] == [72000.0, 72000.0]


def test_no_hint_means_no_window_unless_attempt_given() -> None:
    """429/5xx without a hint fix no window; with attempt= they get a backoff window."""
    plain = classify_http(503, None, None, None, NOW)
    assert plain.retry
    assert plain.retry_after is None
    backed = classify_http(503, None, None, None, NOW, attempt=3)
    assert backed.as_dict()["retry_after"] == [4.0, 8.0]


def test_non_retrying_verdict_has_no_window_even_with_retry_after() -> None:
    """A permanent failure keeps retry_after null even if the response sent Retry-After."""
    verdict = classify_http(401, None, {"Retry-After": "30"}, None, NOW)
    assert not verdict.retry
    assert verdict.retry_after is None


def test_body_retry_after_field() -> None:
    """A retry_after number in the body is a hint like the header."""
    verdict = classify_http(
        429, {"error": "Rate limit exceeded", "retry_after": 7}, None, None, NOW
    )
    assert verdict.as_dict()["retry_after"] == [7.0, 7.0]


def test_sendgrid_rate_limit_reset_epoch() -> None:
    """SendGrid's X-RateLimit-Reset (epoch) gives the window to the reset."""
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW.timestamp()) + 60)}
    body = {"errors": [{"field": None, "message": "too many requests"}]}
    verdict = classify_http(429, body, headers, "sendgrid", NOW)
    assert verdict.category.value == "rate_limited"
    assert verdict.as_dict()["retry_after"] == [60.0, 60.0]


@pytest.mark.parametrize("name", ["X-RateLimit-Reset", "RateLimit-Reset"])
def test_plain_http_reads_common_reset_headers(name: str) -> None:
    """Without a provider, a 429's X-RateLimit-Reset or RateLimit-Reset fixes the window."""
    verdict = classify_http(429, None, {name: "45"}, None, NOW)
    assert verdict.as_dict()["retry_after"] == [45.0, 45.0]


def test_reset_header_does_not_time_a_server_error() -> None:
    """A rate-limit reset header on a 500 says when the limit resets, not when the server heals."""
    headers = {"X-RateLimit-Remaining": "598", "X-RateLimit-Reset": str(int(NOW.timestamp()) + 60)}
    verdict = classify_http(500, {"errors": [{"message": "oops"}]}, headers, "sendgrid", NOW)
    assert verdict.retry
    assert verdict.retry_after is None


def test_retry_after_still_times_a_server_error() -> None:
    """Retry-After on a 503 keeps fixing the window (only reset headers are limited)."""
    verdict = classify_http(503, None, {"Retry-After": "120", "X-RateLimit-Reset": "5"}, None, NOW)
    assert verdict.as_dict()["retry_after"] == [120.0, 120.0]


@pytest.mark.parametrize("attempt", [0, -1, True, 1.5])
def test_bad_attempt_is_a_value_error(attempt: object) -> None:
    """attempt= must be a whole number from 1 up."""
    with pytest.raises(ValueError, match="attempt"):
        classify_http(503, None, None, None, NOW, attempt=attempt)  # type: ignore[arg-type]


def test_resets_past_the_end_of_the_calendar_do_not_overflow() -> None:
    """At 23:59:59 on 31 Dec 9999 the next midnight and full hour are one second away."""
    end = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert next_midnight(end).as_seconds() == (1.0, 1.0)
    assert next_full_hour(end).as_seconds() == (1.0, 1.0)
    # Converting to a zone east of UTC would already leave the calendar.
    assert next_full_hour(end, ZoneInfo("Pacific/Kiritimati")).as_seconds() == (1.0, 1.0)


def test_status_string_must_be_ascii_digits() -> None:
    """'\u0664\u0662\u0669' (Arabic-Indic digits) is not the status 429."""
    with pytest.raises(ValueError, match="100 to 599"):
        classify_http("\u0664\u0662\u0669", now=NOW)
    assert classify_http(" 429 ", now=NOW).api is not None
