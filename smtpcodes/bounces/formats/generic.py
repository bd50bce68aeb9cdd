"""The last resort: a bounce in a format no other detector knows.

Used only when the message looks like a delivery report (sent by a
mailer-daemon or postmaster, a bounce-like subject, an empty return path or
an ``X-Failed-Recipients`` header). Recipients are the addresses in
``X-Failed-Recipients``, else the addresses that start a line of the report
text before the returned original and are followed by an error-looking text;
the report's own sender and addressee are never taken for recipients.
"""

from __future__ import annotations

import re

from ..view import MessageView
from .base import (
    ADDRESS,
    BOUNCE_SUBJECT,
    HAS_REPLY_CODE,
    ORIGINAL_MARKERS,
    BounceFormat,
    Finding,
    address_blocks,
    cut_at,
)

__all__ = ["FORMAT"]

_BOUNCE_SENDER = re.compile(
    r"mailer-daemon|postmaster|mail delivery|mailer_daemon|"
    r"mail-daemon|bounce",
    re.IGNORECASE,
)
# Recipients taken from a report of unknown format; beyond this it is more likely noise.
_MAX_GUESSED = 100
_ERROR_WORDS = re.compile(
    r"unknown|not found|no such|does not exist|doesn't exist|invalid|reject|denied|refused|"
    r"fail|error|unable|could not|couldn't|cannot|can't|full|quota|disabled|blocked|"
    r"expired|timed? ?out|not (?:accepted|allowed|permitted|deliver)|unavailable|"
    r"unroutable|unrouteable|bounced|spam|policy|not receive|not delivered|undeliverable|"
    r"not responding|no valid recipients",
    re.IGNORECASE,
)


def _detect(view: MessageView) -> bool:
    if "x-failed-recipients" in view.headers:
        return True
    if _BOUNCE_SENDER.search(view.sender):
        return True
    if view.headers.get("return-path").strip() == "<>":
        # The null reverse-path: a delivery report or an auto-reply (checked earlier).
        return True
    return BOUNCE_SUBJECT.search(view.subject) is not None


def _own_addresses(view: MessageView) -> set[str]:
    own: set[str] = set()
    for name in (
        "from",
        "to",
        "reply-to",
        "return-path",
        "sender",
        "delivered-to",
        "envelope-to",
        "x-original-to",
    ):
        own.update(m[1].lower() for m in ADDRESS.finditer(view.headers.get(name)))
    return own


def _parse(view: MessageView) -> list[Finding]:
    text = cut_at(view.text, ORIGINAL_MARKERS)
    own = _own_addresses(view)
    blocks = [
        (address, diagnostic)
        for address, diagnostic in address_blocks(text, skip=own)
        if not _BOUNCE_SENDER.search(address.split("@")[0])
    ]
    failed = [m[1] for m in ADDRESS.finditer(view.headers.get("x-failed-recipients"))]
    if failed:
        by_address: dict[str, str] = {}
        for address, diagnostic in blocks:
            by_address.setdefault(address.lower(), diagnostic)
        fallback = _error_sentence(text)
        return [
            Finding(recipient=a, diagnostic=by_address.get(a.lower(), "") or fallback)
            for a in failed
        ]
    original_to: set[str] = set()
    if view.original_headers is not None:
        original_to = {m[1].lower() for m in ADDRESS.finditer(view.original_headers.get("to"))}
    out: list[Finding] = []
    seen: set[str] = set()
    for address, diagnostic in blocks:
        key = address.lower()
        if key in seen:
            continue
        wanted = (
            key in original_to
            or HAS_REPLY_CODE.search(diagnostic)
            or (_ERROR_WORDS.search(diagnostic) is not None)
        )
        if wanted:
            seen.add(key)
            out.append(Finding(recipient=address, diagnostic=diagnostic[:2000]))
    if not out:
        out = _addresses_in_lines(text, own)
    if not out and original_to and _ERROR_WORDS.search(text):
        # The report names nobody, but the returned original says whom it was for.
        snippet = _error_sentence(text)
        out = [Finding(recipient=a, diagnostic=snippet) for a in sorted(original_to)[:10]]
    if len(out) > _MAX_GUESSED:
        view.problems.append(
            f"the report names {len(out)} or more addresses; only the first {_MAX_GUESSED} "
            "were read (an unknown format, read by guessing)"
        )
    return out[:_MAX_GUESSED]


def _addresses_in_lines(text: str, own: set[str]) -> list[Finding]:
    """Addresses anywhere in a line, the diagnostic being that line and its neighbours.

    Reports like "Unknown user: a@b" or "The account is disabled.\n<a@b>" put
    the reason before the address or on the same line.
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    out: list[Finding] = []
    seen: set[str] = set()
    for index, line in enumerate(lines[:2000]):
        # One context per line, tested once: testing it again for every address of a
        # long line full of addresses made the work quadratic.
        context: str | None = None
        for m in ADDRESS.finditer(line):
            address = m[1].strip(".")
            key = address.lower()
            if key in own or key in seen or _BOUNCE_SENDER.search(key.split("@")[0]):
                continue
            if context is None:
                context = " ".join(lines[max(0, index - 2) : index + 4])
                if _ERROR_WORDS.search(context) is None and not HAS_REPLY_CODE.search(context):
                    break
            seen.add(key)
            out.append(Finding(recipient=address, diagnostic=context[:2000]))
            if len(out) > _MAX_GUESSED:
                return out
    return out


def _error_sentence(text: str) -> str:
    for line in text.splitlines():
        if HAS_REPLY_CODE.search(line):
            return line.strip()[:1000]
    for line in text.splitlines():
        if _ERROR_WORDS.search(line):
            return line.strip()[:1000]
    return ""


FORMAT = BounceFormat(name="generic", detect=_detect, parse=_parse, priority=95)
