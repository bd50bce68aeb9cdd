"""What a live send returns, and the rule that turns one SMTP transaction into verdicts.

Sans-I/O: the asyncio sender (:mod:`smtpcodes.aio`) and the ``smtplib`` helper
(:mod:`smtpcodes.sync`) fill a :class:`TransactionLog` as their transaction runs;
:func:`resolve_transaction` reads it and decides one :class:`~smtpcodes.Verdict` per
recipient. Keeping that decision here means both senders answer alike:

- a refused ``RCPT`` speaks for that recipient only;
- a refused ``MAIL`` or ``DATA``, or a failure to connect, start TLS or log in,
  speaks for every recipient of the attempt;
- a ``421`` anywhere closes the session, so it speaks for every recipient that has
  no reply of its own (stdlib ``smtplib`` stops at the first ``421`` and reports
  only the recipients tried so far, so "not refused" never means "accepted");
- a timeout, a dropped connection or an unreadable reply once the message body
  was on its way sets ``delivery_unknown``: the server may have taken it.
"""

from __future__ import annotations

import email.headerregistry
import email.message
import email.utils
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from .classifier import Classifier
from .exceptions import classify_response, exception_verdict
from .policy import make_verdict
from .suppression import normalize_address
from .verdict import Category, Outcome, Verdict

if TYPE_CHECKING:
    from .suppression import SuppressionList

__all__ = [
    "Message",
    "OnVerdict",
    "RecipientResult",
    "ResultBuilder",
    "SendReport",
    "TransactionLog",
    "ReplyClassifier",
    "address_problem",
    "envelope_of",
    "log_verdict",
    "logger",
    "resolve_transaction",
]

#: Log records carry the verdict as ``smtpcodes_*`` attributes (see :func:`log_verdict`).
logger = logging.getLogger("smtpcodes.send")
# A library stays silent unless the application configures logging.
logger.addHandler(logging.NullHandler())

#: What the senders accept: a message object, or flattened bytes/str.
Message = email.message.EmailMessage | email.message.Message | bytes | str

#: ``on_verdict(recipient, verdict)``: called once per recipient per attempt.
OnVerdict = Callable[[str, Verdict], None]


class ReplyClassifier(Protocol):
    """Anything that classifies reply text like :func:`smtpcodes.classify`."""

    def __call__(self, reply: str, /, *, stage: str | None = None) -> Verdict:
        """Classify one SMTP reply."""
        ...


@attrs.frozen
class RecipientResult:
    """What happened to one recipient in a send, and what happens next.

    ``skipped`` means the address was on the suppression list and nothing was
    sent; ``suppressed_now`` that this send's verdict put it there. ``attempts``
    counts SMTP transactions that included the recipient. ``retry_at`` is set
    for a deferred recipient: the earliest moment a new attempt makes sense.
    """

    recipient: str
    verdict: Verdict
    delivered: bool
    skipped: bool = False
    attempts: int = 0
    suppressed_now: bool = False
    retry_at: datetime | None = None

    @property
    def deferred(self) -> bool:
        """Not delivered, but a later attempt can succeed."""
        return (
            not self.delivered
            and not self.skipped
            and not self.suppressed_now
            and self.verdict.retry
        )

    @property
    def failed(self) -> bool:
        """Not delivered, and no later attempt will be made."""
        return not self.delivered and not self.skipped and not self.deferred

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "recipient": self.recipient,
            "delivered": self.delivered,
            "skipped": self.skipped,
            "deferred": self.deferred,
            "attempts": self.attempts,
            "suppressed_now": self.suppressed_now,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "verdict": self.verdict.as_dict(),
        }


@attrs.frozen
class SendReport:
    """The outcome of one ``send``: a :class:`RecipientResult` per recipient.

    ``delivered``, ``deferred``, ``failed`` and ``suppressed`` (skipped because
    already on the suppression list) partition the recipients, as address lists.
    """

    results: tuple[RecipientResult, ...]

    def __iter__(self) -> Iterator[RecipientResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, recipient: str) -> RecipientResult:
        for result in self.results:
            if result.recipient == recipient:
                return result
        msg = f"{recipient!r} is not a recipient of this send."
        raise KeyError(msg)

    @property
    def delivered(self) -> list[str]:
        """Recipients the server accepted the message for."""
        return [r.recipient for r in self.results if r.delivered]

    @property
    def deferred(self) -> list[str]:
        """Recipients to try again later (see ``retry_at``)."""
        return [r.recipient for r in self.results if r.deferred]

    @property
    def failed(self) -> list[str]:
        """Recipients that failed for good (newly suppressed ones included)."""
        return [r.recipient for r in self.results if r.failed]

    @property
    def suppressed(self) -> list[str]:
        """Recipients skipped because they were already on the suppression list."""
        return [r.recipient for r in self.results if r.skipped]

    @property
    def delivery_unknown(self) -> list[str]:
        """Recipients for whom the server may or may not have taken the message."""
        return [r.recipient for r in self.results if r.verdict.delivery_unknown]

    @property
    def retry_at(self) -> datetime | None:
        """The earliest time a deferred recipient should be tried again."""
        times = [r.retry_at for r in self.results if r.deferred and r.retry_at is not None]
        return min(times) if times else None

    @property
    def complete(self) -> bool:
        """Whether nothing is left to retry."""
        return not any(r.deferred for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "delivered": self.delivered,
            "deferred": self.deferred,
            "failed": self.failed,
            "suppressed": self.suppressed,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "results": [r.as_dict() for r in self.results],
        }


