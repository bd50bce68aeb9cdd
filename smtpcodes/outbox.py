"""A durable outbox: a SQLite queue that sends through a :class:`~smtpcodes.aio.Sender`.

:meth:`Outbox.put` writes the message and its envelope to disk (and commits)
before anything touches the network. :meth:`Outbox.run_due` sends each message to
the recipients that are due, records every attempt and verdict, and schedules the
deferred recipients at their ``retry_at``. A message is *dead* (finished) once
every recipient is delivered, failed or suppressed, or once it is older than
``max_age`` (then its remaining recipients get an ``expired`` verdict).

Why nothing is lost or sent twice:

- a recipient is marked ``in_flight`` (committed) before its attempt starts and
  gets its final state in the same transaction that records the verdict; a
  recipient that was delivered is never offered again;
- a process killed mid-attempt leaves ``in_flight`` rows behind; reopening the
  outbox puts them back in the queue with ``delivery_unknown`` set, because the
  server may have taken the message. Their retry carries the same ``Message-ID``
  (the outbox adds one when the message has none) so receivers can spot it.

One process should own an outbox file at a time: a second one would take the
first one's attempts in flight for interrupted ones.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import email.utils
import json
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from os import PathLike
from types import TracebackType
from typing import Any

import attrs

from .aio import Sender
from .policy import make_verdict
from .sendreport import Message, RecipientResult, SendReport, envelope_of
from .verdict import Category, Outcome, Verdict

__all__ = [
    "DEFAULT_MAX_AGE",
    "Outbox",
    "OutboxAttempt",
    "OutboxMessage",
    "OutboxRecipient",
    "OutboxRun",
]

#: How long a message may wait for delivery, like an MTA queue's lifetime.
DEFAULT_MAX_AGE = timedelta(days=5)

# Recipient states. pending and in_flight are "still queued"; the rest are final.
PENDING = "pending"
IN_FLIGHT = "in_flight"
DELIVERED = "delivered"
FAILED = "failed"
SUPPRESSED = "suppressed"
EXPIRED = "expired"
UNKNOWN = "unknown"
# History only: a verdict that an inline retry within the same run followed.
RETRIED = "retried"

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS messages (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        envelope_sender TEXT NOT NULL,
        body BLOB NOT NULL,
        is_raw INTEGER NOT NULL,
        state TEXT NOT NULL,
        finished_at REAL,
        dead_reason TEXT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS recipients (
        message_id TEXT NOT NULL REFERENCES messages(id),
        position INTEGER NOT NULL,
        address TEXT NOT NULL,
        state TEXT NOT NULL,
        retry_at REAL,
        attempts INTEGER NOT NULL DEFAULT 0,
        category TEXT,
        delivery_unknown INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (message_id, address)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at REAL NOT NULL,
        address TEXT NOT NULL,
        state TEXT NOT NULL,
        verdict TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS recipients_due ON recipients (state, retry_at)",
    "CREATE INDEX IF NOT EXISTS history_message ON history (message_id, seq)",
)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _ts(when: datetime) -> float:
    return when.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


@attrs.frozen
class OutboxRecipient:
    """One recipient of a queued message: its state and the latest verdict's category."""

    address: str
    state: str
    attempts: int
    retry_at: datetime | None
    category: str | None
    delivery_unknown: bool


@attrs.frozen
class OutboxMessage:
    """A message in the outbox, pending or dead."""

    id: str
    created_at: datetime
    sender: str
    state: str
    recipients: tuple[OutboxRecipient, ...]
    finished_at: datetime | None = None
    dead_reason: str | None = None

    @property
    def next_retry_at(self) -> datetime | None:
        """When the next recipient is due, if any is still queued."""
        times = [r.retry_at for r in self.recipients if r.state == PENDING and r.retry_at]
        return min(times) if times else None


@attrs.frozen
class OutboxAttempt:
    """One recorded verdict: which attempt, when, for whom, and the verdict's fields."""

    attempt: int
    at: datetime
    recipient: str
    state: str
    verdict: dict[str, Any]


@attrs.frozen
class OutboxRun:
    """What :meth:`Outbox.run_due` did to one message."""

    message_id: str
    report: SendReport
    dead: bool


