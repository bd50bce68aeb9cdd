"""Load, validate and merge the YAML tables that drive classification.

The YAML under ``data/`` is the single source of truth; it ships inside the wheel
as ``smtpcodes/data`` and is found through :mod:`importlib.resources`. Users lay
their own files over it (:meth:`Tables.load` with overlay paths): an overlay entry
whose id (a rule's ``id``, a code, a category name) already exists *extends* the
default (its keys win), ``replace: true`` replaces it whole and ``disable: true``
removes it; a new id adds an entry.

Every entry is checked against a schema at load time; a problem raises
:class:`~smtpcodes.errors.TableError` naming the file, the entry and what is wrong.
YAML is read with PyYAML's safe loader only (its C version when libyaml is there).
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import attrs
import yaml

from .errors import TableError
from .policy import CategoryPolicy
from .reply import STAGES, EnhancedCode
from .rules import Rule, RuleSet, compile_rule
from .schema import EntryError as _EntryError
from .schema import category_of as _category
from .schema import expect_keys as _expect_keys
from .schema import optional_bool as _bool
from .schema import optional_text as _text
from .verdict import Category, Outcome, RetryWindow, Scope, SuppressAfter

__all__ = ["CodeEntry", "Tables", "data_path", "parse_window"]

# The default files, in load order. Rules and provider profiles are read from
# their folders, sorted by file name.
_DEFAULT_FILES = (
    "categories.yaml",
    "basic_codes.yaml",
    "enhanced_codes.yaml",
    "code_pairs.yaml",
    "seed_defaults.yaml",
)
_DEFAULT_DIRS = ("rules", "providers")
_TOP_KEYS = frozenset({"categories", "codes", "subjects", "rules", "provider"})
_VERDICT_KEYS = frozenset({"category", "retry", "suppress", "retry_after", "action"})
_CODE_KEYS = _VERDICT_KEYS | {
    "code",
    "meaning",
    "title",
    "source",
    "reference",
    "comment",
    "transient_category",
    "stage",
    "delivery_unknown",
    "replace",
    "disable",
    "description",
}
_SUBJECT_KEYS = frozenset(
    {"subject", "title", "category", "transient_category", "reference", "comment"}
)
_CATEGORY_KEYS = frozenset(
    {"scope", "retry", "suppress", "retry_after", "action", "suppress_after", "replace"}
)
_BASIC = re.compile(r"[2-5][0-9][0-9]")
_ENHANCED_KEY = re.compile(r"(X|[245])\.([0-9]{1,3})\.([0-9]{1,3})")
_PAIR = re.compile(r"([2-5][0-9][0-9]) ([245]\.[0-9]{1,3}\.[0-9]{1,3})")


def data_path() -> Path:
    """The folder holding the default tables.

    In an installed wheel that is the package's ``data`` folder; in a source
    checkout (editable install) it is the repository's top-level ``data/``.
    """
    packaged = importlib.resources.files("smtpcodes") / "data"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "data"


@attrs.frozen
class CodeEntry:
    """One row of a code table: a basic code, an enhanced code, a pair or a subject."""

    id: str
    title: str
    category: Category
    transient_category: Category | None = None
    stage: Mapping[str, Category] = attrs.field(factory=dict)
    retry: bool | None = None
    suppress: bool | None = None
    retry_after: RetryWindow | None = None
    action: str | None = None
    reference: str = ""

    def category_for(self, outcome: Outcome, stage: str | None) -> Category:
        """The category under a given outcome and SMTP stage."""
        if stage is not None and stage in self.stage:
            return self.stage[stage]
        if outcome is Outcome.TRANSIENT and self.transient_category is not None:
            return self.transient_category
        return self.category


def _where(kind: str, index: int, key: object) -> str:
    return f"{kind}[{index}] ({key})" if key is not None else f"{kind}[{index}]"


def parse_window(value: object, key: str = "retry_after") -> RetryWindow | None:
    """Read a window: ``[earliest, latest]`` seconds, one number, or null."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise _EntryError(f"{key} must be seconds or [earliest, latest], not {value!r}")
    if isinstance(value, int | float):
        items: list[Any] = [value, value]
    elif isinstance(value, list) and len(value) == 2:
        items = value
    else:
        raise _EntryError(f"{key} must be seconds or [earliest, latest], not {value!r}")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in items):
        raise _EntryError(f"{key} values must be non-negative numbers of seconds, not {value!r}")
    if items[1] < items[0]:
        raise _EntryError(f"{key} latest ({items[1]}) is before earliest ({items[0]})")
    return RetryWindow.seconds(items[0], items[1])


