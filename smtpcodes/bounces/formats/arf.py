"""Abuse Reporting Format feedback reports (RFC 5965), i.e. complaints.

A ``multipart/report; report-type=feedback-report`` with a
``message/feedback-report`` part naming the complained-about recipients in
``Original-Rcpt-To`` (or ``Removal-Recipient``); failing those, the ``To`` of
the returned message. Each becomes a ``complaint`` finding. Some feedback
loops send a plain ``multipart/mixed`` "complaint about message" with the
message attached; those are read the same way.
"""

from __future__ import annotations

import re

from ..mime import parse_headers
from ..view import MessageView
from .base import ADDRESS, BounceFormat, Finding

__all__ = ["FORMAT"]

_COMPLAINT_SUBJECT = re.compile(
    r"\b(?:complaint about message|abuse report|spam report|feedback report|fbl report)\b",
    re.IGNORECASE,
)


def _detect(view: MessageView) -> bool:
    if view.feedback_parts:
        return True
    ctype = view.headers.get("content-type").lower()
    if "feedback-report" in ctype:
        return True
    return bool(view.enclosed_messages) and _COMPLAINT_SUBJECT.search(view.subject) is not None


def _parse(view: MessageView) -> list[Finding]:
    feedback: dict[str, list[str]] = {}
    for part in view.feedback_parts:
        for name, value in parse_headers(part.payload()).items():
            feedback.setdefault(name, []).append(value)
    feedback_type = (feedback.get("feedback-type") or ["abuse"])[0].strip().lower()
    dates = feedback.get("arrival-date") or feedback.get("received-date") or []
    arrival = dates[0] if dates else None
    addresses: list[str] = []
    for field in ("original-rcpt-to", "removal-recipient"):
        for value in feedback.get(field, []):
            addresses.extend(m[1] for m in ADDRESS.finditer(value))
    if not addresses and view.original_headers is not None:
        addresses.extend(m[1] for m in ADDRESS.finditer(view.original_headers.get("to")))
    if not addresses:
        # A redacted report still says a complaint happened; the address is unknown.
        addresses = [""]
    seen: set[str] = set()
    out: list[Finding] = []
    for address in addresses:
        if address.lower() in seen:
            continue
        seen.add(address.lower())
        out.append(
            Finding(
                recipient=address,
                action="",
                kind="complaint",
                feedback_type=feedback_type,
                arrival_date=arrival,
                diagnostic=f"feedback report: {feedback_type}",
            )
        )
    return out


FORMAT = BounceFormat(name="arf", detect=_detect, parse=_parse, priority=5)
