"""The scripted SMTP server, driven by real smtplib and aiosmtplib clients over loopback."""

from __future__ import annotations

import re
import smtplib
import socket
from email.message import EmailMessage

import aiosmtplib
import pytest

from smtpcodes.testing.server import ScriptedSMTPServer

GMAIL_UNKNOWN = (
    "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
    "550-5.1.1 double-checking the recipient's email address for typos or\r\n"
    "550-5.1.1 unnecessary spaces. For more information, go to\r\n"
    "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si.22 - gsmtp"
)


def make_message(to: str = "ann@example.com", subject: str = "Welcome") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "app@example.org"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Hello there.\n")
    return message


def smtp_client(server: ScriptedSMTPServer) -> smtplib.SMTP:
    return smtplib.SMTP(server.hostname, server.port, local_hostname="client.test", timeout=5)


def wire_text(code: int, message: bytes | str) -> str:
    """Rebuild the wire form of a reply from a client's (code, joined lines) pair."""
    text = message.decode() if isinstance(message, bytes) else message
    lines = text.split("\n")
    head = [f"{code}-{line}" for line in lines[:-1]]
    return "\r\n".join([*head, f"{code} {lines[-1]}"])


def read_reply(sock: socket.socket) -> bytes:
    """Read one complete SMTP reply (through its last line) from a raw socket."""
    data = b""
    while True:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection before finishing its reply"
        data += chunk
        last = data.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1]
        if data.endswith(b"\r\n") and last[3:4] != b"-":
            return data


def test_unscripted_server_accepts_and_records_the_message() -> None:
    """Without a script the server accepts the mail and keeps it with its envelope."""
    with ScriptedSMTPServer() as server, smtp_client(server) as client:
        refused = client.send_message(
            make_message(), to_addrs=["ann@example.com", "bo@example.com"]
        )
    assert refused == {}
    [received] = server.messages
    assert received["Subject"] == "Welcome"
    assert received.get_content() == "Hello there.\n"
    assert received.envelope_sender == "app@example.org"
    assert received.envelope_recipients == ("ann@example.com", "bo@example.com")


def test_multiline_reply_reaches_raw_socket_byte_for_byte() -> None:
    """A scripted multi-line reply goes on the wire exactly as written, plus the final CRLF."""
    with ScriptedSMTPServer() as server:
        server.on("RCPT", GMAIL_UNKNOWN)
        with socket.create_connection((server.hostname, server.port), timeout=5) as sock:
            read_reply(sock)
            for command in (b"EHLO client.test", b"MAIL FROM:<app@example.org>"):
                sock.sendall(command + b"\r\n")
                read_reply(sock)
            sock.sendall(b"RCPT TO:<ann@example.com>\r\n")
            assert read_reply(sock) == GMAIL_UNKNOWN.encode() + b"\r\n"


def test_multiline_reply_reaches_smtplib_unchanged() -> None:
    """smtplib sees the scripted code and every line of the scripted text."""
    with ScriptedSMTPServer() as server:
        server.on("RCPT", GMAIL_UNKNOWN)
        with smtp_client(server) as client, pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            client.send_message(make_message())
    code, text = caught.value.recipients["ann@example.com"]
    assert wire_text(code, text) == GMAIL_UNKNOWN


async def test_multiline_reply_reaches_aiosmtplib_unchanged() -> None:
    """aiosmtplib sees the scripted code and every line of the scripted text."""
    async with ScriptedSMTPServer() as server:
        server.on("RCPT", GMAIL_UNKNOWN)
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as caught:
            await aiosmtplib.send(
                make_message(), hostname=server.hostname, port=server.port, timeout=5
            )
    [refusal] = caught.value.recipients
    assert wire_text(refusal.code, refusal.message) == GMAIL_UNKNOWN