def _stage_map(value: object) -> dict[str, Category]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _EntryError(f"stage must map SMTP stages to categories, not {value!r}")
    out = {}
    for stage, cat in value.items():
        if stage not in STAGES:
            raise _EntryError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
        out[str(stage)] = _category(cat, f"stage {stage}")
    return out


def _code_key(value: object) -> tuple[str, object]:
    """Classify a ``code:`` value as basic (int), enhanced ('X.1.1'/'4.7.0') or pair."""
    text = (
        str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    )
    if _BASIC.fullmatch(text):
        return "basic", int(text)
    m = _ENHANCED_KEY.fullmatch(text)
    if m is not None:
        return "enhanced", text
    m = _PAIR.fullmatch(text)
    if m is not None:
        return "pair", (int(m[1]), m[2])
    raise _EntryError(
        f"code {value!r} is neither a basic code (421), an enhanced code (X.7.1 or 4.7.1) "
        f"nor a pair ('421 4.7.0')"
    )


def _build_code(entry_id: str, entry: Mapping[str, Any]) -> CodeEntry:
    _expect_keys(entry, _CODE_KEYS)
    if "category" not in entry:
        raise _EntryError("category is required")
    transient = entry.get("transient_category")
    return CodeEntry(
        id=entry_id,
        title=_text(entry, "title") or _text(entry, "meaning"),
        category=_category(entry["category"]),
        transient_category=_category(transient, "transient_category") if transient else None,
        stage=_stage_map(entry.get("stage")),
        retry=_bool(entry, "retry"),
        suppress=_bool(entry, "suppress"),
        retry_after=parse_window(entry.get("retry_after")),
        action=_text(entry, "action") or None,
        reference=_text(entry, "reference") or _text(entry, "source"),
    )


def _per_outcome(entry: Mapping[str, Any], key: str) -> tuple[bool, bool]:
    value = entry.get(key)
    if isinstance(value, bool):
        return value, value
    if isinstance(value, dict) and set(value) == {"transient", "permanent"}:
        t, p = value["transient"], value["permanent"]
        if isinstance(t, bool) and isinstance(p, bool):
            return t, p
    raise _EntryError(
        f"{key} must be true/false or {{transient: bool, permanent: bool}}, not {value!r}"
    )


def _build_category(name: object, entry: Mapping[str, Any]) -> CategoryPolicy:
    if not isinstance(entry, dict):
        raise _EntryError("a category policy must be a mapping")
    _expect_keys(entry, _CATEGORY_KEYS)
    category = _category(name, "name")
    try:
        scope = Scope(entry.get("scope"))
    except ValueError:
        raise _EntryError(
            f"scope {entry.get('scope')!r} is not one of {', '.join(s.value for s in Scope)}"
        ) from None
    retry_t, retry_p = _per_outcome(entry, "retry")
    supp_t, supp_p = _per_outcome(entry, "suppress")
    after = entry.get("suppress_after")
    suppress_after = None
    if after is not None:
        if not (
            isinstance(after, dict)
            and set(after) == {"count", "within_days"}
            and isinstance(after["count"], int)
            and after["count"] >= 1
            and isinstance(after["within_days"], int | float)
            and after["within_days"] > 0
        ):
            raise _EntryError("suppress_after must be {count: N >= 1, within_days: D > 0}")
        suppress_after = SuppressAfter(after["count"], timedelta(days=after["within_days"]))
    return CategoryPolicy(
        category=category,
        scope=scope,
        retry_transient=retry_t,
        retry_permanent=retry_p,
        suppress_transient=supp_t,
        suppress_permanent=supp_p,
        retry_after=parse_window(entry.get("retry_after")),
        action=_text(entry, "action"),
        suppress_after=suppress_after,
    )


@attrs.define
class _Pending:
    """Raw entries of one kind, merged across files by id, before validation."""

    entries: dict[object, tuple[dict[str, Any], str]] = attrs.field(factory=dict)

    def merge(self, key: object, entry: dict[str, Any], origin: str) -> None:
        if entry.get("disable") is True:
            self.entries.pop(key, None)
            return
        old = self.entries.get(key)
        if old is None or entry.get("replace") is True:
            self.entries[key] = ({k: v for k, v in entry.items() if k != "replace"}, origin)
        else:
            merged = dict(old[0])
            merged.update({k: v for k, v in entry.items() if k != "replace"})
            self.entries[key] = (merged, origin)


