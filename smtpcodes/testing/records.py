"""What a :class:`~smtpcodes.testing.ScriptedSMTPServer` saw: sessions, exchanges, messages.

The server's thread writes these records while the test's thread reads them, so a
:class:`SessionRecord` guards its list with a lock and hands out immutable snapshots.
A reply is recorded *before* it is written to the socket, so anything a client has
already received is already in the record when the client returns.
"""

from __future__ import annotations

import threading
from email.message import EmailMessage

import attrs

__all__ = ["Exchange", "ReceivedMessage", "SessionRecord"]


@attrs.frozen
class Exchange:
    """One command of a session and what the server answered.

    ``stage`` is the script stage the command belongs to (``CONNECT`` for the greeting,
    ``EHLO`` also for HELO, ``EOM`` for the end of the message data) or the verb itself
    for commands outside the script (``QUIT``, ``RSET``, ``STARTTLS``...). ``command`` is
    the line as received (``""`` for the greeting, ``"."`` for the end of data).
    ``replies`` holds every reply sent for it, usually one (AUTH challenges add more);
    ``dropped`` tells that the server closed the connection instead of answering.
    """

    stage: str
    command: str
    replies: tuple[str, ...] = ()
    dropped: bool = False

    @property
    def reply(self) -> str | None:
        """The last reply sent for this command, or ``None`` if there was none."""
        return self.replies[-1] if self.replies else None


class SessionRecord:
    """The record of one client connection: its peer and its exchanges, in order."""

    def __init__(self, index: int) -> None:
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._closed = False
        #: The position of this session among the server's sessions, from 0.
        self.index = index
        #: The client's address as ``(host, port)``, once the connection is made.
        self.peer: tuple[str, int] | None = None

    def __repr__(self) -> str:
        return f"<SessionRecord #{self.index} peer={self.peer!r} exchanges={len(self.exchanges)}>"

    @property
    def exchanges(self) -> tuple[Exchange, ...]:
        """A snapshot of the exchanges so far."""
        with self._lock:
            return tuple(self._exchanges)

    @property
    def commands(self) -> tuple[str, ...]:
        """The command lines the client sent, in order (the greeting not included)."""
        return tuple(x.command for x in self.exchanges if x.stage != "CONNECT")

    @property
    def replies(self) -> tuple[str, ...]:
        """Every reply the server sent in this session, in order."""
        return tuple(reply for x in self.exchanges for reply in x.replies)

    @property
    def dropped(self) -> bool:
        """Whether the server dropped the connection instead of answering."""
        return any(x.dropped for x in self.exchanges)

    @property
    def closed(self) -> bool:
        """Whether the connection has ended (either side closed it)."""
        with self._lock:
            return self._closed

    def open_exchange(self, stage: str, command: str) -> None:
        """Start recording the answer to ``command``."""
        with self._lock:
            self._exchanges.append(Exchange(stage, command))

    def add_reply(self, reply: str) -> None:
        """Record ``reply`` as (part of) the answer to the latest command."""
        with self._lock:
            if not self._exchanges:
                self._exchanges.append(Exchange("CONNECT", ""))
            last = self._exchanges[-1]
            if last.replies and last.replies[-1].rpartition("\r\n")[2][3:4] == "-":
                # aiosmtpd pushes a multi-line reply (EHLO) line by line: keep it whole.
                merged = f"{last.replies[-1]}\r\n{reply}"
                self._exchanges[-1] = attrs.evolve(last, replies=(*last.replies[:-1], merged))
            else:
                self._exchanges[-1] = attrs.evolve(last, replies=(*last.replies, reply))

    def mark_dropped(self) -> None:
        """Record that the server dropped the connection while answering the latest command."""
        with self._lock:
            if not self._exchanges:
                self._exchanges.append(Exchange("CONNECT", ""))
            self._exchanges[-1] = attrs.evolve(self._exchanges[-1], dropped=True)

    def mark_closed(self) -> None:
        """Record that the connection has ended."""
        with self._lock:
            self._closed = True


class ReceivedMessage(EmailMessage):
    """A message the server accepted, parsed, with its SMTP envelope.

    It is an :class:`email.message.EmailMessage` (``msg["Subject"]``,
    ``msg.get_content()``...) that also carries ``envelope_sender`` (the MAIL FROM
    address, ``""`` for the null sender), ``envelope_recipients`` (the accepted RCPT TO
    addresses) and ``raw`` (the bytes received, dot-unstuffed). Sub-parts of a multipart
    message are of this class too but carry no envelope.
    """

    envelope_sender: str | None = None
    envelope_recipients: tuple[str, ...] = ()
    raw: bytes = b""
