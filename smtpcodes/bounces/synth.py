"""Build delivery status notifications, for tests and benchmarks.

:func:`make_dsn` writes the kind of report Postfix sends: a
``multipart/report`` with a human-readable notice, a
``message/delivery-status`` part (one block per recipient) and the returned
headers. Applications use it to test their bounce handling without a mail
server; smtpcodes' own tests and benchmark use it to check that a reply
wrapped in a DSN classifies as the bare reply does.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

__all__ = ["DsnRecipientSpec", "make_dsn"]


@attrs.frozen
class DsnRecipientSpec:
    """One recipient of a synthetic DSN: the address, the reply and the action."""

    address: str
    reply: str
    action: str = "failed"
    status: str | None = None


def _status_for(reply: str, action: str) -> str:
    parts = reply.split(None, 2)
    if len(parts) > 1:
        candidate = parts[1].lstrip("#(").rstrip(")")
        pieces = candidate.split(".")
        if len(pieces) == 3 and all(p.isdigit() for p in pieces) and pieces[0] in "245":
            return candidate
    code = parts[0][:1] if parts and parts[0][:1] in "245" else ""
    if code:
        return f"{code}.0.0"
    return {"delayed": "4.0.0", "delivered": "2.0.0"}.get(action, "5.0.0")


def make_dsn(
    recipients: Sequence[DsnRecipientSpec],
    *,
    reporting_mta: str = "mail.example.org",
    remote_mta: str = "mx.example.com",
    sender: str = "sender@example.org",
    subject: str = "Hello",
    message_id: str = "<original.1@example.org>",
    boundary: str = "B0UNDARY.1700000000/mail.example.org",
) -> bytes:
    """A Postfix-style RFC 3464 report for ``recipients``, as bytes (CRLF line ends).

    Multi-line replies are written as Postfix writes them into
    ``Diagnostic-Code``: their lines joined by spaces, folded.
    """
    notice = [
        "This is the mail system at host " + reporting_mta + ".",
        "",
        "I'm sorry to have to inform you that your message could not",
        "be delivered to one or more recipients. It's attached below.",
        "",
    ]
    blocks: list[str] = []
    for spec in recipients:
        reply = " ".join(spec.reply.split())
        notice.append(f"<{spec.address}>: host {remote_mta}[192.0.2.1] said: {reply}")
        notice.append("")
        status = spec.status or _status_for(reply, spec.action)
        blocks.append(
            "\r\n".join(
                [
                    f"Final-Recipient: rfc822; {spec.address}",
                    f"Original-Recipient: rfc822;{spec.address}",
                    f"Action: {spec.action}",
                    f"Status: {status}",
                    f"Remote-MTA: dns; {remote_mta}",
                    f"Diagnostic-Code: smtp; {_fold(reply)}",
                ]
            )
        )
    first = recipients[0].address if recipients else "nobody@example.com"
    head = "\r\n".join(
        [
            "Return-Path: <>",
            f"From: MAILER-DAEMON@{reporting_mta} (Mail Delivery System)",
            f"To: {sender}",
            "Subject: Undelivered Mail Returned to Sender",
            f"Message-Id: <20240101000000.DSN@{reporting_mta}>",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=delivery-status;",
            f'\tboundary="{boundary}"',
        ]
    )
    per_message = "\r\n".join(
        [
            f"Reporting-MTA: dns; {reporting_mta}",
            "X-Postfix-Queue-ID: 4ABCDEF123",
            f"X-Postfix-Sender: rfc822; {sender}",
            "Arrival-Date: Mon,  1 Jan 2024 00:00:00 +0000 (UTC)",
        ]
    )
    parts = [
        "Content-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        + "\r\n".join(notice),
        "Content-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
        + per_message
        + "\r\n\r\n"
        + "\r\n\r\n".join(blocks)
        + "\r\n",
        "Content-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers"
        "\r\n\r\n"
        + "\r\n".join(
            [
                f"From: {sender}",
                f"To: {first}",
                f"Subject: {subject}",
                f"Message-ID: {message_id}",
                "Date: Mon, 1 Jan 2024 00:00:00 +0000",
            ]
        ),
    ]
    body = "This is a MIME-encapsulated message.\r\n\r\n"
    for part in parts:
        body += f"--{boundary}\r\n{part}\r\n\r\n"
    body += f"--{boundary}--\r\n"
    return (head + "\r\n\r\n" + body).encode("utf-8")


def _fold(text: str, width: int = 76) -> str:
    """Fold a long field value at spaces (continuation lines start with a space)."""
    words = text.split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return "\r\n    ".join(lines)
