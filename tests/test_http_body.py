"""Hostile and odd bodies and headers: a verdict or a clear error, never a crash."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpcodes.apis.body import MAX_JSON_BYTES, MAX_TEXT_CHARS, parse_body, values_at
from smtpcodes.apis.classify import HttpClassifier, classify_http, normalize_headers

NOW = datetime(2026, 1, 15, 22, 30, tzinfo=timezone.utc)
PROVIDERS = HttpClassifier.default().providers


def test_body_as_bytes_str_or_json_gives_the_same_verdict() -> None:
    """bytes, str and parsed JSON bodies are read alike."""
    data = {"success": False, "error": "dnd_number", "message": "m", "field": "to"}
    verdicts = [
        classify_http(422, form, None, "migosmtp", NOW)
        for form in (data, json.dumps(data), json.dumps(data).encode())
    ]
    assert {v.category.value for v in verdicts} == {"recipient_suppressed"}
    assert {v.api.error_code for v in verdicts if v.api} == {"dnd_number"}


def test_html_error_page_from_a_proxy() -> None:
    """An HTML 502 page from a proxy is classified by status, its title kept as the message."""
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1>nginx</body></html>"
    verdict = classify_http(502, page, {"Content-Type": "text/html"}, "sendgrid", NOW)
    assert verdict.category.value == "system_error"
    assert verdict.retry
    assert verdict.api is not None
    assert verdict.api.message == "502 Bad Gateway"
    assert verdict.api.error_code is None


def test_plain_text_body_feeds_message_rules() -> None:
    """Mailgun's plain-text 'Forbidden' body is read as the message."""
    verdict = classify_http(401, "Forbidden", None, "mailgun", NOW)
    assert verdict.category.value == "auth_failed"
    assert verdict.api is not None
    assert verdict.api.message == "Forbidden"


def test_huge_body_is_not_parsed_but_classified() -> None:
    """A body over the JSON limit is cut and read as text; the status still decides."""
    huge = b'{"error": "dnd_number", "pad": "' + b"x" * (MAX_JSON_BYTES + 10) + b'"}'
    verdict = classify_http(422, huge, None, "migosmtp", NOW)
    assert verdict.category.value == "protocol_error"
    assert verdict.api is not None
    assert len(verdict.api.message or "") <= MAX_TEXT_CHARS


def test_deeply_nested_json_does_not_crash() -> None:
    """JSON nested far beyond the recursion limit is read as text."""
    deep = "[" * 100_000 + "]" * 100_000
    verdict = classify_http(400, deep, None, "sparkpost", NOW)
    assert verdict.category.value == "protocol_error"


def test_invalid_utf8_bytes() -> None:
    """Undecodable bytes are replaced, not fatal."""
    verdict = classify_http(500, b"\xff\xfe\x00garbage\x80", None, None, NOW)
    assert verdict.category.value == "system_error"


def test_path_walk_is_bounded() -> None:
    """A path walk over a very wide list stops at the node budget."""
    wide = {"errors": [{"code": str(i)} for i in range(50_000)]}
    found = list(values_at(wide, ("errors", "code")))
    assert 0 < len(found) < 50_000


def test_body_of_unsupported_type_is_a_type_error() -> None:
    """A body that is neither bytes, str nor JSON is a TypeError naming the type."""
    with pytest.raises(TypeError, match="object"):
        parse_body(object())


@pytest.mark.parametrize("status", [0, 99, 600, -1, "abc", None, True, 42.5])
def test_bad_status_is_a_value_error(status: object) -> None:
    """A status outside 100-599 (or not a number) is a clear ValueError."""
    with pytest.raises(ValueError, match="100 to 599"):
        classify_http(status, None)  # type: ignore[arg-type]


def test_status_as_text_is_accepted() -> None:
    """'429' is read as 429."""
    assert classify_http("429", None).category.value == "rate_limited"  # type: ignore[arg-type]


def test_unknown_provider_lists_known_ones() -> None:
    """An unknown provider is a ValueError listing every known profile."""
    with pytest.raises(ValueError, match="unknown provider 'acme'") as info:
        classify_http(400, None, None, "acme")
    for name in ("sendgrid", "ses", "migosmtp", "http"):
        assert name in str(info.value)


def test_provider_name_is_case_insensitive() -> None:
    """'SendGrid' finds the sendgrid profile."""
    assert classify_http(413, None, None, "SendGrid").api.provider == "sendgrid"  # type: ignore[union-attr]


