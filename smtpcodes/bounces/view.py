"""A read-only view of one received message, shaped for bounce detectors.

Detectors ask the same questions of every message: its subject and sender,
its human-readable text, its delivery-status and feedback-report parts, the
headers of the returned original. :class:`MessageView` answers them once,
lazily, on top of the :mod:`.mime` tree.
"""

from __future__ import annotations

import html
import re
from functools import cached_property

from .mime import Headers, Part, decode_header_value, parse_headers

__all__ = ["MAX_TEXT_CHARS", "ORIGINAL_TEXT_MARKERS", "MessageView", "html_to_text"]

#: Characters of human-readable text that detectors look at.
MAX_TEXT_CHARS = 256 * 1024

#: Lines after which text reports quote the returned message (lower-case).
ORIGINAL_TEXT_MARKERS = (
    "--- below this line is a copy of the message",
    "------ this is a copy of the message",
    "----- original message -----",
    "----- unsent message follows -----",
    "----- original message follows -----",
    "below is a copy of the original message",
    "original message follows",
    "------ this is a copy of your message",
    "--- original message ---",
    "--- the header of the original message is following",
    "------- returned message",
    "original message headers:",
    "original message:",
)
_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_ORIGINAL_TYPES = (
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "message/global-headers",
)
_TAG_BREAK = re.compile(r"<(?:br|/p|/div|/tr|/h[1-6]|/li|p|div|tr|li)\b[^>]{0,500}>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]{0,2000}>")
_INVISIBLE_TAGS = ("style", "script", "head")


def _drop_invisible(markup: str) -> str:
    """Remove <style>, <script> and <head> elements (linear: one scan per tag name)."""
    lowered = markup.lower()
    for tag in _INVISIBLE_TAGS:
        if "<" + tag not in lowered:
            continue
        out: list[str] = []
        pos = 0
        while True:
            start = lowered.find("<" + tag, pos)
            if start == -1:
                break
            end = lowered.find("</" + tag, start)
            out.append(markup[pos:start])
            if end == -1:
                pos = len(markup)
                break
            close = lowered.find(">", end)
            pos = len(markup) if close == -1 else close + 1
        out.append(markup[pos:])
        markup = " ".join(out)
        lowered = markup.lower()
    return markup


def html_to_text(markup: str) -> str:
    """A plain-text rendering of HTML good enough to find addresses and replies in."""
    text = _drop_invisible(markup[:MAX_TEXT_CHARS])
    text = _TAG_BREAK.sub("\n", text)
    text = _TAG.sub("", text)
    text = html.unescape(text).replace("\xa0", " ")
    return "\n".join(line.rstrip() for line in text.splitlines())


class MessageView:
    """Lazy answers about one message (a :class:`~.mime.Part` tree)."""

    def __init__(self, root: Part) -> None:
        self.root = root
        self.headers: Headers = root.headers
        #: What detectors had to leave out (cut parts, capped recipient lists), for the report.
        self.problems: list[str] = []

    def header(self, name: str) -> str:
        """A top-level header, RFC 2047-decoded (empty when absent)."""
        return decode_header_value(self.headers.get(name))

    @cached_property
    def subject(self) -> str:
        """The decoded Subject."""
        return self.header("subject")

    @cached_property
    def sender(self) -> str:
        """The decoded From header, lower-cased."""
        return self.header("from").lower()

    @cached_property
    def _own_parts(self) -> list[Part]:
        """Parts of this message, not descending into enclosed messages."""
        out: list[Part] = []
        stack = [self.root]
        while stack:
            part = stack.pop()
            out.append(part)
            if part.content_type.startswith("multipart/"):
                stack.extend(reversed(part.children))
        return out

    @cached_property
    def delivery_status_parts(self) -> list[Part]:
        """``message/delivery-status`` parts of this message (not of enclosed ones)."""
        return [p for p in self._own_parts if p.content_type in _DSN_TYPES]

    @cached_property
    def feedback_parts(self) -> list[Part]:
        """``message/feedback-report`` parts (RFC 5965)."""
        return [p for p in self._own_parts if p.content_type == "message/feedback-report"]

    @cached_property
    def enclosed_messages(self) -> list[Part]:
        """``message/rfc822`` parts of this message, as their enclosed entity."""
        return [
            p.children[0]
            for p in self._own_parts
            if p.content_type in ("message/rfc822", "message/global") and p.children
        ]

    @cached_property
    def original_headers(self) -> Headers | None:
        """Headers of the returned original message, when the report carried them."""
        for part in self._own_parts:
            if part is self.root:
                continue
            if part.content_type in ("message/rfc822", "message/global"):
                if part.children and len(part.children[0].headers):
                    return part.children[0].headers
            elif part.content_type in _ORIGINAL_TYPES:
                headers = parse_headers(part.payload())
                if len(headers):
                    return headers
        return self._original_headers_in_text()

    def _original_headers_in_text(self) -> Headers | None:
        """Headers quoted after a "copy of the message follows" line of a text report."""
        text = self.text
        lowered = text.lower()
        for marker in ORIGINAL_TEXT_MARKERS:
            pos = lowered.find(marker)
            if pos == -1:
                continue
            rest = text[pos:]
            newline = rest.find("\n")
            block = rest[newline + 1 :].lstrip("\n") if newline != -1 else ""
            # Some reports indent the returned message; headers start at the margin.
            lines = [
                line.strip() if line[:1] == " " and ":" in line[:40] else line
                for line in block.split("\n\n", 1)[0].splitlines()[:400]
            ]
            parsed = parse_headers("\n".join(lines).encode("utf-8", "replace"))
            if "from" in parsed or "message-id" in parsed or "subject" in parsed:
                return parsed
        return None

    @cached_property
    def text_parts(self) -> list[Part]:
        """The human-readable parts (text/plain first, else text/html)."""
        plain: list[Part] = []
        markup: list[Part] = []
        for part in self._own_parts:
            if part.children:
                continue
            disposition = part.headers.get("content-disposition").lower()
            if part is not self.root and disposition.startswith("attachment"):
                continue
            if part.content_type == "text/plain" or (
                # A multipart whose boundary never occurs: its body is all there is.
                part.content_type.startswith("multipart/")
            ):
                plain.append(part)
            elif part.content_type == "text/html":
                markup.append(part)
        return plain or markup

    @cached_property
    def text(self) -> str:
        """The human-readable text of the report (decoded; HTML rendered as text)."""
        chunks: list[str] = []
        size = 0
        for part in self.text_parts:
            chunk = part.text()
            if part.content_type == "text/html" or _looks_like_html(chunk):
                chunk = html_to_text(chunk)
            chunks.append(chunk)
            size += len(chunk)
            if size >= MAX_TEXT_CHARS:
                break
        text = "\n".join(chunks)[:MAX_TEXT_CHARS]
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return text


def _looks_like_html(text: str) -> bool:
    # Only a body that *starts* as markup: a text report may quote an HTML original below.
    head = text[:300].lstrip().lower()
    return head.startswith(("<html", "<!doctype", "<body", "<div", "<p>", "<table", "<head"))
