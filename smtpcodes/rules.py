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
from collections.abc import Set as AbstractSet
from typing import Any

import attrs

from . import hints
from .prefilter import Re2Prefilter, re2_available
from .regex_text import split_alternatives
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
    "Part",
    "requirement_groups",
    "Rule",
    "RuleMatch",
    "RuleSet",
    "compile_rule",
    "is_unspaced",
    "required_words",
    "split_alternatives",
    "trigger_words",
    "words_of",
]

# A word is a run of letters and digits (Python's \w without "_"), except in the
# scripts written without spaces (Chinese, Japanese), where each character is a
# word of its own: "用户不存在" is five words, so a rule can require any of them.
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(f"[{_UNSPACED}]|[^\\W_{_UNSPACED}]+")
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
_RULE_KEYS = frozenset(
    {
        "unless",
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
_UNLESS_KEYS = frozenset({"codes", "enhanced"})
_EXAMPLE_KEYS = frozenset({"reply", "expect", "stage", "note"})
_EXPECT_KEYS = frozenset(
    {"outcome", "category", "retry", "suppress", "scope", "delivery_unknown", "retry_after", "rule"}
)
_CODE_SPEC = re.compile(r"([2-5])(?:xx|[0-9][0-9])")
_ENH_SPEC = re.compile(r"(X|[245])\.(\*|[0-9]{1,3})(?:\.(\*|[0-9]{1,3}))?")


@attrs.frozen
class Part:
    """One top-level alternative of a rule's pattern, with the words it needs.

    ``need`` are words a match must all contain; ``any_of`` groups of which a
    match contains at least one word each (as bytes, like :func:`words_of`).
    """

    pattern: re.Pattern[str]
    need: frozenset[bytes]
    any_of: tuple[frozenset[bytes], ...]
    source: str = ""

    @classmethod
    def compile(cls, source: str) -> Part:
        """Compile one alternative and derive the words it needs."""
        groups = requirement_groups(source)
        need = frozenset(w.encode() for g in groups if len(g) == 1 for w in g)
        any_of = tuple(frozenset(w.encode() for w in g) for g in groups if len(g) > 1)
        flags = _flags_for(source)
        compiled = re.compile(source if flags else _literal_first(source), flags)
        return cls(compiled, need, any_of, source)

    def index_words(self, frequency: Mapping[bytes, int]) -> frozenset[bytes]:
        """The part's rarest group of required words (empty if it has none)."""
        groups = [frozenset({w}) for w in self.need] + list(self.any_of)
        if not groups:
            return frozenset()

        def cost(group: AbstractSet[bytes]) -> tuple[int, int, int]:
            return (
                sum(frequency.get(w, 0) for w in group),
                len(group),
                -min(len(w) for w in group),
            )

        return min(groups, key=cost)

    def possible(self, words: Words) -> bool:
        """Whether the reply's words allow a match at all."""
        if self.need and not self.need <= words:
            return False
        return all(not words.isdisjoint(group) for group in self.any_of)


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
    parts: tuple[Part, ...] = ()
    priority: int = 0
    codes: frozenset[int] = frozenset()
    classes: frozenset[int] = frozenset()
    enhanced: tuple[tuple[str, str, str], ...] = ()
    stages: frozenset[str] = frozenset()
    no_code: bool | None = None
    unless_codes: frozenset[int] = frozenset()
    unless_classes: frozenset[int] = frozenset()
    unless_enhanced: tuple[tuple[str, str, str], ...] = ()
    outcome: Outcome | None = None
    override_outcome: Outcome | None = None
    retry: bool | None = None
    suppress: bool | None = None
    retry_after: RetryWindow | None = None
    action: str | None = None
    delivery_unknown: bool = False
    examples: tuple[Mapping[str, Any], ...] = ()

    def applies(self, code: int | None, enhanced: EnhancedCode | None, stage: str | None) -> bool:
        """Whether the rule's ``when:`` conditions hold and no ``unless:`` condition does."""
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
        if self.unless_enhanced and enhanced is not None:
            parts = (str(enhanced.class_), str(enhanced.subject), str(enhanced.detail))
            if any(_enh_matches(spec, parts) for spec in self.unless_enhanced):
                return False
        if code is not None and (code in self.unless_codes or code // 100 in self.unless_classes):
            return False
        return not (self.stages and stage not in self.stages)


def _enh_matches(spec: tuple[str, str, str], parts: tuple[str, str, str]) -> bool:
    return all(s in ("*", "X") or s == p for s, p in zip(spec, parts, strict=True))


@attrs.frozen
class RuleMatch:
    """A rule that matched, and where."""

    rule: Rule
    span: tuple[int, int] | None
    """Where the first alternative of the pattern matched (None if only the
    whole-text prefilter saw it, which can differ for non-ASCII text)."""


class RuleSet:
    """Rules indexed by trigger word; :meth:`match` finds the deciding rule.

    The index holds the alternatives of every rule's pattern (its parts), each
    under its rarest required words, so a reply's words select the few parts
    worth searching. A part is numbered ``rank * _PART_SLOTS + position``: sorting
    the numbers keeps the rules' precedence.
    """

    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        prefilter: str = "auto",
        probes: Iterable[str] = hints.PATTERNS,
    ) -> None:
        """Index ``rules``; ``prefilter`` is "re2", "index" or "auto" (RE2 when installed).

        ``probes`` are patterns that :meth:`scan` looks for in the same RE2 pass
        (by default the classifier's retry hints), so that their own searches
        run only where they may match.
        """
        if prefilter not in ("auto", "re2", "index"):
            msg = f"prefilter must be 'auto', 're2' or 'index', not {prefilter!r}"
            raise ValueError(msg)
        self.rules: tuple[Rule, ...] = tuple(sorted(rules, key=lambda r: (-r.priority, r.order)))
        frequency = _word_frequency(self.rules)
        index: dict[bytes, list[int]] = {}
        always: list[int] = []
        parts: dict[
            int, tuple[re.Pattern[str], frozenset[bytes], tuple[frozenset[bytes], ...], int]
        ] = {}
        for rank, rule in enumerate(self.rules):
            fallback = frozenset(w.encode() for w in rule.words)
            for position, part in enumerate(rule.parts[:_PART_SLOTS]):
                number = rank * _PART_SLOTS + position
                parts[number] = (part.pattern, part.need, part.any_of, rank)
                keys = part.index_words(frequency) or fallback
                if keys:
                    for word in keys:
                        index.setdefault(word, []).append(number)
                else:
                    always.append(number)
        self._parts = parts
        self._conditional = tuple(
            bool(
                r.codes
                or r.classes
                or r.enhanced
                or r.stages
                or r.no_code is not None
                or r.unless_codes
                or r.unless_classes
                or r.unless_enhanced
            )
            for r in self.rules
        )
        self._index = {word: tuple(numbers) for word, numbers in index.items()}
        self._keys = frozenset(self._index)
        self._always = tuple(always)
        self._re2: Re2Prefilter | None = None
        if prefilter == "re2" or (prefilter == "auto" and re2_available()):
            # The RE2 set holds the parts in rank order, then the probes: the
            # positions it reports are already in precedence order.
            in_order = [parts[number] for number in sorted(parts)]
            self._first_probe = len(in_order)
            self._re2_patterns = (
                *(
                    (
                        _flagged_source(part),
                        frozenset(w.decode() for w in part.index_words(frequency)),
                    )
                    for rule in self.rules
                    for part in rule.parts[:_PART_SLOTS]
                ),
                *((source, frozenset()) for source in probes),
            )
            self._re2 = Re2Prefilter(self._re2_patterns)
            # Per set position: the pattern that confirms a candidate (None where
            # RE2's answer is exact), its rule's rank, and whether the rule has
            # conditions to check.
            self._confirm = [
                (pattern, rank, self._conditional[rank]) for pattern, *_, rank in in_order
            ]
            self._re2_slots = self._slots_for(self._re2)
            # The set for text that is not ASCII is built on the first such reply:
            # few streams have one, and it would double the load time.
            self._re2_unicode: tuple[Re2Prefilter, tuple[_Slot, ...]] | None = None

    @property
    def prefilter(self) -> str:
        """Which prefilter selects the alternatives to search: "re2" or "index"."""
        return "re2" if self._re2 is not None else "index"

    def __len__(self) -> int:
        return len(self.rules)

    def candidates(self, words: Words) -> list[int]:
        """Numbers of the parts whose trigger words are among ``words``, best first."""
        # One C-level set intersection between the reply's words and all trigger words.
        hits = self._keys.intersection(words)
        if not hits:
            return list(self._always)
        found: set[int] = set(self._always)
        found.update(*map(self._index.__getitem__, hits))
        return sorted(found)

    def match(
        self,
        lowered: str,
        code: int | None,
        enhanced: EnhancedCode | None,
        stage: str | None,
        words: Words | None = None,
    ) -> RuleMatch | None:
        """The deciding rule (see :meth:`find`) and where its pattern matched."""
        rule = self.find(lowered, code, enhanced, stage, words)
        if rule is None:
            return None
        for part in rule.parts:
            m = part.pattern.search(lowered)
            if m is not None:
                return RuleMatch(rule, m.span())
        return RuleMatch(rule, None)

    def find(
        self,
        lowered: str,
        code: int | None,
        enhanced: EnhancedCode | None,
        stage: str | None,
        words: Words | None = None,
    ) -> Rule | None:
        """The highest-ranked rule whose conditions hold and whose pattern matches.

        The prefilter names the alternatives that can match; each is confirmed
        with its Python pattern, best rule first. With the word index, an
        alternative is searched only if the reply's ``words`` (from
        :func:`words_of`, computed here when not given) include those it needs.
        """
        return self.scan(lowered, code, enhanced, stage, words)[0]

    def scan(
        self,
        lowered: str,
        code: int | None,
        enhanced: EnhancedCode | None,
        stage: str | None,
        words: Words | None = None,
    ) -> tuple[Rule | None, bool]:
        """:meth:`find`'s rule, and whether a probe pattern may match the text.

        The second value is False only when the RE2 pass rules every probe out;
        without RE2 it is always True. (This is the hot path of classification,
        hence its style.)
        """
        prefilter = self._re2
        if prefilter is None:
            return self._find_indexed(lowered, code, enhanced, stage, words), True
        if lowered.isascii():
            # RE2 already gave Python's answer for the parts it runs exactly.
            slots = self._re2_slots
        else:
            prefilter, slots = self._re2_unicode or self._unicode_prefilter()
        found = prefilter.candidates(lowered)
        first_probe = self._first_probe
        # Probes come after every part, so they sort last.
        probed = bool(found) and found[-1] >= first_probe
        rules = self.rules
        passed = refused = -1
        for index in found:
            if index >= first_probe:
                break
            confirm, rank, conditional = slots[index]
            if rank == refused:
                continue
            if conditional and rank != passed:
                if not rules[rank].applies(code, enhanced, stage):
                    refused = rank
                    continue
                passed = rank
            if confirm is None or confirm.search(lowered) is not None:
                return rules[rank], probed
        return None, probed

    def _slots_for(self, prefilter: Re2Prefilter) -> tuple[_Slot, ...]:
        exact = prefilter.exact_indices
        return tuple(
            (None if index in exact else pattern, rank, conditional)
            for index, (pattern, rank, conditional) in enumerate(self._confirm)
        )

    def _unicode_prefilter(self) -> tuple[Re2Prefilter, tuple[_Slot, ...]]:
        # Two threads may both build it; either result is the same set.
        built = Re2Prefilter(self._re2_patterns, unicode=True)
        self._re2_unicode = (built, self._slots_for(built))
        return self._re2_unicode

    def _find_indexed(
        self,
        lowered: str,
        code: int | None,
        enhanced: EnhancedCode | None,
        stage: str | None,
        words: Words | None,
    ) -> Rule | None:
        rules = self.rules
        parts = self._parts
        conditional = self._conditional
        passed = refused = -1
        if words is None:
            words = words_of(lowered)
        for number in self.candidates(words):
            pattern, need, any_of, rank = parts[number]
            if rank == refused:
                continue
            if need and not need <= words:
                continue
            if any_of:
                for group in any_of:
                    if words.isdisjoint(group):
                        break
                else:
                    group = None
                if group is not None:
                    continue
            if rank != passed and conditional[rank]:
                if not rules[rank].applies(code, enhanced, stage):
                    refused = rank
                    continue
                passed = rank
            if pattern.search(lowered) is not None:
                return rules[rank]
        return None


def _flagged_source(part: Part) -> str:
    """The part's pattern text, with its ignore-case flag inline (RE2 reads it there)."""
    return ("(?i)" + part.source) if part.pattern.flags & re.IGNORECASE else part.source


# What the RE2 path keeps per set position: the confirming pattern (None when
# RE2's answer is exact), the rule's rank, whether the rule has conditions.
_Slot = tuple["re.Pattern[str] | None", int, bool]


# At most this many alternatives of one pattern are indexed separately; a
# longer alternation is cut off in the index (its later parts are never tried),
# so the loader refuses such patterns.
_PART_SLOTS = 64


def _word_frequency(rules: Iterable[Rule]) -> dict[bytes, int]:
    """How many of the rules' example replies contain each word."""
    frequency: dict[bytes, int] = {}
    for rule in rules:
        for example in rule.examples:
            for word in words_of(str(example.get("reply", "")).lower()):
                frequency[word] = frequency.get(word, 0) + 1
    return frequency


Words = set[bytes]
_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789")
# Every byte but a-z and 0-9 becomes a space: split() then yields exactly the
# runs that the pattern [a-z0-9]+ finds, about three times faster than re.findall.
_TO_SPACE = bytes(c if c in _KEEP else 0x20 for c in range(256))


def words_of(lowered: str) -> Words:
    """The whole words of a lower-cased text, as bytes.

    A word is a run of letters and digits; a Chinese or Japanese character is a
    word by itself. ASCII text takes a faster path to the same result.
    """
    if lowered.isascii():
        return set(lowered.encode().translate(_TO_SPACE).split())
    return {word.encode("utf-8", "surrogatepass") for word in _WORD.findall(lowered)}


def is_unspaced(word: str) -> bool:
    """Whether ``word`` is one character of a script written without spaces (CJK)."""
    return len(word) == 1 and _UNSPACED_CHAR.match(word) is not None


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


def _bounding(item: Any, side: str) -> bool:
    """Whether ``item``, standing on ``side`` of a word, guarantees a word edge there.

    ``side`` is "left" when the item precedes the word (its last character
    counts) and "right" when it follows (its first character counts).
    """
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
        items = _items(sub)
        return bool(low >= 1 and items and _bounding(items[-1 if side == "left" else 0], side))
    if op is _SUBPATTERN:
        items = _items(av[-1])
        return bool(items) and _bounding(items[-1 if side == "left" else 0], side)
    if op is _BRANCH:
        alternatives = [_items(alt) for alt in av[1]]
        return all(
            alt and _bounding(alt[-1 if side == "left" else 0], side) for alt in alternatives
        )
    return False


def _items(sub: Any) -> list[Any]:
    return [sub[i] for i in range(len(sub))]


def _edge_before(items: list[Any], index: int, outer: bool) -> bool:
    """Whether a word edge is certain just before ``items[index]``."""
    j = index - 1
    while j >= 0:
        op, av = items[j]
        if op in (_MAX_REPEAT, _MIN_REPEAT) and av[0] == 0:
            # Present, it must end in a non-word character; absent, look further left.
            inner = _items(av[2])
            if not (inner and _bounding(inner[-1], "left")):
                return False
            j -= 1
            continue
        return _bounding(items[j], "left")
    return outer


def _edge_after(items: list[Any], index: int, outer: bool) -> bool:
    """Whether a word edge is certain just after ``items[index]``."""
    j = index + 1
    while j < len(items):
        op, av = items[j]
        if op in (_MAX_REPEAT, _MIN_REPEAT) and av[0] == 0:
            inner = _items(av[2])
            if not (inner and _bounding(inner[0], "right")):
                return False
            j += 1
            continue
        return _bounding(items[j], "right")
    return outer


Group = frozenset[str]


def _requirements(items: list[Any], left: bool, right: bool) -> list[Group]:
    """Word groups every match of a sequence contains: one word of each group.

    A group of one word is a word the match must contain; ``{daily, monthly}``
    comes from a required alternation. Only whole words count: a literal run's
    word is used only where the pattern puts a word edge on both its sides.
    """
    groups: list[Group] = []
    run_start = -1
    for i, item in enumerate([*items, None]):
        if item is not None and item[0] is _LITERAL:
            if run_start < 0:
                run_start = i
            continue
        if run_start >= 0:
            run = "".join(chr(items[k][1]) for k in range(run_start, i)).lower()
            bounded_left = _edge_before(items, run_start, left)
            bounded_right = _edge_after(items, i - 1, right)
            for m in _WORD.finditer(run):
                if is_unspaced(m[0]) or (
                    (m.start() > 0 or bounded_left) and (m.end() < len(run) or bounded_right)
                ):
                    groups.append(frozenset({m[0]}))
            run_start = -1
        if item is None:
            break
        op, av = item
        if op is _SUBPATTERN:
            groups.extend(
                _requirements(
                    _items(av[-1]), _edge_before(items, i, left), _edge_after(items, i, right)
                )
            )
        elif op is _BRANCH:
            union: set[str] = set()
            inner_left, inner_right = _edge_before(items, i, left), _edge_after(items, i, right)
            for alternative in av[1]:
                found = _requirements(_items(alternative), inner_left, inner_right)
                if not found:
                    union = set()
                    break
                best: Group = max(found, key=_score)
                union.update(best)
            if union:
                groups.append(frozenset(union))
        elif op in (_MAX_REPEAT, _MIN_REPEAT) and av[0] >= 1:
            groups.extend(_requirements(_items(av[2]), False, False))
    return groups


def _score(words: Group) -> tuple[int, int]:
    # Fewer alternatives first (a rarer trigger), then longer words.
    return (-len(words), min(len(w) for w in words))


_ESCAPE = re.compile(r"\\.", re.DOTALL)


_LEADING_WORD = re.compile(r"\\b([a-z0-9][a-z0-9 ]*)")
_LEADING_WORDS = re.compile(r"\\b\(\?:([a-z0-9 ]+(?:\|[a-z0-9 ]+)+)\)")


def _literal_first(part: str) -> str:
    """Rewrite a leading ``\\b`` so that the pattern starts with its literal text.

    ``re`` scans quickly for a pattern that starts with a literal (or a small set
    of first characters) but tries every position for one that starts with
    ``\\b``. ``\\bsend as`` becomes ``send(?<!\\wsend) as``: the same matches,
    the word edge checked by a look-behind once the literal is found.
    """
    m = _LEADING_WORD.match(part)
    if m is not None:
        run = m[1]
        rest = part[m.end() :]
        if rest[:1] in ("?", "*", "+", "{"):
            # The quantifier binds the run's last character: leave it in the rest.
            run, rest = run[:-1], run[-1] + rest
        stripped = run.rstrip(" ")
        run, rest = stripped, run[len(stripped) :] + rest
        if len(run) >= 2:
            return f"{run}(?<!\\w{run}){rest}"
        return part
    m = _LEADING_WORDS.match(part)
    if m is not None:
        alternatives = "|".join(f"{alt}(?<!\\w{alt})" for alt in m[1].split("|"))
        return f"(?:{alternatives}){part[m.end() :]}"
    return part


def _flags_for(part: str) -> int:
    # Replies are matched in lower case: a pattern with no capital letter (outside
    # escapes such as \S or \W) needs no IGNORECASE, which is much slower in re.
    plain = _ESCAPE.sub("", part)
    return re.IGNORECASE if any(c.isupper() for c in plain) else 0


def _parse_items(pattern: str) -> list[Any]:
    """The pattern's top-level elements as (opcode, argument) pairs."""
    return _items(_sre_parse.parse(pattern, re.IGNORECASE))


def requirement_groups(pattern: str) -> tuple[Group, ...]:
    """Word groups every match of ``pattern`` contains (one word from each group).

    Checked against the reply's words before the pattern is searched, so most
    patterns cost a set test, not a regex scan, on replies they cannot match.
    Empty when nothing can be derived (the pattern is then always searched).
    """
    try:
        items = _parse_items(pattern)
    except re.error:
        return ()
    # The pattern's own start and end count as word edges: a rule's first and
    # last words are taken as whole words (the documented meaning of words).
    return tuple(dict.fromkeys(_requirements(items, True, True)))


def required_words(pattern: str) -> frozenset[str]:
    """The single words every match of ``pattern`` contains."""
    return frozenset(w for group in requirement_groups(pattern) if len(group) == 1 for w in group)


def trigger_words(pattern: str) -> frozenset[str]:
    """The trigger words derived from a pattern: its most selective requirement group."""
    groups = requirement_groups(pattern)
    return max(groups, key=_score) if groups else frozenset()


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
        alternatives = split_alternatives(raw_pattern)
        if len(alternatives) > _PART_SLOTS:
            raise _problem(
                f"match has {len(alternatives)} alternatives; "
                f"split it into rules of at most {_PART_SLOTS}"
            )
        parts = tuple(Part.compile(part) for part in alternatives)
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
        raise _problem(
            "words must be a list of single lower-case words (letters and digits, or one "
            "Chinese or Japanese character)"
        )
    try:
        category = Category(entry.get("category"))
    except ValueError:
        raise _problem(f"category {entry.get('category')!r} is not a category") from None
    stages: set[str] = set()
    no_code = None
    when = _conditions(entry, "when", _WHEN_KEYS)
    codes, classes = _code_specs(when.get("codes"), "when.codes")
    enhanced = _enhanced_specs(when.get("enhanced"), "when.enhanced")
    unless = _conditions(entry, "unless", _UNLESS_KEYS)
    unless_codes, unless_classes = _code_specs(unless.get("codes"), "unless.codes")
    unless_enhanced = _enhanced_specs(unless.get("enhanced"), "unless.enhanced")
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
        parts=parts,
        category=category,
        order=order,
        source=source,
        priority=priority,
        codes=codes,
        classes=classes,
        enhanced=enhanced,
        stages=frozenset(stages),
        no_code=no_code,
        unless_codes=unless_codes,
        unless_classes=unless_classes,
        unless_enhanced=unless_enhanced,
        outcome=outcome,
        override_outcome=override,
        retry=entry.get("retry"),
        suppress=entry.get("suppress"),
        retry_after=parse_window(entry.get("retry_after")),
        action=action,
        delivery_unknown=bool(entry.get("delivery_unknown", False)),
        examples=tuple(examples),
    )


def _conditions(entry: Mapping[str, Any], key: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    """A rule's ``when:`` or ``unless:`` mapping, its keys checked."""
    value = entry.get(key) or {}
    names = ", ".join(sorted(allowed))
    if not isinstance(value, dict):
        raise _problem(f"{key} must be a mapping ({names})")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise _problem(f"unknown key {key}.{unknown[0]}; allowed: {names}")
    return value


def _code_specs(values: object, key: str) -> tuple[frozenset[int], frozenset[int]]:
    """Codes (550) and classes (5xx) from a ``codes:`` list."""
    codes: set[int] = set()
    classes: set[int] = set()
    for spec in _as_list(values):
        m = _CODE_SPEC.fullmatch(str(spec))
        if m is None:
            raise _problem(f"{key} entry {spec!r} must be a code (550) or a class (5xx)")
        if str(spec).endswith("xx"):
            classes.add(int(m[1]))
        else:
            codes.add(int(spec))
    return frozenset(codes), frozenset(classes)


def _enhanced_specs(values: object, key: str) -> tuple[tuple[str, str, str], ...]:
    """Enhanced-code patterns (5.1.1, X.7.*, 4.7) from an ``enhanced:`` list."""
    found = []
    for spec in _as_list(values):
        m = _ENH_SPEC.fullmatch(str(spec))
        if m is None:
            raise _problem(f"{key} entry {spec!r} must look like 5.1.1, X.7.*, 4.7 or 5.*")
        found.append((m[1], m[2], m[3] or "*"))
    return tuple(found)


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
