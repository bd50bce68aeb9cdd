"""Delivery-status fields written inline in a text body.

Runs before the plain-text formats: fields, where present, say more than
prose does.

Some gateways forward a DSN as plain text, or print the fields of a report
(``Final-Recipient:``, ``Action:``, ``Status:``) in the human-readable part
without a ``message/delivery-status`` part. Those fields are read the same way.
"""

from __future__ import annotations

import re

from ..dsn import parse_delivery_status
from ..view import MessageView
from .base import BounceFormat, Finding
from .rfc3464 import fill_diagnostics, findings_from_fields

__all__ = ["FORMAT"]

_FIELD_START = re.compile(r"^(?:Final|Original)-Recipient:", re.IGNORECASE | re.MULTILINE)


def _detect(view: MessageView) -> bool:
    return _FIELD_START.search(view.text) is not None


def _parse(view: MessageView) -> list[Finding]:
    text = view.text
    first = _FIELD_START.search(text)
    if first is None:
        return []
    # Start at the per-message block if one precedes the first recipient.
    start = text.rfind("\n\n", 0, first.start())
    block = text[start + 2 if start != -1 else first.start() :]
    fields = parse_delivery_status(block)
    found = [f for f in findings_from_fields(fields) if f.action or f.status or f.diagnostic]
    if found:
        fill_diagnostics(text[: first.start()], found)
    return found


FORMAT = BounceFormat(name="rfc3464-inline", detect=_detect, parse=_parse, priority=25)
