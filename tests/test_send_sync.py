"""smtpcodes.sync.send over a real smtplib.SMTP connection to a scripted aiosmtpd server."""

from __future__ import annotations

import email.message
import smtplib
import socket
import threading
from collections.abc import Iterator

import pytest

from smtpcodes.suppression import MemorySuppressionList
from smtpcodes.sync import send
from smtpcodes.testing.server import ScriptedSMTPServer
from smtpcodes.verdict import Category, Verdict


@pytest.fixture
def server() -> Iterator[ScriptedSMTPServer]:
    with ScriptedSMTPServer() as srv:
        yield srv


@pytest.fixture
def smtp(server: ScriptedSMTPServer) -> Iterator[smtplib.SMTP]:
    client = smtplib.SMTP(server.hostname, server.port, timeout=10)
    yield client
    client.close()


def make_message(*to: str, bcc: str | None = None) -> email.message.EmailMessage:
    msg = email.message.EmailMessage()
    msg["From"] = "news@sender.example"
    msg["To"] = ", ".join(to)
    if bcc:
        msg["Bcc"] = bcc
    msg["Subject"] = "sync"
    msg.set_content("A small message.\n")
    return msg


def test_partial_refusal(server: ScriptedSMTPServer, smtp: smtplib.SMTP) -> None:
    """A refused RCPT fails that recipient; the others are delivered once."""
    server.on("RCPT", "550 5.1.1 user unknown", recipient="b@x.example")
    report = send(smtp, make_message("a@x.example", "b@x.example"))
    assert report.delivered == ["a@x.example"]
    assert report["b@x.example"].verdict.category is Category.MAILBOX_UNKNOWN
    assert [m.envelope_recipients for m in server.messages] == [("a@x.example",)]


def test_421_mid_rcpt_is_not_acceptance(server: ScriptedSMTPServer, smtp: smtplib.SMTP) -> None:
    """After a 421 at the second RCPT nobody is delivered: no body was sent."""
    server.on("RCPT", "421 4.7.0 Service temporarily unavailable", recipient="b@x.example")
    report = send(smtp, make_message("a@x.example", "b@x.example", "c@x.example"))
    assert report.delivered == []
    assert report.deferred == ["a@x.example", "b@x.example", "c@x.example"]
    for result in report:
        assert result.verdict.reply is not None
        assert result.verdict.reply.code == 421
    assert server.messages == []


def test_bcc_is_delivered_but_not_transmitted(
    server: ScriptedSMTPServer, smtp: smtplib.SMTP
) -> None:
    """Bcc recipients get the message; the Bcc header does not travel."""
    report = send(smtp, make_message("a@x.example", bcc="hidden@x.example"))
    assert report.delivered == ["a@x.example", "hidden@x.example"]
    (received,) = server.messages
    assert received["Bcc"] is None
    assert set(received.envelope_recipients) == {"a@x.example", "hidden@x.example"}


def test_suppression_before_and_after(server: ScriptedSMTPServer, smtp: smtplib.SMTP) -> None:
    """452 4.2.2 suppresses the address; the next send does not offer it to the server."""
    server.on("RCPT", "452 4.2.2 Mailbox full", recipient="full@x.example")
    suppression = MemorySuppressionList()
    first = send(smtp, make_message("full@x.example", "a@x.example"), suppression=suppression)
    assert first["full@x.example"].suppressed_now
    server.reset()
    second = send(smtp, make_message("full@x.example", "a@x.example"), suppression=suppression)
    assert second.suppressed == ["full@x.example"]
    assert second.delivered == ["a@x.example"]
    assert not any("full@x.example" in c for c in server.commands)


def test_drop_after_data(server: ScriptedSMTPServer, smtp: smtplib.SMTP) -> None:
    """A connection lost after the body was sent makes delivery unknown and closes the client."""
    server.drop("EOM")
    report = send(smtp, make_message("a@x.example"))
    verdict = report["a@x.example"].verdict
    assert verdict.delivery_unknown is True
    assert verdict.category is Category.NETWORK_ERROR
    assert smtp.sock is None


def test_unconnected_client_is_a_network_error() -> None:
    """An smtplib client that never connected gives network_error verdicts, not an exception."""
    seen: list[tuple[str, Verdict]] = []
    report = send(
        smtplib.SMTP(),
        make_message("a@x.example"),
        on_verdict=lambda r, v: seen.append((r, v)),
    )
    assert report.deferred == ["a@x.example"]
    assert seen[0][1].category is Category.NETWORK_ERROR


def test_message_refused_at_end_of_data(server: ScriptedSMTPServer, smtp: smtplib.SMTP) -> None:
    """A 5xx after the body fails every accepted recipient; the session stays usable."""
    server.on("EOM", "554 5.7.1 Message blocked", times=1)
    report = send(smtp, make_message("a@x.example", "b@x.example"))
    assert report.failed == ["a@x.example", "b@x.example"]
    assert {r.verdict.reply.code for r in report if r.verdict.reply} == {554}
    again = send(smtp, make_message("a@x.example"))
    assert again.delivered == ["a@x.example"]
    assert len(server.sessions) == 1


