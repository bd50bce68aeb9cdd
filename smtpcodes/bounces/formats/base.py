"""What a format detector is, what it returns, and the text helpers they share.

A detector is a :class:`BounceFormat`: a name, a priority, a ``detect``
predicate over a :class:`~smtpcodes.bounces.view.MessageView` and a ``parse``
function returning :class:`Finding` values (one per recipient). Each module in
:mod:`smtpcodes.bounces.formats` defines one ``FORMAT``; the registry finds them
all, so adding a format is adding one file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import attrs

from ..view import MessageView

__all__ = [
    "ADDRESS",
    "ANGLE_COLON_LINE",
    "BOUNCE_SUBJECT",
    "HAS_REPLY_CODE",
    "LEADING_ADDRESS",
    "ORIGINAL_MARKERS",
    "BounceFormat",
    "Finding",
    "address_blocks",
    "cut_at",
    "find_address",
    "section",
]

_ADDR = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u0080-\uffff]{1,64}@[A-Za-z0-9\u0080-\uffff\-]"
    r"{1,63}(?:\.[A-Za-z0-9\u0080-\uffff\-]{1,63}){0,10}"
)
#: A line that starts ``<address>:`` (qmail, Postfix, Yahoo, Courier).
ANGLE_COLON_LINE = re.compile(r"[ \t]{0,8}<(" + _ADDR + r")>[^:\n]{0,200}:")
#: Subjects that delivery reports use (English, a few other languages).
BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|returned mail|delivery (?:status|failure|failed|notification|"
    r"problem)|failure notice|mail delivery|could not be delivered|non recapitabile|"
    r"unzustellbar|nicht zustellbar|non remis|no entregado|mail system error|"
    r"delivery has failed|failed delivery|failure delivery|error sending|returned to sender|"
    r"message (?:not delivered|blocked)|rejected|エラー|不達|返送",
    re.IGNORECASE,
)
#: A text that quotes an SMTP reply (a basic code, optionally an enhanced one).
HAS_REPLY_CODE = re.compile(r"(?<![\w.])[245]\d\d(?:[ -]#?[245]\.\d{1,3}\.\d{1,3}|[ -][A-Za-z<])")
#: A mail address, bare or in angle brackets (bounded, linear).
ADDRESS = re.compile(
    r"<?([A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u0080-\uffff]{1,64}@[A-Za-z0-9\u0080-\uffff\-]"
    r"{1,63}(?:\.[A-Za-z0-9\u0080-\uffff\-]{1,63}){0,10})>?"
)
# Lines that start the returned original in text reports.
ORIGINAL_MARKERS = (
    "--- below this line is a copy of the message",
    "------ this is a copy of the message",
    "----- original message -----",
    "----- unsent message follows -----",
    "----- original message follows -----",
    "below is a copy of the original message",
    "------ this is a copy of your message",
    "--- original message ---",
    "original message follows",
    "----- transcript of session follows",
    "original message follows",
    "------- returned message",
    "original mail as follows",
    "original message:",
    "--- the header of the original message is following",
)


@attrs.define
class Finding:
    """What a detector read about one recipient, before classification."""

    recipient: str
    action: str = "failed"
    status: str = ""
    diagnostic: str = ""
    original_recipient: str | None = None
    remote_mta: str | None = None
    reporting_mta: str | None = None
    arrival_date: str | None = None
    last_attempt_date: str | None = None
    kind: str | None = None
    feedback_type: str | None = None


@attrs.frozen
class BounceFormat:
    """One report format: how to recognise it and how to read it.

    Detectors run by ascending ``priority``; the first one whose ``detect``
    is true and whose ``parse`` returns findings decides the report.
    """

    name: str
    detect: Callable[[MessageView], bool]
    parse: Callable[[MessageView], list[Finding]]
    priority: int = 50


def find_address(text: str) -> str | None:
    """The first address in ``text``, or ``None``."""
    m = ADDRESS.search(text)
    return m[1].strip(".") if m else None


def cut_at(text: str, markers: Iterable[str]) -> str:
    """``text`` up to the first line containing one of ``markers`` (lower-case)."""
    lowered = text.lower()
    end = len(text)
    for marker in markers:
        pos = lowered.find(marker)
        if pos != -1 and pos < end:
            end = pos
    return text[:end]


def section(text: str, starts: Sequence[str], ends: Sequence[str] = ORIGINAL_MARKERS) -> str:
    """The text after the first of ``starts`` (lower-case) up to the first of ``ends``.

    Empty when no start marker is present.
    """
    lowered = text.lower()
    begin = -1
    for marker in starts:
        pos = lowered.find(marker)
        if pos != -1 and (begin == -1 or pos < begin):
            begin = pos + len(marker)
    if begin == -1:
        return ""
    rest = text[begin:]
    # Skip the remainder of the start line.
    newline = rest.find("\n")
    rest = rest[newline + 1 :] if newline != -1 else ""
    return cut_at(rest, ends)


LEADING_ADDRESS = re.compile(
    r"[ \t]{0,12}(?:RCPT TO:|To:|Recipient:|Recipient address:|Original-Recipient:|\*{1,3}|>>>)?"
    r"[ \t]{0,4}<?"
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u0080-\uffff]{1,64}@[A-Za-z0-9\u0080-\uffff\-]"
    r"{1,63}(?:\.[A-Za-z0-9\u0080-\uffff\-]{1,63}){0,10})>?"
)


def address_blocks(
    text: str,
    *,
    pattern: re.Pattern[str] | None = None,
    max_records: int = 1000,
    skip: Iterable[str] = (),
) -> list[tuple[str, str]]:
    """Split a report body into ``(address, diagnostic)`` pairs.

    A block starts at a line that *begins* with an address (after optional
    indentation and ``<``); the lines that follow, up to the next such line,
    are its diagnostic. Lines before the first address are ignored.
    ``pattern`` (matched at the start of each line, the address in group 1)
    replaces the default rule.
    """
    leading = pattern or LEADING_ADDRESS
    skipped = {s.lower() for s in skip}
    blocks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        m = leading.match(line)
        if m is not None and m[1].lower() not in skipped:
            rest = line[m.end() :].strip().lstrip(":").strip()
            blocks.append((m[1].rstrip("."), [rest] if rest else []))
            if len(blocks) > max_records:
                break
        elif blocks:
            blocks[-1][1].append(line.strip())
    out: list[tuple[str, str]] = []
    for address, lines in blocks:
        out.append((address, " ".join(" ".join(lines).split())))
    return out
