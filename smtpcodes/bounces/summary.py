"""Totals over a scan of bounces or log lines, and how to print them.

A :class:`ScanSummary` counts records by kind, by verdict category and by
recipient domain, lists messages that were not bounces or could not be read,
and keeps the rules that fired most and the replies that fell to ``unknown``
(addresses, IPs and IDs masked so that equal replies group together). That
last list tells a user which overlay rule to write next.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..verdict import Verdict

__all__ = ["ScanSummary", "mask_reply"]

# How many entries of each "most frequent" list are printed.
TOP = 10
# Labels of skipped messages kept for listing; the count goes on beyond that.
_MAX_LISTED = 1000

_ADDRESS = re.compile(r"<?[^\s<>@\"']{1,64}@[A-Za-z0-9.\-]{1,253}>?")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_IPV6 = re.compile(r"\b[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}\b")
_TOKEN_ID = re.compile(r"\b(?=[A-Za-z0-9_\-]{0,80}\d)[A-Za-z0-9_\-]{10,80}\b")
_LONG_NUMBER = re.compile(r"\b\d{4,}\b")
_URL = re.compile(r"https?://\S{1,500}")


def mask_reply(text: str) -> str:
    """``text`` with addresses, IPs, URLs, IDs and long numbers replaced by placeholders."""
    text = " ".join(text.split())[:300]
    text = _URL.sub("<url>", text)
    text = _ADDRESS.sub("<address>", text)
    text = _IPV4.sub("<ip>", text)
    text = _IPV6.sub("<ip>", text)
    text = _TOKEN_ID.sub("<id>", text)
    return _LONG_NUMBER.sub("<n>", text)


class ScanSummary:
    """Running totals of one scan (bounces or log lines)."""

    def __init__(self) -> None:
        self.messages = 0
        self.records = 0
        self.by_kind: Counter[str] = Counter()
        self.by_category: Counter[str] = Counter()
        self.by_domain: Counter[str] = Counter()
        self.suppress_by_domain: Counter[str] = Counter()
        self.suppressed = 0
        self.rules: Counter[str] = Counter()
        self.unknown_replies: Counter[str] = Counter()
        self.not_bounces = 0
        self.not_bounce_sources: list[str] = []
        self.unreadable = 0
        self.unreadable_sources: list[str] = []
        self.partial: list[str] = []

    def add(self, recipient: str, kind: str, verdict: Verdict, reply_text: str) -> None:
        """Count one record."""
        self.records += 1
        self.by_kind[kind] += 1
        self.by_category[verdict.category.value] += 1
        domain = recipient.rpartition("@")[2].lower() or "(none)"
        self.by_domain[domain] += 1
        if verdict.suppress:
            self.suppressed += 1
            self.suppress_by_domain[domain] += 1
        if verdict.rule:
            self.rules[verdict.rule] += 1
        if verdict.category.value == "unknown" and reply_text:
            self.unknown_replies[mask_reply(reply_text)] += 1

    def skip(self, source: str, *, unreadable: bool, reason: str = "") -> None:
        """Count a message that gave no record (not a bounce, or unreadable)."""
        label = f"{source}: {reason}" if reason else source
        if unreadable:
            self.unreadable += 1
            if len(self.unreadable_sources) < _MAX_LISTED:
                self.unreadable_sources.append(label)
        else:
            self.not_bounces += 1
            if len(self.not_bounce_sources) < _MAX_LISTED:
                self.not_bounce_sources.append(label)

    def note_partial(self, source: str, problem: str) -> None:
        """Record that a message was read only in part (its records still count)."""
        if len(self.partial) < _MAX_LISTED:
            self.partial.append(f"{source}: {problem}")

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "messages": self.messages,
            "records": self.records,
            "suppress": self.suppressed,
            "by_kind": dict(self.by_kind.most_common()),
            "by_category": dict(self.by_category.most_common()),
            "by_domain": dict(self.by_domain.most_common()),
            "suppress_by_domain": dict(self.suppress_by_domain.most_common()),
            "top_rules": self.rules.most_common(TOP),
            "top_unknown_replies": self.unknown_replies.most_common(TOP),
            "not_bounces": self.not_bounces,
            "not_bounce_sources": self.not_bounce_sources,
            "unreadable": self.unreadable,
            "unreadable_sources": self.unreadable_sources,
            "partial": self.partial,
        }

    def render(self, *, unit: str = "messages") -> str:
        """The summary as text for people."""
        out = [
            f"{self.messages} {unit}, {self.records} records, {self.suppressed} to suppress",
        ]
        if self.by_kind:
            out.append("by kind: " + ", ".join(f"{k} {n}" for k, n in self.by_kind.most_common()))
        out.extend(_table("by category", self.by_category.most_common()))
        domains = [
            (domain, f"{n} ({self.suppress_by_domain[domain]} suppress)")
            for domain, n in self.by_domain.most_common(TOP)
        ]
        out.extend(_table("by recipient domain (top)", domains))
        out.extend(_table("rules that fired most", self.rules.most_common(TOP)))
        out.extend(
            _table("replies that fell to unknown (masked)", self.unknown_replies.most_common(TOP))
        )
        if self.not_bounces:
            out.append(f"not bounces: {self.not_bounces}")
            out.extend(f"  {s}" for s in self.not_bounce_sources[:TOP])
        if self.unreadable:
            out.append(f"unreadable: {self.unreadable}")
            out.extend(f"  {s}" for s in self.unreadable_sources[:TOP])
        if self.partial:
            out.append(f"read in part: {len(self.partial)}")
            out.extend(f"  {s}" for s in self.partial[:TOP])
        return "\n".join(out)


def _table(title: str, rows: list[tuple[str, Any]]) -> list[str]:
    if not rows:
        return []
    width = min(60, max(len(str(k)) for k, _ in rows))
    lines = [f"{title}:"]
    lines.extend(f"  {str(k)[:width]:<{width}}  {v}" for k, v in rows)
    return lines
