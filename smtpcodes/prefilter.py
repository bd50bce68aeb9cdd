"""A one-pass prefilter over all rule alternatives, built on RE2 when it is installed.

RE2 (the ``google-re2`` package) matches a whole set of patterns against a text
in one linear pass and reports which of them match. The classifier uses that as
a *prefilter*: every alternative of every rule is added to one RE2 set, in a form
that matches at least wherever Python's ``re`` would; the alternatives RE2 reports
are then confirmed, best rule first, with Python's own compiled pattern. So the
verdict is always Python's; RE2 only spares the searches that cannot succeed.

Two sets serve two kinds of text. RE2's ``\\b``, ``\\w`` and ``\\s`` are ASCII
ones; on ASCII text (nearly every reply) they agree with Python's, so RE2's
answer can be trusted outright. On other text ("service refusé") RE2's word edge
would miss where Python's matches, so the set for it drops word edges and widens
the classes: a superset, confirmed by Python.

An alternative RE2 cannot compile (look-behind, back-references) is represented
in the set by its rarest required words instead, and one with no such words is
confirmed on every reply. Without RE2 the rule index of :mod:`smtpcodes.rules`
does the prefiltering on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .regex_text import group_end, pieces

__all__ = [
    "Re2Prefilter",
    "exact_in_re2",
    "has_lookaround",
    "narrow_for_re2",
    "re2_available",
    "widen_for_re2",
]

try:
    import re2 as _re2
except ImportError:  # pragma: no cover - exercised where google-re2 is missing
    _re2 = None

# On ASCII text RE2's classes are Python's but for \s: Python's also matches \v
# and \x1c-\x1f (str.isspace), so the narrow form spells it out.
_ASCII_SPACE = r"\s\x0b\x1c-\x1f"
_NARROW = {"s": _ASCII_SPACE}
# Python's \s, \w and \d match Unicode; RE2's match ASCII only. For text that is
# not ASCII each is widened so that RE2 matches a superset of what Python
# matches (Python confirms anyway).
_SPACE = r"\s\x0b\p{Z}\x{1c}-\x{1f}\x{85}"
_WORD = r"\w\p{L}\p{N}\p{M}"
_DIGIT = r"\d\p{Nd}"
_WIDEN = {"s": _SPACE, "w": _WORD, "d": _DIGIT}
# Syntax RE2 does not have and that cannot be widened away: back-references,
# atomic groups, conditionals, Python's named back-reference.
_UNSUPPORTED = re.compile(r"\(\?[>(]|\\[1-9]|\(\?P=")
# A look-around only restricts where a pattern matches: without it the pattern
# matches a superset, which is all a prefilter needs.
_LOOKAROUND = re.compile(r"\(\?<?[=!]")


def re2_available() -> bool:
    """Whether the ``google-re2`` package can be imported here."""
    return _re2 is not None


def widen_for_re2(source: str) -> str | None:
    """The pattern rewritten for RE2 so that it matches at least what ``re`` matches.

    For any text: Unicode classes are widened, and look-arounds and word edges
    (``\\b``, ``\\B``) dropped, since RE2's word edge is an ASCII one ("é" is no
    word character to it). Returns None when the pattern uses syntax RE2 lacks
    and that cannot be dropped (back-references, atomic groups).
    """
    return _rewrite(source, unicode=True)


def narrow_for_re2(source: str) -> str | None:
    """The pattern rewritten for RE2 so that, on ASCII text, it matches where ``re`` does.

    Look-arounds are dropped (the form then matches a superset: see
    :func:`exact_in_re2`); ``\\s`` gets Python's extra ASCII spaces. None as for
    :func:`widen_for_re2`.
    """
    return _rewrite(source, unicode=False)


def exact_in_re2(source: str) -> bool:
    """Whether :func:`narrow_for_re2` matches exactly where ``re`` does on ASCII text.

    Not so with a look-around (dropped), or ``\\S`` inside a class (RE2's
    ``\\S`` also takes ``\\v`` and ``\\x1c``-``\\x1f``).
    """
    if has_lookaround(source):
        return False
    return not any(piece == "\\S" and in_class for _i, piece, in_class in pieces(source))


def _rewrite(source: str, *, unicode: bool) -> str | None:
    if _UNSUPPORTED.search(source):
        return None
    classes = _WIDEN if unicode else _NARROW
    out: list[str] = []
    skip_to = -1
    for index, piece, in_class in pieces(source):
        if index < skip_to:
            continue
        if piece[0] == "\\" and piece[1:] in classes:
            replaced = classes[piece[1:]]
            out.append(replaced if in_class else f"[{replaced}]")
        elif piece == "\\S" and not in_class:
            # Python's \S leaves out the spaces its \s adds; on ASCII text RE2's
            # would take them.
            out.append(piece if unicode else f"[^{_ASCII_SPACE}]")
        elif unicode and piece in ("\\b", "\\B") and not in_class:
            continue
        elif piece == "(" and not in_class and _LOOKAROUND.match(source, index):
            skip_to = group_end(source, index)
        else:
            out.append(piece)
    return "".join(out)


def has_lookaround(source: str) -> bool:
    """Whether the pattern has a look-around (so its RE2 form is only a superset)."""
    return _LOOKAROUND.search(source) is not None


class Re2Prefilter:
    """An RE2 set over a list of patterns; :meth:`candidates` names those that may match.

    ``patterns`` are ``(source, fallback_words)`` pairs: a Python pattern's text
    and the words to stand in for it when RE2 cannot take the pattern. A pattern
    with neither form is represented by the empty pattern, so it is a candidate
    for every text.

    A set is for ASCII text (the default: :func:`narrow_for_re2` forms) or, with
    ``unicode=True``, for any text (:func:`widen_for_re2` forms). In the ASCII set
    :attr:`exact_indices` holds the patterns RE2 runs exactly as Python would, so
    that a match needs no confirming; the Unicode set has none.
    """

    def __init__(
        self, patterns: Iterable[tuple[str, frozenset[str]]], *, unicode: bool = False
    ) -> None:
        if _re2 is None:
            msg = "the google-re2 package is not installed"
            raise RuntimeError(msg)
        options = _re2.Options()
        options.log_errors = False
        options.max_mem = 256 << 20
        self._set: Any = _re2.Set.SearchSet(options)
        exact: set[int] = set()
        rewrite = widen_for_re2 if unicode else narrow_for_re2
        for index, (source, words) in enumerate(patterns):
            form = rewrite(source)
            if form is not None and self._add(form):
                if not unicode and exact_in_re2(source):
                    exact.add(index)
            elif not (words and self._add("|".join(sorted(words)))):
                self._add("")
        self._set.Compile()
        # The wrapper's Match re-checks the type and re-encodes; the compiled set
        # underneath takes bytes directly. Fall back to the wrapper if it changes.
        self._match = getattr(getattr(self._set, "_set", None), "Match", None) or self._set.Match
        self.exact_indices = frozenset(exact)

    def _add(self, pattern: str) -> bool:
        try:
            self._set.Add(pattern)
        except Exception:  # RE2 raises its own error type (re2._re2.Error)
            return False
        return True

    def candidates(self, text: str) -> list[int]:
        """Positions of the patterns that may match ``text``, in ascending order."""
        # Encoded here, not by the wrapper: a lone surrogate must not raise.
        found: list[int] | None = self._match(text.encode("utf-8", "surrogatepass"))
        if not found:
            return []
        found.sort()
        return found
