"""Turn what a report says about a recipient into a :class:`~smtpcodes.Verdict`.

A report can say two things: the DSN ``Status:`` field (an RFC 3463 code the
reporting MTA chose) and the diagnostic text (often the remote server's own
reply). Precedence, as documented in the README (Reading bounces):

1. A diagnostic that parses as an SMTP reply with a basic code decides: it is
   the remote server's own words. When that reply has no enhanced code, the
   ``Status:`` field is lent to it (so ``550 Unknown user`` with ``Status:
   5.1.1`` classifies as 5.1.1 would).
2. A ``Status:`` without a reply code: the diagnostic text alone decides
   when the classifier recognises it and its outcome agrees with the status
   class (``lost connection ...`` under ``4.4.2``); otherwise the record is
   classified as the reply ``<basic> <status> <diagnostic text>``, the basic
   code following the status class (550, 450 or 250).
3. With neither, the text alone is classified; when that says nothing, the
   RFC 3464 action supplies the class (failed 550, delayed 450).
"""

from __future__ import annotations

import re

import attrs

from ..classifier import Classifier
from ..errors import ReplyParseError
from ..policy import make_verdict
from ..reply import EnhancedCode, Reply, parse_reply
from ..verdict import Category, Outcome, Verdict

__all__ = [
    "complaint_verdict",
    "infer_status",
    "parse_status",
    "reply_from_diagnostic",
    "vacation_verdict",
    "verdict_for",
]

_QUOTED_REPLY = re.compile(r"[:'\"]\s{0,4}([245]\d\d)(?=[ -]\S|$)")
_QUOTED_ENHANCED = re.compile(r"\b([245]\d\d)[ -]'([245]\.\d{1,3}\.\d{1,3})")
_LOOSE_REPLY = re.compile(r"(?<![\w.\-/#=:])([45]\d\d)(?=:?\s[A-Za-z<\"'(\[])")
_FAILURE_CODE = re.compile(r"(?<![\w.\-])([45]\d\d)(?=[ -]\S)")
_BASIC_FOR_CLASS = {2: 250, 4: 450, 5: 550}
_BASIC_FOR_ACTION = {
    "failed": 550,
    "delayed": 450,
    "delivered": 250,
    "relayed": 250,
    "expanded": 250,
}


def parse_status(value: str) -> EnhancedCode | None:
    """The enhanced code in a ``Status:`` value (``5.1.1 (user unknown)`` too), or None."""
    head = value.strip().split(" ", 1)[0].strip("()#;,")
    if not head:
        return None
    try:
        return EnhancedCode.parse(head)
    except ValueError:
        return None


def reply_from_diagnostic(diagnostic: str, action: str = "") -> Reply | None:
    """The SMTP reply in a diagnostic text, when it carries a basic code.

    For a failed or delayed recipient a 2xx code is not the answer that
    failed (``220-banner 421 4.2.1 Service refused``): the first 4xx/5xx
    reply after it is taken instead, or none.
    """
    reply = _first_reply(diagnostic)
    if reply is None or reply.reply_class != 2 or action not in ("failed", "delayed"):
        return reply
    text = _unjoin(diagnostic[:8192])
    for m in _FAILURE_CODE.finditer(text):
        try:
            return parse_reply(text[m.start(1) :])
        except ReplyParseError:
            continue
    return None


def _first_reply(diagnostic: str) -> Reply | None:
    if not diagnostic:
        return None
    text = _unjoin(diagnostic[:8192])
    try:
        return parse_reply(text)
    except ReplyParseError:
        pass
    # MTAs quote the remote reply after a colon: "... after initial connection: 554 ...".
    for m in _QUOTED_REPLY.finditer(text):
        try:
            return parse_reply(text[m.start(1) :])
        except ReplyParseError:
            continue
    # Last resort: a 4xx/5xx code followed by words anywhere ("server message 550 unknown
    # user", "550: <a@b>: User unknown", "<<< 550 <a@b>...").
    for m in _LOOSE_REPLY.finditer(text):
        candidate = text[m.start(1) :]
        if candidate[3:4] == ":":
            candidate = candidate[:3] + candidate[4:]
        try:
            return parse_reply(candidate)
        except ReplyParseError:
            continue
    return None


_LEADING_CODE = re.compile(
    r"\s{0,8}(?:[A-Za-z-]{1,20};\s{0,4})?([245]\d\d)[ -]([245]\.\d{1,3}\.\d{1,3} )?"
)


def _unjoin(text: str) -> str:
    """Restore the lines of a multi-line reply that a DSN joined into one line.

    Postfix writes ``550-5.7.1 first part 550-5.7.1 second part 550 5.7.1 end``
    into ``Diagnostic-Code``; the repeated ``550-5.7.1`` prefixes are line
    starts, and treating them as text would hide the reply's words.
    """
    # SES quotes the remote reply: "550-'5.2.2 <a@b>... Mailbox Full'".
    text = _QUOTED_ENHANCED.sub(r"\1 \2", text)
    m = _LEADING_CODE.match(text)
    if m is None or "\n" in text:
        return text
    code = m[1]
    enhanced = m[2] or ""
    if text.count(f" {code}-{enhanced}") + text.count(f" {code} {enhanced}") < 1:
        return text
    for sep in ("-", " "):
        text = text[: m.end()] + text[m.end() :].replace(
            f" {code}{sep}{enhanced}", f"\n{code}{sep}{enhanced}"
        )
    return text


