"""The code tables in data/: complete against their RFCs and registry, well formed,
and written in the verdict contract's category names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from smtpcodes.reply import STAGES
from smtpcodes.verdict import Category

DATA = Path(__file__).parents[1] / "data"

# RFC 5321 §4.2.3, the complete numeric list.
RFC5321_CODES = {
    211, 214, 220, 221, 250, 251, 252, 354,
    421, 450, 451, 452, 455,
    500, 501, 502, 503, 504, 550, 551, 552, 553, 554, 555,
}  # fmt: skip
RFC7504_CODES = {521, 556}
RFC4954_CODES = {235, 334, 432, 454, 500, 530, 534, 535, 538}

# The IANA registry (updated 2024-12-06): highest detail number per subject.
# Every subject's details run from 0 without gaps.
REGISTRY_LAST_DETAIL = {0: 0, 1: 10, 2: 4, 3: 6, 4: 7, 5: 6, 6: 10, 7: 30}
REGISTRY_COUNT = 81

OPTIONAL_KEYS = {"retry", "suppress", "retry_after", "action", "stage"}
BASIC_KEYS = {"code", "meaning", "source", "category"}
ENHANCED_KEYS = {"code", "title", "reference", "category"}
CATEGORY_NAMES = {c.value for c in Category}
ENHANCED_CODE = re.compile(r"X\.([0-7])\.(0|[1-9][0-9]{0,2})")
REFERENCE = re.compile(
    r"(RFC [1-9][0-9]{3}|draft-[a-z0-9-]+)(, (RFC [1-9][0-9]{3}|draft-[a-z0-9-]+))*"
)


def _load(name: str) -> dict[str, Any]:
    with (DATA / name).open(encoding="utf-8") as f:
        loaded = yaml.safe_load(f)
    assert isinstance(loaded, dict), f"{name} must hold a mapping at the top"
    return loaded


@pytest.fixture(scope="module")
def basic() -> list[dict[str, Any]]:
    """The entries of data/basic_codes.yaml."""
    codes = _load("basic_codes.yaml")["codes"]
    assert isinstance(codes, list)
    return codes


@pytest.fixture(scope="module")
def enhanced_table() -> dict[str, Any]:
    """The whole of data/enhanced_codes.yaml."""
    return _load("enhanced_codes.yaml")


@pytest.fixture(scope="module")
def enhanced(enhanced_table: dict[str, Any]) -> list[dict[str, Any]]:
    """The code entries of data/enhanced_codes.yaml."""
    codes = enhanced_table["codes"]
    assert isinstance(codes, list)
    return codes


def _by_code(entries: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {e["code"]: e for e in entries}


def _registry_codes() -> set[str]:
    return {
        f"X.{subject}.{detail}"
        for subject, last in REGISTRY_LAST_DETAIL.items()
        for detail in range(last + 1)
    }


def _check_optional_keys(entry: dict[str, Any]) -> None:
    where = f"entry {entry.get('code')!r}"
    if "retry" in entry:
        assert isinstance(entry["retry"], bool), where
    if "suppress" in entry:
        assert isinstance(entry["suppress"], bool), where
    if "retry_after" in entry:
        window = entry["retry_after"]
        assert isinstance(window, list), where
        assert len(window) == 2, where
        assert all(isinstance(s, int) and s >= 0 for s in window), where
        assert window[0] <= window[1], where
    if "action" in entry:
        action = entry["action"]
        assert isinstance(action, str), where
        assert action.strip(), where
        assert action.endswith("."), f"{where}: an action is one full sentence"
    if "stage" in entry:
        stage = entry["stage"]
        assert isinstance(stage, dict), where
        assert stage, where
        assert set(stage) <= set(STAGES), f"{where}: unknown stage in {sorted(stage)}"
        assert set(stage.values()) <= CATEGORY_NAMES, where


class TestBasicCodes:
    """data/basic_codes.yaml."""

    def test_every_rfc5321_code_present(self, basic: list[dict[str, Any]]) -> None:
        """Every reply code of RFC 5321 §4.2.3 has an entry."""
        assert RFC5321_CODES - set(_by_code(basic)) == set()

    def test_rfc7504_codes_present(self, basic: list[dict[str, Any]]) -> None:
        """521 and 556 (RFC 7504) have entries and mean the domain takes no mail."""
        table = _by_code(basic)
        assert set(table) >= RFC7504_CODES
        assert {table[c]["category"] for c in RFC7504_CODES} == {"domain_invalid"}

    def test_rfc4954_codes_present(self, basic: list[dict[str, Any]]) -> None:
        """Every SMTP AUTH reply code of RFC 4954 has an entry."""
        assert RFC4954_CODES - set(_by_code(basic)) == set()

    def test_no_duplicate_codes(self, basic: list[dict[str, Any]]) -> None:
        """No basic code appears twice."""
        codes = [e["code"] for e in basic]
        assert len(codes) == len(set(codes))

    def test_entries_have_required_fields(self, basic: list[dict[str, Any]]) -> None:
        """Each entry has an int code, the RFC's meaning, its source and only known keys."""
        for entry in basic:
            assert set(entry) >= BASIC_KEYS, entry
            assert set(entry) <= BASIC_KEYS | OPTIONAL_KEYS, entry
            assert isinstance(entry["code"], int), entry
            assert 200 <= entry["code"] <= 599, entry
            assert isinstance(entry["meaning"], str), entry
            assert entry["meaning"].strip(), entry
            assert entry["source"].startswith("RFC "), entry
            _check_optional_keys(entry)

    def test_categories_are_contract_names(self, basic: list[dict[str, Any]]) -> None:
        """Every category is a member of smtpcodes.verdict.Category."""
        for entry in basic:
            assert entry["category"] in CATEGORY_NAMES, entry

    def test_positive_replies_are_delivered(self, basic: list[dict[str, Any]]) -> None:
        """2xx/3xx codes are delivered and no 4xx/5xx code is."""
        for entry in basic:
            positive = entry["code"] < 400
            assert (entry["category"] == "delivered") is positive, entry

    @pytest.mark.parametrize(
        ("code", "category"),
        [
            (421, "server_busy"),
            (451, "system_error"),
            (452, "server_busy"),
            (500, "protocol_error"),
            (503, "protocol_error"),
            (530, "auth_required"),
            (535, "auth_failed"),
            (538, "tls_required"),
            (551, "mailbox_unknown"),
            (552, "mailbox_full"),
            (553, "address_invalid"),
        ],
    )
    def test_spec_categories(self, basic: list[dict[str, Any]], code: int, category: str) -> None:
        """Codes the verdict contract or the seeds name get that category."""
        assert _by_code(basic)[code]["category"] == category

    def test_552_at_rcpt_is_too_many_recipients(self, basic: list[dict[str, Any]]) -> None:
        """552 in reply to RCPT means too many recipients (RFC 5321 §4.5.3.1.10)."""
        assert _by_code(basic)[552]["stage"]["RCPT"] == "too_many_recipients"


