"""Reading the text of a regular expression: tokens, alternatives, groups.

The rule engine rewrites and splits the patterns of the YAML rules (for the word
index and for RE2). That needs to know, at each character of the source, whether
it is escaped or inside a character class; this module is the one place that
knows, so the three users below cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["group_end", "pieces", "split_alternatives"]

_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")


def pieces(source: str) -> Iterator[tuple[int, str, bool]]:
    """Yield ``(start, piece, in_class)`` over a pattern's source.

    A piece is an escape (``\\s``, ``\\.``), a class opening with any literal
    ``]`` or ``^`` right after it (``[``, ``[^]``), or one character.
    ``in_class`` tells whether the piece lies inside a character class.
    """
    i = 0
    n = len(source)
    in_class = False
    while i < n:
        ch = source[i]
        if ch == "\\":
            yield i, source[i : i + 2], in_class
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            yield i, ch, True  # the closing "]" belongs to the class too
            i += 1
            continue
        if ch == "[":
            # A "]" right after "[" or "[^" is a literal, not the end of the class.
            end = i + 1
            for lead in ("^]", "]", "^"):
                if source.startswith(lead, end):
                    end += len(lead)
                    break
            yield i, source[i:end], False
            in_class = True
            i = end
            continue
        yield i, ch, False
        i += 1


def split_alternatives(pattern: str) -> list[str]:
    """Split a pattern at its top-level ``|`` (outside groups and classes).

    ``a b|c (d|e)`` gives ``["a b", "c (d|e)"]``. Leading global flags such as
    ``(?s)`` are kept on every part.
    """
    flags = ""
    m = _INLINE_FLAGS.match(pattern)
    if m is not None:
        flags, pattern = m[0], pattern[m.end() :]
    parts: list[str] = []
    start = 0
    for index, piece, depth in _nesting(pattern):
        if piece == "|" and depth == 0:
            parts.append(pattern[start:index])
            start = index + 1
    parts.append(pattern[start:])
    return [flags + part for part in parts]


def group_end(source: str, start: int) -> int:
    """The index just after the group that opens at ``source[start]``."""
    for index, piece, depth in _nesting(source[start:]):
        if piece == ")" and depth == 0:
            return start + index + 1
    return len(source)


def _nesting(source: str) -> Iterator[tuple[int, str, int]]:
    """``(start, piece, depth)`` for the pieces outside classes; ``depth`` counts the
    groups open after the piece."""
    depth = 0
    for index, piece, in_class in pieces(source):
        if in_class:
            continue
        if piece == "(":
            depth += 1
        elif piece == ")":
            depth -= 1
        yield index, piece, depth
