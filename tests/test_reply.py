"""Tests for parse_reply: wire forms, DSN and log forms, hostile input."""

from __future__ import annotations

import pytest

from smtpcodes import EnhancedCode, ReplyParseError, parse_reply, parse_reply_or_none
from smtpcodes.reply import MAX_REPLY_CHARS, find_enhanced_code


class TestWireForms:
    def test_single_line(self) -> None:
        """A one-line reply gives code, enhanced code and text without codes."""
        r = parse_reply("550 5.1.1 <bob@example.org>: User unknown")
        assert r.code == 550
        assert r.enhanced == EnhancedCode(5, 1, 1)
        assert r.text == "<bob@example.org>: User unknown"
        assert r.lines == ("550 5.1.1 <bob@example.org>: User unknown",)

    @pytest.mark.parametrize("sep", ["\r\n", "\n", "\r"])
    def test_multi_line_joins_text_and_strips_repeated_codes(self, sep: str) -> None:
        """Multi-line replies join their text; the repeated codes are dropped."""
        raw = sep.join(
            [
                "450-4.2.1 The user you are trying",
                "450-4.2.1 to contact is receiving",
                "450 4.2.1 mail too quickly.",
            ]
        )
        r = parse_reply(raw)
        assert (r.code, str(r.enhanced)) == (450, "4.2.1")
        assert r.text == "The user you are trying to contact is receiving mail too quickly."
        assert len(r.lines) == 3

    def test_reply_without_enhanced_code(self) -> None:
        """A reply with no enhanced code has enhanced None and keeps its text."""
        r = parse_reply("554 Transaction failed")
        assert r.enhanced is None
        assert r.text == "Transaction failed"

    def test_bare_code(self) -> None:
        """A code alone is a reply with empty text."""
        r = parse_reply("421")
        assert (r.code, r.text) == (421, "")

    def test_mismatched_classes_are_kept_and_flagged(self) -> None:
        """An enhanced code of another class is kept, and the mismatch flagged."""
        r = parse_reply("552 4.2.2 Mailbox full")
        assert str(r.enhanced) == "4.2.2"
        assert r.enhanced_mismatch is True
        assert parse_reply("452 4.2.2 Mailbox full").enhanced_mismatch is False

    def test_private_enhanced_codes_parse(self) -> None:
        """Codes outside the registry (5.7.515, 4.4.317) parse like any other."""
        assert str(parse_reply("550 5.7.515 Access denied").enhanced) == "5.7.515"
        assert str(parse_reply("451 4.4.317 Cannot connect").enhanced) == "4.4.317"

    def test_second_reply_is_not_merged(self) -> None:
        """A following reply with another code is not part of the first."""
        r = parse_reply("250 2.1.0 Ok\n550 5.1.1 nope")
        assert r.code == 250
        assert r.text == "Ok"