class TestEnhancedCodes:
    """data/enhanced_codes.yaml."""

    def test_whole_registry_present(self, enhanced: list[dict[str, Any]]) -> None:
        """Every code of the IANA registry has an entry."""
        assert _registry_codes() - set(_by_code(enhanced)) == set()
        assert len(enhanced) >= REGISTRY_COUNT

    def test_registry_count_matches_ranges(self) -> None:
        """The registry's per-subject ranges add up to its published count."""
        assert len(_registry_codes()) == REGISTRY_COUNT

    @pytest.mark.parametrize("detail", range(31))
    def test_security_codes_present(self, enhanced: list[dict[str, Any]], detail: int) -> None:
        """Each of X.7.0 to X.7.30 has an entry."""
        assert f"X.7.{detail}" in _by_code(enhanced)

    def test_no_duplicate_codes(self, enhanced: list[dict[str, Any]]) -> None:
        """No enhanced code appears twice."""
        codes = [e["code"] for e in enhanced]
        assert len(codes) == len(set(codes))

    def test_entries_have_required_fields(self, enhanced: list[dict[str, Any]]) -> None:
        """Each entry has a well-formed code, a title, a reference and only known keys."""
        allowed = ENHANCED_KEYS | OPTIONAL_KEYS | {"transient_category"}
        for entry in enhanced:
            assert set(entry) >= ENHANCED_KEYS, entry
            assert set(entry) <= allowed, entry
            assert ENHANCED_CODE.fullmatch(entry["code"]), entry
            assert isinstance(entry["title"], str), entry
            assert entry["title"].strip() == entry["title"] != "", entry
            assert "\n" not in entry["title"], entry
            assert REFERENCE.fullmatch(entry["reference"]), entry
            _check_optional_keys(entry)

    def test_categories_are_contract_names(self, enhanced: list[dict[str, Any]]) -> None:
        """Every category and transient_category is a member of Category."""
        for entry in enhanced:
            assert entry["category"] in CATEGORY_NAMES, entry
            if "transient_category" in entry:
                assert entry["transient_category"] in CATEGORY_NAMES, entry
                assert entry["transient_category"] != entry["category"], entry

    @pytest.mark.parametrize(
        ("code", "title"),
        [
            ("X.0.0", "Other undefined Status"),
            ("X.1.1", "Bad destination mailbox address"),
            ("X.1.6", "Destination mailbox has moved, No forwarding address"),
            ("X.1.10", "Recipient address has null MX"),
            ("X.2.2", "Mailbox full"),
            ("X.3.4", "Message too big for system"),
            ("X.4.7", "Delivery time expired"),
            ("X.5.6", "Authentication Exchange line is too long"),
            ("X.6.5", "Conversion Failed"),
            ("X.7.1", "Delivery not authorized, message refused"),
            ("X.7.13", "User Account Disabled"),
            ("X.7.26", "Multiple authentication checks failed"),
            ("X.7.28", "Mail flood detected"),
            ("X.7.29", "ARC validation failure"),
            ("X.7.30", "REQUIRETLS support required"),
        ],
    )
    def test_titles_verbatim(self, enhanced: list[dict[str, Any]], code: str, title: str) -> None:
        """Titles are the registry's sample texts, exactly."""
        assert _by_code(enhanced)[code]["title"] == title

    @pytest.mark.parametrize(
        ("code", "reference"),
        [
            ("X.1.9", "RFC 3886"),
            ("X.5.6", "RFC 4954"),
            ("X.6.7", "RFC 6531"),
            ("X.7.10", "RFC 5248"),
            ("X.7.17", "RFC 7293"),
            ("X.7.29", "RFC 8617"),
            ("X.7.30", "RFC 8689"),
        ],
    )
    def test_references(self, enhanced: list[dict[str, Any]], code: str, reference: str) -> None:
        """References name the RFC that registered the code."""
        assert _by_code(enhanced)[code]["reference"] == reference

    @pytest.mark.parametrize(
        ("code", "category"),
        [
            ("X.1.1", "mailbox_unknown"),
            ("X.1.2", "domain_invalid"),
            ("X.1.3", "address_invalid"),
            ("X.1.6", "mailbox_moved"),
            ("X.1.7", "sender_rejected"),
            ("X.1.8", "sender_rejected"),
            ("X.1.10", "domain_invalid"),
            ("X.2.1", "mailbox_disabled"),
            ("X.2.2", "mailbox_full"),
            ("X.2.3", "message_too_large"),
            ("X.3.0", "system_error"),
            ("X.3.4", "message_too_large"),
            ("X.4.4", "domain_invalid"),
            ("X.4.6", "mail_loop"),
            ("X.4.7", "expired"),
            ("X.5.1", "protocol_error"),
            ("X.5.3", "too_many_recipients"),
            ("X.7.0", "policy"),
            ("X.7.8", "auth_failed"),
            ("X.7.10", "tls_required"),
            ("X.7.11", "tls_required"),
            ("X.7.23", "sender_auth"),
            ("X.7.25", "blocked"),
            ("X.7.26", "sender_auth"),
        ],
    )
    def test_permanent_categories(
        self, enhanced: list[dict[str, Any]], code: str, category: str
    ) -> None:
        """A 5.Y.Z code the verdict contract names gets that category."""
        assert _by_code(enhanced)[code]["category"] == category

    @pytest.mark.parametrize(
        ("code", "category"),
        [
            ("X.2.1", "rate_limited"),
            ("X.2.2", "mailbox_full"),
            ("X.3.1", "server_busy"),
            ("X.4.1", "network_error"),
            ("X.4.2", "network_error"),
            ("X.4.3", "dns_error"),
            ("X.4.4", "dns_error"),
            ("X.4.5", "server_busy"),
            ("X.7.28", "rate_limited"),
        ],
    )
    def test_transient_categories(
        self, enhanced: list[dict[str, Any]], code: str, category: str
    ) -> None:
        """A 4.Y.Z code the verdict contract names gets that category."""
        entry = _by_code(enhanced)[code]
        assert entry.get("transient_category", entry["category"]) == category


class TestSubjects:
    """The X.Y fallback for codes outside the registry."""

    def test_every_subject_once(self, enhanced_table: dict[str, Any]) -> None:
        """Subjects 0 to 7 each have exactly one entry."""
        subjects = [s["subject"] for s in enhanced_table["subjects"]]
        assert sorted(subjects) == list(range(8))

    def test_subject_entries(self, enhanced_table: dict[str, Any]) -> None:
        """Each subject has a title and a contract category other than delivered."""
        for entry in enhanced_table["subjects"]:
            assert set(entry) == {"subject", "title", "category"}, entry
            assert entry["title"].endswith("Status"), entry
            assert entry["category"] in CATEGORY_NAMES - {"delivered"}, entry

    @pytest.mark.parametrize(
        ("subject", "category"),
        [(4, "network_error"), (5, "protocol_error"), (6, "content_invalid"), (7, "policy")],
    )
    def test_private_codes_fall_back_by_subject(
        self, enhanced_table: dict[str, Any], subject: int, category: str
    ) -> None:
        """Private codes such as 4.4.317 or 5.7.515 classify by their subject."""
        table = {s["subject"]: s["category"] for s in enhanced_table["subjects"]}
        assert table[subject] == category
