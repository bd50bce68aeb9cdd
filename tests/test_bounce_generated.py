"""Replies of the labeled corpus, wrapped in generated DSNs, classify as the bare replies do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from smtpcodes.bounces.parse import parse_bounce
from smtpcodes.bounces.synth import DsnRecipientSpec, make_dsn
from smtpcodes.classifier import classify

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "replies.dev.yaml"
_ACTION_FOR_OUTCOME = {"transient": "delayed", "success": "delivered"}


def _rows() -> list[dict[str, Any]]:
    if not CORPUS.is_file():
        return []
    rows = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    return [r for r in rows if isinstance(r, dict) and r.get("reply")]


ROWS = _rows()


@pytest.mark.skipif(not ROWS, reason="shared/corpus/replies.dev.yaml is not beside the repository")
@pytest.mark.parametrize("row", ROWS, ids=[str(r.get("id")) for r in ROWS])
def test_reply_in_a_dsn_classifies_like_the_bare_reply(row: dict[str, Any]) -> None:
    """A DSN carrying the reply gives the verdict the bare reply gets (category, outcome, flags).

    The DSN's Action follows the labeled outcome, as the reporting MTA would
    write it. Where the bare reply's outcome is ``unknown`` (no code, no rule),
    the DSN's Action adds a fact the reply lacks, so only the category is compared.
    """
    reply = row["reply"]
    expected_outcome = row["expected"]["outcome"]
    action = _ACTION_FOR_OUTCOME.get(expected_outcome, "failed")
    message = make_dsn([DsnRecipientSpec("rcpt@example.com", reply, action)])
    report = parse_bounce(message)
    assert len(report.records) == 1
    record = report.records[0]
    assert record.recipient == "rcpt@example.com"
    bare = classify(reply)
    wrapped = record.verdict
    assert wrapped.category == bare.category
    if bare.outcome.value != "unknown":
        assert (wrapped.outcome, wrapped.retry, wrapped.suppress, wrapped.scope) == (
            bare.outcome,
            bare.retry,
            bare.suppress,
            bare.scope,
        )


def test_many_recipients_in_one_generated_dsn_keep_their_own_verdicts() -> None:
    """Several recipients in one report each get the verdict of their own reply."""
    specs = [
        DsnRecipientSpec("a@example.com", "550 5.1.1 <a@example.com>: User unknown"),
        DsnRecipientSpec("b@example.com", "452 4.2.2 Mailbox full", "delayed"),
        DsnRecipientSpec("c@example.com", "554 5.7.1 Relay access denied"),
    ]
    records = parse_bounce(make_dsn(specs)).records
    assert [r.recipient for r in records] == ["a@example.com", "b@example.com", "c@example.com"]
    for spec, record in zip(specs, records, strict=True):
        assert record.verdict.category == classify(spec.reply).category
    assert [r.kind for r in records] == ["bounce", "delay", "bounce"]
