"""Benchmark: what a ScriptedSMTPServer costs per test. Run: python tests/benchmarks/bench_server.py

Prints, for N rounds each:
- start + stop of a plain server (what the ``smtp_server`` fixture adds to every test);
- the same with STARTTLS on (the certificates are made once per process: the first
  start is shown apart);
- one complete smtplib send (connect, EHLO, MAIL, RCPT, DATA, QUIT) against a running
  server, as a yardstick for the start + stop figure;
- start + send + stop, i.e. a whole small test.
The target is start + stop under 50 ms, so a suite can afford one server per test.
Figures are medians and 95th percentiles on this machine; compare ratios within one run.
"""

from __future__ import annotations

import smtplib
import statistics
import sys
import time
from collections.abc import Callable

from smtpcodes.testing.server import ScriptedSMTPServer
from smtpcodes.testing.tls import make_test_certificates

ROUNDS = 200
TARGET_MS = 50.0
MESSAGE = b"From: a@example.org\r\nTo: b@example.com\r\nSubject: bench\r\n\r\nx\r\n"


def measure(action: Callable[[], object], rounds: int = ROUNDS) -> list[float]:
    """Milliseconds per call of ``action``, one figure per round."""
    figures = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        figures.append((time.perf_counter() - started) * 1000)
    return figures


def report(label: str, figures: list[float]) -> float:
    median = statistics.median(figures)
    p95 = sorted(figures)[int(len(figures) * 0.95) - 1]
    print(f"{label:<42} median {median:7.2f} ms   p95 {p95:7.2f} ms   max {max(figures):7.2f} ms")
    return median


def start_stop(**options: object) -> None:
    with ScriptedSMTPServer(**options):  # type: ignore[arg-type]
        pass


def send(server: ScriptedSMTPServer) -> None:
    with smtplib.SMTP(server.hostname, server.port, local_hostname="bench.test") as client:
        client.sendmail("a@example.org", ["b@example.com"], MESSAGE)


def whole_test() -> None:
    with ScriptedSMTPServer() as server:
        server.on("RCPT", "550 5.1.1 unknown", recipient="gone@example.com")
        send(server)


def main() -> int:
    print(f"ScriptedSMTPServer, {ROUNDS} rounds each, Python {sys.version.split()[0]}")
    started = time.perf_counter()
    make_test_certificates()
    first_certificates_ms = (time.perf_counter() - started) * 1000
    plain = report("start + stop", measure(start_stop))
    report("start + stop, STARTTLS offered", measure(lambda: start_stop(starttls=True)))
    print(f"{'certificates, made once per process':<42} {first_certificates_ms:7.2f} ms")
    with ScriptedSMTPServer() as server:
        one_send = report("one smtplib send to a running server", measure(lambda: send(server)))
    report("start + scripted send + stop", measure(whole_test))
    print(
        f"start + stop is {plain / one_send:.2f}x one send; target under {TARGET_MS:.0f} ms:",
        end=" ",
    )
    print("met" if plain < TARGET_MS else "MISSED")
    return 0 if plain < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