@attrs.frozen
class Tables:
    """Every loaded table: category policies, code tables, text rules, provider profiles."""

    categories: Mapping[Category, CategoryPolicy]
    basic: Mapping[int, CodeEntry]
    enhanced: Mapping[str, CodeEntry]
    pairs: Mapping[tuple[int, str], CodeEntry]
    subjects: Mapping[int, CodeEntry]
    rules: RuleSet
    providers: Mapping[str, tuple[Mapping[str, Any], str]]
    sources: tuple[str, ...]
    subject_categories: Mapping[int, frozenset[Category]] = attrs.field(factory=dict)
    """For each enhanced-code subject (X.7), the categories its registry entries use."""

    @classmethod
    @functools.cache
    def default(cls) -> Tables:
        """The shipped tables, loaded once and cached."""
        return cls.load()

    @classmethod
    def load(cls, *overlays: str | Path, defaults: bool = True) -> Tables:
        """Load the default tables (unless ``defaults=False``) with overlays laid on top.

        An overlay is a YAML file or a folder of ``*.yaml`` files, applied in order.

        :raises TableError: naming the file, the entry and the problem.
        :raises FileNotFoundError: if an overlay path does not exist.
        """
        files: list[Path] = []
        if defaults:
            files.extend(_default_files())
        for overlay in overlays:
            files.extend(_overlay_files(Path(overlay)))
        return cls._from_files(files)

    @classmethod
    def _from_files(cls, files: Iterable[Path]) -> Tables:
        categories, codes, subjects, rules = _Pending(), _Pending(), _Pending(), _Pending()
        providers: dict[str, tuple[Mapping[str, Any], str]] = {}
        sources = []
        for path in files:
            sources.append(str(path))
            doc = _read_yaml(path)
            if "provider" in doc:
                # An e-mail API profile: smtpcodes.apis validates its own schema.
                name = doc["provider"]
                if not isinstance(name, str) or not name:
                    raise TableError(str(path), "provider", "provider must be a non-empty name")
                providers[name] = (doc, str(path))
                continue
            for top in doc:
                if top not in _TOP_KEYS:
                    raise TableError(
                        str(path),
                        None,
                        f"unknown top-level key {top!r}; "
                        f"expected one of {', '.join(sorted(_TOP_KEYS))}",
                    )
            cats = doc.get("categories") or {}
            if not isinstance(cats, dict):
                raise TableError(str(path), "categories", "categories must map names to policies")
            for name, entry in cats.items():
                if not isinstance(entry, dict):
                    raise TableError(
                        str(path), f"categories.{name}", "a category policy must be a mapping"
                    )
                categories.merge(name, entry, f"{path}\0categories.{name}")
            for kind, pending, keyfn in (
                ("codes", codes, _code_key_for),
                ("subjects", subjects, _subject_key_for),
                ("rules", rules, _rule_key_for),
            ):
                items = doc.get(kind) or []
                if not isinstance(items, list):
                    raise TableError(str(path), kind, f"{kind} must be a list of entries")
                for index, entry in enumerate(items):
                    where = _where(
                        kind,
                        index,
                        entry.get("id") or entry.get("code") if isinstance(entry, dict) else None,
                    )
                    if not isinstance(entry, dict):
                        raise TableError(str(path), where, "each entry must be a mapping")
                    try:
                        key = keyfn(entry)
                    except _EntryError as exc:
                        raise TableError(str(path), where, str(exc)) from None
                    pending.merge(key, entry, f"{path}\0{where}")
        return cls(
            categories=_finish(categories, _build_category),
            basic={},
            enhanced={},
            pairs={},
            subjects={},
            rules=RuleSet(()),
            providers=providers,
            sources=tuple(sources),
        )._with_codes(codes, subjects, rules)

    def _with_codes(self, codes: _Pending, subjects: _Pending, rules: _Pending) -> Tables:
        missing = [c.value for c in Category if c not in self.categories]
        if missing and self.categories:
            raise TableError(
                self.sources[0] if self.sources else "tables",
                "categories",
                f"no policy for {', '.join(missing)}",
            )
        basic: dict[int, CodeEntry] = {}
        enhanced: dict[str, CodeEntry] = {}
        pairs: dict[tuple[int, str], CodeEntry] = {}
        for key, (entry, origin) in codes.entries.items():
            kind, value = cast("tuple[str, Any]", key)
            code = _guard(origin, lambda e=entry, k=kind, v=value: _build_code(_entry_id(k, v), e))
            if kind == "basic":
                basic[value] = code
            elif kind == "enhanced":
                enhanced[value] = code
            else:
                pairs[value] = code
        subject_table = {
            key: _guard(origin, lambda e=entry, k=key: _build_subject(k, e))
            for key, (entry, origin) in subjects.entries.items()
        }
        compiled: list[Rule] = []
        for order, (_key, (entry, origin)) in enumerate(rules.entries.items()):
            compiled.append(
                _guard(
                    origin,
                    lambda e=entry, o=order, src=origin: compile_rule(e, o, src.split("\0")[0]),
                )
            )
        by_subject: dict[int, set[Category]] = {}
        for key, code_entry in enhanced.items():
            subject = int(key.split(".")[1])
            found = by_subject.setdefault(subject, set())
            found.add(code_entry.category)
            if code_entry.transient_category is not None:
                found.add(code_entry.transient_category)
        return attrs.evolve(
            self,
            subject_categories={k: frozenset(v) for k, v in by_subject.items()},
            basic=basic,
            enhanced=enhanced,
            pairs=pairs,
            subjects=subject_table,  # type: ignore[arg-type]
            rules=RuleSet(tuple(compiled)),
        )


