"""Reading .eml files, mboxes and Maildirs; the DSN field reader and address cleaning."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpcodes.bounces.dsn import clean_address, parse_delivery_status
from smtpcodes.bounces.readers import read_bounces, read_messages
from smtpcodes.bounces.synth import DsnRecipientSpec, make_dsn

DATA = Path(__file__).resolve().parent / "data" / "bounces"


def _dsn(address: str) -> bytes:
    return make_dsn([DsnRecipientSpec(address, "550 5.1.1 User unknown")])


def test_single_eml_file_gives_one_report(tmp_path: Path) -> None:
    """An .eml path yields exactly one report with its source set."""
    path = tmp_path / "one.eml"
    path.write_bytes(_dsn("x@example.com"))
    reports = list(read_bounces(path))
    assert len(reports) == 1
    assert reports[0].source == str(path)
    assert reports[0].records[0].recipient == "x@example.com"


def test_mbox_is_split_at_from_lines(tmp_path: Path) -> None:
    """Each "From " separator after a blank line starts a message; ">From " is unquoted."""
    path = tmp_path / "box.mbox"
    chunks = []
    for i in range(3):
        body = _dsn(f"u{i}@example.com").replace(b"\r\n", b"\n")
        chunks.append(b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n" + body + b"\n")
    chunks.append(b"From someone Mon Jan  1 00:00:00 2024\nSubject: hi\n\n>From the start\nbye\n")
    path.write_bytes(b"".join(chunks))
    messages = list(read_messages(path))
    assert [label for label, _ in messages] == [f"{path}:{i}" for i in range(1, 5)]
    assert b"\nFrom the start" in messages[3][1]
    reports = list(read_bounces(path))
    assert [r.records[0].recipient for r in reports[:3]] == [
        "u0@example.com",
        "u1@example.com",
        "u2@example.com",
    ]
    assert reports[3].records == ()


def test_maildir_reads_new_and_cur(tmp_path: Path) -> None:
    """A Maildir's new/ and cur/ messages are read; tmp/ is not."""
    for sub in ("new", "cur", "tmp"):
        (tmp_path / sub).mkdir()
    (tmp_path / "new" / "1.host").write_bytes(_dsn("n@example.com"))
    (tmp_path / "cur" / "2.host:2,S").write_bytes(_dsn("c@example.com"))
    (tmp_path / "tmp" / "3.host").write_bytes(_dsn("t@example.com"))
    recipients = [r.records[0].recipient for r in read_bounces(tmp_path)]
    assert recipients == ["n@example.com", "c@example.com"]


def test_plain_directory_is_read_file_by_file() -> None:
    """A folder that is not a Maildir is read one file at a time (dot files skipped)."""
    reports = list(read_bounces(DATA))
    eml = sorted(p for p in DATA.iterdir() if p.is_file() and not p.name.startswith("."))
    assert len(reports) == len(eml)
    assert sum(1 for r in reports if r.records) >= 15


def test_missing_path_raises_file_not_found(tmp_path: Path) -> None:
    """A path that does not exist is an error the caller sees."""
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list(read_bounces(tmp_path / "nope"))


def test_reading_is_lazy(tmp_path: Path) -> None:
    """read_bounces is a generator: a huge mbox is not read before the first report."""
    path = tmp_path / "big.mbox"
    path.write_bytes(
        b"".join(
            b"From x Mon Jan  1 00:00:00 2024\n" + _dsn(f"u{i}@example.com") + b"\n"
            for i in range(50)
        )
    )
    iterator = read_bounces(path)
    first = next(iterator)
    assert first.records[0].recipient == "u0@example.com"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("rfc822; <a@example.com>", "a@example.com"),
        ("RFC822;b@example.com", "b@example.com"),
        ("utf-8; j\\x{00F6}rg@example.com", "jörg@example.com"),
        ("rfc822; c+2Bd@example.com", "c+d@example.com"),
        ("rfc822; plus+tag@example.com", "plus+tag@example.com"),
        ("<d@example.com>", "d@example.com"),
        ("rfc822; e@example.com (Ernest)", "e@example.com"),
    ],
)
def test_clean_address(value: str, expected: str) -> None:
    """Address types, angle brackets, RFC 6533 and xtext escapes and comments are undone."""
    assert clean_address(value) == expected


