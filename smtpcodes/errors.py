"""Exceptions raised by smtpcodes.

The split follows whose fault the problem is: :class:`ReplyParseError` means the
*remote* text could not be read as an SMTP reply, :class:`TableError` means a YAML
table (ours or a user's overlay) is broken.
"""

from __future__ import annotations

__all__ = ["ReplyParseError", "SmtpcodesError", "TableError"]


class SmtpcodesError(Exception):
    """Parent class of every exception this library raises on purpose."""


class ReplyParseError(SmtpcodesError, ValueError):
    """The input holds no SMTP reply code that could be parsed.

    Raised by :func:`smtpcodes.parse_reply`; :func:`smtpcodes.classify` never
    raises it for ``str``/``bytes`` input and classifies by text alone instead.
    """


class TableError(SmtpcodesError, ValueError):
    """A YAML table or overlay is malformed.

    The message names the file, the entry and what is wrong with it, e.g.
    ``overlay.yaml: rules[3] (id 'acme.full'): unknown category 'mailbox_ful'``.
    """

    def __init__(self, source: str, entry: str | None, problem: str) -> None:
        self.source = source
        self.entry = entry
        self.problem = problem
        where = f"{source}: {entry}" if entry else source
        super().__init__(f"{where}: {problem}")
