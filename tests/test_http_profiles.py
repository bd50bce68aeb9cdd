"""Provider profiles: strict validation, overlays, and the documented errors of each provider."""

# The table of documented provider errors keeps one case per row, wider than 100 columns.
# ruff: noqa: E501

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from smtpcodes.apis.classify import HttpClassifier, classify_http
from smtpcodes.apis.profile import build_profile, build_profiles
from smtpcodes.errors import TableError
from smtpcodes.tables import Tables

NOW = datetime(2026, 1, 15, 22, 30, tzinfo=timezone.utc)
REQUIRED = {
    "http", "generic", "smtp2go", "migosmtp", "sendgrid", "mailgun", "postmark", "ses",
    "sparkpost", "resend", "brevo", "mailjet",
}  # fmt: skip


def test_every_required_profile_ships() -> None:
    """The shipped profiles cover the seeds and the eight named providers."""
    assert set(HttpClassifier.default().providers) >= REQUIRED


def _problem(doc: dict[str, Any]) -> str:
    with pytest.raises(TableError) as info:
        build_profile(doc, "acme.yaml")
    return str(info.value)


def test_unknown_top_level_key_is_named() -> None:
    """A misspelt top-level key names the file and the key."""
    message = _problem({"provider": "acme", "errorz": []})
    assert message.startswith("acme.yaml")
    assert "'errorz'" in message


def test_bad_category_names_entry() -> None:
    """A wrong category names the entry (index and code) and lists the valid ones."""
    message = _problem({"provider": "acme", "errors": [{"code": "x1", "category": "mailbox_ful"}]})
    assert "errors[0] (code 'x1')" in message
    assert "mailbox_ful" in message
    assert "mailbox_full" in message


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (
            {
                "provider": "acme",
                "errors": [{"code": "a", "category": "policy", "window": "weekly"}],
            },
            "window",
        ),
        (
            {"provider": "acme", "errors": [{"code": "a", "category": "policy", "colour": 1}]},
            "colour",
        ),
        ({"provider": "acme", "errors": [{"category": "policy"}]}, "code"),
        ({"provider": "acme", "errors": [{"code": "a"}]}, "category is required"),
        ({"provider": "acme", "statuses": [{"status": 700, "category": "policy"}]}, "status"),
        (
            {
                "provider": "acme",
                "statuses": [{"status": "4xx", "category": "policy", "fields": {}}],
            },
            "fields",
        ),
        ({"provider": "acme", "messages": [{"category": "policy"}]}, "contains"),
        ({"provider": "acme", "reset_timezone": "Mars/Base"}, "time zone"),
        ({"provider": "Acme Mail"}, "lower-case"),
        (
            {"provider": "acme", "errors": [{"code": "a", "category": "policy", "retry": "yes"}]},
            "true or false",
        ),
        (
            {
                "provider": "acme",
                "errors": [{"code": "a", "category": "policy", "outcome": "maybe"}],
            },
            "outcome",
        ),
        (
            {
                "provider": "acme",
                "errors": [
                    {"code": "a", "category": "policy"},
                    {"code": "A", "category": "policy"},
                ],
            },
            "twice",
        ),
        ({"provider": "acme", "field_errors": [{"at": "errors"}]}, "field"),
    ],
)
def test_schema_problems_are_table_errors(doc: dict[str, Any], fragment: str) -> None:
    """Each kind of schema mistake is a TableError that says what is wrong."""
    assert fragment in _problem(doc)


def test_inherits_must_exist_and_not_cycle() -> None:
    """inherits naming no profile, or a cycle, is a TableError."""
    http = ({"provider": "http", "inherits": None}, "http.yaml")
    with pytest.raises(TableError, match="no profile named 'nope'"):
        build_profiles({"http": http, "a": ({"provider": "a", "inherits": "nope"}, "a.yaml")})
    with pytest.raises(TableError, match="cycle"):
        build_profiles(
            {
                "http": http,
                "a": ({"provider": "a", "inherits": "b"}, "a.yaml"),
                "b": ({"provider": "b", "inherits": "a"}, "b.yaml"),
            }
        )


OVERLAY = """\
provider: acme-mail
title: ACME Mail API (a user's own profile)
code_paths: [problem.type]
message_paths: [problem.detail]
request_id_headers: [X-Acme-Trace]
reset_timezone: Europe/Berlin
errors:
  - code: quota/daily
    category: quota_exceeded
    window: daily
  - code: recipient/blocked
    category: recipient_suppressed
statuses:
  - status: 418
    category: policy
"""


