"""Postfix SMTP server error notices ("Postfix SMTP server: errors from ...").

Sent to the postmaster when a session failed on our side (a queue file
write error, a milter failure): a transcript of ``In:`` and ``Out:`` lines.
The recipients are those of ``RCPT TO`` commands; the failure is the last
4xx/5xx ``Out:`` reply.
"""

from __future__ import annotations

import re

from ..view import MessageView
from .base import BounceFormat, Finding

__all__ = ["FORMAT"]

_RCPT = re.compile(r"^\s*In:\s+RCPT\s+TO:\s*<([^<>\s]{1,320})>", re.IGNORECASE | re.MULTILINE)
_FAILURE = re.compile(r"^\s*Out:\s+([45]\d\d[ -].{0,1000})$", re.MULTILINE)


def _detect(view: MessageView) -> bool:
    return view.subject.lower().startswith("postfix smtp server: errors from") or (
        "transcript of session follows" in view.text[:500].lower() and " Out: " in view.text
    )


def _parse(view: MessageView) -> list[Finding]:
    text = view.text
    recipients = list(dict.fromkeys(m[1] for m in _RCPT.finditer(text)))
    failures = _FAILURE.findall(text)
    if not recipients or not failures:
        return []
    reply = failures[-1].strip()
    action = "delayed" if reply.startswith("4") else "failed"
    return [Finding(recipient=r, action=action, diagnostic=reply) for r in recipients]


FORMAT = BounceFormat(name="postfix-transcript", detect=_detect, parse=_parse, priority=43)
