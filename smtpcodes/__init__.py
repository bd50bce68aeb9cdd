"""smtpcodes: turn what mail servers and e-mail APIs say into decisions.

For each SMTP reply, bounce or API error: did it fail for good or for now, why (a
category), when to try again, whether to stop mailing the address, and whose fault
it is. The core (``parse_reply``, ``classify``, the tables) does no I/O.

Names are imported lazily on first use: the pytest plugin and the CLI load this
package, and neither should pay for parts it does not touch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .apis import HttpClassifier, backoff_window, classify_http
    from .bounces import BounceRecord, BounceReport, parse_bounce, parse_log_records, read_bounces
    from .classifier import Classifier, classify
    from .errors import ReplyParseError, SmtpcodesError, TableError
    from .exceptions import classify_exception
    from .reply import EnhancedCode, Reply, parse_reply, parse_reply_or_none
    from .sendreport import RecipientResult, SendReport
    from .tables import Tables
    from .verdict import (
        ApiDetails,
        Category,
        Outcome,
        RetryWindow,
        Scope,
        SuppressAfter,
        Verdict,
    )

__all__ = [
    # core
    "classify",
    "parse_reply",
    "parse_reply_or_none",
    "Classifier",
    "Tables",
    # e-mail APIs
    "classify_http",
    "HttpClassifier",
    "backoff_window",
    # bounces
    "parse_bounce",
    "read_bounces",
    "parse_log_records",
    "BounceReport",
    "BounceRecord",
    # sending
    "classify_exception",
    "SendReport",
    "RecipientResult",
    # values
    "ApiDetails",
    "Category",
    "EnhancedCode",
    "Outcome",
    "Reply",
    "RetryWindow",
    "Scope",
    "SuppressAfter",
    "Verdict",
    # errors
    "ReplyParseError",
    "SmtpcodesError",
    "TableError",
]

_HOME = {
    "classify": "classifier",
    "Classifier": "classifier",
    "parse_reply": "reply",
    "parse_reply_or_none": "reply",
    "EnhancedCode": "reply",
    "Reply": "reply",
    "Tables": "tables",
    "classify_http": "apis",
    "HttpClassifier": "apis",
    "backoff_window": "apis",
    "parse_bounce": "bounces",
    "read_bounces": "bounces",
    "parse_log_records": "bounces",
    "BounceReport": "bounces",
    "BounceRecord": "bounces",
    "classify_exception": "exceptions",
    "SendReport": "sendreport",
    "RecipientResult": "sendreport",
    "ApiDetails": "verdict",
    "Category": "verdict",
    "Outcome": "verdict",
    "RetryWindow": "verdict",
    "Scope": "verdict",
    "SuppressAfter": "verdict",
    "Verdict": "verdict",
    "ReplyParseError": "errors",
    "SmtpcodesError": "errors",
    "TableError": "errors",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is not None:
        value = getattr(importlib.import_module(f".{home}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name == "__version__":
        from importlib.metadata import version

        return version("smtpcodes")
    msg = f"module 'smtpcodes' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
