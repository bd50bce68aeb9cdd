"""Read bounces: delivery reports, auto-replies and complaints, one record per recipient.

``parse_bounce(message)`` reads one received message (bytes, text, a path or
an :class:`email.message.Message`); ``read_bounces(path)`` streams the
messages of an ``.eml`` file, an mbox or a Maildir. Each
:class:`BounceReport` lists :class:`BounceRecord` values with the recipient,
the DSN action and status, the diagnostic reply and smtpcodes' verdict.
"""

from __future__ import annotations

from .logs import LogRecord, parse_log_line, parse_log_records, read_log
from .parse import parse_bounce
from .readers import read_bounces, read_messages
from .report import KINDS, BounceRecord, BounceReport, OriginalMessage

__all__ = [
    "KINDS",
    "BounceRecord",
    "BounceReport",
    "LogRecord",
    "OriginalMessage",
    "parse_bounce",
    "parse_log_line",
    "parse_log_records",
    "read_bounces",
    "read_log",
    "read_messages",
]
