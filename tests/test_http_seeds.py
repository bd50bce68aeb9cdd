"""Every row of the three API seed documents has a verdict that this file pins down."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from smtpcodes.apis.classify import HttpClassifier, classify_http

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
NOW = datetime(2026, 1, 15, 22, 30, tzinfo=timezone.utc)  # 1 h 30 min before midnight UTC

P, T, S = "permanent", "transient", "success"

# code, status, category, outcome, retry, suppress, delivery_unknown, retry_after (at NOW)
MIGOSMTP_ROWS: list[tuple[str, int, str, str, bool, bool, bool, Any]] = [
    ("authentication_required", 401, "auth_required", P, False, False, False, None),
    ("invalid_api_key", 401, "auth_failed", P, False, False, False, None),
    ("api_key_expired", 401, "auth_failed", P, False, False, False, None),
    ("insufficient_scope", 403, "account_problem", P, False, False, False, None),
    ("ip_not_whitelisted", 403, "account_problem", P, False, False, False, None),
    ("account_suspended", 402, "account_problem", P, False, False, False, None),
    ("account_expired", 402, "account_problem", P, False, False, False, None),
    ("quota_exceeded", 402, "quota_exceeded", T, True, False, False, None),
    ("daily_limit_reached", 429, "quota_exceeded", T, True, False, False, [5400.0, 5400.0]),
    ("hourly_limit_reached", 429, "quota_exceeded", T, True, False, False, [1800.0, 1800.0]),
    ("missing_required_field", 422, "protocol_error", P, False, False, False, None),
    ("invalid_email_address", 422, "address_invalid", P, False, True, False, None),
    ("invalid_phone_number", 422, "address_invalid", P, False, True, False, None),
    ("invalid_json", 400, "protocol_error", P, False, False, False, None),
    ("field_too_long", 422, "content_invalid", P, False, False, False, None),
    ("invalid_template_id", 422, "content_invalid", P, False, False, False, None),
    ("missing_template_variable", 422, "content_invalid", P, False, False, False, None),
    ("domain_not_verified", 422, "sender_auth", P, False, False, False, None),
    ("sender_id_not_registered", 422, "sender_auth", P, False, False, False, None),
    ("resource_not_found", 404, "protocol_error", P, False, False, False, None),
    ("duplicate_resource", 409, "protocol_error", P, False, False, False, None),
    ("duplicate_idempotency_key", 409, "protocol_error", P, False, False, True, None),
    ("resource_limit_reached", 409, "account_problem", P, False, False, False, None),
    ("recipient_suppressed", 422, "recipient_suppressed", P, False, True, False, None),
    ("dnd_number", 422, "recipient_suppressed", P, False, True, False, None),
    ("dlt_scrubbed", 422, "content_invalid", P, False, False, False, None),
    ("whatsapp_template_not_approved", 422, "content_invalid", P, False, False, False, None),
    ("session_window_expired", 422, "policy", P, False, False, False, None),
    ("rate_limit_exceeded", 429, "rate_limited", T, True, False, False, None),
    ("internal_error", 500, "system_error", T, True, False, False, None),
    ("service_unavailable", 503, "server_busy", T, True, False, False, None),
    ("gateway_timeout", 504, "network_error", T, True, False, True, None),
]

GENERIC_ROWS: list[tuple[str, int, str, str, bool, bool, bool, Any]] = [
    ("invalid_api_key", 401, "auth_failed", P, False, False, False, None),
    ("invalid_recipient", 422, "address_invalid", P, False, True, False, None),
    ("domain_not_verified", 403, "sender_auth", P, False, False, False, None),
    ("ip_not_warmed", 403, "account_problem", P, False, False, False, None),
    ("rate_limited", 429, "rate_limited", T, True, False, False, None),
    ("attachment_too_large", 413, "message_too_large", P, False, False, False, None),
    ("daily_quota_exceeded", 429, "quota_exceeded", T, True, False, False, [5400.0, 5400.0]),
]

# status, category, outcome, retry, delivery_unknown
SMTP2GO_STATUSES: list[tuple[int, str, str, bool, bool]] = [
    (200, "delivered", S, False, False),
    (400, "protocol_error", P, False, False),
    (401, "auth_failed", P, False, False),
    (402, "unknown", P, False, False),
    (403, "account_problem", P, False, False),
    (404, "protocol_error", P, False, False),
    (429, "rate_limited", T, True, False),
    (500, "system_error", T, True, False),
    (502, "system_error", T, True, False),
    (503, "server_busy", T, True, False),
    (504, "network_error", T, True, True),
]


def _check(
    verdict: Any,
    category: str,
    outcome: str,
    retry: bool,
    suppress: bool,
    unknown: bool,
    window: Any,
) -> None:
    got = verdict.as_dict()
    assert (
        got["category"],
        got["outcome"],
        got["retry"],
        got["suppress"],
        got["delivery_unknown"],
    ) == (
        category,
        outcome,
        retry,
        suppress,
        unknown,
    )
    assert got["retry_after"] == window


@pytest.mark.parametrize(
    ("code", "status", "category", "outcome", "retry", "suppress", "unknown", "window"),
    MIGOSMTP_ROWS,
)
def test_migosmtp_seed_row(
    code: str,
    status: int,
    category: str,
    outcome: str,
    retry: bool,
    suppress: bool,
    unknown: bool,
    window: Any,
) -> None:
    """Each MigoSMTP/Telnxo error code gives its verdict, read from `error`, not the message."""
    body = {"success": False, "error": code, "message": "text that must not matter", "code": status}
    if category == "address_invalid":
        body["field"] = "to"
    verdict = classify_http(status, body, {"X-Request-ID": "req_8f3a2b1c9d4e7f0a"}, "migosmtp", NOW)
    _check(verdict, category, outcome, retry, suppress, unknown, window)
    assert verdict.api is not None
    assert verdict.api.error_code == code
    assert verdict.api.request_id == "req_8f3a2b1c9d4e7f0a"


@pytest.mark.parametrize(
    ("code", "status", "category", "outcome", "retry", "suppress", "unknown", "window"),
    GENERIC_ROWS,
)
def test_generic_seed_row(
    code: str,
    status: int,
    category: str,
    outcome: str,
    retry: bool,
    suppress: bool,
    unknown: bool,
    window: Any,
) -> None:
    """Each code of the Error Codes Reference gives its verdict under the generic profile."""
    verdict = classify_http(status, {"error": code, "message": "whatever"}, None, "generic", NOW)
    _check(verdict, category, outcome, retry, suppress, unknown, window)


@pytest.mark.parametrize(("status", "category", "outcome", "retry", "unknown"), SMTP2GO_STATUSES)
def test_smtp2go_status_row(
    status: int, category: str, outcome: str, retry: bool, unknown: bool
) -> None:
    """Each SMTP2GO status of the seed table gives its verdict with an empty body."""
    verdict = classify_http(status, None, None, "smtp2go", NOW)
    _check(verdict, category, outcome, retry, False, unknown, None)


def test_smtp2go_api_exception_example() -> None:
    """The seed's API_EXCEPTION example (missing sender on a management call) is a request error."""
    body = {
        "error": "Failed to remove the single sender email - ... or it doesn't exist",
        "error_code": "E_ApiResponseCodes.API_EXCEPTION",
    }
    verdict = classify_http(400, body, None, "smtp2go", NOW)
    _check(verdict, "protocol_error", P, False, False, False, None)
    assert verdict.api is not None
    assert verdict.api.error_code == "E_ApiResponseCodes.API_EXCEPTION"


