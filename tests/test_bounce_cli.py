"""``smtpcodes bounces`` and ``smtpcodes logs`` through the main CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from smtpcodes.cli import main

DATA = Path(__file__).resolve().parent / "data" / "bounces"

LOG = (
    "Jan 10 10:00:01 mx postfix/smtp[1]: 4F1A2B3C4D: to=<a@example.com>, relay=x, dsn=5.1.1, "
    "status=bounced (host mx[192.0.2.1] said: 550 5.1.1 <a@example.com>: User unknown (in "
    "reply to RCPT TO command))\n"
    "Jan 10 10:00:02 mx postfix/smtp[1]: 5F1A2B3C4D: to=<b@example.net>, relay=x, dsn=5.0.0, "
    "status=bounced (host mx[192.0.2.2] said: 550 Frobnicated by the quux 12345678 (in reply "
    "to RCPT TO command))\n"
    "Jan 10 10:00:03 mx postfix/smtpd[2]: connect from unknown[192.0.2.9]\n"
)


def test_bounces_table_lists_rows_and_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """The table has one row per recipient, then totals by category and domain."""
    assert main(["bounces", str(DATA / "qmail.eml"), str(DATA / "not-bounce.eml")]) == 0
    out = capsys.readouterr().out
    assert "alice@example.com" in out
    assert "bob@example.com" in out
    assert "2 messages, 2 records" in out
    assert "by category:" in out
    assert "by recipient domain" in out
    assert "not bounces: 1" in out
    assert "rules that fired most:" in out


def test_bounces_json_is_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    """JSON output parses, holds every record and the summary."""
    assert main(["bounces", str(DATA), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    recipients = {r["recipient"] for r in document["records"]}
    assert {"alice@example.com", "nina@example.com", "sam@isp.example"} <= recipients
    assert document["summary"]["records"] == len(document["records"])
    assert document["summary"]["by_kind"]["complaint"] == 1


def test_bounces_csv_has_a_header_and_rows(capsys: pytest.CaptureFixture[str]) -> None:
    """CSV output starts with the column names; the summary goes to stderr."""
    assert main(["bounces", str(DATA / "rfc3464-multi.eml"), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.reader(io.StringIO(captured.out)))
    assert rows[0][:3] == ["source", "recipient", "kind"]
    assert [r[1] for r in rows[1:]] == ["nina@example.com", "oscar@example.net", "peggy@example.jp"]
    assert "by category:" in captured.err


def test_missing_path_is_a_clean_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A path that does not exist exits 2 with one line, no traceback."""
    assert main(["bounces", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("smtpcodes: error:")
    assert "Traceback" not in err


def test_logs_summary_lists_unknown_replies_masked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The logs scan ends with replies that fell to unknown, addresses and numbers masked."""
    path = tmp_path / "mail.log"
    path.write_text(LOG, encoding="utf-8")
    assert main(["logs", str(path)]) == 0
    out = capsys.readouterr().out
    assert "a@example.com" in out
    assert "2 delivery results, 2 records" in out
    assert "replies that fell to unknown (masked):" in out
    unknown = out.split("replies that fell to unknown (masked):", 1)[1]
    assert "Frobnicated by the quux <n>" in unknown
    assert "b@example.net" not in unknown


def test_logs_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """logs --format json gives the records with their line numbers."""
    path = tmp_path / "mail.log"
    path.write_text(LOG, encoding="utf-8")
    assert main(["logs", str(path), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [r["recipient"] for r in document["records"]] == ["a@example.com", "b@example.net"]
    assert document["records"][0]["source"].endswith("mail.log:1")


def test_progress_line_is_drawn_and_cleared() -> None:
    """The progress indicator writes a count on one line and erases it at the end."""
    from smtpcodes.bounces.cli import _Progress

    stream = io.StringIO()
    progress = _Progress(True, stream)
    progress.update(7, "messages")
    progress.close()
    text = stream.getvalue()
    assert "\r7 messages read..." in text
    assert text.endswith("\r")
    silent = io.StringIO()
    _Progress(False, silent).update(7, "messages")
    assert silent.getvalue() == ""


def test_summary_lists_reports_read_in_part(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A report cut at the recipient cap still gives rows and is listed as read in part."""
    from smtpcodes.bounces.dsn import MAX_DSN_RECIPIENTS

    blocks = "".join(
        f"Final-Recipient: rfc822; u{i}@example.com\nAction: failed\nStatus: 5.1.1\n\n"
        for i in range(MAX_DSN_RECIPIENTS + 1)
    )
    path = tmp_path / "big.eml"
    path.write_text(
        "From: MAILER-DAEMON@example.org\nContent-Type: multipart/report; "
        'report-type=delivery-status; boundary="Z"\n\n--Z\nContent-Type: '
        "message/delivery-status\n\nReporting-MTA: dns; example.org\n\n" + blocks + "--Z--\n",
        encoding="utf-8",
    )
    assert main(["bounces", str(path), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert len(document["records"]) == MAX_DSN_RECIPIENTS
    assert len(document["summary"]["partial"]) == 1
