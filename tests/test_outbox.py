"""smtpcodes.outbox.Outbox: durable queueing, retries on a fake clock, expiry, crash recovery."""

from __future__ import annotations

import asyncio
import email.message
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from smtpcodes.aio import Sender
from smtpcodes.outbox import Outbox
from smtpcodes.suppression import SqliteSuppressionList
from smtpcodes.testing.clock import FakeClock
from smtpcodes.testing.server import ScriptedSMTPServer

GREYLIST = "450 4.7.1 Greylisted, please try again later"


@pytest.fixture
def server() -> Iterator[ScriptedSMTPServer]:
    with ScriptedSMTPServer() as srv:
        yield srv


def make_message(*to: str, subject: str = "queued") -> email.message.EmailMessage:
    msg = email.message.EmailMessage()
    msg["From"] = "news@sender.example"
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg.set_content("A small message.\n")
    return msg


def sender_for(server: ScriptedSMTPServer, **options: object) -> Sender:
    return Sender(server.hostname, server.port, start_tls=False, **options)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def received_by(server: ScriptedSMTPServer, address: str) -> int:
    """How many accepted messages were addressed to ``address``, counted on the server."""
    return sum(address in m.envelope_recipients for m in server.messages)


async def test_put_then_run_delivers_and_finishes(
    server: ScriptedSMTPServer, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """A queued message is sent by run_due, recorded, and moves to dead as complete."""
    async with sender_for(server) as sender:
        with Outbox(tmp_path / "out.db", sender, fake_clock) as outbox:
            message_id = await outbox.put(make_message("a@x.example"))
            assert [m.id for m in outbox.pending()] == [message_id]
            assert server.messages == []
            (run,) = await outbox.run_due()
            assert run.dead is True
            assert run.report.delivered == ["a@x.example"]
            assert outbox.pending() == []
            (dead,) = outbox.dead()
            assert dead.dead_reason == "complete"
            assert dead.recipients[0].state == "delivered"
            (entry,) = outbox.history(message_id)
            assert entry.verdict["category"] == "delivered"
            assert await outbox.run_due() == []
    assert received_by(server, "a@x.example") == 1


async def test_greylisting_then_success_after_the_clock_advances(
    server: ScriptedSMTPServer, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """A greylisted recipient is retried when due; the accepted one gets exactly one copy."""
    server.on("RCPT", GREYLIST, recipient="grey@x.example", times=1)
    async with sender_for(server, inline_retry_budget=1) as sender:
        with Outbox(tmp_path / "out.db", sender, fake_clock) as outbox:
            message_id = await outbox.put(make_message("ok@x.example", "grey@x.example"))
            (first,) = await outbox.run_due()
            assert first.report.delivered == ["ok@x.example"]
            assert first.report.deferred == ["grey@x.example"]
            (queued,) = outbox.pending()
            retry_at = queued.next_retry_at
            assert retry_at is not None
            assert retry_at > fake_clock()

            fake_clock.advance((retry_at - fake_clock()) / 2)
            assert await outbox.run_due() == []

            fake_clock.advance(retry_at - fake_clock())
            (second,) = await outbox.run_due()
            assert second.report.delivered == ["grey@x.example"]
            assert second.dead is True
            states = {h.recipient: h.state for h in outbox.history(message_id)}
            assert states == {"ok@x.example": "delivered", "grey@x.example": "delivered"}
            assert [h.attempt for h in outbox.history(message_id)] == [1, 1, 2]
    assert received_by(server, "ok@x.example") == 1
    assert received_by(server, "grey@x.example") == 1
    # The retry carried the same Message-ID the outbox gave the message.
    assert len({m["Message-ID"] for m in server.messages}) == 1


async def test_mailbox_full_is_suppressed(
    server: ScriptedSMTPServer, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """452 4.2.2 ends the recipient as suppressed and puts it on the SQLite list."""
    server.on("RCPT", "452 4.2.2 Mailbox full", recipient="full@x.example")
    with SqliteSuppressionList(tmp_path / "s.db") as suppression:
        async with sender_for(server, suppression=suppression) as sender:
            with Outbox(tmp_path / "out.db", sender, fake_clock) as outbox:
                await outbox.put(make_message("full@x.example"))
                (run,) = await outbox.run_due()
                assert run.dead
                (dead,) = outbox.dead()
                assert dead.recipients[0].state == "suppressed"
                assert dead.recipients[0].category == "mailbox_full"
                # A later message to the same address is skipped without a word to the server.
                server.reset()
                await outbox.put(make_message("full@x.example"))
                (again,) = await outbox.run_due()
                assert again.report.suppressed == ["full@x.example"]
                assert server.commands == []
        assert "full@x.example" in suppression


async def test_max_age_expires_the_rest(fake_clock: FakeClock, tmp_path: Path) -> None:
    """A message older than max_age is finished with expired verdicts for what is left."""
    async with Sender("127.0.0.1", free_port(), timeout=5) as sender:
        with Outbox(tmp_path / "out.db", sender, fake_clock, max_age=timedelta(days=5)) as outbox:
            message_id = await outbox.put(make_message("a@x.example"))
            (run,) = await outbox.run_due()
            assert run.report.deferred == ["a@x.example"]
            fake_clock.advance(timedelta(days=5, seconds=1))
            (expired,) = await outbox.run_due()
            assert expired.dead is True
            assert expired.report["a@x.example"].verdict.category.value == "expired"
            (dead,) = outbox.dead()
            assert dead.dead_reason == "expired"
            assert [h.state for h in outbox.history(message_id)] == ["pending", "expired"]


async def test_raw_message_with_envelope(
    server: ScriptedSMTPServer, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """Flattened bytes are queued with their envelope and sent unchanged."""
    raw = b"From: a@s.example\r\nSubject: raw bytes\r\n\r\nbody\r\n"
    async with sender_for(server) as sender:
        with Outbox(tmp_path / "out.db", sender, fake_clock) as outbox:
            await outbox.put(raw, ["r@x.example"], sender="a@s.example")
            (run,) = await outbox.run_due()
    assert run.report.delivered == ["r@x.example"]
    assert server.messages[0]["Subject"] == "raw bytes"
    assert server.messages[0].envelope_sender == "a@s.example"


async def test_naive_clock_is_refused(server: ScriptedSMTPServer, tmp_path: Path) -> None:
    """A clock without a timezone is a ValueError, not a silent shift."""
    async with sender_for(server) as sender:
        with (
            Outbox(tmp_path / "out.db", sender, clock=datetime.now) as outbox,
            pytest.raises(ValueError, match="aware"),
        ):
            await outbox.put(make_message("a@x.example"))


_PUT_AND_DIE = textwrap.dedent(
    """
    import asyncio, email.message, os, signal, sys
    from smtpcodes.aio import Sender
    from smtpcodes.outbox import Outbox

    async def main(path, port, mode):
        msg = email.message.EmailMessage()
        msg["From"] = "news@sender.example"
        msg["To"] = "a@x.example, b@x.example"
        msg["Subject"] = "survivor"
        msg.set_content("Still here.")
        sender = Sender("127.0.0.1", int(port), start_tls=False)
        outbox = Outbox(path, sender)
        message_id = await outbox.put(msg)
        print(message_id, flush=True)
        if mode == "after-put":
            os.kill(os.getpid(), signal.SIGKILL)
        await outbox.run_due()  # the server holds the reply; the test kills us meanwhile

    asyncio.run(main(*sys.argv[1:]))
    """
)


def _spawn(path: Path, port: int, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _PUT_AND_DIE, str(path), str(port), mode],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


async def test_killed_between_put_and_delivery(server: ScriptedSMTPServer, tmp_path: Path) -> None:
    """A process SIGKILLed right after put() loses nothing: reopening delivers the message once."""
    path = tmp_path / "out.db"
    proc = _spawn(path, server.port, "after-put")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    message_id = out.strip()
    assert server.messages == []
    async with sender_for(server) as sender:
        with Outbox(path, sender) as outbox:
            (queued,) = outbox.pending()
            assert queued.id == message_id
            assert all(not r.delivery_unknown for r in queued.recipients)
            (run,) = await outbox.run_due()
            assert run.report.delivered == ["a@x.example", "b@x.example"]
            assert run.report.delivery_unknown == []
    assert [m["Subject"] for m in server.messages] == ["survivor"]


async def test_killed_while_in_flight_is_retried_as_unknown(
    server: ScriptedSMTPServer, tmp_path: Path
) -> None:
    """Killed after the body was sent: reopening retries it, marked delivery_unknown."""
    server.on("EOM", "250 2.0.0 OK", delay=30, times=1)
    path = tmp_path / "out.db"
    proc = _spawn(path, server.port, "in-flight")
    try:
        deadline = time.monotonic() + 20
        while not any(c.startswith("DATA") for c in server.commands):
            assert time.monotonic() < deadline, "the child never reached DATA"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # let the body go out too
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    async with sender_for(server) as sender:
        with Outbox(path, sender) as outbox:
            (queued,) = outbox.pending()
            assert all(r.delivery_unknown for r in queued.recipients)
            history = outbox.history(queued.id)
            assert {h.verdict["rule"] for h in history} == {"outbox.interrupted"}
            (run,) = await outbox.run_due()
            assert run.report.delivered == ["a@x.example", "b@x.example"]
            assert outbox.pending() == []


async def test_unknown_deliveries_can_be_parked(tmp_path: Path, server: ScriptedSMTPServer) -> None:
    """With retry_unknown=False a drop after DATA parks the recipient for a human."""
    server.drop("EOM", times=1)
    async with sender_for(server) as sender:
        with Outbox(tmp_path / "out.db", sender, retry_unknown=False) as outbox:
            await outbox.put(make_message("a@x.example"))
            (run,) = await outbox.run_due()
            assert run.dead is True
            (dead,) = outbox.dead()
            assert dead.recipients[0].state == "unknown"
            assert dead.recipients[0].delivery_unknown is True


async def test_concurrent_runs_do_not_send_twice(
    server: ScriptedSMTPServer, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """Two run_due() calls at once on one outbox send each message once."""
    server.on("EOM", "250 2.0.0 OK", delay=0.2)
    async with sender_for(server, max_connections=4) as sender:
        with Outbox(tmp_path / "out.db", sender, fake_clock) as outbox:
            await outbox.put(make_message("a@x.example", subject="one"))
            await outbox.put(make_message("b@x.example", subject="two"))
            first, second = await asyncio.gather(outbox.run_due(), outbox.run_due())
            assert len(first) + len(second) == 2
            assert len(outbox.dead()) == 2
    assert sorted(m["Subject"] for m in server.messages) == ["one", "two"]


async def test_cancelled_attempt_is_requeued_as_unknown(
    server: ScriptedSMTPServer, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """A run_due() cancelled mid-send leaves the recipient queued with delivery_unknown."""
    server.on("EOM", "250 2.0.0 OK", delay=5, times=1)
    async with sender_for(server) as sender:
        with Outbox(tmp_path / "out.db", sender, fake_clock) as outbox:
            await outbox.put(make_message("a@x.example"))
            task = asyncio.ensure_future(outbox.run_due())
            deadline = time.monotonic() + 10
            while not any(c.startswith("DATA") for c in server.commands):
                assert time.monotonic() < deadline, "the send never reached DATA"
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            (queued,) = outbox.pending()
            assert queued.recipients[0].state == "pending"
            assert queued.recipients[0].delivery_unknown is True
            (run,) = await outbox.run_due()
            assert run.report.delivered == ["a@x.example"]


async def test_inline_retries_are_in_the_history(
    server: ScriptedSMTPServer, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """A verdict the sender retried inline is recorded too, before the final one."""
    server.on(
        "RCPT", "451 4.3.0 Temporary failure, retry-after: 0", recipient="b@x.example", times=1
    )
    async with sender_for(server, backoff_base=0.01) as sender:
        with Outbox(tmp_path / "out.db", sender, fake_clock) as outbox:
            message_id = await outbox.put(make_message("a@x.example", "b@x.example"))
            (run,) = await outbox.run_due()
            assert run.report.delivered == ["a@x.example", "b@x.example"]
            rows = [(h.attempt, h.recipient, h.state) for h in outbox.history(message_id)]
            assert rows == [
                (1, "a@x.example", "delivered"),
                (1, "b@x.example", "retried"),
                (2, "b@x.example", "delivered"),
            ]
            (dead,) = outbox.dead()
            assert {r.address: r.attempts for r in dead.recipients} == {
                "a@x.example": 1,
                "b@x.example": 2,
            }
    assert received_by(server, "b@x.example") == 1


async def test_cancelled_during_inline_retry_keeps_the_delivered_recipient(
    server: ScriptedSMTPServer, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """Cancelled while waiting to retry one recipient: the one already accepted is not resent."""
    server.on(
        "RCPT", "451 4.3.0 Temporary failure, retry-after: 0", recipient="b@x.example", times=1
    )
    running: list[asyncio.Future[object]] = []

    def cancel_on_deferral(recipient: str, verdict: object) -> None:
        if recipient == "b@x.example":
            running[0].cancel()  # lands in the sender's backoff sleep before the retry

    options = {"backoff_base": 30.0, "inline_retry_budget": 120.0}
    async with sender_for(server, on_verdict=cancel_on_deferral, **options) as sender:
        with Outbox(tmp_path / "out.db", sender, fake_clock) as outbox:
            message_id = await outbox.put(make_message("a@x.example", "b@x.example"))
            running.append(asyncio.ensure_future(outbox.run_due()))
            with pytest.raises(asyncio.CancelledError):
                await running[0]
            assert received_by(server, "a@x.example") == 1
            queued = outbox.get(message_id)
            assert queued is not None
            states = {r.address: (r.state, r.delivery_unknown) for r in queued.recipients}
            assert states == {"a@x.example": ("delivered", False), "b@x.example": ("pending", True)}
            rows = [(h.attempt, h.recipient, h.state) for h in outbox.history(message_id)]
            assert rows[0] == (1, "a@x.example", "delivered")
    async with sender_for(server) as sender:
        with Outbox(tmp_path / "out.db", sender, fake_clock) as outbox:
            (run,) = await outbox.run_due()
            assert [r.recipient for r in run.report] == ["b@x.example"]
            assert outbox.pending() == []
    assert received_by(server, "a@x.example") == 1
    assert received_by(server, "b@x.example") == 1


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
def test_outbox_on_a_broken_file_leaves_no_handle_open(tmp_path: Path) -> None:
    """Opening a file that is not a database raises and closes the file again."""
    path = tmp_path / "not-a-database.db"
    path.write_bytes(b"this is not SQLite " * 400)
    sender = Sender("127.0.0.1", free_port(), start_tls=False)  # never used: nothing is sent
    with pytest.raises(sqlite3.DatabaseError):
        Outbox(path, sender)
    handles = [fd for fd in Path("/proc/self/fd").iterdir() if _points_at(fd, path)]
    assert handles == []


def _points_at(fd: Path, path: Path) -> bool:
    try:
        return Path(os.readlink(fd)) == path
    except OSError:
        return False


async def test_message_whose_recipients_all_finished_is_closed_on_reopen(
    server: ScriptedSMTPServer, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """A message whose recipients were all final at a kill is finished on reopen, not stranded."""
    path = tmp_path / "out.db"
    async with sender_for(server) as sender:
        with Outbox(path, sender, fake_clock) as outbox:
            message_id = await outbox.put(make_message("a@x.example"))
        # What a kill in that window leaves on disk (the per-verdict commit only).
        with sqlite3.connect(path) as db:
            db.execute(
                "UPDATE recipients SET state = 'delivered' WHERE message_id = ?", (message_id,)
            )
        db.close()
        with Outbox(path, sender, fake_clock) as outbox:
            assert outbox.pending() == []
            (dead,) = outbox.dead()
            assert dead.id == message_id
            assert await outbox.run_due() == []
    assert server.messages == []


async def test_international_address_header_survives_the_queue(
    server: ScriptedSMTPServer, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """A non-ASCII To header goes out as a direct send puts it (UTF-8), not as an encoded-word."""
    message = make_message("jürgen@x.example", subject="Grüße")
    async with sender_for(server) as sender:
        await sender.send(message)
        with Outbox(tmp_path / "out.db", sender, fake_clock) as outbox:
            await outbox.put(message)
            (run,) = await outbox.run_due()
    assert run.report.delivered == ["jürgen@x.example"]
    direct, queued = (
        [line for line in m.raw.split(b"\r\n") if line.startswith((b"To:", b"Subject:"))]
        for m in server.messages
    )
    assert queued == direct
    assert b"To: j\xc3\xbcrgen@x.example" in queued


async def test_non_ascii_subject_to_an_ascii_address_stays_encoded(
    server: ScriptedSMTPServer, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """Without SMTPUTF8 a queued message's non-ASCII Subject goes out RFC 2047-encoded."""
    message = make_message("bob@x.example", subject="Grüße")
    async with sender_for(server) as sender:
        await sender.send(message)
        with Outbox(tmp_path / "out.db", sender, fake_clock) as outbox:
            await outbox.put(message)
            await outbox.run_due()
    direct, queued = (
        [line for line in m.raw.split(b"\r\n") if line.startswith(b"Subject:")]
        for m in server.messages
    )
    assert queued == direct
    assert queued[0].isascii()
