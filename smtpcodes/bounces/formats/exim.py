"""Exim's plain-text bounces and delay warnings.

"This message was created automatically by mail delivery software." The
failed addresses follow "The following address(es) failed:", each at a small
indent with the reason indented below it; a delay warning lists them after
"The address(es) to which the message has not yet been delivered". Exim also
names the failed addresses in the ``X-Failed-Recipients`` header.
"""

from __future__ import annotations

import re

from ..view import MessageView
from .base import ORIGINAL_MARKERS, BounceFormat, Finding, address_blocks, cut_at, section

__all__ = ["FORMAT"]

_INTRO = "this message was created automatically by mail delivery software"
_FAILED = (
    "the following address(es) failed:",
    "following address(es) failed:",
    "could not be delivered to one or more of its",
)
_DELAYED = (
    "has not yet been delivered is:",
    "have not yet been delivered are:",
    "which the message has not yet been delivered",
)
_ENDS = (
    *ORIGINAL_MARKERS,
    "no action is required on your part",
    "reporting-mta:",
    "--- the header of the original message",
)
# An address line: small indent, the address, optionally ':' or "<addr>".
_ADDRESS_LINE = re.compile(
    r"[ \t]{0,3}[<\"]?([A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u0080-\uffff]{1,64}@"
    r"[A-Za-z0-9\u0080-\uffff\-]{1,63}(?:\.[A-Za-z0-9\u0080-\uffff\-]{1,63}){0,10})[>\"]?"
    r"(?=[ \t]*(?::|$|\n|<))"
)


def _detect(view: MessageView) -> bool:
    head = view.text[:4000].lower()
    return (
        _INTRO in head
        or "following address(es) failed" in head
        or (
            "x-failed-recipients" in view.headers and "exim" in view.headers.get("received").lower()
        )
    )


_FAILED_AT = re.compile(r"following\s+address(?:\(es\)|es)?\s+failed:", re.IGNORECASE)


def _parse(view: MessageView) -> list[Finding]:
    text = view.text
    body = section(text, _DELAYED, _ENDS)
    action = "delayed"
    if not body:
        action = "failed"
        m = _FAILED_AT.search(text)
        body = cut_at(text[m.end() :], _ENDS) if m else section(text, _FAILED, _ENDS)
    found = [
        Finding(recipient=address, action=action, diagnostic=_clean(diagnostic))
        for address, diagnostic in address_blocks(body, pattern=_ADDRESS_LINE)
    ]
    if not found:
        failed = view.headers.get("x-failed-recipients")
        found = [Finding(recipient=a.strip(), action=action) for a in failed.split(",") if "@" in a]
    return found


def _clean(diagnostic: str) -> str:
    # "Delay reason:" is Exim's label, not part of the remote reply.
    return diagnostic.replace("Delay reason:", "").strip()


FORMAT = BounceFormat(name="exim", detect=_detect, parse=_parse, priority=32)