class TestRecordedForms:
    @pytest.mark.parametrize("prefix", ["smtp; ", "SMTP;", "X-Postfix; ", "x-unix; "])
    def test_dsn_diagnostic_prefix(self, prefix: str) -> None:
        """A DSN Diagnostic-Code type prefix is skipped."""
        r = parse_reply(prefix + "550 5.1.1 User unknown")
        assert (r.code, str(r.enhanced), r.text) == (550, "5.1.1", "User unknown")

    def test_postfix_log_form(self) -> None:
        """Postfix's 'host ... said: ... (in reply to RCPT TO command)' gives stage and host."""
        r = parse_reply(
            "host mx.example.org[192.0.2.1] said: 550 5.1.1 <b@example.org>: Recipient address "
            "rejected: User unknown (in reply to RCPT TO command)"
        )
        assert r.code == 550
        assert r.stage == "RCPT"
        assert r.remote_host == "mx.example.org"
        assert "in reply to" not in r.text
        assert r.text.endswith("User unknown")

    def test_exim_log_form(self) -> None:
        """Exim's 'SMTP error from remote mail server after RCPT TO:' is read."""
        r = parse_reply(
            "SMTP error from remote mail server after RCPT TO:<bob@example.org>: "
            "host mx.example.org [192.0.2.1]: 550 5.1.1 <bob@example.org>: no mailbox here"
        )
        assert (r.code, r.stage, r.remote_host) == (550, "RCPT", "mx.example.org")

    def test_end_of_data_stage(self) -> None:
        """'in reply to end of DATA command' is the EOM stage."""
        r = parse_reply("host x[192.0.2.1] said: 554 5.7.1 spam (in reply to end of DATA command)")
        assert r.stage == "EOM"

    def test_folded_diagnostic_continuation(self) -> None:
        """Folded continuation lines without a code are part of the text."""
        r = parse_reply("smtp; 550 5.7.1 Message rejected\n    because of policy")
        assert r.text == "Message rejected because of policy"

    def test_numbers_in_noise_are_not_codes(self) -> None:
        """An IP address or a count in leading noise is not taken for a reply code."""
        with pytest.raises(ReplyParseError):
            parse_reply("connect to 203.0.113.250 port 25 failed after 300 seconds")

    @pytest.mark.parametrize(
        ("text", "code", "message"),
        [
            ("mx.example.org said: 550 5.1.1 gone", 550, "gone"),
            ("Remote server replied:   451 4.3.0 try later", 451, "try later"),
            ("delivery failed; error=552 quota exceeded", 552, "quota exceeded"),
            ("[192.0.2.1]: 421 too busy", 421, "too busy"),
            ("Diagnostic-Code:\t550-5.7.1 blocked", 550, "blocked"),
            ("STATUS 554 rejected", 554, "rejected"),
            (
                "SMTP error from remote mail server after RCPT TO:<b@example.org>: 550 gone",
                550,
                "gone",
            ),
            ("SMTP error from remote mail server after end of data: 554 spam", 554, "spam"),
            ("SMTP error from remote mail server after initial connection: 421 busy", 421, "busy"),
            ("for RCPT TO command, host: mx.example.org (192.0.2.1) reason: 550 gone", 550, "gone"),
        ],
    )
    def test_code_after_a_lead_in_noise(self, text: str, code: int, message: str) -> None:
        """A code quoted after "said:", "replied:", "error=", "]:" ... starts the reply."""
        r = parse_reply(text)
        assert (r.code, r.text) == (code, message)

    @pytest.mark.parametrize(
        ("text", "stage"),
        [
            ("SMTP error from remote mail server after RCPT TO:<b@example.org>: 550 x", "RCPT"),
            ("SMTP error from remote mail server after end of data: 554 x", "EOM"),
            ("SMTP error from remote mail server after initial connection: 421 x", "CONNECT"),
            ("SMTP error from remote server for MAIL FROM command, reason: 553 x", "MAIL"),
            ("SMTP error from remote server for RCPT TO command, host: h reason: 550 x", "RCPT"),
        ],
    )
    def test_exim_forms_give_the_stage(self, text: str, stage: str) -> None:
        """Exim's "after <command>:" and "for <command> command" name the stage."""
        assert parse_reply(text).stage == stage

    @pytest.mark.parametrize(
        "text",
        [
            "the <list> 550 members",
            "lost data 550 bytes",
            "the server said:          550 too far from its lead",
            "error=5500 not a code",
            "queued 250 messages said nobody",
        ],
    )
    def test_code_too_far_from_a_lead_is_noise(self, text: str) -> None:
        """More than 8 blanks after the colon, four digits, or no lead: no reply."""
        with pytest.raises(ReplyParseError):
            parse_reply(text)

    def test_a_line_full_of_codes_and_leads(self) -> None:
        """Thousands of code candidates on one line are each read with a bounded window."""
        r = parse_reply("noise " + "x" * 100 + " 5500 " * 2000 + " said: 421 busy")
        assert r.code == 421
        assert r.text == "busy"


class TestParseOrNone:
    def test_none_where_parse_reply_raises(self) -> None:
        """Text without a code gives None; parse_reply raises for the same text."""
        assert parse_reply_or_none("lost connection while receiving the greeting") is None
        assert parse_reply_or_none(b"") is None
        with pytest.raises(ReplyParseError):
            parse_reply("lost connection while receiving the greeting")

    def test_same_reply_as_parse_reply(self) -> None:
        """With a code, both give the same Reply."""
        text = (
            "host mx[192.0.2.1] said: 550-5.1.1 gone\n"
            "550 5.1.1 really (in reply to RCPT TO command)"
        )
        assert parse_reply_or_none(text) == parse_reply(text)

    def test_wrong_type_still_raises(self) -> None:
        """Only missing codes give None: other input is an error."""
        with pytest.raises(TypeError):
            parse_reply_or_none(12)  # type: ignore[arg-type]