def test_raw_text_with_non_ascii_is_sent_as_utf8(
    server: ScriptedSMTPServer, smtp: smtplib.SMTP
) -> None:
    """A str body with non-ASCII text goes out as UTF-8 and the connection stays usable."""
    raw = "From: a@s.example\nSubject: raw\n\nGrüße aus Köln\n"
    report = send(smtp, raw, ["r@x.example"], sender="a@s.example")
    assert report.delivered == ["r@x.example"]
    assert "Grüße aus Köln".encode() in server.messages[0].raw
    again = send(smtp, make_message("b@x.example"))
    assert again.delivered == ["b@x.example"]


def test_raw_message_to_an_international_address_uses_smtputf8(
    server: ScriptedSMTPServer, smtp: smtplib.SMTP
) -> None:
    """Flattened bytes to a non-ASCII address are sent with SMTPUTF8 instead of crashing."""
    raw = b"From: a@s.example\r\nSubject: raw\r\n\r\nbody\r\n"
    report = send(smtp, raw, ["jürgen@x.example"], sender="a@s.example")
    assert report.delivered == ["jürgen@x.example"]
    assert server.messages[0].envelope_recipients == ("jürgen@x.example",)


def test_overlong_reply_line_is_a_protocol_error(
    server: ScriptedSMTPServer, smtp: smtplib.SMTP
) -> None:
    """smtplib's own "500 Line too long." is not read as the server refusing the content."""
    server.on("RCPT", "550 5.1.1 " + "x" * 9000)
    report = send(smtp, make_message("a@x.example"))
    verdict = report["a@x.example"].verdict
    assert verdict.category is Category.PROTOCOL_ERROR
    assert report.delivered == []
    assert server.messages == []


def test_overlong_reply_after_the_body_leaves_delivery_unknown(
    server: ScriptedSMTPServer, smtp: smtplib.SMTP
) -> None:
    """An unreadable reply to the message body may hide an acceptance: delivery unknown."""
    server.on("EOM", "250 2.0.0 Queued " + "x" * 9000)
    report = send(smtp, make_message("a@x.example"))
    verdict = report["a@x.example"].verdict
    assert verdict.delivery_unknown is True
    assert report.deferred == ["a@x.example"]


@pytest.mark.parametrize(
    "address", ['"a\\\r"@x.example', '"a\\\x00"@x.example', '"a\x00b"@x.example']
)
def test_control_characters_in_a_quoted_local_part_fail_locally(
    server: ScriptedSMTPServer, smtp: smtplib.SMTP, address: str
) -> None:
    """A quoted local part hiding CR or NUL is refused before any command; the rest is sent."""
    report = send(smtp, make_message("b@x.example"), [address, "b@x.example"])
    assert report[address].verdict.category is Category.ADDRESS_INVALID
    assert report.delivered == ["b@x.example"]
    assert not any("\r" in c or "\x00" in c for c in server.commands)


def test_sender_with_a_control_character_is_a_value_error(
    server: ScriptedSMTPServer, smtp: smtplib.SMTP
) -> None:
    """An envelope sender holding NUL is refused before anything reaches the wire."""
    with pytest.raises(ValueError, match="control characters"):
        send(smtp, b"Subject: x\r\n\r\nbody\r\n", ["b@x.example"], sender="a@s.example\x00")
    assert not any(c.startswith("MAIL") for c in server.commands)


def _garbling_server(listener: socket.socket, seen: list[bytes]) -> None:
    """Greets, accepts EHLO and RSET, and answers MAIL with a line that has no reply code."""
    connection, _ = listener.accept()
    with connection, connection.makefile("rb") as lines:
        connection.sendall(b"220 garbling.test ESMTP\r\n")
        for line in lines:
            seen.append(line)
            verb = line[:4].upper()
            if verb == b"EHLO":
                connection.sendall(b"250 garbling.test\r\n")
            elif verb == b"MAIL":
                connection.sendall(b"2x0 not a reply code\r\n")
            elif verb == b"QUIT":
                connection.sendall(b"221 bye\r\n")
                return
            else:
                connection.sendall(b"250 OK\r\n")


def test_reply_without_a_code_closes_the_connection() -> None:
    """A reply smtplib cannot read (code -1) is a protocol_error and the session is dropped."""
    seen: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = threading.Thread(target=_garbling_server, args=(listener, seen), daemon=True)
        thread.start()
        smtp = smtplib.SMTP("127.0.0.1", listener.getsockname()[1], timeout=5)
        try:
            report = send(smtp, make_message("a@x.example"))
        finally:
            smtp.close()
        thread.join(5)
    assert report["a@x.example"].verdict.category is Category.PROTOCOL_ERROR
    assert not any(line.upper().startswith(b"RSET") for line in seen)
