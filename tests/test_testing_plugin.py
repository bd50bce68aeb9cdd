"""The pytest plugin, run through pytester: fixtures, markers, clean shutdown, xdist, examples."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
STRICT = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--strict-markers")

SEND_ONE = """
import smtplib

def send(server, to="ann@example.com", subject="hi"):
    with smtplib.SMTP(server.hostname, server.port, local_hostname="c.test") as client:
        return client.sendmail("app@example.org", [to], f"Subject: {subject}\\r\\n\\r\\nx\\r\\n")
"""


@pytest.fixture(autouse=True)
def strict_inner_config(pytester: pytest.Pytester) -> None:
    """The inner runs do not see the project's configuration: ask for the same strictness."""
    pytester.makeini(
        """
        [pytest]
        asyncio_default_fixture_loop_scope = function
        filterwarnings = error
        """
    )


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ScriptedSMTPServer"]


def test_fixture_is_there_without_a_conftest(pytester: pytest.Pytester) -> None:
    """smtp_server comes from the installed entry point and accepts mail by default."""
    pytester.makepyfile(
        SEND_ONE
        + """
def test_send(smtp_server):
    assert send(smtp_server) == {}
    [mail] = smtp_server.messages
    assert mail["Subject"] == "hi"
"""
    )
    result = pytester.runpytest(*STRICT)
    result.assert_outcomes(passed=1)


def test_each_test_gets_a_fresh_server(pytester: pytest.Pytester) -> None:
    """Two tests see two servers: different ports, no messages carried over."""
    pytester.makepyfile(
        SEND_ONE
        + """
import smtplib
import pytest

PORTS = []

def test_one(smtp_server):
    PORTS.append(smtp_server.port)
    smtp_server.on("RCPT", "550 5.1.1 no")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(smtp_server)
    assert len(smtp_server.sessions) == 1

def test_two(smtp_server):
    PORTS.append(smtp_server.port)
    assert smtp_server.rules == ()
    assert smtp_server.sessions == []
    assert send(smtp_server) == {}
    assert len(smtp_server.messages) == 1
    assert PORTS[0] != PORTS[1]
"""
    )
    pytester.runpytest(*STRICT).assert_outcomes(passed=2)


def test_markers_script_the_server_in_written_order(pytester: pytest.Pytester) -> None:
    """smtp_reply/smtp_drop markers script the fixture; the topmost marker is consulted first."""
    pytester.makepyfile(
        SEND_ONE
        + """
import smtplib
import pytest

@pytest.mark.smtp_reply("RCPT", "550 5.1.1 first", recipient="a@example.com")
@pytest.mark.smtp_reply("RCPT", "451 4.7.1 second")
def test_order(smtp_server):
    assert [r.reply for r in smtp_server.rules] == ["550 5.1.1 first", "451 4.7.1 second"]
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        send(smtp_server, to="a@example.com")
    assert caught.value.recipients["a@example.com"][0] == 550

@pytest.mark.smtp_drop("MAIL")
def test_drop(smtp_server):
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(smtp_server)

@pytest.mark.smtp_server_options(credentials={"app": "pw"}, require_auth=True)
def test_options(smtp_server):
    with smtplib.SMTP(smtp_server.hostname, smtp_server.port, local_hostname="c.test") as c:
        c.login("app", "pw")
        c.sendmail("app@example.org", ["ann@example.com"], b"Subject: x\\r\\n\\r\\nx\\r\\n")
    assert len(smtp_server.messages) == 1
"""
    )
    pytester.runpytest(*STRICT).assert_outcomes(passed=3)


def test_bad_marker_arguments_fail_the_test_with_the_reason(pytester: pytest.Pytester) -> None:
    """A marker with a bad stage errors the test with the scripting message."""
    pytester.makepyfile(
        """
import pytest

@pytest.mark.smtp_reply("QUIT", "221 bye")
def test_bad(smtp_server):
    pass
"""
    )
    result = pytester.runpytest(*STRICT)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*Unknown SMTP stage 'QUIT'*"])


def test_server_stops_cleanly_when_the_test_fails(pytester: pytest.Pytester) -> None:
    """A failing test still stops its server: the port is closed, no thread is left, no error."""
    port_file = pytester.path / "port.txt"
    pytester.makepyfile(
        f"""
import pathlib
import smtplib
import pytest

@pytest.fixture
def clients():
    # Set up before smtp_server, so torn down after it: the server stops with a client on.
    opened = []
    yield opened
    for client in opened:
        client.close()

def test_fails(clients, smtp_server):
    client = smtplib.SMTP(smtp_server.hostname, smtp_server.port, local_hostname="c.test")
    clients.append(client)
    client.ehlo()
    pathlib.Path({str(port_file)!r}).write_text(str(smtp_server.port))
    assert False, "the test fails on purpose"
"""
    )
    before = len(server_threads())
    result = pytester.runpytest(*STRICT)
    result.assert_outcomes(failed=1)
    assert len(server_threads()) == before
    port = int(port_file.read_text())
    with pytest.raises(OSError):  # noqa: PT011 - refused is the point
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_fake_clock_fixture(pytester: pytest.Pytester) -> None:
    """fake_clock is a fresh FakeClock per test."""
    pytester.makepyfile(
        """
from datetime import datetime, timezone

def test_a(fake_clock):
    fake_clock.advance(60)
    assert fake_clock() == datetime(2024, 1, 1, 0, 1, tzinfo=timezone.utc)

def test_b(fake_clock):
    assert fake_clock() == datetime(2024, 1, 1, tzinfo=timezone.utc)
"""
    )
    pytester.runpytest(*STRICT).assert_outcomes(passed=2)


def test_xdist_workers_get_separate_servers(pytester: pytest.Pytester) -> None:
    """Under pytest-xdist each test's server has its own port and sees only its own mail."""
    pytester.makepyfile(
        SEND_ONE
        + """
import os
import pytest

@pytest.mark.parametrize("n", range(6))
def test_isolated(smtp_server, n, tmp_path_factory):
    send(smtp_server, subject=f"mail {n}")
    assert [m["Subject"] for m in smtp_server.messages] == [f"mail {n}"]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    out = tmp_path_factory.getbasetemp().parent.parent / "ports"
    out.mkdir(exist_ok=True)
    (out / f"{n}.txt").write_text(f"{worker} {smtp_server.port}")
"""
    )
    result = pytester.runpytest_subprocess(*STRICT, "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=6)
    records = [p.read_text().split() for p in pytester.path.rglob("ports/*.txt")]
    assert len(records) == 6
    # Both workers ran tests at once, each test on its own server (checked inside).
    assert {worker for worker, _ in records} == {"gw0", "gw1"}


def test_example_tests_pass(pytester: pytest.Pytester) -> None:
    """The documented examples (smtplib and aiosmtplib) run green."""
    for path in ("signup.py", "test_signup_smtplib.py", "test_signup_aiosmtplib.py"):
        pytester.path.joinpath(path).write_text(EXAMPLES.joinpath(path).read_text())
    result = pytester.runpytest(*STRICT)
    result.assert_outcomes(passed=11)


def test_server_errors_fail_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    """An exception inside the server (here a raising predicate) is reported, not hidden."""
    pytester.makepyfile(
        SEND_ONE
        + """
import smtplib
import pytest

def broken(address):
    raise LookupError("predicate broke")

def test_broken_predicate(smtp_server):
    smtp_server.on("RCPT", "550 5.1.1 no", recipient=broken)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(smtp_server)
"""
    )
    result = pytester.runpytest(*STRICT)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*hit errors while answering: LookupError: predicate broke*"])
