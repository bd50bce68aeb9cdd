"""Tests for the rule matcher: trigger words, requirement groups, pattern rewriting."""

from __future__ import annotations

import re

import pytest

from smtpcodes.prefilter import exact_in_re2, narrow_for_re2, re2_available, widen_for_re2
from smtpcodes.rules import (
    RuleSet,
    _literal_first,
    compile_rule,
    requirement_groups,
    split_alternatives,
    trigger_words,
    words_of,
)


@pytest.fixture(params=["index", "re2"])
def prefilter(request: pytest.FixtureRequest) -> str:
    """Both prefilters: the pure-Python word index and RE2 (when installed)."""
    if request.param == "re2" and not re2_available():
        pytest.skip("google-re2 is not installed")
    return str(request.param)


def rule(match: str, rule_id: str = "t.rule", **extra: object) -> object:
    entry = {"id": rule_id, "comment": "test", "match": match, "category": "policy", **extra}
    return compile_rule(entry, 0, "test")


class TestDerivation:
    @pytest.mark.parametrize(
        ("pattern", "groups"),
        [
            ("user unknown", [{"user"}, {"unknown"}]),
            (
                r"\b(?:daily|monthly) (?:sending|message) limit\b",
                [{"daily", "monthly"}, {"sending", "message"}, {"limit"}],
            ),
            (r"\bauth(?:entication)? (?:is )?required\b", [{"required"}]),
            (r"over ?quota", []),
        ],
    )
    def test_requirement_groups(self, pattern: str, groups: list[set[str]]) -> None:
        """Only whole words that every match must contain are derived."""
        assert [set(g) for g in requirement_groups(pattern)] == groups

    def test_trigger_prefers_single_longest_word(self) -> None:
        """The trigger is the most selective group: one word, and a longest one."""
        found = trigger_words("relay access denied")
        assert len(found) == 1
        assert found <= {"access", "denied"}
        assert trigger_words(r"\b(?:no such|unknown) user\b") == frozenset({"user"})

    def test_split_alternatives(self) -> None:
        """Top-level | splits; groups, classes and escapes do not."""
        assert split_alternatives(r"a b|c (d|e)|[|]x|\|y") == ["a b", "c (d|e)", "[|]x", r"\|y"]
        assert split_alternatives("(?i)foo|bar") == ["(?i)foo", "(?i)bar"]

    @pytest.mark.parametrize(
        "pattern",
        [
            r"\bsend ?as ?denied\b",
            r"\bsends?\b",
            r"\bmessage (?:size )?too big",
            r"\b(?:ip|client host) blocked",
        ],
    )
    @pytest.mark.parametrize(
        "text",
        [
            "send as denied",
            "resend as denied",
            "x sends y",
            "message size too big",
            "the message too big",
            "amessage too big",
            "client host blocked",
            "zip blocked",
            "ip blocked now",
        ],
    )
    def test_literal_first_rewrite_is_equivalent(self, pattern: str, text: str) -> None:
        """The literal-first rewrite finds exactly what the original pattern finds."""
        original = re.compile(pattern)
        rewritten = re.compile(_literal_first(pattern))
        assert _literal_first(pattern) != pattern
        a, b = original.search(text), rewritten.search(text)
        assert (a.span() if a else None) == (b.span() if b else None)


