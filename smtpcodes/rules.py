"""Text-pattern rules and the matcher that picks the one that decides.

A rule recognises what a kind of server writes ("Recipient address rejected:
User unknown") by a regular expression over the reply's lower-cased text, and
says which category that means. Hundreds of rules are checked per reply, so they
are not tried one after another: every rule has *trigger words*, whole words of
which at least one must appear in the text for the rule to be considered at all.
An index from word to rules turns a reply's words into the few candidate rules;
the cost per reply grows with the length of the reply, hardly with the number of
rules.

Trigger words are taken from the rule's ``words:`` when given, else derived from
its pattern: the longest literal word that every match must contain, or one word
from each branch of a required alternation. Only words that the pattern itself
bounds (by ``\\b``, a space, punctuation or the pattern's ends with an anchor) are
used, so a rule never misses text its pattern would match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .reply import STAGES, EnhancedCode
from .verdict import Category, Outcome, RetryWindow

try:  # Python 3.11+
    import re._parser as _sre_parse  # type: ignore[import-not-found]
    import re._constants as _sre_constants  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_constants  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

__all__ = ["Rule", "RuleMatch", "RuleSet", "compile_rule", "trigger_words"]

_WORD = re.compile(r"[a-z0-9]+")
_RULE_KEYS = frozenset({
    "id", "comment", "match", "words", "when", "category", "outcome", "override_outcome",
    "retry", "suppress", "retry_after", "action", "priority", "examples", "delivery_unknown",
    "source", "disable",
})
_WHEN_KEYS = frozenset({"codes", "enhanced", "stage", "no_code"})
_EXAMPLE_KEYS = frozenset({"reply", "expect", "stage", "note"})
_EXPECT_KEYS = frozenset({"outcome", "category", "retry", "suppress", "scope", "delivery_unknown", "retry_after", "rule"})
_CODE_SPEC = re.compile(r"([2-5])(?:xx|[0-9][0-9])")
_ENH_SPEC = re.compile(r"(X|[245])\.(\*|[0-9]{1,3})(?:\.(\*|[0-9]{1,3}))?")


@attrs.frozen
class Rule:
    """One compiled text rule."""

    id: str
    comment: str
    pattern: re.Pattern[str]
    words: frozenset[str]
    category: Category
    order: int
    source: str
    priority: int = 0
    codes: frozenset[int] = frozenset()
    classes: frozenset[int] = frozenset()
    enhanced: tuple[tuple[str, str, str], ...] = ()
    stages: frozenset[str] = frozenset()
    no_code: bool | None = None
    outcome: Outcome | None = None
    override_outcome: Outcome | None = None
    retry: bool | None = None
    suppress: bool | None = None
    retry_after: RetryWindow | None = None
    action: str | None = None
    delivery_unknown: bool = False
    examples: tuple[Mapping[str, Any], ...] = ()

    def applies(self, code: int | None, enhanced: EnhancedCode | None, stage: str | None) -> bool:
        """Whether the rule's ``when:`` conditions hold for this reply."""
        if self.no_code is not None and self.no_code != (code is None):
            return False
        if (self.codes or self.classes) and (
            code is None or (code not in self.codes and code // 100 not in self.classes)
        ):
            return False
        if self.enhanced:
            if enhanced is None:
                return False
            parts = (str(enhanced.class_), str(enhanced.subject), str(enhanced.detail))
            if not any(_enh_matches(spec, parts) for spec in self.enhanced):
                return False
        return not (self.stages and stage not in self.stages)


def _enh_matches(spec: tuple[str, str, str], parts: tuple[str, str, str]) -> bool:
    return all(s in ("*", "X") or s == p for s, p in zip(spec, parts, strict=True))


@attrs.frozen
class RuleMatch:
    """A rule that matched, and where."""

    rule: Rule
    span: tuple[int, int]


class RuleSet:
    """Rules indexed by trigger word; :meth:`match` finds the deciding rule."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(sorted(rules, key=lambda r: (-r.priority, r.order)))
        rank = {rule.id: i for i, rule in enumerate(self.rules)}
        index: dict[str, list[int]] = {}
        always: list[int] = []
        for rule in self.rules:
            if rule.words:
                for word in rule.words:
                    index.setdefault(word, []).append(rank[rule.id])
            else:
                always.append(rank[rule.id])
        self._index = {word: tuple(ranks) for word, ranks in index.items()}
        self._always = tuple(always)

    def __len__(self) -> int:
        return len(self.rules)

    def candidates(self, lowered: str) -> list[int]:
        """Ranks of the rules whose trigger words occur in ``lowered``, best first."""
        index = self._index
        found: set[int] = set(self._always)
        for word in set(_WORD.findall(lowered)):
            ranks = index.get(word)
            if ranks is not None:
                found.update(ranks)
        return sorted(found)

    def match(
        self,
        lowered: str,
        code: int | None,
        enhanced: EnhancedCode | None,
        stage: str | None,
    ) -> RuleMatch | None:
        """The highest-ranked rule whose conditions hold and whose pattern matches."""
        rules = self.rules
        for rank in self.candidates(lowered):
            rule = rules[rank]
            if not rule.applies(code, enhanced, stage):
                continue
            m = rule.pattern.search(lowered)
            if m is not None:
                return RuleMatch(rule, m.span())
        return None


# --- trigger-word derivation -------------------------------------------------------

_LITERAL = _sre_constants.LITERAL
_AT = _sre_constants.AT
_IN = _sre_constants.IN
_BRANCH = _sre_constants.BRANCH
_SUBPATTERN = _sre_constants.SUBPATTERN
_MAX_REPEAT = _sre_constants.MAX_REPEAT
_MIN_REPEAT = _sre_constants.MIN_REPEAT


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


# The pattern's own start and end count as word edges: a rule's first and last
# words are taken as whole words (the documented meaning of trigger words).
_EDGE = ("edge", None)


def _bounding(item: Any | None) -> bool:
    """Whether a pattern element next to a literal guarantees a word edge there."""
    if item is None:
        return False
    if item is _EDGE:
        return True
    op, av = item
    if op is _AT:
        return True
    if op is _LITERAL:
        return not _is_word_char(chr(av))
    if op is _IN:
        # A character class of only non-word characters (\s, [ -], [:;]) bounds a word.
        for sub_op, sub_av in av:
            if sub_op is _sre_constants.CATEGORY:
                if sub_av not in (_sre_constants.CATEGORY_SPACE, _sre_constants.CATEGORY_NOT_WORD):
                    return False
            elif sub_op is _LITERAL:
                if _is_word_char(chr(sub_av)):
                    return False
            else:
                return False
        return True
    if op in (_MAX_REPEAT, _MIN_REPEAT):
        low, _high, sub = av
        return bool(low >= 1 and len(sub) >= 1 and _bounding(sub[0]) and _bounding(sub[-1]))
    return False


def _sequence_words(items: list[Any], left: Any | None, right: Any | None) -> frozenset[str] | None:
    """Best trigger set for a sequence of pattern elements, or None."""
    best: frozenset[str] | None = None

    def consider(candidate: frozenset[str] | None) -> None:
        nonlocal best
        if not candidate:
            return
        if best is None or _score(candidate) > _score(best):
            best = candidate

    run: list[str] = []
    run_start = 0
    for i, item in enumerate([*items, None]):
        op = item[0] if item is not None else None
        if op is _LITERAL:
            if not run:
                run_start = i
            run.append(chr(item[1]))
            continue
        if run:
            before = items[run_start - 1] if run_start > 0 else left
            after = item if item is not None else right
            consider(_run_words("".join(run), _bounding(before), _bounding(after)))
            run = []
        if item is None:
            break
        if op is _SUBPATTERN:
            sub = item[1][-1]
            neighbours = (items[i - 1] if i > 0 else left, items[i + 1] if i + 1 < len(items) else right)
            consider(_sequence_words(list(sub), *neighbours))
        elif op is _BRANCH:
            neighbours = (items[i - 1] if i > 0 else left, items[i + 1] if i + 1 < len(items) else right)
            consider(_branch_words(item[1][1], *neighbours))
        elif op in (_MAX_REPEAT, _MIN_REPEAT) and item[1][0] >= 1:
            consider(_sequence_words(list(item[1][2]), None, None))
    return best


def _branch_words(branches: list[Any], left: Any | None, right: Any | None) -> frozenset[str] | None:
    words: set[str] = set()
    for branch in branches:
        found = _sequence_words(list(branch), left, right)
        if not found:
            return None
        words |= found
    return frozenset(words)


def _run_words(run: str, bounded_left: bool, bounded_right: bool) -> frozenset[str] | None:
    lowered = run.lower()
    safe = []
    for m in _WORD.finditer(lowered):
        left_ok = m.start() > 0 or bounded_left
        right_ok = m.end() < len(lowered) or bounded_right
        if left_ok and right_ok:
            safe.append(m[0])
    if not safe:
        return None
    return frozenset({max(safe, key=len)})


def _score(words: frozenset[str]) -> tuple[int, int]:
    # Fewer alternatives first (a rarer trigger), then longer words.
    return (-len(words), min(len(w) for w in words))


def trigger_words(pattern: str) -> frozenset[str]:
    """The trigger words derived from a pattern; empty if none can be derived."""
    try:
        parsed = _sre_parse.parse(pattern, re.IGNORECASE)
    except re.error:
        return frozenset()
    found = _sequence_words(list(parsed), _EDGE, _EDGE)
    return found or frozenset()


# --- compiling a rule from its table entry ---------------------------------------


def _problem(msg: str) -> ValueError:
    return ValueError(msg)


def compile_rule(entry: Mapping[str, Any], order: int, source: str) -> Rule:
    """Validate a rule entry from YAML and compile it.

    :raises ValueError: with a sentence naming the bad key.
    """
    from .tables import parse_window  # the tables module imports this one

    unknown = sorted(str(k) for k in entry if k not in _RULE_KEYS)
    if unknown:
        raise _problem(f"unknown key {unknown[0]!r}; allowed keys are {', '.join(sorted(_RULE_KEYS))}")
    rule_id = entry.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise _problem("id is required")
    comment = entry.get("comment")
    if not isinstance(comment, str) or not comment.strip():
        raise _problem("comment is required: say what the rule recognises")
    raw_pattern = entry.get("match")
    if not isinstance(raw_pattern, str) or not raw_pattern:
        raise _problem("match (a regular expression over the lower-cased reply text) is required")
    try:
        pattern = re.compile(raw_pattern, re.IGNORECASE)
    except re.error as exc:
        raise _problem(f"match is not a valid regular expression: {exc}") from None
    words_value = entry.get("words")
    if words_value is None:
        words = trigger_words(raw_pattern)
    elif isinstance(words_value, list) and all(isinstance(w, str) and _WORD.fullmatch(w.lower()) for w in words_value):
        words = frozenset(w.lower() for w in words_value)
    else:
        raise _problem("words must be a list of single lower-case words (letters and digits)")
    try:
        category = Category(entry.get("category"))
    except ValueError:
        raise _problem(f"category {entry.get('category')!r} is not a category") from None
    codes: set[int] = set()
    classes: set[int] = set()
    enhanced: list[tuple[str, str, str]] = []
    stages: set[str] = set()
    no_code = None
    when = entry.get("when") or {}
    if not isinstance(when, dict):
        raise _problem("when must be a mapping (codes, enhanced, stage, no_code)")
    unknown = sorted(str(k) for k in when if k not in _WHEN_KEYS)
    if unknown:
        raise _problem(f"unknown key when.{unknown[0]}; allowed: {', '.join(sorted(_WHEN_KEYS))}")
    for spec in _as_list(when.get("codes")):
        m = _CODE_SPEC.fullmatch(str(spec))
        if m is None:
            raise _problem(f"when.codes entry {spec!r} must be a code (550) or a class (5xx)")
        if str(spec).endswith("xx"):
            classes.add(int(m[1]))
        else:
            codes.add(int(spec))
    for spec in _as_list(when.get("enhanced")):
        m = _ENH_SPEC.fullmatch(str(spec))
        if m is None:
            raise _problem(f"when.enhanced entry {spec!r} must look like 5.1.1, X.7.*, 4.7 or 5.*")
        enhanced.append((m[1], m[2], m[3] or "*"))
    for stage in _as_list(when.get("stage")):
        if stage not in STAGES:
            raise _problem(f"when.stage {stage!r} is not one of {', '.join(STAGES)}")
        stages.add(stage)
    if "no_code" in when:
        if not isinstance(when["no_code"], bool):
            raise _problem("when.no_code must be true or false")
        no_code = when["no_code"]
    outcome = _outcome(entry, "outcome")
    override = _outcome(entry, "override_outcome")
    for key in ("retry", "suppress", "delivery_unknown"):
        if key in entry and not isinstance(entry[key], bool):
            raise _problem(f"{key} must be true or false")
    priority = entry.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise _problem("priority must be a whole number")
    action = entry.get("action")
    if action is not None and not isinstance(action, str):
        raise _problem("action must be text")
    examples = entry.get("examples") or []
    if not isinstance(examples, list):
        raise _problem("examples must be a list of {reply, expect}")
    for i, example in enumerate(examples):
        if not isinstance(example, dict) or not isinstance(example.get("reply"), str):
            raise _problem(f"examples[{i}] needs a reply text")
        bad = sorted(str(k) for k in example if k not in _EXAMPLE_KEYS)
        if bad:
            raise _problem(f"examples[{i}] has unknown key {bad[0]!r}")
        expect = example.get("expect") or {}
        bad = sorted(str(k) for k in expect if k not in _EXPECT_KEYS)
        if bad:
            raise _problem(f"examples[{i}].expect has unknown key {bad[0]!r}")
    return Rule(
        id=rule_id,
        comment=comment.strip(),
        pattern=pattern,
        words=words,
        category=category,
        order=order,
        source=source,
        priority=priority,
        codes=frozenset(codes),
        classes=frozenset(classes),
        enhanced=tuple(enhanced),
        stages=frozenset(stages),
        no_code=no_code,
        outcome=outcome,
        override_outcome=override,
        retry=entry.get("retry"),
        suppress=entry.get("suppress"),
        retry_after=parse_window(entry.get("retry_after")),
        action=action,
        delivery_unknown=bool(entry.get("delivery_unknown", False)),
        examples=tuple(examples),
    )


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _outcome(entry: Mapping[str, Any], key: str) -> Outcome | None:
    value = entry.get(key)
    if value is None:
        return None
    try:
        return Outcome(value)
    except ValueError:
        raise _problem(f"{key} {value!r} must be success, transient, permanent or unknown") from None