def test_per_recipient_rule_refuses_only_that_recipient() -> None:
    """A rule for one recipient refuses it and lets the others through."""
    with ScriptedSMTPServer() as server:
        server.on(
            "RCPT", "550 5.1.1 <gone@example.com>: user unknown", recipient="gone@example.com"
        )
        with smtp_client(server) as client:
            refused = client.send_message(
                make_message(), to_addrs=["ann@example.com", "gone@example.com", "bo@example.com"]
            )
    assert refused == {"gone@example.com": (550, b"5.1.1 <gone@example.com>: user unknown")}
    assert server.messages[0].envelope_recipients == ("ann@example.com", "bo@example.com")


def test_recipient_pattern_matches_by_regular_expression() -> None:
    """A compiled pattern as recipient filter refuses every address it finds a match in."""
    with ScriptedSMTPServer() as server:
        server.on("RCPT", "550 5.1.2 Host unknown", recipient=re.compile(r"@nowhere\.test$"))
        with smtp_client(server) as client:
            refused = client.send_message(
                make_message(), to_addrs=["a@nowhere.test", "b@example.com", "c@nowhere.test"]
            )
    assert sorted(refused) == ["a@nowhere.test", "c@nowhere.test"]


def test_sender_filter_refuses_only_that_sender() -> None:
    """A MAIL rule for one sender refuses it; another sender is accepted."""
    with ScriptedSMTPServer() as server:
        server.on(
            "MAIL", "553 5.1.8 Sender address rejected: Domain not found", sender="x@bad.test"
        )
        with smtp_client(server) as client:
            with pytest.raises(smtplib.SMTPSenderRefused) as caught:
                client.sendmail("x@bad.test", ["ann@example.com"], b"Subject: a\r\n\r\nb\r\n")
            client.rset()
            client.sendmail("ok@good.test", ["ann@example.com"], b"Subject: a\r\n\r\nb\r\n")
    assert caught.value.smtp_code == 553
    assert [m.envelope_sender for m in server.messages] == ["ok@good.test"]


def test_first_n_times_then_default() -> None:
    """times=2 answers the first two matching events, then the server accepts again."""
    with ScriptedSMTPServer() as server:
        server.on("RCPT", "451 4.7.1 Greylisted, please try again later", times=2)
        outcomes = []
        for _ in range(3):
            with smtp_client(server) as client:
                try:
                    client.send_message(make_message())
                    outcomes.append(250)
                except smtplib.SMTPRecipientsRefused as error:
                    outcomes.append(error.recipients["ann@example.com"][0])
    assert outcomes == [451, 451, 250]
    assert len(server.messages) == 1


def test_after_n_times_starts_refusing() -> None:
    """after=2 lets two recipients through and refuses from the third on."""
    with ScriptedSMTPServer() as server:
        server.on("RCPT", "452 4.5.3 Too many recipients", after=2)
        with smtp_client(server) as client:
            refused = client.send_message(
                make_message(), to_addrs=["a@example.com", "b@example.com", "c@example.com"]
            )
    assert list(refused) == ["c@example.com"]


def test_specific_rule_first_does_not_use_up_a_later_counted_rule() -> None:
    """A counted rule listed after a per-recipient rule is not used up by that recipient."""
    with ScriptedSMTPServer() as server:
        server.on("RCPT", "550 5.1.1 unknown", recipient="gone@example.com")
        server.on("RCPT", "451 4.7.1 try later", times=1)
        with smtp_client(server) as client:
            refused = client.send_message(
                make_message(), to_addrs=["gone@example.com", "ann@example.com", "bo@example.com"]
            )
    assert {address: code for address, (code, _) in refused.items()} == {
        "gone@example.com": 550,
        "ann@example.com": 451,
    }
    assert server.messages[0].envelope_recipients == ("bo@example.com",)


def test_dropped_connection_is_a_disconnect_for_smtplib() -> None:
    """drop('EOM') closes the connection after the data; smtplib reports a disconnect."""
    with ScriptedSMTPServer() as server:
        server.drop("EOM")
        with pytest.raises(smtplib.SMTPServerDisconnected):  # noqa: SIM117 - the client is inside
            with smtp_client(server) as client:
                client.send_message(make_message())
    assert server.messages == []
    [session] = server.sessions
    assert session.dropped
    assert session.exchanges[-1].stage == "EOM"


