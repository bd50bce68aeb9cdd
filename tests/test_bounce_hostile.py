"""Hostile input: cut, nested, huge or garbled messages give bounded work and no crash."""

from __future__ import annotations

import pytest

from smtpcodes.bounces.dsn import MAX_DSN_RECIPIENTS
from smtpcodes.bounces.mime import MAX_DEPTH, parse_message
from smtpcodes.bounces.parse import parse_bounce
from smtpcodes.bounces.synth import DsnRecipientSpec, make_dsn

BASE = make_dsn(
    [
        DsnRecipientSpec("a@example.com", "550 5.1.1 <a@example.com>: User unknown"),
        DsnRecipientSpec("b@example.com", "552 5.2.2 Mailbox full"),
    ]
)


def test_truncated_report_keeps_the_recipients_before_the_cut() -> None:
    """A DSN cut after its first recipient block still reports that recipient."""
    cut = BASE.index(b"Final-Recipient: rfc822; b@example.com")
    report = parse_bounce(BASE[:cut])
    assert [r.recipient for r in report.records] == ["a@example.com"]
    assert str(report.records[0].status) == "5.1.1"


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_any_prefix_of_a_report_parses(fraction: float) -> None:
    """Every prefix gives a report (maybe empty); none raises."""
    report = parse_bounce(BASE[: int(len(BASE) * fraction)])
    assert all(r.recipient for r in report.records)


def test_multipart_nesting_bomb_is_cut_at_the_depth_limit() -> None:
    """Two thousand nested multiparts are walked only MAX_DEPTH deep."""
    inner = b"Content-Type: text/plain\r\n\r\nhi\r\n"
    for i in range(2000):
        inner = (
            f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode()
            + inner
            + f"\r\n--b{i}--\r\n".encode()
        )
    root = parse_message(b"From: x@example.com\r\n" + inner)
    depth = 0
    part = root
    while part.children:
        part = part.children[0]
        depth += 1
    assert depth == MAX_DEPTH
    assert parse_bounce(b"From: x@example.com\r\n" + inner).records == ()


def test_a_20_megabyte_attachment_does_not_hide_the_report() -> None:
    """A huge returned attachment is skipped over, the recipients are still found."""
    closing = b"--B0UNDARY.1700000000/mail.example.org--"
    attachment = (
        b"--B0UNDARY.1700000000/mail.example.org\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + (b"QUFBQUFBQUFB" * 6 + b"\r\n") * 280_000
    )
    message = BASE.replace(closing, attachment + b"\r\n" + closing)
    assert len(message) > 20_000_000
    report = parse_bounce(message)
    assert [r.recipient for r in report.records] == ["a@example.com", "b@example.com"]


def test_many_recipients_are_capped_and_the_cut_is_reported() -> None:
    """A report with more recipient blocks than the cap gives the first ones and says so."""
    count = MAX_DSN_RECIPIENTS + 500
    blocks = b"".join(
        b"Final-Recipient: rfc822; u%d@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" % i
        for i in range(count)
    )
    message = (
        b"From: MAILER-DAEMON@example.org\r\nContent-Type: multipart/report; "
        b'report-type=delivery-status; boundary="Z"\r\n\r\n--Z\r\nContent-Type: '
        b"message/delivery-status\r\n\r\nReporting-MTA: dns; example.org\r\n\r\n"
        + blocks
        + b"--Z--\r\n"
    )
    report = parse_bounce(message)
    assert len(report.records) == MAX_DSN_RECIPIENTS
    assert report.records[0].recipient == "u0@example.com"
    assert report.records[-1].recipient == f"u{MAX_DSN_RECIPIENTS - 1}@example.com"
    assert report.problems
    assert "recipients were read" in report.problems[0]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(range(256)) * 1000,
        b"X-A: b\r\n" * 50_000,
        b"Content-Type: multipart/report; boundary=\r\n\r\n--\r\n--\r\n",
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n' + b"--x\r\n" * 5000,
        b"From: mailer-daemon@example.org\r\nSubject: Undeliverable\r\nContent-Type: text/html"
        b"\r\n\r\n" + b"<style>" * 100_000,
        b"From: mailer-daemon@example.org\r\nSubject: failure notice\r\n\r\n<a@b.example>:"
        + b"x" * 2_000_000,
    ],
    ids=[
        "empty",
        "binary",
        "headers-only",
        "empty-boundary",
        "many-delimiters",
        "html-bomb",
        "long-line",
    ],
)
def test_garbage_gives_a_report_and_no_exception(data: bytes) -> None:
    """Arbitrary bytes give a (possibly empty) report, never an exception."""
    report = parse_bounce(data)
    assert isinstance(report.records, tuple)


def test_wrong_and_unknown_charsets_are_decoded_with_replacement() -> None:
    """An unknown charset falls back to UTF-8 with replacement; the report is still read."""
    message = BASE.replace(b"charset=us-ascii", b"charset=x-no-such-charset")
    message = message.replace(b"I'm sorry", b"I\xff\xfem sorry")
    assert [r.recipient for r in parse_bounce(message).records] == [
        "a@example.com",
        "b@example.com",
    ]


