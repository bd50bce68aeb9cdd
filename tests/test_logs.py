"""Postfix, Exim and Sendmail log lines are read into classified delivery results."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpcodes.bounces.logs import parse_log_line, read_log
from smtpcodes.verdict import Category

POSTFIX_BOUNCED = (
    "Jan 10 10:00:01 mx postfix/smtp[1234]: 4F1A2B3C4D: to=<kijitora@example.com>, "
    "relay=mx.example.com[192.0.2.1]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=5.1.1, "
    "status=bounced (host mx.example.com[192.0.2.1] said: 550 5.1.1 <kijitora@example.com>: "
    "Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO "
    "command))"
)
POSTFIX_DEFERRED = (
    "Jan 10 10:00:02 mx postfix/smtp[1234]: 5F1A2B3C4D: to=<neko@example.net>, "
    "relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to "
    "mx.example.net[192.0.2.2]:25: Connection timed out)"
)
POSTFIX_SENT = (
    "Jan 10 10:00:03 mx postfix/smtp[1234]: 6F1A2B3C4D: to=<ok@example.org>, "
    "relay=mx.example.org[192.0.2.3]:25, delay=1.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: "
    "queued as ABC)"
)
EXIM_FAILED = (
    "2024-01-10 10:00:04 1rABCD-000123-AB ** shiro@example.jp R=dnslookup T=remote_smtp "
    "H=mx.example.jp [192.0.2.4] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes: SMTP error from "
    "remote mail server after RCPT TO:<shiro@example.jp>: 552 5.2.2 Mailbox full"
)
EXIM_DEFERRED = (
    "2024-01-10 10:00:05 1rABCE-000123-AB == kuro@example.jp R=dnslookup T=remote_smtp "
    "defer (-44) H=mx.example.jp [192.0.2.4]: SMTP error from remote mail server after RCPT "
    "TO:<kuro@example.jp>: 451 4.7.1 Greylisted, try again later"
)
SENDMAIL_FAILED = (
    "Jan 10 10:00:06 mx sm-mta[555]: x0AA0006123456: to=<mike@example.co.jp>, "
    "delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=120000, relay=mx.example.co.jp. "
    "[192.0.2.5], dsn=5.1.1, stat=User unknown"
)
SENDMAIL_DEFERRED = (
    "Jan 10 10:00:07 mx sm-mta[555]: x0AA0007123456: to=<tama@example.co.jp>, "
    "delay=00:00:01, mailer=esmtp, pri=120000, relay=mx.example.co.jp., dsn=4.0.0, "
    "stat=Deferred: Connection refused by mx.example.co.jp."
)


@pytest.mark.parametrize(
    ("line", "mta", "recipient", "kind", "status", "code"),
    [
        (POSTFIX_BOUNCED, "postfix", "kijitora@example.com", "bounce", "5.1.1", 550),
        (POSTFIX_DEFERRED, "postfix", "neko@example.net", "delay", "4.4.1", None),
        (POSTFIX_SENT, "postfix", "ok@example.org", "delivered", "2.0.0", 250),
        (EXIM_FAILED, "exim", "shiro@example.jp", "bounce", "5.2.2", 552),
        (EXIM_DEFERRED, "exim", "kuro@example.jp", "delay", "4.7.1", 451),
        (SENDMAIL_FAILED, "sendmail", "mike@example.co.jp", "bounce", "5.1.1", None),
        (SENDMAIL_DEFERRED, "sendmail", "tama@example.co.jp", "delay", "4.0.0", None),
    ],
)
def test_log_line_is_read(
    line: str, mta: str, recipient: str, kind: str, status: str, code: int | None
) -> None:
    """Each MTA's result line gives the recipient, kind, status and reply code."""
    record = parse_log_line(line)
    assert record is not None
    assert (record.mta, record.recipient, record.kind) == (mta, recipient, kind)
    assert str(record.status) == status
    assert (record.reply.code if record.reply else None) == code


def test_postfix_bounce_is_classified_with_its_stage() -> None:
    """The stage named in "(in reply to RCPT TO command)" reaches the classifier."""
    record = parse_log_line(POSTFIX_BOUNCED)
    assert record is not None
    assert record.reply is not None
    assert record.reply.stage == "RCPT"
    assert record.verdict.category is Category.MAILBOX_UNKNOWN
    assert record.verdict.suppress is True


def test_delivered_and_deferred_are_not_suppressed() -> None:
    """Deliveries and deferrals never put an address on the suppression list."""
    for line in (POSTFIX_SENT, POSTFIX_DEFERRED, EXIM_DEFERRED, SENDMAIL_DEFERRED):
        record = parse_log_line(line)
        assert record is not None
        assert record.verdict.suppress is False


@pytest.mark.parametrize(
    "line",
    [
        "Jan 10 10:00:08 mx postfix/smtpd[99]: connect from unknown[192.0.2.9]",
        "Jan 10 10:00:09 mx postfix/qmgr[12]: 4F1A2B3C4D: removed",
        "2024-01-10 10:00:10 1rABCF-000123-AB <= sender@example.org H=localhost",
        "",
        "x" * 100_000,
    ],
)
def test_other_lines_are_skipped(line: str) -> None:
    """Lines that report no delivery result give None."""
    assert parse_log_line(line) is None