@attrs.define
class TransactionLog:
    """What one SMTP transaction did, written by the I/O layer as it goes.

    ``stage`` is the command in progress (``CONNECT``, ``MAIL``, ``RCPT``,
    ``DATA``); ``data_started`` turns true once the ``DATA`` command is issued,
    after which a lost connection leaves the outcome unknown.
    """

    recipients: tuple[str, ...]
    stage: str = "CONNECT"
    rcpt_replies: dict[str, tuple[int, str]] = attrs.Factory(dict)
    data_started: bool = False
    final_reply: tuple[int, str] | None = None
    failure_reply: tuple[int, str, str] | None = None
    """``(code, text, stage)`` of a reply that ended the whole transaction."""
    error: BaseException | None = None
    """A transport failure (timeout, disconnect, TLS) with no reply to classify."""

    def note_reply(self, stage: str, code: int, text: str, recipient: str | None = None) -> None:
        """Record a reply; a failing non-``RCPT`` reply, a ``421`` or an unreadable one ends it."""
        if stage == "RCPT" and recipient is not None:
            self.rcpt_replies[recipient] = (code, text)
            if code == 421 or not 200 <= code <= 599:
                # The session ends here (closing, or out of step after an unreadable reply).
                self.failure_reply = (code, text, stage)
        elif stage == "DATA" and 200 <= code < 400:
            if code < 300:
                self.final_reply = (code, text)
        elif not 200 <= code < 400:
            self.failure_reply = (code, text, stage)

    @property
    def accepted(self) -> bool:
        """Whether the server took the message (a 2xx after the body)."""
        return self.final_reply is not None and 200 <= self.final_reply[0] < 300


def resolve_transaction(
    log: TransactionLog,
    *,
    reply_verdict: ReplyVerdict,
    error_verdict: ErrorVerdict,
) -> dict[str, tuple[Verdict, bool]]:
    """Decide ``(verdict, delivered)`` for every recipient of a finished transaction.

    ``reply_verdict(code, text, stage)`` classifies a reply; ``error_verdict(exc,
    after_data)`` classifies a transport failure. Precedence per recipient: its own
    refused ``RCPT``; else the accepted message; else the reply that ended the
    transaction; else the transport failure.
    """
    out: dict[str, tuple[Verdict, bool]] = {}
    cache: dict[tuple[int, str, str], Verdict] = {}

    def verdict_for(code: int, text: str, stage: str) -> Verdict:
        key = (code, text, stage)
        if key not in cache:
            cache[key] = reply_verdict(code, text, stage)
        return cache[key]

    for recipient in log.recipients:
        own = log.rcpt_replies.get(recipient)
        if own is not None and not 200 <= own[0] < 300:
            out[recipient] = (verdict_for(own[0], own[1], "RCPT"), False)
        elif log.accepted and log.final_reply is not None and own is not None:
            code, text = log.final_reply
            out[recipient] = (verdict_for(code, text, "DATA"), True)
        elif log.failure_reply is not None:
            code, text, stage = log.failure_reply
            verdict = verdict_for(code, text, stage)
            if not 200 <= code <= 599 and log.data_started and own is not None:
                # An unreadable reply once the body was on its way may have been an
                # acceptance, like a timeout there.
                verdict = attrs.evolve(verdict, delivery_unknown=True)
            out[recipient] = (verdict, False)
        elif log.error is not None:
            after_data = log.data_started and own is not None
            out[recipient] = (error_verdict(log.error, after_data), False)
        else:
            # The transaction ended without a word about this recipient (it was
            # never offered to the server): a connection-level failure of ours.
            out[recipient] = (error_verdict(ConnectionError("not attempted"), False), False)
    return out


class ReplyVerdict(Protocol):
    """Classify ``(code, text, stage)`` into a verdict."""

    def __call__(self, code: int, text: str, stage: str, /) -> Verdict:
        """Classify one reply."""
        ...


class ErrorVerdict(Protocol):
    """Classify a transport exception, knowing whether the body may have been taken."""

    def __call__(self, exc: BaseException, after_data: bool, /) -> Verdict:
        """Classify one exception."""
        ...


