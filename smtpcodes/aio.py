"""An asyncio sender over ``aiosmtplib`` that acts on verdicts.

:class:`Sender` keeps a bounded pool of SMTP connections open across sends,
reconnects when the server drops one, and returns a
:class:`~smtpcodes.sendreport.SendReport` per message: one verdict per recipient
and what happens next. It never sends a message twice to a recipient that
accepted it: a retry goes to the recipients that were deferred, and only when
the server refused them outright (never after a timeout once the body was sent).

What it does with verdicts:

- recipients on the suppression list are skipped before any network I/O, and
  recipients whose verdict says ``suppress`` (or reaches a ``suppress_after``
  threshold) are added to it; one send counts as one failure toward such a
  threshold, however many times it retried the recipient inline;
- a short retry window (within ``inline_retry_budget`` seconds) is waited out
  inline with jittered exponential backoff; longer ones are left to the caller
  or to :class:`smtpcodes.outbox.Outbox` through ``retry_at``;
- ``rate_limited`` and ``server_busy`` halve the number of connections the
  sender opens to the server for ``throttle_period`` seconds (the seeds' "retry
  with reduced connection count").
"""

from __future__ import annotations

import asyncio
import contextlib
import email.message
import random
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

import aiosmtplib
from aiosmtplib.response import SMTPResponse
from aiosmtplib.typing import Default

from .classifier import Classifier
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
from .verdict import Category, Verdict

__all__ = ["Sender"]

_THROTTLING = frozenset({Category.RATE_LIMITED, Category.SERVER_BUSY})
_Timeout = float | Literal[Default.token] | None


class _TrackingSMTP(aiosmtplib.SMTP):
    """An ``aiosmtplib.SMTP`` that writes each transaction step into a log.

    ``send_message`` still does the work (flattening, SMTPUTF8, SIZE, RSET on
    refusal); the overrides only note which command is in progress and what every
    reply said, which ``send_message``'s return value and exceptions do not tell.
    """

    log: TransactionLog | None = None

    async def mail(
        self,
        sender: str,
        /,
        *,
        options: Iterable[str] | None = None,
        encoding: str = "ascii",
        timeout: _Timeout = Default.token,
    ) -> SMTPResponse:
        log = self.log
        if log is not None:
            log.stage = "MAIL"
        try:
            return await super().mail(sender, options=options, encoding=encoding, timeout=timeout)
        except aiosmtplib.SMTPResponseException as exc:
            if log is not None:
                log.note_reply("MAIL", exc.code, exc.message)
            raise

    async def rcpt(
        self,
        recipient: str,
        /,
        *,
        options: Iterable[str] | None = None,
        encoding: str = "ascii",
        timeout: _Timeout = Default.token,
    ) -> SMTPResponse:
        log = self.log
        if log is not None:
            log.stage = "RCPT"
        try:
            response = await super().rcpt(
                recipient, options=options, encoding=encoding, timeout=timeout
            )
        except aiosmtplib.SMTPResponseException as exc:
            if log is not None:
                log.note_reply("RCPT", exc.code, exc.message, recipient)
            raise
        if log is not None:
            log.note_reply("RCPT", response.code, response.message, recipient)
        return response

    async def data(
        self, message: str | bytes, /, *, timeout: _Timeout = Default.token
    ) -> SMTPResponse:
        log = self.log
        if log is not None:
            log.stage = "DATA"
            log.data_started = True
        try:
            response = await super().data(message, timeout=timeout)
        except aiosmtplib.SMTPResponseException as exc:
            if log is not None:
                log.note_reply("DATA", exc.code, exc.message)
            raise
        if log is not None:
            log.note_reply("DATA", response.code, response.message)
        return response


_REPLY_STAGE: tuple[tuple[type[aiosmtplib.SMTPResponseException], str], ...] = (
    (aiosmtplib.SMTPAuthenticationError, "AUTH"),
    (aiosmtplib.SMTPHeloError, "EHLO"),
    (aiosmtplib.SMTPConnectResponseError, "CONNECT"),
    (aiosmtplib.SMTPSenderRefused, "MAIL"),
    (aiosmtplib.SMTPDataError, "DATA"),
)


