"""Example: testing an application that sends a signup mail with aiosmtplib.

Same fixture as for smtplib: the server runs in its own thread, so an async test can
``await`` the client directly.
"""

from __future__ import annotations

import aiosmtplib
import pytest
from signup import send_welcome_async

from smtpcodes.testing import assert_verdict, replies

pytestmark = pytest.mark.asyncio


async def test_welcome_mail_is_sent(smtp_server):
    """The happy path: one mail, to the new user."""
    result = await send_welcome_async(
        "ann@example.com", host=smtp_server.hostname, port=smtp_server.port
    )

    assert result == "sent"
    [mail] = smtp_server.messages
    assert mail["To"] == "ann@example.com"


async def test_unknown_mailbox_is_dropped(smtp_server):
    """A Postfix "User unknown" means: never mail this address again."""
    smtp_server.on("RCPT", replies.postfix.mailbox_unknown)

    result = await send_welcome_async(
        "bob@example.com", host=smtp_server.hostname, port=smtp_server.port
    )

    assert result == "bad_address"


async def test_full_mailbox_on_second_attempt(smtp_server):
    """from the second mail on (after=1), the mailbox is full."""
    smtp_server.on("RCPT", replies.generic.mailbox_full, after=1)

    first = await send_welcome_async(
        "ann@example.com", host=smtp_server.hostname, port=smtp_server.port
    )
    second = await send_welcome_async(
        "ann@example.com", host=smtp_server.hostname, port=smtp_server.port
    )

    assert first == "sent"
    assert second == "bad_address"


@pytest.mark.smtp_drop("RCPT")
async def test_dropped_connection_is_retried(smtp_server):
    """The server vanishes mid-session (scripted by a marker): try again later."""
    result = await send_welcome_async(
        "ann@example.com", host=smtp_server.hostname, port=smtp_server.port
    )

    assert result == "retry"


async def test_refusal_seen_by_aiosmtplib_is_classified(smtp_server):
    """assert_verdict takes aiosmtplib's exception as it is."""
    smtp_server.on("MAIL", replies.postfix.sender_rejected)

    with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
        await aiosmtplib.send(
            b"Subject: hi\r\n\r\nbody\r\n",
            sender="nobody@nonexistent.example",
            recipients=["ann@example.com"],
            hostname=smtp_server.hostname,
            port=smtp_server.port,
        )

    assert_verdict(caught.value, category="sender_rejected", suppress=False)
