"""Per-format samples (tests/data/bounces) parse to the right recipients, statuses and replies."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from smtpcodes.bounces.formats import registry
from smtpcodes.bounces.parse import parse_bounce
from smtpcodes.verdict import Category

DATA = Path(__file__).resolve().parent / "data" / "bounces"

# file, format, [(recipient, kind, status, reply code)]
CASES = [
    (
        "qmail.eml",
        "qmail",
        [
            ("alice@example.com", "bounce", "5.1.1", 550),
            ("bob@example.com", "bounce", "5.1.2", None),
        ],
    ),
    ("exim.eml", "exim", [("carol@example.net", "bounce", "5.2.2", 552)]),
    ("exim-delay.eml", "exim", [("dave@example.net", "delay", "4.7.1", 451)]),
    ("sendmail-plain.eml", "sendmail", [("erin@example.jp", "bounce", "5.1.1", 550)]),
    ("office365-html.eml", "office365", [("frank@fabrikam.example", "bounce", "5.1.10", 550)]),
    ("exchange2003.eml", "exchange2003", [("grace@exchange.example.com", "bounce", None, None)]),
    ("gmail.eml", "gmail", [("heidi@example.co.uk", "bounce", "5.2.1", 550)]),
    ("yahoo.eml", "yahoo", [("ivan@example.org", "bounce", "5.7.1", 554)]),
    (
        "postfix-text.eml",
        "postfix",
        [("judy@example.com", "bounce", "5.7.1", 550), ("ken@example.com", "bounce", "5.3.4", 552)],
    ),
    ("courier.eml", "courier", [("leo@example.com", "bounce", "5.1.1", 550)]),
    ("opensmtpd.eml", "opensmtpd", [("mallory@example.com", "bounce", "5.1.1", 550)]),
    (
        "rfc3464-multi.eml",
        "rfc3464",
        [
            ("nina@example.com", "bounce", "5.1.1", 550),
            ("oscar@example.net", "delay", "4.2.2", 452),
            ("peggy@example.jp", "delivered", "2.0.0", 250),
        ],
    ),
    ("global-dsn.eml", "rfc3464", [("jörg@bücher.example", "bounce", "5.1.1", 550)]),
    ("forwarded-dsn.eml", "rfc3464", [("quinn@example.com", "bounce", "5.1.2", None)]),
    ("amazonses.eml", "amazonses", [("victor@example.com", "bounce", "5.1.1", 550)]),
    ("vacation.eml", "auto-reply", [("rita@example.com", "vacation", None, None)]),
    ("arf.eml", "arf", [("sam@isp.example", "complaint", None, None)]),
]


@pytest.mark.parametrize(("name", "fmt", "expected"), CASES, ids=[c[0] for c in CASES])
def test_sample_parses_to_expected_records(name: str, fmt: str, expected: list) -> None:
    """Each sample is read by its own format detector, with every recipient, status and code."""
    report = parse_bounce(DATA / name)
    assert report.format == fmt
    got = [
        (
            r.recipient,
            r.kind,
            str(r.status) if r.status and not r.status_inferred else None,
            r.reply.code if r.reply else None,
        )
        for r in report.records
    ]
    assert got == expected


def test_not_a_bounce_gives_no_records() -> None:
    """A reply that mentions failures and addresses is not taken for a bounce."""
    report = parse_bounce(DATA / "not-bounce.eml")
    assert report.records == ()
    assert report.is_bounce is False
    assert report.format is None


def test_vacation_is_not_suppressed_and_complaint_is() -> None:
    """Auto-replies suppress nothing; ARF complaints suppress the complaining address."""
    vacation = parse_bounce(DATA / "vacation.eml").records[0]
    complaint = parse_bounce(DATA / "arf.eml").records[0]
    assert vacation.verdict.suppress is False
    assert vacation.verdict.category is Category.DELIVERED
    assert complaint.verdict.suppress is True
    assert complaint.verdict.category is Category.RECIPIENT_SUPPRESSED
    assert complaint.feedback_type == "abuse"


def test_original_message_headers_are_reported() -> None:
    """The returned original's Message-ID, From, To and (decoded) Subject are on each record."""
    report = parse_bounce(DATA / "rfc3464-multi.eml")
    original = report.records[0].original
    assert original is not None
    assert original.message_id == "<menu-15@example.org>"
    assert original.subject == "Café menu"
    assert original.from_ == "Sender <sender@example.org>"
    assert "nina@example.com" in (original.to or "")


def test_dsn_fields_are_carried_to_records() -> None:
    """Reporting-MTA, Remote-MTA, dates and Original-Recipient come through from the DSN."""
    record = parse_bounce(DATA / "rfc3464-multi.eml").records[0]
    assert record.reporting_mta == "mail.example.org"
    assert record.remote_mta == "mx.example.com"
    assert record.original_recipient == "nina@example.com"
    assert record.arrival_date is not None
    assert record.arrival_date.startswith("Thu, 15 Feb 2024")
    assert record.last_attempt_date is not None


