"""Parse raw SMTP reply text into a :class:`Reply` value.

Sans-I/O: this module takes ``str``/``bytes`` and returns values. It reads replies
as servers send them (RFC 5321 §4.2: ``Reply-code [ SP textstring ] CRLF``, with
``Reply-code "-"`` on every line but the last of a multi-line reply) and the forms
they take once something has written them down: a DSN ``Diagnostic-Code`` (RFC 3464
§2.3.6, ``smtp; 550 ...``), a Postfix or Exim log line (``host mx[192.0.2.1] said:
550 ... (in reply to RCPT TO command)``), or a reply quoted after some noise.

Work is bounded: input beyond :data:`MAX_REPLY_CHARS` characters is cut, every
regular expression is linear (no nested quantifiers), and at most
:data:`MAX_REPLY_LINES` lines are read.
"""

from __future__ import annotations

import functools
import re

import attrs

from .errors import ReplyParseError

__all__ = [
    "MAX_REPLY_CHARS",
    "MAX_REPLY_LINES",
    "EnhancedCode",
    "Reply",
    "find_enhanced_code",
    "parse_reply",
    "parse_reply_or_none",
]

#: Characters of input that the parser reads; the rest is dropped (and ``truncated`` set).
MAX_REPLY_CHARS = 16_384
#: Lines of input that the parser reads.
MAX_REPLY_LINES = 200

# SMTP commands a reply can answer, as the classifier's ``stage`` names them.
STAGES = ("CONNECT", "EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "EOM", "QUIT")


@attrs.frozen(order=True)
class EnhancedCode:
    """An RFC 3463 enhanced status code, ``class.subject.detail`` (e.g. 5.1.1)."""

    class_: int
    subject: int
    detail: int
    # Both text forms are computed once: the classifier looks codes up by them.
    _text: str = attrs.field(init=False, eq=False, order=False, repr=False)
    _subject_key: str = attrs.field(init=False, eq=False, order=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_text", f"{self.class_}.{self.subject}.{self.detail}")
        object.__setattr__(self, "_subject_key", f"X.{self.subject}.{self.detail}")

    def __str__(self) -> str:
        return self._text

    @property
    def subject_key(self) -> str:
        """The class-free ``X.subject.detail`` form under which the registry lists it."""
        return self._subject_key

    @classmethod
    def parse(cls, text: str) -> EnhancedCode:
        """Parse ``"5.1.1"``; raise :class:`ValueError` if it is not of that form."""
        m = _ENHANCED_EXACT.fullmatch(text.strip())
        if m is None:
            msg = f"{text!r} is not an enhanced status code (class.subject.detail, e.g. 5.1.1)"
            raise ValueError(msg)
        return cls(int(m[1]), int(m[2]), int(m[3]))


# Not slotted, for the reason given at smtpcodes.verdict.Verdict: one Reply is
# built per parsed reply.
@attrs.frozen(slots=False)
class Reply:
    """One SMTP reply: the basic code, the enhanced code if any, and the text.

    ``text`` is the message with the codes removed, its lines joined by one space;
    ``lines`` are the reply's lines as received (codes included). ``enhanced_mismatch``
    is set when the enhanced code's class disagrees with the basic code's (the
    basic code then decides the outcome, as Postfix does). ``stage`` is the SMTP
    command the reply answered when the text says so (``in reply to RCPT TO
    command``); ``remote_host`` the host named in a log form.
    """

    code: int
    enhanced: EnhancedCode | None
    text: str
    lines: tuple[str, ...]
    enhanced_mismatch: bool = False
    stage: str | None = None
    remote_host: str | None = None
    truncated: bool = False

    @property
    def reply_class(self) -> int:
        """The first digit of the basic code (2, 3, 4 or 5)."""
        return self.code // 100

    def __str__(self) -> str:
        head = f"{self.code} {self.enhanced} " if self.enhanced else f"{self.code} "
        return head + self.text


# RFC 3463 §2: status-code = class "." subject "." detail; subject and detail are
# 1*3digit. Providers write private codes (5.7.515, 4.4.317) of the same shape.
_ENHANCED_EXACT = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})")
# An enhanced code at the start of a reply's text, optionally in qmail's ``#`` form.
_ENHANCED_LEAD = re.compile(r"[(#]{0,2}([245])\.(\d{1,3})\.(\d{1,3})\)?(?=[\s:;,)\]]|$)")
# An enhanced code anywhere (for replies that carry no basic code, e.g. ``(#4.4.1)``).
_ENHANCED_ANY = re.compile(r"(?<![\w.])#?([245])\.(\d{1,3})\.(\d{1,3})(?![\w.]|\.\d)")

