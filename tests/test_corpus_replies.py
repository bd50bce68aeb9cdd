"""Accuracy of the shipped tables on the labeled developer corpus of real SMTP replies.

The corpus lives beside the repository (``../shared/corpus/replies.dev.yaml``); CI
clones the repository with ``shared/`` next to it. Each row is classified from its
reply text alone (no SMTP stage), as the corpus README prescribes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "replies.dev.yaml"
# The bars the project must clear (per field, share of rows that agree).
BARS = {"outcome": 0.99, "suppress": 0.98, "retry": 0.97, "category": 0.95, "scope": 0.95}


def _rows() -> list[dict[str, Any]]:
    if not CORPUS.is_file():
        pytest.skip(f"labeled corpus not found at {CORPUS}")
    rows = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    assert isinstance(rows, list), "the corpus file must hold a list of rows"
    assert rows, "the corpus file holds no rows"
    return rows


def test_corpus_agreement_meets_the_bars(agreement: Any) -> None:
    """Per-field agreement with the corpus labels clears the issue's bars."""
    rows = _rows()
    share, misses = agreement(
        rows, f"corpus agreement over {len(rows)} replies ({CORPUS.name})", BARS
    )
    failing = {f: f"{share[f]:.1%} < {bar:.0%}" for f, bar in BARS.items() if share[f] < bar}
    assert not failing, f"below the bar: {failing}; misses: {misses}"


def test_corpus_labels_use_contract_names() -> None:
    """Every corpus label is a value the verdict contract knows (guards against a stale corpus)."""
    from smtpcodes.verdict import Category, Outcome, Scope

    for row in _rows():
        expected = row["expected"]
        Outcome(expected["outcome"])
        Category(expected["category"])
        Scope(expected["scope"])
