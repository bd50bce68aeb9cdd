"""smtpcodes: turn what mail servers and e-mail APIs say into decisions.

For each SMTP reply, bounce or API error: did it fail for good or for now, why
(a category), when to try again, whether to stop mailing the address, and whose
fault it is. The core (``parse_reply``, ``classify``, the tables) does no I/O.
"""

from __future__ import annotations

from .apis import HttpClassifier, backoff_window, classify_http
from .classifier import Classifier, classify
from .errors import ReplyParseError, SmtpcodesError, TableError
from .reply import EnhancedCode, Reply, parse_reply
from .tables import Tables
from .verdict import ApiDetails, Category, Outcome, RetryWindow, Scope, SuppressAfter, Verdict

__all__ = [
    # core
    "classify",
    "parse_reply",
    "Classifier",
    "Tables",
    # e-mail APIs
    "classify_http",
    "HttpClassifier",
    "backoff_window",
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


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import version

        return version("smtpcodes")
    msg = f"module 'smtpcodes' has no attribute {name!r}"
    raise AttributeError(msg)