def test_read_log_numbers_lines_and_skips_the_rest(tmp_path: Path) -> None:
    """read_log yields records with their line numbers and source; bad bytes are replaced."""
    path = tmp_path / "mail.log"
    path.write_bytes(
        "\n".join(["noise", POSTFIX_BOUNCED, "more noise \udcff", EXIM_FAILED]).encode(
            "utf-8", "surrogateescape"
        )
    )
    records = list(read_log(path))
    assert [(r.line_number, r.recipient) for r in records] == [
        (2, "kijitora@example.com"),
        (4, "shiro@example.jp"),
    ]
    assert records[0].source == str(path)


SENDMAIL_THREE_RECIPIENTS = (
    "Jan 10 10:00:08 mx sm-mta[555]: x0AA0008123456: to=<a@example.co.jp>,<b@example.co.jp>,"
    "<c@example.co.jp>, ctladdr=<sender@example.org> (1000/1000), delay=00:00:01, "
    "mailer=esmtp, pri=120000, relay=mx.example.co.jp. [192.0.2.5], dsn=5.1.1, stat=User unknown"
)


def test_sendmail_line_with_several_recipients_gives_a_record_for_each(tmp_path: Path) -> None:
    """Sendmail writes to=<a>,<b>,<c> on one line: every recipient gets its record."""
    path = tmp_path / "maillog"
    path.write_text(SENDMAIL_THREE_RECIPIENTS + "\n" + SENDMAIL_FAILED + "\n")
    records = list(read_log(path))
    assert [(r.line_number, r.recipient) for r in records] == [
        (1, "a@example.co.jp"),
        (1, "b@example.co.jp"),
        (1, "c@example.co.jp"),
        (2, "mike@example.co.jp"),
    ]
    assert {r.verdict.category for r in records} == {Category.MAILBOX_UNKNOWN}
    assert all(str(r.status) == "5.1.1" for r in records)


def test_parse_log_records_gives_all_and_parse_log_line_the_first() -> None:
    """parse_log_records lists every recipient of a line; parse_log_line keeps the first."""
    from smtpcodes.bounces import parse_log_records

    assert [r.recipient for r in parse_log_records(SENDMAIL_THREE_RECIPIENTS)] == [
        "a@example.co.jp",
        "b@example.co.jp",
        "c@example.co.jp",
    ]
    first = parse_log_line(SENDMAIL_THREE_RECIPIENTS)
    assert first is not None
    assert first.recipient == "a@example.co.jp"
    assert parse_log_records("noise") == []


def test_a_huge_line_without_line_breaks_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """A 24 MB line with no newline is cut, not held whole; the lines after it still count."""
    import tracemalloc

    path = tmp_path / "mail.log"
    with path.open("w") as handle:
        handle.write("x" * (24 * 1024 * 1024) + "\n")
        handle.write(POSTFIX_BOUNCED + "\n")
    tracemalloc.start()
    try:
        records = list(read_log(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(r.line_number, r.recipient) for r in records] == [(2, "kijitora@example.com")]
    assert peak < 4 * 1024 * 1024


# Lines built to make a backtracking pattern retry at every position: the text of a
# remote reply is written by whoever runs the remote server.
HOSTILE_LINES = [
    "postfix/smtp[1]: ABCDE: to=<a@b>, status=bounced (" * 300,
    "1abcDE-000Abc-AB ** " * 800,
    "sm-mta[1]: ABCDEF: to=a, stat=x " * 500,
]


def test_postfix_reply_quoting_other_fields_keeps_the_real_status() -> None:
    """A remote reply that quotes ' status=sent (' does not change the line's own status."""
    line = POSTFIX_BOUNCED.replace(
        "User unknown in local", "User unknown status=sent (250 ok) in local"
    )
    record = parse_log_line(line)
    assert record is not None
    assert record.action == "failed"
    assert "status=sent (250 ok)" in record.diagnostic


def test_postfix_status_without_reply_text_and_trailing_space() -> None:
    """'status=sent' with nothing after it (and trailing blanks) is read; 'status=sentx' is not."""
    line = POSTFIX_SENT.split(" (250")[0] + "  "
    record = parse_log_line(line)
    assert record is not None
    assert record.kind == "delivered"
    assert parse_log_line(line.rstrip() + "x") is None


def test_exim_and_sendmail_rest_longer_than_the_old_window_are_still_read() -> None:
    """Results whose text runs past 8,000 characters are read with the text cut."""
    exim = EXIM_FAILED + " filler" * 2000
    record = parse_log_line(exim)
    assert record is not None
    assert record.recipient == "shiro@example.jp"
    sendmail = SENDMAIL_FAILED + " filler" * 2000
    record = parse_log_line(sendmail)
    assert record is not None
    assert record.recipient == "mike@example.co.jp"


def test_hostile_lines_are_read_without_backtracking(tmp_path: Path) -> None:
    """A thousand lines made to backtrack finish at once (a hang guard with a huge margin)."""
    import subprocess
    import sys

    path = tmp_path / "mail.log"
    path.write_text("\n".join(HOSTILE_LINES * 334) + "\n")
    script = (
        "import sys\n"
        "from smtpcodes.bounces.logs import read_log\n"
        "print(sum(1 for _ in read_log(sys.argv[1])))\n"
    )
    # Before the fix this took about 7 minutes; it now takes well under a second.
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