def test_smtp2go_field_validation_example() -> None:
    """NON_VALIDATING_IN_PAYLOAD on field 'sender' blames the sender and keeps the field error."""
    body = {
        "error": "An error occurred processing the json data you sent with the request ...",
        "error_code": "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD",
        "field_validation_errors": {
            "fieldname": "sender",
            "message": "The field 'sender' was expecting a valid RFC-822 formatted email "
            "field but found 'robs_invalid.com'",
        },
    }
    verdict = classify_http(400, body, None, "smtp2go", NOW)
    _check(verdict, "sender_rejected", P, False, False, False, None)
    assert verdict.scope.value == "sender"
    assert verdict.api is not None
    assert verdict.api.field_errors[0][0] == "sender"
    assert "robs_invalid.com" in verdict.api.field_errors[0][1]


def test_migosmtp_invalid_email_from_blames_sender() -> None:
    """invalid_email_address on `from` is the sender's fault; on `to`, the recipient's."""
    base = {"success": False, "error": "invalid_email_address", "message": "x", "code": 422}
    to = classify_http(422, {**base, "field": "to"}, None, "migosmtp", NOW)
    sender = classify_http(422, {**base, "field": "from"}, None, "migosmtp", NOW)
    assert (to.category.value, to.suppress) == ("address_invalid", True)
    assert (sender.category.value, sender.suppress, sender.scope.value) == (
        "sender_rejected",
        False,
        "sender",
    )
    assert sender.api is not None
    assert sender.api.field_errors == (("from", "x"),)


def test_message_text_does_not_decide_a_known_code() -> None:
    """A message that reads like another error does not change a known code's verdict."""
    body = {
        "success": False,
        "error": "invalid_json",
        "message": "Daily sending limit reached; account suspended",
    }
    verdict = classify_http(400, body, None, "migosmtp", NOW)
    assert verdict.category.value == "protocol_error"


def _seed_codes(text: str) -> set[str]:
    return set(re.findall(r"^\| ([a-z_]+) \| [0-9]{3} \|", text, flags=re.MULTILINE))


def test_every_migosmtp_seed_code_is_profiled_and_tested() -> None:
    """Every code in the MigoSMTP/Telnxo seed table is in the profile and in MIGOSMTP_ROWS."""
    seed = SEEDS / "migosmtp-telnxo-api-errors.txt"
    if not seed.is_file():
        pytest.skip("seed documents not found")
    codes = _seed_codes(seed.read_text(encoding="utf-8"))
    assert len(codes) >= 30
    profile = HttpClassifier.default().profile("migosmtp")
    assert codes <= {row[0] for row in MIGOSMTP_ROWS}
    assert all(profile.error(code) is not None for code in codes)


def test_every_generic_seed_code_is_profiled_and_tested() -> None:
    """Every API error code of the Error Codes Reference is in the generic profile and tested."""
    seed = SEEDS / "error-codes-reference.txt"
    if not seed.is_file():
        pytest.skip("seed documents not found")
    text = seed.read_text(encoding="utf-8").split("API Errors", 1)[1].split("Troubleshooting", 1)[0]
    codes = set(re.findall(r"^([a-z_]+)$", text, flags=re.MULTILINE))
    assert len(codes) == 7
    assert codes == {row[0] for row in GENERIC_ROWS}
    profile = HttpClassifier.default().profile("generic")
    assert all(profile.error(code) is not None for code in codes)
