"""The values a bounce reader returns: one :class:`BounceRecord` per recipient.

A :class:`BounceReport` is what one received message says: zero or more
records (failed, delayed or delivered recipients, an auto-reply, an abuse
complaint), the format that was recognised, and the returned original's
headers when the report carried them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ..reply import EnhancedCode, Reply
    from ..verdict import Verdict

__all__ = [
    "KINDS",
    "BounceRecord",
    "BounceReport",
    "OriginalMessage",
]

#: The record kinds, in the order summaries list them.
KINDS = ("bounce", "delay", "delivered", "vacation", "complaint")


@attrs.frozen
class OriginalMessage:
    """Headers of the message that bounced, as the report returned them."""

    message_id: str | None = None
    from_: str | None = None
    to: str | None = None
    subject: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The JSON form."""
        return {
            "message_id": self.message_id,
            "from": self.from_,
            "to": self.to,
            "subject": self.subject,
        }


@attrs.frozen
class BounceRecord:
    """What one report says about one recipient.

    ``action`` is the RFC 3464 action (``failed``, ``delayed``, ``delivered``,
    ``relayed``, ``expanded``) or an empty string for complaints and
    auto-replies; ``status`` the DSN status (or the enhanced code of the
    diagnostic reply when the report gave no ``Status:``); ``reply`` the parsed
    diagnostic reply when it carried a code; ``diagnostic`` the diagnostic text
    as the report wrote it; ``verdict`` what smtpcodes makes of it; ``kind`` one
    of :data:`KINDS`; ``format`` the detector that read the report. When the
    report gives no status at all, ``status`` is inferred from the verdict
    (``5.1.1`` for an unknown mailbox, ``X.0.0`` when the category has no
    code of its own) and ``status_inferred`` is true.
    """

    recipient: str
    action: str
    status: EnhancedCode | None
    reply: Reply | None
    verdict: Verdict
    kind: str
    diagnostic: str = ""
    original_recipient: str | None = None
    remote_mta: str | None = None
    reporting_mta: str | None = None
    arrival_date: str | None = None
    last_attempt_date: str | None = None
    original: OriginalMessage | None = None
    format: str = ""
    feedback_type: str | None = None
    status_inferred: bool = False

    @property
    def suppress(self) -> bool:
        """Whether the recipient should go on the suppression list."""
        return self.verdict.suppress

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (the verdict nested under ``verdict``)."""
        return {
            "recipient": self.recipient,
            "original_recipient": self.original_recipient,
            "kind": self.kind,
            "action": self.action,
            "status": str(self.status) if self.status is not None else None,
            "status_inferred": self.status_inferred,
            "reply_code": self.reply.code if self.reply is not None else None,
            "diagnostic": self.diagnostic,
            "remote_mta": self.remote_mta,
            "reporting_mta": self.reporting_mta,
            "arrival_date": self.arrival_date,
            "last_attempt_date": self.last_attempt_date,
            "format": self.format,
            "feedback_type": self.feedback_type,
            "original": self.original.as_dict() if self.original is not None else None,
            "verdict": self.verdict.as_dict(),
        }


@attrs.frozen
class BounceReport:
    """Every record read from one message, and what was recognised about it.

    ``format`` names the detector that produced the records (``"rfc3464"``,
    ``"qmail"``, ``"arf"``, ...) or is ``None`` when the message is not a
    delivery report; ``problems`` lists what went wrong while reading (cut
    input, unreadable parts) without making the report fail.
    """

    records: tuple[BounceRecord, ...]
    format: str | None = None
    subject: str | None = None
    from_: str | None = None
    message_id: str | None = None
    original: OriginalMessage | None = None
    problems: tuple[str, ...] = ()
    source: str | None = None

    @property
    def is_bounce(self) -> bool:
        """Whether the message held at least one record."""
        return bool(self.records)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "source": self.source,
            "format": self.format,
            "subject": self.subject,
            "from": self.from_,
            "message_id": self.message_id,
            "original": self.original.as_dict() if self.original is not None else None,
            "problems": list(self.problems),
            "records": [r.as_dict() for r in self.records],
        }