async def test_dropped_connection_is_a_disconnect_for_aiosmtplib() -> None:
    """drop('RCPT') closes the connection; aiosmtplib reports a disconnect."""
    async with ScriptedSMTPServer() as server:
        server.drop("RCPT")
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await aiosmtplib.send(
                make_message(), hostname=server.hostname, port=server.port, timeout=5
            )


def test_421_at_connect_is_seen_and_closes() -> None:
    """A scripted 421 greeting reaches smtplib as a connect error and ends the session."""
    with ScriptedSMTPServer() as server:
        server.on("CONNECT", "421 4.3.2 Service not available, closing transmission channel")
        with pytest.raises(smtplib.SMTPConnectError) as caught:
            smtp_client(server)
        assert caught.value.smtp_code == 421
        # The next connection gets the default greeting: the rule has no limit, so it
        # refuses again; nothing was accepted.
        assert server.messages == []


def test_421_closes_the_connection_after_the_reply() -> None:
    """After a 421 reply the server closes the channel; the next command finds it gone."""
    with ScriptedSMTPServer() as server:
        server.on("MAIL", "421 4.7.0 Too many errors, closing connection")
        with smtp_client(server) as client:
            client.ehlo()
            assert client.mail("app@example.org") == (
                421,
                b"4.7.0 Too many errors, closing connection",
            )
            # The server hung up: smtplib finds the socket closed when it reads the reply.
            with pytest.raises(smtplib.SMTPServerDisconnected):
                client.rcpt("ann@example.com")


def test_scripted_greeting_and_ehlo_go_out_as_written() -> None:
    """CONNECT and EHLO replies with success codes replace the defaults word for word."""
    ehlo = "250-mx.google.com at your service, [192.0.2.1]\r\n250-SIZE 35882577\r\n250 8BITMIME"
    with ScriptedSMTPServer() as server:
        server.on("CONNECT", "220 mx.google.com ESMTP a1si - gsmtp")
        server.on("EHLO", ehlo)
        with smtp_client(server) as client:
            code, text = client.ehlo()
            client.send_message(make_message())
    assert wire_text(code, text) == ehlo
    assert server.sessions[0].exchanges[0].reply == "220 mx.google.com ESMTP a1si - gsmtp"
    assert len(server.messages) == 1


def test_data_refusal_and_eom_refusal() -> None:
    """A DATA rule refuses before the content; an EOM rule refuses after it; nothing is kept."""
    with ScriptedSMTPServer() as server:
        server.on("DATA", "554 5.5.1 Error: no valid recipients", times=1)
        server.on("EOM", "552 5.3.4 Message size exceeds fixed limit", times=1)
        with smtp_client(server) as client:
            with pytest.raises(smtplib.SMTPDataError) as first:
                client.send_message(make_message())
            client.rset()
            with pytest.raises(smtplib.SMTPDataError) as second:
                client.send_message(make_message())
            client.rset()
            client.send_message(make_message(subject="third"))
    assert (first.value.smtp_code, second.value.smtp_code) == (554, 552)
    assert [m["Subject"] for m in server.messages] == ["third"]


def test_enhancedstatuscodes_advertised() -> None:
    """EHLO advertises ENHANCEDSTATUSCODES, which aiosmtpd alone does not."""
    with ScriptedSMTPServer() as server, smtp_client(server) as client:
        client.ehlo()
        assert client.has_extn("enhancedstatuscodes")


