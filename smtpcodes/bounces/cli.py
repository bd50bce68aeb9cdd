"""``smtpcodes bounces`` and ``smtpcodes logs``: scan mailboxes and MTA logs.

``bounces PATH...`` reads ``.eml`` files, mbox files and Maildirs and prints
one row per recipient, then a summary (by category, by recipient domain, the
rules that fired most and the replies that fell to ``unknown``). ``logs
FILE...`` does the same for Postfix, Exim and Sendmail log lines. Messages
that are not bounces, or cannot be read, are counted and listed, never fatal.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .logs import LogRecord, read_log
from .readers import read_bounces
from .summary import ScanSummary

if TYPE_CHECKING:
    from ..classifier import Classifier

__all__ = ["register", "run_bounces", "run_logs"]

_COLUMNS = (
    "source",
    "recipient",
    "kind",
    "action",
    "status",
    "status_inferred",
    "code",
    "category",
    "suppress",
    "retry",
    "diagnostic",
)
# Inputs at least this large (bytes, all paths together) get a progress bar on a terminal.
_PROGRESS_BYTES = 20 * 1024 * 1024


def register(subparsers: Any) -> None:
    """Add the ``bounces`` and ``logs`` subcommands to the main parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="per-recipient rows as an aligned table (default), JSON or CSV",
    )
    common.add_argument(
        "--overlay",
        action="append",
        metavar="PATH",
        help="a YAML file or folder laid over the default tables (repeatable)",
    )
    common.add_argument(
        "--no-progress", action="store_true", help="never draw a progress bar on stderr"
    )
    p = subparsers.add_parser(
        "bounces",
        parents=[common],
        help="classify bounces in .eml files, mboxes, Maildirs",
        description="Read bounce messages (an .eml file, an mbox file or a Maildir per PATH), "
        "print one row per recipient and a summary.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="an .eml file, an mbox or a Maildir")
    p.set_defaults(func=run_bounces)
    p = subparsers.add_parser(
        "logs",
        parents=[common],
        help="classify delivery results in MTA logs",
        description="Read Postfix, Exim and Sendmail log files, print one row per failed, "
        "deferred or delivered recipient and a summary.",
    )
    p.add_argument("paths", nargs="+", metavar="FILE", help="a mail log, e.g. /var/log/mail.log")
    p.set_defaults(func=run_logs)


def _cli_error(message: str) -> Exception:
    from ..cli import CliError

    return CliError(message)


def _classifier(args: argparse.Namespace) -> Classifier:
    from ..cli import classifier_from_args

    return classifier_from_args(args)


def _check_paths(paths: list[str]) -> int:
    total = 0
    for path in paths:
        if not os.path.exists(path):
            raise _cli_error(f"{path!r} does not exist")
        if os.path.isfile(path):
            total += os.path.getsize(path)
        else:
            for folder, _dirs, files in os.walk(path):
                for name in files:
                    try:
                        total += os.path.getsize(os.path.join(folder, name))
                    except OSError:
                        continue
    return total


class _Progress:
    """A one-line progress indicator on stderr, drawn at most a few times a second."""

    def __init__(self, enabled: bool, stream: TextIO) -> None:
        self.enabled = enabled
        self.stream = stream
        self.last = 0.0

    def update(self, done: int, label: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        self.stream.write(f"\r{done} {label} read...")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 40 + "\r")
            self.stream.flush()


class _Output:
    """Writes rows as a table, JSON or CSV, streaming."""

    def __init__(self, fmt: str, stream: TextIO) -> None:
        self.fmt = fmt
        self.stream = stream
        self.count = 0
        self.writer: Any = None
        if fmt == "csv":
            self.writer = csv.writer(stream)
            self.writer.writerow(_COLUMNS)
        elif fmt == "json":
            stream.write('{"records": [')
        else:
            stream.write(
                f"{'recipient':<40} {'kind':<9} {'status':<8} {'code':<4} {'category':<20} "
                f"{'suppress':<8} source\n"
            )

    def row(self, row: dict[str, Any]) -> None:
        if self.fmt == "csv":
            self.writer.writerow([_cell(row.get(c)) for c in _COLUMNS])
        elif self.fmt == "json":
            self.stream.write(("," if self.count else "") + "\n  " + json.dumps(row))
        else:
            self.stream.write(
                f"{row['recipient'][:40]:<40} {row['kind']:<9} {row['status'] or '-':<8} "
                f"{row['code'] or '-'!s:<4} {row['category']:<20} "
                f"{'yes' if row['suppress'] else 'no':<8} {row['source']}\n"
            )
        self.count += 1

    def finish(self, summary: ScanSummary, unit: str) -> None:
        if self.fmt == "json":
            self.stream.write('\n], "summary": ' + json.dumps(summary.as_dict()) + "}\n")
        elif self.fmt == "csv":
            # CSV holds rows only; the summary goes where people read it.
            sys.stderr.write(summary.render(unit=unit) + "\n")
        else:
            self.stream.write("\n" + summary.render(unit=unit) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def run_bounces(args: argparse.Namespace) -> int:
    """Handler of ``smtpcodes bounces``."""
    paths = list(args.paths)
    size = _check_paths(paths)
    classifier = _classifier(args)
    stream: TextIO = getattr(args, "stdout", None) or sys.stdout
    progress = _Progress(
        not args.no_progress and size >= _PROGRESS_BYTES and sys.stderr.isatty(), sys.stderr
    )
    output = _Output(args.format, stream)
    summary = ScanSummary()
    for path in paths:
        for report in read_bounces(path, classifier=classifier):
            summary.messages += 1
            progress.update(summary.messages, "messages")
            source = report.source or path
            if not report.records:
                if report.problems:
                    summary.skip(source, unreadable=True, reason=report.problems[0])
                else:
                    summary.skip(source, unreadable=False, reason=report.subject or "")
                continue
            for problem in report.problems:
                summary.note_partial(source, problem)
            for record in report.records:
                reply_text = str(record.reply) if record.reply else record.diagnostic
                summary.add(record.recipient, record.kind, record.verdict, reply_text)
                output.row(
                    {
                        "source": Path(source).name if args.format == "table" else source,
                        "recipient": record.recipient,
                        "kind": record.kind,
                        "action": record.action,
                        "status": str(record.status) if record.status else None,
                        "status_inferred": record.status_inferred,
                        "code": record.reply.code if record.reply else None,
                        "category": record.verdict.category.value,
                        "suppress": record.verdict.suppress,
                        "retry": record.verdict.retry,
                        "diagnostic": record.diagnostic,
                        "format": record.format,
                    }
                )
    progress.close()
    output.finish(summary, "messages")
    return 0


def _log_records(
    paths: list[str], classifier: Classifier, summary: ScanSummary
) -> Iterator[LogRecord]:
    """The records of every log; a log that cannot be read is counted as unreadable."""
    for path in paths:
        records = read_log(path, classifier=classifier)
        while True:
            # Only reading is guarded: an OSError of the caller (a closed stdout) must go up.
            try:
                record = next(records)
            except StopIteration:
                break
            except OSError as exc:
                summary.skip(
                    path, unreadable=True, reason=f"the file could not be read: {_reason(exc)}"
                )
                break
            yield record


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def run_logs(args: argparse.Namespace) -> int:
    """Handler of ``smtpcodes logs``."""
    paths = list(args.paths)
    size = _check_paths(paths)
    for path in paths:
        if os.path.isdir(path):
            raise _cli_error(f"{path!r} is a directory; give log files")
    classifier = _classifier(args)
    stream: TextIO = getattr(args, "stdout", None) or sys.stdout
    progress = _Progress(
        not args.no_progress and size >= _PROGRESS_BYTES and sys.stderr.isatty(), sys.stderr
    )
    output = _Output(args.format, stream)
    summary = ScanSummary()
    for record in _log_records(paths, classifier, summary):
        summary.messages += 1
        progress.update(summary.messages, "results")
        reply_text = str(record.reply) if record.reply else record.diagnostic
        summary.add(record.recipient, record.kind, record.verdict, reply_text)
        source = f"{record.source}:{record.line_number}"
        output.row(
            {
                "source": source
                if args.format != "table"
                else f"{Path(record.source or '').name}:{record.line_number}",
                "recipient": record.recipient,
                "kind": record.kind,
                "action": record.action,
                "status": str(record.status) if record.status else None,
                "code": record.reply.code if record.reply else None,
                "category": record.verdict.category.value,
                "suppress": record.verdict.suppress,
                "retry": record.verdict.retry,
                "diagnostic": record.diagnostic,
                "mta": record.mta,
            }
        )
    progress.close()
    output.finish(summary, "delivery results")
    return 0
