"""The ``smtpcodes`` command line: classify replies, explain codes, list tables.

Area commands (``http``, ``bounces``, ``logs``) live in their own modules and
register here through ``register(subparsers)``. Bad input ends in one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

from .classifier import Classifier, normalize_stage
from .errors import TableError
from .tables import CodeEntry
from .verdict import Verdict

__all__ = [
    "CliError",
    "bounded_lines",
    "classifier_from_args",
    "main",
    "printable",
    "shorten",
    "split_replies",
]

# Modules that add subcommands; a module that is not installed is skipped.
_COMMAND_MODULES = ("smtpcodes.apis.cli", "smtpcodes.bounces.cli")
_REPLY_LINE = re.compile(r"\s{0,8}([2-5][0-9][0-9])([ -]|$)")


class CliError(Exception):
    """Bad input on the command line: printed as one line, exit status 2."""


#: Characters of one input line that ``classify`` reads; the rest of the line is skipped.
MAX_LINE_CHARS = 65_536


def printable(text: str) -> str:
    """``text`` with lone surrogates (undecodable input bytes) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return text
    try:
        # Bytes that Python decoded with surrogateescape: back to bytes, then one
        # U+FFFD for each byte that is not UTF-8.
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogatepass")
    return data.decode("utf-8", "replace")


def bounded_lines(stream: TextIO, limit: int = MAX_LINE_CHARS) -> Iterator[str]:
    """The stream's lines, each cut at ``limit`` characters (memory stays bounded)."""
    while True:
        line = stream.readline(limit)
        if not line:
            return
        if len(line) >= limit and not line.endswith("\n"):
            # Skip the rest of an over-long line, a piece at a time.
            rest = stream.readline(limit)
            while rest and not rest.endswith("\n"):
                rest = stream.readline(limit)
        yield line


def shorten(text: str, limit: int = 60) -> str:
    """``repr`` of ``text``, cut to ``limit`` characters, for error messages."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... ({len(text)} characters)"


def split_replies(lines: Iterable[str]) -> Iterator[str]:
    """Group input lines into replies, keeping multi-line replies together.

    A line ``550-...`` continues until the line with the same code and a space
    (RFC 5321 §4.2.1); a blank line ends a reply; any other line is a reply of
    its own (a one-line reply, or text without a code).
    """
    group: list[str] = []
    open_code: str | None = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.strip():
            if group:
                yield "\n".join(group)
                group, open_code = [], None
            continue
        m = _REPLY_LINE.match(line)
        if open_code is not None:
            group.append(line)
            if m is not None and m[1] == open_code and m[2] != "-":
                yield "\n".join(group)
                group, open_code = [], None
            continue
        if m is not None and m[2] == "-":
            group, open_code = [line], m[1]
            continue
        yield line
    if group:
        yield "\n".join(group)


def classifier_from_args(args: argparse.Namespace) -> Classifier:
    """The classifier the ``--overlay`` options ask for (the default one without any)."""
    overlays = getattr(args, "overlay", None) or []
    if not overlays:
        return Classifier.default()
    try:
        return Classifier.from_paths(*overlays)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def format_verdict(label: str, verdict: Verdict) -> str:
    """A verdict as a few aligned lines for people."""
    window = verdict.retry_after
    rows = [
        ("outcome", verdict.outcome.value),
        ("category", verdict.category.value),
        ("retry", _yes(verdict.retry) + (f", in {_span(window.as_seconds())}" if window else "")),
        ("suppress", _yes(verdict.suppress)),
        ("scope", verdict.scope.value),
    ]
    if verdict.delivery_unknown:
        rows.append(("delivery", "unknown: the message may have been accepted"))
    rows.append(("rule", verdict.rule or "(none)"))
    rows.append(("action", verdict.action))
    head = " ".join(label.split())
    if len(head) > 160:
        head = head[:157] + "..."
    return head + "\n" + "\n".join(f"  {name:<9} {value}" for name, value in rows)


def _duration(seconds: float) -> str:
    """``90`` -> ``1 min 30 s``; ``21600`` -> ``6 h``."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
        f"{secs} s" if secs else "",
    ]
    return " ".join(p for p in parts if p) or "0 s"


def _span(window: tuple[float, float]) -> str:
    low, high = window
    return _duration(low) if low == high else f"{_duration(low)} to {_duration(high)}"


def _cmd_classify(args: argparse.Namespace) -> int:
    classifier = classifier_from_args(args)
    try:
        stage = normalize_stage(args.stage)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    replies: Iterable[str]
    if args.reply:
        replies = args.reply
    else:
        if sys.stdin is None or sys.stdin.isatty():
            raise CliError("give one or more replies as arguments, or pipe them on standard input")
        replies = split_replies(bounded_lines(sys.stdin))
    out: TextIO = sys.stdout
    first = True
    for raw in replies:
        # Bytes that were not UTF-8 (arguments, stdin) arrive as lone surrogates;
        # they are printed as U+FFFD so that the output is always valid UTF-8.
        reply = printable(raw)
        verdict = classifier.classify(reply, stage=stage)
        if args.json:
            record = verdict.as_dict()
            record["reply"] = reply
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            if not first:
                out.write("\n")
            out.write(format_verdict(reply, verdict) + "\n")
        first = False
    return 0


