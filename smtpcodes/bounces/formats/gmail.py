"""Gmail's plain-text bounces and delay notices (before Google sent RFC 3464 DSNs).

"Delivery to the following recipient failed permanently:" (or "has been
delayed:") then the address on its own line, then "Technical details of
permanent failure:" and, when the remote server answered, "The error that the
other server returned was:" followed by its reply.
"""

from __future__ import annotations

import re

from ..view import MessageView
from .base import BounceFormat, Finding, find_address, section

__all__ = ["FORMAT"]

_FAILED = (
    "delivery to the following recipient failed permanently",
    "delivery to the following recipients failed permanently",
    "delivery to the following recipient failed",
)
_DELAYED = (
    "delivery to the following recipient has been delayed",
    "delivery to the following recipients has been delayed",
)
_ADDRESS_LINE = re.compile(r"^[ \t]+(\S{1,64}@\S{1,253})[ \t]*$", re.MULTILINE)


def _detect(view: MessageView) -> bool:
    head = view.text[:8000].lower()
    return any(m in head for m in (*_FAILED, *_DELAYED))


def _parse(view: MessageView) -> list[Finding]:
    text = view.text
    body = section(text, _DELAYED)
    action = "delayed"
    if not body:
        body = section(text, _FAILED)
        action = "failed"
    addresses = [a for a in (find_address(m[1]) for m in _ADDRESS_LINE.finditer(body)) if a]
    if not addresses:
        return []
    lowered = body.lower()
    marker = "the error that the other server returned was:"
    pos = lowered.find(marker)
    if pos != -1:
        diagnostic = body[pos + len(marker) :]
    else:
        pos = lowered.find("technical details of")
        diagnostic = body[pos:].split(":", 1)[-1] if pos != -1 else ""
    diagnostic = " ".join(diagnostic.split())[:2000]
    return [Finding(recipient=a, action=action, diagnostic=diagnostic) for a in addresses]


FORMAT = BounceFormat(name="gmail", detect=_detect, parse=_parse, priority=33)
