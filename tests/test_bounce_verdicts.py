"""Which of the DSN Status and the diagnostic reply decides a record's verdict and status."""

from __future__ import annotations

from smtpcodes.bounces.parse import parse_bounce
from smtpcodes.bounces.synth import DsnRecipientSpec, make_dsn
from smtpcodes.bounces.verdicts import reply_from_diagnostic
from smtpcodes.classifier import classify
from smtpcodes.verdict import Category, Outcome


def _record(reply: str, status: str, action: str = "failed"):  # type: ignore[no-untyped-def]
    message = make_dsn([DsnRecipientSpec("r@example.com", reply, action, status)])
    (record,) = parse_bounce(message).records
    return record


def test_diagnostic_reply_decides_over_a_contradicting_status() -> None:
    """The remote server's reply classifies the record, and its quoted code is the status."""
    reply = "550 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org"
    record = _record(reply, "5.1.1")
    assert record.verdict.category == classify(reply).category
    assert str(record.status) == "5.7.1"


def test_specific_status_is_lent_to_a_reply_without_enhanced_code() -> None:
    """'550 Unknown user' under Status 5.1.1 classifies as '550 5.1.1 Unknown user'."""
    record = _record("550 Unknown user", "5.1.1")
    expected = classify("550 5.1.1 Unknown user")
    assert (record.verdict.category, record.verdict.suppress) == (
        expected.category,
        expected.suppress,
    )
    assert str(record.status) == "5.1.1"


def test_generic_status_is_not_lent() -> None:
    """A 5.0.0 status adds nothing: the verdict is the bare reply's."""
    record = _record("550 Frobnicated", "5.0.0")
    bare = classify("550 Frobnicated")
    assert (record.verdict.category, record.verdict.rule) == (bare.category, bare.rule)


def test_status_class_gives_the_outcome_when_the_text_has_no_code() -> None:
    """A code-less diagnostic under a 5.x.x status is permanent, under 4.x.x transient."""
    failed = _record("Host or domain name not found", "5.1.2")
    delayed = _record("Host or domain name not found", "4.4.3", "delayed")
    assert failed.verdict.outcome is Outcome.PERMANENT
    assert delayed.verdict.outcome is Outcome.TRANSIENT
    assert failed.reply is None


def test_banner_before_the_failure_is_not_taken_for_the_reply() -> None:
    """For a failed recipient, '220-banner 421 4.2.1 ...' is read as the 421 reply."""
    reply = reply_from_diagnostic("220-laposte 421 4.2.1 Service refused, try later", "failed")
    assert reply is not None
    assert reply.code == 421
    assert str(reply.enhanced) == "4.2.1"
    delivered = reply_from_diagnostic("250 2.0.0 Ok: queued", "delivered")
    assert delivered is not None
    assert delivered.code == 250


def test_joined_multi_line_reply_is_read_as_one_reply() -> None:
    """'550-5.7.1 a 550-5.7.1 b 550 5.7.1 c' as a DSN writes it gives the text 'a b c'."""
    reply = reply_from_diagnostic("550-5.7.1 first part 550-5.7.1 second part 550 5.7.1 end")
    assert reply is not None
    assert reply.code == 550
    assert reply.text == "first part second part end"


def test_failed_after_network_errors_means_the_message_expired() -> None:
    """A failed DSN whose last error was a timeout: the MTA gave up, the message expired."""
    diagnostic = "connect to mx.example.org[192.0.2.1]:25: Connection timed out"
    failed = _record(diagnostic, "4.4.1")
    assert failed.verdict.category is Category.EXPIRED
    assert failed.verdict.outcome is Outcome.PERMANENT
    assert failed.verdict.rule == "dsn.failed_after_retries"
    assert failed.verdict.suppress is False
    delayed = _record(diagnostic, "4.4.1", "delayed")
    assert delayed.verdict.category is Category.NETWORK_ERROR
    assert delayed.verdict.outcome is Outcome.TRANSIENT


def test_failed_after_other_passing_errors_keeps_their_category() -> None:
    """A 4xx block or a full mailbox in a failed DSN says more than 'expired' would."""
    full = _record("452 4.2.2 Mailbox full", "4.2.2")
    assert full.verdict.category is Category.MAILBOX_FULL
    blocked = _record("451 4.7.1 Client host rejected: blocked using zen.spamhaus.org", "4.7.1")
    assert blocked.verdict.category is Category.BLOCKED