def test_sessions_record_commands_and_replies() -> None:
    """Each session records the command lines and the replies in order."""
    with ScriptedSMTPServer() as server:
        server.on("RCPT", "550 5.1.1 unknown", recipient="gone@example.com")
        with smtp_client(server) as client:
            client.send_message(make_message(), to_addrs=["gone@example.com", "ann@example.com"])
    [session] = server.sessions
    stages = [x.stage for x in session.exchanges]
    assert stages == ["CONNECT", "EHLO", "MAIL", "RCPT", "RCPT", "DATA", "EOM", "QUIT"]
    assert session.commands[2].upper() == "RCPT TO:<GONE@EXAMPLE.COM>"  # 3.13 sends "to:"
    assert session.exchanges[3].reply == "550 5.1.1 unknown"
    assert server.commands[-1] == "QUIT"
    assert server.errors == []


def test_server_stops_and_frees_the_port() -> None:
    """After the with block the port refuses connections, even with a client still connected."""
    with ScriptedSMTPServer() as server:
        port = server.port
        lingering = smtp_client(server)
        lingering.ehlo()
    with pytest.raises(OSError):  # noqa: PT011 - refused or reset, both say "gone"
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(smtplib.SMTPServerDisconnected):
        lingering.noop()
    lingering.close()


def test_two_servers_get_different_ports() -> None:
    """Each server binds its own ephemeral port."""
    with ScriptedSMTPServer() as first, ScriptedSMTPServer() as second:
        assert first.port != second.port


async def test_delay_lets_a_client_time_out_and_stop_is_still_clean() -> None:
    """A delayed reply makes a short client timeout fire; stopping mid-delay is clean."""
    async with ScriptedSMTPServer() as server:
        server.on("RCPT", "250 2.1.5 OK, eventually", delay=30)
        with pytest.raises(aiosmtplib.SMTPTimeoutError):
            await aiosmtplib.send(
                make_message(), hostname=server.hostname, port=server.port, timeout=0.2
            )
    assert server.errors == []


def test_delay_still_sends_the_reply() -> None:
    """A short delay postpones the reply but does not change it."""
    with ScriptedSMTPServer() as server:
        server.on("MAIL", "250 2.1.0 Sender OK after a pause", delay=0.01)
        with smtp_client(server) as client:
            client.ehlo()
            assert client.mail("app@example.org") == (250, b"2.1.0 Sender OK after a pause")


def test_554_greeting_refuses_the_session() -> None:
    """A 554 greeting reaches the client as a connect error; nothing else happens."""
    with ScriptedSMTPServer() as server:
        server.on("CONNECT", "554 5.7.1 mx.example.com: your host is not welcome here")
        with pytest.raises(smtplib.SMTPConnectError) as caught:
            smtp_client(server)
    assert caught.value.smtp_code == 554
    assert [x.stage for x in server.sessions[0].exchanges] == ["CONNECT"]


def test_drop_at_connect_is_a_disconnect() -> None:
    """drop('CONNECT') closes before the greeting; smtplib reports a disconnect."""
    with ScriptedSMTPServer() as server:
        server.drop("CONNECT", times=1)
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp_client(server)
        with smtp_client(server) as client:  # the rule is used up: the next one is greeted
            assert client.noop()[0] == 250
    assert server.sessions[0].dropped
    assert not server.sessions[1].dropped


def test_scripted_354_replaces_the_data_prompt() -> None:
    """A 3xx DATA reply replaces aiosmtpd's 354 text and the message still arrives."""
    prompt = "354 Go ahead a1si1234567wrb.100 - gsmtp"
    with ScriptedSMTPServer() as server:
        server.on("DATA", prompt)
        with smtp_client(server) as client:
            client.ehlo()
            client.mail("app@example.org")
            client.rcpt("ann@example.com")
            code, _ = client.data(b"Subject: hi\r\n\r\nhello\r\n")
    assert code == 250
    assert server.sessions[0].exchanges[-3].reply == prompt
    assert server.messages[0]["Subject"] == "hi"