def test_base64_delivery_status_part_is_decoded() -> None:
    """A delivery-status part sent base64-encoded is read like a plain one."""
    import base64

    fields = (
        b"Reporting-MTA: dns; example.org\r\n\r\nFinal-Recipient: rfc822; z@example.com\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n"
    )
    message = (
        b"From: MAILER-DAEMON@example.org\r\nContent-Type: multipart/report; "
        b'report-type=delivery-status; boundary="Z"\r\n\r\n--Z\r\nContent-Type: '
        b"message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(fields)
        + b"--Z--\r\n"
    )
    assert [(r.recipient, str(r.status)) for r in parse_bounce(message).records] == [
        ("z@example.com", "5.1.1")
    ]


def test_unknown_format_with_thousands_of_addresses_is_capped_and_says_so() -> None:
    """A guessed report naming thousands of addresses keeps the first ones and reports the cut."""
    body = b"".join(b"<u%d@example.com>: 550 no such user\n" % i for i in range(2000))
    report = parse_bounce(
        b"From: mailer-daemon@example.org\r\nSubject: Delivery problem\r\n\r\n" + body
    )
    assert report.format == "generic"
    assert report.records[0].recipient == "u0@example.com"
    assert 0 < len(report.records) < 2000
    assert report.problems
    assert "were read" in report.problems[0]


@pytest.mark.parametrize("charset", ["base64", "rot13", "hex", "zlib", "uu"])
def test_bytes_to_bytes_codecs_named_as_charsets_do_not_crash(charset: str) -> None:
    """charset=base64 (a codec, but not a text encoding) is read as UTF-8, in parts and headers."""
    name = charset.encode()
    message = BASE.replace(b"charset=us-ascii", b"charset=" + name)
    message = message.replace(b"Subject: ", b"Subject: =?" + name + b"?Q?Returned?= ", 1)
    report = parse_bounce(message)
    assert [r.recipient for r in report.records] == ["a@example.com", "b@example.com"]
    assert report.subject is not None


@pytest.mark.parametrize("charset", ["utf-16", "utf-32", "utf-16-le"])
def test_delivery_status_part_labelled_with_a_wide_charset_is_still_read(charset: str) -> None:
    """ASCII parts wrongly labelled UTF-16/32 (the text and the DSN part) keep the recipients."""
    message = BASE.replace(
        b"Content-Type: message/delivery-status",
        b"Content-Type: message/delivery-status; charset=" + charset.encode(),
    ).replace(b"charset=us-ascii", b"charset=" + charset.encode())
    assert b"delivery-status; charset=" in message
    report = parse_bounce(message)
    assert [(r.recipient, str(r.status)) for r in report.records] == [
        ("a@example.com", "5.1.1"),
        ("b@example.com", "5.2.2"),
    ]


def test_real_utf16_text_is_still_decoded_as_utf16() -> None:
    """Text that really is UTF-16 keeps its label (the wrong-label check looks for NUL bytes)."""
    from smtpcodes.bounces.mime import decode_bytes

    assert decode_bytes("Grüße, 550 user unknown\n".encode("utf-16"), "utf-16") == (
        "Grüße, 550 user unknown\n"
    )


def test_a_report_buried_under_too_many_enclosed_messages_is_reported_as_cut() -> None:
    """A DSN under 200 message/rfc822 wrappers gives no record, and says the nesting was cut."""
    inner = BASE
    for _ in range(200):
        inner = b"From: x@example.com\r\nContent-Type: message/rfc822\r\n\r\n" + inner
    report = parse_bounce(inner)
    assert report.records == ()
    assert any("nest" in problem for problem in report.problems)


def test_more_parts_than_the_limit_is_reported_as_cut() -> None:
    """A message with thousands of MIME parts says that the parts past the limit were not read."""
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n" for _ in range(3000))
    message = (
        b'From: x@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + parts
        + b"--b--\r\n"
    )
    report = parse_bounce(message)
    assert any("parts" in problem for problem in report.problems)


def test_an_ordinary_report_has_no_cut_problems() -> None:
    """The nesting and part limits say nothing about a normal report."""
    assert parse_bounce(BASE).problems == ()


def test_a_line_full_of_addresses_is_read_in_linear_time() -> None:
    """64 KB of 'a@a@a@...' from a mailer-daemon finishes at once (hang guard, huge margin)."""
    import subprocess
    import sys

    script = (
        "from smtpcodes.bounces.parse import parse_bounce\n"
        "head = b'From: MAILER-DAEMON@example.org\\nSubject: Returned mail: see transcript '\n"
        "head += b'for details\\nContent-Type: text/plain\\n\\n'\n"
        "message = head + b'a@' * 32768 + b' failed\\n'\n"
        "report = parse_bounce(message)\n"
        "print(len(report.records), len(report.problems))\n"
    )
    # Before the fix this took about four minutes; it now takes a fraction of a second.
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    records, _problems = map(int, done.stdout.split())
    assert 1 <= records <= 100
