"""The command line and its readers under hostile input: never a traceback, nothing lost."""

from __future__ import annotations

import json

import pytest

from smtpcodes.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# --- smtpcodes http -------------------------------------------------------------------------


def test_http_daily_reset_at_the_end_of_time_is_no_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A daily-quota window computed from a --now at year 9999 gives a verdict, not a crash."""
    status, out, err = run(
        capsys, "http", "429", '{"error": "daily_limit_reached"}', "-p", "migosmtp",
        "--now", "9999-12-31T23:59:59+00:00", "--json",
    )  # fmt: skip
    assert status == 0, err
    record = json.loads(out)
    assert record["category"] == "quota_exceeded"
    assert record["retry"] is True


def test_http_hourly_reset_past_the_calendar_is_no_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An hourly window that would need a date past 9999 in the reset time zone is no crash."""
    status, out, err = run(
        capsys, "http", "429", '{"error": "hourly_limit_reached"}', "-p", "migosmtp",
        "--now", "9999-12-31T23:59:59+00:00", "--timezone", "Pacific/Kiritimati", "--json",
    )  # fmt: skip
    assert status == 0, err
    assert json.loads(out)["category"] == "quota_exceeded"


@pytest.mark.parametrize("status_text", ["\u0664\u0662\u0669", "4_29", "\uff14\uff12\uff19"])
def test_http_status_must_be_ascii_digits(
    capsys: pytest.CaptureFixture[str], status_text: str
) -> None:
    """Arabic-Indic or full-width digits and underscores are not an HTTP status."""
    status, out, err = run(capsys, "http", status_text)
    assert status == 2
    assert out == ""
    assert err.startswith("smtpcodes: error: STATUS must be an HTTP status code")
    assert len(err.strip().splitlines()) == 1


def test_http_status_with_thousands_of_digits_is_a_clean_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 5,000-digit STATUS gets the usual message, not int()'s digit-limit complaint."""
    status, _out, err = run(capsys, "http", "4" * 5000)
    assert status == 2
    assert err.startswith("smtpcodes: error: STATUS must be an HTTP status code")
    assert "limit" not in err
