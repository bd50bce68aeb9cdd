"""Microsoft Exchange 2000/2003 plain-text NDRs.

"Your message ... did not reach the following recipient(s):" then
``address on <date>`` lines, each followed by the reason and an
``MSEXCH:...`` diagnostic.
"""

from __future__ import annotations

import re

from ..view import MessageView
from .base import ORIGINAL_MARKERS, BounceFormat, Finding, address_blocks, cut_at

__all__ = ["FORMAT"]

_STARTS = ("did not reach the following recipient(s):", "did not reach the following recipient")
_ON_DATE = re.compile(r"^on \w{3}, .{0,60}?\d{2}:\d{2}:\d{2} [+-]?\d{4}\s*")


def _detect(view: MessageView) -> bool:
    return _STARTS[1] in view.text[:8000].lower()


def _parse(view: MessageView) -> list[Finding]:
    text = view.text
    pos = text.lower().find(_STARTS[1])
    if pos == -1:
        return []
    # The address may follow the marker on the same line ("...recipient: a@b").
    body = cut_at(text[pos + len(_STARTS[1]) :].lstrip("(s):"), ORIGINAL_MARKERS)
    return [
        Finding(recipient=address, diagnostic=_ON_DATE.sub("", diagnostic))
        for address, diagnostic in address_blocks(body)
    ]


FORMAT = BounceFormat(name="exchange2003", detect=_detect, parse=_parse, priority=36)
