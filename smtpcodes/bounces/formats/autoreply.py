"""Auto-replies and vacation messages (RFC 3834), which are not bounces.

Recognised by ``Auto-Submitted: auto-replied``, the ``X-Autoreply`` /
``X-Autorespond`` family, ``Precedence: auto_reply``, or a subject that
auto-responders use ("Auto reply:", "Out of office", "Automatic reply", ...).
The record names the address that answered (the auto-reply's ``From``): it is
alive, so nothing is suppressed. This detector runs after every bounce
format, since delivery reports carry ``Auto-Submitted`` too.
"""

from __future__ import annotations

import re

from ..view import MessageView
from .base import BOUNCE_SUBJECT, BounceFormat, Finding, find_address

__all__ = ["FORMAT"]

_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?[ -]?(?:reply|response|antwort|answer)|autoreply|"
    r"out of (?:the )?office|away from (?:the )?office|vacation|on vacation|away until|"
    r"abwesenheitsnotiz|r[ée]ponse automatique|risposta automatica|respuesta autom[áa]tica|"
    r"automatisch antwoord|auto:|i am away|i'm away|absence)",
    re.IGNORECASE,
)
_BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery", re.IGNORECASE)


def _detect(view: MessageView) -> bool:
    if _BOUNCE_SENDER.search(view.sender) or BOUNCE_SUBJECT.search(view.subject):
        # Delivery reports carry Auto-Submitted too; a bounce-like sender or subject wins.
        return False
    headers = view.headers
    auto = headers.get("auto-submitted").lower()
    if auto.startswith("auto-replied"):
        return True
    if any(h in headers for h in ("x-autoreply", "x-autorespond", "x-autoresponder")):
        return True
    if headers.get("precedence").lower().strip() == "auto_reply":
        return True
    return _SUBJECT.search(view.subject) is not None


def _parse(view: MessageView) -> list[Finding]:
    sender = find_address(view.headers.get("from")) or find_address(view.headers.get("return-path"))
    if not sender:
        return []
    return [Finding(recipient=sender, action="", kind="vacation", diagnostic=view.subject[:200])]


FORMAT = BounceFormat(name="auto-reply", detect=_detect, parse=_parse, priority=90)
