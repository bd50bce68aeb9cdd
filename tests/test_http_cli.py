"""``smtpcodes http``: the e-mail API subcommand, run in-process through smtpcodes.cli.main."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from smtpcodes.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_json_output_with_provider_and_header(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the verdict with the API details and the Retry-After window."""
    body = '{"success": false, "error": "rate_limit_exceeded", "message": "slow down", "code": 429}'
    status, out, _ = run(
        capsys, "http", "429", body, "--provider", "migosmtp",
        "--header", "Retry-After: 30", "--header", "X-Request-ID: req_1", "--json",
    )  # fmt: skip
    assert status == 0
    record = json.loads(out)
    assert record["category"] == "rate_limited"
    assert record["retry_after"] == [30.0, 30.0]
    assert record["api"]["error_code"] == "rate_limit_exceeded"
    assert record["api"]["request_id"] == "req_1"


def test_readable_output_shows_code_and_fields(capsys: pytest.CaptureFixture[str]) -> None:
    """The human output names the category, the code and the invalid field."""
    body = '{"error": "invalid_email_address", "message": "bad from", "field": "from"}'
    status, out, _ = run(capsys, "http", "422", body, "-p", "migosmtp")
    assert status == 0
    assert "sender_rejected" in out
    assert "invalid_email_address" in out
    assert "from: bad from" in out


def test_status_only(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a body or provider the status alone decides (504: delivery unknown)."""
    status, out, _ = run(capsys, "http", "504", "--json")
    assert status == 0
    record = json.loads(out)
    assert record["category"] == "network_error"
    assert record["delivery_unknown"] is True


def test_now_and_timezone_options(capsys: pytest.CaptureFixture[str]) -> None:
    """--now fixes the clock for daily resets."""
    body = '{"error": "daily_quota_exceeded"}'
    _, out, _ = run(
        capsys, "http", "429", body, "-p", "generic", "--now", "2026-01-15T22:30:00Z", "--json"
    )
    assert json.loads(out)["retry_after"] == [5400.0, 5400.0]


def test_body_from_file_and_stdin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BODY may be @FILE or - for standard input."""
    path = tmp_path / "body.json"
    path.write_text('{"ErrorCode": 406, "Message": "inactive"}', encoding="utf-8")
    _, out, _ = run(capsys, "http", "422", f"@{path}", "-p", "postmark", "--json")
    assert json.loads(out)["category"] == "recipient_suppressed"
    stdin = io.TextIOWrapper(io.BytesIO(b'{"ErrorCode": 10, "Message": "no token"}'))
    monkeypatch.setattr("sys.stdin", stdin)
    _, out, _ = run(capsys, "http", "401", "-", "-p", "postmark", "--json")
    assert json.loads(out)["category"] == "auth_failed"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["http", "abc"], "STATUS must be an HTTP status"),
        (["http", "700"], "100 to 599"),
        (["http", "400", "-p", "acme"], "known providers"),
        (["http", "400", "--header", "no-colon"], "Name: value"),
        (["http", "400", "--now", "yesterday"], "ISO 8601"),
        (["http", "400", "@/nonexistent/body.json"], "cannot read body file"),
        (["http", "429", "--timezone", "Mars/Base"], "IANA"),
    ],
)
def test_bad_input_is_one_line_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    """Bad input exits 2 with one 'smtpcodes: error:' line, never a traceback."""
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.startswith("smtpcodes: error:")
    assert fragment in err
    assert "Traceback" not in err


def test_overlay_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--overlay adds a provider profile from a YAML file."""
    (tmp_path / "acme.yaml").write_text(
        "provider: acme\ncode_paths: [kind]\n"
        "errors:\n  - {code: gone, category: mailbox_unknown}\n",
        encoding="utf-8",
    )
    _, out, _ = run(
        capsys,
        "http",
        "410",
        '{"kind": "gone"}',
        "-p",
        "acme",
        "--overlay",
        str(tmp_path),
        "--json",
    )
    record = json.loads(out)
    assert (record["category"], record["suppress"]) == ("mailbox_unknown", True)
