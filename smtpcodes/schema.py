"""Checks shared by the YAML table loaders (code tables, rules' siblings, API profiles).

Each check raises :class:`EntryError` with a sentence about one entry; the loader
that knows the file and the entry turns it into a
:class:`~smtpcodes.errors.TableError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .verdict import Category, Outcome

__all__ = [
    "EntryError",
    "category_of",
    "expect_keys",
    "optional_bool",
    "optional_text",
    "outcome_of",
]


class EntryError(Exception):
    """A schema problem in one entry, before the file and entry are known."""


def expect_keys(entry: Mapping[str, Any], allowed: frozenset[str]) -> None:
    """Refuse keys outside ``allowed`` (a typo must not be ignored silently)."""
    unknown = sorted(str(k) for k in entry if k not in allowed)
    if unknown:
        msg = f"unknown key {unknown[0]!r}; allowed keys are {', '.join(sorted(allowed))}"
        raise EntryError(msg)


def category_of(value: object, key: str = "category") -> Category:
    """A category name, or an error listing the names."""
    try:
        return Category(value)
    except ValueError:
        names = ", ".join(c.value for c in Category)
        raise EntryError(f"{key} {value!r} is not a category; use one of {names}") from None


def outcome_of(value: object, key: str = "outcome") -> Outcome | None:
    """An outcome name or None, or an error listing the names."""
    if value is None:
        return None
    try:
        return Outcome(value)
    except ValueError:
        names = ", ".join(o.value for o in Outcome)
        raise EntryError(f"{key} {value!r} is not one of {names}") from None


def optional_bool(entry: Mapping[str, Any], key: str) -> bool | None:
    """``entry[key]`` as true/false, None when absent."""
    value = entry.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise EntryError(f"{key} must be true or false, not {value!r}")


def optional_text(entry: Mapping[str, Any], key: str, default: str = "") -> str:
    """``entry[key]`` as text, ``default`` when absent or null."""
    value = entry.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise EntryError(f"{key} must be text, not {type(value).__name__}")
    return value
