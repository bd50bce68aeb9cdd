"""smtpcodes.aio.Sender against a real aiosmtpd server on loopback."""

from __future__ import annotations

import asyncio
import email.message
import logging
import socket
from collections.abc import Iterator

import pytest

from smtpcodes.aio import Sender
from smtpcodes.classifier import Classifier
from smtpcodes.suppression import MemorySuppressionList, SqliteSuppressionList
from smtpcodes.tables import data_path
from smtpcodes.testing.clock import FakeClock
from smtpcodes.testing.server import ScriptedSMTPServer
from smtpcodes.verdict import Category, Outcome, Verdict


@pytest.fixture
def server() -> Iterator[ScriptedSMTPServer]:
    with ScriptedSMTPServer() as srv:
        yield srv


def make_message(*to: str, subject: str = "hello") -> email.message.EmailMessage:
    msg = email.message.EmailMessage()
    msg["From"] = "news@sender.example"
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg.set_content("A small message.\n")
    return msg


def sender_for(server: ScriptedSMTPServer, **options: object) -> Sender:
    return Sender(server.hostname, server.port, start_tls=False, **options)  # type: ignore[arg-type]


def free_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def envelope_counts(server: ScriptedSMTPServer) -> dict[str, int]:
    """How many accepted messages each recipient received, counted on the server."""
    counts: dict[str, int] = {}
    for message in server.messages:
        for rcpt in message.envelope_recipients:
            counts[rcpt] = counts.get(rcpt, 0) + 1
    return counts


async def test_all_delivered(server: ScriptedSMTPServer) -> None:
    """Accepted recipients are delivered with a success verdict, each once."""
    async with sender_for(server) as sender:
        report = await sender.send(make_message("a@x.example", "b@x.example"))
    assert report.delivered == ["a@x.example", "b@x.example"]
    assert report.deferred == report.failed == report.suppressed == []
    assert report["a@x.example"].verdict.outcome is Outcome.SUCCESS
    assert report["a@x.example"].attempts == 1
    assert envelope_counts(server) == {"a@x.example": 1, "b@x.example": 1}


async def test_partial_recipient_refusal(server: ScriptedSMTPServer) -> None:
    """A refused RCPT fails that recipient only; the others get the message."""
    server.on("RCPT", "550 5.1.1 <b@x.example>: user unknown", recipient="b@x.example")
    async with sender_for(server) as sender:
        report = await sender.send(make_message("a@x.example", "b@x.example", "c@x.example"))
    assert report.delivered == ["a@x.example", "c@x.example"]
    assert report.failed == ["b@x.example"]
    refused = report["b@x.example"].verdict
    assert refused.category is Category.MAILBOX_UNKNOWN
    assert refused.reply is not None
    assert refused.reply.code == 550
    assert envelope_counts(server) == {"a@x.example": 1, "c@x.example": 1}


async def test_every_recipient_refused(server: ScriptedSMTPServer) -> None:
    """When every RCPT is refused nothing is sent and each keeps its own verdict."""
    server.on("RCPT", "550 5.1.1 user unknown", recipient="a@x.example")
    server.on("RCPT", "452 4.2.2 Mailbox full", recipient="b@x.example")
    async with sender_for(server) as sender:
        report = await sender.send(make_message("a@x.example", "b@x.example"))
    assert report.delivered == []
    assert report["a@x.example"].verdict.category is Category.MAILBOX_UNKNOWN
    assert report["b@x.example"].verdict.category is Category.MAILBOX_FULL
    assert server.messages == []


