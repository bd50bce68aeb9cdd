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
part's case to the receiving host, so it is kept), and may be given as a header
writes them (``Bob <bob@example.com>``): the list stores and looks up the address
alone (:func:`parse_address`).
"""

from __future__ import annotations

import email.utils
import json
import re
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
    "parse_address",
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


#: One ``@`` and none of the characters that make header syntax (display names,
#: quotes, comments, lists): an address the header parser would return unchanged.
_PLAIN_ADDRESS = re.compile(r'[^\s<>()\[\],;:"\\@]+@[^\s<>()\[\],;:"\\@]+')


def parse_address(text: str) -> str:
    """The one e-mail address in ``text``, in the form a suppression list stores it.

    ``text`` may be a bare address, ``<address>``, or an address as a header writes
    it (``Bob <bob@example.com>``, ``"Smith, Bob" <bob@example.com>``,
    ``bob@example.com (Bob)``). The domain is lower-cased; the local part is kept as
    written. Raises :class:`ValueError` when ``text`` holds no address (nothing of
    the form ``local@domain``) or more than one.

    >>> parse_address('"Bob" <Bob@Example.COM>')
    'Bob@example.com'
    """
    stripped = text.strip()
    if _PLAIN_ADDRESS.fullmatch(stripped):
        # The common case, without the header parser: 0.35 us instead of 6 us a call.
        local, _, domain = stripped.partition("@")
        return f"{local}@{domain.lower()}"
    found = email.utils.getaddresses([stripped])
    if len(found) > 1:
        msg = (
            f"{text!r} is not one e-mail address: it holds several, or text besides the "
            "address. Give one address at a time."
        )
        raise ValueError(msg)
    name, parsed = found[0] if found else ("", "")
    # A bare address is kept as written: the parser would undo the escapes of a
    # quoted local part, and the senders look up the address exactly as they send it.
    address = parsed if name or "<" in stripped else stripped
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        msg = f"{text!r} holds no e-mail address; expected 'local@domain' or 'Name <local@domain>'."
        raise ValueError(msg)
    return f"{local}@{domain.lower()}"


def normalize_address(address: str) -> str:
    """The form under which an address is stored: trimmed, ``<>`` removed, domain lower-cased.

    Like :func:`parse_address` (a display name is dropped), but never raises: text
    that holds no single address is only trimmed, so that it can still serve as a
    key, for instance to drop duplicate recipients before they are checked.

    >>> normalize_address(" <Bob@Example.COM> ")
    'Bob@example.com'
    >>> normalize_address("Bob <Bob@Example.COM>")
    'Bob@example.com'
    """
    try:
        return parse_address(address)
    except ValueError:
        pass
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


def _lookup_key(address: object) -> str | None:
    """The stored form of ``address``, or ``None`` when it is not one e-mail address.

    Such text is never stored (see :func:`_key_to_record`), so it is on no list.
    """
    if not isinstance(address, str):
        return None
    try:
        return parse_address(address)
    except ValueError:
        return None


def _key_to_record(address: str, verdict: Verdict | None) -> str | None:
    """The stored form of ``address`` for :meth:`SuppressionList.add`; ``None``: record nothing.

    An entry by hand (no verdict) must name one address, or it is a ValueError: a
    typo would otherwise sit on the list unnoticed. A sender's verdict for text that
    is not one address (a recipient it refused locally as invalid) is not recorded:
    there is no address to suppress, and a send must not fail over it.
    """
    if verdict is None:
        return parse_address(address)
    return _lookup_key(address)


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
        """Whether ``address`` must not be mailed now (false for text that is not one address)."""
        ...

    def add(
        self, address: str, verdict: Verdict | None = None, *, reason: str | None = None
    ) -> bool:
        """Record a verdict (or a manual entry); return whether the address is now suppressed.

        ``address`` may be written ``Name <address>``. A manual entry for text that
        holds no address or several is a :class:`ValueError`; a verdict for such
        text records nothing and returns false.
        """
        ...

    def remove(self, address: str) -> bool:
        """Lift the address (a human decision); return whether it had an entry.

        :class:`ValueError` when ``address`` holds no address or several.
        """
        ...

    def get(self, address: str) -> SuppressionEntry | None:
        """The entry for ``address``, active or still counting, if any.

        :class:`ValueError` when ``address`` holds no address or several.
        """
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
        key = _lookup_key(address)
        now = _aware_now(self._clock)
        entry = self._entries.get(key) if key is not None else None
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
        key = _key_to_record(address, verdict)
        now = _aware_now(self._clock)
        if key is None:
            return False
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
        key = parse_address(address)
        with self._lock:
            return self._entries.pop(key, None) is not None

    def get(self, address: str) -> SuppressionEntry | None:
        """The entry for ``address``, if any."""
        return self._entries.get(parse_address(address))


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
        key = _lookup_key(address)
        now = _ts(_aware_now(self._clock))
        if key is None:
            return False
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM suppression WHERE address = ? AND active = 1 "
                "AND (expires_at IS NULL OR expires_at > ?)",
                (key, now),
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
        key = parse_address(address)
        with self._lock:
            return self._get(key)

    def _get(self, key: str) -> SuppressionEntry | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM suppression WHERE address = ?", (key,)
        ).fetchone()
        return _entry_from_row(row) if row is not None else None

    def add(
        self, address: str, verdict: Verdict | None = None, *, reason: str | None = None
    ) -> bool:
        """Record a verdict (or a manual entry); return whether the address is now suppressed."""
        key = _key_to_record(address, verdict)
        now = _aware_now(self._clock)
        if key is None:
            return False
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
        key = parse_address(address)
        with self._lock:
            cursor = self._db.execute("DELETE FROM suppression WHERE address = ?", (key,))
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
