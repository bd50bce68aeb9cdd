"""Benchmark: smtpcodes.aio.Sender against raw aiosmtplib, and its connection pool.

Run: ``python tests/benchmarks/bench_sender.py [--messages 2000] [--rounds 3]``.

An aiosmtpd server runs in a child process on 127.0.0.1 (so the client's event
loop does not share a GIL with it). Two figures, each a ratio within this run:

1. overhead: N small messages through ``Sender`` (one kept-open connection, a
   suppression list in memory) vs ``aiosmtplib.SMTP.send_message`` on one
   kept-open connection. The two take turns every ``--chunk`` messages within a
   round; the best round of each counts. Target: Sender time / raw time <= 1.10.
2. pool: the server waits ``--delay`` seconds before answering each message;
   ``max_connections=8`` vs ``max_connections=1`` with 8 tasks sending.
   Target: throughput ratio >= 3.
"""

from __future__ import annotations

import argparse
import asyncio
import email.message
import socket
import subprocess
import sys
import textwrap
import time

import aiosmtplib

from smtpcodes.aio import Sender
from smtpcodes.suppression import MemorySuppressionList

_SERVER = textwrap.dedent(
    """
    import asyncio, sys, warnings
    warnings.simplefilter("ignore")
    from aiosmtpd.smtp import SMTP

    DELAY = float(sys.argv[2])

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            if DELAY:
                await asyncio.sleep(DELAY)
            return "250 2.0.0 OK: queued"

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(Handler(), hostname="bench.example", ident="bench"),
            "127.0.0.1",
            int(sys.argv[1]),
        )
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())
    """
)


# Seconds per round for each side: wall time, and client CPU time (less sensitive than
# wall time to other load on the machine).
WALL: dict[str, list[float]] = {"raw": [], "sender": []}
CPU: dict[str, list[float]] = {"raw": [], "sender": []}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(delay: float) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port), str(delay)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        msg = "The benchmark server did not start."
        raise RuntimeError(msg)
    return proc, port


def _messages(count: int) -> list[email.message.EmailMessage]:
    out = []
    for i in range(count):
        msg = email.message.EmailMessage()
        msg["From"] = "bench@sender.example"
        msg["To"] = f"user{i % 50}@rcpt.example"
        msg["Subject"] = f"benchmark {i}"
        msg.set_content("A small message body.\n")
        out.append(msg)
    return out


async def _round(port: int, messages: list[email.message.EmailMessage], chunk: int) -> None:
    """One round: all messages through raw aiosmtplib and through Sender, chunk by chunk.

    Both keep one connection open for the whole round. The two sides take turns
    every ``chunk`` messages (and swap who goes first), so load from other
    processes on the machine falls on both alike.
    """
    raw = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, local_hostname="bench")
    await raw.connect()
    await raw.send_message(messages[0])  # both sides warm up outside the timing
    async with Sender(
        "127.0.0.1",
        port,
        start_tls=False,
        local_hostname="bench",
        suppression=MemorySuppressionList(),
    ) as sender:
        await sender.send(messages[0])
        totals = {"raw": [0.0, 0.0], "sender": [0.0, 0.0]}  # wall, cpu

        async def run_raw(batch: list[email.message.EmailMessage]) -> None:
            start, cpu = time.perf_counter(), time.process_time()
            for msg in batch:
                await raw.send_message(msg)
            totals["raw"][0] += time.perf_counter() - start
            totals["raw"][1] += time.process_time() - cpu

        async def run_sender(batch: list[email.message.EmailMessage]) -> None:
            start, cpu = time.perf_counter(), time.process_time()
            for msg in batch:
                report = await sender.send(msg)
                assert report.delivered, report
            totals["sender"][0] += time.perf_counter() - start
            totals["sender"][1] += time.process_time() - cpu

        for i in range(0, len(messages), chunk):
            batch = messages[i : i + chunk]
            if (i // chunk) % 2:
                await run_sender(batch)
                await run_raw(batch)
            else:
                await run_raw(batch)
                await run_sender(batch)
    await raw.quit()
    for side, (wall, cpu) in totals.items():
        WALL[side].append(wall)
        CPU[side].append(cpu)


async def _pooled(port: int, messages: list[email.message.EmailMessage], pool: int) -> float:
    async with Sender(
        "127.0.0.1", port, start_tls=False, local_hostname="bench", max_connections=pool
    ) as sender:
        queue: asyncio.Queue[email.message.EmailMessage] = asyncio.Queue()
        for msg in messages:
            queue.put_nowait(msg)

        async def worker() -> None:
            while not queue.empty():
                report = await sender.send(queue.get_nowait())
                assert report.delivered, report

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(8)))
        return time.perf_counter() - start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--pool-messages", type=int, default=200)
    args = parser.parse_args()
    messages = _messages(args.messages)

    proc, port = _start_server(0.0)
    try:
        for _ in range(args.rounds):
            await _round(port, messages, args.chunk)
    finally:
        proc.terminate()
        proc.wait()
    raw_best, sender_best = min(WALL["raw"]), min(WALL["sender"])
    print(f"{args.messages} messages, best of {args.rounds} rounds, sides alternating every")
    print(f"{args.chunk} messages on one kept-open connection each")
    print("  rounds raw   :", " ".join(f"{t:.3f}" for t in WALL["raw"]))
    print("  rounds Sender:", " ".join(f"{t:.3f}" for t in WALL["sender"]))
    raw_rate = args.messages / raw_best
    print(f"  raw aiosmtplib, one connection : {raw_best:.3f} s ({raw_rate:.0f} msg/s)")
    print(
        f"  smtpcodes Sender, one connection: {sender_best:.3f} s "
        f"({args.messages / sender_best:.0f} msg/s)"
    )
    ratio = sender_best / raw_best
    print(f"  overhead ratio Sender/raw       : {ratio:.3f}  (wall time, target <= 1.10)")
    cpu_ratio = min(CPU["sender"]) / min(CPU["raw"])
    print(f"  client CPU ratio Sender/raw     : {cpu_ratio:.3f}  (client process CPU time)")

    proc, port = _start_server(args.delay)
    try:
        pool_messages = messages[: args.pool_messages]
        one = await _pooled(port, pool_messages, 1)
        eight = await _pooled(port, pool_messages, 8)
    finally:
        proc.terminate()
        proc.wait()
    print(f"{args.pool_messages} messages, server delay {args.delay * 1000:.0f} ms per message")
    print(f"  max_connections=1: {args.pool_messages / one:.0f} msg/s")
    print(f"  max_connections=8: {args.pool_messages / eight:.0f} msg/s")
    print(f"  throughput ratio 8/1           : {one / eight:.2f}  (target >= 3)")


if __name__ == "__main__":
    asyncio.run(main())