# qmail's trailing form, "(#5.3.4)", anywhere in a reply's text.
_ENHANCED_HASH = re.compile(r"#([245])\.(\d{1,3})\.(\d{1,3})(?![\w.])")
# A whole one-line reply: code, optional enhanced code (as _ENHANCED_LEAD), text.
_ONE_LINE = re.compile(
    r"[ \t>]{0,8}([2-5][0-9][0-9])(?:[ \t]+"
    r"(?:[(#]{0,2}([245])\.([0-9]{1,3})\.([0-9]{1,3})\)?(?=[\s:;,)\]]|$)[ \t]*)?"
    r"(.*)|[ \t]*)$",
    re.DOTALL,
)
# "550-" where a flattened multi-line reply's line began.
_DASH_MARKER = re.compile(r"(?<![\w.\-])([2-5][0-9][0-9])-(?=\S)")
# A line marker inside flattened text: "550-", "550-5.7.1 ", "421 4.7.0 ".
_MARKER = re.compile(r"(?<!\S)([2-5][0-9][0-9])([- ])([245]\.[0-9]{1,3}\.[0-9]{1,3}(?!\S) ?)?")
# A reply line: the code, then a space, a dash or the end (RFC 5321 §4.2).
_CODE_LINE = re.compile(r"[ \t>]{0,8}([2-5][0-9][0-9])(?:([ \t-])|$)")
# Where a reply quoted after noise may start: a code after "said:", "]:",
# "replied:", ... Codes are found first and their lead checked after: a
# pattern that began with the lead words was tried at every position (~10 us
# on a line without a code).
_CODE_ANYWHERE = re.compile(r"[2-5][0-9][0-9](?=[ \t-]|$)")
_LEADS = (
    "said",
    "replied",
    "reply",
    "response",
    "responded",
    "answered",
    "error",
    "stat",
    "status",
    "]",
    ")",
    "diagnostic-code",
    "remote server",
    "reason",
)
# Leads that count only with a colon: Exim's "after RCPT TO:<b@example.org>:",
# "after end of data:", "after initial connection:".
_LEADS_BEFORE_COLON = (">", "data", "connection")
# A code followed by an enhanced code of the same class anywhere in a line. The
# look-behind comes after the first digit so that the search can skip ahead to
# a digit 2-5 instead of trying every position.
_CODE_WITH_ENHANCED = re.compile(
    r"([2-5])(?<![\w.][2-5])([0-9][0-9])([ \t-])(?=[#(]?\1\.\d{1,3}\.\d{1,3})"
)
# RFC 3464 diagnostic-type prefix: "smtp; ", "X-Postfix; ", "X-Unix; " ...
_DSN_PREFIX = re.compile(r"[ \t]{0,8}[A-Za-z][A-Za-z0-9-]{0,30}[ \t]{0,4};[ \t]{0,8}")
# Postfix appends "(in reply to RCPT TO command)"; Exim writes "after RCPT TO:<a@b>:".
_IN_REPLY_TO = re.compile(
    r"\(in reply to (?:the )?(MAIL FROM|RCPT TO|DATA|end of DATA|end of data|"
    r"EHLO|HELO|STARTTLS|AUTH|QUIT|initial server greeting)[^)]{0,40}\)",
    re.IGNORECASE,
)
_EXIM_AFTER = re.compile(
    r"\bafter (MAIL FROM|RCPT TO|DATA|end of data|EHLO|HELO|STARTTLS|AUTH|"
    r"initial connection|pipelined)",
    re.IGNORECASE,
)
# Exim's other log form: "SMTP error from remote server for RCPT TO command, host: ...".
_FOR_COMMAND = re.compile(
    r"\bfor (MAIL FROM|RCPT TO|DATA|end of data|EHLO|HELO|STARTTLS|AUTH) command\b",
    re.IGNORECASE,
)
_HOST_SAID = re.compile(
    r"\bhost ([A-Za-z0-9.-]{1,253})(?:\s?\[[0-9A-Fa-f:.]{1,45}\])?(?: said)?:", re.IGNORECASE
)
_NEWLINES = re.compile(r"\r\n|\r|\n")
_SPACES = re.compile(r"[ \t]+")

