"""Test configuration shared by the whole suite."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import settings

# No per-example deadline: the first example of a run may load the tables, and
# speed is measured by the scripts in tests/benchmarks/, not by unit tests.
settings.register_profile("smtpcodes", deadline=None, print_blob=True)
settings.load_profile("smtpcodes")


# The verdict fields the labeled sets (shared/corpus, tests/data/audit_replies.yaml) speak of.
LABELED_FIELDS = ("outcome", "category", "retry", "suppress", "scope", "delivery_unknown")


def verdict_fields(reply: str) -> dict[str, Any]:
    """The labeled fields of the default classifier's verdict, as the label files write them."""
    from smtpcodes import Classifier

    verdict = Classifier.default().classify(reply)
    return {
        "outcome": verdict.outcome.value,
        "category": verdict.category.value,
        "retry": verdict.retry,
        "suppress": verdict.suppress,
        "scope": verdict.scope.value,
        "delivery_unknown": verdict.delivery_unknown,
    }


def measure_agreement(
    rows: list[dict[str, Any]], title: str, bars: dict[str, float]
) -> tuple[dict[str, float], list[str]]:
    """Per-field share of rows whose verdict agrees with the label; prints a table and misses."""
    agree = dict.fromkeys(LABELED_FIELDS, 0)
    misses: list[str] = []
    for row in rows:
        got = verdict_fields(row["reply"])
        expected = row["expected"]
        wrong = [f for f in LABELED_FIELDS if got[f] != expected[f]]
        for field in LABELED_FIELDS:
            agree[field] += field not in wrong
        if wrong:
            detail = ", ".join(f"{f} {got[f]!r} != {expected[f]!r}" for f in wrong)
            misses.append(f"{row['id']}: {detail}")
    share = {field: agree[field] / len(rows) for field in LABELED_FIELDS}
    print(f"\n{title}:")
    for field in LABELED_FIELDS:
        bar = bars.get(field)
        print(f"  {field:<17} {share[field]:7.1%}" + (f"   (bar {bar:.0%})" if bar else ""))
    for miss in misses:
        print(f"  miss {miss}")
    return share, misses


@pytest.fixture
def agreement() -> Any:
    """measure_agreement, for the accuracy tests (test modules cannot import each other)."""
    return measure_agreement


@pytest.fixture
def labeled_verdict() -> Any:
    """verdict_fields, for tests that compare verdicts with labels."""
    return verdict_fields


# The verdict fields the labeled API sets (api.dev.yaml, tests/data/api_audit.yaml) speak of.
API_FIELDS = (
    "outcome",
    "category",
    "retry",
    "retry_after",
    "suppress",
    "scope",
    "delivery_unknown",
)
# When an API row gives no `now`, reset windows count from this arbitrary fixed instant.
API_DEFAULT_NOW = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


def api_verdict_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The labeled fields of classify_http's verdict for one labeled API row."""
    from smtpcodes.apis.classify import classify_http

    raw = row.get("now")
    now = datetime.fromisoformat(str(raw).replace("Z", "+00:00")) if raw else API_DEFAULT_NOW
    verdict = classify_http(
        row["http_status"], row.get("body"), row.get("headers"), row.get("provider"), now
    )
    got = verdict.as_dict()
    return {name: got[name] for name in API_FIELDS}


@pytest.fixture
def api_verdict() -> Any:
    """api_verdict_fields, for the API accuracy tests."""
    return api_verdict_fields
