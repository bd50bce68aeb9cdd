"""Property tests: hostile input never crashes the parser or the classifier."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smtpcodes import Category, Outcome, ReplyParseError, classify, parse_reply
from smtpcodes.reply import MAX_REPLY_CHARS

reply_lines = st.builds(
    lambda code, sep, enh, text: f"{code}{sep}{enh}{text}",
    st.integers(200, 599),
    st.sampled_from([" ", "-"]),
    st.sampled_from(["", "5.1.1 ", "4.7.0 ", "2.0.0 ", "5.7.515 "]),
    st.text(max_size=80),
)


@given(st.text(max_size=2000))
@settings(max_examples=300)
def test_classify_any_text(text: str) -> None:
    """Any text classifies to a consistent verdict."""
    v = classify(text)
    assert isinstance(v.category, Category)
    assert v.retry_after is None or v.retry
    if v.outcome is Outcome.SUCCESS:
        assert not v.suppress


@given(st.binary(max_size=2000))
@settings(max_examples=300)
def test_classify_any_bytes(data: bytes) -> None:
    """Any bytes classify without raising."""
    classify(data)


@given(st.text(max_size=500))
def test_parse_reply_raises_only_parse_error(text: str) -> None:
    """parse_reply either parses or raises ReplyParseError."""
    try:
        r = parse_reply(text)
    except ReplyParseError:
        return
    assert 200 <= r.code <= 599
    assert len(r.text) <= MAX_REPLY_CHARS


@given(st.lists(reply_lines, min_size=1, max_size=6), st.sampled_from(["\r\n", "\n"]))
def test_wire_replies_keep_their_code(lines: list[str], sep: str) -> None:
    """A reply that starts with a code parses to that code."""
    text = sep.join(lines)
    first = lines[0]
    if first[:3].isdigit() and "\r" not in first and "\n" not in first:
        assert parse_reply(text).code == int(first[:3])


@given(
    st.sampled_from(["0", "9", "-", " ", ".", "5.", "550-", "a ", "\n", "5.5."]),
    st.integers(1, 200_000),
)
@settings(max_examples=40, deadline=None)
def test_pathological_runs(unit: str, count: int) -> None:
    """Long runs of digits, dashes, spaces and dots classify (bounded work)."""
    classify("550 " + unit * count)
    classify(unit * count)


def test_lone_surrogates_and_a_megabyte() -> None:
    """Text with lone surrogates, and a 1 MB reply, classify (the RE2 path included)."""
    assert classify("550 5.1.1 user \ud800 unknown").category is Category.MAILBOX_UNKNOWN
    assert classify("\udfff greylisted, try again in 5 minutes").category is Category.GREYLISTED
    huge = classify("550 5.1.1 " + "user unknown " * 80_000)
    assert huge.reply is not None
    assert huge.reply.truncated is True
    assert huge.category is Category.MAILBOX_UNKNOWN


hint_texts = st.builds(
    lambda before, hint, after: f"{before}{hint}{after}",
    st.text(max_size=40),
    st.sampled_from(
        [
            "try again in 10 minutes",
            "retry after 300 seconds",
            "please wait 5 min",
            "retry-after: 60",
            "deferred for 2 hours",
            "retrying will not succeed",
            "do not resend",
            "no further attempts",
        ]
    ),
    st.text(max_size=40),
)


@given(hint_texts)
@settings(max_examples=300)
def test_the_rules_pass_never_hides_a_retry_hint(text: str) -> None:
    """Where the hint functions find a hint, the rule set's RE2 probe reports one too."""
    from smtpcodes import Tables
    from smtpcodes.hints import find_no_retry_hint, find_retry_hint

    lowered = text.lower()
    if find_retry_hint(lowered) is not None or find_no_retry_hint(lowered):
        assert Tables.default().rules.scan(lowered, 450, None, None)[1] is True
