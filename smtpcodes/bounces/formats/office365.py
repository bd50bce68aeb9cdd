"""Microsoft Exchange 2007+ and Office 365 / Exchange Online NDRs without a DSN part.

The human-readable body (often HTML only; ``X-MS-Exchange-Message-Is-Ndr``
marks it) says "Delivery has failed to these recipients or groups:" and ends
with "Diagnostic information for administrators:", where each recipient is
followed by the remote reply (``Remote Server returned '550 5.1.1 ...'`` or
``#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##``).
"""

from __future__ import annotations

import re

from ..view import MessageView
from .base import HAS_REPLY_CODE, BounceFormat, Finding, address_blocks, section

__all__ = ["FORMAT"]

_INTROS = (
    "delivery has failed to these recipients or groups",
    "delivery has failed to these recipients or distribution lists",
    "rejected your message to the following email addresses",
    "your message to the following recipients couldn't be delivered",
    "your message couldn't be delivered",
    "your message wasn't delivered",
)
_DIAGNOSTIC = ("diagnostic information for administrators:",)
_ENDS = ("original message headers:",)
# "kijitora@example.com<mailto:kijitora@example.com>" or "Neko<mailto:neko@example.jp>"
_INTRO_LINE = re.compile(
    r"[ \t]{0,8}(?:[^<@\n]{0,100}<mailto:)?<?([A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u0080-\uffff]"
    r"{1,64}@[A-Za-z0-9\u0080-\uffff\-]{1,63}(?:\.[A-Za-z0-9\u0080-\uffff\-]{1,63}){0,10})>?"
)
_REMOTE = re.compile(r"Remote Server returned '([^'\n]{1,2000})'", re.IGNORECASE)
_HASHED = re.compile(r"#([245]\d\d[ -][^#\n]{0,2000})##?")


def _detect(view: MessageView) -> bool:
    if "x-ms-exchange-message-is-ndr" in view.headers:
        return True
    head = view.text[:20000].lower()
    return any(marker in head for marker in _INTROS) or _DIAGNOSTIC[0] in head


def _diagnostic(text: str) -> str:
    m = _REMOTE.search(text) or _HASHED.search(text)
    return m[1].strip() if m else text


def _parse(view: MessageView) -> list[Finding]:
    text = view.text
    found: dict[str, Finding] = {}
    admin = section(text, _DIAGNOSTIC, _ENDS)
    for address, diagnostic in address_blocks(admin):
        if address.lower() in found or "generating server" in address.lower():
            continue
        if HAS_REPLY_CODE.search(diagnostic) or _REMOTE.search(diagnostic):
            found[address.lower()] = Finding(recipient=address, diagnostic=_diagnostic(diagnostic))
    intro = section(text, _INTROS, (*_DIAGNOSTIC, *_ENDS))
    for address, diagnostic in address_blocks(intro, pattern=_INTRO_LINE):
        key = address.lower()
        if key not in found:
            found[key] = Finding(recipient=address, diagnostic=_clean_intro(diagnostic))
    return list(found.values())


def _clean_intro(diagnostic: str) -> str:
    # Drop the "<mailto:...>" echo Exchange writes right after the address.
    return re.sub(r"^<mailto:[^>]{0,320}>\s*", "", diagnostic)


FORMAT = BounceFormat(name="office365", detect=_detect, parse=_parse, priority=35)