def log_verdict(recipient: str, verdict: Verdict, attempt: int) -> None:
    """Emit one ``logging`` record for a recipient's verdict, its fields as attributes.

    Successes log at INFO, everything else at WARNING; the attributes are
    ``smtpcodes_recipient``, ``smtpcodes_attempt``, ``smtpcodes_outcome``,
    ``smtpcodes_category``, ``smtpcodes_retry``, ``smtpcodes_suppress``,
    ``smtpcodes_scope``, ``smtpcodes_delivery_unknown``, ``smtpcodes_code`` and
    ``smtpcodes_rule``, so a formatter or handler can feed metrics.
    """
    level = logging.INFO if verdict.outcome is Outcome.SUCCESS else logging.WARNING
    if not logger.isEnabledFor(level):
        return
    reply = verdict.reply
    logger.log(
        level,
        "%s: %s (%s) on attempt %d",
        recipient,
        verdict.category.value,
        verdict.outcome.value,
        attempt,
        extra={
            "smtpcodes_recipient": recipient,
            "smtpcodes_attempt": attempt,
            "smtpcodes_outcome": verdict.outcome.value,
            "smtpcodes_category": verdict.category.value,
            "smtpcodes_retry": verdict.retry,
            "smtpcodes_suppress": verdict.suppress,
            "smtpcodes_scope": verdict.scope.value,
            "smtpcodes_delivery_unknown": verdict.delivery_unknown,
            "smtpcodes_code": reply.code if reply is not None else None,
            "smtpcodes_rule": verdict.rule,
        },
    )


def _header_addresses(message: email.message.Message, names: Sequence[str]) -> list[str]:
    found: list[str] = []
    for name in names:
        for value in message.get_all(name, []):
            if isinstance(value, email.headerregistry.AddressHeader):
                # Already parsed by the message's policy: no need to parse the text again.
                found += [a.addr_spec for a in value.addresses if a.addr_spec]
            else:
                found += [a for _, a in email.utils.getaddresses([str(value)]) if a]
    return found


def _bare(address: str) -> str:
    """``"Bob <bob@x>"`` -> ``"bob@x"``; a bare address is only trimmed."""
    text = address.strip()
    if text.endswith(">") and "<" in text:
        found = email.utils.parseaddr(text)[1]
        if found:
            return found
    return text


def envelope_of(
    message: Message, recipients: Sequence[str] | str | None, sender: str | None
) -> tuple[str, list[str]]:
    """The envelope sender and the recipients (deduplicated, in order) for a send.

    Taken from the message's headers where not given, as ``smtplib`` and
    ``aiosmtplib`` do (``Sender`` before ``From``; ``To``, ``Cc``, ``Bcc``; the
    ``Resent-`` set when the message is resent). Raises :class:`ValueError` when
    there is no sender or no recipient. Addresses given as ``"Name <addr>"``
    are reduced to ``addr``, the form the report uses.
    """
    if isinstance(message, email.message.Message):
        resent = message.get_all("Resent-Date")
        if resent is not None and len(resent) > 1:
            msg = "The message has more than one Resent- header block; pass the envelope."
            raise ValueError(msg)
        prefix = "Resent-" if resent else ""
        if not sender:
            found = _header_addresses(message, [f"{prefix}Sender"]) or _header_addresses(
                message, [f"{prefix}From"]
            )
            sender = found[0] if found else None
        if recipients is None:
            recipients = _header_addresses(message, [f"{prefix}{h}" for h in ("To", "Cc", "Bcc")])
    if not sender:
        msg = "The message has no sender: pass sender=... or set a From header."
        raise ValueError(msg)
    if isinstance(recipients, str):
        recipients = [recipients]
    if not recipients:
        msg = "The message has no recipients: pass recipients=... or set To/Cc/Bcc headers."
        raise ValueError(msg)
    sender = _bare(sender)
    if _CONTROL.search(sender):
        msg = "The envelope sender contains control characters, which no SMTP command may carry."
        raise ValueError(msg)
    seen: set[str] = set()
    unique: list[str] = []
    for recipient in recipients:
        cleaned = _bare(recipient)
        key = normalize_address(cleaned)
        if key not in seen:
            seen.add(key)
            unique.append(cleaned)
    return sender, unique


# What cannot go on an SMTP command line unquoted (it could smuggle parameters or
# commands into RCPT TO); a quoted local part may hold anything but control characters,
# escaped or not (RFC 5321 §4.1.2: qtextSMTP and quoted-pairSMTP are printable).
_QUOTED_LOCAL = re.compile(r'^"(?:[^"\\\x00-\x1f\x7f]|\\[^\x00-\x1f\x7f])*"')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE = re.compile(r'[\s<>"\x00-\x1f\x7f]')


