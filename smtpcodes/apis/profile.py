"""Provider profiles: how one e-mail API reports errors, and what each error means.

A profile is a YAML file with a top-level ``provider:`` key (``data/providers/*.yaml``
or a user's overlay). :class:`~smtpcodes.tables.Tables` only collects the raw
documents; this module checks them strictly and builds immutable
:class:`ProviderProfile` values. Every problem raises
:class:`~smtpcodes.errors.TableError` naming the file, the entry and what is wrong.
The schema is documented in the README ("Adding a provider") and in the header of
``data/providers/http.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

import attrs

from ..errors import TableError
from ..schema import EntryError as _SchemaError
from ..schema import category_of as _category
from ..schema import expect_keys as _expect_keys
from ..schema import optional_bool as _bool
from ..schema import optional_text as _text
from ..schema import outcome_of
from ..tables import parse_window
from ..verdict import Category, Outcome, RetryWindow
from .body import split_path
from .windows import resolve_timezone

__all__ = [
    "BASE_PROFILE",
    "ErrorEntry",
    "FieldErrorSpec",
    "MessageRule",
    "ProviderProfile",
    "Window",
    "build_profiles",
]

BASE_PROFILE = "http"
"""The status-only profile every other profile falls back to."""

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_STATUS_CLASS = re.compile(r"([1-5])xx")
_TOP_KEYS = frozenset(
    {
        "provider",
        "title",
        "comment",
        "source",
        "reference",
        "inherits",
        "code_paths",
        "code_headers",
        "message_paths",
        "field_errors",
        "request_id_headers",
        "request_id_paths",
        "retry_after_paths",
        "reset_headers",
        "reset_timezone",
        "errors",
        "statuses",
        "messages",
    }
)
_VERDICT_KEYS = frozenset(
    {
        "category",
        "outcome",
        "retry",
        "suppress",
        "window",
        "delivery_unknown",
        "fields",
        "action",
        "title",
        "comment",
        "source",
    }
)
_ERROR_KEYS = _VERDICT_KEYS | {"code", "status", "generic"}
_STATUS_KEYS = _VERDICT_KEYS - {"fields"} | {"status"}
_MESSAGE_KEYS = _VERDICT_KEYS | {"id", "contains", "codes", "statuses"}
_FIELD_ERROR_KEYS = frozenset({"at", "field", "message"})
_WINDOW_WORDS = ("daily", "hourly", "backoff", "none")


@attrs.frozen
class Window:
    """When a retry may succeed: at a reset (``daily``/``hourly``), after a fixed wait, or unknown.

    ``kind`` is ``daily``, ``hourly``, ``fixed`` (``fixed`` holds the window),
    ``backoff`` (the provider recommends exponential backoff) or ``none``.
    """

    kind: str
    fixed: RetryWindow | None = None


@attrs.frozen
class ErrorEntry:
    """The verdict fields one error code, status or message rule decides.

    ``None`` means "not said here": the caller falls back to the status entry, then
    to the category policy.
    """

    key: str
    category: Category
    outcome: Outcome | None = None
    retry: bool | None = None
    suppress: bool | None = None
    window: Window | None = None
    delivery_unknown: bool | None = None
    fields: tuple[tuple[str, Category], ...] = ()
    action: str | None = None
    title: str = ""
    status: int | None = None
    generic: bool = False


@attrs.frozen
class MessageRule:
    """A documented message text that refines a generic or missing error code."""

    entry: ErrorEntry
    contains: tuple[str, ...]
    codes: frozenset[str] | None = None
    statuses: frozenset[int] | None = None

    def matches(self, text_folded: str, code: str | None, status: int) -> bool:
        """Whether this rule applies to a (case-folded) message text, code and status."""
        if self.statuses is not None and status not in self.statuses:
            return False
        if self.codes is not None and (code is None or code.casefold() not in self.codes):
            return False
        return any(part in text_folded for part in self.contains)


@attrs.frozen
class FieldErrorSpec:
    """Where validation errors sit: objects at ``at``, with a ``field`` and a ``message`` key."""

    at: tuple[str, ...]
    field: tuple[str, ...]
    message: tuple[str, ...]


@attrs.frozen
class ProviderProfile:
    """One provider's error vocabulary and where its responses put things."""

    name: str
    source: str
    title: str = ""
    inherits: str | None = BASE_PROFILE
    code_paths: tuple[tuple[str, ...], ...] = ()
    code_headers: tuple[str, ...] = ()
    message_paths: tuple[tuple[str, ...], ...] = ()
    field_errors: tuple[FieldErrorSpec, ...] = ()
    request_id_headers: tuple[str, ...] = ()
    request_id_paths: tuple[tuple[str, ...], ...] = ()
    retry_after_paths: tuple[tuple[str, ...], ...] = ()
    reset_headers: tuple[str, ...] = ()
    reset_timezone: tzinfo | None = None
    errors: Mapping[str, ErrorEntry] = attrs.field(factory=dict)
    statuses: Mapping[str, ErrorEntry] = attrs.field(factory=dict)
    messages: tuple[MessageRule, ...] = ()

    def error(self, code: str) -> ErrorEntry | None:
        """The entry for an error code: exact, then ignoring case."""
        return self.errors.get(code) or self.errors.get(code.casefold())


