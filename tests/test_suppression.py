"""Suppression lists: memory and SQLite behave the same, and SQLite survives reopening."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from smtpcodes.suppression import (
    MemorySuppressionList,
    SqliteSuppressionList,
    SuppressionList,
    normalize_address,
    parse_address,
)
from smtpcodes.testing.clock import FakeClock
from smtpcodes.verdict import (
    Category,
    Outcome,
    RetryWindow,
    Scope,
    SuppressAfter,
    Verdict,
)

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def verdict(
    category: Category,
    outcome: Outcome,
    *,
    suppress: bool,
    suppress_after: SuppressAfter | None = None,
) -> Verdict:
    retry = suppress_after is not None
    return Verdict(
        outcome=outcome,
        category=category,
        retry=retry,
        retry_after=RetryWindow.seconds(3600) if retry else None,
        suppress=suppress,
        scope=Scope.RECIPIENT,
        rule=f"test.{category.value}",
        suppress_after=suppress_after,
    )


UNKNOWN_USER = verdict(Category.MAILBOX_UNKNOWN, Outcome.PERMANENT, suppress=True)
FULL_STRICT = verdict(Category.MAILBOX_FULL, Outcome.TRANSIENT, suppress=True)
FULL_LENIENT = verdict(
    Category.MAILBOX_FULL,
    Outcome.TRANSIENT,
    suppress=False,
    suppress_after=SuppressAfter(3, timedelta(days=7)),
)
GREYLISTED = verdict(Category.GREYLISTED, Outcome.TRANSIENT, suppress=False)

Clock = Callable[[], datetime]
AnyList = MemorySuppressionList | SqliteSuppressionList
Factory = Callable[[Clock], AnyList]


@pytest.fixture(params=["memory", "sqlite"])
def make_list(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    opened: list[SqliteSuppressionList] = []

    def factory(clock: Clock) -> AnyList:
        if request.param == "memory":
            return MemorySuppressionList(clock=clock)
        lst = SqliteSuppressionList(tmp_path / "suppression.db", clock=clock)
        opened.append(lst)
        return lst

    yield factory
    for lst in opened:
        lst.close()


def test_permanent_verdict_suppresses_at_once(make_list: Factory) -> None:
    """A suppressing permanent verdict puts the address on the list with its reason."""
    clock = FakeClock(START)
    lst = make_list(clock)
    assert lst.add("bob@example.com", UNKNOWN_USER) is True
    assert "bob@example.com" in lst
    entry = lst.get("bob@example.com")
    assert entry is not None
    assert entry.category == "mailbox_unknown"
    assert entry.expires_at is None
    assert entry.first_seen == START
    assert entry.verdict is not None
    assert entry.verdict["suppress"] is True


def test_non_suppressing_verdict_changes_nothing(make_list: Factory) -> None:
    """A greylisting verdict neither suppresses nor creates an entry."""
    lst = make_list(FakeClock(START))
    assert lst.add("bob@example.com", GREYLISTED) is False
    assert "bob@example.com" not in lst
    assert lst.get("bob@example.com") is None


def test_domain_case_is_ignored_local_part_kept(make_list: Factory) -> None:
    """Matching ignores the domain's case but not the local part's."""
    lst = make_list(FakeClock(START))
    lst.add("Bob@Example.COM", UNKNOWN_USER)
    assert "Bob@example.com" in lst
    assert "<Bob@EXAMPLE.com>" in lst
    assert "bob@example.com" not in lst


def test_remove_lifts_an_entry(make_list: Factory) -> None:
    """remove() lifts the address and reports whether there was one."""
    lst = make_list(FakeClock(START))
    lst.add("bob@example.com", UNKNOWN_USER)
    assert lst.remove("bob@EXAMPLE.com") is True
    assert "bob@example.com" not in lst
    assert lst.remove("bob@example.com") is False


def test_manual_add_without_verdict(make_list: Factory) -> None:
    """A person can add an address by hand with a reason."""
    lst = make_list(FakeClock(START))
    assert lst.add("carol@example.org", reason="spam complaint") is True
    entry = lst.get("carol@example.org")
    assert entry is not None
    assert entry.reason == "spam complaint"
    assert "carol@example.org" in lst


def test_soft_entry_expires(make_list: Factory) -> None:
    """An entry made from a transient 452 4.2.2 verdict expires after the soft expiry."""
    clock = FakeClock(START)
    lst = make_list(clock)
    lst.add("full@example.com", FULL_STRICT)
    assert "full@example.com" in lst
    entry = lst.get("full@example.com")
    assert entry is not None
    assert entry.expires_at == START + timedelta(days=30)
    clock.advance(timedelta(days=29))
    assert "full@example.com" in lst
    clock.advance(timedelta(days=2))
    assert "full@example.com" not in lst


def test_suppress_after_counts_to_the_threshold(make_list: Factory) -> None:
    """With suppress_after(3, 7 days) the third failure within the week suppresses."""
    clock = FakeClock(START)
    lst = make_list(clock)
    assert lst.add("full@example.com", FULL_LENIENT) is False
    assert "full@example.com" not in lst
    clock.advance(timedelta(days=2))
    assert lst.add("full@example.com", FULL_LENIENT) is False
    entry = lst.get("full@example.com")
    assert entry is not None
    assert entry.active is False
    assert entry.failures == 2
    clock.advance(timedelta(days=2))
    assert lst.add("full@example.com", FULL_LENIENT) is True
    assert "full@example.com" in lst


def test_suppress_after_window_slides(make_list: Factory) -> None:
    """Failures older than the window no longer count towards the threshold."""
    clock = FakeClock(START)
    lst = make_list(clock)
    lst.add("full@example.com", FULL_LENIENT)
    clock.advance(timedelta(days=5))
    lst.add("full@example.com", FULL_LENIENT)
    clock.advance(timedelta(days=5))  # the first failure is now 10 days old
    assert lst.add("full@example.com", FULL_LENIENT) is False
    clock.advance(timedelta(days=1))
    assert lst.add("full@example.com", FULL_LENIENT) is True


def test_hard_entry_is_not_softened(make_list: Factory) -> None:
    """A later soft verdict does not give a permanent entry an expiry."""
    clock = FakeClock(START)
    lst = make_list(clock)
    lst.add("bob@example.com", UNKNOWN_USER)
    lst.add("bob@example.com", FULL_STRICT)
    entry = lst.get("bob@example.com")
    assert entry is not None
    assert entry.expires_at is None
    clock.advance(timedelta(days=365))
    assert "bob@example.com" in lst


def test_sqlite_survives_reopen(tmp_path: Path) -> None:
    """Entries, counts and reasons are read back after the file is reopened."""
    clock = FakeClock(START)
    path = tmp_path / "s.db"
    with SqliteSuppressionList(path, clock=clock) as lst:
        lst.add("bob@example.com", UNKNOWN_USER)
        lst.add("full@example.com", FULL_LENIENT)
        clock.advance(timedelta(hours=1))
        lst.add("full@example.com", FULL_LENIENT)
    with SqliteSuppressionList(path, clock=clock) as again:
        assert "bob@example.com" in again
        entry = again.get("full@example.com")
        assert entry is not None
        assert entry.failure_times == (START, START + timedelta(hours=1))
        assert again.add("full@example.com", FULL_LENIENT) is True
        assert len(again) == 2
        bob = again.get("bob@example.com")
        assert bob is not None
        assert bob.verdict is not None
        assert bob.verdict["category"] == "mailbox_unknown"


def test_lists_satisfy_the_protocol(tmp_path: Path) -> None:
    """Both implementations are SuppressionList instances at run time."""
    with SqliteSuppressionList(tmp_path / "p.db") as lst:
        assert isinstance(lst, SuppressionList)
    assert isinstance(MemorySuppressionList(), SuppressionList)
    assert not isinstance(object(), SuppressionList)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a@B.C", "a@b.c"),
        ("  <X@Y.Org>", "X@y.org"),
        ("weird", "weird"),
        ('"a@b"@Example.com', '"a@b"@example.com'),
        ("Bob <Bob@Example.COM>", "Bob@example.com"),
        ("a@x.example, b@x.example", "a@x.example, b@x.example"),
    ],
)
def test_normalize_address(raw: str, expected: str) -> None:
    """normalize_address trims, drops brackets or a display name, lower-cases the domain only.

    Text that is not one address is kept (trimmed, domain part lower-cased), never refused.
    """
    assert normalize_address(raw) == expected


def test_sqlite_counts_from_many_threads(tmp_path: Path) -> None:
    """Concurrent adds from threads lose no failure count."""
    many = verdict(
        Category.MAILBOX_FULL,
        Outcome.TRANSIENT,
        suppress=False,
        suppress_after=SuppressAfter(10_000, timedelta(days=1)),
    )
    with SqliteSuppressionList(tmp_path / "t.db") as lst:

        def hammer() -> None:
            for _ in range(25):
                lst.add("full@example.com", many)

        with ThreadPoolExecutor(max_workers=8) as pool:
            for future in [pool.submit(hammer) for _ in range(8)]:
                future.result()
        entry = lst.get("full@example.com")
        assert entry is not None
        assert entry.failures == 200
        assert "full@example.com" not in lst


def test_naive_clock_is_refused(make_list: Factory) -> None:
    """A clock without a timezone is a ValueError in both lists, not a crash on the next add."""

    lst = make_list(lambda: START.replace(tzinfo=None))
    with pytest.raises(ValueError, match="aware"):
        lst.add("full@example.com", FULL_LENIENT)
    with pytest.raises(ValueError, match="aware"):
        assert "full@example.com" not in lst


def _open_handles(path: Path) -> int:
    """How many file descriptors of this process point at ``path`` (Linux /proc)."""
    fds = Path("/proc/self/fd")
    found = 0
    for fd in fds.iterdir():
        try:
            found += Path(os.readlink(fd)) == path
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
def test_sqlite_list_on_a_broken_file_leaves_no_handle_open(tmp_path: Path) -> None:
    """Opening a file that is not a database raises and closes the file again."""
    path = tmp_path / "not-a-database.db"
    path.write_bytes(b"this is not SQLite " * 400)
    with pytest.raises(sqlite3.DatabaseError):
        SqliteSuppressionList(path)
    assert _open_handles(path) == 0


def test_memory_list_can_be_counted_while_another_thread_adds() -> None:
    """len() and iteration never trip over entries added concurrently by another thread."""
    lst = MemorySuppressionList()
    errors: list[BaseException] = []
    done = threading.Event()

    def count() -> None:
        while not done.is_set():
            try:
                len(lst)
                list(lst)
            except RuntimeError as error:  # "dictionary changed size during iteration"
                errors.append(error)
                return

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    reader = threading.Thread(target=count)
    reader.start()
    try:
        for i in range(5000):
            lst.add(f"u{i}@example.com", reason="test")
    finally:
        done.set()
        reader.join()
        sys.setswitchinterval(previous)
    assert errors == []
    assert len(lst) == 5000


def test_display_name_form_is_stored_as_the_bare_address(make_list: Factory) -> None:
    """add('Bob <bob@Example.COM>') stores bob@example.com; either form finds it."""
    lst = make_list(FakeClock(START))
    assert lst.add("Bob <bob@Example.COM>", reason="unsubscribed") is True
    (entry,) = list(lst)
    assert entry.address == "bob@example.com"
    assert "bob@example.com" in lst
    assert "Bob <bob@example.com>" in lst
    assert '"Smith, Bob" <bob@EXAMPLE.com>' in lst
    assert "bob@example.com (Bob)" in lst
    found = lst.get("Robert <bob@example.com>")
    assert found is not None
    assert found.reason == "unsubscribed"
    assert "Bob <Bob@example.com>" not in lst  # the local part's case still counts


def test_every_entry_point_takes_either_form(make_list: Factory) -> None:
    """A verdict for a bare address is counted, read and lifted through the display form."""
    lst = make_list(FakeClock(START))
    assert lst.add("full@example.com", FULL_LENIENT) is False
    assert lst.add("Full Box <full@EXAMPLE.com>", FULL_LENIENT) is False
    entry = lst.get("Full Box <full@example.com>")
    assert entry is not None
    assert entry.failures == 2
    assert lst.remove("<full@Example.com>") is True
    assert lst.get("full@example.com") is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "holds no e-mail address"),
        ("   ", "holds no e-mail address"),
        ("Bob Smith", "holds no e-mail address"),
        ("Bob <>", "holds no e-mail address"),
        ("bob@", "holds no e-mail address"),
        ("@example.com", "holds no e-mail address"),
        ("bob@example.com, carol@example.com", "not one e-mail address"),
        ("<bob@example.com> <carol@example.com>", "not one e-mail address"),
        ("bob@example.com carol@example.com", "not one e-mail address"),
    ],
)
def test_text_without_one_address_is_refused(make_list: Factory, text: str, problem: str) -> None:
    """add, remove and get refuse text with no address or several; `in` answers False."""
    lst = make_list(FakeClock(START))
    with pytest.raises(ValueError, match=problem):
        lst.add(text, reason="by hand")
    with pytest.raises(ValueError, match=problem):
        lst.remove(text)
    with pytest.raises(ValueError, match=problem):
        lst.get(text)
    assert text not in lst
    assert list(lst) == []


def test_verdict_for_text_without_an_address_records_nothing(make_list: Factory) -> None:
    """A sender's verdict for text that is not one address is not stored, and does not raise."""
    lst = make_list(FakeClock(START))
    assert lst.add("", UNKNOWN_USER) is False
    assert lst.add("a@example.com, b@example.com", UNKNOWN_USER) is False
    assert list(lst) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bob@Example.COM", "bob@example.com"),
        ("  <Bob@Example.com>  ", "Bob@example.com"),
        ("Bob <bob@Example.com>", "bob@example.com"),
        ('"Smith, Bob" <bob@example.com>', "bob@example.com"),
        ('"Smith <boss>" <bob@example.com>', "bob@example.com"),
        ("bob@example.com (Bob)", "bob@example.com"),
        ('"a b"@Example.com', '"a b"@example.com'),
        ('"a\\\\b"@example.com', '"a\\\\b"@example.com'),
        ("Jürgen <jürgen@Bücher.example>", "jürgen@bücher.example"),
    ],
)
def test_parse_address(text: str, expected: str) -> None:
    """parse_address drops a display name, keeps a bare address as written, lowers the domain."""
    assert parse_address(text) == expected
    assert normalize_address(text) == expected
