"""A small, bounded MIME walker for delivery reports.

Bounce reading needs only a few things from a message: its top headers, the
decoded text of its human-readable parts, the ``message/delivery-status`` (or
``message/feedback-report``) part and the headers of the returned original. The
standard library builds a full object tree for every part, which is what makes
it slow on large batches; this walker splits the raw bytes at the MIME
boundaries and decodes only what is asked for.

Work is bounded on hostile input: header blocks, part counts and nesting depth
are capped (:data:`MAX_DEPTH`, :data:`MAX_PARTS`, :data:`MAX_HEADER_BYTES`), and
decoding a part reads at most :data:`MAX_DECODED_BYTES` of it. When the walker
cannot make sense of a message, :func:`from_email_message` builds the same tree
from :mod:`email`'s ``compat32`` parser, the fallback for anything unusual.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.header
import email.message
import email.policy
import re

__all__ = [
    "MAX_DECODED_BYTES",
    "MAX_DEPTH",
    "MAX_HEADER_BYTES",
    "MAX_PARTS",
    "Headers",
    "Part",
    "decode_header_value",
    "from_email_message",
    "parse_headers",
    "parse_message",
]

#: Multipart nesting deeper than this is not descended into (nesting bombs).
MAX_DEPTH = 8
#: Parts read from one message, all levels together.
MAX_PARTS = 256
#: Bytes of one header block that are read.
MAX_HEADER_BYTES = 256 * 1024
#: Bytes of one part's body that are decoded into text.
MAX_DECODED_BYTES = 1024 * 1024

_PARAM = re.compile(r';\s*([A-Za-z0-9_.*-]{1,40})\s*=\s*("(?:[^"\\]|\\.){0,1000}"|[^;\s]{0,1000})')
_ENCODED_WORD = re.compile(r"=\?[^?\s]{1,40}\?[bBqQ]\?[^?\s]{0,2000}\?=")


class Headers:
    """An ordered, case-insensitive view of one header block."""

    __slots__ = ("_fields",)

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields

    def get(self, name: str, default: str = "") -> str:
        """The first value of field ``name`` (lower-case), or ``default``."""
        for key, value in self._fields:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of field ``name`` (lower-case), in order."""
        return [value for key, value in self._fields if key == name]

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self._fields)

    def items(self) -> list[tuple[str, str]]:
        """The ``(lower-case name, value)`` pairs in order."""
        return list(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


class Part:
    """One MIME entity: its headers, its content type and its raw body.

    ``body`` is the still-encoded payload (for a multipart, the bytes between
    the header block and the end); ``children`` the sub-parts of a multipart or
    the enclosed message of a ``message/*`` part.
    """

    __slots__ = ("body", "children", "content_type", "cut", "headers", "params")

    def __init__(self, headers: Headers, body: bytes) -> None:
        self.headers = headers
        self.body = body
        raw_type = headers.get("content-type")
        main, _, rest = raw_type.partition(";")
        self.content_type = main.strip().lower() or "text/plain"
        self.params = _params(";" + rest) if rest else {}
        self.children: list[Part] = []
        #: On the root of a parsed message: what the walker's limits left unread.
        self.cut: list[str] = []

    def payload(self, limit: int = MAX_DECODED_BYTES) -> bytes:
        """The body with its Content-Transfer-Encoding undone (at most ``limit`` bytes of it)."""
        cte = self.headers.get("content-transfer-encoding").strip().lower()
        data = self.body[:limit]
        if cte == "base64":
            try:
                return binascii.a2b_base64(_B64_JUNK.sub(b"", data) + b"==")
            except (binascii.Error, ValueError):
                return data
        if cte == "quoted-printable":
            return binascii.a2b_qp(data)
        return data

    def text(self, limit: int = MAX_DECODED_BYTES) -> str:
        """The payload decoded with the declared charset (errors replaced)."""
        return decode_bytes(self.payload(limit), self.params.get("charset", ""))

    def walk(self) -> list[Part]:
        """This part and every part under it, depth first."""
        out: list[Part] = []
        stack = [self]
        while stack:
            part = stack.pop()
            out.append(part)
            stack.extend(reversed(part.children))
        return out


_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


def decode_bytes(data: bytes, charset: str) -> str:
    """Decode ``data`` in ``charset``; unknown or wrong charsets fall back to UTF-8."""
    name = charset.strip().strip('"').lower() or "utf-8"
    if name in ("us-ascii", "ascii", "utf-8", "utf8"):
        return data.decode("utf-8", errors="replace")
    try:
        info = codecs.lookup(name)
    except LookupError:
        return data.decode("utf-8", errors="replace")
    if not getattr(info, "_is_text_encoding", True):
        # base64, rot13, zlib...: codecs, but not charsets (bytes.decode refuses them).
        return data.decode("utf-8", errors="replace")
    if info.name.startswith(("utf-16", "utf-32")) and b"\x00" not in data:
        # Every line break (and any ASCII) in UTF-16/32 has a NUL byte: this is a wrong label.
        return data.decode("utf-8", errors="replace")
    try:
        return data.decode(name, errors="replace")
    except (UnicodeError, ValueError, TypeError, LookupError):  # pragma: no cover - broken codec
        return data.decode("utf-8", errors="replace")


def _params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for m in _PARAM.finditer(text[:4096]):
        value = m[2]
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"')
        params.setdefault(m[1].lower(), value)
    return params


def parse_headers(block: bytes) -> Headers:
    """Parse one header block (bytes up to the blank line), unfolding continuations."""
    text = block[:MAX_HEADER_BYTES].decode("utf-8", errors="replace")
    fields: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line:
            continue
        if line[0] in " \t":
            if fields:
                name, value = fields[-1]
                fields[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep or " " in name.strip() or not name or "=" in name:
            if fields and fields[-1][1].endswith(";"):
                # A parameter line that lost its folding indent ("boundary=...").
                fields[-1] = (fields[-1][0], fields[-1][1] + " " + line.strip())
            continue
        fields.append((name.strip().lower(), value.strip()))
    return Headers(fields)


def _split_head(raw: bytes) -> tuple[bytes, bytes]:
    """Split at the first blank line; a message without one is all headers."""
    if raw.startswith((b"\n", b"\r\n")):
        return b"", raw.lstrip(b"\r\n")
    crlf = raw.find(b"\r\n\r\n", 0, MAX_HEADER_BYTES)
    lf = raw.find(b"\n\n", 0, MAX_HEADER_BYTES)
    if lf != -1 and (crlf == -1 or lf < crlf):
        return raw[:lf], raw[lf + 2 :]
    if crlf != -1:
        return raw[:crlf], raw[crlf + 4 :]
    return raw[:MAX_HEADER_BYTES], b""


def _split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    """The parts between ``--boundary`` delimiters (at line starts)."""
    delimiter = b"--" + boundary
    parts: list[bytes] = []
    pos = body.find(delimiter)
    while pos != -1 and pos > 0 and body[pos - 1 : pos] not in (b"\n",):
        pos = body.find(delimiter, pos + 1)
    if pos == -1:
        return []
    while pos != -1 and len(parts) < MAX_PARTS:
        start = pos + len(delimiter)
        if body.startswith(b"--", start):
            break
        line_end = body.find(b"\n", start)
        if line_end == -1:
            break
        nxt = body.find(b"\n" + delimiter, line_end)
        if nxt == -1:
            parts.append(body[line_end + 1 :])
            break
        chunk = body[line_end + 1 : nxt]
        if chunk.endswith(b"\r"):
            chunk = chunk[:-1]
        parts.append(chunk)
        pos = nxt + 1
    return parts


def parse_message(raw: bytes) -> Part:
    """Parse a whole message (or entity) from bytes into a :class:`Part` tree."""
    if raw.startswith(b"From "):
        # An mbox separator line is not a header.
        newline = raw.find(b"\n")
        raw = raw[newline + 1 :] if newline != -1 else b""
    # [parts left, whether the depth limit cut a part, whether the part limit did]
    budget = [MAX_PARTS, 0, 0]
    root = _parse_entity(raw, 0, budget)
    if budget[1]:
        root.cut.append(
            f"the message nests MIME parts deeper than {MAX_DEPTH} levels; "
            "the parts below were not read"
        )
    if budget[2]:
        root.cut.append(f"the message has more than {MAX_PARTS} MIME parts; the rest were not read")
    return root


_NESTING_TYPES = ("message/rfc822", "message/global", "message/partial")


def _parse_entity(raw: bytes, depth: int, budget: list[int]) -> Part:
    head, body = _split_head(raw)
    part = Part(parse_headers(head), body)
    budget[0] -= 1
    ctype = part.content_type
    if depth >= MAX_DEPTH or budget[0] <= 0:
        if ctype.startswith("multipart/") or ctype in _NESTING_TYPES:
            budget[1 if depth >= MAX_DEPTH else 2] = 1
        return part
    if ctype.startswith("multipart/"):
        boundary = part.params.get("boundary", "")
        if boundary:
            chunks = _split_multipart(body, boundary.encode("utf-8", "replace"))
            if len(chunks) >= MAX_PARTS:
                budget[2] = 1
            for chunk in chunks:
                if budget[0] <= 0:
                    budget[2] = 1
                    break
                part.children.append(_parse_entity(chunk, depth + 1, budget))
    elif ctype in _NESTING_TYPES:
        inner = body
        cte = part.headers.get("content-transfer-encoding").strip().lower()
        if cte in ("base64", "quoted-printable"):
            inner = part.payload()
        part.children.append(_parse_entity(inner, depth + 1, budget))
    return part


def from_email_message(message: email.message.Message, depth: int = 0) -> Part:
    """Build a :class:`Part` tree from a parsed :class:`email.message.Message`."""
    fields = [(k.lower(), str(v)) for k, v in message.items()]
    body = b""
    if not message.is_multipart():
        raw_payload = message.get_payload()
        if isinstance(raw_payload, str):
            body = raw_payload.encode("utf-8", errors="surrogateescape")
        elif isinstance(raw_payload, bytes):
            body = raw_payload
    if message.get_content_type() in ("message/delivery-status", "message/feedback-report"):
        # compat32 splits these bodies into header blocks; put the blocks back together.
        blocks = message.get_payload()
        if isinstance(blocks, list):
            body = "\n".join(
                "".join(f"{k}: {v}\n" for k, v in block.items())
                for block in blocks
                if isinstance(block, email.message.Message)
            ).encode("utf-8", errors="replace")
        return Part(Headers(fields), body)
    part = Part(Headers(fields), body)
    if depth < MAX_DEPTH and message.is_multipart():
        payload = message.get_payload()
        if isinstance(payload, list):
            for sub in payload[:MAX_PARTS]:
                if isinstance(sub, email.message.Message):
                    part.children.append(from_email_message(sub, depth + 1))
    return part


def decode_header_value(value: str) -> str:
    """Decode RFC 2047 encoded words in a header value; leave the rest as it is."""
    if "=?" not in value or _ENCODED_WORD.search(value) is None:
        return value
    try:
        chunks = email.header.decode_header(value)
    except (ValueError, LookupError, UnicodeError, binascii.Error):
        return value
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset or "utf-8"))
        else:
            out.append(chunk)
    return "".join(out)
