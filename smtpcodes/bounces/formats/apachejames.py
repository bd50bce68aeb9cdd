"""Apache James bounces.

"Error: Invalid user address / Error message below: / 550 - Requested action
not taken: no such user here / Message details: ... RCPT TO: address".
"""

from __future__ import annotations

import re

from ..view import MessageView
from .base import BounceFormat, Finding, section

__all__ = ["FORMAT"]

_RCPT = re.compile(r"^\s*RCPT TO:\s*<?([^\s<>]{1,320}@[^\s<>]{1,255})>?", re.MULTILINE)


def _detect(view: MessageView) -> bool:
    head = view.text[:4000].lower()
    return "error message below:" in head and "message details:" in head


def _parse(view: MessageView) -> list[Finding]:
    text = view.text
    message = " ".join(section(text, ("error message below:",), ("message details:",)).split())
    details = section(text, ("message details:",))
    return [Finding(recipient=m[1], diagnostic=message) for m in _RCPT.finditer(details)]


FORMAT = BounceFormat(name="apachejames", detect=_detect, parse=_parse, priority=44)