def test_headers_forms() -> None:
    """Headers may be a mapping, pairs or 'Name: value' lines; names are case-insensitive."""
    assert normalize_headers({"Retry-After": "5"}) == {"retry-after": "5"}
    assert normalize_headers([("X-Request-ID", "r1")]) == {"x-request-id": "r1"}
    assert normalize_headers(["Retry-After: 30"]) == {"retry-after": "30"}
    with pytest.raises(ValueError, match="Name: value"):
        normalize_headers(["no colon here"])
    with pytest.raises(TypeError, match="mapping"):
        normalize_headers(42)


def test_request_id_from_provider_header_or_body() -> None:
    """The request id comes from the provider's header, else from the body."""
    ses = classify_http(400, {"message": "x"}, {"x-amzn-RequestId": "abc-1"}, "ses", NOW)
    smtp2go = classify_http(200, {"request_id": "aa25", "data": {}}, None, "smtp2go", NOW)
    assert ses.api is not None
    assert smtp2go.api is not None
    assert ses.api.request_id == "abc-1"
    assert smtp2go.api.request_id == "aa25"


def test_field_errors_from_sendgrid_and_mailjet() -> None:
    """Validation errors come out as (field, message) pairs for each provider's layout."""
    sendgrid = classify_http(
        400,
        {
            "errors": [
                {
                    "message": "Does not contain a valid address.",
                    "field": "personalizations.0.to.0.email",
                }
            ]
        },
        None,
        "sendgrid",
        NOW,
    )
    mailjet = classify_http(
        400,
        {
            "Messages": [
                {
                    "Status": "error",
                    "Errors": [
                        {
                            "ErrorCode": "mj-0013",
                            "ErrorMessage": '"x@" is an invalid email address.',
                            "ErrorRelatedTo": ["From.Email"],
                        }
                    ],
                }
            ]
        },
        None,
        "mailjet",
        NOW,
    )
    assert sendgrid.category.value == "address_invalid"
    assert sendgrid.api is not None
    assert sendgrid.api.field_errors == (
        ("personalizations.0.to.0.email", "Does not contain a valid address."),
    )
    assert mailjet.category.value == "sender_rejected"
    assert mailjet.api is not None
    assert mailjet.api.field_errors[0][0] == "From.Email"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(
    status=st.integers(100, 599),
    body=st.binary(max_size=300) | st.text(max_size=300) | json_values,
    provider=st.sampled_from([None, *PROVIDERS]),
    retry_after=st.text(max_size=20),
)
def test_any_input_gives_a_verdict(
    status: int, body: object, provider: str | None, retry_after: str
) -> None:
    """Any status, body, provider and Retry-After give a verdict whose fields agree."""
    headers = {"Retry-After": retry_after, "X-RateLimit-Reset": retry_after}
    verdict = classify_http(status, body, headers, provider, NOW)
    if not verdict.retry:
        assert verdict.retry_after is None
    if verdict.suppress:
        assert verdict.scope.value == "recipient"
    assert verdict.api is not None
    assert verdict.api.status == status


@pytest.mark.parametrize("body", [False, True, 0, 3.5, "null", "false", b"42"])
def test_bare_json_scalars_are_bodies(body: object) -> None:
    """A body that is a bare JSON scalar (false, 42, null) is classified by status."""
    verdict = classify_http(500, body, None, "migosmtp", NOW)
    assert verdict.category.value == "system_error"


def test_raw_bytes_headers_are_decoded() -> None:
    """Raw (bytes, bytes) pairs, as HTTP libraries hand them over, keep their names and values."""
    raw = [(b"Retry-After", b"30"), (b"X-Request-ID", b"r1")]
    assert normalize_headers(raw) == {"retry-after": "30", "x-request-id": "r1"}
    assert normalize_headers({b"Retry-After": b"5"}) == {"retry-after": "5"}
    assert normalize_headers([b"Retry-After: 7"]) == {"retry-after": "7"}
    verdict = classify_http(503, None, raw)
    assert verdict.retry_after is not None
    assert verdict.retry_after.as_seconds() == (30.0, 30.0)
    assert verdict.api is not None
    assert verdict.api.request_id == "r1"


def test_time_zone_of_the_wrong_type_is_a_type_error() -> None:
    """timezone=5 is a TypeError that says what is expected, not an AttributeError."""
    with pytest.raises(TypeError, match="time zone"):
        classify_http(429, {"error": "daily_limit_reached"}, provider="migosmtp", timezone=5)  # type: ignore[arg-type]