class TestMatching:
    def test_rule_fires_only_with_its_words(self, prefilter: str) -> None:
        """A rule is tried when its words occur and the highest priority wins."""
        low = rule(r"\bmailbox (?:is )?full\b", "t.low")
        high = rule(r"\bmailbox (?:is )?full\b", "t.high", priority=5)
        rules = RuleSet([low, high], prefilter=prefilter)  # type: ignore[list-item]
        text = "sorry, mailbox is full"
        found = rules.match(text, 552, None, None, words_of(text))
        assert found is not None
        assert found.rule.id == "t.high"
        assert rules.match("nothing here", 552, None, None, words_of("nothing here")) is None

    def test_conditions(self, prefilter: str) -> None:
        """when: codes and stage restrict a rule."""
        r = rule(r"\btoo many\b", when={"codes": ["4xx"], "stage": ["RCPT"]})
        rules = RuleSet([r], prefilter=prefilter)  # type: ignore[list-item]
        words = words_of("too many")
        assert rules.match("too many", 452, None, "RCPT", words) is not None
        assert rules.match("too many", 552, None, "RCPT", words) is None
        assert rules.match("too many", 452, None, "DATA", words) is None

    def test_alternative_without_words_is_still_found(self, prefilter: str) -> None:
        """An alternative whose words cannot be derived is searched on every candidate."""
        r = rule(r"\bover ?quota\b|\bmailbox full\b", words=["overquota", "over"])
        rules = RuleSet([r], prefilter=prefilter)  # type: ignore[list-item]
        for text in ("user overquota", "user over quota", "mailbox full"):
            assert rules.match(text, 552, None, None, words_of(text)) is not None, text

    def test_words_of_ascii_text_gives_letter_and_digit_runs(self) -> None:
        """On ASCII text, words_of gives the runs of [a-z0-9], as bytes."""
        text = "550-5.1.1 <bob@x.org>: user_unknown\tfull;  (#5.2.2)"
        assert words_of(text) == {w.encode() for w in re.findall("[a-z0-9]+", text)}

    def test_words_of_other_scripts(self) -> None:
        """Accented, Cyrillic and Greek words are whole words; each CJK character is one."""
        text = "550 naïve\u00a0empfänger — пользователь не найден; 用户不存在 メール"
        expected = {"550", "naïve", "empfänger", "пользователь", "не", "найден"}
        expected |= set("用户不存在メール")
        assert words_of(text) == {w.encode() for w in expected}


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"\bempf(?:ä|ae)nger unbekannt\b", "550 empfänger unbekannt"),
        (r"\bпользователь не найден\b", "550 пользователь не найден"),  # noqa: RUF001
        ("用户不存在", "550 收件人用户不存在。"),
        ("メールボックスが存在しません", "550 指定されたメールボックスが存在しません"),
    ],
)
def test_rules_in_other_scripts(prefilter: str, pattern: str, text: str) -> None:
    """Rules written in other scripts have trigger words and fire with either prefilter."""
    assert trigger_words(pattern)
    rules = RuleSet([rule(pattern)], prefilter=prefilter)
    found = rules.find(text, 550, None, None)
    assert found is not None
    assert found.id == "t.rule"
    assert rules.find("550 user unknown", 550, None, None) is None


def test_unless_excludes_codes(prefilter: str) -> None:
    """unless: a rule does not claim replies whose enhanced code or class it excludes."""
    r = rule(r"\bdoes not exist\b", unless={"enhanced": ["X.1.7", "X.1.8"], "codes": ["4xx"]})
    rules = RuleSet([r], prefilter=prefilter)  # type: ignore[list-item]
    text = "domain does not exist"
    words = words_of(text)
    from smtpcodes import EnhancedCode

    assert rules.match(text, 550, EnhancedCode(5, 1, 1), None, words) is not None
    assert rules.match(text, 553, EnhancedCode(5, 1, 8), None, words) is None
    assert rules.match(text, 450, None, None, words) is None


@pytest.mark.parametrize(
    ("pattern", "widened"),
    [
        (r"\buser\s+unknown\b", r"user[\s\x0b\p{Z}\x{1c}-\x{1f}\x{85}]+unknown"),
        (r"[\s-]x", r"[\s\x0b\p{Z}\x{1c}-\x{1f}\x{85}-]x"),
        (r"\S+\d", r"\S+[\d\p{Nd}]"),
        (r"a(?<!b)c", "ac"),
        (r"\bx\b(?:[^.;]|\.(?=\w)){0,30}y", r"x(?:[^.;]|\.){0,30}y"),
        (r"[\b]x\B", r"[\b]x"),
        (r"(a)\1", None),
    ],
)
def test_widen_for_re2(pattern: str, widened: str | None) -> None:
    """For any text: classes widened, look-arounds and word edges dropped; back-references None."""
    assert widen_for_re2(pattern) == widened


@pytest.mark.parametrize(
    ("pattern", "narrowed", "exact"),
    [
        (r"\buser\s+unknown\b", r"\buser[\s\x0b\x1c-\x1f]+unknown\b", True),
        (r"\S+@\w+", r"[^\s\x0b\x1c-\x1f]+@\w+", True),
        (r"[\S-]x", r"[\S-]x", False),
        (r"a(?<!b)c", "ac", False),
        (r"(a)\1", None, False),
    ],
)
def test_narrow_for_re2(pattern: str, narrowed: str | None, exact: bool) -> None:
    """For ASCII text the pattern keeps its word edges; Python's extra spaces are spelled out."""
    assert narrow_for_re2(pattern) == narrowed
    if narrowed is not None:
        assert exact_in_re2(pattern) is exact


@pytest.mark.skipif(not re2_available(), reason="google-re2 is not installed")
@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"\bservice refus(?:e|é)\b", "550 service refusé"),
        (r"\bпользователь не найден\b", "пользователь не найден"),  # noqa: RUF001
        (r"\bx\s+y\b", "x\x0by"),
        (r"\bx\s+y\b", "x\x1fy"),
        (r"\bx\s+y\b", "x\u00a0y"),
        (r"\bmail\b", "mail\u00e9 mail"),
    ],
)
def test_re2_finds_what_python_finds(pattern: str, text: str) -> None:
    """RE2 never misses a match Python's re makes, next to non-ASCII letters and odd spaces."""
    assert re.search(pattern, text) is not None
    rules = RuleSet([rule(pattern)], prefilter="re2")
    found = rules.find(text.lower(), 550, None, None)
    assert found is not None
    assert found.id == "t.rule"