def verdict_for(
    classifier: Classifier,
    *,
    action: str,
    status: EnhancedCode | None,
    reply: Reply | None,
    diagnostic: str,
) -> Verdict:
    """Classify one recipient's outcome following the module's precedence rules.

    A ``failed`` recipient whose last error was a network one (no connection,
    a timeout) failed because the reporting MTA gave up retrying: MTAs retry
    those until the queue lifetime ends, so the message expired (the labeling
    rules read a relay's "I'm not going to try again" so even under 451).
    Other passing errors (a busy server, a 4xx block) keep their category,
    which says more about what to fix.
    """
    verdict = _verdict_of(
        classifier, action=action, status=status, reply=reply, diagnostic=diagnostic
    )
    if action == "failed" and verdict.category is Category.NETWORK_ERROR:
        return make_verdict(
            Category.EXPIRED,
            Outcome.PERMANENT,
            reply=verdict.reply,
            rule="dsn.failed_after_retries",
            policies=classifier.tables.categories,
        )
    return verdict


def _verdict_of(
    classifier: Classifier,
    *,
    action: str,
    status: EnhancedCode | None,
    reply: Reply | None,
    diagnostic: str,
) -> Verdict:
    if reply is not None:
        # A generic X.0.0 status says nothing the basic code does not; lend only a specific one.
        if (
            reply.enhanced is None
            and status is not None
            and (status.subject, status.detail) != (0, 0)
        ):
            reply = attrs.evolve(
                reply, enhanced=status, enhanced_mismatch=status.class_ != reply.reply_class
            )
        return classifier.classify(reply)
    text = " ".join(diagnostic.split())[:4000]
    if status is not None:
        if text:
            # A status text with no code ("lost connection ...") says more than X.0.0 does,
            # as long as it does not contradict the status class.
            verdict = classifier.classify(text)
            agrees = {Outcome.TRANSIENT: 4, Outcome.PERMANENT: 5, Outcome.SUCCESS: 2}.get(
                verdict.outcome
            )
            if verdict.category is not Category.UNKNOWN and agrees == status.class_:
                return verdict
        basic = _BASIC_FOR_CLASS.get(status.class_, 550)
        return classifier.classify(f"{basic} {status} {text}".rstrip())
    if text:
        verdict = classifier.classify(text)
        if verdict.category is not Category.UNKNOWN or action not in _BASIC_FOR_ACTION:
            return verdict
    basic = _BASIC_FOR_ACTION.get(action, 550)
    return classifier.classify(f"{basic} {text}".rstrip())


def vacation_verdict() -> Verdict:
    """An auto-reply: the message was delivered; nothing to suppress."""
    return make_verdict(
        Category.DELIVERED, Outcome.SUCCESS, rule="rfc3834.auto_reply", suppress=False
    )


def complaint_verdict(feedback_type: str | None) -> Verdict:
    """An ARF feedback report: the recipient complained; stop mailing it.

    A ``not-spam`` report (the recipient rescued the message) is the opposite
    of a complaint and suppresses nothing.
    """
    if (feedback_type or "").strip().lower() == "not-spam":
        return make_verdict(
            Category.DELIVERED, Outcome.SUCCESS, rule="arf.not_spam", suppress=False
        )
    return make_verdict(
        Category.RECIPIENT_SUPPRESSED,
        Outcome.PERMANENT,
        rule="arf.complaint",
        suppress=True,
        retry=False,
    )


# The RFC 3463 code that names each category's cause, where one does (subject, detail).
_CATEGORY_CODES: dict[Category, tuple[int, int]] = {
    Category.MAILBOX_UNKNOWN: (1, 1),
    Category.MAILBOX_DISABLED: (2, 1),
    Category.MAILBOX_FULL: (2, 2),
    Category.MAILBOX_MOVED: (1, 6),
    Category.DOMAIN_INVALID: (1, 2),
    Category.ADDRESS_INVALID: (1, 3),
    Category.RELAY_DENIED: (7, 1),
    Category.GREYLISTED: (7, 1),
    Category.NETWORK_ERROR: (4, 1),
    Category.DNS_ERROR: (4, 3),
    Category.BLOCKED: (7, 1),
    Category.SPAM_CONTENT: (7, 1),
    Category.POLICY: (7, 1),
    Category.SENDER_AUTH: (7, 1),
    Category.MESSAGE_TOO_LARGE: (3, 4),
    Category.CONTENT_INVALID: (6, 0),
    Category.SENDER_REJECTED: (1, 8),
    Category.AUTH_FAILED: (7, 8),
    Category.AUTH_REQUIRED: (7, 0),
    Category.TLS_REQUIRED: (7, 0),
    Category.TOO_MANY_RECIPIENTS: (5, 3),
    Category.PROTOCOL_ERROR: (5, 0),
    Category.EXPIRED: (4, 7),
    Category.MAIL_LOOP: (4, 6),
    Category.SYSTEM_ERROR: (3, 0),
}
_CLASS_FOR_OUTCOME = {Outcome.PERMANENT: 5, Outcome.TRANSIENT: 4, Outcome.SUCCESS: 2}


def infer_status(verdict: Verdict, action: str) -> EnhancedCode | None:
    """A status for a record whose report gave none: the verdict's class and cause.

    The class follows the RFC 3464 action when there is one (``failed`` 5,
    ``delayed`` 4, ``delivered`` 2), else the verdict's outcome; the subject
    and detail name the category's cause (``X.1.1`` for an unknown mailbox),
    or ``X.0.0`` when the category has no code of its own.
    """
    klass = {"failed": 5, "delayed": 4, "delivered": 2, "relayed": 2, "expanded": 2}.get(
        action
    ) or _CLASS_FOR_OUTCOME.get(verdict.outcome)
    if klass is None:
        return None
    if klass == 2:
        return EnhancedCode(2, 0, 0)
    subject, detail = _CATEGORY_CODES.get(verdict.category, (0, 0))
    return EnhancedCode(klass, subject, detail)
