"""Benchmark: how fast smtpcodes classifies replies. Run: python tests/benchmarks/bench_classify.py

Prints:
- distinct replies/s: a stream of real-world replies made distinct (an address and
  a queue ID per reply vary), so the cache never helps;
- repeated replies/s: the same replies again (cache hits);
- parse-only replies/s, as a reference for what the classifier adds;
- time per reply from 100 to 1,000 rules (subsets of the shipped rules, then the
  shipped rules plus fillers keyed on real words), to show that the prefilter keeps
  the cost nearly flat as rules are added.
Figures are best-of-N on this machine; compare ratios within one run.
"""

from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

import attrs
import yaml

from smtpcodes import Classifier, Tables, parse_reply
from smtpcodes.prefilter import re2_available
from smtpcodes.rules import RuleSet, compile_rule

HERE = Path(__file__).resolve()
CORPUS = HERE.parents[3] / "shared" / "corpus" / "replies.dev.yaml"


def base_replies() -> list[str]:
    """Real reply texts: the labeled corpus when present, else the rules' own examples."""
    if CORPUS.is_file():
        rows = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
        return [row["reply"] for row in rows]
    return [str(ex["reply"]) for rule in Tables.default().rules.rules for ex in rule.examples]


def distinct(replies: list[str], n: int) -> list[str]:
    """n distinct replies: real texts with a varying address and queue id appended."""
    out = []
    for i in range(n):
        text = replies[i % len(replies)]
        out.append(f"{text} <user{i}@example{i % 97}.com> id={i:08x}")
    return out


def best_rate(fn: object, items: list[str], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            fn(item)  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return len(items) / best


def main() -> int:
    replies = base_replies()
    n = 50_000
    stream = distinct(replies, n)
    default = Classifier.default()
    default.classify(stream[0])  # load tables outside the timing

    def fresh_classifier() -> Classifier:
        return Classifier(Tables.default(), cache_size=0)

    uncached = fresh_classifier()
    rate_distinct = best_rate(uncached.classify, stream)
    # What a user gets: the default classifier, whose cache misses on every reply here.
    rate_distinct_default = best_rate(Classifier(Tables.default()).classify, stream)

    def parse_or_none(text: str) -> object:
        try:
            return parse_reply(text)
        except ValueError:
            return None

    rate_parse = best_rate(parse_or_none, stream)
    cached = Classifier(Tables.default())
    hot = [replies[i % len(replies)] for i in range(n * 4)]
    for text in replies:
        cached.classify(text)
    rate_cached = best_rate(cached.classify, hot)

    from smtpcodes import classify as module_classify

    rate_module = best_rate(module_classify, hot)

    print(
        f"python {sys.version.split()[0]}, {len(Tables.default().rules)} default rules, "
        f"{len(replies)} base replies, prefilter {Tables.default().rules.prefilter}"
    )
    print(f"parse only (distinct)        {rate_parse:>12,.0f} replies/s")
    print(f"classify, distinct replies   {rate_distinct:>12,.0f} replies/s   (target >= 100,000)")
    print(
        f"  same, default classifier   {rate_distinct_default:>12,.0f} replies/s"
        "   (its cache missing)"
    )
    print(f"classify, repeated (cached)  {rate_cached:>12,.0f} replies/s   (target >= 1,000,000)")
    print(f"smtpcodes.classify, cached   {rate_module:>12,.0f} replies/s")
    print(f"classify / parse time ratio  {rate_parse / rate_distinct:>12.2f}")

    # Rule-count scaling, 100 to 1,000 rules: a subset of the shipped rules below
    # their number, the shipped rules plus fillers keyed on real words above it.
    vocab = sorted({w for text in replies for w in re.findall(r"[a-z]{4,}", text.lower())})
    random.Random(7).shuffle(vocab)
    tables = Tables.default()
    shipped = list(tables.rules.rules)
    sample = stream[:20_000]
    base: dict[str, float] = {}
    print("rules  shipped  fillers  prefilter  us/reply  vs 100 rules")
    for total in (100, 250, len(shipped), 700, 1000):
        kept = shipped[: min(total, len(shipped))]
        fillers = [
            compile_rule(
                {
                    "id": f"bench.filler.{i}",
                    "comment": "benchmark filler",
                    "match": rf"\b{vocab[i % len(vocab)]}\b.{{0,20}}\bzz{i}\b",
                    "category": "policy",
                },
                10_000 + i,
                "bench",
            )
            for i in range(max(0, total - len(shipped)))
        ]
        for prefilter in ("re2", "index") if re2_available() else ("index",):
            ruleset = RuleSet([*kept, *fillers], prefilter=prefilter)
            classifier = Classifier(attrs.evolve(tables, rules=ruleset), cache_size=0)
            us = 1e6 / best_rate(classifier.classify, sample)
            base.setdefault(prefilter, us)
            print(
                f"{len(ruleset):>5}  {len(kept):>7}  {len(fillers):>7}  {prefilter:>9}"
                f"  {us:>8.2f}  {us / base[prefilter]:>5.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
