"""Stream messages out of an ``.eml`` file, an mbox file or a Maildir.

Memory stays flat in the number of messages: an mbox is read line by line
and only the current message is held (and at most
:data:`~.parse.MAX_INPUT_BYTES` of it); a Maildir is listed one directory at a
time. A directory that is not a Maildir is read file by file, each file as an
mbox or a single message, and its subfolders (not hidden ones, not links) the
same way. A file that cannot be read is reported, not fatal, in
:func:`read_bounces`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .parse import MAX_INPUT_BYTES, parse_bounce
from .report import BounceReport

if TYPE_CHECKING:
    from ..classifier import Classifier

__all__ = ["read_bounces", "read_messages"]

_MAILDIR_SUBDIRS = ("new", "cur")
# Bytes of an mbox read at a time (a longer line comes in several pieces).
_MBOX_CHUNK = 1024 * 1024
# How deep subfolders of a plain folder are read.
_MAX_FOLDER_DEPTH = 16


def _is_maildir(path: Path) -> bool:
    return any((path / sub).is_dir() for sub in _MAILDIR_SUBDIRS)


def read_messages(path: str | os.PathLike[str]) -> Iterator[tuple[str, bytes]]:
    """Yield ``(label, raw bytes)`` for every message under ``path``.

    The label is the file name, with ``:N`` (the 1-based position) for
    messages of an mbox.

    :raises FileNotFoundError: when ``path`` does not exist.
    :raises OSError: when a file or folder under ``path`` cannot be read.
    """
    for label, data in _messages(path):
        if isinstance(data, OSError):
            raise data
        yield label, data


def _messages(path: str | os.PathLike[str]) -> Iterator[tuple[str, bytes | OSError]]:
    """Like :func:`read_messages`, but a file that cannot be read yields its error.

    One unreadable file (permissions, a Maildir message moved away mid-scan)
    must not end a scan of thousands.
    """
    root = Path(path)
    if not root.exists():
        msg = f"{os.fspath(path)!r} does not exist"
        raise FileNotFoundError(msg)
    if not root.is_dir():
        yield from _read_file(root)
        return
    yield from _folder_messages(root, 0)


def _folder_messages(root: Path, depth: int) -> Iterator[tuple[str, bytes | OSError]]:
    """A Maildir's messages, or a plain folder's files and (non-hidden) subfolders in order."""
    if _is_maildir(root):
        for sub in _MAILDIR_SUBDIRS:
            folder = root / sub
            if folder.is_dir():
                for entry in _entries(folder):
                    if isinstance(entry, OSError):
                        yield str(folder), entry
                    elif entry.is_file():
                        yield from _read_file(Path(entry.path))
        return
    for entry in _entries(root):
        if isinstance(entry, OSError):
            yield str(root), entry
        elif entry.name.startswith("."):
            continue
        elif entry.is_file():
            yield from _read_file(Path(entry.path))
        elif entry.is_dir(follow_symlinks=False) and depth < _MAX_FOLDER_DEPTH:
            # Archives by year or month, a Maildir among plain files: read them too.
            # Linked folders are not followed (a link back up would loop).
            yield from _folder_messages(Path(entry.path), depth + 1)


def _entries(folder: Path) -> list[os.DirEntry[str]] | list[OSError]:
    try:
        return sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        return [exc]


def _read_file(path: Path) -> Iterator[tuple[str, bytes | OSError]]:
    # One open per file: a pipe (``bounces <(zcat box.gz)``) cannot be read twice.
    try:
        with path.open("rb") as handle:
            head = handle.read(5)
            if head == b"From ":
                yield from _read_mbox(path, handle, head)
                return
            data = head + handle.read(MAX_INPUT_BYTES - len(head))
    except OSError as exc:
        yield str(path), exc
        return
    yield str(path), data


def _read_mbox(path: Path, handle: BinaryIO, head: bytes) -> Iterator[tuple[str, bytes]]:
    """Split an mbox at ``From `` lines that follow a blank line (or start the file).

    ``head`` is what was already read from ``handle`` (to tell an mbox).
    """
    chunks: list[bytes] = []
    size = 0
    index = 0
    previous_blank = True
    at_line_start = True
    in_separator = False
    # Read in bounded pieces: a file without line breaks is otherwise one huge "line".
    pieces = itertools.chain(
        [head + handle.readline(_MBOX_CHUNK)], iter(lambda: handle.readline(_MBOX_CHUNK), b"")
    )
    for line in pieces:
        starts_line = at_line_start
        at_line_start = line.endswith(b"\n")
        if not starts_line:
            # The rest of a line longer than one piece: never a separator.
            if not in_separator and size < MAX_INPUT_BYTES:
                chunks.append(line)
                size += len(line)
            previous_blank = False
            continue
        in_separator = False
        if line.startswith(b"From ") and previous_blank:
            if chunks:
                index += 1
                yield f"{path}:{index}", b"".join(chunks)
            chunks, size = [], 0
            previous_blank = False
            in_separator = not at_line_start
            continue
        previous_blank = line in (b"\n", b"\r\n")
        if size < MAX_INPUT_BYTES:
            # mboxrd quoting: ">From " in a body was "From " before it was stored.
            kept = line[1:] if line.startswith(b">From ") else line
            chunks.append(kept)
            size += len(kept)
    if chunks:
        index += 1
        yield f"{path}:{index}", b"".join(chunks)


def read_bounces(
    path: str | os.PathLike[str], *, classifier: Classifier | None = None
) -> Iterator[BounceReport]:
    """Yield a :class:`BounceReport` for every message under ``path``.

    Non-bounces yield reports with no records; a message that cannot be read
    at all yields a report whose ``problems`` say why. Nothing here raises
    for a bad message, so one broken file never stops a scan.

    :raises FileNotFoundError: when ``path`` does not exist.
    """
    for label, data in _messages(path):
        if isinstance(data, OSError):
            reason = data.strerror or str(data)
            yield BounceReport(
                records=(), source=label, problems=(f"the file could not be read: {reason}",)
            )
            continue
        try:
            yield parse_bounce(data, classifier=classifier, source=label)
        except Exception as exc:
            yield BounceReport(
                records=(), source=label, problems=(f"the message could not be read: {exc}",)
            )
