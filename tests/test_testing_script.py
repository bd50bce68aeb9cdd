"""The sans-I/O script: reply checking, rule building and which rule answers an event."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpcodes.testing.script import Event, Rule, Script, normalize_reply


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("250 OK", "250 OK"),
        ("250", "250"),
        ("550-5.1.1 one\n550 5.1.1 two", "550-5.1.1 one\r\n550 5.1.1 two"),
        ("550-5.1.1 one\r\n550 5.1.1 two\r\n", "550-5.1.1 one\r\n550 5.1.1 two"),
        ("451-\r\n451 empty first line", "451-\r\n451 empty first line"),
        ("250 text  with  double  spaces ", "250 text  with  double  spaces "),
    ],
)
def test_normalize_reply_keeps_text_and_uses_crlf(given: str, sent: str) -> None:
    """A valid reply keeps every character; only line breaks become CRLF."""
    assert normalize_reply(given) == sent


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("OK", "Line 1 of the scripted reply 'OK' does not start with a three-digit"),
        ("", "Line 1 of the scripted reply '' does not start"),
        ("650 nope", "does not start with a three-digit SMTP reply code"),
        ("2500 OK", "does not start with a three-digit"),
        (
            "550-a\n551 b",
            "Line 2 of the scripted reply has code 551 but the reply started with 550",
        ),
        ("550 a\n550 b", "Line 1 of the scripted reply must start with '550-'"),
        ("550-a\n550-b", "The last line of the scripted reply must use '550 ', not '550-'."),
        ("550 a\rb", "must not contain a bare carriage return"),
    ],
)
def test_normalize_reply_rejects_what_is_not_smtp(given: str, message: str) -> None:
    """A malformed reply is refused with a sentence that names the problem."""
    with pytest.raises(ValueError, match=re.escape(message)):
        normalize_reply(given)


def test_normalize_reply_rejects_bytes() -> None:
    """Bytes are refused with a TypeError: the script is text."""
    with pytest.raises(TypeError, match="must be a str, not bytes"):
        normalize_reply(b"250 OK")  # type: ignore[arg-type]


def test_normalize_reply_bounds_length() -> None:
    """A giant reply is refused instead of being scripted."""
    with pytest.raises(ValueError, match="at most 64000 characters"):
        normalize_reply("250 " + "x" * 70_000)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"stage": "QUIT"}, ValueError, "Unknown SMTP stage 'QUIT'; use one of CONNECT, EHLO"),
        (
            {"stage": "MAIL", "recipient": "a@b"},
            ValueError,
            "A recipient filter cannot apply at MAIL",
        ),
        ({"stage": "EHLO", "sender": "a@b"}, ValueError, "A sender filter cannot apply at EHLO"),
        ({"stage": "RCPT", "times": 0}, ValueError, "times= must be a whole number of at least 1"),
        ({"stage": "RCPT", "times": True}, ValueError, "times= must be a whole number"),
        ({"stage": "RCPT", "after": -1}, ValueError, "after= must be a whole number of at least 0"),
        ({"stage": "RCPT", "delay": -0.5}, ValueError, "delay= must be a finite number"),
        ({"stage": "RCPT", "delay": float("nan")}, ValueError, "delay= must be a finite number"),
        ({"stage": "RCPT", "recipient": 42}, TypeError, "recipient= must be an address"),
    ],
)
def test_rule_build_rejects_bad_arguments(
    arguments: dict[str, object], error: type[Exception], message: str
) -> None:
    """on()/drop() arguments that cannot work are refused at scripting time."""
    with pytest.raises(error, match=re.escape(message)):
        Rule.build(reply="250 OK", **arguments)  # type: ignore[arg-type]


def test_rule_build_accepts_helo_and_lowercase_as_ehlo() -> None:
    """'helo' and 'ehlo' both name the EHLO stage."""
    assert Rule.build("helo", "250 hi").stage == "EHLO"
    assert Rule.build("rcpt", "250 ok").stage == "RCPT"


def test_drop_rule_has_no_reply() -> None:
    """A drop rule carries no reply text."""
    rule = Rule.build("EOM", None, drop=True)
    assert rule.drop
    assert rule.reply is None


def rcpt(address: str) -> Event:
    return Event("RCPT", sender="app@example.org", recipients=(address,))


def test_times_answers_only_the_first_n() -> None:
    """times=2 fires on the first two matching events only."""
    script = Script([Rule.build("RCPT", "451 4.7.1 later", times=2)])
    fired = [script.decide(rcpt("a@x.test")) is not None for _ in range(4)]
    assert fired == [True, True, False, False]


def test_after_skips_the_first_n() -> None:
    """after=2 lets two events pass, then fires on every later one."""
    script = Script([Rule.build("RCPT", "452 4.5.3 too many", after=2)])
    fired = [script.decide(rcpt("a@x.test")) is not None for _ in range(4)]
    assert fired == [False, False, True, True]


def test_after_and_times_make_a_window() -> None:
    """after=1, times=2 fires on the second and third events only."""
    script = Script([Rule.build("RCPT", "451 4.3.0 busy", after=1, times=2)])
    fired = [script.decide(rcpt("a@x.test")) is not None for _ in range(5)]
    assert fired == [False, True, True, False, False]


def test_counts_are_per_matching_address() -> None:
    """A filtered rule counts only the events that pass its filter."""
    script = Script([Rule.build("RCPT", "451 4.7.1 later", recipient="a@x.test", times=1)])
    assert script.decide(rcpt("b@x.test")) is None
    assert script.decide(rcpt("a@x.test")) is not None
    assert script.decide(rcpt("a@x.test")) is None


def test_first_rule_wins_and_later_rules_do_not_count() -> None:
    """The first firing rule answers; rules after it neither fire nor count."""
    specific = Rule.build("RCPT", "550 5.1.1 unknown", recipient="gone@x.test")
    once = Rule.build("RCPT", "451 4.7.1 later", times=1)
    script = Script([specific, once])
    assert script.decide(rcpt("gone@x.test")) is specific
    assert script.decide(rcpt("ann@x.test")) is once
    assert script.decide(rcpt("ann@x.test")) is None


@pytest.mark.parametrize(
    ("address_filter", "address", "expected"),
    [
        ("Ann@Example.COM", "ann@example.com", True),
        ("ann@example.com", "ann@example.org", False),
        (re.compile(r"@example\.com$"), "bob@example.com", True),
        (re.compile(r"^bob@"), "ann@example.com", False),
        (lambda address: address.startswith("vip"), "vip@example.com", True),
        (lambda address: address.startswith("vip"), "ann@example.com", False),
    ],
)
def test_address_filters(address_filter: object, address: str, expected: bool) -> None:
    """Exact filters ignore case, patterns search, predicates decide."""
    rule = Rule.build("RCPT", "550 5.1.1 no", recipient=address_filter)  # type: ignore[arg-type]
    assert rule.sees(rcpt(address)) is expected


def test_sender_filter_needs_a_sender() -> None:
    """A sender filter does not match an event that has no sender yet."""
    rule = Rule.build("DATA", "554 5.7.1 no", sender="app@example.org")
    assert not rule.sees(Event("DATA"))
    assert rule.sees(Event("DATA", sender="APP@example.org"))


def test_recipient_filter_at_eom_matches_any_recipient() -> None:
    """At DATA/EOM a recipient filter matches when any accepted recipient matches."""
    rule = Rule.build("EOM", "554 5.7.1 no", recipient="b@x.test")
    assert rule.sees(Event("EOM", sender="s@x.test", recipients=("a@x.test", "b@x.test")))
    assert not rule.sees(Event("EOM", sender="s@x.test", recipients=("a@x.test",)))


def test_clear_forgets_rules_and_counts() -> None:
    """clear() empties the script, so nothing fires."""
    script = Script([Rule.build("RCPT", "451 4.7.1 later")])
    script.clear()
    assert script.rules == ()
    assert script.decide(rcpt("a@x.test")) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000))
def test_normalize_reply_never_fails_otherwise_on_any_text(text: str) -> None:
    """Any text is either refused with ValueError or comes back with CRLF-separated lines."""
    try:
        sent = normalize_reply(text)
    except ValueError:
        return
    lines = sent.split("\r\n")
    assert all(re.match(r"[2-5][0-9][0-9]", line) for line in lines)
    assert "\n" not in sent.replace("\r\n", "")


reply_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(st.integers(200, 599), st.lists(reply_text, min_size=1, max_size=8))
def test_well_formed_replies_keep_every_character(code: int, texts: list[str]) -> None:
    """A well-formed multi-line reply comes back with the same lines, CRLF between them."""
    lines = [f"{code}-{text}" for text in texts[:-1]] + [f"{code} {texts[-1]}"]
    assert normalize_reply("\n".join(lines)) == "\r\n".join(lines)