async def test_mailbox_full_is_suppressed_then_skipped(server: ScriptedSMTPServer) -> None:
    """452 4.2.2 puts the address on the list; the next send skips it before any RCPT."""
    server.on("RCPT", "452 4.2.2 Mailbox full", recipient="full@x.example")
    suppression = MemorySuppressionList()
    async with sender_for(server, suppression=suppression) as sender:
        first = await sender.send(make_message("full@x.example", "ok@x.example"))
        assert first["full@x.example"].suppressed_now is True
        assert first.failed == ["full@x.example"]
        assert "full@X.EXAMPLE" in suppression
        server.reset()
        second = await sender.send(make_message("full@x.example", "ok@x.example"))
    assert second.suppressed == ["full@x.example"]
    assert second["full@x.example"].skipped is True
    assert second["full@x.example"].verdict.category is Category.RECIPIENT_SUPPRESSED
    assert second.delivered == ["ok@x.example"]
    assert not any("full@x.example" in c for c in server.commands)


async def test_suppressed_recipients_need_no_server() -> None:
    """A send to suppressed addresses only does no network I/O at all."""
    suppression = MemorySuppressionList()
    suppression.add("gone@x.example", reason="unsubscribed")
    async with Sender("127.0.0.1", free_port(), suppression=suppression) as sender:
        report = await sender.send(make_message("gone@x.example"))
    assert report.suppressed == ["gone@x.example"]
    assert report["gone@x.example"].attempts == 0
    assert "unsubscribed" in report["gone@x.example"].verdict.action


async def test_server_down_defers_everyone() -> None:
    """A refused connection is a transient network_error for every recipient, not an exception."""
    async with Sender("127.0.0.1", free_port(), timeout=5) as sender:
        report = await sender.send(make_message("a@x.example", "b@x.example"))
    assert report.deferred == ["a@x.example", "b@x.example"]
    for result in report:
        assert result.verdict.category is Category.NETWORK_ERROR
        assert result.verdict.delivery_unknown is False
        assert result.retry_at is not None
    assert report.retry_at is not None


async def test_sender_refused_fails_every_recipient(server: ScriptedSMTPServer) -> None:
    """A refused MAIL FROM speaks for all recipients of the attempt."""
    server.on("MAIL", "550 5.7.26 Service refused")
    async with sender_for(server) as sender:
        report = await sender.send(make_message("a@x.example", "b@x.example"))
    assert report.delivered == []
    codes = {r.recipient: r.verdict.reply.code for r in report if r.verdict.reply}
    assert codes == {"a@x.example": 550, "b@x.example": 550}
    assert server.messages == []


async def test_refusal_after_data_keeps_rcpt_verdicts(server: ScriptedSMTPServer) -> None:
    """A rejected message body fails the accepted recipients; a refused RCPT keeps its own."""
    server.on("RCPT", "550 5.1.1 user unknown", recipient="b@x.example")
    server.on("EOM", "554 5.7.1 Message blocked")
    async with sender_for(server) as sender:
        report = await sender.send(make_message("a@x.example", "b@x.example"))
    assert report.delivered == []
    assert report["b@x.example"].verdict.category is Category.MAILBOX_UNKNOWN
    a_verdict = report["a@x.example"].verdict
    assert a_verdict.reply is not None
    assert a_verdict.reply.code == 554
    assert a_verdict.delivery_unknown is False


async def test_drop_after_data_is_delivery_unknown(server: ScriptedSMTPServer) -> None:
    """A drop after the body was sent sets delivery_unknown and is not retried inline."""
    server.drop("EOM", times=1)
    async with sender_for(server, inline_retry_budget=30) as sender:
        report = await sender.send(make_message("a@x.example"))
    result = report["a@x.example"]
    assert result.delivered is False
    assert result.verdict.delivery_unknown is True
    assert result.verdict.category is Category.NETWORK_ERROR
    assert result.attempts == 1
    assert report.delivery_unknown == ["a@x.example"]


async def test_drop_before_data_is_not_unknown(server: ScriptedSMTPServer) -> None:
    """A connection dropped at RCPT is a plain network_error: nothing was accepted."""
    server.drop("RCPT")
    async with sender_for(server) as sender:
        report = await sender.send(make_message("a@x.example"))
    verdict = report["a@x.example"].verdict
    assert verdict.category is Category.NETWORK_ERROR
    assert verdict.delivery_unknown is False


