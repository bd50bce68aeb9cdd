"""Amazon SES event notifications delivered by e-mail (SNS "AWS Notification Message").

The body is a JSON document: ``notificationType`` ``Bounce`` (with
``bouncedRecipients`` carrying action, status and ``diagnosticCode``),
``Complaint`` (``complainedRecipients``) or ``Delivery`` (``recipients``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..view import MessageView
from .base import BounceFormat, Finding

__all__ = ["FORMAT"]

# A notification body is small; a bigger "JSON" is not one and is not parsed.
_MAX_JSON_CHARS = 512 * 1024


def _document(view: MessageView) -> dict[str, Any] | None:
    text = view.text.lstrip()
    if not text.startswith("{") or '"notificationType"' not in text[:_MAX_JSON_CHARS]:
        return None
    end = text.rfind("}", 0, _MAX_JSON_CHARS) + 1
    try:
        # raw_decode stops after the object: the SNS footer follows it.
        document, _ = json.JSONDecoder().raw_decode(text[:end])
    except ValueError:
        return _salvage(text[:end])
    return document if isinstance(document, dict) else None


_TYPE = re.compile(r'"notificationType"\s*:\s*"(\w{1,20})"')
_OBJECT = re.compile(r"\{[^{}]{0,4000}\}")


def _salvage(text: str) -> dict[str, Any] | None:
    """Rebuild the parts we need from a notification whose JSON was mangled in transit.

    SNS mail wraps long lines, which can break the JSON (in the returned
    headers, usually); the recipient objects themselves are small and intact.
    """
    m = _TYPE.search(text)
    if m is None:
        return None
    kind = m[1]
    key = {"Bounce": "bouncedRecipients", "Complaint": "complainedRecipients"}.get(kind)
    if key is None:
        return None
    start = text.find(f'"{key}"')
    end = text.find("]", start)
    items: list[Any] = []
    if start != -1 and end != -1:
        for obj in _OBJECT.findall(text[start:end]):
            try:
                items.append(json.loads(obj))
            except ValueError:
                continue
    return {"notificationType": kind, kind.lower(): {key: items}}


def _detect(view: MessageView) -> bool:
    return '"notificationType"' in view.text[:2000]


def _parse(view: MessageView) -> list[Finding]:
    document = _document(view)
    if document is None:
        return []
    kind = str(document.get("notificationType", "")).lower()
    out: list[Finding] = []
    if kind == "bounce":
        bounce = document.get("bounce") or {}
        reporting = str(bounce.get("reportingMTA", "")).partition(";")[2].strip() or None
        for item in bounce.get("bouncedRecipients") or []:
            if not isinstance(item, dict) or not item.get("emailAddress"):
                continue
            diagnostic = str(item.get("diagnosticCode", ""))
            out.append(
                Finding(
                    recipient=str(item["emailAddress"]),
                    action=str(item.get("action", "failed")).lower(),
                    status=str(item.get("status", "")),
                    diagnostic=diagnostic.partition(";")[2].strip() or diagnostic,
                    reporting_mta=reporting,
                )
            )
    elif kind == "complaint":
        complaint = document.get("complaint") or {}
        feedback = str(complaint.get("complaintFeedbackType") or "abuse")
        for item in complaint.get("complainedRecipients") or []:
            if isinstance(item, dict) and item.get("emailAddress"):
                out.append(
                    Finding(
                        recipient=str(item["emailAddress"]),
                        action="",
                        kind="complaint",
                        feedback_type=feedback,
                    )
                )
    elif kind == "delivery":
        delivery = document.get("delivery") or {}
        response = str(delivery.get("smtpResponse", ""))
        for address in delivery.get("recipients") or []:
            out.append(Finding(recipient=str(address), action="delivered", diagnostic=response))
    return out


FORMAT = BounceFormat(name="amazonses", detect=_detect, parse=_parse, priority=20)
