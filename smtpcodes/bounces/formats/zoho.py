"""Zoho Mail bounces.

Exim's opening sentence, then one line per recipient:
``address Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 <address>... User
Unknown`` (the second ``ERROR_CODE`` holds the enhanced code and the text).
"""

from __future__ import annotations

import re

from ..view import MessageView
from .base import BounceFormat, Finding

__all__ = ["FORMAT"]

_LINE = re.compile(
    r"^\s{0,4}<?([^\s<>@]{1,64}@[^\s<>]{1,255}?)>?\s+([^\n]{0,200}?),?\s*ERROR_CODE\s?:\s?"
    r"(\d{3})?,?\s*ERROR_CODE\s?:\s?([^\n]{0,2000})",
    re.MULTILINE,
)


def _detect(view: MessageView) -> bool:
    return "ERROR_CODE :" in view.text[:8000]


def _parse(view: MessageView) -> list[Finding]:
    out: list[Finding] = []
    for m in _LINE.finditer(view.text[:64000]):
        code, rest = m[3], m[4].split("Received:")[0].strip(" ,")
        diagnostic = f"{code} {rest or m[2]}" if code else f"{m[2]} {rest}"
        action = "delayed" if code and code.startswith("4") else "failed"
        out.append(Finding(recipient=m[1], action=action, diagnostic=diagnostic.strip()))
    return out


FORMAT = BounceFormat(name="zoho", detect=_detect, parse=_parse, priority=29)