def test_overlay_adds_a_provider(tmp_path: Path) -> None:
    """A YAML file dropped in an overlay folder adds a provider, usable by name."""
    (tmp_path / "acme.yaml").write_text(OVERLAY, encoding="utf-8")
    classifier = HttpClassifier.from_paths(tmp_path)
    daily = classifier.classify(
        429, {"problem": {"type": "quota/daily"}}, {"X-Acme-Trace": "t-1"}, "acme-mail", NOW
    )
    # 22:30 UTC is 23:30 in Berlin (CET): midnight is 30 minutes away.
    assert daily.as_dict()["retry_after"] == [1800.0, 1800.0]
    assert daily.api is not None
    assert daily.api.request_id == "t-1"
    blocked = classifier.classify(
        400, {"problem": {"type": "recipient/blocked"}}, None, "acme-mail", NOW
    )
    assert (blocked.category.value, blocked.suppress) == ("recipient_suppressed", True)
    teapot = classifier.classify(418, None, None, "acme-mail", NOW)
    assert teapot.category.value == "policy"
    inherited = classifier.classify(503, None, None, "acme-mail", NOW)
    assert inherited.category.value == "server_busy"


def test_overlay_through_classify_http_tables(tmp_path: Path) -> None:
    """classify_http(tables=Tables.load(overlay)) sees the overlay's providers."""
    (tmp_path / "acme.yaml").write_text(OVERLAY, encoding="utf-8")
    tables = Tables.load(tmp_path)
    verdict = classify_http(
        400, {"problem": {"type": "recipient/blocked"}}, None, "acme-mail", NOW, tables=tables
    )
    assert verdict.category.value == "recipient_suppressed"
    with pytest.raises(ValueError, match="acme-mail"):
        classify_http(400, None, None, "nobody", NOW, tables=tables)


def test_overlay_replaces_a_shipped_profile(tmp_path: Path) -> None:
    """An overlay with a shipped provider's name replaces that profile."""
    (tmp_path / "smtp2go.yaml").write_text(
        "provider: smtp2go\nstatuses:\n  - {status: 402, category: quota_exceeded}\n",
        encoding="utf-8",
    )
    verdict = HttpClassifier.from_paths(tmp_path).classify(402, None, None, "smtp2go", NOW)
    assert verdict.category.value == "quota_exceeded"
    assert (
        HttpClassifier.default().classify(402, None, None, "smtp2go", NOW).category.value
        == "unknown"
    )


def test_broken_overlay_names_its_file(tmp_path: Path) -> None:
    """A broken overlay profile fails at load with its path in the message."""
    path = tmp_path / "bad.yaml"
    path.write_text("provider: bad\nerrors:\n  - {code: x, category: nope}\n", encoding="utf-8")
    with pytest.raises(TableError, match=r"bad.yaml: errors\[0\]"):
        HttpClassifier.from_paths(path)


