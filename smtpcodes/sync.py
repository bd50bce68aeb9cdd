"""Verdicts for plain ``smtplib`` users: one send, one :class:`~smtpcodes.sendreport.SendReport`.

:func:`send` runs the mail transaction itself with ``smtplib.SMTP``'s ``mail``,
``rcpt`` and ``data`` instead of ``sendmail``, because ``sendmail`` hides what the
report needs: it stops at the first ``421`` and raises with only the recipients
tried so far, and it cannot say whether a dropped connection happened before or
after the message body went out. Flattening follows ``send_message`` (Bcc is not
transmitted; SMTPUTF8 when an address needs it).

No retries here: the report's ``deferred`` and ``retry_at`` tell the caller when
to try again.
"""

from __future__ import annotations

import contextlib
import copy
import email.generator
import email.message
import io
import re
import smtplib
from collections.abc import Callable, Sequence
from datetime import datetime

from .classifier import Classifier
from .exceptions import is_unreadable_reply
from .sendreport import (
    Message,
    OnVerdict,
    RecipientResult,
    ResultBuilder,
    SendReport,
    TransactionLog,
    envelope_of,
)
from .suppression import SuppressionList

__all__ = ["send"]


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else reply


_LINE_END = re.compile(r"\r\n|\r|\n")


def _flatten(
    smtp: smtplib.SMTP, message: Message, sender: str, recipients: Sequence[str]
) -> tuple[bytes | str, list[str]]:
    """The bytes to send and the extra MAIL options they need."""
    international = not "".join([sender, *recipients]).isascii()
    if international and not smtp.has_extn("smtputf8"):
        msg = "An address needs SMTPUTF8, which the server does not offer."
        raise smtplib.SMTPNotSupportedError(msg)
    if not isinstance(message, email.message.Message):
        # smtplib would encode a str body as ASCII only after DATA was accepted, leaving
        # the session stuck in DATA mode on any other character: send UTF-8 instead.
        if isinstance(message, str):
            message = _LINE_END.sub("\r\n", message).encode("utf-8")
        return message, ["SMTPUTF8"] if international else []
    options: list[str] = []
    clean = copy.copy(message)
    del clean["Bcc"]
    del clean["Resent-Bcc"]
    buffer = io.BytesIO()
    if international:
        generator = email.generator.BytesGenerator(buffer, policy=message.policy.clone(utf8=True))  # type: ignore[call-arg]
        options += ["SMTPUTF8", "BODY=8BITMIME"]
    else:
        generator = email.generator.BytesGenerator(buffer)
    generator.flatten(clean, linesep="\r\n")
    return buffer.getvalue(), options


def _ends_session(code: int) -> bool:
    """Whether a reply leaves the session unusable: a ``421``, or one without a code.

    smtplib answers ``-1`` for a reply it could not read; whatever is left of it
    would pass for the reply to the next command.
    """
    return code == 421 or not 200 <= code <= 599


def _reset(smtp: smtplib.SMTP) -> None:
    # A failed RSET changes nothing for this report; the next send will notice.
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.rset()


def _transact(
    smtp: smtplib.SMTP,
    log: TransactionLog,
    message: Message,
    sender: str,
    recipients: Sequence[str],
    *,
    mail_options: Sequence[str],
    rcpt_options: Sequence[str],
) -> None:
    try:
        log.stage = "EHLO"
        smtp.ehlo_or_helo_if_needed()
        body, extra = _flatten(smtp, message, sender, recipients)
        options = [*mail_options, *extra]
        if smtp.does_esmtp and smtp.has_extn("size"):
            size = len(body.encode("utf-8") if isinstance(body, str) else body)
            options.insert(0, f"SIZE={size}")
        log.stage = "MAIL"
        code, reply = smtp.mail(sender, options)
        log.note_reply("MAIL", code, _text(reply))
        if _ends_session(code):
            smtp.close()
            return
        if not 200 <= code < 300:
            _reset(smtp)
            return
        log.stage = "RCPT"
        accepted = 0
        for recipient in recipients:
            code, reply = smtp.rcpt(recipient, list(rcpt_options))
            log.note_reply("RCPT", code, _text(reply), recipient)
            if _ends_session(code):
                smtp.close()
                return
            accepted += 200 <= code < 300
        if not accepted:
            _reset(smtp)
            return
        log.stage = "DATA"
        log.data_started = True
        code, reply = smtp.data(body)
        log.note_reply("DATA", code, _text(reply))
        if _ends_session(code):
            smtp.close()
        elif not 200 <= code < 300:
            _reset(smtp)
    except smtplib.SMTPResponseException as exc:
        if is_unreadable_reply(exc):
            # A reply line too long to read: smtplib closed the connection already.
            log.error = exc
            smtp.close()
            return
        # EHLO refused, or DATA answered with something other than 354.
        log.note_reply(log.stage, exc.smtp_code, _text(exc.smtp_error))
        if _ends_session(exc.smtp_code):
            smtp.close()
        elif log.stage in {"MAIL", "RCPT", "DATA"}:
            _reset(smtp)
    except smtplib.SMTPNotSupportedError as exc:
        log.error = exc
    except (smtplib.SMTPException, OSError) as exc:
        # Disconnects, timeouts, TLS errors: the connection is of no further use.
        log.error = exc
        smtp.close()


def send(
    smtp: smtplib.SMTP,
    message: Message,
    /,
    recipients: Sequence[str] | str | None = None,
    *,
    sender: str | None = None,
    suppression: SuppressionList | None = None,
    on_verdict: OnVerdict | None = None,
    clock: Callable[[], datetime] | None = None,
    classifier: Classifier | None = None,
    mail_options: Sequence[str] = (),
    rcpt_options: Sequence[str] = (),
) -> SendReport:
    """Send ``message`` over a connected ``smtplib.SMTP`` and report per recipient.

    Arguments and the report are those of :meth:`smtpcodes.aio.Sender.send`:
    suppressed recipients are skipped before any command is sent and suppressing
    verdicts are added to ``suppression``. One attempt; never raises for what the
    server or the network does; raises :class:`ValueError` for a message without
    sender or recipients. After a ``421`` or a lost connection the client is
    closed (the report says why): call ``smtp.connect()`` before the next send.
    """
    results_of = ResultBuilder(
        suppression=suppression, on_verdict=on_verdict, clock=clock, classifier=classifier
    )
    envelope_sender, wanted = envelope_of(message, recipients, sender)
    results: dict[str, RecipientResult] = {}
    pending: list[str] = []
    for recipient in wanted:
        skipped = results_of.before_sending(recipient)
        if skipped is None:
            pending.append(recipient)
        else:
            results[recipient] = skipped
    if pending:
        log = TransactionLog(tuple(pending))
        _transact(
            smtp,
            log,
            message,
            envelope_sender,
            pending,
            mail_options=mail_options,
            rcpt_options=rcpt_options,
        )
        outcome = results_of.resolve(log)
        for recipient in pending:
            verdict, delivered = outcome[recipient]
            results_of.notify(recipient, verdict, 1)
            results[recipient] = results_of.after_attempt(
                recipient, verdict, delivered=delivered, attempts=1
            )
    return SendReport(tuple(results[r] for r in wanted))
