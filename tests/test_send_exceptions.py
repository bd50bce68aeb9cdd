"""smtpcodes.exceptions: smtplib and aiosmtplib exceptions become verdicts."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Iterator

import aiosmtplib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpcodes.exceptions import classify_exception, classify_response, exception_verdicts
from smtpcodes.testing.server import ScriptedSMTPServer
from smtpcodes.verdict import Category, Outcome, Verdict


def single(found: Verdict | dict[str, Verdict]) -> Verdict:
    assert isinstance(found, Verdict)
    return found


@pytest.mark.parametrize(
    ("exc", "category", "code"),
    [
        (aiosmtplib.SMTPRecipientRefused(550, "5.1.1 No such user", "a@x"), "mailbox_unknown", 550),
        (
            aiosmtplib.SMTPSenderRefused(553, "5.1.8 Sender domain not found", "s@x"),
            "sender_rejected",
            553,
        ),
        (
            aiosmtplib.SMTPAuthenticationError(535, "5.7.8 Authentication failed"),
            "auth_failed",
            535,
        ),
        (aiosmtplib.SMTPDataError(552, "5.3.4 Message too big"), "message_too_large", 552),
        (
            smtplib.SMTPSenderRefused(553, b"5.1.8 Sender domain not found", "s@x"),
            "sender_rejected",
            553,
        ),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication failed"), "auth_failed", 535),
        (smtplib.SMTPDataError(552, b"5.3.4 Message too big"), "message_too_large", 552),
    ],
)
def test_exceptions_with_replies(exc: BaseException, category: str, code: int) -> None:
    """An exception carrying a server reply is classified from that reply."""
    verdict = single(classify_exception(exc))
    assert verdict.category.value == category
    assert verdict.reply is not None
    assert verdict.reply.code == code


def test_aiosmtplib_recipients_refused_is_a_mapping() -> None:
    """aiosmtplib's SMTPRecipientsRefused gives one verdict per refused recipient."""
    exc = aiosmtplib.SMTPRecipientsRefused(
        [
            aiosmtplib.SMTPRecipientRefused(550, "5.1.1 No such user", "a@x.example"),
            aiosmtplib.SMTPRecipientRefused(452, "4.2.2 Mailbox full", "b@x.example"),
        ]
    )
    found = classify_exception(exc)
    assert isinstance(found, dict)
    assert {r: v.category for r, v in found.items()} == {
        "a@x.example": Category.MAILBOX_UNKNOWN,
        "b@x.example": Category.MAILBOX_FULL,
    }


def test_smtplib_421_refusal_covers_untried_recipients() -> None:
    """smtplib stops at a 421 at RCPT: recipients it never named share the 421 verdict."""
    exc = smtplib.SMTPRecipientsRefused(
        {"b@x.example": (421, b"4.7.0 Service temporarily unavailable")}
    )
    found = exception_verdicts(exc, ["a@x.example", "b@x.example", "c@x.example"])
    assert set(found) == {"a@x.example", "b@x.example", "c@x.example"}
    for verdict in found.values():
        assert verdict.reply is not None
        assert verdict.reply.code == 421
        assert verdict.retry is True


@pytest.mark.parametrize(
    "exc",
    [
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
        aiosmtplib.SMTPServerDisconnected("Connection lost"),
        aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response"),
        aiosmtplib.SMTPConnectError("Error connecting to 127.0.0.1 on port 1"),
        asyncio.TimeoutError(),
        TimeoutError("timed out"),
        ConnectionRefusedError(111, "Connection refused"),
        ssl.SSLCertVerificationError("certificate verify failed"),
        OSError(101, "Network is unreachable"),
    ],
)
def test_transport_failures_are_network_errors(exc: BaseException) -> None:
    """Failures without a reply are transient network_error verdicts named after the exception."""
    verdict = single(classify_exception(exc))
    assert verdict.category is Category.NETWORK_ERROR
    assert verdict.outcome is Outcome.TRANSIENT
    assert verdict.retry is True
    assert verdict.delivery_unknown is False
    assert verdict.rule == f"exception.{type(exc).__name__}"