_STAGE_NAMES = {
    "mail from": "MAIL",
    "rcpt to": "RCPT",
    "data": "DATA",
    "end of data": "EOM",
    "ehlo": "EHLO",
    "helo": "HELO",
    "starttls": "STARTTLS",
    "auth": "AUTH",
    "quit": "QUIT",
    "initial server greeting": "CONNECT",
    "initial connection": "CONNECT",
}


@functools.lru_cache(maxsize=4096)
def _enhanced(class_: str, subject: str, detail: str) -> EnhancedCode:
    # Replies repeat a few hundred codes: share their values instead of rebuilding them.
    return EnhancedCode(int(class_), int(subject), int(detail))


def _decode(raw: object) -> tuple[str, bool]:
    if type(raw) is str:
        text = raw
    elif isinstance(raw, (bytes, bytearray, memoryview)):  # a tuple: faster than a union here
        data = bytes(raw[: MAX_REPLY_CHARS * 4])
        text = data.decode("utf-8", errors="replace")
    elif isinstance(raw, str):
        text = str(raw)
    else:
        msg = f"a reply must be str or bytes, not {type(raw).__name__}"
        raise TypeError(msg)
    truncated = len(text) > MAX_REPLY_CHARS
    if truncated:
        text = text[:MAX_REPLY_CHARS]
    if "\x00" in text:
        text = text.replace("\x00", " ")
    return text, truncated


def find_stage(text: str) -> str | None:
    """The SMTP stage a log or DSN text says the reply answered, if any."""
    # Cheap substring tests on the lower-cased text first: most replies name no
    # stage, and the case-insensitive patterns cannot use a literal-prefix scan.
    lowered = text.lower()
    m = None
    if "reply to" in lowered:
        m = _IN_REPLY_TO.search(text)
    if m is None and "after " in lowered:
        m = _EXIM_AFTER.search(text)
    if m is None and "command" in lowered:
        m = _FOR_COMMAND.search(text)
    if m is None:
        return None
    return _STAGE_NAMES.get(m[1].lower())


def find_enhanced_code(text: str) -> EnhancedCode | None:
    """The first enhanced status code anywhere in ``text`` (``#4.4.1`` included)."""
    m = _ENHANCED_ANY.search(text[:MAX_REPLY_CHARS])
    if m is None:
        return None
    return _enhanced(m[1], m[2], m[3])


def _locate(lines: list[str]) -> tuple[int, int, str] | None:
    """Find the first reply line: (line index, column where the code starts, code)."""
    for i, line in enumerate(lines):
        m = _CODE_LINE.match(line)
        if m is None:
            prefix = _DSN_PREFIX.match(line)
            if prefix is not None:
                m = _CODE_LINE.match(line, prefix.end())
        if m is not None:
            return i, m.start(1), m[1]
    for i, line in enumerate(lines):
        with_enhanced = _CODE_WITH_ENHANCED.search(line)
        starts = [
            start
            for start in (
                with_enhanced.start(1) if with_enhanced else None,
                _code_after_lead(line),
                _flattened_start(line),
            )
            if start is not None
        ]
        if starts:
            start = min(starts)
            return i, start, line[start : start + 3]
    return None


def _code_after_lead(line: str) -> int | None:
    """Where the first code that follows a lead ("said:", "]:", "error=") starts.

    The lead may be followed by blanks, then by ":" or "=" and at most 8 blanks.
    Only the 64 characters before each code are read, so a line full of codes
    costs linear time.
    """
    for m in _CODE_ANYWHERE.finditer(line):
        head = line[max(0, m.start() - 64) : m.start()]
        trimmed = head.rstrip(" \t")
        colon = trimmed.endswith((":", "="))
        if colon:
            if len(head) - len(trimmed) > 8:
                continue
            trimmed = trimmed[:-1].rstrip(" \t")
        lead = trimmed[-15:].lower()
        if lead.endswith(_LEADS) or (colon and lead.endswith(_LEADS_BEFORE_COLON)):
            return m.start()
    return None


def _flattened_start(line: str) -> int | None:
    """Where a multi-line reply flattened onto one line starts ("550-a 550-b 550 c").

    Bounce readers and logs join a reply's lines; its first "NNN-" is the start
    when the same code marks a later line too.
    """
    if "-" not in line:
        return None
    seen: dict[str, int] = {}
    for m in _DASH_MARKER.finditer(line):
        code = m[1]
        if code in seen:
            return seen[code]
        seen[code] = m.start(1)
    return None


