"""Tests for the classifier: precedence, seeds' defaults, hints, caching, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smtpcodes import Category, Classifier, Outcome, Scope, classify, parse_reply


def fields(reply: str, **kw: str) -> tuple[str, str, bool, bool, str]:
    v = classify(reply, **kw)  # type: ignore[arg-type]
    return (v.outcome.value, v.category.value, v.retry, v.suppress, v.scope.value)


class TestSeedDefaults:
    """The user's documents prescribe these; they are the default behaviour."""

    def test_421_470_retry_in_5_to_15_minutes(self) -> None:
        """421 4.7.0: transient, retry in 5-15 min."""
        v = classify("421 4.7.0 Service temporarily unavailable")
        assert (v.outcome, v.retry) == (Outcome.TRANSIENT, True)
        assert v.retry_after is not None
        assert v.retry_after.as_seconds() == (300, 900)

    def test_450_471_retry_in_30_to_60_minutes(self) -> None:
        """450 4.7.1 'mailbox temporarily unavailable': retry in 30-60 min."""
        v = classify("450 4.7.1 Mailbox temporarily unavailable")
        assert v.retry is True
        assert v.retry_after is not None
        assert v.retry_after.as_seconds() == (1800, 3600)

    def test_452_422_suppress_no_retry(self) -> None:
        """452 4.2.2 mailbox full: remove from list, don't retry."""
        assert fields("452 4.2.2 Mailbox full") == (
            "transient",
            "mailbox_full",
            False,
            True,
            "recipient",
        )

    def test_550_511_suppress_at_once(self) -> None:
        """550 5.1.1: suppress, never retry."""
        assert fields("550 5.1.1 User unknown") == (
            "permanent",
            "mailbox_unknown",
            False,
            True,
            "recipient",
        )

    def test_451_445_server_busy(self) -> None:
        """451 4.4.5 server too busy: retry."""
        assert fields("451 4.4.5 Server too busy")[:3] == ("transient", "server_busy", True)


class TestPrecedence:
    def test_basic_code_decides_outcome_on_class_mismatch(self) -> None:
        """552 4.2.2 is permanent; 421 5.7.32 transient: the basic code wins."""
        assert classify("552 4.2.2 Mailbox full").outcome is Outcome.PERMANENT
        assert classify("421 5.7.0 closing").outcome is Outcome.TRANSIENT

    def test_enhanced_beats_basic(self) -> None:
        """550 alone is vague; 550 5.1.2 is a bad domain."""
        assert classify("550 5.1.2 whatever").category is Category.DOMAIN_INVALID

    def test_private_codes_fall_back_to_subject(self) -> None:
        """Codes outside the registry classify by their subject."""
        v = classify("451 4.4.317 whatever happened")
        assert v.category is Category.NETWORK_ERROR
        assert v.outcome is Outcome.TRANSIENT

    def test_stage_decides_552_at_rcpt(self) -> None:
        """552 in reply to RCPT is too_many_recipients (RFC 5321 §4.5.3.1.10)."""
        assert classify("552 Too much", stage="RCPT").category is Category.TOO_MANY_RECIPIENTS
        assert classify("552 Too much", stage="rcpt to").category is Category.TOO_MANY_RECIPIENTS
        assert classify("552 Too much").category is not Category.TOO_MANY_RECIPIENTS

    def test_stage_from_log_text(self) -> None:
        """A Postfix log's '(in reply to RCPT TO command)' counts as the stage."""
        v = classify("host mx.example.org[192.0.2.1] said: 552 sorry (in reply to RCPT TO command)")
        assert v.category is Category.TOO_MANY_RECIPIENTS

    def test_success(self) -> None:
        """2xx is delivered, never retried or suppressed."""
        v = classify("250 2.0.0 OK queued as 12345")
        assert (v.outcome, v.category, v.retry, v.suppress) == (
            Outcome.SUCCESS,
            Category.DELIVERED,
            False,
            False,
        )

    def test_unknown_code_falls_back_to_class(self) -> None:
        """An unlisted basic code still gets its class's outcome."""
        v = classify("599 something odd")
        assert v.outcome is Outcome.PERMANENT
        assert v.rule is not None


