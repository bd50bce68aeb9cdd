"""The script a :class:`~smtpcodes.testing.ScriptedSMTPServer` follows: which reply to give when.

Sans-I/O: this module knows nothing of sockets or event loops. A :class:`Script` is an
ordered list of :class:`Rule` values plus a counter per rule; the server asks it, for
each SMTP event, which rule (if any) decides the reply. The script is shared between
the test's thread (which adds rules) and the server's thread (which consults them), so
every access goes through one lock.

How a rule is chosen: rules are read in the order they were added. A rule *sees* an
event when its stage and its sender/recipient filters match; it then counts that
sighting and *fires* when the count falls inside its window (``after`` sightings skipped,
then ``times`` sightings used; ``times=None`` means forever). The first rule that fires
wins, and rules after it do not see the event, so a ``times=1`` rule listed after a
per-recipient rule is not used up by that recipient.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Literal, Union

import attrs

__all__ = [
    "STAGES",
    "AddressFilter",
    "Event",
    "Rule",
    "Script",
    "Stage",
    "normalize_reply",
]

#: The SMTP moments a rule can answer. ``CONNECT`` is the greeting, ``EHLO`` also
#: answers ``HELO``, ``DATA`` is the reply to the DATA command itself (normally 354)
#: and ``EOM`` the reply after the message's final dot.
STAGES = ("CONNECT", "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "EOM")

Stage = Literal["CONNECT", "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "EOM"]

#: An address filter: an exact address (compared case-insensitively), a compiled
#: regular expression (``re.Pattern.search``), or a predicate on the address.
AddressFilter = Union[str, "re.Pattern[str]", Callable[[str], bool]]

# Stages at which the envelope already knows a sender / at least one recipient.
_SENDER_STAGES = frozenset({"MAIL", "RCPT", "DATA", "EOM"})
_RECIPIENT_STAGES = frozenset({"RCPT", "DATA", "EOM"})

# RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
#                             Reply-code [ SP textstring ] CRLF
# Only the code and the separator are checked; the text goes out as written.
_REPLY_LINE = re.compile(r"([2-5][0-9][0-9])([ -]|$)")
# A reply longer than this is a scripting mistake, not a test of a real server.
_MAX_REPLY_CHARS = 64_000


def normalize_reply(reply: str) -> str:
    """Return ``reply`` with CRLF between its lines, after checking that it is an SMTP reply.

    Lines may be separated by CRLF or by a bare LF (handy in YAML and triple-quoted
    strings); a trailing line break is dropped, since the server adds the final CRLF.
    Every line must start with the same three-digit code, followed by ``-`` on every
    line but the last and by a space (or nothing) on the last, as RFC 5321 §4.2 says.
    Raises :class:`ValueError` otherwise, naming the line at fault.
    """
    given: object = reply  # callers without type checking pass bytes or None
    if not isinstance(given, str):
        msg = f"A scripted reply must be a str, not {type(given).__name__}."
        raise TypeError(msg)
    if len(reply) > _MAX_REPLY_CHARS:
        msg = f"A scripted reply must be at most {_MAX_REPLY_CHARS} characters long."
        raise ValueError(msg)
    text = reply.replace("\r\n", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    if "\r" in text:
        msg = "A scripted reply must not contain a bare carriage return."
        raise ValueError(msg)
    lines = text.split("\n")
    first_code = ""
    for number, line in enumerate(lines, start=1):
        match = _REPLY_LINE.match(line)
        if match is None:
            msg = (
                f"Line {number} of the scripted reply {line!r} does not start with a"
                " three-digit SMTP reply code (2xx to 5xx)."
            )
            raise ValueError(msg)
        code, separator = match.group(1), match.group(2)
        first_code = first_code or code
        if code != first_code:
            msg = (
                f"Line {number} of the scripted reply has code {code} but the reply"
                f" started with {first_code}; every line of a reply carries the same code."
            )
            raise ValueError(msg)
        last = number == len(lines)
        if last and separator == "-":
            msg = f"The last line of the scripted reply must use '{code} ', not '{code}-'."
            raise ValueError(msg)
        if not last and separator != "-":
            msg = (
                f"Line {number} of the scripted reply must start with '{code}-': every"
                " line of a multi-line reply but the last uses a hyphen."
            )
            raise ValueError(msg)
    return "\r\n".join(lines)


def _address_matches(address_filter: AddressFilter, address: str) -> bool:
    if isinstance(address_filter, str):
        return address_filter.casefold() == address.casefold()
    if isinstance(address_filter, re.Pattern):
        return address_filter.search(address) is not None
    return bool(address_filter(address))


def _check_filter(value: object, name: str) -> None:
    if value is None or isinstance(value, (str, re.Pattern)) or callable(value):
        return
    msg = (
        f"{name}= must be an address, a compiled regular expression or a predicate,"
        f" not {type(value).__name__}."
    )
    raise TypeError(msg)


def _check_count(value: int | None, name: str, minimum: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"{name}= must be a whole number of at least {minimum}, not {value!r}."
        raise ValueError(msg)


@attrs.frozen
class Event:
    """One moment of an SMTP session that a rule may answer.

    ``sender`` is the envelope sender once MAIL FROM was accepted (``""`` for the null
    sender); ``recipients`` the addresses accepted so far, or at RCPT the one being asked.
    """

    stage: str
    sender: str | None = None
    recipients: tuple[str, ...] = ()


@attrs.frozen
class Rule:
    """What to do at one stage: send ``reply``, or drop the connection when ``drop`` is set.

    ``recipient``/``sender`` narrow the rule to matching addresses; ``after`` skips the
    first matching events and ``times`` limits how many it answers after that;
    ``delay`` is how many seconds to wait before answering (or dropping).
    """

    stage: str
    reply: str | None
    drop: bool = False
    recipient: AddressFilter | None = None
    sender: AddressFilter | None = None
    times: int | None = None
    after: int = 0
    delay: float = 0.0

    @classmethod
    def build(
        cls,
        stage: str,
        reply: str | None,
        *,
        drop: bool = False,
        recipient: AddressFilter | None = None,
        sender: AddressFilter | None = None,
        times: int | None = None,
        after: int | None = None,
        delay: float | None = None,
    ) -> Rule:
        """Check the arguments of ``on()``/``drop()`` and return the rule they describe.

        Raises :class:`ValueError` for an unknown stage, a filter that the stage cannot
        know yet (no recipient at MAIL), a bad count or delay, or a reply that is not
        SMTP; :class:`TypeError` for arguments of the wrong type.
        """
        name = stage.upper() if isinstance(stage, str) else stage
        if name == "HELO":
            name = "EHLO"
        if name not in STAGES:
            msg = f"Unknown SMTP stage {stage!r}; use one of {', '.join(STAGES)}."
            raise ValueError(msg)
        _check_filter(recipient, "recipient")
        _check_filter(sender, "sender")
        if recipient is not None and name not in _RECIPIENT_STAGES:
            msg = f"A recipient filter cannot apply at {name}: the client names recipients at RCPT."
            raise ValueError(msg)
        if sender is not None and name not in _SENDER_STAGES:
            msg = f"A sender filter cannot apply at {name}: the client names the sender at MAIL."
            raise ValueError(msg)
        _check_count(times, "times", 1)
        _check_count(after, "after", 0)
        seconds = 0.0 if delay is None else float(delay)
        if not seconds >= 0.0 or seconds == float("inf"):
            msg = f"delay= must be a finite number of seconds of at least 0, not {delay!r}."
            raise ValueError(msg)
        text = None if drop else normalize_reply(reply if reply is not None else "")
        return cls(
            stage=name,
            reply=text,
            drop=drop,
            recipient=recipient,
            sender=sender,
            times=times,
            after=after or 0,
            delay=seconds,
        )

    def sees(self, event: Event) -> bool:
        """Tell whether ``event`` is at this rule's stage and passes its address filters."""
        if event.stage != self.stage:
            return False
        if self.sender is not None and (
            event.sender is None or not _address_matches(self.sender, event.sender)
        ):
            return False
        if self.recipient is not None:
            recipient_filter = self.recipient
            return any(_address_matches(recipient_filter, rcpt) for rcpt in event.recipients)
        return True

    def fires_on(self, sighting: int) -> bool:
        """Tell whether the rule answers its ``sighting``-th matching event (counted from 1)."""
        if sighting <= self.after:
            return False
        return self.times is None or sighting <= self.after + self.times


class Script:
    """An ordered, thread-safe list of rules with a sighting counter for each."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._sightings: list[int] = []
        for rule in rules:
            self.add(rule)

    def add(self, rule: Rule) -> None:
        """Append ``rule``; it is consulted after every rule added before it."""
        with self._lock:
            self._rules.append(rule)
            self._sightings.append(0)

    def clear(self) -> None:
        """Forget every rule and counter: the server goes back to accepting everything."""
        with self._lock:
            self._rules.clear()
            self._sightings.clear()

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules in the order they are consulted."""
        with self._lock:
            return tuple(self._rules)

    def decide(self, event: Event) -> Rule | None:
        """Return the rule that answers ``event`` (counting the sighting), or ``None``."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                if not rule.sees(event):
                    continue
                self._sightings[index] += 1
                if rule.fires_on(self._sightings[index]):
                    return rule
            return None