def test_scripted_helo_reply_and_refused_ehlo() -> None:
    """An EHLO rule answers HELO too; a refused EHLO makes smtplib fall back to HELO."""
    with ScriptedSMTPServer() as server:
        server.on("EHLO", "502 5.5.1 EHLO not supported", times=1)
        server.on("EHLO", "250 mx.example.com greets you")
        with smtp_client(server) as client:
            client.send_message(make_message())
            assert not client.does_esmtp
    assert server.commands[:2] == ["EHLO client.test", "HELO client.test"]
    assert len(server.messages) == 1


def test_recipient_filter_at_eom_refuses_mail_for_that_recipient() -> None:
    """An EOM rule with a recipient filter refuses only transactions that include it."""
    with ScriptedSMTPServer() as server:
        server.on("EOM", "554 5.7.1 Message rejected as spam", recipient="strict@example.com")
        with smtp_client(server) as client:
            client.send_message(make_message(subject="one"), to_addrs=["ann@example.com"])
            with pytest.raises(smtplib.SMTPDataError):
                client.send_message(make_message(subject="two"), to_addrs=["strict@example.com"])
    assert [m["Subject"] for m in server.messages] == ["one"]


def test_predicate_that_raises_is_reported_as_a_server_error() -> None:
    """An exception inside the server is answered with 451 and kept in errors."""

    def broken(address: str) -> bool:
        raise LookupError(f"no idea about {address}")

    with ScriptedSMTPServer() as server:
        server.on("RCPT", "550 5.1.1 unknown", recipient=broken)
        with smtp_client(server) as client:
            client.ehlo()
            client.mail("app@example.org")
            code, text = client.rcpt("ann@example.com")
    assert code == 451
    assert b"LookupError" in text
    assert [type(e) for e in server.errors] == [LookupError]


def test_non_ascii_reply_goes_out_as_utf8() -> None:
    """A scripted reply with non-ASCII text is sent as UTF-8 bytes, unchanged."""
    text = "550 5.1.1 Adresse inconnue: « gone@exemple.fr »"
    with ScriptedSMTPServer() as server:
        server.on("RCPT", text)
        with socket.create_connection((server.hostname, server.port), timeout=5) as sock:
            read_reply(sock)
            for command in (b"EHLO client.test", b"MAIL FROM:<app@example.org>"):
                sock.sendall(command + b"\r\n")
                read_reply(sock)
            sock.sendall(b"RCPT TO:<gone@exemple.fr>\r\n")
            assert read_reply(sock) == text.encode("utf-8") + b"\r\n"


def test_port_before_start_is_an_error() -> None:
    """Asking for the port of a server that is not running says what to do."""
    server = ScriptedSMTPServer()
    with pytest.raises(RuntimeError, match="start it first"):
        _ = server.port
    server.stop()  # stopping a server that never started does nothing


def test_reset_forgets_script_and_records() -> None:
    """reset() empties rules, sessions and messages; the server keeps serving."""
    with ScriptedSMTPServer() as server:
        server.on("RCPT", "550 5.1.1 unknown")
        with smtp_client(server) as client, pytest.raises(smtplib.SMTPRecipientsRefused):
            client.send_message(make_message())
        server.reset()
        assert (server.rules, server.sessions, server.messages) == ((), [], [])
        with smtp_client(server) as client:
            client.send_message(make_message())
    assert len(server.messages) == 1


def test_null_sender_is_the_empty_string() -> None:
    """MAIL FROM:<> is matched by sender="" and recorded as envelope_sender ""."""
    with ScriptedSMTPServer() as server:
        server.on("RCPT", "550 5.7.1 No bounces accepted here", sender="", times=1)
        with smtp_client(server) as client:
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail("", ["ann@example.com"], b"Subject: bounce\r\n\r\nx\r\n")
            client.sendmail("", ["ann@example.com"], b"Subject: bounce\r\n\r\nx\r\n")
            client.sendmail("app@example.org", ["ann@example.com"], b"Subject: x\r\n\r\nx\r\n")
    assert [m.envelope_sender for m in server.messages] == ["", "app@example.org"]
