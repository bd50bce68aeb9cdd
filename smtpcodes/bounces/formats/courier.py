"""Courier mail server notices without a DSN part.

"This is a delivery status notification from ..., running the Courier mail
server": ``<address>:`` blocks holding the SMTP dialogue (``>>> RCPT TO`` /
``<<< 550 ...``); the reply is the ``<<<`` line.
"""

from __future__ import annotations

import re

from ..view import MessageView
from .base import ANGLE_COLON_LINE, BounceFormat, Finding, address_blocks, section

__all__ = ["FORMAT"]

_STARTS = (
    "your message to the following recipients cannot be delivered",
    "delivery to the following recipients has been delayed",
    "running the courier mail server",
)
_ENDS = (
    "-------------------------------------------------------------",
    "if your message was also sent to additional recipients",
)
_REPLY = re.compile(r"<<<\s?([245]\d\d[ -].{0,1000}?)(?=\s<<<|\s>>>|$)")


def _detect(view: MessageView) -> bool:
    return "courier mail server" in view.text[:4000].lower()


def _parse(view: MessageView) -> list[Finding]:
    text = view.text
    delayed = "has been delayed" in text[:4000].lower()
    body = section(text, _STARTS[:2], _ENDS) or section(text, _STARTS[2:], _ENDS)
    out: list[Finding] = []
    for address, diagnostic in address_blocks(body, pattern=ANGLE_COLON_LINE):
        m = _REPLY.search(diagnostic)
        out.append(
            Finding(
                recipient=address,
                action="delayed" if delayed else "failed",
                diagnostic=m[1] if m else diagnostic,
            )
        )
    return out


FORMAT = BounceFormat(name="courier", detect=_detect, parse=_parse, priority=38)