def _strip_markers(message: str, code: int) -> str:
    """Drop the later lines' "NNN-" / "NNN X.Y.Z" markers from a flattened reply's text."""
    wanted = str(code)

    def drop(m: re.Match[str]) -> str:
        if m[1] != wanted:
            return m[0]
        # "550-" always marks a line; "550 " only with its enhanced code after it.
        return "" if m[2] == "-" or m[3] else m[0]

    return _SPACES.sub(" ", _MARKER.sub(drop, message)).strip()


def parse_reply(raw: str | bytes, /) -> Reply:
    """Parse one SMTP reply from wire text, a DSN diagnostic or a log line.

    >>> r = parse_reply("550-5.1.1 No such user\\r\\n550 5.1.1 here")
    >>> r.code, str(r.enhanced), r.text
    (550, '5.1.1', 'No such user here')

    :raises ReplyParseError: if the text holds no reply code.
    :raises TypeError: if ``raw`` is neither ``str`` nor ``bytes``.
    """
    reply = parse_reply_or_none(raw)
    if reply is None:
        preview = " ".join(_decode(raw)[0].split())[:60]
        msg = (
            f"no SMTP reply code (a number from 200 to 599 at the start of a line) in {preview!r}"
            if preview
            else "the reply is empty"
        )
        raise ReplyParseError(msg)
    return reply


def parse_reply_or_none(raw: str | bytes, /) -> Reply | None:
    """:func:`parse_reply`, but None for text that holds no reply code.

    For callers that expect such text (the classifier reads it by its words
    alone): no exception is built for it.

    :raises TypeError: if ``raw`` is neither ``str`` nor ``bytes``.
    """
    text, truncated = _decode(raw)
    if "\n" not in text and "\r" not in text:
        # Fast path: most replies are one wire line starting with the code.
        m = _ONE_LINE.match(text)
        if m is not None:
            digits, class_, subject, detail, body = m.groups()
            return _build(
                digits,
                _enhanced(class_, subject, detail) if class_ else None,
                body.strip() if body else "",
                (text.strip(),),
                text,
                None,
                truncated,
            )
    lines = _NEWLINES.split(text, MAX_REPLY_LINES)[:MAX_REPLY_LINES]
    found = _locate(lines)
    if found is None:
        return None
    first, column, code_str = found
    lead = lines[first][:column]
    host_match = _HOST_SAID.search(lead) if lead else None

    kept: list[str] = []
    parts: list[str] = []
    enhanced = None
    ended = False
    for index in range(first, len(lines)):
        line = lines[index][column:] if index == first else lines[index]
        if ended and not line.strip():
            continue
        m = _CODE_LINE.match(line)
        if m is not None and m[1] == code_str and not ended:
            body = line[m.end() :]
            last = m[2] != "-"
        elif m is not None:
            # Another reply starts: ours is complete.
            break
        else:
            # A wrapped or folded continuation without a code (DSN fields, logs).
            body = line
            last = False
        kept.append(line.strip())
        body = body.strip()
        em = _ENHANCED_LEAD.match(body)
        if em is not None:
            if enhanced is None:
                enhanced = _enhanced(em[1], em[2], em[3])
            body = body[em.end() :].lstrip()
        if body:
            parts.append(body)
        if last:
            ended = True
    return _build(
        code_str,
        enhanced,
        " ".join(parts),
        tuple(kept),
        text,
        host_match[1] if host_match else None,
        truncated,
    )


def _build(
    digits: str,
    enhanced: EnhancedCode | None,
    message: str,
    kept: tuple[str, ...],
    text: str,
    remote_host: str | None,
    truncated: bool,
) -> Reply:
    """The Reply for the code ``digits``, tidying ``message`` (the text without codes)."""
    if "  " in message or "\t" in message:
        message = _SPACES.sub(" ", message)
    code = int(digits)
    # One cheap test first: most texts never repeat their code.
    if digits in message and (digits + "-" in message or " " + digits + " " in message):
        message = _strip_markers(message, code)
    if enhanced is None and "#" in message:
        # qmail and some gateways put the enhanced code at the end: "... (#5.3.4)".
        tail = _ENHANCED_HASH.search(message)
        if tail is not None:
            enhanced = _enhanced(tail[1], tail[2], tail[3])
    stage = find_stage(text)
    if stage is not None:
        message = _IN_REPLY_TO.sub("", message).strip()
    # Positional arguments: this runs once per reply, and keywords cost more.
    return Reply(
        code,
        enhanced,
        message,
        kept,
        enhanced is not None and enhanced.class_ != code // 100,
        stage,
        remote_host,
        truncated,
    )
