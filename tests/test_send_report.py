"""The sans-I/O part of sending: transaction logs become verdicts, reports partition recipients."""

from __future__ import annotations

import email.message
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpcodes.sendreport import (
    RecipientResult,
    ResultBuilder,
    SendReport,
    TransactionLog,
    address_problem,
    envelope_of,
)
from smtpcodes.suppression import MemorySuppressionList
from smtpcodes.verdict import Category

POOL = [f"user{i}@x.example" for i in range(6)]
RCPT_CODES = [250, 251, 421, 450, 451, 452, 550, 551, 553]
REPLY_TEXT = {
    250: "2.1.5 OK",
    251: "2.1.5 will forward",
    421: "4.7.0 Service temporarily unavailable",
    450: "4.7.1 Greylisted, try again later",
    451: "4.3.0 Temporary failure",
    452: "4.2.2 Mailbox full",
    550: "5.1.1 User unknown",
    551: "5.1.6 Mailbox moved",
    553: "5.1.3 Bad address syntax",
    554: "5.7.1 Message blocked",
}

BUILDER = ResultBuilder(suppression=None, on_verdict=None, clock=None)


@st.composite
def logs(draw: st.DrawFn) -> TransactionLog:
    recipients = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=6, unique=True))
    log = TransactionLog(tuple(recipients))
    for recipient in recipients:
        if draw(st.booleans()):
            code = draw(st.sampled_from(RCPT_CODES))
            log.note_reply("RCPT", code, REPLY_TEXT[code], recipient)
    log.data_started = draw(st.booleans())
    if log.data_started:
        final = draw(st.sampled_from([None, 250, 451, 554]))
        if final is not None:
            log.note_reply("DATA", final, REPLY_TEXT.get(final, "2.0.0 OK"))
    if draw(st.booleans()):
        log.error = draw(st.sampled_from([ConnectionResetError(104, "reset"), TimeoutError()]))
    return log


@settings(max_examples=150, deadline=None)
@given(logs())
def test_every_recipient_gets_one_consistent_verdict(log: TransactionLog) -> None:
    """Resolution covers every recipient; a refused RCPT is never delivered and keeps its reply."""
    outcome = BUILDER.resolve(log)
    assert list(outcome) == list(log.recipients)
    for recipient, (verdict, delivered) in outcome.items():
        own = log.rcpt_replies.get(recipient)
        if delivered:
            assert own is not None
            assert 200 <= own[0] < 300
            assert log.final_reply is not None
            assert 200 <= log.final_reply[0] < 300
        if own is not None and not 200 <= own[0] < 300:
            assert not delivered
            assert verdict.reply is not None
            assert verdict.reply.code == own[0]
        if verdict.delivery_unknown:
            assert log.data_started
            assert log.error is not None
            assert own is not None


@settings(max_examples=150, deadline=None)
@given(logs(), st.booleans())
def test_report_partitions_the_recipients(log: TransactionLog, skip_first: bool) -> None:
    """delivered, deferred, failed and suppressed are disjoint and cover every recipient."""
    results = [
        BUILDER.after_attempt(r, v, delivered=d, attempts=1)
        for r, (v, d) in BUILDER.resolve(log).items()
    ]
    if skip_first:
        first = results[0]
        results[0] = RecipientResult(first.recipient, first.verdict, delivered=False, skipped=True)
    report = SendReport(tuple(results))
    groups = [report.delivered, report.deferred, report.failed, report.suppressed]
    flat = [r for group in groups for r in group]
    assert sorted(flat) == sorted(log.recipients)
    assert len(flat) == len(set(flat))
    if report.deferred:
        assert report.retry_at is not None


def test_421_at_rcpt_covers_the_untried() -> None:
    """Recipients after a 421 share its verdict; nobody is delivered."""
    log = TransactionLog(("a@x", "b@x", "c@x"))
    log.note_reply("RCPT", 250, "OK", "a@x")
    log.note_reply("RCPT", 421, "4.7.0 closing", "b@x")
    outcome = BUILDER.resolve(log)
    assert [v.reply.code for v, _ in outcome.values() if v.reply] == [421, 421, 421]
    assert not any(d for _, d in outcome.values())