async def test_421_at_rcpt_speaks_for_the_rest(server: ScriptedSMTPServer) -> None:
    """A 421 closes the session: recipients without a reply of their own share its verdict."""
    server.on("RCPT", "421 4.7.0 Service temporarily unavailable", recipient="b@x.example")
    async with sender_for(server) as sender:
        report = await sender.send(make_message("a@x.example", "b@x.example", "c@x.example"))
    assert report.delivered == []
    for result in report:
        assert result.verdict.reply is not None, result.recipient
        assert result.verdict.reply.code == 421
        assert result.deferred
    assert server.messages == []


async def test_connection_is_kept_open_across_sends(server: ScriptedSMTPServer) -> None:
    """Consecutive sends reuse one SMTP session."""
    async with sender_for(server) as sender:
        for i in range(3):
            report = await sender.send(make_message("a@x.example", subject=f"n{i}"))
            assert report.delivered == ["a@x.example"]
    assert len(server.sessions) == 1
    assert len(server.messages) == 3


async def test_reconnects_when_the_server_drops_an_idle_connection(
    server: ScriptedSMTPServer,
) -> None:
    """A kept-open connection the server closed is replaced and the message goes out once."""
    server.drop("MAIL", after=1, times=1)
    async with sender_for(server) as sender:
        assert (await sender.send(make_message("a@x.example", subject="one"))).delivered
        report = await sender.send(make_message("a@x.example", subject="two"))
    assert report.delivered == ["a@x.example"]
    assert report["a@x.example"].attempts == 1
    assert len(server.sessions) == 2
    assert [m["Subject"] for m in server.messages] == ["one", "two"]


async def test_idle_timeout_notice_on_a_kept_connection_reconnects(
    server: ScriptedSMTPServer,
) -> None:
    """A 421 at MAIL on a kept-open connection (an idle-timeout notice) reconnects once."""
    server.on("MAIL", "421 4.4.2 smtp.example.test Error: timeout exceeded", after=1, times=1)
    async with sender_for(server) as sender:
        assert (await sender.send(make_message("a@x.example", subject="one"))).delivered
        report = await sender.send(make_message("a@x.example", subject="two"))
    assert report.delivered == ["a@x.example"]
    assert len(server.sessions) == 2
    assert [m["Subject"] for m in server.messages] == ["one", "two"]


async def test_421_at_mail_on_a_fresh_connection_is_a_verdict(
    server: ScriptedSMTPServer,
) -> None:
    """On a new connection a 421 at MAIL is reported, not retried in a loop."""
    server.on("MAIL", "421 4.7.0 Too many connections, try again later")
    async with sender_for(server, inline_retry_budget=0) as sender:
        report = await sender.send(make_message("a@x.example"))
    verdict = report["a@x.example"].verdict
    assert verdict.reply is not None
    assert verdict.reply.code == 421
    assert report.deferred == ["a@x.example"]
    assert len(server.sessions) == 1


async def test_short_retry_window_is_retried_inline_without_duplicates(
    server: ScriptedSMTPServer,
) -> None:
    """A retry-after within the budget is retried at once, to the deferred recipient only."""
    server.on(
        "RCPT", "451 4.3.0 Temporary failure, retry-after: 0", recipient="b@x.example", times=1
    )
    async with sender_for(server, backoff_base=0.01) as sender:
        report = await sender.send(make_message("a@x.example", "b@x.example"))
    assert report.delivered == ["a@x.example", "b@x.example"]
    assert report["a@x.example"].attempts == 1
    assert report["b@x.example"].attempts == 2
    assert envelope_counts(server) == {"a@x.example": 1, "b@x.example": 1}


