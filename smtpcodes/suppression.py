"""Suppression lists: addresses that must not be mailed again until a human lifts them.

A verdict whose ``suppress`` is true puts its recipient on the list at once. A
verdict that carries ``suppress_after`` (a lenient policy, e.g. "a full mailbox
three times within seven days") is *counted*: the address is suppressed only when
that many such failures fall inside the window. Entries made from a transient
reply (``452 4.2.2``) are *soft*: they expire after ``soft_expiry`` so that a
mailbox that was emptied can be mailed again; entries from permanent replies and
entries added by hand stay until :meth:`~SuppressionList.remove` lifts them.

Two implementations share one pure update rule (:func:`next_entry`):
:class:`MemorySuppressionList` for tests and short-lived programs, and
:class:`SqliteSuppressionList`, the embedded default that survives restarts.
Addresses match with the domain's case ignored (RFC 5321 §2.4 leaves the local
part's case to the receiving host, so it is kept).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from os import PathLike
from typing import Any, Protocol, runtime_checkable

import attrs

from .verdict import Outcome, Verdict

__all__ = [
    "DEFAULT_SOFT_EXPIRY",
    "SuppressionEntry",
    "SuppressionList",
    "MemorySuppressionList",
    "SqliteSuppressionList",
    "normalize_address",
    "next_entry",
]

#: How long an entry made from a transient reply (a full mailbox) lasts.
DEFAULT_SOFT_EXPIRY = timedelta(days=30)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware_now(clock: Clock) -> datetime:
    """``clock()``, refused when naive: stored times are UTC instants, and naive ones
    would be read as local time and then fail to compare with them."""
    now = clock()
    if now.tzinfo is None:
        msg = "The suppression list clock must return an aware datetime (with a tzinfo)."
        raise ValueError(msg)
    return now


def normalize_address(address: str) -> str:
    """The form under which an address is stored: trimmed, ``<>`` removed, domain lower-cased.

    >>> normalize_address(" <Bob@Example.COM> ")
    'Bob@example.com'
    """
    text = address.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    return f"{local}@{domain.lower()}"


@attrs.frozen
class SuppressionEntry:
    """What a suppression list knows about one address.

    ``active`` is false while soft failures are still being counted towards a
    ``suppress_after`` threshold; ``failure_times`` are the counted failures
    (at most the threshold's count, newest last).
    """

    address: str
    reason: str
    category: str | None
    rule: str | None
    reply: str | None
    first_seen: datetime
    last_seen: datetime
    failures: int
    active: bool
    expires_at: datetime | None = None
    failure_times: tuple[datetime, ...] = ()
    verdict: dict[str, Any] | None = attrs.field(default=None, eq=False)
    """The latest verdict that touched the entry, as ``Verdict.as_dict()``."""

    def is_suppressing(self, now: datetime) -> bool:
        """Whether the entry blocks sending at ``now`` (active and not expired)."""
        return self.active and (self.expires_at is None or now < self.expires_at)


def _reason_for(verdict: Verdict) -> str:
    reply = verdict.reply
    said = f": {reply}" if reply is not None else ""
    return f"{verdict.category.value}{said}"


def next_entry(
    existing: SuppressionEntry | None,
    address: str,
    verdict: Verdict | None,
    *,
    reason: str | None,
    now: datetime,
    soft_expiry: timedelta | None,
) -> SuppressionEntry | None:
    """The entry after one more verdict for ``address``; ``None`` when nothing changes.

    Pure: both list implementations call it, so they cannot disagree. ``verdict``
    ``None`` means a person adds the address by hand (a complaint, an unsubscribe).
    """
    first_seen = existing.first_seen if existing is not None else now
    failures = (existing.failures if existing is not None else 0) + 1
    if verdict is None:
        return SuppressionEntry(
            address=address,
            reason=reason or "added by hand",
            category=None,
            rule=None,
            reply=None,
            first_seen=first_seen,
            last_seen=now,
            failures=failures,
            active=True,
        )
    reply_text = str(verdict.reply) if verdict.reply is not None else None
    verdict_data = verdict.as_dict()
    still_hard = (
        existing is not None and existing.is_suppressing(now) and existing.expires_at is None
    )
    soft_until = now + soft_expiry if soft_expiry is not None else None
    if verdict.suppress:
        soft = verdict.outcome is Outcome.TRANSIENT and not still_hard
        return SuppressionEntry(
            address=address,
            reason=reason or _reason_for(verdict),
            category=verdict.category.value,
            rule=verdict.rule,
            reply=reply_text,
            first_seen=first_seen,
            last_seen=now,
            failures=failures,
            active=True,
            expires_at=soft_until if soft else None,
            failure_times=existing.failure_times if existing is not None else (),
            verdict=verdict_data,
        )
    policy = verdict.suppress_after
    if policy is None:
        return None
    # A sliding window: keep the failures that are still inside it, add this one.
    earlier = existing.failure_times if existing is not None else ()
    recent = (*(t for t in earlier if now - t < policy.within), now)
    recent = recent[-max(policy.count, 1) :]
    reached = len(recent) >= policy.count
    if existing is not None and existing.is_suppressing(now):
        # Already suppressed (by hand or harder evidence): only note the failure.
        return attrs.evolve(
            existing, last_seen=now, failures=failures, failure_times=recent, verdict=verdict_data
        )
    return SuppressionEntry(
        address=address,
        reason=reason
        or (
            f"{_reason_for(verdict)} ({len(recent)} failures within {policy.within})"
            if reached
            else f"counting: {len(recent)} of {policy.count} failures within {policy.within}"
        ),
        category=verdict.category.value,
        rule=verdict.rule,
        reply=reply_text,
        first_seen=first_seen,
        last_seen=now,
        failures=failures,
        active=reached,
        expires_at=soft_until if reached else None,
        failure_times=recent,
        verdict=verdict_data,
    )


@runtime_checkable
class SuppressionList(Protocol):
    """What the senders need from a suppression list."""

    def __contains__(self, address: object, /) -> bool:
        """Whether ``address`` must not be mailed now."""
        ...

    def add(
        self, address: str, verdict: Verdict | None = None, *, reason: str | None = None
    ) -> bool:
        """Record a verdict (or a manual entry); return whether the address is now suppressed."""
        ...

    def remove(self, address: str) -> bool:
        """Lift the address (a human decision); return whether it had an entry."""
        ...

    def get(self, address: str) -> SuppressionEntry | None:
        """The entry for ``address``, active or still counting, if any."""
        ...


class MemorySuppressionList:
    """A suppression list held in a dict; lost when the process ends.

    ``clock`` (default: the system clock in UTC) must return aware datetimes.
    """

    def __init__(
        self,
        *,
        soft_expiry: timedelta | None = DEFAULT_SOFT_EXPIRY,
        clock: Clock | None = None,
    ) -> None:
        self._entries: dict[str, SuppressionEntry] = {}
        self._soft_expiry = soft_expiry
        self._clock = clock or _utcnow
        self._lock = threading.Lock()

    def __contains__(self, address: object, /) -> bool:
        if not isinstance(address, str):
            return False
        now = _aware_now(self._clock)
        entry = self._entries.get(normalize_address(address))
        return entry is not None and entry.is_suppressing(now)

    def __len__(self) -> int:
        now = _aware_now(self._clock)
        return sum(1 for e in self._snapshot() if e.is_suppressing(now))

    def __iter__(self) -> Iterator[SuppressionEntry]:
        return iter(self._snapshot())

    def _snapshot(self) -> list[SuppressionEntry]:
        # A copy taken under the lock: iterating the dict itself while another thread
        # adds an address raises "dictionary changed size during iteration".
        with self._lock:
            return list(self._entries.values())

    def add(
        self, address: str, verdict: Verdict | None = None, *, reason: str | None = None
    ) -> bool:
        """Record a verdict (or a manual entry); return whether the address is now suppressed."""
        key = normalize_address(address)
        now = _aware_now(self._clock)
        with self._lock:
            existing = self._entries.get(key)
            entry = next_entry(
                existing, key, verdict, reason=reason, now=now, soft_expiry=self._soft_expiry
            )
            if entry is None:
                return existing is not None and existing.is_suppressing(now)
            self._entries[key] = entry
            return entry.is_suppressing(now)

    def remove(self, address: str) -> bool:
        """Lift the address; return whether it had an entry."""
        with self._lock:
            return self._entries.pop(normalize_address(address), None) is not None

    def get(self, address: str) -> SuppressionEntry | None:
        """The entry for ``address``, if any."""
        return self._entries.get(normalize_address(address))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS suppression (
    address TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    category TEXT,
    rule TEXT,
    reply TEXT,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    failures INTEGER NOT NULL,
    active INTEGER NOT NULL,
    expires_at REAL,
    failure_times TEXT NOT NULL DEFAULT '[]',
    verdict TEXT
)
"""


def _ts(when: datetime) -> float:
    return when.timestamp()


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, timezone.utc)


