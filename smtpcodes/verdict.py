"""The verdict contract: what smtpcodes says about one reply or API response.

Field names and category names are those of ``shared/spec/verdict.md``; tests,
benchmarks and outside graders use them, so renaming any is a breaking change.
"""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .reply import Reply

__all__ = [
    "ApiDetails",
    "Category",
    "Outcome",
    "RetryWindow",
    "Scope",
    "SuppressAfter",
    "Verdict",
]


class _Named(str, enum.Enum):
    """A str-valued enum whose ``str()`` is its value (the spec's name)."""

    def __str__(self) -> str:
        return str(self.value)


class Outcome(_Named):
    """What the reply means for this attempt."""

    SUCCESS = "success"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"


class Scope(_Named):
    """Whose problem it is."""

    RECIPIENT = "recipient"
    MESSAGE = "message"
    SENDER = "sender"
    CONNECTION = "connection"
    ACCOUNT = "account"


class Category(_Named):
    """Why it happened; one name from the spec's category table."""

    DELIVERED = "delivered"
    MAILBOX_UNKNOWN = "mailbox_unknown"
    MAILBOX_DISABLED = "mailbox_disabled"
    MAILBOX_FULL = "mailbox_full"
    MAILBOX_MOVED = "mailbox_moved"
    DOMAIN_INVALID = "domain_invalid"
    ADDRESS_INVALID = "address_invalid"
    RECIPIENT_SUPPRESSED = "recipient_suppressed"
    RELAY_DENIED = "relay_denied"
    RATE_LIMITED = "rate_limited"
    GREYLISTED = "greylisted"
    SERVER_BUSY = "server_busy"
    NETWORK_ERROR = "network_error"
    DNS_ERROR = "dns_error"
    BLOCKED = "blocked"
    SPAM_CONTENT = "spam_content"
    VIRUS = "virus"
    MESSAGE_TOO_LARGE = "message_too_large"
    CONTENT_INVALID = "content_invalid"
    SENDER_AUTH = "sender_auth"
    SENDER_REJECTED = "sender_rejected"
    AUTH_FAILED = "auth_failed"
    AUTH_REQUIRED = "auth_required"
    TLS_REQUIRED = "tls_required"
    POLICY = "policy"
    QUOTA_EXCEEDED = "quota_exceeded"
    ACCOUNT_PROBLEM = "account_problem"
    TOO_MANY_RECIPIENTS = "too_many_recipients"
    PROTOCOL_ERROR = "protocol_error"
    EXPIRED = "expired"
    MAIL_LOOP = "mail_loop"
    SYSTEM_ERROR = "system_error"
    UNKNOWN = "unknown"


def _non_negative(_inst: object, attribute: attrs.Attribute[Any], value: timedelta) -> None:
    if value < timedelta(0):
        msg = f"{attribute.name} must not be negative, got {value!r}"
        raise ValueError(msg)


@attrs.frozen
class RetryWindow:
    """When to try again: not before ``earliest``, and ideally by ``latest``.

    Both are offsets from the moment the reply was received.
    """

    earliest: timedelta = attrs.field(validator=_non_negative)
    latest: timedelta = attrs.field(validator=_non_negative)

    def __attrs_post_init__(self) -> None:
        if self.latest < self.earliest:
            msg = f"latest ({self.latest}) is before earliest ({self.earliest})"
            raise ValueError(msg)

    @classmethod
    def seconds(cls, earliest: float, latest: float | None = None) -> RetryWindow:
        """Build a window from seconds; one value means a single instant."""
        return cls(
            timedelta(seconds=earliest),
            timedelta(seconds=earliest if latest is None else latest),
        )

    def as_seconds(self) -> tuple[float, float]:
        """The window as ``(earliest, latest)`` in seconds, the JSON form."""
        return (self.earliest.total_seconds(), self.latest.total_seconds())


@attrs.frozen
class SuppressAfter:
    """Soft-suppression policy: suppress after ``count`` such failures ``within`` a period.

    Set on verdicts whose category a table marks as lenient (for example a user
    who prefers to retry a full mailbox a few times); the suppression lists count
    the failures and suppress once the threshold is reached.
    """

    count: int
    within: timedelta


@attrs.frozen
class ApiDetails:
    """What an e-mail API response said, kept beside the verdict."""

    provider: str
    status: int
    error_code: str | None = None
    message: str | None = None
    request_id: str | None = None
    field_errors: tuple[tuple[str, str], ...] = ()
    """``(field, message)`` pairs from the provider's validation errors."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "provider": self.provider,
            "status": self.status,
            "error_code": self.error_code,
            "message": self.message,
            "request_id": self.request_id,
            "field_errors": [{"field": f, "message": m} for f, m in self.field_errors],
        }


# Not slotted: attrs builds a frozen dict-backed instance by writing its
# __dict__ directly, about 40 % cheaper than a slotted one's twelve
# object.__setattr__ calls, and one Verdict is built per classified reply.
@attrs.frozen(slots=False)
class Verdict:
    """The decision for one reply: the spec's seven fields plus provenance.

    ``rule`` names the table entry or text rule that decided, so a user can see why;
    ``action`` says what a person should do.
    """

    outcome: Outcome
    category: Category
    retry: bool
    retry_after: RetryWindow | None
    suppress: bool
    scope: Scope
    delivery_unknown: bool = False
    reply: Reply | None = attrs.field(default=None, eq=False)
    rule: str | None = None
    action: str = ""
    api: ApiDetails | None = None
    suppress_after: SuppressAfter | None = None

    def as_dict(self) -> dict[str, Any]:
        """The verdict as a JSON-ready mapping with the spec's field names.

        ``retry_after`` becomes ``[earliest_s, latest_s]`` or ``None``; the parsed
        reply contributes ``code`` and ``enhanced``.
        """
        reply = self.reply
        out: dict[str, Any] = {
            "outcome": self.outcome.value,
            "category": self.category.value,
            "retry": self.retry,
            "retry_after": list(self.retry_after.as_seconds()) if self.retry_after else None,
            "suppress": self.suppress,
            "scope": self.scope.value,
            "delivery_unknown": self.delivery_unknown,
            "code": reply.code if reply is not None else None,
            "enhanced": str(reply.enhanced) if reply is not None and reply.enhanced else None,
            "rule": self.rule,
            "action": self.action,
        }
        if self.api is not None:
            out["api"] = self.api.as_dict()
        if self.suppress_after is not None:
            out["suppress_after"] = {
                "count": self.suppress_after.count,
                "within_s": self.suppress_after.within.total_seconds(),
            }
        return out