# provider, status, body, headers, category, outcome, retry, suppress
PROVIDER_CASES: list[tuple[str | None, int, Any, Any, str, str, bool, bool]] = [
    ("sendgrid", 403, {"errors": [{"message": "The from address does not match a verified Sender Identity."}]},
     None, "sender_auth", "permanent", False, False),
    ("sendgrid", 401, {"errors": [{"message": "Maximum credits exceeded", "field": None}]},
     None, "quota_exceeded", "transient", True, False),
    ("sendgrid", 400, {"errors": [{"message": "Does not contain a valid address.", "field": "from.email"}]},
     None, "sender_rejected", "permanent", False, False),
    ("sendgrid", 401, {"errors": [{"message": "The provided authorization grant is invalid, expired, or revoked"}]},
     None, "auth_failed", "permanent", False, False),
    ("mailgun", 404, {"message": "Domain not found: mg.example.com"}, None, "sender_auth", "permanent", False, False),
    ("mailgun", 403, {"message": "Domain mg.example.com is not allowed to send: Free accounts are for test "
                                 "purposes only. Please upgrade or add the address to authorized recipients"},
     None, "account_problem", "permanent", False, False),
    ("mailgun", 400, {"message": "'to' parameter is not a valid address. please check documentation"},
     None, "address_invalid", "permanent", False, True),
    ("postmark", 422, {"ErrorCode": 406, "Message": "You tried to send to recipient(s) that have been marked as inactive."},
     None, "recipient_suppressed", "permanent", False, True),
    ("postmark", 401, {"ErrorCode": 10, "Message": "No Account or Server API tokens were supplied"},
     None, "auth_required", "permanent", False, False),
    ("postmark", 401, {"ErrorCode": 10, "Message": "Request does not contain a valid Server token."},
     None, "auth_failed", "permanent", False, False),
    ("resend", 451, {"statusCode": 451, "name": "security_error", "message": "We may have found a security issue"},
     None, "virus", "permanent", False, False),
    ("brevo", 401, {"code": "unauthorized", "message": "Unable to send email. Your SMTP account is not yet activated."},
     None, "account_problem", "permanent", False, False),
    (None, 422, {"message": "The to.0.email must be a valid email address.", "errors": {"to.0.email": ["x"]}},
     None, "address_invalid", "permanent", False, True),
    (None, 401, {"statusCode": 401, "error": "Unauthorized", "message": "API key required"},
     None, "auth_required", "permanent", False, False),
    ("postmark", 422, {"ErrorCode": 300, "Message": "Invalid 'From' address: 'x' is not a verified sender signature."},
     None, "sender_auth", "permanent", False, False),
    ("postmark", 422, {"ErrorCode": 300, "Message": "Invalid 'To' address: 'bob@'."},
     None, "address_invalid", "permanent", False, True),
    ("postmark", 422, {"ErrorCode": 300, "Message": "Error parsing 'From': Illegal email address 'me@'."},
     None, "sender_rejected", "permanent", False, False),
    ("postmark", 422, {"ErrorCode": 300, "Message": "Error parsing 'To': Illegal email address 'bob@'."},
     None, "address_invalid", "permanent", False, True),
    (None, 422, {"error": "invalid_recipient", "message": "bad address"},
     None, "address_invalid", "permanent", False, True),
    (None, 403, {"error": "Forbidden", "message": "Sending domain not verified"},
     None, "sender_auth", "permanent", False, False),
    (None, 403, {"error": "Forbidden", "message": "API key lacks permission"},
     None, "account_problem", "permanent", False, False),
    ("postmark", 422, {"ErrorCode": 412, "Message": "Account is pending approval"},
     None, "account_problem", "permanent", False, False),
    ("ses", 400, {"message": "Email address is not verified. The following identities failed the check"},
     {"x-amzn-ErrorType": "MessageRejected:http://internal.amazon.com/coral/com.amazon.ses/"},
     "sender_auth", "permanent", False, False),
    ("ses", 400, {"message": "Account suspended"}, {"x-amzn-ErrorType": "AccountSuspendedException"},
     "account_problem", "permanent", False, False),
    ("ses", 400, {"message": "Sending paused"}, {"x-amzn-ErrorType": "SendingPausedException"},
     "account_problem", "permanent", False, False),
    ("ses", 429, {"message": "Too Many Requests"}, {"x-amzn-ErrorType": "TooManyRequestsException"},
     "rate_limited", "transient", True, False),
    ("ses", 400, {"__type": "com.amazonaws.ses#MessageRejected", "message": "Message contains a virus"},
     None, "virus", "permanent", False, False),
    ("sparkpost", 400, {"errors": [{"message": "Invalid domain", "code": "7001",
                                    "description": "Unconfigured Sending Domain <example.org>"}]},
     None, "sender_auth", "permanent", False, False),
    ("sparkpost", 400, {"errors": [{"message": "Message generation rejected", "code": "1902",
                                    "description": "recipient address suppressed due to customer policy"}]},
     None, "recipient_suppressed", "permanent", False, True),
    ("sparkpost", 420, {"errors": [{"message": "Exceed Sending Limit (daily)", "code": "2102"}]},
     None, "quota_exceeded", "transient", True, False),
    ("resend", 422, {"statusCode": 422, "name": "validation_error", "message": "Invalid `to` field."},
     None, "address_invalid", "permanent", False, True),
    ("resend", 403, {"statusCode": 403, "name": "validation_error",
                     "message": "You can only send testing emails to your own email address (you@example.com)."},
     None, "sender_auth", "permanent", False, False),
    ("resend", 429, {"statusCode": 429, "name": "monthly_quota_exceeded", "message": "quota"},
     None, "quota_exceeded", "transient", True, False),
    ("resend", 401, {"statusCode": 401, "name": "missing_api_key", "message": "Missing API key"},
     None, "auth_required", "permanent", False, False),
    ("brevo", 402, {"code": "not_enough_credits", "message": "Not enough credits"},
     None, "quota_exceeded", "transient", True, False),
    ("brevo", 401, {"code": "unauthorized", "message": "Key not found"}, None, "auth_failed", "permanent", False, False),
    ("brevo", 400, {"code": "invalid_parameter", "message": "sender is invalid / inactive"},
     None, "sender_auth", "permanent", False, False),
    ("mailjet", 403, {"Messages": [{"Status": "error", "Errors": [{"ErrorCode": "send-0008", "StatusCode": 403,
                                    "ErrorMessage": "not an authorized sender", "ErrorRelatedTo": ["From"]}]}]},
     None, "sender_auth", "permanent", False, False),
    ("mailjet", 401, {"ErrorCode": "mj-0015", "ErrorMessage": "no credentials", "StatusCode": 401},
     None, "auth_failed", "permanent", False, False),
    (
        "mailjet", 400,
        {"Messages": [{"Status": "error", "Errors": [{"ErrorCode": "mj-0013", "ErrorMessage": "bad",
                                                      "ErrorRelatedTo": ["To[0].Email"]}]}]},
        None, "address_invalid", "permanent", False, True,
    ),
    # Mailjet without an ErrorCode (v3 API, global errors): the documented message stands in.
    ("mailjet", 400, {"ErrorInfo": "", "ErrorMessage": "\"x@example.org\" is not an authorized sender email address for your account.", "StatusCode": 400},
     None, "sender_auth", "permanent", False, False),
    # Brevo: a malformed sender address is the sender's; an unauthorised IP is the account's.
    ("brevo", 400, {"code": "invalid_parameter", "message": "valid sender email required"}, None, "sender_rejected", "permanent", False, False),
    ("brevo", 401, {"code": "unauthorized", "message": "We have detected you are using an unrecognised IP address 192.0.2.10."},
     None, "account_problem", "permanent", False, False),
    # SES reports its sending rate and 24-hour quota under LimitExceededException.
    ("ses", 400, {"message": "Maximum sending rate exceeded."}, {"x-amzn-ErrorType": "LimitExceededException"}, "rate_limited", "transient", True, False),
    ("ses", 400, {"message": "Too many configuration sets."}, {"x-amzn-ErrorType": "LimitExceededException"}, "account_problem", "permanent", False, False),
    ("ses", 400, {"message": "Address blacklisted."}, {"x-amzn-ErrorType": "MessageRejected"}, "recipient_suppressed", "permanent", False, True),
    # Resend validation_error: a missing field is the request's, even when it is `to`.
    ("resend", 422, {"name": "validation_error", "message": "Missing `to` field."}, None, "protocol_error", "permanent", False, False),
    ("resend", 422, {"name": "validation_error", "message": "Invalid `bcc` field."}, None, "address_invalid", "permanent", False, True),
    # SparkPost 1300 blames the address its description names.
    ("sparkpost", 422, {"errors": [{"code": "1300", "message": "invalid data format/type/length", "description": "Invalid email address in recipients[2].address.email"}]},
     None, "address_invalid", "permanent", False, True),
    ("sparkpost", 422, {"errors": [{"code": "1300", "message": "invalid data format/type/length", "description": "substitution_data must be an object"}]},
     None, "protocol_error", "permanent", False, False),
    ("sparkpost", 400, {"errors": [{"code": "7000", "message": "Sending domain blacklisted"}]}, None, "blocked", "permanent", False, False),
    ("sendgrid", 401, {"errors": [{"message": "authorization required", "field": None}]}, None, "auth_required", "permanent", False, False),
    ("mailgun", 400, {"message": "'bcc' parameter is not a valid address. please check documentation"}, None, "address_invalid", "permanent", False, True),
    ("mailgun", 402, None, None, "unknown", "permanent", False, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "status", "body", "headers", "category", "outcome", "retry", "suppress"),
    PROVIDER_CASES,
)
def test_provider_documented_error(
    provider: str | None,
    status: int,
    body: Any,
    headers: Any,
    category: str,
    outcome: str,
    retry: bool,
    suppress: bool,
) -> None:
    """A documented error of each provider gives the verdict its documentation implies."""
    verdict = classify_http(status, body, headers, provider, NOW)
    got = verdict.as_dict()
    assert (got["category"], got["outcome"], got["retry"], got["suppress"]) == (
        category,
        outcome,
        retry,
        suppress,
    )


