"""Every shipped text rule proves itself on its own examples, and the rule table is well-formed."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import yaml

from smtpcodes.classifier import Classifier
from smtpcodes.rules import Rule, is_unspaced
from smtpcodes.tables import Tables, data_path

RULES: tuple[Rule, ...] = Tables.default().rules.rules
CASES = [
    pytest.param(rule, example, id=f"{rule.id}[{i}]")
    for rule in RULES
    for i, example in enumerate(rule.examples)
]


def _fields(verdict: Any) -> dict[str, Any]:
    window = verdict.retry_after
    return {
        "outcome": verdict.outcome.value,
        "category": verdict.category.value,
        "retry": verdict.retry,
        "suppress": verdict.suppress,
        "scope": verdict.scope.value,
        "delivery_unknown": verdict.delivery_unknown,
        "retry_after": list(window.as_seconds()) if window is not None else None,
        "rule": verdict.rule,
    }


def test_there_are_many_rules() -> None:
    """The shipped tables hold a broad rule set, not a handful."""
    assert len(RULES) >= 200


@pytest.mark.parametrize(("rule", "example"), CASES)
def test_example_fires_its_rule(rule: Rule, example: dict[str, Any]) -> None:
    """Each example is decided by the rule that lists it, with the expected verdict fields."""
    verdict = Classifier.default().classify(example["reply"], stage=example.get("stage"))
    got = _fields(verdict)
    assert got["rule"] == rule.id, f"{example['reply']!r} was decided by {got['rule']}"
    for key, want in (example.get("expect") or {}).items():
        if key == "retry_after" and want is not None:
            assert got[key] is not None, "no retry window"
            assert [float(v) for v in got[key]] == [float(v) for v in want], key
        else:
            assert got[key] == want, f"{key}: {got[key]!r} != {want!r} for {example['reply']!r}"


def test_rule_ids_are_unique() -> None:
    """No two shipped rules share an id across files (the loader would merge them)."""
    counts: Counter[str] = Counter()
    for path in sorted((data_path() / "rules").glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        entries = document.get("rules", []) if isinstance(document, dict) else document
        counts.update(str(entry["id"]) for entry in entries)
    assert sum(counts.values()) == len(RULES)
    assert [rid for rid, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_is_documented_and_indexed(rule: Rule) -> None:
    """Each rule has a comment, at least one example and selective trigger words."""
    assert rule.comment.strip()
    assert rule.examples, "a rule needs at least one example"
    assert rule.words, "no trigger words: the rule would be tried on every reply"
    assert all(len(w) >= 2 or is_unspaced(w) for w in rule.words), rule.words


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_codeless_rules_name_an_outcome(rule: Rule) -> None:
    """A rule that can match text without a reply code says which outcome that text means."""
    if rule.codes or rule.classes or rule.no_code is False:
        return
    assert rule.outcome is not None or rule.override_outcome is not None


NEGATIVES = [
    ("550 5.1.6 spam not accepted", "spam_content"),
    ("550 5.1.6 Mailbox has moved", "mailbox_moved"),
    ("452 4.3.1 Insufficient system storage", "server_busy"),
    ("452 4.2.2 Mailbox over quota", "mailbox_full"),
    ("550 5.7.1 No such user!", "mailbox_unknown"),
    (
        "523 5.7.10 SMTP protocol violation, no commands allowed to pipeline after STARTTLS",
        "protocol_error",
    ),
    ("552 5.1.1 <bob@example.com>... Recipient overquota", "mailbox_full"),
    ("452 4.5.3 Daily message limit exceeded", "quota_exceeded"),
    ("550 5.7.26 This mail has been blocked because the sender is unauthenticated.", "sender_auth"),
    ("421 4.7.0 TLS required for RCPT domain, closing connection.", "tls_required"),
    ("454 4.7.0 TLS not available due to local problem", "system_error"),
    ("451 4.5.0 virus_scan FAILED: virus scanner failure", "system_error"),
    ("552 Message rejected for spam or virus content", "spam_content"),
    (
        "550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
        "blocked",
    ),
    ("550 This IP has sent too many to too many recipients this hour.", "rate_limited"),
    (
        "450 4.1.8 <a@nonexistent.example>: Sender address rejected: Domain not found",
        "sender_rejected",
    ),
    (
        "450 4.1.2 <b@nonexistent.example>: Recipient address rejected: Domain not found",
        "domain_invalid",
    ),
    ("450 4.7.1 <mail.nonexistent.example>: Helo command rejected: Host not found", "policy"),
    ("550 5.7.1 Unable to relay", "relay_denied"),
    ("553 Relaying disallowed as alice@example.org", "sender_rejected"),
    ("451 Recipient temporarily unavailable", "unknown"),
    ("421 4.7.0 Service temporarily unavailable", "server_busy"),
    (
        "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1",
        "blocked",
    ),
    ("421 4.7.26 This mail has been rate limited because it is unauthenticated.", "sender_auth"),
    (
        "451 4.7.650 The mail server has been temporarily rate limited due to IP reputation.",
        "rate_limited",
    ),
    ("550 5.7.501 Access denied, spam abuse detected.", "account_problem"),
    ("550 Mailbox quota exceeded", "mailbox_full"),
    ("550 5.4.5 Daily sending quota exceeded.", "quota_exceeded"),
    ("552 5.2.2 The email account that you tried to reach is over quota.", "mailbox_full"),
    ("550 5.1.1 <x@icloud.com>: inactive email address", "mailbox_disabled"),
]


@pytest.mark.parametrize(("reply", "category"), NEGATIVES, ids=[r for r, _ in NEGATIVES])
def test_tricky_replies_get_the_right_category(reply: str, category: str) -> None:
    """Words shared by several causes do not pull a reply into the wrong category."""
    assert Classifier.default().classify(reply).category.value == category
