"""Throughput of classify_http on the labeled API corpus and on hostile bodies.

Run: python tests/benchmarks/bench_http.py  (prints figures; not collected by pytest)
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from smtpcodes.apis import HttpClassifier

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "api.dev.yaml"
NOW = datetime(2026, 1, 15, 22, 30, tzinfo=timezone.utc)


def _rate(label: str, calls: list[tuple[object, ...]], rounds: int) -> float:
    classifier = HttpClassifier.default()
    start = time.perf_counter()
    for _ in range(rounds):
        for status, body, headers, provider in calls:
            classifier.classify(status, body, headers, provider, NOW)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    per_second = rounds * len(calls) / elapsed
    print(f"{label:<32} {per_second:>10,.0f} responses/s")
    return per_second


def main() -> None:
    """Print classifications per second for corpus rows and for large/hostile bodies."""
    rows = yaml.safe_load(CORPUS.read_text(encoding="utf-8")) if CORPUS.is_file() else []
    corpus = [(r["http_status"], r.get("body"), r.get("headers"), r.get("provider")) for r in rows]
    base = _rate("corpus rows (parsed JSON)", corpus, 50) if corpus else 0.0
    html = b"<html><head><title>502 Bad Gateway</title></head>" + b"<p>x</p>" * 20_000
    huge = b'{"errors": [' + b'{"code": "1902", "message": "m"},' * 20_000 + b'{"code": "1"}]}'
    deep = b"[" * 50_000 + b"]" * 50_000
    slow = _rate(
        "hostile bodies (HTML, 600 KB, deep)",
        [(502, html, None, "sendgrid"), (400, huge, None, "sparkpost"), (400, deep, None, None)],
        20,
    )
    if base:
        print(f"ratio corpus / hostile: {base / slow:.1f}x")


if __name__ == "__main__":
    main()