class SqliteSuppressionList:
    """A suppression list in a SQLite file: the embedded default, durable across restarts.

    ``path`` may be ``":memory:"``. Safe to share between threads; each call is
    one short transaction. ``clock`` (default: the system clock in UTC) must
    return aware datetimes.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        soft_expiry: timedelta | None = DEFAULT_SOFT_EXPIRY,
        clock: Clock | None = None,
    ) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute(_SCHEMA)
        except BaseException:
            # Not a database, locked, read-only...: no half-open handle left behind.
            self._db.close()
            raise
        self._soft_expiry = soft_expiry
        self._clock = clock or _utcnow
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteSuppressionList:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __contains__(self, address: object, /) -> bool:
        if not isinstance(address, str):
            return False
        now = _ts(_aware_now(self._clock))
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM suppression WHERE address = ? AND active = 1 "
                "AND (expires_at IS NULL OR expires_at > ?)",
                (normalize_address(address), now),
            ).fetchone()
        return row is not None

    def __len__(self) -> int:
        now = _ts(_aware_now(self._clock))
        with self._lock:
            (count,) = self._db.execute(
                "SELECT count(*) FROM suppression WHERE active = 1 "
                "AND (expires_at IS NULL OR expires_at > ?)",
                (now,),
            ).fetchone()
        return int(count)

    def __iter__(self) -> Iterator[SuppressionEntry]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM suppression ORDER BY address"
            ).fetchall()
        return iter([_entry_from_row(r) for r in rows])

    def get(self, address: str) -> SuppressionEntry | None:
        """The entry for ``address``, active or still counting, if any."""
        with self._lock:
            return self._get(normalize_address(address))

    def _get(self, key: str) -> SuppressionEntry | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM suppression WHERE address = ?", (key,)
        ).fetchone()
        return _entry_from_row(row) if row is not None else None

    def add(
        self, address: str, verdict: Verdict | None = None, *, reason: str | None = None
    ) -> bool:
        """Record a verdict (or a manual entry); return whether the address is now suppressed."""
        key = normalize_address(address)
        now = _aware_now(self._clock)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                existing = self._get(key)
                entry = next_entry(
                    existing, key, verdict, reason=reason, now=now, soft_expiry=self._soft_expiry
                )
                if entry is not None:
                    self._db.execute(
                        f"INSERT OR REPLACE INTO suppression ({_COLUMNS}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        _row_from_entry(entry),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if entry is None:
            return existing is not None and existing.is_suppressing(now)
        return entry.is_suppressing(now)

    def remove(self, address: str) -> bool:
        """Lift the address; return whether it had an entry."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM suppression WHERE address = ?", (normalize_address(address),)
            )
        return cursor.rowcount > 0


