"""qmail and netqmail bounces ("Hi. This is the qmail-send program at ...").

Each failed recipient is a ``<address>:`` line followed by the reason, up to
``--- Below this line is a copy of the message.``; qmail writes enhanced codes
as ``(#5.1.1)``. A queue-lifetime bounce says "I'm not going to try again".
"""

from __future__ import annotations

from ..view import MessageView
from .base import ANGLE_COLON_LINE, BounceFormat, Finding, address_blocks, section

__all__ = ["FORMAT"]

_STARTS = (
    "this is the qmail-send program",
    "i'm afraid i wasn't able to deliver your message",
    "i was not able to deliver your message",
)


def _detect(view: MessageView) -> bool:
    head = view.text[:4000].lower()
    return any(marker in head for marker in _STARTS)


def _parse(view: MessageView) -> list[Finding]:
    body = section(view.text, _STARTS)
    return [
        Finding(recipient=address, action="failed", diagnostic=diagnostic)
        for address, diagnostic in address_blocks(body, pattern=ANGLE_COLON_LINE)
    ]


FORMAT = BounceFormat(name="qmail", detect=_detect, parse=_parse, priority=30)