class TestBadInput:
    @pytest.mark.parametrize("text", ["", "   ", "hello world", "no code here at all"])
    def test_no_code_raises_clear_error(self, text: str) -> None:
        """Text without a reply code raises ReplyParseError, a ValueError."""
        with pytest.raises(ReplyParseError) as info:
            parse_reply(text)
        assert isinstance(info.value, ValueError)
        assert "reply code" in str(info.value) or "empty" in str(info.value)

    def test_undecodable_bytes(self) -> None:
        """Invalid UTF-8 is replaced, not fatal."""
        r = parse_reply(b"550 5.1.1 \xff\xfe bad \xc3")
        assert r.code == 550
        assert "\ufffd" in r.text

    def test_wrong_type_is_type_error(self) -> None:
        """Anything but str or bytes is a TypeError naming the type."""
        with pytest.raises(TypeError, match="int"):
            parse_reply(550)  # type: ignore[arg-type]

    def test_huge_input_is_truncated(self) -> None:
        """A 1 MB reply is cut to the bound and flagged."""
        r = parse_reply("550 5.1.1 " + "x" * 1_000_000)
        assert r.truncated is True
        assert len(r.text) <= MAX_REPLY_CHARS

    def test_nul_bytes(self) -> None:
        """NUL characters do not break parsing."""
        assert parse_reply("550\x005.1.1 x").code == 550


def test_enhanced_code_parse_and_str() -> None:
    """EnhancedCode round-trips through its text form and rejects other text."""
    assert str(EnhancedCode.parse("4.7.28")) == "4.7.28"
    assert EnhancedCode.parse("5.1.1").subject_key == "X.1.1"
    with pytest.raises(ValueError, match="not an enhanced status code"):
        EnhancedCode.parse("5.1")


def test_find_enhanced_code_qmail_form() -> None:
    """qmail's '(#4.4.1)' is found in codeless text; version numbers are not."""
    assert (
        str(find_enhanced_code("Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)"))
        == "4.4.1"
    )
    assert find_enhanced_code("Postfix 3.4.1.2 here") is None


def test_trailing_qmail_enhanced_code() -> None:
    """A reply whose enhanced code trails in qmail's '(#5.3.4)' form gets it."""
    r = parse_reply("552 sorry, that message size exceeds my databytes limit (#5.3.4)")
    assert str(r.enhanced) == "5.3.4"


class TestFlattenedMultiLine:
    """Bounce readers and logs join a multi-line reply's lines onto one line."""

    def test_inner_markers_are_dropped(self) -> None:
        """'421-4.7.0 a 421-4.7.0 b 421 4.7.0 c' reads as the text 'a b c'."""
        r = parse_reply(
            "421-4.7.0 unusual rate of 421-4.7.0 unsolicited mail 421 4.7.0 from your IP."
        )
        assert (r.code, str(r.enhanced)) == (421, "4.7.0")
        assert r.text == "unusual rate of unsolicited mail from your IP."

    def test_first_code_of_a_flattened_reply_after_noise(self) -> None:
        """Exim's lead text, then a flattened reply: the reply starts at its first line."""
        r = parse_reply(
            "host mx.example.net [192.0.2.1] SMTP error from remote mail server after RCPT "
            "TO:<a@example.net>: 550-Rejected: no reverse DNS. IP=[192.0.2.9] 550-More at "
            "the URL 550 id-1234"
        )
        assert r.code == 550
        assert r.stage == "RCPT"
        assert r.text.startswith("Rejected: no reverse DNS.")
        assert "550-" not in r.text

    def test_numbers_in_prose_stay(self) -> None:
        """A number that merely equals the code is not a marker."""
        assert (
            parse_reply("550 we got 550 messages from you").text == "we got 550 messages from you"
        )