def test_verdicts_follow_the_diagnostic_reply() -> None:
    """The DSN's records classify as their replies do: user unknown suppresses, a delay retries."""
    records = parse_bounce(DATA / "rfc3464-multi.eml").records
    assert records[0].verdict.category is Category.MAILBOX_UNKNOWN
    assert records[0].verdict.suppress is True
    assert records[1].verdict.category is Category.MAILBOX_FULL
    assert records[2].verdict.category is Category.DELIVERED
    assert records[2].verdict.suppress is False


def test_inputs_of_every_type_give_the_same_report() -> None:
    """bytes, str, a path (str or Path) and an email.message.Message parse alike."""
    path = DATA / "rfc3464-multi.eml"
    raw = path.read_bytes()
    expected = [(r.recipient, str(r.status)) for r in parse_bounce(path).records]
    inputs = [
        raw,
        raw.decode("utf-8"),
        str(path),
        email.message_from_bytes(raw, policy=email.policy.compat32),
    ]
    for item in inputs:
        got = [(r.recipient, str(r.status)) for r in parse_bounce(item).records]
        assert got == expected, type(item).__name__


def test_unsupported_input_type_raises_type_error() -> None:
    """An int is neither a message nor a path."""
    with pytest.raises(TypeError, match="parse_bounce"):
        parse_bounce(42)  # type: ignore[arg-type]


def test_registry_lists_every_format_module_once_in_priority_order() -> None:
    """Each format module registers itself; priorities order the detectors."""
    names = [f.name for f in registry()]
    assert len(names) == len(set(names))
    for expected in (
        "rfc3464",
        "qmail",
        "exim",
        "sendmail",
        "office365",
        "gmail",
        "yahoo",
        "postfix",
        "courier",
        "opensmtpd",
        "arf",
        "auto-reply",
        "generic",
    ):
        assert expected in names
    priorities = [f.priority for f in registry()]
    assert priorities == sorted(priorities)
    assert names[-1] == "generic"


def test_record_as_dict_is_json_ready() -> None:
    """as_dict gives plain values: the status as X.Y.Z and the verdict's own dict."""
    import json

    report = parse_bounce(DATA / "qmail.eml")
    data = report.as_dict()
    text = json.dumps(data)
    assert '"status": "5.1.1"' in text
    assert data["records"][0]["verdict"]["category"] == "mailbox_unknown"


def test_unknown_bounce_format_with_auto_submitted_is_still_a_bounce() -> None:
    """Auto-Submitted alone does not make a vacation: a mailer-daemon report stays a bounce."""
    message = (
        b"From: Mail Delivery System <mailer-daemon@relay.example.org>\r\n"
        b"To: sender@example.org\r\nSubject: Delivery problem\r\n"
        b"Auto-Submitted: auto-replied\r\n\r\n"
        b"We could not hand your message over.\r\n\r\n"
        b"  zed@example.com\r\n    550 5.1.1 no such user here\r\n"
    )
    report = parse_bounce(message)
    assert report.format == "generic"
    assert [(r.recipient, r.kind, str(r.status)) for r in report.records] == [
        ("zed@example.com", "bounce", "5.1.1")
    ]


def test_missing_path_raises_file_not_found(tmp_path: Path) -> None:
    """A one-line str is a path; a path that does not exist is an error, not an empty report."""
    with pytest.raises(FileNotFoundError):
        parse_bounce(str(tmp_path / "no-such.eml"))


def test_status_is_inferred_from_the_verdict_when_the_report_has_none() -> None:
    """A report without any status gets one from the verdict, marked as inferred."""
    from smtpcodes.bounces.verdicts import infer_status

    report = parse_bounce(DATA / "exchange2003.eml")
    (record,) = report.records
    assert record.status_inferred is True
    assert record.status == infer_status(record.verdict, "failed")
    assert record.status is not None
    assert record.status.class_ == 5
    given = parse_bounce(DATA / "qmail.eml").records[0]
    assert given.status_inferred is False


def test_read_receipt_is_not_a_bounce() -> None:
    """An RFC 8098 disposition notification (read receipt) gives no records."""
    message = (
        b"Return-Path: <>\r\nFrom: Zoe <zoe@example.com>\r\nTo: sender@example.org\r\n"
        b"Subject: Read: Invoice 42\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="M"'
        b"\r\n\r\n--M\r\nContent-Type: text/plain\r\n\r\nThe message sent to zoe@example.com "
        b"was deleted without being read; delivery to the mailbox failed to matter.\r\n"
        b"--M\r\nContent-Type: message/disposition-notification\r\n\r\n"
        b"Final-Recipient: rfc822; zoe@example.com\r\n"
        b"Disposition: manual-action/MDN-sent-manually; deleted\r\n--M--\r\n"
    )
    assert parse_bounce(message).records == ()
