"""Turn ``smtplib`` and ``aiosmtplib`` exceptions into verdicts.

An exception that carries a server reply (``SMTPResponseException`` and its kin
in both libraries) is classified from that reply, at the stage its class names
(``SMTPSenderRefused`` answered ``MAIL``, ``SMTPDataError`` answered ``DATA``...).
``SMTPRecipientsRefused`` carries one reply per recipient and becomes a mapping.
Everything without a reply (refused or reset connections, timeouts, TLS
failures) is a transient ``network_error``, with ``delivery_unknown`` when the
caller says the message body was already on its way.

Neither library is imported here: an exception can only be one of theirs if its
module was already loaded, so ``sys.modules`` is consulted instead, keeping
``import smtpcodes`` light.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from .classifier import Classifier
from .policy import make_verdict
from .verdict import Category, Outcome, Verdict

__all__ = [
    "classify_exception",
    "exception_verdict",
    "classify_response",
    "exception_verdicts",
    "is_unreadable_reply",
]


def _as_text(message: object) -> str:
    if isinstance(message, bytes | bytearray):
        return bytes(message).decode("utf-8", errors="replace")
    return str(message)


def classify_response(
    code: int,
    message: str | bytes,
    /,
    *,
    stage: str | None = None,
    classifier: Classifier | None = None,
) -> Verdict:
    """Classify a reply as the SMTP libraries hand it over: a code and its text.

    Multi-line text (``aiosmtplib`` joins lines with ``\\n``) is rebuilt into the
    wire form so that the classifier reads every line. A code outside 200-599
    (``aiosmtplib`` uses ``-1`` for a reply it could not read) is a
    ``protocol_error``. ``classifier`` defaults to ``Classifier.default()``.
    """
    classifier = classifier or Classifier.default()
    text = _as_text(message)
    if not 200 <= code <= 599:
        return _invalid_reply_verdict(classifier)
    lines = text.split("\n")[:200] or [""]
    wire = "\r\n".join(f"{code}-{line.rstrip()}" for line in lines[:-1])
    last = f"{code} {lines[-1].rstrip()}".rstrip()
    wire = f"{wire}\r\n{last}" if wire else last
    return classifier(wire, stage=stage)


def _invalid_reply_verdict(classifier: Classifier, *, after_data: bool = False) -> Verdict:
    """The server's reply could not be read: nothing it said can be classified.

    After the message body it may have been an acceptance, hence ``delivery_unknown``.
    """
    return make_verdict(
        Category.PROTOCOL_ERROR,
        Outcome.TRANSIENT,
        rule="exception.invalid_reply",
        retry=True,
        delivery_unknown=after_data,
        policies=classifier.tables.categories,
    )


def is_unreadable_reply(exc: BaseException) -> bool:
    """Whether ``exc`` is ``smtplib``'s own ``500 Line too long.``, not a server's reply.

    ``smtplib`` raises it, with a ``str`` text where server replies are ``bytes``,
    when a reply line exceeds its limit; classified as a reply it would read as
    a refused message.
    """
    std = _library_classes("smtplib")
    return (
        std is not None
        and isinstance(exc, std.SMTPResponseException)
        and isinstance(exc.smtp_error, str)
        and exc.smtp_code == 500
        and exc.smtp_error.startswith("Line too long")
    )


def _library_classes(module_name: str) -> Any:
    return sys.modules.get(module_name)


def _is_asyncio_timeout(exc: BaseException) -> bool:
    # Before Python 3.11 asyncio.TimeoutError (aiosmtplib's timeout base) is not the
    # builtin TimeoutError.
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.TimeoutError)


def _network_verdict(exc: BaseException, *, after_data: bool, classifier: Classifier) -> Verdict:
    return make_verdict(
        Category.NETWORK_ERROR,
        Outcome.TRANSIENT,
        rule=f"exception.{type(exc).__name__}",
        delivery_unknown=after_data,
        policies=classifier.tables.categories,
    )


def _local_verdict(category: Category, exc: BaseException, classifier: Classifier) -> Verdict:
    return make_verdict(
        category,
        Outcome.PERMANENT,
        rule=f"exception.{type(exc).__name__}",
        policies=classifier.tables.categories,
    )


def _no_reply_verdict(exc: BaseException, *, after_data: bool, classifier: Classifier) -> Verdict:
    """A library exception without a reply code: name the problem by its text."""
    text = str(exc).lower()
    if "auth" in text:
        return _local_verdict(Category.AUTH_FAILED, exc, classifier)
    if "tls" in text or "ssl" in text:
        return _local_verdict(Category.TLS_REQUIRED, exc, classifier)
    if "smtputf8" in text or "not supported" in text:
        return _local_verdict(Category.PROTOCOL_ERROR, exc, classifier)
    return _network_verdict(exc, after_data=after_data, classifier=classifier)


def classify_exception(
    exc: BaseException,
    /,
    *,
    stage: str | None = None,
    after_data: bool = False,
    classifier: Classifier | None = None,
) -> Verdict | dict[str, Verdict]:
    """Map an ``smtplib`` or ``aiosmtplib`` exception to verdicts.

    Returns a mapping recipient → :class:`~smtpcodes.Verdict` for
    ``SMTPRecipientsRefused`` (both libraries), else one verdict. ``stage`` names
    the command that failed when the exception's class does not; ``after_data``
    says the message body may have reached the server, which makes a timeout or a
    dropped connection ``delivery_unknown``. ``classifier`` (default
    ``Classifier.default()``) classifies the replies and supplies the category
    policies.

    >>> import smtplib
    >>> classify_exception(smtplib.SMTPServerDisconnected("gone")).category.value
    'network_error'
    """
    classifier = classifier or Classifier.default()
    aio = _library_classes("aiosmtplib")
    std = _library_classes("smtplib")
    if aio is not None and isinstance(exc, aio.SMTPRecipientsRefused):
        return {
            err.recipient: classify_response(
                err.code, err.message, stage="RCPT", classifier=classifier
            )
            for err in exc.recipients
        }
    if std is not None and isinstance(exc, std.SMTPRecipientsRefused):
        return {
            str(rcpt): classify_response(int(code), text, stage="RCPT", classifier=classifier)
            for rcpt, (code, text) in exc.recipients.items()
        }
    if is_unreadable_reply(exc):
        return _invalid_reply_verdict(classifier, after_data=after_data)
    reply = _reply_of(exc, aio, std, stage)
    if reply is not None:
        code, text, reply_stage = reply
        return classify_response(code, text, stage=reply_stage, classifier=classifier)
    if aio is not None and isinstance(exc, aio.SMTPNotSupported):
        return _local_verdict(Category.PROTOCOL_ERROR, exc, classifier)
    if std is not None and isinstance(exc, std.SMTPNotSupportedError):
        return _local_verdict(Category.PROTOCOL_ERROR, exc, classifier)
    if isinstance(exc, TimeoutError | ConnectionError) or _is_asyncio_timeout(exc):
        return _network_verdict(exc, after_data=after_data, classifier=classifier)
    if (aio is not None and type(exc) is aio.SMTPException) or (
        std is not None and type(exc) is std.SMTPException
    ):
        return _no_reply_verdict(exc, after_data=after_data, classifier=classifier)
    if isinstance(exc, OSError):
        # Sockets, DNS resolution and TLS (ssl.SSLError is an OSError) all land here.
        return _network_verdict(exc, after_data=after_data, classifier=classifier)
    return make_verdict(
        Category.UNKNOWN,
        Outcome.UNKNOWN,
        rule=f"exception.{type(exc).__name__}",
        delivery_unknown=after_data,
        policies=classifier.tables.categories,
    )


# The exception classes of aiosmtplib and smtplib that say which command was refused,
# most specific first (a class missing from one library is skipped).
_STAGE_OF_CLASS = (
    ("SMTPRecipientRefused", "RCPT"),
    ("SMTPSenderRefused", "MAIL"),
    ("SMTPDataError", "DATA"),
    ("SMTPAuthenticationError", "AUTH"),
    ("SMTPHeloError", "EHLO"),
    ("SMTPConnectResponseError", "CONNECT"),
    ("SMTPConnectError", "CONNECT"),
)


def _stage_of(exc: BaseException, library: Any) -> str | None:
    """The SMTP stage the exception's class names, in the given library."""
    for name, stage in _STAGE_OF_CLASS:
        cls = getattr(library, name, None)
        if cls is not None and isinstance(exc, cls):
            return stage
    return None


