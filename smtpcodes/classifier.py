"""The classifier: a reply (or bare text) and the loaded tables in, a Verdict out.

Precedence, most specific first (spec: "Rules of precedence"):

1. a text rule that matches the reply's words (``data/rules/*.yaml``);
2. the pair of basic and enhanced code (the seeds' defaults, ``421 4.7.0``);
3. the enhanced code (class-specific ``4.7.1``, then the registry's ``X.7.1``,
   then its subject ``X.7`` for private codes such as ``5.7.515``), unless the
   registry calls it undefined (``X.0.0``);
4. the basic code, where a known SMTP stage may decide (552 at RCPT);
5. the reply class.

The basic code decides the outcome (``552 4.2.2`` is permanent); a rule may
override it only where the table says so. A retry hint in the text ("try again in
10 minutes") narrows ``retry_after``; "Retrying will NOT succeed" turns retry off.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path

from .hints import find_no_retry_hint, find_retry_hint
from .reply import (
    MAX_REPLY_CHARS,
    STAGES,
    EnhancedCode,
    Reply,
    find_enhanced_code,
    find_stage,
    parse_reply_or_none,
)
from .rules import words_of
from .tables import CodeEntry, Tables, lookup_enhanced
from .verdict import Category, Outcome, RetryWindow, Verdict

__all__ = ["Classifier", "classify", "normalize_stage"]

_OUTCOME_BY_CLASS = {
    2: Outcome.SUCCESS,
    3: Outcome.SUCCESS,
    4: Outcome.TRANSIENT,
    5: Outcome.PERMANENT,
}
_NO_WAIT = RetryWindow(timedelta(0), timedelta(0))
# Longer input is not cached: the cache holds its keys, and 1,024 hostile
# megabyte replies would hold a gigabyte. Real replies are far shorter.
_CACHED_LENGTH = 4096
_STAGE_ALIASES = {
    "RCPT TO": "RCPT",
    "MAIL FROM": "MAIL",
    "END OF DATA": "EOM",
    "END_OF_DATA": "EOM",
    "DATA_END": "EOM",
    "GREETING": "CONNECT",
    "BANNER": "CONNECT",
    "CONNECTION": "CONNECT",
}


def normalize_stage(stage: str | None) -> str | None:
    """``"rcpt to"`` -> ``"RCPT"``; ``None`` stays None.

    :raises ValueError: for a name that is no SMTP stage.
    """
    if stage is None:
        return None
    name = " ".join(str(stage).upper().split())
    name = _STAGE_ALIASES.get(name, name)
    if name not in STAGES:
        msg = f"stage {stage!r} is not an SMTP stage; use one of {', '.join(STAGES)}"
        raise ValueError(msg)
    return name


class Classifier:
    """Holds loaded tables and classifies replies with them.

    ``Classifier.default()`` uses the shipped tables and is built once;
    ``Classifier.from_paths("overlay.yaml")`` lays user tables on top.
    Results for ``str``/``bytes`` input are cached (``cache_size`` entries).
    """

    def __init__(self, tables: Tables, *, cache_size: int = 1024) -> None:
        self.tables = tables
        # With the RE2 prefilter the reply's words are not needed (see rules.py).
        self._prefiltered = tables.rules.prefilter == "re2"
        self._fields = {
            (category, outcome): (
                policy.scope,
                policy.retry_for(outcome),
                False if outcome is Outcome.SUCCESS else policy.suppress_for(outcome),
                policy.retry_after or _NO_WAIT,
                policy.action,
                policy.suppress_after,
            )
            for category, policy in tables.categories.items()
            for outcome in Outcome
        }
        # Categories some code pair prescribes: only a rule of one of these can
        # inherit a pair's window or action.
        self._pair_categories = frozenset(
            c for e in tables.pairs.values() for c in (e.category, e.transient_category) if c
        )
        # A bounded dict, emptied when full: cheaper per miss than an LRU, and a
        # stream's hot replies are back in it within a few of their repeats.
        self._cache: dict[object, Verdict] = {}
        self._cache_size = max(0, cache_size)
        # Replies seen once (at most 4,096 characters each, see classify). A
        # verdict is cached on its reply's second sighting: a stream of distinct
        # replies then keeps no verdicts alive (holding them cost ~10 % in memory
        # traffic and garbage collection), only its texts.
        self._seen: set[object] = set()
        self._seen_size = 2 * self._cache_size

    @classmethod
    @functools.cache
    def default(cls) -> Classifier:
        """The classifier over the shipped tables (built once, then shared)."""
        return cls(Tables.default())

    @classmethod
    def from_paths(cls, *overlays: str | Path) -> Classifier:
        """A classifier over the default tables with overlay files or folders laid on top.

        :raises TableError: if an overlay is malformed (naming file, entry, problem).
        """
        return cls(Tables.load(*overlays))

    def classify(self, reply: str | bytes | Reply, /, *, stage: str | None = None) -> Verdict:
        """Classify one reply: raw text or bytes, or a parsed :class:`Reply`.

        Never raises for ``str``/``bytes`` input: text without a reply code is
        classified by text rules alone (outcome ``unknown`` when nothing tells).
        ``stage`` is the SMTP command the reply answered, when known.

        :raises TypeError: for input of another type.
        :raises ValueError: for a ``stage`` that is no SMTP stage.
        """
        if stage is not None:
            stage = normalize_stage(stage)
        given: object = reply  # callers without type checking pass anything
        if type(given) is str or isinstance(given, (str, bytes)):
            key = given if stage is None else (given, stage)
            cache = self._cache
            verdict = cache.get(key)
            if verdict is not None:
                return verdict
            parsed = parse_reply_or_none(given)
            if parsed is not None:
                verdict = self._classify_reply(parsed, stage)
            else:
                text = given.decode("utf-8", "replace") if isinstance(given, bytes) else given
                verdict = self._classify_text(text[:MAX_REPLY_CHARS], stage)
            if self._cache_size and len(given) <= _CACHED_LENGTH:
                # Cached on the second sighting (see __init__).
                seen = self._seen
                if key in seen:
                    if len(cache) >= self._cache_size:
                        cache.clear()
                    cache[key] = verdict
                else:
                    if len(seen) >= self._seen_size:
                        seen.clear()
                    seen.add(key)
            return verdict
        if isinstance(given, Reply):
            return self._classify_reply(given, stage)
        return _wrong_type(given)

    __call__ = classify

    def _classify_reply(self, reply: Reply, stage: str | None) -> Verdict:
        tables = self.tables
        stage = stage or reply.stage
        code = reply.code
        enhanced = reply.enhanced
        outcome = _OUTCOME_BY_CLASS.get(code // 100, Outcome.UNKNOWN)
        lowered = reply.text.lower()
        rules = tables.rules
        # The RE2 prefilter reads the text itself; the word index needs its words.
        words = None if self._prefiltered else words_of(lowered)
        # A 2xx/3xx reply was accepted, whatever its text says ("250 ok
        # (greylisting passed)"): text rules speak of failures.
        if outcome is Outcome.SUCCESS:
            rule, hinted = None, False
        else:
            rule, hinted = rules.scan(lowered, code, enhanced, stage, words)
        # The text is searched for retry hints only where the rule set's pass
        # says one may be there.
        hint_text = lowered if hinted else None
        if rule is not None:
            retry_after, action = rule.retry_after, rule.action
            if (
                enhanced is not None
                and (retry_after is None or action is None)
                and rule.category in self._pair_categories
            ):
                # A rule that agrees with a prescribed pair (the seeds' "421 4.7.0:
                # retry in 5-15 minutes") keeps the pair's window and action.
                pair = tables.pairs.get((code, str(enhanced)))
                if pair is not None and pair.category_for(outcome, stage) is rule.category:
                    retry_after = retry_after or pair.retry_after
                    action = action or pair.action
            return self._finish(
                rule.category,
                rule.override_outcome or outcome,
                reply,
                rule.id,
                hint_text,
                rule.retry,
                rule.suppress,
                retry_after,
                action,
                rule.delivery_unknown,
            )
        if outcome is Outcome.SUCCESS:
            entry = tables.basic.get(code)
            rule_id = entry.id if entry else f"class.{code // 100}xx"
            return self._finish(Category.DELIVERED, outcome, reply, rule_id, hint_text)
        entry = self._code_entry(code, enhanced, stage, outcome)
        if entry is None:
            return self._finish(
                Category.UNKNOWN, outcome, reply, f"class.{code // 100}xx", hint_text
            )
        return self._from_entry(entry, outcome, stage, reply, hint_text)

    def _code_entry(
        self, code: int, enhanced: EnhancedCode | None, stage: str | None, outcome: Outcome
    ) -> CodeEntry | None:
        tables = self.tables
        basic = tables.basic.get(code)
        if enhanced is not None:
            pair = tables.pairs.get((code, str(enhanced))) if tables.pairs else None
            if pair is not None:
                return pair
            entry = lookup_enhanced(tables, enhanced)
            if entry is not None and entry.category is not Category.UNKNOWN:
                # An enhanced code that only says "other" about its subject
                # (X.Y.0) defers to a basic code that says more within that
                # subject: "534 5.7.0" is auth_failed (RFC 4954), while
                # "552 5.7.0" stays a policy refusal, not a full mailbox.
                if enhanced.detail == 0 and basic is not None:
                    within = tables.subject_categories.get(enhanced.subject, ())
                    if basic.category_for(outcome, stage) in within:
                        return basic
                return entry
        return basic

    def _from_entry(
        self,
        entry: CodeEntry,
        outcome: Outcome,
        stage: str | None,
        reply: Reply | None,
        hint_text: str | None,
    ) -> Verdict:
        return self._finish(
            entry.category_for(outcome, stage),
            outcome,
            reply,
            entry.id,
            hint_text,
            entry.retry,
            entry.suppress,
            entry.retry_after,
            entry.action,
        )

    def _classify_text(self, text: str, stage: str | None) -> Verdict:
        """Text with no reply code: text rules, then an enhanced code such as ``#4.4.1``."""
        tables = self.tables
        lowered = text.lower()
        rules = tables.rules
        words = None if self._prefiltered else words_of(lowered)
        stage = stage or find_stage(text)
        enhanced = find_enhanced_code(text)
        by_enhanced = _OUTCOME_BY_CLASS.get(enhanced.class_) if enhanced else None
        rule, hinted = rules.scan(lowered, None, enhanced, stage, words)
        hint_text = lowered if hinted else None
        if rule is not None:
            outcome = rule.override_outcome or rule.outcome or by_enhanced or Outcome.UNKNOWN
            return self._finish(
                rule.category,
                outcome,
                None,
                rule.id,
                hint_text,
                rule.retry,
                rule.suppress,
                rule.retry_after,
                rule.action,
                rule.delivery_unknown,
            )
        if enhanced is not None and by_enhanced is not None:
            entry = lookup_enhanced(tables, enhanced)
            if entry is not None:
                return self._from_entry(entry, by_enhanced, stage, None, hint_text)
        return self._finish(Category.UNKNOWN, Outcome.UNKNOWN, None, None, hint_text)

    def _finish(
        self,
        category: Category,
        outcome: Outcome,
        reply: Reply | None,
        rule_id: str | None,
        hint_text: str | None,
        retry: bool | None = None,
        suppress: bool | None = None,
        retry_after: RetryWindow | None = None,
        action: str | None = None,
        delivery_unknown: bool = False,
    ) -> Verdict:
        # The same derivation as policy.make_verdict, from a table of the policy's
        # fields per (category, outcome) made once: this is the hot path.
        # ``hint_text`` is the lower-cased text when it may hold a retry hint.
        scope, p_retry, p_suppress, p_window, p_action, p_after = self._fields[category, outcome]
        if retry is None:
            retry = p_retry
        if retry and hint_text is not None and find_no_retry_hint(hint_text):
            retry = False
        if suppress is None:
            suppress = p_suppress
        window = None
        if retry:
            hinted = find_retry_hint(hint_text) if hint_text is not None else None
            window = hinted or retry_after or p_window
        return Verdict(
            outcome,
            category,
            retry,
            window,
            suppress,
            scope,
            delivery_unknown,
            reply,
            rule_id,
            p_action if action is None else action,
            None,
            None if suppress else p_after,
        )

    def explain(self, code: str) -> list[tuple[str, CodeEntry]]:
        """What the tables say about a code: ``"421"``, ``"5.7.26"`` or ``"421 4.7.0"``.

        Returns ``(kind, entry)`` pairs, most specific first.

        :raises ValueError: if ``code`` is none of those forms.
        """
        text = " ".join(code.split())
        tables = self.tables
        parts = text.split(" ")
        out: list[tuple[str, CodeEntry]] = []
        if len(parts) == 2:
            basic_text, enh_text = parts
            enh = EnhancedCode.parse(enh_text)
            if not (basic_text.isdigit() and len(basic_text) == 3):
                msg = f"{_short(code)} is not a reply code such as 421, 5.7.26 or '421 4.7.0'"
                raise ValueError(msg)
            pair = tables.pairs.get((int(basic_text), str(enh)))
            if pair is not None:
                out.append(("pair", pair))
            out.extend(self.explain(enh_text))
            out.extend(self.explain(basic_text))
            return out
        if text.isdigit() and len(text) == 3:
            entry = tables.basic.get(int(text))
            if entry is None:
                msg = f"{text} is not a reply code the tables know; codes run from 200 to 599"
                raise ValueError(msg)
            return [("basic", entry)]
        try:
            enh = EnhancedCode.parse(
                text.replace("x", "X").replace("X.", "5.", 1)
                if text.upper().startswith("X.")
                else text
            )
        except ValueError:
            msg = f"{_short(code)} is not a reply code such as 421, 5.7.26 or '421 4.7.0'"
            raise ValueError(msg) from None
        specific = tables.enhanced.get(str(enh))
        if specific is not None and not text.upper().startswith("X."):
            out.append(("enhanced", specific))
        registry = tables.enhanced.get(enh.subject_key)
        if registry is not None:
            out.append(("enhanced", registry))
        elif enh.subject in tables.subjects:
            out.append(("subject", tables.subjects[enh.subject]))
        return out


def _short(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:60]) + "..."


def _wrong_type(reply: object) -> Verdict:
    msg = f"classify() takes a reply as str, bytes or Reply, not {type(reply).__name__}"
    raise TypeError(msg)


def classify(reply: str | bytes | Reply, /, *, stage: str | None = None) -> Verdict:
    """Classify one reply with the default tables; see :meth:`Classifier.classify`."""
    return Classifier.default().classify(reply, stage=stage)
