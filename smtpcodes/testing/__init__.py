"""Test kit: a scripted real SMTP server, canned replies, a fake clock and a pytest plugin.

``ScriptedSMTPServer`` runs aiosmtpd on ``127.0.0.1`` and answers as the test scripts
it; ``replies`` holds what real servers say (``replies.gmail.mailbox_unknown``);
``assert_verdict`` classifies what a client got back; ``FakeClock`` stands in for the
wall clock. The names are loaded on first use, so importing this package (which the
pytest plugin does in every test run) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .assertions import assert_verdict, verdict_of
    from .canned import ReplyCatalog, replies
    from .clock import FakeClock
    from .records import Exchange, ReceivedMessage, SessionRecord
    from .script import STAGES, Rule
    from .server import ScriptedSMTPServer

__all__ = [
    "ScriptedSMTPServer",
    "FakeClock",
    "replies",
    "assert_verdict",
    "verdict_of",
    "ReplyCatalog",
    "Exchange",
    "ReceivedMessage",
    "SessionRecord",
    "Rule",
    "STAGES",
]

_HOME = {
    "ScriptedSMTPServer": ".server",
    "FakeClock": ".clock",
    "replies": ".canned",
    "assert_verdict": ".assertions",
    "verdict_of": ".assertions",
    "ReplyCatalog": ".canned",
    "Exchange": ".records",
    "ReceivedMessage": ".records",
    "SessionRecord": ".records",
    "Rule": ".script",
    "STAGES": ".script",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        msg = f"module 'smtpcodes.testing' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
