"""Canned replies: what real servers say, by provider and name, for scripting the test server.

``replies.gmail.mailbox_unknown`` is Gmail's multi-line "account does not exist" reply,
CRLF between its lines, ready for ``smtp_server.on("RCPT", ...)``. The texts live in
``data/canned_replies.yaml``; a name that is a verdict category (``mailbox_unknown``,
``blocked``...) is a reply smtpcodes classifies into that category, other names
(``greeting``, ``ehlo``) are replies without a verdict.

The parser (:meth:`ReplyCatalog.from_mapping`) is pure; :meth:`ReplyCatalog.load`
reads the YAML file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from ..errors import TableError
from .script import normalize_reply

__all__ = ["ProviderReplies", "ReplyCatalog", "replies"]

_FILE_NAME = "canned_replies.yaml"
_NAME = re.compile(r"[a-z][a-z0-9_]*")
# Names the catalog objects use themselves; an entry may not take them.
_RESERVED = frozenset({"names", "provider", "providers", "items", "get", "load", "from_mapping"})


class ProviderReplies:
    """The canned replies of one provider; each is an attribute holding the exact reply text."""

    def __init__(self, provider: str, entries: Mapping[str, str]) -> None:
        self._provider = provider
        self._entries = dict(entries)

    def __repr__(self) -> str:
        return f"<canned replies of {self._provider}: {', '.join(self._entries)}>"

    def __getattr__(self, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            msg = f"There is no canned reply {self._provider}.{name}; it has: {known}."
            raise AttributeError(msg) from None

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._entries})

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    @property
    def provider(self) -> str:
        """The provider's name, as in ``replies.<provider>``."""
        return self._provider

    @property
    def names(self) -> tuple[str, ...]:
        """The names of this provider's replies, in file order."""
        return tuple(self._entries)

    def get(self, name: str) -> str | None:
        """The reply called ``name``, or ``None`` if this provider has none by that name."""
        return self._entries.get(name)

    def items(self) -> Iterator[tuple[str, str]]:
        """Pairs of (name, reply text)."""
        return iter(self._entries.items())


class ReplyCatalog:
    """Canned replies by provider: ``catalog.gmail.mailbox_unknown``."""

    def __init__(self, providers: Mapping[str, Mapping[str, str]]) -> None:
        self._providers = {
            name: ProviderReplies(name, entries) for name, entries in providers.items()
        }

    def __repr__(self) -> str:
        return f"<canned replies of {', '.join(self._providers)}>"

    def __getattr__(self, name: str) -> ProviderReplies:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._providers[name]
        except KeyError:
            known = ", ".join(sorted(self._providers))
            msg = f"There are no canned replies for a provider called {name!r}; known: {known}."
            raise AttributeError(msg) from None

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._providers})

    def __iter__(self) -> Iterator[ProviderReplies]:
        return iter(self._providers.values())

    @property
    def providers(self) -> tuple[str, ...]:
        """The providers' names, in file order."""
        return tuple(self._providers)

    def items(self) -> Iterator[tuple[str, str, str]]:
        """Triples of (provider, name, reply text) over the whole catalog."""
        for provider in self._providers.values():
            for name, text in provider.items():
                yield provider.provider, name, text

    @classmethod
    def from_mapping(cls, data: object, *, source: str = _FILE_NAME) -> ReplyCatalog:
        """Build a catalog from parsed YAML: ``{provider: {name: reply text}}``.

        Names must be lowercase identifiers and every text an SMTP reply (same code on
        every line, ``-`` continuations); line breaks become CRLF. Raises
        :class:`~smtpcodes.errors.TableError` naming the entry at fault.
        """
        if not isinstance(data, Mapping):
            raise TableError(source, None, "the file must map provider names to their replies.")
        providers: dict[str, dict[str, str]] = {}
        for provider, entries in data.items():
            _check_name(source, str(provider), provider)
            if not isinstance(entries, Mapping):
                problem = "a provider must map reply names to reply texts."
                raise TableError(source, str(provider), problem)
            texts: dict[str, str] = {}
            for name, text in entries.items():
                where = f"{provider}.{name}"
                _check_name(source, where, name)
                if not isinstance(text, str):
                    raise TableError(source, where, "the reply must be a string.")
                try:
                    texts[name] = normalize_reply(text)
                except ValueError as error:
                    raise TableError(source, where, str(error)) from None
            providers[provider] = texts
        return cls(providers)

    @classmethod
    def load(cls, path: str | Path | None = None) -> ReplyCatalog:
        """Read the catalog from ``path``, or from the one shipped with smtpcodes."""
        if path is None:
            from ..tables import data_path  # the table module is heavier

            path = data_path() / _FILE_NAME
        file = Path(path)
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise TableError(str(file), None, f"the file is not valid YAML: {error}") from None
        return cls.from_mapping(data, source=str(file))


def _check_name(source: str, where: str, name: object) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problem = f"{name!r} is not a valid name: use lowercase letters, digits and underscores."
        raise TableError(source, where, problem)
    if name in _RESERVED:
        raise TableError(source, where, f"{name!r} is reserved by the catalog; pick another name.")


#: The catalog shipped with smtpcodes (``data/canned_replies.yaml``).
replies = ReplyCatalog.load()