def test_delivery_status_blocks_without_blank_lines_are_split() -> None:
    """A new Final-Recipient starts a new recipient even without a blank line."""
    fields = parse_delivery_status(
        "Reporting-MTA: dns; mx.example.org\n\n"
        "Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n"
        "Final-Recipient: rfc822; b@example.com\nAction: delayed\nStatus: 4.2.2\n"
        "Diagnostic-Code: smtp; 452 4.2.2 Mailbox\n full\n"
    )
    assert fields.message["reporting-mta"] == "dns; mx.example.org"
    assert [r.get("final-recipient") for r in fields.recipients] == [
        "rfc822; a@example.com",
        "rfc822; b@example.com",
    ]
    assert fields.recipients[1].get("diagnostic-code") == "smtp; 452 4.2.2 Mailbox full"
    assert fields.truncated is False


def test_mbox_line_without_breaks_is_read_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An mbox message that is one 16 MB line is held only up to the per-message cap."""
    import tracemalloc

    from smtpcodes.bounces import readers

    # A small cap keeps the test light; the shipped cap (64 MB) behaves the same way.
    monkeypatch.setattr(readers, "MAX_INPUT_BYTES", 1024 * 1024)
    path = tmp_path / "box.mbox"
    body = _dsn("after@example.com").replace(b"\r\n", b"\n")
    with path.open("wb") as handle:
        handle.write(b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\nSubject: x\n\n")
        handle.write(b"y" * (16 * 1024 * 1024) + b"\n\n")
        handle.write(b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n" + body)
    tracemalloc.start()
    try:
        sizes = [len(data) for _label, data in read_messages(path)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(sizes) == 2
    assert sizes[0] <= 2 * 1024 * 1024
    assert sizes[1] == len(body)
    assert peak < 6 * 1024 * 1024


def test_from_inside_a_long_line_does_not_split_the_mbox(tmp_path: Path) -> None:
    """'From ' in the middle of a line longer than the read chunk is not a separator."""
    from smtpcodes.bounces.readers import _MBOX_CHUNK

    path = tmp_path / "box.mbox"
    line = b"z" * _MBOX_CHUNK + b"From not a separator\n"
    path.write_bytes(b"From a Mon Jan  1 00:00:00 2024\nSubject: x\n\n" + line + b"\nend\n")
    messages = list(read_messages(path))
    assert len(messages) == 1
    assert messages[0][1].endswith(line + b"\nend\n")


def test_an_over_long_separator_line_is_not_taken_into_the_next_message(tmp_path: Path) -> None:
    """The tail of a 'From ' line longer than the read chunk is dropped with the separator."""
    from smtpcodes.bounces.readers import _MBOX_CHUNK

    path = tmp_path / "box.mbox"
    path.write_bytes(b"From " + b"s" * _MBOX_CHUNK + b"\nSubject: x\n\nbody\n")
    assert [data for _label, data in read_messages(path)] == [b"Subject: x\n\nbody\n"]


def test_subfolders_of_a_plain_folder_are_read_too(tmp_path: Path) -> None:
    """Messages in subfolders (an archive by year, a Maildir inside) are read, not skipped."""
    (tmp_path / "top.eml").write_bytes(_dsn("top@example.com"))
    (tmp_path / "2024" / "03").mkdir(parents=True)
    (tmp_path / "2024" / "03" / "deep.eml").write_bytes(_dsn("deep@example.com"))
    maildir = tmp_path / "inbox"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.host").write_bytes(_dsn("maildir@example.com"))
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.eml").write_bytes(_dsn("hidden@example.com"))
    # A link back up must not loop.
    (tmp_path / "2024" / "loop").symlink_to(tmp_path, target_is_directory=True)
    recipients = sorted(r.records[0].recipient for r in read_bounces(tmp_path))
    assert recipients == ["deep@example.com", "maildir@example.com", "top@example.com"]