class TestHints:
    def test_text_hint_narrows_window(self) -> None:
        """'try again in 10 minutes' gives a (600, 600) window."""
        v = classify("451 4.7.1 Greylisted, please try again in 10 minutes")
        assert v.retry_after is not None
        assert v.retry_after.as_seconds() == (600, 600)

    def test_retry_will_not_succeed(self) -> None:
        """A text that says retrying will not succeed turns retry off, even on 4xx."""
        v = classify("421 4.7.0 [TSS04] Messages deferred; Retrying will NOT succeed")
        assert v.retry is False
        assert v.retry_after is None

    def test_no_window_without_retry(self) -> None:
        """retry_after is null whenever retry is false."""
        v = classify("550 5.1.1 try again in 10 minutes")
        assert (v.retry, v.retry_after) == (False, None)


class TestCodeless:
    def test_enhanced_code_alone(self) -> None:
        """qmail's '(#4.4.1)' classifies by the enhanced code."""
        v = classify("Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)")
        assert v.outcome is Outcome.TRANSIENT
        assert v.category is Category.NETWORK_ERROR

    @pytest.mark.parametrize("text", ["", "hello", "\x00\x01", "9" * 50])
    def test_nothing_tells(self, text: str) -> None:
        """Text that nothing recognises is unknown, not an exception."""
        v = classify(text)
        assert (v.outcome, v.category, v.retry, v.suppress) == (
            Outcome.UNKNOWN,
            Category.UNKNOWN,
            False,
            False,
        )
        assert v.reply is None


class TestApi:
    def test_reply_object_input(self) -> None:
        """A parsed Reply classifies like its text and is kept on the verdict."""
        reply = parse_reply("550 5.1.1 nope")
        v = classify(reply)
        assert v.reply is reply
        assert v == classify("550 5.1.1 nope")

    def test_bytes_input(self) -> None:
        """Bytes classify like text."""
        assert classify(b"550 5.1.1 nope").category is Category.MAILBOX_UNKNOWN

    def test_bad_type(self) -> None:
        """Other types are a TypeError."""
        with pytest.raises(TypeError):
            classify(550)  # type: ignore[arg-type]

    def test_bad_stage(self) -> None:
        """An unknown stage is a ValueError listing the stages."""
        with pytest.raises(ValueError, match="RCPT"):
            classify("550 x", stage="LUNCH")

    def test_verdict_is_immutable(self) -> None:
        """Verdicts are frozen."""
        v = classify("550 5.1.1 nope")
        with pytest.raises(AttributeError):
            v.retry = True  # type: ignore[misc]

    def test_as_dict_has_spec_fields(self) -> None:
        """as_dict carries the spec's field names with JSON-ready values."""
        d = classify("421 4.7.0 Service temporarily unavailable").as_dict()
        for key in (
            "outcome",
            "category",
            "retry",
            "retry_after",
            "suppress",
            "scope",
            "delivery_unknown",
        ):
            assert key in d
        assert d["retry_after"] == [300.0, 900.0]
        assert (d["code"], d["enhanced"]) == (421, "4.7.0")

    def test_default_is_shared(self) -> None:
        """Classifier.default() is built once."""
        assert Classifier.default() is Classifier.default()

    def test_scope_enum_values_are_spec_names(self) -> None:
        """Enums are str-valued with the spec's names."""
        assert Scope.RECIPIENT == "recipient"
        assert Category.MAILBOX_FULL.value == "mailbox_full"
        assert str(Outcome.TRANSIENT) == "transient"

    def test_retry_window_rejects_inverted(self) -> None:
        """A window whose latest is before its earliest is refused."""
        from smtpcodes import RetryWindow

        with pytest.raises(ValueError, match="before"):
            RetryWindow(timedelta(seconds=10), timedelta(seconds=5))


class TestGenericEnhancedDefersToBasic:
    def test_530_570_is_auth_required(self) -> None:
        """A generic X.7.0 defers to a basic code that says more (RFC 4954 530)."""
        assert classify("530 5.7.0 Authentication required").category is Category.AUTH_REQUIRED

    def test_550_570_stays_policy(self) -> None:
        """A vague basic code leaves the generic enhanced code in charge."""
        assert classify("550 5.7.0 Not allowed").category is Category.POLICY

    def test_exchange_535_573_is_auth_failed(self) -> None:
        """Exchange's '535 5.7.3 Authentication unsuccessful' pair is auth_failed."""
        assert classify("535 5.7.3 Authentication unsuccessful").category is Category.AUTH_FAILED


