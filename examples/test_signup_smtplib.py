"""Example: testing an application that sends a signup mail with smtplib.

The ``smtp_server`` fixture comes with smtpcodes (no conftest needed): a real SMTP
server on 127.0.0.1 that accepts everything until the test scripts a reply.
"""

from __future__ import annotations

import smtplib

import pytest
from signup import send_welcome

from smtpcodes.testing import assert_verdict, replies


def test_welcome_mail_is_sent(smtp_server):
    """The happy path: one mail, to the new user, with the expected subject."""
    result = send_welcome("ann@example.com", host=smtp_server.hostname, port=smtp_server.port)

    assert result == "sent"
    [mail] = smtp_server.messages
    assert mail.envelope_recipients == ("ann@example.com",)
    assert mail["Subject"] == "Welcome to the shop"
    assert "account is ready" in mail.get_content()


def test_unknown_mailbox_is_dropped(smtp_server):
    """Gmail's "account does not exist" means: never mail this address again."""
    smtp_server.on("RCPT", replies.gmail.mailbox_unknown)

    result = send_welcome("gone@example.com", host=smtp_server.hostname, port=smtp_server.port)

    assert result == "bad_address"
    assert smtp_server.messages == []


def test_greylisting_is_retried(smtp_server):
    """A greylisting server refuses the first attempt only; the retry goes through."""
    smtp_server.on("RCPT", "451 4.7.1 Greylisted, please try again later", times=1)

    first = send_welcome("ann@example.com", host=smtp_server.hostname, port=smtp_server.port)
    second = send_welcome("ann@example.com", host=smtp_server.hostname, port=smtp_server.port)

    assert (first, second) == ("retry", "sent")
    assert len(smtp_server.messages) == 1


@pytest.mark.smtp_reply("CONNECT", "421 4.3.2 Service not available, closing transmission channel")
def test_server_down_at_connect_is_retried(smtp_server):
    """A 421 greeting (scripted by a marker) means: try again later."""
    result = send_welcome("ann@example.com", host=smtp_server.hostname, port=smtp_server.port)

    assert result == "retry"


def test_connection_dropped_after_data_is_retried(smtp_server):
    """The server hangs up after the message: the send failed, try again later."""
    smtp_server.drop("EOM")

    result = send_welcome("ann@example.com", host=smtp_server.hostname, port=smtp_server.port)

    assert result == "retry"
    assert smtp_server.sessions[0].dropped


def test_what_the_client_got_back_is_classified(smtp_server):
    """assert_verdict classifies the exception the client raised."""
    smtp_server.on("RCPT", replies.gmail.mailbox_full, recipient="full@example.com")

    with smtplib.SMTP(smtp_server.hostname, smtp_server.port) as client:
        refused = client.sendmail(
            "welcome@shop.example", ["ann@example.com", "full@example.com"], b"Subject: hi\r\n\r\n."
        )

    assert_verdict(refused, recipient="full@example.com", category="mailbox_full")
    assert smtp_server.messages[0].envelope_recipients == ("ann@example.com",)