class _Pool:
    """A bounded set of connections whose size can shrink for a while.

    ``limit`` is the number of connections in use at once; :meth:`throttle`
    halves it until a deadline, after which it is back to the maximum.
    """

    def __init__(self, factory: Callable[[], _TrackingSMTP], max_connections: int) -> None:
        self._factory = factory
        self.max_connections = max_connections
        self._reduced = max_connections
        self._throttled_until = 0.0
        self._idle: list[_TrackingSMTP] = []
        self._in_use = 0
        self._waiting = 0
        self._closing = False
        self._changed: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    @property
    def limit(self) -> int:
        """How many connections may be in use now."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._throttled_until:
            return self._reduced
        return self.max_connections

    def throttle(self, seconds: float) -> None:
        """Halve the connection count (at least one) for ``seconds``."""
        now = asyncio.get_running_loop().time()
        current = self.limit
        self._reduced = max(1, current // 2)
        self._throttled_until = max(self._throttled_until, now + seconds)
        while self._idle and len(self._idle) + self._in_use > self._reduced:
            self._idle.pop().close()

    async def acquire(self) -> tuple[_TrackingSMTP, bool]:
        """A connection (``True`` if it was kept open from an earlier send)."""
        if self._waiting or self._in_use >= self.limit:
            changed = self._condition()
            self._waiting += 1
            try:
                async with changed:
                    while self._in_use >= self.limit:
                        wait = self._throttled_until - asyncio.get_running_loop().time()
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(
                                changed.wait(), timeout=wait if wait > 0 else None
                            )
                    self._in_use += 1
            finally:
                self._waiting -= 1
        else:
            # The common case needs no lock: nothing awaits between the check and the count.
            self._in_use += 1
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client, True
            client.close()
        return self._factory(), False

    async def release(self, client: _TrackingSMTP, *, reusable: bool) -> None:
        """Give a connection back; keep it open only if it is healthy and wanted."""
        client.log = None
        keep = not self._closing and len(self._idle) + self._in_use <= self.limit
        if reusable and keep and client.is_connected:
            self._idle.append(client)
        else:
            client.close()
        self._in_use -= 1
        if self._waiting:
            changed = self._condition()
            async with changed:
                # Every waiter re-checks the limit: a single wake-up would be lost if
                # its task were cancelled before it ran, stranding the others.
                changed.notify_all()

    def reopen(self) -> None:
        """Keep connections open across sends again (after :meth:`close`)."""
        self._closing = False

    async def close(self) -> None:
        """Say QUIT on every idle connection and close it; busy ones close when released.

        Until :meth:`reopen`, a connection used after this (a send still retrying)
        is closed when released, so nothing stays open behind the caller's back.
        """
        self._closing = True
        idle, self._idle = self._idle, []

        async def goodbye(client: _TrackingSMTP) -> None:
            try:
                await asyncio.wait_for(client.quit(), timeout=2)
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
                pass
            finally:
                client.close()

        await asyncio.gather(*(goodbye(client) for client in idle))


class Sender:
    """Send messages over SMTP and get a verdict per recipient back.

    Connection settings are ``aiosmtplib.SMTP``'s (``hostname``, ``port``,
    ``username``, ``password``, ``use_tls``, ``start_tls``, ``timeout``,
    ``tls_context``...). Use as ``async with Sender(...) as sender:``; connections
    open on first use, stay open across sends, and the context closes them.
    A sender is safe to share between tasks; at most ``max_connections`` are open.

    ``suppression`` is a :class:`~smtpcodes.suppression.SuppressionList`;
    ``on_verdict(recipient, verdict)`` is called for every recipient of every
    attempt; ``clock`` (returning an aware ``datetime``) sets ``retry_at``;
    ``classifier`` (e.g. ``Classifier.from_paths("my-policy.yaml")``) decides the
    verdicts, default ``Classifier.default()``.
    """

    def __init__(
        self,
        hostname: str | None = None,
        port: int | None = None,
        *,
        suppression: SuppressionList | None = None,
        max_connections: int = 1,
        inline_retry_budget: float = 5.0,
        max_inline_attempts: int = 3,
        backoff_base: float = 0.5,
        throttle_period: float = 60.0,
        on_verdict: OnVerdict | None = None,
        clock: Callable[[], datetime] | None = None,
        classifier: Classifier | None = None,
        **aiosmtplib_options: Any,
    ) -> None:
        if max_connections < 1:
            msg = f"max_connections must be at least 1, got {max_connections}."
            raise ValueError(msg)
        self._options = {"hostname": hostname, "port": port, **aiosmtplib_options}
        # Build one client now so that bad or conflicting options fail here, not on send.
        _TrackingSMTP(**self._options)
        self._results = ResultBuilder(
            suppression=suppression, on_verdict=on_verdict, clock=clock, classifier=classifier
        )
        # The same results, leaving the suppression list alone: for a recipient's
        # further failures within one send, already counted (see _result_of).
        self._uncounted = ResultBuilder(
            suppression=None, on_verdict=None, clock=clock, classifier=self._results.classifier
        )
        self.inline_retry_budget = inline_retry_budget
        self.max_inline_attempts = max_inline_attempts
        self.backoff_base = backoff_base
        self.throttle_period = throttle_period
        self._pool = _Pool(self._new_client, max_connections)

    def _new_client(self) -> _TrackingSMTP:
        return _TrackingSMTP(**self._options)

    @property
    def classifier(self) -> Classifier:
        """The classifier that decides this sender's verdicts."""
        return self._results.classifier

    @property
    def suppression(self) -> SuppressionList | None:
        """The suppression list consulted before and updated after each send."""
        return self._results.suppression

    @property
    def max_connections(self) -> int:
        """The configured upper bound on open connections."""
        return self._pool.max_connections

    @property
    def connection_limit(self) -> int:
        """How many connections the sender uses now (lower while throttled)."""
        return self._pool.limit

    async def __aenter__(self) -> Sender:
        self._pool.reopen()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the open connections politely (``QUIT``).

        Sends still running (or started later) finish, but their connections are
        closed after each transaction instead of being kept for the next send.
        """
        await self._pool.close()

    async def send(
        self,
        message: Message,
        /,
        recipients: Sequence[str] | str | None = None,
        *,
        sender: str | None = None,
        on_verdict: OnVerdict | None = None,
    ) -> SendReport:
        """Send ``message`` and report, per recipient, what happened and what comes next.

        ``message`` is an ``email.message.Message`` (sender and recipients default
        to its headers, Bcc is not transmitted) or already-flattened ``bytes``/``str``
        (then ``sender`` and ``recipients`` are required). Never raises for what a
        server or the network does; raises :class:`ValueError` for a message
        without a sender or recipients. ``on_verdict`` is a hook for this send
        only, called after the sender's own for every verdict (inline retries
        included).
        """
        envelope_sender, wanted = envelope_of(message, recipients, sender)
        results: dict[str, RecipientResult] = {}
        pending: list[str] = []
        for recipient in wanted:
            skipped = self._results.before_sending(recipient, on_verdict)
            if skipped is None:
                pending.append(recipient)
            else:
                results[recipient] = skipped
        attempts: dict[str, int] = dict.fromkeys(pending, 0)
        counted: set[str] = set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.inline_retry_budget
        attempt = 0
        while pending:
            attempt += 1
            outcome = await self._attempt(message, envelope_sender, pending)
            retry_now: list[str] = []
            earliest = 0.0
            for recipient in pending:
                verdict, delivered = outcome[recipient]
                attempts[recipient] += 1
                self._results.notify(recipient, verdict, attempts[recipient], on_verdict)
                results[recipient] = self._result_of(
                    recipient, verdict, delivered, attempts[recipient], counted
                )
                window = verdict.retry_after
                if results[recipient].deferred and not verdict.delivery_unknown and window:
                    wait = window.earliest.total_seconds()
                    if loop.time() + wait <= deadline:
                        retry_now.append(recipient)
                        earliest = max(earliest, wait)
            self._maybe_throttle(v for v, _ in outcome.values())
            if not retry_now or attempt >= self.max_inline_attempts:
                break
            delay = max(earliest, self._backoff(attempt))
            if loop.time() + delay > deadline:
                break
            await asyncio.sleep(delay)
            pending = retry_now
        return SendReport(tuple(results[r] for r in wanted))

    def _result_of(
        self,
        recipient: str,
        verdict: Verdict,
        delivered: bool,
        attempts: int,
        counted: set[str],
    ) -> RecipientResult:
        """The result of one attempt; ``counted``: recipients whose failure this send counted.

        A ``suppress_after`` threshold counts failures of a recipient over days
        ("three full-mailbox replies within seven days"). Retries inside one send,
        seconds apart, are one delivery attempt in that sense: counting each would
        suppress an address after one unlucky send. So only the first failure of
        the send that counts toward a threshold reaches the list; a verdict that
        suppresses outright always does.
        """
        if not delivered and not verdict.suppress and verdict.suppress_after is not None:
            if recipient in counted:
                return self._uncounted.after_attempt(
                    recipient, verdict, delivered=delivered, attempts=attempts
                )
            counted.add(recipient)
        return self._results.after_attempt(
            recipient, verdict, delivered=delivered, attempts=attempts
        )

    def _backoff(self, attempt: int) -> float:
        # Exponential with "full jitter": spreads retries of many tasks apart.
        ceiling = self.backoff_base * (2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _maybe_throttle(self, verdicts: Iterable[Verdict]) -> None:
        if any(v.category in _THROTTLING for v in verdicts):
            self._pool.throttle(self.throttle_period)

    async def _attempt(
        self, message: Message, sender: str, recipients: list[str]
    ) -> dict[str, tuple[Verdict, bool]]:
        """One SMTP transaction for ``recipients``; a verdict for each."""
        client, reused = await self._pool.acquire()
        log = TransactionLog(tuple(recipients))
        reusable = False
        try:
            await self._transact(client, log, message, sender, recipients)
            if reused and _dropped_while_idle(log):
                # The server closed a kept-open connection while it sat idle; nothing of
                # this transaction reached it, so a fresh connection is no duplicate.
                client.close()
                client = self._new_client()
                log = TransactionLog(tuple(recipients))
                await self._transact(client, log, message, sender, recipients)
            # Not after a 421 (the server is closing) nor after a reply that could not
            # be read (code -1): what is left of it would pass for the next reply.
            reusable = log.error is None and (
                log.failure_reply is None
                or (200 <= log.failure_reply[0] <= 599 and log.failure_reply[0] != 421)
            )
        finally:
            await self._pool.release(client, reusable=reusable)
        return self._results.resolve(log)

    async def _transact(
        self,
        client: _TrackingSMTP,
        log: TransactionLog,
        message: Message,
        sender: str,
        recipients: list[str],
    ) -> None:
        client.log = log
        try:
            if not client.is_connected:
                log.stage = "CONNECT"
                await client.connect()
            if isinstance(message, email.message.Message):
                await client.send_message(message, sender=sender, recipients=recipients)
            else:
                # aiosmtplib encodes a str body and the addresses as ASCII unless told:
                # a body goes out as UTF-8, a non-ASCII address asks for SMTPUTF8.
                body = message.encode("utf-8") if isinstance(message, str) else message
                international = not "".join([sender, *recipients]).isascii()
                options = ["SMTPUTF8"] if international else None
                await client.sendmail(sender, recipients, body, mail_options=options)
        except aiosmtplib.SMTPRecipientsRefused:
            # Every RCPT was refused; the tracking client noted each reply.
            pass
        except aiosmtplib.SMTPResponseException as exc:
            if log.failure_reply is None:
                stage = next((s for cls, s in _REPLY_STAGE if isinstance(exc, cls)), log.stage)
                log.failure_reply = (exc.code, exc.message, stage)
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            log.error = exc
        finally:
            client.log = None


def _dropped_while_idle(log: TransactionLog) -> bool:
    """Whether a kept-open connection turned out dead before this transaction began.

    Either the connection was gone at ``MAIL``, or the server answered ``MAIL``
    with ``421``: servers such as Postfix say ``421 4.4.2 ... timeout exceeded``
    as they close an idle connection, and that notice is read as the reply.
    """
    if log.rcpt_replies or log.data_started:
        return False
    if log.failure_reply is not None:
        code, _, stage = log.failure_reply
        return code == 421 and stage == "MAIL"
    return isinstance(log.error, ConnectionError) and log.stage == "MAIL"