async def test_long_retry_window_is_left_for_later(
    server: ScriptedSMTPServer, fake_clock: FakeClock
) -> None:
    """A greylisting window longer than the budget is not waited out inline."""
    server.on("RCPT", "450 4.7.1 Greylisted, please try again later", recipient="b@x.example")
    async with sender_for(server, inline_retry_budget=2, clock=fake_clock) as sender:
        report = await sender.send(make_message("a@x.example", "b@x.example"))
    assert report.delivered == ["a@x.example"]
    assert report.deferred == ["b@x.example"]
    assert report["b@x.example"].attempts == 1
    retry_at = report.retry_at
    assert retry_at is not None
    assert report["b@x.example"].retry_at == retry_at
    # retry_at is read from the sender's clock: now plus the window's earliest edge.
    window = report["b@x.example"].verdict.retry_after
    assert window is not None
    assert retry_at == fake_clock() + window.earliest


async def test_busy_server_lowers_the_connection_count(server: ScriptedSMTPServer) -> None:
    """server_busy / rate_limited verdicts halve the connections used for a while."""
    server.on("RCPT", "451 4.4.5 Server too busy", times=1)
    async with sender_for(server, max_connections=4, inline_retry_budget=0) as sender:
        assert sender.connection_limit == 4
        report = await sender.send(make_message("a@x.example"))
        assert report["a@x.example"].verdict.category in {
            Category.SERVER_BUSY,
            Category.RATE_LIMITED,
        }
        assert sender.connection_limit == 2


async def test_pool_bounds_concurrent_connections(server: ScriptedSMTPServer) -> None:
    """Tasks sharing a sender never open more than max_connections sessions."""
    server.on("EOM", "250 2.0.0 OK", delay=0.05)
    async with sender_for(server, max_connections=3) as sender:
        reports = await asyncio.gather(
            *(sender.send(make_message(f"u{i}@x.example")) for i in range(9))
        )
    assert all(r.delivered for r in reports)
    assert 1 < len(server.sessions) <= 3
    assert len(server.messages) == 9


