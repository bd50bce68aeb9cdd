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
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .reply import STAGES, EnhancedCode
from .verdict import Category, Outcome, RetryWindow

# The regex parser is private API, but stable across 3.10-3.14; only trigger-word
# derivation uses it, and a rule whose words cannot be derived is tried on every reply.
if sys.version_info >= (3, 11):
    import re._constants as _sre_constants
    import re._parser as _sre_parse
else:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_constants
    import sre_parse as _sre_parse

__all__ = [
    "Rule",
    "RuleMatch",
    "RuleSet",
    "compile_rule",
    "required_words",
    "trigger_words",
    "words_of",
]

_WORD = re.compile(r"[a-z0-9]+")
_RULE_KEYS = frozenset(
    {
        "id",
        "comment",
        "match",
        "words",
        "when",
        "category",
        "outcome",
        "override_outcome",
        "retry",
        "suppress",
        "retry_after",
        "action",
        "priority",
        "examples",
        "delivery_unknown",
        "source",
        "disable",
    }
)
_WHEN_KEYS = frozenset({"codes", "enhanced", "stage", "no_code"})
_EXAMPLE_KEYS = frozenset({"reply", "expect", "stage", "note"})
_EXPECT_KEYS = frozenset(
    {"outcome", "category", "retry", "suppress", "scope", "delivery_unknown", "retry_after", "rule"}
)
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
    required: frozenset[str] = frozenset()
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
        index: dict[bytes, list[int]] = {}
        always: list[int] = []
        for rank, rule in enumerate(self.rules):
            if rule.words:
                for word in rule.words:
                    index.setdefault(word.encode(), []).append(rank)
            else:
                always.append(rank)
        # Words are compared as bytes: see words_of.
        self._required = tuple(frozenset(w.encode() for w in rule.required) for rule in self.rules)
        self._index = {word: tuple(ranks) for word, ranks in index.items()}
        self._keys = frozenset(self._index)
        self._always = tuple(always)

    def __len__(self) -> int:
        return len(self.rules)

    def candidates(self, words: Words) -> list[int]:
        """Ranks of the rules whose trigger words are among ``words``, best first."""
        index = self._index
        # One C-level set intersection between the reply's words and all trigger words.
        hits = self._keys.intersection(words)
        if not hits:
            return list(self._always)
        found: set[int] = set(self._always)
        for word in hits:
            found.update(index[word])
        return sorted(found)

    def match(
        self,
        lowered: str,
        words: Words,
        code: int | None,
        enhanced: EnhancedCode | None,
        stage: str | None,
    ) -> RuleMatch | None:
        """The highest-ranked rule whose conditions hold and whose pattern matches.

        ``words`` are the reply's words (:func:`words_of`); a rule is tried only
        if one of its trigger words is among them, and its pattern is searched
        only if all the words its pattern requires are there too.
        """
        rules = self.rules
        required = self._required
        for rank in self.candidates(words):
            need = required[rank]
            if need and not need <= words:
                continue
            rule = rules[rank]
            if not rule.applies(code, enhanced, stage):
                continue
            m = rule.pattern.search(lowered)
            if m is not None:
                return RuleMatch(rule, m.span())
        return None


Words = set[bytes]
_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789")
# Every byte but a-z and 0-9 becomes a space: split() then yields exactly the
# runs that the pattern [a-z0-9]+ finds, about three times faster than re.findall.
_TO_SPACE = bytes(c if c in _KEEP else 0x20 for c in range(256))


def words_of(lowered: str) -> Words:
    """The whole words (runs of a-z and 0-9) of a lower-cased text, as bytes."""
    return set(lowered.encode("utf-8", "surrogatepass").translate(_TO_SPACE).split())


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
            neighbours = (
                items[i - 1] if i > 0 else left,
                items[i + 1] if i + 1 < len(items) else right,
            )
            consider(_sequence_words(list(sub), *neighbours))
        elif op is _BRANCH:
            neighbours = (
                items[i - 1] if i > 0 else left,
                items[i + 1] if i + 1 < len(items) else right,
            )
            consider(_branch_words(item[1][1], *neighbours))
        elif op in (_MAX_REPEAT, _MIN_REPEAT) and item[1][0] >= 1:
            consider(_sequence_words(list(item[1][2]), None, None))
    return best


def _branch_words(
    branches: list[Any], left: Any | None, right: Any | None
) -> frozenset[str] | None:
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


def _parse_items(pattern: str) -> list[Any]:
    """The pattern's top-level elements as (opcode, argument) pairs."""
    parsed: Any = _sre_parse.parse(pattern, re.IGNORECASE)
    return [parsed[i] for i in range(len(parsed))]


def required_words(pattern: str) -> frozenset[str]:
    """Words every match of the pattern contains (from its top-level literal text).

    Checked against the reply's words before the pattern is searched, so a rule
    whose trigger word is common ("user") costs a set test, not a regex search,
    when its other words are absent.
    """
    try:
        parsed = _parse_items(pattern)
    except re.error:
        return frozenset()
    found: set[str] = set()
    run: list[str] = []
    run_start = 0
    for i, item in enumerate([*parsed, None]):
        if item is not None and item[0] is _LITERAL:
            if not run:
                run_start = i
            run.append(chr(item[1]))
            continue
        if run:
            before = parsed[run_start - 1] if run_start > 0 else _EDGE
            after = item if item is not None else _EDGE
            lowered = "".join(run).lower()
            for m in _WORD.finditer(lowered):
                left_ok = m.start() > 0 or _bounding(before)
                right_ok = m.end() < len(lowered) or _bounding(after)
                if left_ok and right_ok:
                    found.add(m[0])
            run = []
    return frozenset(found)


def trigger_words(pattern: str) -> frozenset[str]:
    """The trigger words derived from a pattern; empty if none can be derived."""
    try:
        parsed = _parse_items(pattern)
    except re.error:
        return frozenset()
    found = _sequence_words(parsed, _EDGE, _EDGE)
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
        raise _problem(
            f"unknown key {unknown[0]!r}; allowed keys are {', '.join(sorted(_RULE_KEYS))}"
        )
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
    elif isinstance(words_value, list) and all(
        isinstance(w, str) and _WORD.fullmatch(w.lower()) for w in words_value
    ):
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
        required=required_words(raw_pattern),
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
        raise _problem(
            f"{key} {value!r} must be success, transient, permanent or unknown"
        ) from None