@pytest.mark.skipif(not re2_available(), reason="google-re2 is not installed")
def test_ascii_set_trusted_only_where_python_agrees() -> None:
    """A vertical tab is no \\S to Python: the trusted ASCII answer must agree."""
    rules = RuleSet([rule(r"\bx\S+y\b")], prefilter="re2")
    assert rules.find("x\x0by", 550, None, None) is None
    found = rules.find("xay", 550, None, None)
    assert found is not None


@pytest.mark.skipif(not re2_available(), reason="google-re2 is not installed")
def test_both_prefilters_decide_alike_on_every_example() -> None:
    """RE2 and the word index pick the same rule for every rule example and corpus-like text."""
    from smtpcodes import Tables, parse_reply

    tables = Tables.default()
    index = RuleSet(tables.rules.rules, prefilter="index")
    fast = RuleSet(tables.rules.rules, prefilter="re2")
    texts = [str(ex["reply"]) for r in tables.rules.rules for ex in r.examples]
    assert len(texts) > 200
    for raw in texts:
        try:
            reply = parse_reply(raw)
            lowered, code, enh = reply.text.lower(), reply.code, reply.enhanced
        except ValueError:
            lowered, code, enh = raw.lower(), None, None
        a = index.match(lowered, code, enh, None)
        b = fast.match(lowered, code, enh, None)
        assert (a.rule.id if a else None) == (b.rule.id if b else None), raw


class TestProbes:
    """Probe patterns ride along in the rules' RE2 pass (the classifier's retry hints)."""

    @pytest.mark.skipif(not re2_available(), reason="google-re2 is not installed")
    def test_probe_reported_only_where_it_may_match(self) -> None:
        """scan() says whether a probe may match; the rule it finds is find()'s."""
        rules = RuleSet([rule("user unknown")], prefilter="re2", probes=[r"\btry again\b"])
        assert rules.scan("user unknown, try again later", 550, None, None) == (
            rules.find("user unknown, try again later", 550, None, None),
            True,
        )
        found, probed = rules.scan("user unknown", 550, None, None)
        assert found is not None
        assert found.id == "t.rule"
        assert probed is False
        assert rules.scan("please try again", 550, None, None) == (None, True)
        assert rules.scan("nothing here", 550, None, None) == (None, False)

    @pytest.mark.skipif(not re2_available(), reason="google-re2 is not installed")
    def test_probe_re2_cannot_take_is_always_reported(self) -> None:
        """A probe RE2 cannot compile (a back-reference) counts as possibly matching."""
        rules = RuleSet([rule("user unknown")], prefilter="re2", probes=[r"(a)\1"])
        assert rules.scan("nothing here", 550, None, None) == (None, True)

    @pytest.mark.skipif(not re2_available(), reason="google-re2 is not installed")
    def test_default_probes_are_the_retry_hints(self) -> None:
        """A rule set built without probes looks for the classifier's retry hints."""
        rules = RuleSet([rule("user unknown")], prefilter="re2")
        assert rules.scan("mailbox busy", 450, None, None) == (None, False)
        assert rules.scan("busy, try again in 5 minutes", 450, None, None) == (None, True)
        assert rules.scan("retrying will not succeed", 550, None, None) == (None, True)

    def test_without_re2_the_probe_is_always_possible(self) -> None:
        """The word index cannot rule probes out, so scan() says True."""
        rules = RuleSet([rule("user unknown")], prefilter="index", probes=[r"\btry again\b"])
        assert rules.scan("nothing here", 550, None, None) == (None, True)

    @pytest.mark.skipif(not re2_available(), reason="google-re2 is not installed")
    @pytest.mark.parametrize(
        "text",
        [
            "mailbox busy, try again in 10 minutes",
            "rate limited; retry-after: 30",
            "retrying will not succeed",
            "do not retry this message",
            "temporarily deferred for 2 hours \u2013 r\u00e9essayez",
            "r\u00e9essayez \u2014 try again in 5 min\u00a0",
        ],
    )
    def test_every_hint_is_probed(self, text: str) -> None:
        """Where a hint function finds something, the shipped rule set's probe says so."""
        from smtpcodes import Tables
        from smtpcodes.hints import find_no_retry_hint, find_retry_hint

        assert find_retry_hint(text) is not None or find_no_retry_hint(text)
        assert Tables.default().rules.scan(text, 450, None, None)[1] is True
