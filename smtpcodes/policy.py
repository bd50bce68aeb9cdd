"""Category policies, and the one place where a verdict's fields are derived.

Every verdict smtpcodes makes, from an SMTP reply, an API response, a bounce or an
exception, goes through :func:`make_verdict`, so the labeling rules (which
categories retry, which suppress, whose problem it is) live in one table
(``data/categories.yaml``) and one function.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

import attrs

from .verdict import Category, Outcome, RetryWindow, Scope, SuppressAfter, Verdict

if TYPE_CHECKING:
    from .reply import Reply
    from .verdict import ApiDetails

__all__ = ["CategoryPolicy", "make_verdict"]


@attrs.frozen
class CategoryPolicy:
    """What one category means for retry, suppression and scope, per outcome."""

    category: Category
    scope: Scope
    retry_transient: bool
    retry_permanent: bool
    suppress_transient: bool
    suppress_permanent: bool
    retry_after: RetryWindow | None = None
    action: str = ""
    suppress_after: SuppressAfter | None = None

    def retry_for(self, outcome: Outcome) -> bool:
        """Whether a resend can succeed, for this outcome."""
        if outcome is Outcome.TRANSIENT:
            return self.retry_transient
        if outcome is Outcome.PERMANENT:
            return self.retry_permanent
        return False

    def suppress_for(self, outcome: Outcome) -> bool:
        """Whether to stop mailing the address, for this outcome."""
        if outcome is Outcome.TRANSIENT:
            return self.suppress_transient
        if outcome is Outcome.PERMANENT:
            return self.suppress_permanent
        return False


def _default_policies() -> Mapping[Category, CategoryPolicy]:
    # Imported here: the tables module imports this one.
    from .tables import Tables

    return Tables.default().categories


def make_verdict(
    category: Category,
    outcome: Outcome,
    *,
    reply: Reply | None = None,
    rule: str | None = None,
    retry: bool | None = None,
    retry_after: RetryWindow | None = None,
    suppress: bool | None = None,
    delivery_unknown: bool = False,
    action: str | None = None,
    api: ApiDetails | None = None,
    policies: Mapping[Category, CategoryPolicy] | None = None,
) -> Verdict:
    """Build a :class:`Verdict`, filling what the caller leaves out from the category policy.

    Explicit arguments win over the policy. ``retry_after`` is kept only when the
    verdict retries (the spec: ``null`` when ``retry`` is false); when it retries
    and no window is given, the category's default window is used.
    """
    table = policies if policies is not None else _default_policies()
    policy = table[category]
    if outcome is Outcome.SUCCESS:
        retry = False if retry is None else retry
        suppress = False if suppress is None else suppress
    if retry is None:
        retry = policy.retry_for(outcome)
    if suppress is None:
        suppress = policy.suppress_for(outcome)
    window: RetryWindow | None = None
    if retry:
        window = retry_after or policy.retry_after or RetryWindow(timedelta(0), timedelta(0))
    return Verdict(
        outcome=outcome,
        category=category,
        retry=retry,
        retry_after=window,
        suppress=suppress,
        scope=policy.scope,
        delivery_unknown=delivery_unknown,
        reply=reply,
        rule=rule,
        action=policy.action if action is None else action,
        api=api,
        suppress_after=policy.suppress_after if not suppress else None,
    )