def _entry_id(kind: str, value: object) -> str:
    if kind == "pair":
        code, enh = cast("tuple[int, str]", value)
        return f"pair.{code}.{enh}"
    return f"{kind}.{value}"


def _build_subject(key: object, entry: Mapping[str, Any]) -> CodeEntry:
    _expect_keys(entry, _SUBJECT_KEYS)
    if "category" not in entry:
        raise _EntryError("category is required")
    transient = entry.get("transient_category")
    return CodeEntry(
        id=f"subject.X.{key}",
        title=_text(entry, "title"),
        category=_category(entry["category"]),
        transient_category=_category(transient, "transient_category") if transient else None,
        reference=_text(entry, "reference"),
    )


def _code_key_for(entry: Mapping[str, Any]) -> object:
    if "code" not in entry:
        raise _EntryError("code is required")
    return _code_key(entry["code"])


def _subject_key_for(entry: Mapping[str, Any]) -> object:
    value = entry.get("subject")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 999:
        raise _EntryError(f"subject must be a number from 0 to 999, not {value!r}")
    return value


def _rule_key_for(entry: Mapping[str, Any]) -> object:
    value = entry.get("id")
    if not isinstance(value, str) or not value.strip():
        raise _EntryError("id is required (a short dotted name such as 'postfix.user_unknown')")
    return value


def _guard(origin: str, build: Any) -> Any:
    try:
        return build()
    except (_EntryError, ValueError) as exc:
        path, _, where = origin.partition("\0")
        raise TableError(path, where or None, str(exc)) from None


def _finish(pending: _Pending, build: Any) -> dict[Any, Any]:
    out = {}
    for key, (entry, origin) in pending.entries.items():
        value = _guard(origin, lambda k=key, e=entry: build(k, e))
        out[value.category] = value
    return out


# The C safe loader builds the same plain data as yaml.SafeLoader, several times
# faster; both refuse Python object tags.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TableError(str(path), None, f"not UTF-8 text ({exc.reason})") from None
    try:
        doc = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise TableError(str(path), where, f"invalid YAML: {problem}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise TableError(
            str(path), None, "the file must hold a mapping (categories:, codes:, rules:, ...)"
        )
    return doc


def _default_files() -> Iterator[Path]:
    root = data_path()
    for name in _DEFAULT_FILES:
        path = root / name
        if path.is_file():
            yield path
    for folder in _DEFAULT_DIRS:
        yield from sorted((root / folder).glob("*.yaml"))


def _overlay_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
    if not path.exists():
        msg = f"overlay {path} does not exist"
        raise FileNotFoundError(msg)
    return [path]


def lookup_enhanced(tables: Tables, code: EnhancedCode) -> CodeEntry | None:
    """The table entry for an enhanced code: class-specific, then registry, then subject."""
    text = str(code)
    entry = tables.enhanced.get(text) or tables.enhanced.get(code.subject_key)
    if entry is not None:
        return entry
    return tables.subjects.get(code.subject)
