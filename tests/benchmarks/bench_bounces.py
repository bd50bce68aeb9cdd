"""Benchmark: Postfix-style DSNs parsed and classified per second, on one core.

Run as ``python tests/benchmarks/bench_bounces.py [COUNT]``. Prints messages per
second for :func:`smtpcodes.bounces.parse_bounce` (parsing, record building and
classification) and, on the same messages, for the standard library's
``email.message_from_bytes`` with ``policy=compat32`` and ``policy.default``
(parsing alone), and the ratios between them within this run.
"""

from __future__ import annotations

import email
import email.policy
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from smtpcodes.bounces import parse_bounce
from smtpcodes.bounces.synth import DsnRecipientSpec, make_dsn
from smtpcodes.classifier import Classifier

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "replies.dev.yaml"
FALLBACK_REPLIES = [
    "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table",
    "552 5.2.2 <{rcpt}>: Mailbox full",
    "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
    "450 4.7.1 <{rcpt}>: Recipient address rejected: Greylisted, try again in 300 seconds",
    "550 5.7.26 Unauthenticated email from example.org is not accepted due to DMARC policy",
]


def _replies() -> list[str]:
    if CORPUS.is_file():
        rows = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
        replies = [r["reply"] for r in rows if isinstance(r, dict) and r.get("reply")]
        coded = [r for r in replies if r.strip()[:1] in "2345"]
        if coded:
            return coded
    return FALLBACK_REPLIES


def _messages(count: int) -> list[bytes]:
    replies = _replies()
    out: list[bytes] = []
    for i in range(count):
        rcpt = f"user{i}@example{i % 97}.com"
        reply = replies[i % len(replies)].replace("{rcpt}", rcpt)
        action = "delayed" if reply.strip().startswith("4") else "failed"
        out.append(
            make_dsn(
                [DsnRecipientSpec(rcpt, reply, action)],
                message_id=f"<msg{i}@example.org>",
                boundary=f"B{i:08d}.1700000000/mail.example.org",
            )
        )
    return out


def _rate(label: str, func: Callable[[bytes], object], messages: list[bytes]) -> float:
    func(messages[0])  # warm caches (tables, regexes)
    start = time.perf_counter()
    for message in messages:
        func(message)
    elapsed = time.perf_counter() - start
    rate = len(messages) / elapsed
    print(f"{label:<52} {rate:>10,.0f} msg/s  ({elapsed:.2f} s for {len(messages)})")
    return rate


def main() -> None:
    """Generate the messages, time each reader, print rates and ratios."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    messages = _messages(count)
    size = sum(len(m) for m in messages) / len(messages)
    print(f"{count} Postfix-style DSNs, {size:,.0f} bytes each on average, one core\n")
    classifier = Classifier.default()
    ours = _rate(
        "smtpcodes.parse_bounce (parse + classify)",
        lambda m: parse_bounce(m, classifier=classifier),
        messages,
    )
    compat = _rate(
        "email.message_from_bytes(policy=compat32)",
        lambda m: email.message_from_bytes(m, policy=email.policy.compat32),
        messages,
    )
    default = _rate(
        "email.message_from_bytes(policy=default)",
        lambda m: email.message_from_bytes(m, policy=email.policy.default),
        messages,
    )
    print()
    print(f"parse_bounce / message_from_bytes(compat32): {ours / compat:.2f}x")
    print(f"parse_bounce / message_from_bytes(default):  {ours / default:.2f}x")
    print("target: >= 3,000 msg/s parse + classify (Sisimai, the Perl anchor: ~1,000/s here)")


if __name__ == "__main__":
    main()