_COLUMNS = (
    "address, reason, category, rule, reply, first_seen, last_seen, failures, active, "
    "expires_at, failure_times, verdict"
)


def _row_from_entry(entry: SuppressionEntry) -> tuple[object, ...]:
    return (
        entry.address,
        entry.reason,
        entry.category,
        entry.rule,
        entry.reply,
        _ts(entry.first_seen),
        _ts(entry.last_seen),
        entry.failures,
        int(entry.active),
        _ts(entry.expires_at) if entry.expires_at is not None else None,
        json.dumps([_ts(t) for t in entry.failure_times]),
        json.dumps(entry.verdict) if entry.verdict is not None else None,
    )


def _entry_from_row(row: tuple[object, ...]) -> SuppressionEntry:
    (
        address,
        reason,
        category,
        rule,
        reply,
        first,
        last,
        failures,
        active,
        expires,
        times,
        data,
    ) = row
    return SuppressionEntry(
        address=str(address),
        reason=str(reason),
        category=None if category is None else str(category),
        rule=None if rule is None else str(rule),
        reply=None if reply is None else str(reply),
        first_seen=_dt(float(first)),  # type: ignore[arg-type]
        last_seen=_dt(float(last)),  # type: ignore[arg-type]
        failures=int(failures),  # type: ignore[call-overload]
        active=bool(active),
        expires_at=None if expires is None else _dt(float(expires)),  # type: ignore[arg-type]
        failure_times=tuple(_dt(float(t)) for t in json.loads(str(times))),
        verdict=None if data is None else json.loads(str(data)),
    )