async def test_on_verdict_and_log_records(
    server: ScriptedSMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    """on_verdict sees every recipient's verdict; log records carry the verdict fields."""
    server.on("RCPT", "550 5.1.1 user unknown", recipient="b@x.example")
    seen: list[tuple[str, Verdict]] = []
    caplog.set_level(logging.INFO, logger="smtpcodes.send")
    async with sender_for(server, on_verdict=lambda r, v: seen.append((r, v))) as sender:
        await sender.send(make_message("a@x.example", "b@x.example"))
    assert {(r, v.category) for r, v in seen} == {
        ("a@x.example", Category.DELIVERED),
        ("b@x.example", Category.MAILBOX_UNKNOWN),
    }
    records = {r.smtpcodes_recipient: r for r in caplog.records}  # type: ignore[attr-defined]
    assert records["b@x.example"].smtpcodes_category == "mailbox_unknown"  # type: ignore[attr-defined]
    assert records["b@x.example"].smtpcodes_code == 550  # type: ignore[attr-defined]
    assert records["b@x.example"].levelno == logging.WARNING


async def test_raw_bytes_need_an_envelope(server: ScriptedSMTPServer) -> None:
    """Flattened bytes are sent with the given envelope; without one it is a ValueError."""
    raw = b"From: a@s.example\r\nSubject: raw\r\n\r\nbody\r\n"
    async with sender_for(server) as sender:
        report = await sender.send(raw, ["r@x.example"], sender="a@s.example")
        assert report.delivered == ["r@x.example"]
        with pytest.raises(ValueError, match="no sender"):
            await sender.send(raw, ["r@x.example"])
    assert server.messages[0]["Subject"] == "raw"


async def test_invalid_address_fails_without_sending(server: ScriptedSMTPServer) -> None:
    """An address that cannot go on an SMTP command line fails locally; the rest is sent."""
    async with sender_for(server) as sender:
        report = await sender.send(
            make_message("ok@x.example"), ["ok@x.example", "two words@x.example"]
        )
    assert report.delivered == ["ok@x.example"]
    assert report["two words@x.example"].verdict.category is Category.ADDRESS_INVALID
    assert report["two words@x.example"].attempts == 0


async def test_duplicate_recipients_are_sent_once(server: ScriptedSMTPServer) -> None:
    """The same address twice (domain case aside) gets one RCPT and one result."""
    async with sender_for(server) as sender:
        report = await sender.send(make_message("a@x.example"), ["a@x.example", "a@X.EXAMPLE"])
    assert [r.recipient for r in report] == ["a@x.example"]
    assert envelope_counts(server) == {"a@x.example": 1}


def test_bad_options_fail_at_construction() -> None:
    """Conflicting aiosmtplib options and a zero pool are refused when the sender is made."""
    with pytest.raises(ValueError, match="max_connections"):
        Sender("127.0.0.1", 25, max_connections=0)
    with pytest.raises(ValueError, match="start_tls"):
        Sender("127.0.0.1", 25, use_tls=True, start_tls=True)


async def test_wrong_credentials_fail_every_recipient() -> None:
    """An AUTH refusal at connect is an auth_failed verdict for all, and nothing is sent."""
    with ScriptedSMTPServer(credentials={"app": "secret"}, require_auth=True) as server:
        async with Sender(
            server.hostname, server.port, start_tls=False, username="app", password="wrong"
        ) as sender:
            report = await sender.send(make_message("a@x.example", "b@x.example"))
        assert report.delivered == []
        for result in report:
            assert result.verdict.category is Category.AUTH_FAILED
            assert result.verdict.retry is False
        assert server.messages == []


async def test_right_credentials_deliver() -> None:
    """With valid credentials the sender logs in on connect and delivers."""
    with ScriptedSMTPServer(credentials={"app": "secret"}, require_auth=True) as server:
        async with Sender(
            server.hostname, server.port, start_tls=False, username="app", password="secret"
        ) as sender:
            report = await sender.send(make_message("a@x.example"))
        assert report.delivered == ["a@x.example"]


async def test_starttls_required_but_not_offered(server: ScriptedSMTPServer) -> None:
    """Demanding STARTTLS from a server without it fails locally as tls_required, no retry."""
    async with Sender(server.hostname, server.port, start_tls=True) as sender:
        report = await sender.send(make_message("a@x.example"))
    verdict = report["a@x.example"].verdict
    assert verdict.category is Category.TLS_REQUIRED
    assert verdict.retry is False
    assert server.messages == []


async def test_untrusted_certificate_is_a_network_error() -> None:
    """A TLS handshake the client refuses (self-signed cert) is a transient network_error."""
    with ScriptedSMTPServer(starttls=True) as server:
        async with Sender(server.hostname, server.port, start_tls=True) as sender:
            report = await sender.send(make_message("a@x.example"))
        verdict = report["a@x.example"].verdict
        assert verdict.category is Category.NETWORK_ERROR
        assert verdict.rule is not None
        assert "SSL" in verdict.rule or "Certificate" in verdict.rule
        assert server.messages == []


async def test_starttls_with_trusted_certificate() -> None:
    """STARTTLS with the server's certificate trusted delivers."""
    with ScriptedSMTPServer(starttls=True, require_starttls=True) as server:
        async with Sender(
            server.hostname, server.port, start_tls=True, tls_context=server.client_tls_context()
        ) as sender:
            report = await sender.send(make_message("a@x.example"))
        assert report.delivered == ["a@x.example"]


async def test_lenient_policy_suppresses_after_the_threshold(
    server: ScriptedSMTPServer,
) -> None:
    """Under the lenient overlay 452 4.2.2 is retried, then suppressed at the 3rd failure."""
    classifier = Classifier.from_paths(data_path() / "policies" / "lenient-mailbox-full.yaml")
    server.on("RCPT", "452 4.2.2 Mailbox full", recipient="full@x.example")
    suppression = MemorySuppressionList()
    async with sender_for(
        server, suppression=suppression, classifier=classifier, inline_retry_budget=0
    ) as sender:
        outcomes = []
        for _ in range(3):
            report = await sender.send(make_message("full@x.example"))
            outcomes.append((report.deferred, report.failed))
    assert outcomes == [
        (["full@x.example"], []),
        (["full@x.example"], []),
        ([], ["full@x.example"]),
    ]
    assert "full@x.example" in suppression
    entry = suppression.get("full@x.example")
    assert entry is not None
    assert entry.failures == 3


async def test_timeout_after_data_is_delivery_unknown(server: ScriptedSMTPServer) -> None:
    """A reply to the body that never comes in time leaves delivery unknown."""
    server.on("EOM", "250 2.0.0 OK", delay=3, times=1)
    async with sender_for(server, timeout=0.3) as sender:
        report = await sender.send(make_message("a@x.example"))
    verdict = report["a@x.example"].verdict
    assert verdict.delivery_unknown is True
    assert verdict.category is Category.NETWORK_ERROR
    assert report.deferred == ["a@x.example"]


async def test_close_during_a_send_closes_that_connection_afterwards(
    server: ScriptedSMTPServer,
) -> None:
    """close() while a send is in flight lets it finish, then closes its connection."""
    server.on("EOM", "250 2.0.0 OK", delay=0.3)
    sender = sender_for(server)
    task = asyncio.ensure_future(sender.send(make_message("a@x.example")))
    await asyncio.sleep(0.1)
    await sender.close()
    report = await task
    assert report.delivered == ["a@x.example"]
    deadline = asyncio.get_running_loop().time() + 5
    while not server.sessions[0].closed:
        assert asyncio.get_running_loop().time() < deadline, "the connection stayed open"
        await asyncio.sleep(0.02)


async def test_raw_text_with_non_ascii_is_sent_as_utf8(server: ScriptedSMTPServer) -> None:
    """A flattened str body with non-ASCII text is delivered as UTF-8, not a crash."""
    raw = "From: a@s.example\nSubject: raw\n\nGrüße aus Köln\n"
    async with sender_for(server) as sender:
        report = await sender.send(raw, ["r@x.example"], sender="a@s.example")
    assert report.delivered == ["r@x.example"]
    assert "Grüße aus Köln".encode() in server.messages[0].raw


async def test_raw_message_to_an_international_address_uses_smtputf8(
    server: ScriptedSMTPServer,
) -> None:
    """Flattened bytes to a non-ASCII address are sent with SMTPUTF8 instead of crashing."""
    raw = b"From: a@s.example\r\nSubject: raw\r\n\r\nbody\r\n"
    async with sender_for(server) as sender:
        report = await sender.send(raw, ["jürgen@x.example"], sender="a@s.example")
    assert report.delivered == ["jürgen@x.example"]
    assert server.messages[0].envelope_recipients == ("jürgen@x.example",)


async def test_a_waiter_cancelled_as_it_is_woken_does_not_strand_the_next(
    server: ScriptedSMTPServer,
) -> None:
    """A send cancelled just as a connection frees up passes the turn to the next waiter."""
    server.on("EOM", "250 2.0.0 OK", delay=0.2, times=1)
    waiting: list[asyncio.Task[object]] = []

    def cancel_next_waiter(recipient: str, verdict: Verdict) -> None:
        if recipient == "first@x.example":
            waiting[0].cancel()  # woken by the release a moment ago, not yet running

    async with sender_for(server, max_connections=1, on_verdict=cancel_next_waiter) as sender:
        first = asyncio.ensure_future(sender.send(make_message("first@x.example")))
        await asyncio.sleep(0.05)  # first holds the only connection now
        waiting.append(asyncio.ensure_future(sender.send(make_message("second@x.example"))))
        third = asyncio.ensure_future(sender.send(make_message("third@x.example")))
        await asyncio.sleep(0.01)
        assert (await first).delivered == ["first@x.example"]
        with pytest.raises(asyncio.CancelledError):
            await waiting[0]
        done, _ = await asyncio.wait({third}, timeout=5)
        assert third in done, "the third send never got the free connection"
        assert (await third).delivered == ["third@x.example"]


async def test_overlong_reply_after_the_body_leaves_delivery_unknown(
    server: ScriptedSMTPServer,
) -> None:
    """An unreadable reply to the message body may hide an acceptance: delivery unknown."""
    server.on("EOM", "250 2.0.0 Queued " + "x" * 9000)
    async with sender_for(server, inline_retry_budget=0) as sender:
        report = await sender.send(make_message("a@x.example"))
    verdict = report["a@x.example"].verdict
    assert verdict.delivery_unknown is True
    assert report.deferred == ["a@x.example"]


async def test_overlong_reply_at_rcpt_is_a_protocol_error(server: ScriptedSMTPServer) -> None:
    """An unreadable RCPT reply is a protocol_error, with nothing sent."""
    server.on("RCPT", "550 5.1.1 " + "x" * 9000)
    async with sender_for(server, inline_retry_budget=0) as sender:
        report = await sender.send(make_message("a@x.example"))
    verdict = report["a@x.example"].verdict
    assert verdict.category is Category.PROTOCOL_ERROR
    assert verdict.delivery_unknown is False
    assert server.messages == []


async def test_connection_with_an_unreadable_reply_is_not_reused(
    server: ScriptedSMTPServer,
) -> None:
    """After a reply it could not read the client is out of step: the next send reconnects."""
    server.on("RCPT", "550 5.1.1 " + "x" * 9000, times=1)
    async with sender_for(server, inline_retry_budget=0) as sender:
        first = await sender.send(make_message("a@x.example", subject="one"))
        second = await sender.send(make_message("b@x.example", subject="two"))
    assert first["a@x.example"].verdict.category is Category.PROTOCOL_ERROR
    assert second.delivered == ["b@x.example"]
    assert len(server.sessions) == 2
    assert [m["Subject"] for m in server.messages] == ["two"]


async def test_close_during_an_inline_retry_leaves_no_connection_open(
    server: ScriptedSMTPServer,
) -> None:
    """close() while a send waits to retry: the retry goes out, then its connection closes."""
    server.on(
        "RCPT", "451 4.3.0 Temporary failure, retry-after: 0", recipient="b@x.example", times=1
    )
    deferred = asyncio.Event()

    def note(recipient: str, verdict: Verdict) -> None:
        if recipient == "b@x.example" and verdict.retry:
            deferred.set()

    sender = sender_for(server, backoff_base=0.4, on_verdict=note)
    task = asyncio.ensure_future(sender.send(make_message("b@x.example")))
    await deferred.wait()
    await sender.close()  # the send is now sleeping before its retry
    report = await task
    assert report.delivered == ["b@x.example"]
    deadline = asyncio.get_running_loop().time() + 5
    while not all(session.closed for session in server.sessions):
        assert asyncio.get_running_loop().time() < deadline, "a connection stayed open"
        await asyncio.sleep(0.02)
    assert len(server.sessions) == 2


async def test_carriage_return_in_a_quoted_local_part_fails_locally(
    server: ScriptedSMTPServer,
) -> None:
    """A quoted local part hiding an escaped CR is refused before any command is sent."""
    address = '"a\\\r"@x.example'
    async with sender_for(server) as sender:
        report = await sender.send(make_message("b@x.example"), [address, "b@x.example"])
    assert report[address].verdict.category is Category.ADDRESS_INVALID
    assert report.delivered == ["b@x.example"]
    assert not any("\r" in command for command in server.commands)


async def test_address_added_with_a_display_name_is_skipped() -> None:
    """An address put on the list as 'Name <addr>' is skipped when a message's To names it."""
    suppression = MemorySuppressionList()
    suppression.add("Bob Example <bob@X.example>", reason="unsubscribed")
    async with Sender("127.0.0.1", free_port(), suppression=suppression) as sender:
        report = await sender.send(make_message("Bobby <bob@x.EXAMPLE>"))
    assert report.suppressed == ["bob@x.EXAMPLE"]
    assert report["bob@x.EXAMPLE"].attempts == 0


async def test_recipient_that_is_no_address_fails_without_touching_the_list(
    server: ScriptedSMTPServer,
) -> None:
    """An empty or nameless recipient fails locally; the list records nothing and the rest goes."""
    suppression = MemorySuppressionList()
    async with sender_for(server, suppression=suppression) as sender:
        report = await sender.send(make_message("ok@x.example"), ["", "Bob <>", "ok@x.example"])
    assert report.delivered == ["ok@x.example"]
    assert report[""].verdict.category is Category.ADDRESS_INVALID
    assert report["Bob <>"].verdict.category is Category.ADDRESS_INVALID
    assert report["Bob <>"].suppressed_now is False
    assert list(suppression) == []


FULL_NOW = "452 4.2.2 Mailbox full, retry-after: 0"


def lenient_classifier() -> Classifier:
    """The shipped lenient overlay: a full mailbox is retried, suppressed after 3 in 7 days."""
    return Classifier.from_paths(data_path() / "policies" / "lenient-mailbox-full.yaml")


def rcpt_count(server: ScriptedSMTPServer, address: str) -> int:
    """How many RCPT commands named ``address``."""
    return sum(c.startswith("RCPT") and address in c for c in server.commands)


async def test_inline_retries_count_once_toward_suppress_after(
    server: ScriptedSMTPServer,
) -> None:
    """A send that retries a full mailbox inline counts one failure toward suppress_after."""
    server.on("RCPT", FULL_NOW, recipient="full@x.example")
    suppression = MemorySuppressionList()
    seen: list[str] = []
    async with sender_for(
        server,
        suppression=suppression,
        classifier=lenient_classifier(),
        backoff_base=0.01,
        max_inline_attempts=3,
        on_verdict=lambda r, v: seen.append(v.category.value),
    ) as sender:
        report = await sender.send(make_message("full@x.example"))
    result = report["full@x.example"]
    assert result.attempts == 3
    assert rcpt_count(server, "full@x.example") == 3
    assert seen == ["mailbox_full"] * 3
    assert result.deferred is True
    assert result.suppressed_now is False
    entry = suppression.get("full@x.example")
    assert entry is not None
    assert entry.failures == 1
    assert entry.active is False
    assert "full@x.example" not in suppression


async def test_sends_with_inline_retries_reach_the_threshold_one_send_each(
    server: ScriptedSMTPServer,
) -> None:
    """The third send (not the third attempt) suppresses, and is then not retried inline."""
    server.on("RCPT", FULL_NOW, recipient="full@x.example")
    with SqliteSuppressionList(":memory:") as suppression:
        async with sender_for(
            server, suppression=suppression, classifier=lenient_classifier(), backoff_base=0.01
        ) as sender:
            reports = [await sender.send(make_message("full@x.example")) for _ in range(3)]
        assert [r.deferred for r in reports] == [["full@x.example"]] * 2 + [[]]
        assert [r["full@x.example"].attempts for r in reports] == [3, 3, 1]
        assert reports[2]["full@x.example"].suppressed_now is True
        assert "full@x.example" in suppression
        entry = suppression.get("full@x.example")
        assert entry is not None
        assert entry.failures == 3


async def test_hard_refusal_on_an_inline_retry_still_suppresses(
    server: ScriptedSMTPServer,
) -> None:
    """After a counted full mailbox, a retry refused as unknown user suppresses at once."""
    server.on("RCPT", FULL_NOW, recipient="gone@x.example", times=1)
    server.on("RCPT", "550 5.1.1 <gone@x.example>: user unknown", recipient="gone@x.example")
    suppression = MemorySuppressionList()
    async with sender_for(
        server, suppression=suppression, classifier=lenient_classifier(), backoff_base=0.01
    ) as sender:
        report = await sender.send(make_message("gone@x.example"))
    result = report["gone@x.example"]
    assert result.attempts == 2
    assert result.suppressed_now is True
    assert report.failed == ["gone@x.example"]
    entry = suppression.get("gone@x.example")
    assert entry is not None
    assert entry.category == "mailbox_unknown"
    assert entry.expires_at is None