class TestSuccessAndPairs:
    def test_success_text_never_turns_into_a_failure(self) -> None:
        """A 2xx reply is delivered whatever its text mentions."""
        for text in (
            "250 2.0.0 Ok: queued (greylisting passed)",
            "250 ok spam score 0.1",
            "251 user not local; will forward",
        ):
            v = classify(text)
            assert (v.outcome, v.category) == (Outcome.SUCCESS, Category.DELIVERED), text

    @pytest.mark.parametrize(
        ("reply", "category"),
        [
            ("550 5.1.10", Category.MAILBOX_UNKNOWN),
            ("550 5.4.5", Category.QUOTA_EXCEEDED),
            ("554 5.7.9", Category.POLICY),
            ("504 5.7.4", Category.PROTOCOL_ERROR),
            ("556 5.1.10", Category.DOMAIN_INVALID),
        ],
    )
    def test_provider_pairs(self, reply: str, category: Category) -> None:
        """Bare provider pairs classify by the pair table, not the registry alone."""
        assert classify(reply).category is category


def test_generic_enhanced_code_defers_only_within_its_subject() -> None:
    """X.Y.0 defers to the basic code only when both speak of the same subject."""
    assert classify("534 5.7.0 nope").category is Category.AUTH_FAILED  # 534: auth, subject 7
    assert classify("552 5.7.0 nope").category is Category.POLICY  # 552: storage, not subject 7
    assert classify("552 5.2.0 nope").category is Category.MAILBOX_FULL  # 552 within subject 2


class TestCache:
    def test_repeats_come_from_the_cache_and_it_stays_bounded(self) -> None:
        """A repeated reply returns the same verdict object; the cache never outgrows its size."""
        from smtpcodes import Tables

        classifier = Classifier(Tables.default(), cache_size=4)
        classifier.classify("550 5.1.1 nope")
        second = classifier.classify("550 5.1.1 nope")
        assert classifier.classify("550 5.1.1 nope") is second
        for i in range(20):
            classifier.classify(f"450 4.7.1 try {i}")
            classifier.classify(f"450 4.7.1 try {i}")
            assert len(classifier._cache) <= 4
            assert len(classifier._seen) <= 8

    def test_a_reply_seen_once_is_not_kept(self) -> None:
        """A stream of distinct replies keeps no verdicts alive; a repeat is admitted."""
        from smtpcodes import Tables

        classifier = Classifier(Tables.default(), cache_size=8)
        for i in range(100):
            classifier.classify(f"550 5.1.1 <user{i}@example.com> unknown")
        assert classifier._cache == {}
        first = classifier.classify("550 5.1.1 <user99@example.com> unknown")
        assert first.category is Category.MAILBOX_UNKNOWN
        assert classifier.classify("550 5.1.1 <user99@example.com> unknown") is first

    def test_stage_is_part_of_the_key(self) -> None:
        """The same text at another stage is classified anew."""
        from smtpcodes import Tables

        classifier = Classifier(Tables.default())
        assert classifier.classify("552 too much").category is not Category.TOO_MANY_RECIPIENTS
        assert (
            classifier.classify("552 too much", stage="RCPT").category
            is Category.TOO_MANY_RECIPIENTS
        )

    def test_long_input_is_not_cached(self) -> None:
        """A reply longer than any real one is classified each time, never kept as a key."""
        from smtpcodes import Tables

        classifier = Classifier(Tables.default(), cache_size=8)
        huge = "550 5.1.1 " + "user unknown " * 1000
        first = classifier.classify(huge)
        assert classifier.classify(huge) is not first
        assert classifier.classify(huge).category is Category.MAILBOX_UNKNOWN
        assert classifier._cache == {}
        assert classifier._seen == set()

    def test_no_cache(self) -> None:
        """cache_size=0 keeps nothing."""
        from smtpcodes import Tables

        classifier = Classifier(Tables.default(), cache_size=0)
        classifier.classify("550 5.1.1 nope")
        assert classifier._cache == {}


@pytest.mark.parametrize(
    "reply",
    [
        "550 5.7.1 Message rejected as spam (SPF pass, DKIM pass)",
        "554 5.7.1 Rejected: spam content detected; spf=pass dkim=pass dmarc=pass",
    ],
)
def test_passing_authentication_results_do_not_make_sender_auth(reply: str) -> None:
    """A reply that reports passing SPF/DKIM/DMARC checks is judged on its other words."""
    assert classify(reply).category is Category.SPAM_CONTENT
