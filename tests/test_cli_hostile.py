"""The command line and its readers under hostile input: never a traceback, nothing lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smtpcodes.bounces.synth import DsnRecipientSpec, make_dsn
from smtpcodes.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# --- smtpcodes http -------------------------------------------------------------------------


def test_http_daily_reset_at_the_end_of_time_is_no_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A daily-quota window computed from a --now at year 9999 gives a verdict, not a crash."""
    status, out, err = run(
        capsys, "http", "429", '{"error": "daily_limit_reached"}', "-p", "migosmtp",
        "--now", "9999-12-31T23:59:59+00:00", "--json",
    )  # fmt: skip
    assert status == 0, err
    record = json.loads(out)
    assert record["category"] == "quota_exceeded"
    assert record["retry"] is True


def test_http_hourly_reset_past_the_calendar_is_no_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An hourly window that would need a date past 9999 in the reset time zone is no crash."""
    status, out, err = run(
        capsys, "http", "429", '{"error": "hourly_limit_reached"}', "-p", "migosmtp",
        "--now", "9999-12-31T23:59:59+00:00", "--timezone", "Pacific/Kiritimati", "--json",
    )  # fmt: skip
    assert status == 0, err
    assert json.loads(out)["category"] == "quota_exceeded"


@pytest.mark.parametrize("status_text", ["\u0664\u0662\u0669", "4_29", "\uff14\uff12\uff19"])
def test_http_status_must_be_ascii_digits(
    capsys: pytest.CaptureFixture[str], status_text: str
) -> None:
    """Arabic-Indic or full-width digits and underscores are not an HTTP status."""
    status, out, err = run(capsys, "http", status_text)
    assert status == 2
    assert out == ""
    assert err.startswith("smtpcodes: error: STATUS must be an HTTP status code")
    assert len(err.strip().splitlines()) == 1


def test_http_status_with_thousands_of_digits_is_a_clean_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 5,000-digit STATUS gets the usual message, not int()'s digit-limit complaint."""
    status, _out, err = run(capsys, "http", "4" * 5000)
    assert status == 2
    assert err.startswith("smtpcodes: error: STATUS must be an HTTP status code")
    assert "limit" not in err


# --- smtpcodes bounces / logs: files that cannot be read -------------------------------------


def _unreadable(path: Path) -> Path:
    """A file that exists but whose reading fails with an OSError, even for root."""
    if os.geteuid() != 0:
        path.write_bytes(b"Subject: x\n\nsecret\n")
        path.chmod(0)
        return path
    mem = Path("/proc/self/mem")
    if not mem.exists():  # pragma: no cover - only Linux has it
        pytest.skip("needs /proc/self/mem to make a file unreadable for root")
    path.symlink_to(mem)
    return path


DSN = make_dsn([DsnRecipientSpec("a@example.com", "550 5.1.1 <a@example.com>: User unknown")])


