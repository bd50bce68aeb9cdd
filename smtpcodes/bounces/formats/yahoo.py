"""Yahoo Mail bounces ("Sorry, we were unable to deliver your message ...").

A qmail descendant: ``<address>:`` then ``Remote host said: 550 ...``.
"""

from __future__ import annotations

from ..view import MessageView
from .base import ANGLE_COLON_LINE, BounceFormat, Finding, address_blocks, section

__all__ = ["FORMAT"]

_STARTS = ("sorry, we were unable to deliver your message to the following address",)


def _detect(view: MessageView) -> bool:
    return _STARTS[0] in view.text[:4000].lower()


def _parse(view: MessageView) -> list[Finding]:
    body = section(view.text, _STARTS)
    found = [
        Finding(recipient=address, action="failed", diagnostic=diagnostic)
        for address, diagnostic in address_blocks(body, pattern=ANGLE_COLON_LINE)
    ]
    if not found:
        found = [
            Finding(recipient=address, action="failed", diagnostic=diagnostic)
            for address, diagnostic in address_blocks(body)
        ]
    return found


FORMAT = BounceFormat(name="yahoo", detect=_detect, parse=_parse, priority=31)
