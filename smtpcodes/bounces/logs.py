"""Read delivery results from MTA logs: Postfix, Exim and Sendmail.

Recognised lines (anything else is skipped):

* Postfix: ``postfix/smtp[..]: QID: to=<a@b>, ..., dsn=5.1.1, status=bounced (host
  mx[192.0.2.1] said: 550 5.1.1 ... (in reply to RCPT TO command))``; also
  ``status=deferred`` and ``status=sent``.
* Exim: ``... ** a@b R=.. T=..: SMTP error from remote mail server after RCPT
  TO:<a@b>: 550 5.1.1 ...`` (failed), ``== a@b ... defer (-44): ...``
  (deferred) and ``=> a@b ...`` (delivered).
* Sendmail: ``sm-mta[..]: QID: to=<a@b>, ..., dsn=5.1.1, stat=User unknown``
  (``stat=Deferred: ...``, ``stat=Sent (...)``).

Each line is parsed on its own (sans-I/O: :func:`parse_log_line`);
:func:`read_log` streams a file. Lines are cut at :data:`MAX_LINE_CHARS`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import attrs

from .verdicts import parse_status, reply_from_diagnostic, verdict_for

if TYPE_CHECKING:
    from ..classifier import Classifier
    from ..reply import EnhancedCode, Reply
    from ..verdict import Verdict

__all__ = [
    "MAX_LINE_CHARS",
    "LogRecord",
    "parse_log_line",
    "parse_log_records",
    "read_log",
    "read_log_lines",
]

#: Characters of one log line that are read.
MAX_LINE_CHARS = 16_384
# Characters read at a time while skipping the rest of an over-long line.
_SKIP_CHARS = 1024 * 1024

# The patterns match a line's head only; the rest is cut with string operations. A
# pattern ending in ".{0,N}$" retries at every candidate position of a hostile line
# (remote replies are written by whoever runs the remote server): quadratic work.
_POSTFIX = re.compile(
    r"postfix(?:-[\w.-]{1,40})?/[\w/.-]{1,40}\[\d{1,10}\]: (?P<qid>[0-9A-Za-z]{5,40}): "
    r"to=<(?P<rcpt>[^>]{0,320})>,"
)
_POSTFIX_STATUS = re.compile(r" status=(sent|bounced|deferred|expired|undeliverable)")
_POSTFIX_DSN = re.compile(r"\bdsn=(\d\.\d{1,3}\.\d{1,3})")
_POSTFIX_RELAY = re.compile(r"\brelay=([^,\s]{1,300})")
_EXIM = re.compile(
    r"(?:^|\s)(?P<id>[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}) (?P<flag>\*\*|==|=>|->) "
    r"(?P<rcpt>[^\s<>]{1,320}@[^\s<>]{1,255}|:blackhole:|\S{1,320})(?: <(?P<orig>[^>]{0,320})>)?"
)
_EXIM_HOST = re.compile(r"\bH=([^\s\[]{1,255})")
_SENDMAIL = re.compile(
    r"(?:sendmail|sm-mta|sm-msp-queue)\[\d{1,10}\]: (?P<qid>[0-9A-Za-z]{6,40}): "
    r"to=(?P<rcpt>[^,]{1,2000}),"
)
_SENDMAIL_DSN = re.compile(r"\bdsn=(\d\.\d{1,3}\.\d{1,3})")
_SENDMAIL_RELAY = re.compile(r"\brelay=([^,\s]{1,300})")
# Characters between the recipient and the status field; of the text after it.
_MAX_MIDDLE = 2000
_MAX_TEXT = 8000
_ADDRESS = re.compile(r"<?([^\s<>,\"]{1,64}@[^\s<>,\"]{1,255})>?")

_POSTFIX_ACTION = {
    "sent": "delivered",
    "bounced": "failed",
    "expired": "failed",
    "undeliverable": "failed",
    "deferred": "delayed",
}
_EXIM_ACTION = {"**": "failed", "==": "delayed", "=>": "delivered", "->": "delivered"}
_KIND = {"failed": "bounce", "delayed": "delay", "delivered": "delivered"}


@attrs.frozen
class LogRecord:
    """One delivery result read from a log line."""

    recipient: str
    action: str
    kind: str
    status: EnhancedCode | None
    reply: Reply | None
    diagnostic: str
    verdict: Verdict
    mta: str
    queue_id: str | None = None
    relay: str | None = None
    line_number: int = 0
    source: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {
            "source": self.source,
            "line": self.line_number,
            "mta": self.mta,
            "queue_id": self.queue_id,
            "recipient": self.recipient,
            "kind": self.kind,
            "action": self.action,
            "status": str(self.status) if self.status is not None else None,
            "reply_code": self.reply.code if self.reply is not None else None,
            "diagnostic": self.diagnostic,
            "relay": self.relay,
            "verdict": self.verdict.as_dict(),
        }


def _build(
    classifier: Classifier,
    *,
    mta: str,
    recipient: str,
    action: str,
    status_text: str,
    diagnostic: str,
    queue_id: str | None,
    relay: str | None,
) -> LogRecord:
    diagnostic = " ".join(diagnostic.split())
    status = parse_status(status_text)
    reply = reply_from_diagnostic(diagnostic, action) if diagnostic else None
    if action == "delivered" and (reply is None or reply.reply_class != 2):
        # "status=sent (250 ok)" may quote nothing useful; a delivery is a delivery.
        verdict = classifier.classify("250 " + diagnostic if reply is None else reply)
    else:
        verdict = verdict_for(
            classifier, action=action, status=status, reply=reply, diagnostic=diagnostic
        )
    if status is None and reply is not None:
        status = reply.enhanced
    return LogRecord(
        recipient=recipient,
        action=action,
        kind=_KIND[action],
        status=status,
        reply=reply,
        diagnostic=diagnostic,
        verdict=verdict,
        mta=mta,
        queue_id=queue_id,
        relay=relay,
    )


def parse_log_line(line: str, *, classifier: Classifier | None = None) -> LogRecord | None:
    """The (first) delivery result in one Postfix, Exim or Sendmail log line, or ``None``.

    A Sendmail line may list several recipients; :func:`parse_log_records` gives them all.
    """
    records = parse_log_records(line, classifier=classifier)
    return records[0] if records else None


def parse_log_records(line: str, *, classifier: Classifier | None = None) -> list[LogRecord]:
    """Every delivery result in one log line: one per recipient, none for other lines."""
    line = line[:MAX_LINE_CHARS].rstrip("\r\n")
    if "to=" not in line and " ** " not in line and " == " not in line and " => " not in line:
        return []
    if classifier is None:
        from ..classifier import Classifier as _Classifier

        classifier = _Classifier.default()
    if "status=" in line:
        records = _postfix(classifier, line)
        if records:
            return records
    if "stat=" in line:
        for head in _SENDMAIL.finditer(line):
            stat_at = line.find(" stat=", head.end(), head.end() + _MAX_MIDDLE + 6)
            if stat_at != -1:
                middle = line[head.end() : stat_at]
                stat = line[stat_at + 6 : stat_at + 6 + _MAX_TEXT]
                return _sendmail(classifier, head, middle, stat)
    m = _EXIM.search(line)
    if m is not None and "@" in m["rcpt"]:
        rest = line[m.end() : m.end() + _MAX_TEXT]
        text = rest.split(": ", 1)[1] if ": " in rest else rest
        host = _EXIM_HOST.search(rest)
        return [
            _build(
                classifier,
                mta="exim",
                recipient=m["rcpt"],
                action=_EXIM_ACTION[m["flag"]],
                status_text="",
                diagnostic=text.strip() if m["flag"] in ("**", "==") else "",
                queue_id=m["id"],
                relay=host[1] if host else None,
            )
        ]
    return []


def _postfix(classifier: Classifier, line: str) -> list[LogRecord]:
    """``... to=<a@b>, ..., status=bounced (text)``: the first status field the line ends after."""
    end = len(line.rstrip())
    for m in _POSTFIX.finditer(line):
        start = m.end()
        for status in _POSTFIX_STATUS.finditer(line, start, start + _MAX_MIDDLE + 21):
            if status.start() - start > _MAX_MIDDLE:
                break
            after = status.end()
            if after >= end:
                text = ""
            elif line.startswith(" (", after) and line[end - 1] == ")":
                if end - 1 - (after + 2) > _MAX_TEXT:
                    continue
                text = line[after + 2 : end - 1]
            else:
                # "status=sent" inside other text, or "status=sentx": not the field.
                continue
            middle = line[start : status.start()]
            dsn = _POSTFIX_DSN.search(middle)
            relay = _POSTFIX_RELAY.search(middle)
            return [
                _build(
                    classifier,
                    mta="postfix",
                    recipient=m["rcpt"],
                    action=_POSTFIX_ACTION[status[1]],
                    status_text=dsn[1] if dsn else "",
                    diagnostic=text,
                    queue_id=m["qid"],
                    relay=relay[1] if relay else None,
                )
            ]
    return []


def _sendmail(classifier: Classifier, m: re.Match[str], middle: str, stat: str) -> list[LogRecord]:
    stat = stat.strip()
    lowered = stat.lower()
    if lowered.startswith("sent"):
        action = "delivered"
        text = stat[4:].strip(" ()")
    elif lowered.startswith("deferred"):
        action = "delayed"
        text = stat.partition(":")[2].strip() or stat
    else:
        action = "failed"
        text = stat
    # "to=<a>,<b>,<c>, delay=...": the pattern stops the recipient at the first comma, so
    # the others open the middle, up to the first ", " (before the first name=value field).
    more, _sep, _fields = middle.partition(", ")
    rcpt_list = m["rcpt"] + ("," + more if more.strip() and "=" not in more else "")
    recipients = list(dict.fromkeys(a[1] for a in _ADDRESS.finditer(rcpt_list)))
    if not recipients:
        return []
    dsn = _SENDMAIL_DSN.search(middle)
    relay = _SENDMAIL_RELAY.search(middle)
    first = _build(
        classifier,
        mta="sendmail",
        recipient=recipients[0],
        action=action,
        status_text=dsn[1] if dsn else "",
        diagnostic=text,
        queue_id=m["qid"],
        relay=relay[1] if relay else None,
    )
    return [first] + [attrs.evolve(first, recipient=other) for other in recipients[1:]]


def read_log_lines(
    lines: Iterable[str], *, classifier: Classifier | None = None, source: str | None = None
) -> Iterator[LogRecord]:
    """Yield a record for every delivery-result line of ``lines``."""
    for number, line in enumerate(lines, 1):
        for record in parse_log_records(line, classifier=classifier):
            yield attrs.evolve(record, line_number=number, source=source)


def read_log(
    path: str | os.PathLike[str], *, classifier: Classifier | None = None
) -> Iterator[LogRecord]:
    """Stream the delivery results of one log file (undecodable bytes replaced).

    :raises OSError: when the file cannot be read.
    """
    with Path(path).open(encoding="utf-8", errors="replace") as handle:
        yield from read_log_lines(
            _bounded_lines(handle), classifier=classifier, source=os.fspath(path)
        )


def _bounded_lines(handle: TextIO) -> Iterator[str]:
    """The file's lines, each cut to :data:`MAX_LINE_CHARS` as it is read.

    Iterating a file reads a whole line first: a huge file without line breaks
    would be held in memory at once.
    """
    while True:
        line = handle.readline(MAX_LINE_CHARS)
        if not line:
            return
        if len(line) == MAX_LINE_CHARS and not line.endswith("\n"):
            # Skip the rest of this line, so that numbering stays by real lines.
            while True:
                rest = handle.readline(_SKIP_CHARS)
                if not rest or rest.endswith("\n"):
                    break
        yield line
