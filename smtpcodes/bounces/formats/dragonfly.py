"""DragonFly Mail Agent (dma) bounces.

"This is the DragonFly Mail Agent ... There was an error delivering your mail
to <address>." then the remote host's complaint ("... did not like our RCPT
TO:") and its reply, up to "Message headers follow."
"""

from __future__ import annotations

import re

from ..view import MessageView
from .base import BounceFormat, Finding, cut_at

__all__ = ["FORMAT"]

_TARGET = re.compile(r"error delivering your mail to <([^<>\s]{1,320})>", re.IGNORECASE)


def _detect(view: MessageView) -> bool:
    return "dragonfly mail agent" in view.text[:2000].lower()


def _parse(view: MessageView) -> list[Finding]:
    text = cut_at(view.text, ("message headers follow", "original message follows"))
    m = _TARGET.search(text)
    if m is None:
        return []
    rest = text[m.end() :].lstrip(". \n")
    # The first line says which host and command; the reply follows it.
    head, _, reply = rest.partition("\n")
    diagnostic = " ".join((reply or head).split())[:4000]
    return [Finding(recipient=m[1], diagnostic=diagnostic)]


FORMAT = BounceFormat(name="dragonfly", detect=_detect, parse=_parse, priority=42)
