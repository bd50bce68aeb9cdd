"""Read an HTTP response body and pull out what a provider put in it.

Sans-I/O and bounded: a body is parsed as JSON only up to :data:`MAX_JSON_BYTES`,
a path walk visits at most :data:`MAX_NODES` nodes, and texts are cut to
:data:`MAX_TEXT_CHARS`. Anything that is not JSON (an HTML error page from a proxy,
plain text, broken bytes) becomes a short text, never an exception.

Paths are dotted key names (``errors.code``, ``Messages.Errors.ErrorCode``); a list
met on the way is walked element by element, so ``errors.code`` reads the code of
every entry of an ``errors`` array. ``errors[].code`` is accepted as the same path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_NODES",
    "MAX_TEXT_CHARS",
    "ParsedBody",
    "parse_body",
    "split_path",
    "values_at",
]

MAX_JSON_BYTES = 256 * 1024
"""Bodies larger than this are not parsed as JSON (read as text instead)."""
MAX_NODES = 10_000
"""How many JSON nodes one path walk may visit."""
MAX_TEXT_CHARS = 2_000
"""How much of a message or raw text is kept."""

_TAG = re.compile(r"<[^<>]{0,2000}>")
_TITLE = re.compile(r"<title[^<>]{0,200}>([^<]{0,500})</title", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


@attrs.frozen
class ParsedBody:
    """A response body: the parsed JSON (``data``) or, failing that, its ``text``."""

    data: Any = None
    text: str = ""

    @property
    def is_json(self) -> bool:
        """Whether the body held JSON."""
        return self.data is not None


def _clean_text(text: str) -> str:
    """A short, single-line rendering of a non-JSON body (an HTML page's title or text)."""
    head = text[: MAX_TEXT_CHARS * 4]
    if "<" in head and ">" in head:
        title = _TITLE.search(head)
        head = title[1] if title is not None and title[1].strip() else _TAG.sub(" ", head)
    return _SPACE.sub(" ", head).strip()[:MAX_TEXT_CHARS]


def parse_body(body: object) -> ParsedBody:
    """Turn ``bytes``, ``str`` or already-parsed JSON into a :class:`ParsedBody`.

    Never raises: undecodable bytes are decoded with replacement characters,
    text that is not JSON (or too large or too deeply nested to parse) is kept as
    a cleaned-up text.
    """
    if body is None:
        return ParsedBody()
    if isinstance(body, bytes | bytearray | memoryview):
        raw = bytes(body[: MAX_JSON_BYTES + 1])
        text = raw.decode("utf-8", errors="replace")
        return _parse_text(text, truncated=len(body) > MAX_JSON_BYTES)
    if isinstance(body, str):
        return _parse_text(body[: MAX_JSON_BYTES + 1], truncated=len(body) > MAX_JSON_BYTES)
    if isinstance(body, Mapping | list | tuple):
        return ParsedBody(data=body)
    if isinstance(body, bool | int | float):
        # A JSON document may be a bare scalar; keep its JSON spelling as the text.
        return ParsedBody(text=json.dumps(body))
    msg = f"body must be bytes, str or parsed JSON, not {type(body).__name__}"
    raise TypeError(msg)


def _parse_text(text: str, *, truncated: bool) -> ParsedBody:
    stripped = text.lstrip("\ufeff \t\r\n")
    if not truncated and stripped[:1] in ("{", "[", '"'):
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, str):
            return ParsedBody(text=_clean_text(data))
        if isinstance(data, dict | list):
            return ParsedBody(data=data)
    return ParsedBody(text=_clean_text(stripped))


def split_path(path: str) -> tuple[str, ...]:
    """``"errors[].code"`` -> ``("errors", "code")``; ``""`` is the root."""
    return tuple(part for part in path.replace("[]", "").split(".") if part)


def values_at(data: Any, path: Sequence[str]) -> Iterator[Any]:
    """Every value found at ``path`` in ``data``, walking lists on the way, bounded."""
    budget = [MAX_NODES]
    yield from _walk(data, tuple(path), budget)


def _walk(node: Any, path: tuple[str, ...], budget: list[int]) -> Iterator[Any]:
    budget[0] -= 1
    if budget[0] < 0:
        return
    if isinstance(node, list | tuple):
        for item in node:
            if budget[0] < 0:
                return
            yield from _walk(item, path, budget)
        return
    if not path:
        yield node
        return
    if isinstance(node, Mapping):
        key = path[0]
        if key in node:
            yield from _walk(node[key], path[1:], budget)
            return
        # Providers are not consistent about case (ErrorCode, errorCode, error_code).
        folded = key.casefold()
        for name, value in node.items():
            if isinstance(name, str) and name.casefold() == folded:
                yield from _walk(value, path[1:], budget)
                return
