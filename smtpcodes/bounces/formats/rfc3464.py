"""Standard delivery status notifications (RFC 3464, RFC 6533, RFC 6522).

A ``multipart/report`` with a ``message/delivery-status`` (or
``message/global-delivery-status``) part. Each recipient block becomes a
finding; when a block has no ``Diagnostic-Code``, the human-readable part is
searched for the text the MTA wrote next to that recipient (Postfix, Exchange
and Gmail often put the remote server's reply only there).
"""

from __future__ import annotations

from ..dsn import DsnFields, clean_address, parse_delivery_status
from ..view import MessageView
from .base import (
    HAS_REPLY_CODE,
    ORIGINAL_MARKERS,
    BounceFormat,
    Finding,
    address_blocks,
    cut_at,
    find_address,
)

__all__ = ["FORMAT", "MAX_DSN_BYTES", "fill_diagnostics", "findings_from_fields"]

#: Bytes of one delivery-status part that are read (about 100,000 recipient blocks).
MAX_DSN_BYTES = 16 * 1024 * 1024


def _detect(view: MessageView) -> bool:
    return bool(view.delivery_status_parts)


def _strip_type(value: str) -> str:
    kind, sep, rest = value.partition(";")
    return rest.strip() if sep and len(kind) < 20 else value.strip()


def findings_from_fields(fields: DsnFields) -> list[Finding]:
    """One finding per recipient block of a parsed delivery-status body."""
    reporting = _strip_type(fields.message.get("reporting-mta", "")) or None
    arrival = fields.message.get("arrival-date") or None
    out: list[Finding] = []
    for block in fields.recipients:
        final = block.get("final-recipient") or block.get("x-actual-recipient")
        original = block.get("original-recipient")
        recipient = clean_address(final or original)
        if not recipient:
            continue
        out.append(
            Finding(
                recipient=recipient,
                action=block.get("action").strip().lower().split(" ")[0],
                status=block.get("status").strip(),
                diagnostic=_strip_type(block.get("diagnostic-code")),
                original_recipient=clean_address(original) if original else None,
                remote_mta=_strip_type(block.get("remote-mta")) or None,
                reporting_mta=reporting,
                arrival_date=arrival,
                last_attempt_date=block.get("last-attempt-date") or None,
            )
        )
    return out


def _parse(view: MessageView) -> list[Finding]:
    findings: list[Finding] = []
    for part in view.delivery_status_parts:
        fields = parse_delivery_status(part.text(MAX_DSN_BYTES))
        findings.extend(findings_from_fields(fields))
        if fields.truncated or len(part.body) > MAX_DSN_BYTES:
            view.problems.append(
                f"the delivery-status part ({len(part.body)} bytes) was cut: only its first "
                f"{len(fields.recipients)} recipients were read"
            )
    if findings and any(_weak(f.diagnostic) for f in findings):
        fill_diagnostics(view.text, findings)
    _repair_recipients(view, findings)
    return findings


def _repair_recipients(view: MessageView, findings: list[Finding]) -> None:
    """Replace a recipient with no local part ("@mx.example.org") from the returned original.

    Some MTAs write a broken ``Final-Recipient``; when the report is about a
    single recipient, the original's ``To`` says who it was.
    """
    broken = [f for f in findings if f.recipient.startswith("@") or "@" not in f.recipient]
    if not broken or len(findings) != 1 or view.original_headers is None:
        return
    to = find_address(view.original_headers.get("to"))
    if to:
        broken[0].recipient = to


def fill_diagnostics(report_text: str, findings: list[Finding]) -> None:
    """Take a missing diagnostic from the human-readable text next to the address."""
    # The Sendmail transcript holds the replies: cut at the returned message, not before it.
    text = cut_at(report_text, [m for m in ORIGINAL_MARKERS if "transcript" not in m])
    if not text:
        return
    by_address: dict[str, str] = {}
    for address, diagnostic in address_blocks(text):
        key = address.lower()
        if not diagnostic:
            continue
        # A block quoting the remote reply (a code) beats a friendly explanation.
        if key not in by_address or (
            HAS_REPLY_CODE.search(diagnostic) and not HAS_REPLY_CODE.search(by_address[key])
        ):
            by_address[key] = diagnostic[:2000]
    for finding in findings:
        if _weak(finding.diagnostic):
            found = by_address.get(finding.recipient.lower(), "") or _reply_line(
                text, finding.recipient
            )
            if found:
                finding.diagnostic = found


def _weak(diagnostic: str) -> bool:
    """No diagnostic, or one with no words (Sendmail's ``X-Unix; 77`` exit status)."""
    return not any(ch.isalpha() for ch in diagnostic)


def _reply_line(text: str, address: str) -> str:
    """A transcript line naming ``address`` with a reply code ("550 5.0.0 <a@b>... reason")."""
    needle = address.lower()
    for line in text.splitlines():
        if needle in line.lower() and HAS_REPLY_CODE.search(line):
            return line.strip().removeprefix("<<<").strip()
    return ""


FORMAT = BounceFormat(name="rfc3464", detect=_detect, parse=_parse, priority=10)
