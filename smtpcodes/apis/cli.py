"""``smtpcodes http``: classify an e-mail API's HTTP response from the command line.

    smtpcodes http 429 '{"error": "rate_limit_exceeded"}' --provider migosmtp \\
        --header 'Retry-After: 30' --json

BODY may be ``-`` (standard input) or ``@file``. Registered by the lead's
:mod:`smtpcodes.cli` through :func:`register`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from ..errors import TableError
from .classify import HttpClassifier

__all__ = ["register"]

_MAX_BODY_BYTES = 1024 * 1024


def _fail(message: str) -> Exception:
    # Imported here: smtpcodes.cli imports this module while building its parser.
    from ..cli import CliError

    return CliError(message)


def _read_body(arg: str | None) -> bytes | None:
    if arg is None:
        return None
    if arg == "-":
        return sys.stdin.buffer.read(_MAX_BODY_BYTES)
    if arg.startswith("@"):
        if not arg[1:]:
            raise _fail("BODY '@' names no file; give a file name after @, e.g. @body.json")
        try:
            with Path(arg[1:]).open("rb") as handle:
                return handle.read(_MAX_BODY_BYTES)
        except OSError as exc:
            raise _fail(f"cannot read body file {arg[1:]!r}: {exc.strerror}") from None
    return arg.encode("utf-8", errors="surrogateescape")


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _fail(
            f"--now {value!r} is not an ISO 8601 time such as 2026-01-15T22:30:00Z"
        ) from None
    if when.tzinfo is None:
        raise _fail(f"--now {value!r} needs a time zone, e.g. 2026-01-15T22:30:00Z")
    return when


def _classifier(args: argparse.Namespace) -> HttpClassifier:
    overlays = getattr(args, "overlay", None) or []
    try:
        return HttpClassifier.from_paths(*overlays) if overlays else HttpClassifier.default()
    except (FileNotFoundError, TableError) as exc:
        raise _fail(str(exc)) from None


def _cmd_http(args: argparse.Namespace) -> int:
    from ..cli import format_verdict

    text = args.status.strip()
    # int() would also take "4_29" and non-ASCII digits such as "\u0664\u0662\u0669".
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise _fail(f"STATUS must be an HTTP status code such as 429, not {args.status[:40]!r}")
    status = int(text)
    classifier = _classifier(args)
    body = _read_body(args.body)
    try:
        verdict = classifier.classify(
            status,
            body,
            args.header or None,
            args.provider,
            _parse_now(args.now),
            timezone_=args.timezone,
            attempt=args.attempt,
        )
    except (ValueError, TypeError) as exc:
        raise _fail(str(exc)) from None
    if args.json:
        sys.stdout.write(json.dumps(verdict.as_dict(), ensure_ascii=False) + "\n")
        return 0
    api = verdict.api
    label = f"HTTP {status}" + (f" ({api.provider})" if api is not None else "")
    lines = [format_verdict(label, verdict)]
    if api is not None:
        for name, value in (
            ("code", api.error_code),
            ("message", api.message),
            ("request", api.request_id),
        ):
            if value:
                lines.append(f"  {name:<9} {value}")
        for field, message in api.field_errors:
            lines.append(
                f"  {'field':<9} {field}: {message}" if message else f"  {'field':<9} {field}"
            )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _attempt(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        msg = f"must be a whole number from 1 up, not {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return number


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``http`` subcommand to the ``smtpcodes`` parser."""
    p = subparsers.add_parser(
        "http",
        help="classify an e-mail API's HTTP response",
        description="Classify an HTTP response from an e-mail API (status, JSON body, headers) "
        "into a verdict. Without --provider only the status and generic fields are read.",
    )
    p.add_argument("status", metavar="STATUS", help="the HTTP status code, e.g. 429")
    p.add_argument(
        "body",
        metavar="BODY",
        nargs="?",
        help="the response body (JSON or text); '-' reads stdin, @FILE a file",
    )
    p.add_argument(
        "--provider", "-p", help="provider profile: sendgrid, ses, postmark, migosmtp, ..."
    )
    p.add_argument(
        "--header",
        "-H",
        action="append",
        metavar="'NAME: VALUE'",
        help="a response header, e.g. 'Retry-After: 30' (repeatable)",
    )
    p.add_argument("--now", help="when the response arrived (ISO 8601 with zone); default now")
    p.add_argument(
        "--timezone", help="time zone of daily resets (IANA name), overriding the profile"
    )
    p.add_argument(
        "--attempt",
        type=_attempt,
        help="attempts made so far: adds a backoff window when the response gives none",
    )
    p.add_argument(
        "--overlay",
        action="append",
        metavar="PATH",
        help="a provider YAML file or folder laid over the shipped profiles (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print the verdict as one JSON object")
    p.set_defaults(func=_cmd_http)
