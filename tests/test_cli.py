"""Tests for the smtpcodes command line (run in-process and as a real subprocess)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from smtpcodes.cli import main, split_replies


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


class TestClassify:
    def test_readable_output(self, capsys: pytest.CaptureFixture[str]) -> None:
        """classify prints the verdict fields for people."""
        status, out, _ = run(capsys, "classify", "550 5.1.1 <bob@example.org>: User unknown")
        assert status == 0
        assert "mailbox_unknown" in out
        assert "suppress  yes" in out

    def test_json_lines(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--json prints one object per reply with the spec's names."""
        status, out, _ = run(
            capsys, "classify", "--json", "421 4.7.0 Service temporarily unavailable", "250 ok"
        )
        assert status == 0
        records = [json.loads(line) for line in out.splitlines()]
        assert [r["category"] for r in records] == ["server_busy", "delivered"]
        assert records[0]["retry_after"] == [300.0, 900.0]
        assert records[0]["code"] == 421
        assert records[0]["enhanced"] == "4.7.0"
        assert records[1]["retry_after"] is None
        for key in ("outcome", "retry", "suppress", "scope", "delivery_unknown", "rule", "action"):
            assert key in records[0]

    def test_stdin_keeps_multiline_replies(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Replies on stdin: a multi-line reply is one verdict."""
        monkeypatch.setattr(
            sys, "stdin", io.StringIO("550-5.1.1 No such\n550 5.1.1 user\n452 4.2.2 Mailbox full\n")
        )
        status, out, _ = run(capsys, "classify", "--json")
        records = [json.loads(line) for line in out.splitlines()]
        assert status == 0
        assert len(records) == 2
        assert records[0]["reply"] == "550-5.1.1 No such\n550 5.1.1 user"
        assert records[1]["category"] == "mailbox_full"

    def test_stage_option(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--stage passes the SMTP stage to the classifier."""
        _, out, _ = run(capsys, "classify", "--json", "--stage", "RCPT", "552 too many")
        assert json.loads(out)["category"] == "too_many_recipients"

    def test_bad_stage_is_one_line_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A bad --stage is a one-line error and exit 2."""
        status, _, err = run(capsys, "classify", "--stage", "LUNCH", "550 x")
        assert status == 2
        assert err.startswith("smtpcodes: error:")
        assert len(err.strip().splitlines()) == 1

    def test_broken_overlay_is_one_line_error(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A broken overlay names the file and entry in one line, exit 2."""
        path = tmp_path / "bad.yaml"
        path.write_text("rules:\n  - id: x\n    comment: c\n    match: 'a'\n    category: nope\n")
        status, _, err = run(capsys, "classify", "--overlay", str(path), "550 x")
        assert status == 2
        assert "bad.yaml" in err
        assert "rules[0]" in err
        assert "Traceback" not in err


class TestExplainAndCodes:
    def test_explain_enhanced(self, capsys: pytest.CaptureFixture[str]) -> None:
        """explain 5.7.26 shows the registry entry."""
        status, out, _ = run(capsys, "explain", "5.7.26")
        assert status == 0
        assert "X.7.26" in out
        assert "sender_auth" in out

    def test_explain_basic_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        """explain 421 --json gives the basic entry."""
        status, out, _ = run(capsys, "explain", "--json", "421")
        assert status == 0
        assert json.loads(out)[0]["id"] == "basic.421"

    def test_explain_pair(self, capsys: pytest.CaptureFixture[str]) -> None:
        """explain '421 4.7.0' shows the seeds' pair first."""
        _, out, _ = run(capsys, "explain", "421", "4.7.0")
        assert out.splitlines()[0].startswith("pair pair.421.4.7.0")

    @pytest.mark.parametrize("code", ["999", "hello", "5.1"])
    def test_explain_bad_code(self, capsys: pytest.CaptureFixture[str], code: str) -> None:
        """explain with a bad code is a one-line error."""
        status, _, err = run(capsys, "explain", code)
        assert status == 2
        assert "error" in err

    def test_codes_lists_tables(self, capsys: pytest.CaptureFixture[str]) -> None:
        """codes lists every table with counts."""
        status, out, _ = run(capsys, "codes")
        assert status == 0
        for head in (
            "# categories",
            "# basic reply codes",
            "# enhanced status codes",
            "# text rules",
        ):
            assert head in out
        assert "X.7.30" in out


def test_split_replies() -> None:
    """Continuation lines join; blank lines and single lines separate."""
    lines = ["421-4.7.0 a", "421-4.7.0 b", "421 4.7.0 c", "", "codeless text", "250 ok"]
    assert list(split_replies(lines)) == [
        "421-4.7.0 a\n421-4.7.0 b\n421 4.7.0 c",
        "codeless text",
        "250 ok",
    ]


def test_module_entry_point_runs() -> None:
    """python -m smtpcodes runs the CLI in a real process."""
    done = subprocess.run(
        [sys.executable, "-m", "smtpcodes", "classify", "--json", "550 5.1.1 User unknown"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["suppress"] is True


def test_empty_stdin_in_subprocess_prints_nothing() -> None:
    """An empty pipe is an empty stream of replies: no output, exit 0."""
    done = subprocess.run(
        [sys.executable, "-m", "smtpcodes", "classify"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


class TestHostileInput:
    def test_non_utf8_stdin_gives_valid_utf8_json(self) -> None:
        """Undecodable input bytes come out as U+FFFD, so the output is valid UTF-8 JSON."""
        done = subprocess.run(
            [sys.executable, "-m", "smtpcodes", "classify", "--json"],
            input=b"550 5.1.1 caf\xe9 unknown\n",
            capture_output=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        record = json.loads(done.stdout.decode("utf-8"))
        assert record["reply"] == "550 5.1.1 caf\ufffd unknown"

    def test_over_long_lines_are_cut(self) -> None:
        """bounded_lines cuts a line at the limit and skips the rest of it."""
        from smtpcodes.cli import bounded_lines

        stream = io.StringIO("x" * 25 + "\n550 ok\n")
        assert list(bounded_lines(stream, limit=10)) == ["x" * 10, "550 ok\n"]

    def test_internal_error_is_one_line(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An unexpected exception is reported in one line with exit status 70."""
        import smtpcodes.cli as cli

        def boom(_args: object) -> int:
            raise RuntimeError("kaboom")

        monkeypatch.setattr(cli, "_cmd_codes", boom)
        status, _, err = run(capsys, "codes")
        assert status == 70
        assert err.strip() == "smtpcodes: error: internal error (RuntimeError): kaboom"

    def test_explain_does_not_echo_huge_input(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A huge bad argument is shortened in the error message."""
        status, _, err = run(capsys, "explain", "5" * 100_000)
        assert status == 2
        assert len(err) < 300
