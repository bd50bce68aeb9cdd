"""``parse_bounce``: read one received message into a :class:`BounceReport`.

The path: load the bytes, split them with the bounded MIME walker
(:mod:`.mime`; the stdlib ``compat32`` parser is the fallback when the walker
cannot find the parts), then ask the format detectors of
:func:`.formats.registry` in priority order. The first detector that
recognises the message and reads at least one recipient decides. A report
forwarded as an attachment is looked for inside enclosed messages before the
weak detectors (auto-reply, the generic heuristic) get their turn.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..reply import find_enhanced_code
from .formats import Finding, registry
from .mime import Part, decode_header_value, from_email_message, parse_message
from .report import BounceRecord, BounceReport, OriginalMessage
from .verdicts import (
    complaint_verdict,
    infer_status,
    parse_status,
    reply_from_diagnostic,
    vacation_verdict,
    verdict_for,
)
from .view import MessageView

if TYPE_CHECKING:
    from ..classifier import Classifier
    from ..reply import EnhancedCode
    from ..verdict import Verdict

__all__ = ["MAX_INPUT_BYTES", "MAX_RECORDS", "load_message", "parse_bounce"]

#: Bytes of one message that are read; the rest is dropped (and reported as a problem).
MAX_INPUT_BYTES = 64 * 1024 * 1024
#: Records kept from one report.
MAX_RECORDS = 10_000
# Formats at or above this priority are "weak": they run only after forwarded reports were tried.
_WEAK_PRIORITY = 90
# How deep forwarded reports are looked for.
_MAX_FORWARD_DEPTH = 2

_KIND_FOR_ACTION = {
    "failed": "bounce",
    "delayed": "delay",
    "delivered": "delivered",
    "relayed": "delivered",
    "expanded": "delivered",
}


def load_message(
    message: bytes | bytearray | str | os.PathLike[str] | email.message.Message,
) -> Part:
    """Read a message from bytes, text, a path or a parsed ``email`` message.

    A ``str`` without a line break is a path (every message has one: the
    blank line after its headers); a ``str`` with line breaks is the message.

    :raises OSError: when a path cannot be read (``FileNotFoundError`` when it
        does not exist).
    :raises TypeError: for any other input type.
    """
    if isinstance(message, email.message.Message):
        # Re-serialising keeps one parsing path; the object tree is the fallback.
        try:
            data = message.as_bytes(policy=email.policy.compat32)
        except (ValueError, LookupError, UnicodeError, TypeError):
            return from_email_message(message)
        return _parse_bytes(data[:MAX_INPUT_BYTES])
    if isinstance(message, os.PathLike) or (
        isinstance(message, str) and message and "\n" not in message
    ):
        with Path(message).open("rb") as handle:
            data = handle.read(MAX_INPUT_BYTES)
        return _parse_bytes(data)
    if isinstance(message, str):
        return _parse_bytes(message[:MAX_INPUT_BYTES].encode("utf-8", errors="surrogateescape"))
    if isinstance(message, bytes | bytearray | memoryview):
        return _parse_bytes(bytes(message[:MAX_INPUT_BYTES]))
    msg = (  # type: ignore[unreachable]  # callers without type checking
        "parse_bounce() takes bytes, str, a path or an email.message.Message, "
        f"not {type(message).__name__}"
    )
    raise TypeError(msg)


def _parse_bytes(data: bytes) -> Part:
    root = parse_message(data)
    if root.content_type.startswith("multipart/") and not root.children:
        # The walker found no boundary where it expected one: let the stdlib try.
        fallback = email.message_from_bytes(data, policy=email.policy.compat32)
        return from_email_message(fallback)
    return root


def parse_bounce(
    message: bytes | str | os.PathLike[str] | email.message.Message,
    *,
    classifier: Classifier | None = None,
    source: str | None = None,
) -> BounceReport:
    """Read one received message and report every recipient it speaks about.

    Non-bounces give a report with no records (``is_bounce`` false);
    auto-replies give one ``vacation`` record, ARF feedback reports one
    ``complaint`` record per complained-about address.

    :raises OSError: when ``message`` is a path that cannot be read.
    :raises TypeError: when ``message`` is of an unsupported type.
    """
    if classifier is None:
        from ..classifier import Classifier as _Classifier

        classifier = _Classifier.default()
    if source is None and isinstance(message, os.PathLike):
        source = os.fspath(message)
    root = load_message(message)
    view = MessageView(root)
    problems: list[str] = list(root.cut)
    found = _detect(view, 0)
    original = _original(view)
    if found is None:
        return BounceReport(
            records=(),
            format=None,
            subject=view.subject or None,
            from_=view.header("from") or None,
            message_id=view.headers.get("message-id") or None,
            original=original,
            problems=tuple(problems),
            source=source,
        )
    name, findings, used_view = found
    problems.extend(used_view.problems)
    if used_view is not view:
        original = _original(used_view) or original
    if len(findings) > MAX_RECORDS:
        problems.append(
            f"the report lists {len(findings)} recipients; only the first {MAX_RECORDS} were read"
        )
        findings = findings[:MAX_RECORDS]
    records = _build_records(findings, name, original, classifier)
    return BounceReport(
        records=records,
        format=name,
        subject=view.subject or None,
        from_=view.header("from") or None,
        message_id=view.headers.get("message-id") or None,
        original=original,
        problems=tuple(problems),
        source=source,
    )


def _is_read_receipt(view: MessageView) -> bool:
    """An RFC 8098 message disposition notification: a read receipt, never a bounce."""
    ctype = view.headers.get("content-type").lower()
    return "disposition-notification" in ctype or any(
        p.content_type == "message/disposition-notification" for p in view.root.walk()[:64]
    )


def _detect(view: MessageView, depth: int) -> tuple[str, list[Finding], MessageView] | None:
    if _is_read_receipt(view) and not view.delivery_status_parts:
        return None
    formats = registry()
    for fmt in formats:
        if fmt.priority >= _WEAK_PRIORITY:
            break
        if fmt.detect(view):
            findings = fmt.parse(view)
            if findings:
                return fmt.name, findings, view
    if depth < _MAX_FORWARD_DEPTH:
        for inner in view.enclosed_messages[:4]:
            found = _detect(MessageView(inner), depth + 1)
            if found is not None and found[0] not in ("auto-reply",):
                return found
    for fmt in formats:
        if fmt.priority < _WEAK_PRIORITY:
            continue
        if fmt.detect(view):
            findings = fmt.parse(view)
            if findings:
                return fmt.name, findings, view
    return None


def _build_records(
    findings: list[Finding],
    format_name: str,
    original: OriginalMessage | None,
    classifier: Classifier,
) -> tuple[BounceRecord, ...]:
    records: list[BounceRecord] = []
    seen: set[tuple[str, str, str]] = set()
    for finding in findings:
        recipient = finding.recipient.strip()
        key = (recipient.lower(), finding.action, finding.status)
        if key in seen:
            continue
        seen.add(key)
        records.append(_record(finding, recipient, format_name, original, classifier))
    return tuple(records)


def _record(
    finding: Finding,
    recipient: str,
    format_name: str,
    original: OriginalMessage | None,
    classifier: Classifier,
) -> BounceRecord:
    diagnostic = " ".join(finding.diagnostic.split())[:4000]
    action = finding.action
    verdict: Verdict
    status: EnhancedCode | None
    inferred = False
    if finding.kind == "vacation":
        status, reply, verdict = None, None, vacation_verdict()
        kind = "vacation"
    elif finding.kind == "complaint":
        status, reply, verdict = None, None, complaint_verdict(finding.feedback_type)
        kind = "complaint"
    else:
        status = parse_status(finding.status)
        reply = reply_from_diagnostic(diagnostic, action)
        quoted = reply.enhanced if reply is not None and reply.enhanced else None
        if quoted is None and diagnostic:
            quoted = find_enhanced_code(diagnostic)
        if status is None or (
            # The remote server's own code beats the reporting MTA's of the same class,
            # unless it is a bare X.0.0 and the Status field says more.
            quoted is not None
            and quoted.class_ == status.class_
            and (quoted.subject, quoted.detail) != (0, 0)
        ):
            status = quoted or status
        if not action and status is not None:
            action = {2: "delivered", 4: "delayed"}.get(status.class_, "failed")
        verdict = verdict_for(
            classifier, action=action, status=status, reply=reply, diagnostic=diagnostic
        )
        kind = _KIND_FOR_ACTION.get(action, "bounce")
        if status is None:
            status = infer_status(verdict, action)
            inferred = status is not None
    return BounceRecord(
        recipient=recipient,
        action=action,
        status=status,
        reply=reply,
        verdict=verdict,
        kind=kind,
        diagnostic=diagnostic,
        original_recipient=finding.original_recipient,
        remote_mta=finding.remote_mta,
        reporting_mta=finding.reporting_mta,
        arrival_date=finding.arrival_date,
        last_attempt_date=finding.last_attempt_date,
        original=original,
        format=format_name,
        feedback_type=finding.feedback_type,
        status_inferred=inferred,
    )


def _original(view: MessageView) -> OriginalMessage | None:
    headers = view.original_headers
    if headers is None:
        return None

    def field(name: str) -> str | None:
        return decode_header_value(headers.get(name)) or None

    return OriginalMessage(
        message_id=field("message-id"),
        from_=field("from"),
        to=field("to"),
        subject=field("subject"),
    )
