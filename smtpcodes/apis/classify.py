"""Classify an e-mail API's HTTP response into the same :class:`Verdict` as an SMTP reply.

Precedence, most specific first:

1. the provider's machine-readable error code (``error``, ``ErrorCode``,
   ``errors[].code``, an ``x-amzn-ErrorType`` header...), looked up in the profile;
   the code decides, never the human message, because messages change between
   API versions while codes are a contract;
2. a documented message text, only where the provider gives no code or a code the
   profile marks ``generic`` (SES ``BadRequestException``, Postmark ``300``,
   Mailgun, which has no codes at all);
3. the status code in the provider's profile, then in the profiles it inherits
   (finally ``http``, which knows every status class).

A validation error's field can then move the verdict to whoever is at fault: an
invalid ``to`` is the recipient's (``address_invalid``), an invalid ``from`` the
sender's (``sender_rejected``).

Retry windows: a ``Retry-After`` header wins, then a ``retry_after`` the body
gives, then a rate-limit reset header, then the entry's own window (``daily`` ends
at the next midnight of the profile's ``reset_timezone``, ``hourly`` at the next
full hour). Otherwise the response fixes no window and ``retry_after`` is ``None``
("back off as you like"); pass ``attempt=`` to get an exponential-backoff window
for such cases (:func:`~smtpcodes.apis.windows.backoff_window`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any

import attrs

from ..errors import TableError
from ..policy import make_verdict
from ..tables import Tables
from ..verdict import ApiDetails, Category, Outcome, RetryWindow, Verdict
from .body import MAX_TEXT_CHARS, ParsedBody, parse_body, values_at
from .profile import BASE_PROFILE, ErrorEntry, ProviderProfile, Window, build_profiles
from .windows import (
    backoff_window,
    next_full_hour,
    next_midnight,
    parse_reset,
    parse_retry_after,
    resolve_timezone,
)

__all__ = ["HttpClassifier", "classify_http", "normalize_headers"]

# Plan credits and rate limits clear by themselves: the corpus labels them transient
# whatever the status (402, 420, 429), so that they retry.
_ALWAYS_TRANSIENT = frozenset({Category.QUOTA_EXCEEDED, Category.RATE_LIMITED})
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_FIELD_TOKEN = re.compile(r"[a-z_]+")
_MAX_HEADERS = 200
_MAX_FIELD_ERRORS = 50


def normalize_headers(headers: object) -> dict[str, str]:
    """Headers as ``{lower-case name: value}``.

    Accepts a mapping, pairs, or ``"Name: value"`` lines (as the CLI's
    ``--header``). The first value of a repeated header wins.

    :raises TypeError: for anything else.
    """
    if headers is None:
        return {}
    items: Iterable[Any]
    if isinstance(headers, Mapping) or (hasattr(headers, "items") and callable(headers.items)):
        items = headers.items()
    elif isinstance(headers, list | tuple):
        items = headers
    else:
        msg = f"headers must be a mapping or a list of pairs, not {type(headers).__name__}"
        raise TypeError(msg)
    out: dict[str, str] = {}
    for count, item in enumerate(items):
        if count >= _MAX_HEADERS:
            break
        name: object
        value: object
        line = _latin1(item) if isinstance(item, bytes | bytearray) else item
        if isinstance(line, str):
            name, sep, value = line.partition(":")
            if not sep:
                msg = f"header {line[:60]!r} is not 'Name: value'"
                raise ValueError(msg)
        elif isinstance(item, tuple | list) and len(item) == 2:
            name, value = item
        else:
            msg = f"header {item!r:.60} is not a (name, value) pair"
            raise TypeError(msg)
        if value is None:
            continue
        key = _latin1(name).strip().casefold()
        out.setdefault(key, _latin1(value).strip()[:1000])
    return out


def _latin1(value: object) -> str:
    # Raw header bytes (h11, ASGI, httpx's .raw) are ISO-8859-1 by HTTP's rules;
    # str(b"Retry-After") would give "b'Retry-After'".
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return str(value)


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text[:200] or None
    return None


def _first(data: Any, paths: Iterable[tuple[str, ...]]) -> str | None:
    if data is None:
        return None
    for path in paths:
        for value in values_at(data, path):
            text = _scalar(value)
            if text is not None:
                return text
    return None


def _normalize_code(code: str) -> str:
    # AWS: "MessageRejected:http://internal.amazon.com/..." in x-amzn-ErrorType,
    # "com.amazonaws.ses#MessageRejected" in a JSON "__type".
    if "#" in code:
        code = code.rsplit("#", 1)[1]
    if ":" in code and not code.startswith("E_"):
        code = code.split(":", 1)[0]
    return code.strip()


@attrs.frozen
class _Read:
    """What the response said, before any decision."""

    code: str | None
    message: str | None
    text: str
    request_id: str | None
    field_errors: tuple[tuple[str, str], ...]


@attrs.frozen
class HttpClassifier:
    """Classifies HTTP responses with a set of provider profiles (shipped ones plus overlays).

    Build it once and reuse it: ``HttpClassifier.default()``, or
    ``HttpClassifier.from_paths("my_providers/")`` to add or replace providers with
    YAML files of your own.
    """

    profiles: Mapping[str, ProviderProfile]
    tables: Tables

    @classmethod
    def from_tables(cls, tables: Tables) -> HttpClassifier:
        """A classifier over the provider profiles of loaded tables.

        :raises TableError: if a profile is malformed or the ``http`` profile is missing.
        """
        profiles = build_profiles(tables.providers)
        if BASE_PROFILE not in profiles:
            raise TableError(
                "providers",
                None,
                f"the base profile {BASE_PROFILE!r} (data/providers/http.yaml) is missing",
            )
        return cls(profiles=profiles, tables=tables)

    @classmethod
    @functools.cache
    def default(cls) -> HttpClassifier:
        """The shipped profiles, loaded once."""
        return cls.from_tables(Tables.default())

    @classmethod
    def from_paths(cls, *overlays: str | Path) -> HttpClassifier:
        """The shipped profiles with YAML files or folders laid over them.

        A profile whose ``provider:`` name is already known replaces the shipped one.

        :raises TableError: for a malformed file; :raises FileNotFoundError: for a missing path.
        """
        return cls.from_tables(Tables.load(*overlays))

    @property
    def providers(self) -> tuple[str, ...]:
        """The known provider names, sorted."""
        return tuple(sorted(self.profiles))

    def profile(self, provider: str | None) -> ProviderProfile:
        """The profile for a provider name (``None`` is the plain ``http`` profile).

        :raises ValueError: for an unknown name, listing the known ones.
        """
        name = BASE_PROFILE if provider is None else str(provider).strip().casefold()
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(self.providers)
            msg = f"unknown provider {provider!r}; known providers: {known}"
            raise ValueError(msg) from None

    def _chain(self, profile: ProviderProfile) -> list[ProviderProfile]:
        chain = [profile]
        while chain[-1].inherits is not None:
            chain.append(self.profiles[chain[-1].inherits])
        return chain

    def classify(
        self,
        status: int,
        body: object = None,
        headers: object = None,
        provider: str | None = None,
        now: datetime | None = None,
        *,
        timezone_: str | tzinfo | None = None,
        attempt: int | None = None,
    ) -> Verdict:
        """Classify one response; see :func:`classify_http`."""
        code_status = _check_status(status)
        if now is None:
            now = datetime.now(timezone.utc)
        elif not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
            msg = (
                "now must be an aware datetime (with a time zone), e.g. datetime.now(timezone.utc)"
            )
            raise ValueError(msg)
        if attempt is not None and (
            isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1
        ):
            msg = f"attempt must be a whole number from 1 up, not {attempt!r}"
            raise ValueError(msg)
        profile = self.profile(provider)
        chain = self._chain(profile)
        parsed = parse_body(body)
        header_map = normalize_headers(headers)
        read = _read(chain, parsed, header_map)
        status_entry = _status_entry(chain, code_status)
        entry, rule = _decide(chain, read, code_status, status_entry)
        category = _field_category(entry, read.field_errors) or entry.category
        outcome = entry.outcome or _outcome(code_status, category)
        retry = entry.retry
        if retry is None and entry is not status_entry and status_entry.category == category:
            retry = status_entry.retry
        delivery_unknown = entry.delivery_unknown
        if delivery_unknown is None:
            delivery_unknown = bool(status_entry.delivery_unknown)
        verdict = make_verdict(
            category,
            outcome,
            rule=f"api.{profile.name}.{rule}",
            retry=retry,
            suppress=entry.suppress,
            delivery_unknown=delivery_unknown,
            action=entry.action
            or (status_entry.action if category == status_entry.category else None),
            api=ApiDetails(
                provider=profile.name,
                status=code_status,
                error_code=read.code,
                message=read.message,
                request_id=read.request_id,
                field_errors=read.field_errors,
            ),
            policies=self.tables.categories,
        )
        window: RetryWindow | None = None
        if verdict.retry:
            tz = resolve_timezone(timezone_) if timezone_ is not None else _reset_tz(chain)
            window = _retry_window(
                chain,
                parsed,
                header_map,
                entry.window or status_entry.window,
                now=now,
                tz=tz,
                limited=category in _ALWAYS_TRANSIENT,
            )
            if window is None and attempt is not None:
                window = backoff_window(attempt)
        # make_verdict fills a retrying verdict's window from the category policy; an
        # HTTP response that fixes no window must say None ("back off as you like").
        return attrs.evolve(verdict, retry_after=window)


def _check_status(status: object) -> int:
    if isinstance(status, bool):
        status = None
    if isinstance(status, str):
        text = status.strip()
        # ASCII only: str.isdigit() and int() also take Arabic-Indic or full-width digits.
        if len(text) == 3 and text.isascii() and text.isdigit():
            status = int(text)
    if not isinstance(status, int) or not 100 <= status <= 599:
        msg = f"status must be an HTTP status code from 100 to 599, not {status!r}"
        raise ValueError(msg)
    return status


def _reset_tz(chain: list[ProviderProfile]) -> tzinfo:
    for profile in chain:
        if profile.reset_timezone is not None:
            return profile.reset_timezone
    return timezone.utc


def _merged_paths(chain: list[ProviderProfile], attr: str) -> list[Any]:
    out: list[Any] = []
    for profile in chain:
        for item in getattr(profile, attr):
            if item not in out:
                out.append(item)
    return out


def _read(chain: list[ProviderProfile], parsed: ParsedBody, headers: Mapping[str, str]) -> _Read:
    profile = chain[0]
    data = parsed.data
    code = None
    for name in profile.code_headers:
        if headers.get(name):
            code = headers[name][:200]
            break
    if code is None:
        code = _first(data, profile.code_paths)
    if code is not None:
        code = _normalize_code(code) or None
    messages: list[str] = []
    for path in _merged_paths(chain, "message_paths"):
        for value in values_at(data, path) if data is not None else ():
            if isinstance(value, str) and value.strip() and value.strip() not in messages:
                messages.append(value.strip()[:MAX_TEXT_CHARS])
            if len(messages) >= 5:
                break
    message = messages[0] if messages else (parsed.text or None)
    text = " | ".join(messages) if messages else parsed.text
    request_id = None
    for name in _merged_paths(chain, "request_id_headers"):
        if headers.get(name):
            request_id = headers[name][:200]
            break
    if request_id is None:
        request_id = _first(data, _merged_paths(chain, "request_id_paths"))
    return _Read(
        code=code,
        message=message,
        text=text[: MAX_TEXT_CHARS * 3],
        request_id=request_id,
        field_errors=_field_errors(profile, data),
    )


def _field_errors(profile: ProviderProfile, data: Any) -> tuple[tuple[str, str], ...]:
    if data is None:
        return ()
    out: list[tuple[str, str]] = []
    for spec in profile.field_errors:
        for obj in values_at(data, spec.at):
            if not isinstance(obj, Mapping):
                continue
            message = _first(obj, [spec.message]) or ""
            for field in values_at(obj, spec.field):
                name = _scalar(field)
                if name is not None and (name, message) not in out:
                    out.append((name, message[:MAX_TEXT_CHARS]))
            if len(out) >= _MAX_FIELD_ERRORS:
                return tuple(out)
    return tuple(out)


def _status_entry(chain: list[ProviderProfile], status: int) -> ErrorEntry:
    for key in (str(status), f"{status // 100}xx"):
        for profile in chain:
            entry = profile.statuses.get(key)
            if entry is not None:
                return entry
    return ErrorEntry(key=f"status.{status}", category=Category.UNKNOWN)


def _decide(
    chain: list[ProviderProfile], read: _Read, status: int, status_entry: ErrorEntry
) -> tuple[ErrorEntry, str]:
    profile = chain[0]
    coded = profile.error(read.code) if read.code is not None else None
    if 200 <= status < 300:
        # A 2xx was accepted, whatever code-like field the body carries (Postmark's ErrorCode 0).
        return status_entry, status_entry.key
    if coded is not None and not coded.generic:
        return coded, f"code.{coded.key}"
    if read.text:
        folded = read.text.casefold()
        for rule in profile.messages:
            if rule.matches(folded, read.code, status):
                return rule.entry, f"message.{rule.entry.key}"
    if coded is not None:
        return coded, f"code.{coded.key}"
    return status_entry, status_entry.key


def _field_category(
    entry: ErrorEntry, field_errors: tuple[tuple[str, str], ...]
) -> Category | None:
    if not entry.fields:
        return None
    for field, _message in field_errors:
        tokens = set(_FIELD_TOKEN.findall(field.casefold()))
        for name, category in entry.fields:
            if name in tokens:
                return category
    return None


def _outcome(status: int, category: Category) -> Outcome:
    if 200 <= status < 300:
        return Outcome.SUCCESS
    if status < 400:
        return Outcome.UNKNOWN
    if category in _ALWAYS_TRANSIENT or status >= 500 or status in _TRANSIENT_STATUSES:
        return Outcome.TRANSIENT
    return Outcome.PERMANENT


def _retry_window(
    chain: list[ProviderProfile],
    parsed: ParsedBody,
    headers: Mapping[str, str],
    window: Window | None,
    *,
    now: datetime,
    tz: tzinfo,
    limited: bool,
) -> RetryWindow | None:
    hint = parse_retry_after(headers.get("retry-after"), now) if "retry-after" in headers else None
    if hint is not None:
        return hint
    if parsed.data is not None:
        for path in _merged_paths(chain, "retry_after_paths"):
            for value in values_at(parsed.data, path):
                hint = parse_retry_after(value, now) if _scalar(value) is not None else None
                if hint is not None:
                    return hint
    # A rate-limit reset header rides on every response of many APIs; it says when the
    # *limit* resets, so it fixes the window of a rate or quota failure only, never of a
    # 500 that happens to carry it.
    for name in _merged_paths(chain, "reset_headers") if limited else ():
        if name in headers:
            hint = parse_reset(headers[name], now)
            if hint is not None:
                return hint
    if window is None:
        return None
    if window.kind == "daily":
        return next_midnight(now, tz)
    if window.kind == "hourly":
        return next_full_hour(now, tz)
    if window.kind == "fixed":
        return window.fixed
    return None


def classify_http(
    status: int,
    body: object = None,
    headers: object = None,
    provider: str | None = None,
    now: datetime | None = None,
    *,
    tables: Tables | None = None,
    timezone: str | tzinfo | None = None,
    attempt: int | None = None,
) -> Verdict:
    """Classify an e-mail API's HTTP response (status, body, headers) into a :class:`Verdict`.

    :param status: the HTTP status code (100-599).
    :param body: ``bytes``, ``str`` or parsed JSON; non-JSON bodies (an HTML error page
        from a proxy) are read as text, huge ones are cut.
    :param headers: a mapping, pairs, or ``"Name: value"`` lines.
    :param provider: a profile name (``sendgrid``, ``ses``, ``migosmtp``...), or
        ``None`` for the status-only ``http`` profile.
    :param now: when the response arrived (aware ``datetime``; default: now, UTC);
        reset windows count from it.
    :param tables: loaded tables with overlays (default: the shipped ones).
    :param timezone: overrides the profile's ``reset_timezone`` for daily/hourly
        resets (for "midnight in your account's time zone").
    :param attempt: how many attempts were made so far; when given, a retrying
        verdict whose response fixes no window gets an exponential-backoff window.
    :raises ValueError: for an unknown provider (the message lists the known ones), a
        status outside 100-599, a naive ``now`` or an unknown time zone.
    """
    classifier = HttpClassifier.default() if tables is None else _for_tables(tables)
    return classifier.classify(
        status, body, headers, provider, now, timezone_=timezone, attempt=attempt
    )


# Tables are not hashable (they hold dicts); remember the last few by identity and
# keep them alive so that an id is never reused for other tables while cached.
_BY_TABLES: dict[int, tuple[Tables, HttpClassifier]] = {}


def _for_tables(tables: Tables) -> HttpClassifier:
    cached = _BY_TABLES.get(id(tables))
    if cached is not None and cached[0] is tables:
        return cached[1]
    classifier = HttpClassifier.from_tables(tables)
    if len(_BY_TABLES) >= 8:
        _BY_TABLES.pop(next(iter(_BY_TABLES)))
    _BY_TABLES[id(tables)] = (tables, classifier)
    return classifier