@pytest.mark.parametrize(
    "exc",
    [
        aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response"),
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
    ],
)
def test_after_data_the_outcome_is_unknown(exc: BaseException) -> None:
    """A timeout or drop after DATA sets delivery_unknown."""
    assert single(classify_exception(exc, after_data=True)).delivery_unknown is True


def test_local_problems_are_permanent() -> None:
    """A missing extension the send needs is a permanent, non-network verdict."""
    verdict = single(classify_exception(aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported")))
    assert verdict.category is Category.PROTOCOL_ERROR
    assert verdict.retry is False
    auth = single(classify_exception(smtplib.SMTPException("No suitable authentication method")))
    assert auth.category is Category.AUTH_FAILED


def test_unreadable_reply_code() -> None:
    """aiosmtplib's -1 (no valid reply) is a protocol_error, not a crash."""
    verdict = classify_response(-1, "garbage")
    assert verdict.category is Category.PROTOCOL_ERROR


def test_smtplib_line_too_long_is_not_a_server_reply() -> None:
    """smtplib's own "500 Line too long." (an unreadable reply) is a protocol_error."""
    verdict = single(classify_exception(smtplib.SMTPResponseException(500, "Line too long.")))
    assert verdict.category is Category.PROTOCOL_ERROR
    assert verdict.rule == "exception.invalid_reply"


def test_multiline_reply_text_is_kept() -> None:
    """aiosmtplib's newline-joined multi-line text reaches the classifier whole."""
    verdict = classify_response(550, "5.1.1 The email account that you tried\n5.1.1 does not exist")
    assert verdict.category is Category.MAILBOX_UNKNOWN
    assert verdict.reply is not None
    assert "does not exist" in verdict.reply.text


def test_unrelated_exception_is_unknown() -> None:
    """An exception from neither library gets an unknown verdict rather than raising."""
    verdict = single(classify_exception(KeyError("x")))
    assert verdict.category is Category.UNKNOWN


@pytest.fixture
def server() -> Iterator[ScriptedSMTPServer]:
    with ScriptedSMTPServer() as srv:
        yield srv


def test_real_smtplib_exception_from_a_server(server: ScriptedSMTPServer) -> None:
    """The SMTPRecipientsRefused that smtplib raises on a live 421 classifies per recipient."""
    server.on("RCPT", "421 4.7.0 Too many connections", recipient="b@x.example")
    recipients = ["a@x.example", "b@x.example", "c@x.example"]
    with (
        smtplib.SMTP(server.hostname, server.port, timeout=10) as client,
        pytest.raises(smtplib.SMTPRecipientsRefused) as info,
    ):
        client.sendmail("s@sender.example", recipients, b"Subject: x\r\n\r\nbody\r\n")
    assert set(info.value.recipients) == {"b@x.example"}
    found = exception_verdicts(info.value, recipients)
    assert {v.reply.code for v in found.values() if v.reply} == {421}


async def test_real_aiosmtplib_exception_from_a_server(server: ScriptedSMTPServer) -> None:
    """The SMTPRecipientsRefused that aiosmtplib raises when all are refused maps each one."""
    server.on("RCPT", "550 5.1.1 No such user", recipient="a@x.example")
    server.on("RCPT", "452 4.2.2 Mailbox full", recipient="b@x.example")
    client = aiosmtplib.SMTP(hostname=server.hostname, port=server.port, start_tls=False)
    async with client:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as info:
            await client.sendmail("s@sender.example", ["a@x.example", "b@x.example"], "body")
    found = classify_exception(info.value)
    assert isinstance(found, dict)
    assert found["a@x.example"].category is Category.MAILBOX_UNKNOWN
    assert found["b@x.example"].suppress is True


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-5, max_value=1000), st.text(max_size=2000) | st.binary(max_size=2000))
def test_classify_response_takes_anything(code: int, text: str | bytes) -> None:
    """Any code and any text or bytes give a verdict, never an exception."""
    verdict = classify_response(code, text, stage="RCPT")
    assert isinstance(verdict, Verdict)
    if 200 <= code <= 599 and verdict.reply is not None:
        assert verdict.reply.code == code
