"""The real bounces of the Sisimai "set-of-emails" collection, against Sisimai's own findings.

The samples and ``facts.jsonl`` (what Sisimai 4.25.15 extracts) live in
``../shared/bounces/`` beside the repository; the tests skip when it is absent.
Sisimai writes a private "pseudo status" (``5.0.9xx``) when a report carries
no status; those are not RFC 3463 codes and are left out of status agreement.
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from smtpcodes.bounces.parse import parse_bounce
from smtpcodes.bounces.report import BounceReport

SHARED = Path(__file__).resolve().parents[2] / "shared" / "bounces"
REAL = SHARED / "real"
FACTS = SHARED / "facts.jsonl"

pytestmark = pytest.mark.skipif(
    not FACTS.is_file(), reason="shared/bounces is not beside the repository"
)


@cache
def _facts() -> dict[str, list[dict[str, Any]]]:
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in FACTS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            by_file[row["file"]].append(row)
    return dict(by_file)


@cache
def _report(name: str) -> BounceReport:
    return parse_bounce(REAL / name)


def _is_pseudo(status: str) -> bool:
    return not status or ".0.9" in status


def _matches() -> tuple[int, int, int, int]:
    """(facts, recipients found, statuses comparable, statuses equal)."""
    total = found = comparable = equal = 0
    for name, rows in _facts().items():
        records = {r.recipient.lower(): r for r in _report(name).records}
        for row in rows:
            total += 1
            record = records.get(row["recipient"].lower())
            if record is None:
                continue
            found += 1
            if not _is_pseudo(row["deliverystatus"]):
                comparable += 1
                equal += str(record.status) == row["deliverystatus"]
    return total, found, comparable, equal


def test_recall_of_reference_recipients_is_at_least_90_percent() -> None:
    """At least 90 % of the (file, recipient) pairs Sisimai finds are found here too."""
    total, found, _, _ = _matches()
    assert found / total >= 0.90, f"{found}/{total}"


def test_status_agreement_is_at_least_85_percent() -> None:
    """Where both readers give an RFC 3463 status, they agree at least 85 % of the time."""
    _, _, comparable, equal = _matches()
    assert equal / comparable >= 0.85, f"{equal}/{comparable}"


def test_every_real_message_parses_without_error() -> None:
    """All 334 messages (bounces and not) give a report; none raises."""
    names = sorted(p.name for p in REAL.glob("*.eml"))
    assert len(names) > 300
    for name in names:
        report = _report(name)
        for record in report.records:
            assert record.kind in ("bounce", "delay", "delivered", "vacation", "complaint")


def test_messages_sisimai_calls_not_bounces_stay_unread() -> None:
    """The collection's non-bounce message gives no records."""
    assert _report("is-not-bounce-01.eml").records == ()


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("arf-01.eml", "complaint"),
        ("arf-17.eml", "complaint"),
        ("rfc3834-01.eml", "vacation"),
        ("rfc3834-03.eml", "vacation"),
    ],
)
def test_complaints_and_auto_replies_get_their_kind(name: str, kind: str) -> None:
    """ARF reports are complaints and RFC 3834 auto-replies vacations, as in the reference."""
    records = _report(name).records
    assert records
    assert {r.kind for r in records} == {kind}
    assert {r.recipient for r in records} >= {row["recipient"] for row in _facts()[name]}


# Where this reader and the reference disagree, after reading the message: who is right.
DISAGREEMENTS = [
    # The DSN's Final-Recipient is kijitora@neko.example.org; the human text names
    # kijitora@neko.example.com (the address before forwarding). The DSN field is the
    # address that failed, so this reader reports it; the reference read the text.
    ("lhost-domino-03.eml", "recipient", "kijitora@neko.example.org", "ours"),
    # Status: 4.4.7 and "550 4.4.7 QUEUE.Expired; message expired": the message expired in
    # the queue. The reference says 4.4.1 (no answer from host), which nothing in it says.
    ("lhost-exchange2007-05.eml", "status", "4.4.7", "ours"),
    # Status: 5.2.1 with "550 5.2.1 ... User Unknown" for this recipient; the reference's 5.2.2
    # (mailbox full) belongs to another recipient of the same report.
    ("lhost-postfix-13.eml", "status", "5.2.1", "ours"),
    # "Status: 4.4.7" but "Diagnostic-Code: 452 4.4.5 Insufficient disk space": the remote
    # server's own code (4.4.5, a full disk) says why; the reference agrees with this reader.
    # Kept here because the two fields of the message disagree.
    ("lhost-sendmail-39.eml", "status", "4.4.5", "ours"),
]


@pytest.mark.parametrize(("name", "field", "ours", "right"), DISAGREEMENTS)
def test_known_disagreements_with_the_reference(
    name: str, field: str, ours: str, right: str
) -> None:
    """Each listed disagreement is still what this reader says (the comment says who is right)."""
    records = _report(name).records
    assert records
    if field == "recipient":
        assert ours in {r.recipient for r in records}
    else:
        assert ours in {str(r.status) for r in records}
    assert right in ("ours", "reference")


def test_redacted_arf_report_is_a_complaint_without_an_address() -> None:
    """An ARF report whose original has no usable To still reports the complaint.

    The reference invents a placeholder address; this reader leaves the recipient empty.
    """
    records = _report("arf-11.eml").records
    assert [(r.kind, r.recipient) for r in records] == [("complaint", "")]