def _strings(doc: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = doc.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _SchemaError(f"{key} must be a list of non-empty texts")
    return tuple(value)


def _paths(doc: Mapping[str, Any], key: str) -> tuple[tuple[str, ...], ...]:
    return tuple(split_path(p) for p in _strings(doc, key))


def _window(value: object) -> Window | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in _WINDOW_WORDS:
            raise _SchemaError(
                f"window {value!r} is not one of {', '.join(_WINDOW_WORDS)} or [earliest, latest]"
            )
        return Window(value)
    try:
        fixed = parse_window(value, "window")
    except Exception as exc:  # tables raises its own private problem type
        raise _SchemaError(str(exc)) from None
    return Window("fixed", fixed)


def _status_code(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise _SchemaError(f"status must be an HTTP status from 100 to 599, not {value!r}")
    return value


def _status_key(value: object) -> str:
    if isinstance(value, str) and _STATUS_CLASS.fullmatch(value):
        return value
    return str(_status_code(value))


def _fields(value: object) -> tuple[tuple[str, Category], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not value:
        raise _SchemaError("fields must map field names (from, to, sender, ...) to categories")
    out = []
    for name, cat in value.items():
        if not isinstance(name, str) or not name:
            raise _SchemaError(f"fields: {name!r} is not a field name")
        out.append((name.casefold(), _category(cat, f"fields.{name}")))
    return tuple(out)


def _entry(key: str, entry: Mapping[str, Any]) -> ErrorEntry:
    if "category" not in entry:
        raise _SchemaError("category is required")
    status = entry.get("status")
    return ErrorEntry(
        key=key,
        category=_category(entry["category"]),
        outcome=outcome_of(entry.get("outcome")),
        retry=_bool(entry, "retry"),
        suppress=_bool(entry, "suppress"),
        window=_window(entry.get("window")),
        delivery_unknown=_bool(entry, "delivery_unknown"),
        fields=_fields(entry.get("fields")),
        action=_text(entry, "action") or None,
        title=_text(entry, "title"),
        status=_status_code(status)
        if isinstance(status, int) and not isinstance(status, bool)
        else None,
        generic=bool(_bool(entry, "generic")),
    )


def _code_key(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise _SchemaError(f"code must be a non-empty text or number, not {value!r}")
    return str(value).strip()


def _message_rule(index: int, entry: Mapping[str, Any]) -> MessageRule:
    contains = _strings(entry, "contains")
    if not contains:
        raise _SchemaError(
            "contains is required: the text (or list of texts) the message must hold"
        )
    codes = entry.get("codes")
    statuses = entry.get("statuses")
    if codes is not None and (not isinstance(codes, list) or not codes):
        raise _SchemaError("codes must be a list of error codes")
    if statuses is not None and (not isinstance(statuses, list) or not statuses):
        raise _SchemaError("statuses must be a list of HTTP statuses")
    rule_id = _text(entry, "id") or f"message.{index}"
    return MessageRule(
        entry=_entry(rule_id, entry),
        contains=tuple(c.casefold() for c in contains),
        codes=frozenset(_code_key(c).casefold() for c in codes) if codes else None,
        statuses=frozenset(_status_code(s) for s in statuses) if statuses else None,
    )


def _field_errors(doc: Mapping[str, Any]) -> tuple[FieldErrorSpec, ...]:
    value = doc.get("field_errors")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _SchemaError("field_errors must be a list of {at, field, message}")
    out = []
    for spec in value:
        if not isinstance(spec, dict):
            raise _SchemaError("each field_errors entry must be a mapping {at, field, message}")
        _expect_keys(spec, _FIELD_ERROR_KEYS)
        if not isinstance(spec.get("field"), str):
            raise _SchemaError("field_errors: field (the key naming the field) is required")
        at = spec.get("at", "")
        message = spec.get("message", "message")
        if not isinstance(at, str) or not isinstance(message, str):
            raise _SchemaError("field_errors: at and message must be texts")
        out.append(FieldErrorSpec(split_path(at), split_path(spec["field"]), split_path(message)))
    return tuple(out)


def _list_of_maps(doc: Mapping[str, Any], key: str) -> list[Any]:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise _SchemaError(f"{key} must be a list of entries")
    return value


def build_profile(doc: Mapping[str, Any], source: str) -> ProviderProfile:
    """Validate one profile document and build it.

    :raises TableError: naming ``source``, the entry and the problem.
    """

    def fail(where: str | None, problem: object) -> TableError:
        return TableError(source, where, str(problem))

    try:
        _expect_keys(doc, _TOP_KEYS)
        name = doc.get("provider")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise _SchemaError(
                f"provider must be a lower-case name such as 'acme-mail', not {name!r}"
            )
        inherits = doc.get("inherits", None if name == BASE_PROFILE else BASE_PROFILE)
        if inherits is not None and (not isinstance(inherits, str) or not inherits):
            raise _SchemaError("inherits must name another profile (or be null)")
        tz_name = doc.get("reset_timezone")
        if tz_name is not None and not isinstance(tz_name, str):
            raise _SchemaError("reset_timezone must be 'UTC' or an IANA name")
        try:
            reset_tz = resolve_timezone(tz_name) if tz_name else None
        except ValueError as exc:
            raise _SchemaError(str(exc)) from None
        profile = ProviderProfile(
            name=name,
            source=source,
            title=_text(doc, "title"),
            inherits=inherits,
            code_paths=_paths(doc, "code_paths"),
            code_headers=tuple(h.casefold() for h in _strings(doc, "code_headers")),
            message_paths=_paths(doc, "message_paths"),
            field_errors=_field_errors(doc),
            request_id_headers=tuple(h.casefold() for h in _strings(doc, "request_id_headers")),
            request_id_paths=_paths(doc, "request_id_paths"),
            retry_after_paths=_paths(doc, "retry_after_paths"),
            reset_headers=tuple(h.casefold() for h in _strings(doc, "reset_headers")),
            reset_timezone=reset_tz,
        )
        errors_raw = _list_of_maps(doc, "errors")
        statuses_raw = _list_of_maps(doc, "statuses")
        messages_raw = _list_of_maps(doc, "messages")
    except _SchemaError as exc:
        raise fail(None, exc) from None

    errors: dict[str, ErrorEntry] = {}
    for index, raw in enumerate(errors_raw):
        where = f"errors[{index}]" + (
            f" (code {raw.get('code')!r})" if isinstance(raw, dict) else ""
        )
        try:
            if not isinstance(raw, dict):
                raise _SchemaError("each entry must be a mapping")
            _expect_keys(raw, _ERROR_KEYS)
            code = _code_key(raw.get("code"))
            if code in errors or code.casefold() in errors:
                raise _SchemaError(f"code {code!r} is listed twice")
            entry = _entry(code, raw)
        except _SchemaError as exc:
            raise fail(where, exc) from None
        errors[code] = entry
        errors.setdefault(code.casefold(), entry)

    statuses: dict[str, ErrorEntry] = {}
    for index, raw in enumerate(statuses_raw):
        where = f"statuses[{index}]" + (
            f" (status {raw.get('status')!r})" if isinstance(raw, dict) else ""
        )
        try:
            if not isinstance(raw, dict):
                raise _SchemaError("each entry must be a mapping")
            _expect_keys(raw, _STATUS_KEYS)
            key = _status_key(raw.get("status"))
            if key in statuses:
                raise _SchemaError(f"status {key} is listed twice")
            statuses[key] = _entry(f"status.{key}", {k: v for k, v in raw.items() if k != "status"})
        except _SchemaError as exc:
            raise fail(where, exc) from None

    messages = []
    for index, raw in enumerate(messages_raw):
        where = f"messages[{index}]" + (
            f" (id {raw.get('id')!r})" if isinstance(raw, dict) and raw.get("id") else ""
        )
        try:
            if not isinstance(raw, dict):
                raise _SchemaError("each entry must be a mapping")
            _expect_keys(raw, _MESSAGE_KEYS)
            messages.append(_message_rule(index, raw))
        except _SchemaError as exc:
            raise fail(where, exc) from None

    return attrs.evolve(profile, errors=errors, statuses=statuses, messages=tuple(messages))


def build_profiles(docs: Mapping[str, tuple[Mapping[str, Any], str]]) -> dict[str, ProviderProfile]:
    """Validate every raw profile document (``Tables.providers``) and check their links.

    :raises TableError: for a malformed profile, a missing ``http`` base profile, or an
        ``inherits`` that names no profile or forms a cycle.
    """
    profiles = {name: build_profile(doc, source) for name, (doc, source) in docs.items()}
    for profile in profiles.values():
        seen = {profile.name}
        parent = profile.inherits
        while parent is not None:
            if parent not in profiles:
                known = ", ".join(sorted(profiles))
                raise TableError(
                    profile.source, "inherits", f"no profile named {parent!r}; known: {known}"
                )
            if parent in seen:
                raise TableError(
                    profile.source, "inherits", f"profiles inherit in a cycle through {parent!r}"
                )
            seen.add(parent)
            parent = profiles[parent].inherits
    return profiles