def _reply_of(
    exc: BaseException, aio: Any, std: Any, stage: str | None
) -> tuple[int, str | bytes, str | None] | None:
    """``(code, text, stage)`` when the exception carries a server reply."""
    if aio is not None and isinstance(exc, aio.SMTPResponseException):
        named = _stage_of(exc, aio) or stage
        return int(exc.code), exc.message, named or None
    if std is not None and isinstance(exc, std.SMTPResponseException):
        named = _stage_of(exc, std) or stage
        return int(exc.smtp_code), exc.smtp_error, named or None
    return None


def exception_verdicts(
    exc: BaseException,
    recipients: Iterable[str],
    /,
    *,
    stage: str | None = None,
    after_data: bool = False,
    classifier: Classifier | None = None,
) -> dict[str, Verdict]:
    """Like :func:`classify_exception`, but always one verdict per given recipient.

    A recipient that a ``SMTPRecipientsRefused`` does not name shares the verdict
    of a ``421`` among those it does (the server closed the session; stdlib
    ``smtplib`` stops there), else gets a ``network_error``: it was never accepted.
    """
    classifier = classifier or Classifier.default()
    found = classify_exception(exc, stage=stage, after_data=after_data, classifier=classifier)
    wanted = list(recipients)
    if isinstance(found, Verdict):
        return dict.fromkeys(wanted, found)
    closing = _closing_verdict(exc, found)
    fallback = closing or _network_verdict(exc, after_data=False, classifier=classifier)
    return {r: found.get(r, fallback) for r in wanted}


def _closing_verdict(exc: BaseException, found: dict[str, Verdict]) -> Verdict | None:
    for verdict in found.values():
        if verdict.reply is not None and verdict.reply.code == 421:
            return verdict
    return None


def exception_verdict(
    exc: BaseException,
    /,
    *,
    after_data: bool = False,
    classifier: Classifier | None = None,
) -> Verdict:
    """Like :func:`classify_exception`, but one verdict even for ``SMTPRecipientsRefused``.

    The senders use it for the failure that ended a transaction; a per-recipient
    refusal there means the connection is in doubt, hence a ``network_error``.
    """
    classifier = classifier or Classifier.default()
    found = classify_exception(exc, after_data=after_data, classifier=classifier)
    if isinstance(found, Verdict):
        return found
    return _network_verdict(exc, after_data=after_data, classifier=classifier)
