"""OpenSMTPD bounces ("This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.").

"An error has occurred while attempting to deliver a message for the
following list of recipients:" then ``address: reply`` lines; a delay notice
says "Message delivery ... is delayed" / "has been delayed".
"""

from __future__ import annotations

from ..view import MessageView
from .base import BounceFormat, Finding, address_blocks, section

__all__ = ["FORMAT"]

_STARTS = (
    "following list of recipients:",
    "for the following recipients:",
    "following recipients:",
)
_ENDS = ("below is a copy of the original message", "below is a copy of the message")


def _detect(view: MessageView) -> bool:
    head = view.text[:4000].lower()
    return "this is the mailer-daemon, please do not reply" in head or (
        "opensmtpd" in head and "following list of recipients" in head
    )


def _parse(view: MessageView) -> list[Finding]:
    text = view.text
    head = text[:4000].lower()
    delayed = "delayed" in head or "temporary" in head
    body = section(text, _STARTS, _ENDS)
    return [
        Finding(recipient=address, action="delayed" if delayed else "failed", diagnostic=diagnostic)
        for address, diagnostic in address_blocks(body)
    ]


FORMAT = BounceFormat(name="opensmtpd", detect=_detect, parse=_parse, priority=39)
