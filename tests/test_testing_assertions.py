"""smtpcodes.testing.assert_verdict / verdict_of: picking one recipient's reply."""

from __future__ import annotations

import pytest

from smtpcodes.testing.assertions import assert_verdict, verdict_of

REFUSED = {
    "Bob@x.example": (550, b"5.1.1 The email account that you tried to reach does not exist"),
    "bob@x.example": (452, b"4.2.2 The recipient's mailbox is full"),
}


def test_recipient_is_picked_with_its_local_part_case() -> None:
    """Local parts differing only in case are different mailboxes: each gets its own reply."""
    lower = verdict_of(REFUSED, recipient="bob@x.example")
    upper = verdict_of(REFUSED, recipient="Bob@x.example")
    assert lower.reply is not None
    assert lower.reply.code == 452
    assert upper.reply is not None
    assert upper.reply.code == 550


def test_recipient_domain_case_is_ignored() -> None:
    """The domain's case does not matter when naming the recipient."""
    assert_verdict(REFUSED, recipient="Bob@X.EXAMPLE", category="mailbox_unknown")


def test_unknown_recipient_is_a_value_error() -> None:
    """A recipient the mapping does not name is refused with the names it holds."""
    with pytest.raises(ValueError, match=r"holds no reply for 'carol@x\.example'"):
        verdict_of(REFUSED, recipient="carol@x.example")