def test_bounces_counts_an_unreadable_file_and_reads_the_others(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An unreadable file in a folder is listed as unreadable; the scan goes on, JSON is whole."""
    folder = tmp_path / "box"
    folder.mkdir()
    (folder / "1.eml").write_bytes(DSN)
    _unreadable(folder / "2.eml")
    (folder / "3.eml").write_bytes(DSN.replace(b"a@example.com", b"c@example.com"))
    status, out, err = run(capsys, "bounces", str(folder), "--format", "json")
    assert status == 0, err
    document = json.loads(out)
    assert [r["recipient"] for r in document["records"]] == ["a@example.com", "c@example.com"]
    assert document["summary"]["unreadable"] == 1
    assert document["summary"]["messages"] == 3
    assert any("2.eml" in s for s in document["summary"]["unreadable_sources"])


def test_bounces_on_an_unreadable_file_argument_is_counted_not_fatal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A PATH argument that cannot be read is reported in the summary, after the other PATHs."""
    good = tmp_path / "good.eml"
    good.write_bytes(DSN)
    bad = _unreadable(tmp_path / "bad.eml")
    status, out, err = run(capsys, "bounces", str(bad), str(good))
    assert status == 0, err
    assert "a@example.com" in out
    assert "unreadable: 1" in out
    assert "Traceback" not in err


POSTFIX_LINE = (
    "Jan 10 10:00:01 mx postfix/smtp[1]: 4F1A2B3C4D: to=<a@example.com>, relay=x, dsn=5.1.1, "
    "status=bounced (host mx[192.0.2.1] said: 550 5.1.1 <a@example.com>: User unknown (in "
    "reply to RCPT TO command))\n"
)


def test_logs_counts_an_unreadable_log_and_reads_the_others(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An unreadable log file is listed as unreadable; the JSON document stays whole."""
    first = tmp_path / "mail.log"
    first.write_text(POSTFIX_LINE)
    bad = _unreadable(tmp_path / "mail.log.1")
    last = tmp_path / "mail.log.2"
    last.write_text(POSTFIX_LINE.replace("a@example.com", "c@example.com"))
    status, out, err = run(capsys, "logs", str(first), str(bad), str(last), "--format", "json")
    assert status == 0, err
    document = json.loads(out)
    assert [r["recipient"] for r in document["records"]] == ["a@example.com", "c@example.com"]
    assert document["summary"]["unreadable"] == 1
    assert any("mail.log.1" in s for s in document["summary"]["unreadable_sources"])


def test_logs_on_a_directory_fails_before_printing_anything(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A folder among the FILEs is a one-line error and no half-printed table."""
    log = tmp_path / "mail.log"
    log.write_text(POSTFIX_LINE)
    for fmt in ("table", "json", "csv"):
        status, out, err = run(capsys, "logs", str(log), str(tmp_path), "--format", fmt)
        assert status == 2
        assert out == ""
        assert err.startswith("smtpcodes: error: ")
        assert "is a directory" in err
        assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["logs", "bounces"])
@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_output_cut_by_head_is_silent(tmp_path: Path, command: str, fmt: str) -> None:
    """`smtpcodes logs|bounces ... | head -1`: no BrokenPipe message, no traceback."""
    if command == "logs":
        path = tmp_path / "mail.log"
        path.write_text(POSTFIX_LINE * 5_000)
    else:
        path = tmp_path / "box.mbox"
        path.write_bytes(
            b"".join(b"From x Mon Jan  1 00:00:00 2024\n" + DSN + b"\n" for _ in range(1_000))
        )
    script = "import sys; from smtpcodes.cli import main; sys.exit(main(sys.argv[1:]))"
    producer = subprocess.Popen(
        [sys.executable, "-c", script, command, str(path), "--format", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert producer.stdout is not None
    producer.stdout.readline()
    producer.stdout.close()  # what head does after its first line
    _out, err = producer.communicate(timeout=120)
    assert err.decode() == ""
    assert producer.returncode == 0


def test_http_body_at_sign_without_a_file_name(capsys: pytest.CaptureFixture[str]) -> None:
    """BODY '@' names no file: the error says so instead of "'' is a directory"."""
    status, out, err = run(capsys, "http", "429", "@")
    assert status == 2
    assert out == ""
    assert "file name after @" in err
    assert "directory" not in err


@pytest.mark.parametrize("as_mbox", [False, True])
def test_bounces_reads_a_pipe_as_given_by_process_substitution(as_mbox: bool) -> None:
    """`smtpcodes bounces <(zcat box.gz)`: a pipe is read once, its first bytes are not lost."""
    if not Path("/dev/fd").is_dir():  # pragma: no cover - Linux and macOS have it
        pytest.skip("needs /dev/fd")
    data = (b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n" + DSN) if as_mbox else DSN
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)  # well under a pipe's buffer
        os.close(write_end)
        script = "import sys; from smtpcodes.cli import main; sys.exit(main(sys.argv[1:]))"
        done = subprocess.run(
            [sys.executable, "-c", script, "bounces", f"/dev/fd/{read_end}", "--format", "json"],
            pass_fds=(read_end,),
            capture_output=True,
            check=False,
            timeout=120,
        )
    finally:
        os.close(read_end)
    assert done.returncode == 0, done.stderr
    assert [r["recipient"] for r in json.loads(done.stdout)["records"]] == ["a@example.com"]
