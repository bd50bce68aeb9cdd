"""The registry of bounce format detectors.

Every module in this package (other than :mod:`.base`) defines one
``FORMAT`` (a :class:`~.base.BounceFormat`); :func:`registry` imports them all
and orders them by priority. Adding a format is adding one module.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from .base import BounceFormat, Finding

__all__ = ["BounceFormat", "Finding", "registry"]


@cache
def registry() -> tuple[BounceFormat, ...]:
    """Every known format, in the order detectors run (lowest priority first)."""
    found: list[BounceFormat] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        fmt = getattr(module, "FORMAT", None)
        if isinstance(fmt, BounceFormat):
            found.append(fmt)
    return tuple(sorted(found, key=lambda f: (f.priority, f.name)))
