"""E-mail API responses (HTTP status, JSON error body, headers) classified into verdicts.

``classify_http(status, body, headers, provider=..., now=...)`` is the entry point;
provider profiles live in ``data/providers/*.yaml`` (see the README, "E-mail API responses").
"""

from __future__ import annotations

from .classify import HttpClassifier, classify_http, normalize_headers
from .profile import ProviderProfile, build_profiles
from .windows import backoff_window, next_full_hour, next_midnight, parse_reset, parse_retry_after

__all__ = [
    "HttpClassifier",
    "ProviderProfile",
    "backoff_window",
    "build_profiles",
    "classify_http",
    "next_full_hour",
    "next_midnight",
    "normalize_headers",
    "parse_reset",
    "parse_retry_after",
]