def test_retry_at_follows_the_window() -> None:
    """retry_at is the clock's now plus the verdict window's earliest edge."""
    now = datetime(2026, 5, 1, tzinfo=timezone.utc)
    builder = ResultBuilder(suppression=None, on_verdict=None, clock=lambda: now)
    verdict = builder.reply_verdict(451, "4.3.0 Try again in 10 minutes", "RCPT")
    result = builder.after_attempt("a@x", verdict, delivered=False, attempts=1)
    assert result.deferred
    assert result.retry_at == now + timedelta(minutes=10)


def test_suppressing_verdict_fails_and_lists_the_address() -> None:
    """A suppressing verdict adds the address and the result counts as failed, not deferred."""
    suppression = MemorySuppressionList()
    builder = ResultBuilder(suppression=suppression, on_verdict=None, clock=None)
    verdict = builder.reply_verdict(550, "5.1.1 User unknown", "RCPT")
    result = builder.after_attempt("a@x.example", verdict, delivered=False, attempts=1)
    assert result.suppressed_now
    assert result.failed
    assert "a@x.example" in suppression
    skipped = builder.before_sending("a@x.example")
    assert skipped is not None
    assert skipped.skipped
    assert skipped.verdict.category is Category.RECIPIENT_SUPPRESSED


def test_envelope_from_headers() -> None:
    """The envelope comes from Sender/From and To/Cc/Bcc, deduplicated; Resent- wins."""
    msg = email.message.EmailMessage()
    msg["From"] = "Alice <alice@s.example>"
    msg["To"] = "Bob <bob@x.example>, carol@x.example"
    msg["Cc"] = "bob@X.EXAMPLE"
    msg["Bcc"] = "dave@x.example"
    assert envelope_of(msg, None, None) == (
        "alice@s.example",
        ["bob@x.example", "carol@x.example", "dave@x.example"],
    )
    msg["Resent-Date"] = "Mon, 1 Jun 2026 10:00:00 +0000"
    msg["Resent-From"] = "eve@s.example"
    msg["Resent-To"] = "frank@x.example"
    assert envelope_of(msg, None, None) == ("eve@s.example", ["frank@x.example"])


def test_display_names_are_dropped_from_given_addresses() -> None:
    """Addresses passed as "Name <addr>" become bare addresses in the envelope."""
    assert envelope_of(b"x", [" Bob <bob@x.example>", "bob@x.example"], "Al <al@s.example>") == (
        "al@s.example",
        ["bob@x.example"],
    )


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (b"Subject: x\r\n\r\nbody", "no sender"),
        ("Subject: x\r\n\r\nbody", "no sender"),
    ],
)
def test_raw_messages_need_an_envelope(message: bytes | str, problem: str) -> None:
    """Raw bytes or text carry no envelope: a sender must be given."""
    with pytest.raises(ValueError, match=problem):
        envelope_of(message, ["a@x"], None)
    with pytest.raises(ValueError, match="no recipients"):
        envelope_of(message, [], "s@x")


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("a@x.example", True),
        ('"john doe"@x.example', True),
        ("two words@x.example", False),
        ("a@x.example> NOTIFY=NEVER", False),
        ("no-at-sign", False),
        ("", False),
        ("a\r\nRSET@x", False),
        ("a" * 400 + "@x", False),
    ],
)
def test_address_problem(address: str, ok: bool) -> None:
    """Addresses that could smuggle SMTP parameters or commands are refused."""
    assert (address_problem(address) is None) is ok


@given(st.text(max_size=400))
def test_address_problem_never_crashes(text: str) -> None:
    """Any text gets an answer (None or a sentence), never an exception."""
    found = address_problem(text)
    assert found is None or found.endswith(".")
