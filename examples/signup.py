"""A tiny signup service: it sends a welcome mail and decides what to do when that fails.

This is the application code the two example tests exercise (``test_signup_smtplib.py``
and ``test_signup_aiosmtplib.py``). It uses smtpcodes only to turn a failed send into a
decision: drop the address, try again later, or give up on this mail.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import aiosmtplib

from smtpcodes.exceptions import classify_exception

SENDER = "welcome@shop.example"


def welcome_message(address: str) -> EmailMessage:
    """The welcome mail for a new account."""
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = address
    message["Subject"] = "Welcome to the shop"
    message.set_content("Thanks for signing up. Your account is ready.\n")
    return message


def decision(error: BaseException, address: str) -> str:
    """What to do after a failed send: "bad_address", "retry" or "failed"."""
    found = classify_exception(error)
    verdict = found[address] if isinstance(found, dict) else found
    if verdict.suppress:
        return "bad_address"  # never mail this address again
    if verdict.retry:
        return "retry"  # queue the mail for later
    return "failed"  # a human has to look (content, sender setup, credentials)


def send_welcome(address: str, *, host: str, port: int) -> str:
    """Send the welcome mail with smtplib; return "sent" or the decision after a failure."""
    try:
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            smtp.send_message(welcome_message(address))
    except (smtplib.SMTPException, OSError) as error:
        return decision(error, address)
    return "sent"


async def send_welcome_async(address: str, *, host: str, port: int) -> str:
    """Send the welcome mail with aiosmtplib; return "sent" or the decision after a failure."""
    try:
        await aiosmtplib.send(welcome_message(address), hostname=host, port=port, timeout=10)
    except (aiosmtplib.SMTPException, OSError) as error:
        return decision(error, address)
    return "sent"