def test_ses_code_from_header_is_normalized() -> None:
    """x-amzn-ErrorType's ':url' suffix is cut off the recorded error code."""
    verdict = classify_http(
        400,
        {"message": "x"},
        {"x-amzn-ErrorType": "BadRequestException:http://internal/"},
        "ses",
        NOW,
    )
    assert verdict.api is not None
    assert verdict.api.error_code == "BadRequestException"


def test_unknown_code_falls_back_to_status() -> None:
    """An error code the profile does not know is classified by the status."""
    verdict = classify_http(503, {"error": "brand_new_code"}, None, "migosmtp", NOW)
    assert verdict.category.value == "server_busy"
    assert verdict.rule == "api.migosmtp.status.503"


def test_success_status_wins_over_body_codes() -> None:
    """A 2xx is delivered even when the body carries an ErrorCode (Postmark's 0 = OK)."""
    verdict = classify_http(200, {"ErrorCode": 0, "Message": "OK"}, None, "postmark", NOW)
    assert verdict.category.value == "delivered"
    assert verdict.outcome.value == "success"


def test_ses_daily_quota_is_a_rolling_window() -> None:
    """SES counts its daily quota over a rolling 24 hours, so no reset instant is given."""
    verdict = classify_http(
        400,
        {"message": "Daily message quota exceeded."},
        {"x-amzn-ErrorType": "Throttling"},
        "ses",
        NOW,
    )
    assert (verdict.category.value, verdict.retry, verdict.retry_after) == (
        "quota_exceeded",
        True,
        None,
    )
