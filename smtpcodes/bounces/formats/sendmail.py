"""Sendmail's plain-text bounces (no ``message/delivery-status`` part).

Old and minimal Sendmail setups return "----- The following addresses had
permanent fatal errors -----" with ``<address>`` lines and ``(reason: ...)``,
and a "----- Transcript of session follows -----" whose lines read
``550 <address>... User unknown`` or ``<<< 550 5.1.1 ...``.
"""

from __future__ import annotations

import re

from ..view import MessageView
from .base import BounceFormat, Finding, address_blocks, find_address

__all__ = ["FORMAT"]

_ERRORS = (
    "the following addresses had permanent fatal errors",
    "the following addresses had transient non-fatal errors",
    "the following addresses had delivery problems",
    "the following addresses had delivery errors",
)
_TRANSCRIPT = "transcript of session follows"
_ENDS = (
    "----- transcript of session follows",
    "----- original message",
    "----- unsent message",
    "----- message header follows",
    "----- returned message",
    "----- non-delivered information",
)
_TRANSCRIPT_ENDS = (
    "----- original message",
    "----- unsent message",
    "----- message header",
    "----- returned message",
    "----- the following addresses",
)
# "550 <a@b>... User unknown" or "550 5.1.1 a@b... User unknown"
_TRANSCRIPT_LINE = re.compile(
    r"(?:<<<\s?)?([245]\d\d)[ -](?:[245]\.\d{1,3}\.\d{1,3}\s)?\s?<?([^\s<>]{1,64}@[^\s<>.]"
    r"[^\s<>]{0,252}?)>?\.\.\.\s?(.{0,500})"
)


_MAIL_FROM = re.compile(r">>> MAIL From:\s?<([^<>\s]{1,320})>", re.IGNORECASE)
_BARE_REPLY = re.compile(r"\s*(?:<<<\s?)?[45]\d\d[ -]")


def _detect(view: MessageView) -> bool:
    head = view.text[:8000].lower()
    return _TRANSCRIPT in head or any(m in head for m in _ERRORS)


def _between(text: str, start: str, ends: tuple[str, ...]) -> str:
    lowered = text.lower()
    pos = lowered.find(start)
    if pos == -1:
        return ""
    rest = text[pos:]
    rest = rest[rest.find("\n") + 1 :]
    lowered_rest = rest.lower()
    cut = min((i for i in (lowered_rest.find(e) for e in ends) if i != -1), default=len(rest))
    return rest[:cut]


def _parse(view: MessageView) -> list[Finding]:
    text = view.text
    transcript = _between(text, _TRANSCRIPT, _TRANSCRIPT_ENDS)
    replies: dict[str, str] = {}
    # Addresses the session sent in MAIL FROM are the sender's, never a recipient.
    senders = {m[1].lower() for m in _MAIL_FROM.finditer(transcript)}
    for line in transcript.splitlines():
        m = _TRANSCRIPT_LINE.search(line)
        if m is not None:
            address = m[2].strip(".").lower()
            if address not in replies and address not in senders:
                replies[address] = line.strip().removeprefix("<<<").strip()
    transient = "transient non-fatal errors" in text.lower()
    action = "delayed" if transient else "failed"
    found: list[Finding] = []
    # Transcript replies that name no address belong to the only recipient, if there is one.
    bare = [
        ln.strip() for ln in transcript.splitlines() if re.match(r"\s*(?:<<<\s?)?[45]\d\d[ -]", ln)
    ]
    info = _between(text, "----- non-delivered information", _TRANSCRIPT_ENDS)
    for marker in _ERRORS:
        errors = _between(text, marker, _ENDS)
        blocks = address_blocks(errors)
        for address, diagnostic in blocks:
            reason = diagnostic
            if reason.startswith("(reason:"):
                reason = reason[len("(reason:") :].rstrip(")").strip()
            best = replies.get(address.lower()) or reason
            if (not best or best.startswith("<")) and len(blocks) == 1:
                best = (bare[0].removeprefix("<<<").strip() if bare else "") or " ".join(
                    info.split()
                )
            found.append(Finding(recipient=address, action=action, diagnostic=best))
    if found:
        return found
    for address, reply in replies.items():
        found.append(Finding(recipient=address, action="failed", diagnostic=reply))
    if found:
        return found
    # A transcript with a reply but no address in it: the returned original names the recipient.
    to = _original_to(text)
    if bare and to:
        found.append(Finding(recipient=to, action="failed", diagnostic=bare[0]))
    return found


def _original_to(text: str) -> str | None:
    lowered = text.lower()
    pos = lowered.find("unsent message follows")
    if pos == -1:
        pos = lowered.find("original message follows")
    if pos == -1:
        return None
    for line in text[pos : pos + 20000].splitlines()[1:]:
        if line.lower().startswith("to:"):
            return find_address(line)
    return None


FORMAT = BounceFormat(name="sendmail", detect=_detect, parse=_parse, priority=40)