def _entry_lines(kind: str, entry: CodeEntry) -> list[str]:
    lines = [f"{kind} {entry.id}: {entry.title}" if entry.title else f"{kind} {entry.id}"]
    lines.append(f"  category  {entry.category.value}")
    if entry.transient_category is not None:
        lines.append(f"  as 4xx    {entry.transient_category.value}")
    for stage, category in entry.stage.items():
        lines.append(f"  at {stage:<6} {category.value}")
    if entry.retry is not None:
        lines.append(f"  retry     {_yes(entry.retry)}")
    if entry.suppress is not None:
        lines.append(f"  suppress  {_yes(entry.suppress)}")
    if entry.retry_after is not None:
        lines.append(f"  window    {_span(entry.retry_after.as_seconds())}")
    if entry.action:
        lines.append(f"  action    {entry.action}")
    if entry.reference:
        lines.append(f"  source    {entry.reference}")
    return lines


def _cmd_explain(args: argparse.Namespace) -> int:
    classifier = classifier_from_args(args)
    code = " ".join(args.code)
    try:
        found = classifier.explain(code)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if not found:
        raise CliError(f"the tables say nothing about {shorten(code)}")
    if args.json:
        payload = [
            {
                "kind": kind,
                "id": entry.id,
                "title": entry.title,
                "category": entry.category.value,
                "transient_category": entry.transient_category.value
                if entry.transient_category
                else None,
                "stage": {k: v.value for k, v in entry.stage.items()},
                "retry": entry.retry,
                "suppress": entry.suppress,
                "retry_after": list(entry.retry_after.as_seconds()) if entry.retry_after else None,
                "action": entry.action,
                "reference": entry.reference,
            }
            for kind, entry in found
        ]
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return 0
    blocks = ["\n".join(_entry_lines(kind, entry)) for kind, entry in found]
    sys.stdout.write("\n\n".join(blocks) + "\n")
    return 0


def _cmd_codes(args: argparse.Namespace) -> int:
    tables = classifier_from_args(args).tables
    out = sys.stdout
    kinds = [args.table] if args.table else ["categories", "basic", "enhanced", "pairs", "rules"]
    for kind in kinds:
        if kind == "categories":
            out.write(f"# categories ({len(tables.categories)})\n")
            for category, policy in tables.categories.items():
                out.write(f"{category.value:<22} scope={policy.scope.value:<10} {policy.action}\n")
        elif kind == "basic":
            out.write(f"# basic reply codes ({len(tables.basic)})\n")
            for code in sorted(tables.basic):
                entry = tables.basic[code]
                out.write(f"{code}  {entry.category.value:<20} {entry.title}\n")
        elif kind == "enhanced":
            out.write(f"# enhanced status codes ({len(tables.enhanced)})\n")
            for key in sorted(tables.enhanced, key=_enhanced_sort_key):
                entry = tables.enhanced[key]
                out.write(f"{key:<9} {entry.category.value:<20} {entry.title}\n")
        elif kind == "pairs":
            out.write(f"# code pairs ({len(tables.pairs)})\n")
            for (code, enh), entry in sorted(tables.pairs.items()):
                out.write(f"{code} {enh:<7} {entry.category.value:<20} {entry.title}\n")
        elif kind == "rules":
            out.write(f"# text rules ({len(tables.rules)})\n")
            for rule in tables.rules.rules:
                out.write(
                    f"{rule.id:<48} {rule.category.value:<20} {rule.comment.splitlines()[0]}\n"
                )
        out.write("\n")
    return 0


def _enhanced_sort_key(key: str) -> tuple[int, ...]:
    head, subject, detail = key.split(".")
    return (0 if head == "X" else int(head), int(subject), int(detail))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with every installed area's subcommands."""
    parser = argparse.ArgumentParser(
        prog="smtpcodes",
        description="Turn SMTP replies, bounces and e-mail API errors into verdicts.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    overlay = argparse.ArgumentParser(add_help=False)
    overlay.add_argument(
        "--overlay",
        action="append",
        metavar="PATH",
        help="a YAML file or folder laid over the default tables (repeatable)",
    )

    p = sub.add_parser(
        "classify",
        parents=[overlay],
        help="classify SMTP replies",
        description="Classify SMTP replies given as arguments or on standard input "
        "(one per line; multi-line replies are kept together).",
    )
    p.add_argument("reply", nargs="*", help="reply text, e.g. '550 5.1.1 User unknown'")
    p.add_argument("--stage", help="the SMTP command the reply answered (RCPT, MAIL, DATA, ...)")
    p.add_argument("--json", action="store_true", help="one JSON object per reply")
    p.set_defaults(func=_cmd_classify)

    p = sub.add_parser(
        "explain",
        parents=[overlay],
        help="show what the tables say about a code",
        description="Show the table entries for a code: 421, 5.7.26, X.1.1 or '421 4.7.0'.",
    )
    p.add_argument("code", nargs="+", help="the code")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_explain)

    p = sub.add_parser("codes", parents=[overlay], help="list the tables")
    p.add_argument(
        "table",
        nargs="?",
        choices=["categories", "basic", "enhanced", "pairs", "rules"],
        help="only this table",
    )
    p.set_defaults(func=_cmd_codes)

    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("smtpcodes")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 a command's own failure, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except CliError as exc:
        print(f"smtpcodes: error: {exc}", file=sys.stderr)
        return 2
    except TableError as exc:
        print(f"smtpcodes: error: broken table: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        if isinstance(exc, BrokenPipeError):
            return 0
        print(f"smtpcodes: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug of ours: still one line, never a traceback
        print(f"smtpcodes: error: internal error ({type(exc).__name__}): {exc}", file=sys.stderr)
        return 70
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