def _verdict_json(verdict: Verdict) -> str:
    data = verdict.as_dict()
    if verdict.reply is not None:
        data["reply"] = str(verdict.reply)
    return json.dumps(data, sort_keys=True)


class Outbox:
    """A durable queue of messages, sent through ``sender`` by :meth:`run_due`.

    ``path`` is the SQLite file (created if missing). ``clock`` returns an aware
    ``datetime`` (tests pass a fake one to move time without sleeping).
    ``max_age`` bounds a message's life in the queue. With ``retry_unknown``
    false, recipients whose delivery is unknown are parked in state ``unknown``
    for a human instead of being retried.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        sender: Sender,
        clock: Callable[[], datetime] | None = None,
        *,
        max_age: timedelta = DEFAULT_MAX_AGE,
        retry_unknown: bool = True,
        default_retry: timedelta = timedelta(minutes=5),
    ) -> None:
        self.sender = sender
        self.max_age = max_age
        self.retry_unknown = retry_unknown
        self.default_retry = default_retry
        self._clock = clock or _utcnow
        self._busy: set[str] = set()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            # FULL: a commit is on disk when put() returns, so a crash right after loses nothing.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            for statement in _SCHEMA:
                self._db.execute(statement)
            self._recover_interrupted()
            self._finish_stranded()
        except BaseException:
            # Not a database, locked, a naive clock...: no half-open handle left behind.
            self._db.close()
            raise

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the database file (the sender is the caller's to close)."""
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Outbox:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            msg = "The outbox clock must return an aware datetime (with a tzinfo)."
            raise ValueError(msg)
        return now

    def _recover_interrupted(self, rows: list[tuple[str, str]] | None = None) -> None:
        """Requeue attempts left in flight, marked ``delivery_unknown``.

        ``rows`` are ``(message_id, address)`` pairs; by default every in-flight
        recipient, which on opening means those of a process that was killed.
        """
        if rows is None:
            rows = self._db.execute(
                "SELECT message_id, address FROM recipients WHERE state = ?", (IN_FLIGHT,)
            ).fetchall()
        if not rows:
            return
        now = self._now()
        verdict = make_verdict(
            Category.NETWORK_ERROR,
            Outcome.TRANSIENT,
            rule="outbox.interrupted",
            delivery_unknown=True,
            action="The process stopped during this attempt; the server may have the message.",
            policies=self.sender.classifier.tables.categories,
        )
        state = PENDING if self.retry_unknown else UNKNOWN
        attempts = {mid: self._last_attempt(mid) + 1 for mid, _ in rows}
        with self._transaction():
            for message_id, address in rows:
                attempt = attempts[message_id]
                self._db.execute(
                    "UPDATE recipients SET state = ?, retry_at = ?, delivery_unknown = 1, "
                    "category = ? WHERE message_id = ? AND address = ?",
                    (state, _ts(now), verdict.category.value, message_id, address),
                )
                self._record(
                    message_id, attempt, at=now, address=address, state=state, verdict=verdict
                )
            for message_id in attempts:
                self._finish_if_done(message_id, now, "complete")

    def _finish_stranded(self) -> None:
        """Finish messages left pending with no recipient queued.

        Delivered recipients are committed as their verdicts arrive; a kill before
        the attempt's last transaction can leave every recipient final and the
        message still pending, which no run would ever pick up again.
        """
        stranded = [
            message_id
            for (message_id,) in self._db.execute(
                "SELECT id FROM messages m WHERE m.state = ? AND NOT EXISTS "
                "(SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.state IN (?, ?))",
                (PENDING, PENDING, IN_FLIGHT),
            ).fetchall()
        ]
        if not stranded:
            return
        now = self._now()
        with self._transaction():
            for message_id in stranded:
                self._finish_if_done(message_id, now, "complete")

    # -- storing -----------------------------------------------------------------------

    async def put(
        self,
        message: Message,
        /,
        recipients: Sequence[str] | str | None = None,
        *,
        sender: str | None = None,
    ) -> str:
        """Store ``message`` durably and return its outbox id; nothing is sent yet.

        Envelope rules are :meth:`Sender.send`'s. A message without a ``Message-ID``
        gets one in its stored copy, so that any retry carries the same id.
        """
        envelope_sender, wanted = envelope_of(message, recipients, sender)
        if isinstance(message, email.message.Message):
            policy = message.policy
            international = not "".join([envelope_sender, *wanted]).isascii()
            if international and isinstance(policy, email.policy.EmailPolicy):
                # Such a message goes out with SMTPUTF8 and UTF-8 headers, as a direct
                # send flattens it. Stored ASCII-only, a non-ASCII address would become
                # an encoded-word (which an address may not hold), sent as stored.
                policy = policy.clone(utf8=True)
            body = message.as_bytes(policy=policy)
            is_raw = False
            if message.get("Message-ID") is None:
                body = f"Message-ID: {email.utils.make_msgid()}\r\n".encode() + body
        else:
            body = message.encode("utf-8") if isinstance(message, str) else bytes(message)
            is_raw = True
        message_id = uuid.uuid4().hex
        now = self._now()
        with self._transaction():
            self._db.execute(
                "INSERT INTO messages (id, created_at, envelope_sender, body, is_raw, state) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (message_id, _ts(now), envelope_sender, body, int(is_raw), PENDING),
            )
            self._db.executemany(
                "INSERT INTO recipients (message_id, position, address, state, retry_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(message_id, i, r, PENDING, _ts(now)) for i, r in enumerate(wanted)],
            )
        return message_id

    # -- sending -----------------------------------------------------------------------

    async def run_due(self) -> list[OutboxRun]:
        """Attempt every message that has a recipient due now; return what happened.

        Messages older than ``max_age`` are finished with ``expired`` verdicts
        instead. Up to the sender's ``max_connections`` messages go out at once.
        """
        now = self._now()
        expired_before = _ts(now - self.max_age)
        rows = self._db.execute(
            "SELECT DISTINCT m.id, m.created_at FROM messages m JOIN recipients r "
            "ON r.message_id = m.id WHERE m.state = ? AND r.state = ? "
            "AND (r.retry_at <= ? OR m.created_at <= ?) ORDER BY m.created_at",
            (PENDING, PENDING, _ts(now), expired_before),
        ).fetchall()
        # Skip messages another run_due() of this outbox is still working on.
        rows = [(mid, created) for mid, created in rows if mid not in self._busy]
        self._busy.update(mid for mid, _ in rows)
        gate = asyncio.Semaphore(self.sender.max_connections)

        async def one(message_id: str, created_at: float) -> OutboxRun:
            if created_at <= expired_before:
                return self._expire(message_id, now)
            async with gate:
                return await self._attempt(message_id, now)

        try:
            return list(await asyncio.gather(*(one(mid, created) for mid, created in rows)))
        finally:
            self._busy.difference_update(mid for mid, _ in rows)

    async def _attempt(self, message_id: str, now: datetime) -> OutboxRun:
        sender, body, is_raw = self._db.execute(
            "SELECT envelope_sender, body, is_raw FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        due = [
            address
            for (address,) in self._db.execute(
                "SELECT address FROM recipients WHERE message_id = ? AND state = ? "
                "AND retry_at <= ? ORDER BY position",
                (message_id, PENDING, _ts(now)),
            )
        ]
        attempt = self._last_attempt(message_id) + 1
        # Committed before any network I/O: a crash from here on is seen on reopen.
        with self._transaction():
            self._db.executemany(
                "UPDATE recipients SET state = ? WHERE message_id = ? AND address = ?",
                [(IN_FLIGHT, message_id, a) for a in due],
            )
        message: Message = (
            bytes(body)
            if is_raw
            else email.message_from_bytes(bytes(body), policy=email.policy.default)
        )
        # Every verdict of the run, inline retries included, goes into the history.
        seen: list[tuple[str, Verdict, datetime]] = []
        delivered: set[str] = set()
        # Accepted recipients not yet marked on disk; written in one transaction per
        # attempt, as soon as the sender yields (one fsync, not one per recipient).
        unsaved: list[str] = []

        def save_delivered() -> None:
            if not unsaved:
                return
            batch = [(DELIVERED, message_id, recipient) for recipient in unsaved]
            unsaved.clear()
            with self._transaction():
                self._db.executemany(
                    "UPDATE recipients SET state = ?, retry_at = NULL "
                    "WHERE message_id = ? AND address = ?",
                    batch,
                )

        def note(recipient: str, verdict: Verdict) -> None:
            seen.append((recipient, verdict, self._now()))
            if verdict.outcome is Outcome.SUCCESS:
                # Saved before the sender waits to retry others inline: a kill or a
                # cancellation then must not requeue this recipient.
                delivered.add(recipient)
                if not unsaved:
                    asyncio.get_running_loop().call_soon(save_delivered)
                unsaved.append(recipient)

        try:
            report = await self.sender.send(message, due, sender=sender, on_verdict=note)
        except BaseException:
            # Not a verdict but a cancellation or a bug, at a point we cannot know:
            # requeue the recipients not yet accepted as a crash would, delivery unknown.
            save_delivered()
            now_failed = self._now()
            with self._transaction():
                self._record_seen(message_id, attempt, seen, dict.fromkeys(delivered, DELIVERED))
                self._db.executemany(
                    "UPDATE recipients SET attempts = attempts + ?, category = ? "
                    "WHERE message_id = ? AND address = ?",
                    [
                        (
                            sum(r == recipient for r, _, _ in seen),
                            Category.DELIVERED.value,
                            message_id,
                            recipient,
                        )
                        for recipient in delivered
                    ],
                )
                self._finish_if_done(message_id, now_failed, "complete")
            self._recover_interrupted([(message_id, a) for a in due if a not in delivered])
            raise
        # The final transaction below records every recipient: nothing left to save.
        unsaved.clear()
        finished = self._now()
        with self._transaction():
            final_state: dict[str, str] = {}
            for result in report:
                state, retry_at = self._next_state(result, finished)
                final_state[result.recipient] = state
                self._db.execute(
                    "UPDATE recipients SET state = ?, retry_at = ?, attempts = attempts + ?, "
                    "category = ?, delivery_unknown = ? WHERE message_id = ? AND address = ?",
                    (
                        state,
                        _ts(retry_at) if retry_at is not None else None,
                        result.attempts,
                        result.verdict.category.value,
                        int(result.verdict.delivery_unknown),
                        message_id,
                        result.recipient,
                    ),
                )
            self._record_seen(message_id, attempt, seen, final_state)
            dead = self._finish_if_done(message_id, finished, "complete")
        return OutboxRun(message_id, report, dead)

    def _record_seen(
        self,
        message_id: str,
        attempt: int,
        seen: list[tuple[str, Verdict, datetime]],
        final_state: dict[str, str],
    ) -> None:
        """Write a run's verdicts into the history; a recipient's last one gets its final state.

        Verdicts of recipients without a final state (an interrupted run) are all
        ``retried``: the interruption record that follows them is their last word.
        """
        last_seen = {recipient: i for i, (recipient, _, _) in enumerate(seen)}
        count: dict[str, int] = {}
        for i, (recipient, verdict, at) in enumerate(seen):
            count[recipient] = count.get(recipient, 0) + 1
            final = final_state.get(recipient)
            self._record(
                message_id,
                attempt + count[recipient] - 1,
                at=at,
                address=recipient,
                state=final if final is not None and last_seen[recipient] == i else RETRIED,
                verdict=verdict,
            )

    def _next_state(self, result: RecipientResult, now: datetime) -> tuple[str, datetime | None]:
        if result.delivered:
            return DELIVERED, None
        if result.skipped:
            return SUPPRESSED, None
        if result.suppressed_now:
            return SUPPRESSED, None
        if not result.deferred:
            return FAILED, None
        if result.verdict.delivery_unknown and not self.retry_unknown:
            return UNKNOWN, None
        window = result.verdict.retry_after
        wait = window.earliest if window is not None and window.earliest else self.default_retry
        return PENDING, now + wait

    def _expire(self, message_id: str, now: datetime) -> OutboxRun:
        verdict = make_verdict(
            Category.EXPIRED,
            Outcome.PERMANENT,
            rule="outbox.max_age",
            action=f"Not delivered within {self.max_age}; the outbox gave up.",
            policies=self.sender.classifier.tables.categories,
        )
        remaining = [
            address
            for (address,) in self._db.execute(
                "SELECT address FROM recipients WHERE message_id = ? AND state IN (?, ?) "
                "ORDER BY position",
                (message_id, PENDING, IN_FLIGHT),
            )
        ]
        attempt = self._last_attempt(message_id) + 1
        with self._transaction():
            for address in remaining:
                self._db.execute(
                    "UPDATE recipients SET state = ?, retry_at = NULL, category = ? "
                    "WHERE message_id = ? AND address = ?",
                    (EXPIRED, verdict.category.value, message_id, address),
                )
                self._record(
                    message_id, attempt, at=now, address=address, state=EXPIRED, verdict=verdict
                )
            self._finish_if_done(message_id, now, "expired")
        report = SendReport(tuple(RecipientResult(a, verdict, delivered=False) for a in remaining))
        return OutboxRun(message_id, report, True)

    def _finish_if_done(self, message_id: str, now: datetime, reason: str) -> bool:
        (left,) = self._db.execute(
            "SELECT count(*) FROM recipients WHERE message_id = ? AND state IN (?, ?)",
            (message_id, PENDING, IN_FLIGHT),
        ).fetchone()
        if left:
            return False
        self._db.execute(
            "UPDATE messages SET state = 'dead', finished_at = ?, dead_reason = ? WHERE id = ?",
            (_ts(now), reason, message_id),
        )
        return True

    # -- reading -----------------------------------------------------------------------

    def pending(self) -> list[OutboxMessage]:
        """Messages with recipients still queued, oldest first."""
        return self._messages(PENDING)

    def dead(self) -> list[OutboxMessage]:
        """Finished messages (all recipients delivered, failed, suppressed or expired)."""
        return self._messages("dead")

    def get(self, message_id: str) -> OutboxMessage | None:
        """One message by its outbox id."""
        row = self._db.execute(
            "SELECT id, created_at, envelope_sender, state, finished_at, dead_reason "
            "FROM messages WHERE id = ?",
            (message_id,),
        ).fetchone()
        return self._message_from_row(row) if row is not None else None

    def history(self, message_id: str) -> list[OutboxAttempt]:
        """Every recorded verdict for a message, in order."""
        return [
            OutboxAttempt(attempt, _dt(at) or _utcnow(), address, state, json.loads(verdict))
            for attempt, at, address, state, verdict in self._db.execute(
                "SELECT attempt, at, address, state, verdict FROM history "
                "WHERE message_id = ? ORDER BY seq",
                (message_id,),
            )
        ]

    def _messages(self, state: str) -> list[OutboxMessage]:
        rows = self._db.execute(
            "SELECT id, created_at, envelope_sender, state, finished_at, dead_reason "
            "FROM messages WHERE state = ? ORDER BY created_at, id",
            (state,),
        ).fetchall()
        return [self._message_from_row(row) for row in rows]

    def _message_from_row(self, row: tuple[Any, ...]) -> OutboxMessage:
        message_id, created, sender, state, finished, reason = row
        recipients = tuple(
            OutboxRecipient(address, rstate, attempts, _dt(retry_at), category, bool(unknown))
            for address, rstate, attempts, retry_at, category, unknown in self._db.execute(
                "SELECT address, state, attempts, retry_at, category, delivery_unknown "
                "FROM recipients WHERE message_id = ? ORDER BY position",
                (message_id,),
            )
        )
        return OutboxMessage(
            id=message_id,
            created_at=_dt(created) or _utcnow(),
            sender=sender,
            state=state,
            recipients=recipients,
            finished_at=_dt(finished),
            dead_reason=reason,
        )

    # -- helpers -----------------------------------------------------------------------

    def _last_attempt(self, message_id: str) -> int:
        (last,) = self._db.execute(
            "SELECT coalesce(max(attempt), 0) FROM history WHERE message_id = ?", (message_id,)
        ).fetchone()
        return int(last)

    def _record(
        self,
        message_id: str,
        attempt: int,
        *,
        at: datetime,
        address: str,
        state: str,
        verdict: Verdict,
    ) -> None:
        self._db.execute(
            "INSERT INTO history (message_id, attempt, at, address, state, verdict) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (message_id, attempt, _ts(at), address, state, _verdict_json(verdict)),
        )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on an exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
