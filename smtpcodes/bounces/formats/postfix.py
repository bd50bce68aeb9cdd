"""Postfix bounces read from the plain-text part alone.

When the ``message/delivery-status`` part is missing (stripped by a gateway,
or a setup that sends text only), Postfix's notice still says "This is the
mail system at host ..." and lists each recipient as
``<address>: host mx[192.0.2.1] said: 550 ... (in reply to RCPT TO command)``.
"""

from __future__ import annotations

from ..view import MessageView
from .base import ANGLE_COLON_LINE, BounceFormat, Finding, address_blocks, section

__all__ = ["FORMAT"]

_STARTS = (
    "this is the mail system at host",
    "i'm sorry to have to inform you that your message could not",
    "your message could not be delivered to one or more recipients",
    "the mail system",
)
_ENDS = (
    "--- delivery report unavailable ---",
    "reporting-mta:",
    "content-description: undelivered message",
    "content-description: delivery report",
    "----- original message",
    "--- below this line",
)


def _detect(view: MessageView) -> bool:
    head = view.text[:8000].lower()
    return "this is the mail system at host" in head or (
        "postfix" in head and "<" in head and "the mail system" in head
    )


def _parse(view: MessageView) -> list[Finding]:
    text = view.text
    body = section(text, ("the mail system",), _ENDS) or section(text, _STARTS, _ENDS)
    subject = view.subject.lower()
    delayed = "delayed mail" in subject or "this is a warning only" in text[:4000].lower()
    action = "delayed" if delayed else "failed"
    return [
        Finding(recipient=address, action=action, diagnostic=diagnostic)
        for address, diagnostic in address_blocks(body, pattern=ANGLE_COLON_LINE)
    ]


FORMAT = BounceFormat(name="postfix", detect=_detect, parse=_parse, priority=37)