def address_problem(address: str) -> str | None:
    """Why ``address`` cannot be used as an SMTP recipient, or ``None`` if it can."""
    if not address or len(address) > 320:
        return "The address is empty or longer than 320 characters."
    if "@" not in address:
        return "The address has no @-sign."
    if _UNSAFE.search(_QUOTED_LOCAL.sub("", address, count=1)):
        return "The address contains spaces, brackets, quotes or control characters."
    return None


_REPLY_CACHE_SIZE = 1024


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ResultBuilder:
    """Turns verdicts into :class:`RecipientResult` values, the same way for every sender.

    It checks the suppression list before sending, classifies what a transaction
    logged, adds recipients whose verdict says so to the suppression list, sets
    ``retry_at``, and calls the hooks. ``classifier`` defaults to
    ``Classifier.default()``; its category policies also shape the verdicts made
    here (suppressed, invalid address).
    """

    def __init__(
        self,
        *,
        suppression: SuppressionList | None,
        on_verdict: OnVerdict | None,
        clock: Callable[[], datetime] | None,
        classifier: Classifier | None = None,
    ) -> None:
        self.suppression = suppression
        self.on_verdict = on_verdict
        self.clock = clock or _utcnow
        self.classifier = classifier or Classifier.default()
        self._replies: dict[tuple[int, str, str], Verdict] = {}

    def reply_verdict(self, code: int, text: str, stage: str, /) -> Verdict:
        """Classify one reply of a transaction (the same reply costs a dict lookup)."""
        key = (code, text, stage)
        verdict = self._replies.get(key)
        if verdict is None:
            verdict = classify_response(code, text, stage=stage, classifier=self.classifier)
            if len(self._replies) >= _REPLY_CACHE_SIZE:
                # Servers repeat a few replies; a full cache is mostly one-off texts.
                self._replies.clear()
            self._replies[key] = verdict
        return verdict

    def error_verdict(self, exc: BaseException, after_data: bool, /) -> Verdict:
        """Classify the transport failure that ended a transaction."""
        return exception_verdict(exc, after_data=after_data, classifier=self.classifier)

    def resolve(self, log: TransactionLog) -> dict[str, tuple[Verdict, bool]]:
        """``(verdict, delivered)`` per recipient of a finished transaction."""
        return resolve_transaction(
            log, reply_verdict=self.reply_verdict, error_verdict=self.error_verdict
        )

    def before_sending(
        self, recipient: str, extra: OnVerdict | None = None
    ) -> RecipientResult | None:
        """A result for a recipient that must not be sent to, else ``None``."""
        if self.suppression is not None and recipient in self.suppression:
            entry = self.suppression.get(recipient)
            reason = entry.reason if entry is not None else "on the suppression list"
            verdict = make_verdict(
                Category.RECIPIENT_SUPPRESSED,
                Outcome.PERMANENT,
                rule="local.suppression_list",
                action=f"Not sent: the address is on your suppression list ({reason}).",
                policies=self.classifier.tables.categories,
            )
            self.notify(recipient, verdict, 0, extra)
            return RecipientResult(recipient, verdict, delivered=False, skipped=True)
        problem = address_problem(recipient)
        if problem is not None:
            verdict = make_verdict(
                Category.ADDRESS_INVALID,
                Outcome.PERMANENT,
                rule="local.address_syntax",
                action=f"Not sent: {problem}",
                policies=self.classifier.tables.categories,
            )
            self.notify(recipient, verdict, 0, extra)
            return self.after_attempt(recipient, verdict, delivered=False, attempts=0)
        return None

    def after_attempt(
        self, recipient: str, verdict: Verdict, *, delivered: bool, attempts: int
    ) -> RecipientResult:
        """The result of an attempt; updates the suppression list where the verdict says so."""
        suppressed_now = False
        if (
            not delivered
            and self.suppression is not None
            and (verdict.suppress or verdict.suppress_after is not None)
        ):
            suppressed_now = self.suppression.add(recipient, verdict)
        retry_at = None
        if not delivered and verdict.retry and not suppressed_now:
            window = verdict.retry_after
            retry_at = self.clock() + (window.earliest if window is not None else timedelta(0))
        return RecipientResult(
            recipient,
            verdict,
            delivered=delivered,
            attempts=attempts,
            suppressed_now=suppressed_now,
            retry_at=retry_at,
        )

    def notify(
        self, recipient: str, verdict: Verdict, attempt: int, extra: OnVerdict | None = None
    ) -> None:
        """Log the verdict and call ``on_verdict`` (and a per-send ``extra`` hook)."""
        log_verdict(recipient, verdict, attempt)
        if self.on_verdict is not None:
            self.on_verdict(recipient, verdict)
        if extra is not None:
            extra(recipient, verdict)
