"""The canned replies catalog: loading, attribute access, checks, and its promise of categories."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest
import yaml

from smtpcodes.classifier import classify
from smtpcodes.errors import TableError
from smtpcodes.tables import data_path
from smtpcodes.testing.canned import ReplyCatalog, replies
from smtpcodes.testing.server import ScriptedSMTPServer
from smtpcodes.verdict import Category

CATEGORY_NAMES = {category.value for category in Category}
# Canned replies the classifier does not yet put in their category, and why. Strict xfail:
# when the classifier learns one, its test fails until the entry is removed from here.
CLASSIFIER_GAPS: dict[str, str] = {}
CATEGORY_ENTRIES = [
    pytest.param(
        text,
        name,
        id=f"{provider}.{name}",
        marks=[pytest.mark.xfail(strict=True, reason=CLASSIFIER_GAPS[f"{provider}.{name}"])]
        if f"{provider}.{name}" in CLASSIFIER_GAPS
        else [],
    )
    for provider, name, text in replies.items()
    if name in CATEGORY_NAMES
]


def test_catalog_has_the_main_providers() -> None:
    """The shipped catalog covers the providers the docs name."""
    assert {"gmail", "microsoft", "yahoo", "postfix", "exim", "generic"} <= set(replies.providers)


def test_attribute_access_gives_exact_crlf_text() -> None:
    """replies.gmail.mailbox_unknown is Gmail's four-line reply with CRLF between lines."""
    text = replies.gmail.mailbox_unknown
    lines = text.split("\r\n")
    assert len(lines) == 4
    assert lines[0].startswith("550-5.1.1 The email account that you tried to reach does not exist")
    assert lines[-1].startswith("550 5.1.1 ")
    assert "\n" not in text.replace("\r\n", "")


def test_catalog_matches_the_yaml_file() -> None:
    """Every reply in the YAML file is in the catalog, line for line."""
    raw = yaml.safe_load((data_path() / "canned_replies.yaml").read_text(encoding="utf-8"))
    for provider, entries in raw.items():
        for name, text in entries.items():
            assert getattr(getattr(replies, provider), name) == text.rstrip("\n").replace(
                "\n", "\r\n"
            )


def test_unknown_reply_name_lists_known_names() -> None:
    """A misspelt reply name fails with the provider's known names."""
    with pytest.raises(AttributeError, match=r"There is no canned reply gmail\.mailbox_unknwn; "):
        _ = replies.gmail.mailbox_unknwn
    with pytest.raises(AttributeError, match="mailbox_unknown"):
        _ = replies.gmail.nope


def test_unknown_provider_lists_known_providers() -> None:
    """A misspelt provider fails with the known providers."""
    with pytest.raises(AttributeError, match=r"provider called 'gmial'; known: .*gmail"):
        _ = replies.gmial


def test_entry_names_are_discoverable() -> None:
    """names, `in` and dir() list a provider's replies."""
    assert "mailbox_unknown" in replies.postfix
    assert "mailbox_unknown" in replies.postfix.names
    assert "greylisted" in dir(replies.postfix)
    assert replies.postfix.get("nothing") is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "canned.yaml: the file must map provider names to their replies."),
        ({"Gmail": {}}, "canned.yaml: Gmail: 'Gmail' is not a valid name"),
        ({"gmail": ["550 x"]}, "canned.yaml: gmail: a provider must map reply names"),
        (
            {"gmail": {"bad-name": "550 x"}},
            "canned.yaml: gmail.bad-name: 'bad-name' is not a valid",
        ),
        ({"gmail": {"names": "550 x"}}, "canned.yaml: gmail.names: 'names' is reserved"),
        ({"gmail": {"x": 550}}, "canned.yaml: gmail.x: the reply must be a string."),
        ({"gmail": {"x": "550-a\n550-b"}}, "canned.yaml: gmail.x: The last line of the scripted"),
    ],
)
def test_from_mapping_names_the_broken_entry(data: object, message: str) -> None:
    """A broken catalog fails with a TableError naming the file and the entry."""
    with pytest.raises(TableError) as caught:
        ReplyCatalog.from_mapping(data, source="canned.yaml")
    assert str(caught.value).startswith(message)


def test_load_reports_invalid_yaml(tmp_path: Path) -> None:
    """A file that is not YAML fails with a TableError naming it."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("gmail: {x: [unclosed\n", encoding="utf-8")
    with pytest.raises(TableError, match=r"broken\.yaml: the file is not valid YAML"):
        ReplyCatalog.load(broken)


def test_load_reads_a_users_catalog(tmp_path: Path) -> None:
    """load(path) builds a catalog from another file."""
    own = tmp_path / "own.yaml"
    own.write_text("acme:\n  busy: |-\n    421-4.3.2 busy\n    421 4.3.2 try later\n")
    catalog = ReplyCatalog.load(own)
    assert catalog.acme.busy == "421-4.3.2 busy\r\n421 4.3.2 try later"


def test_canned_reply_goes_out_unchanged() -> None:
    """A canned multi-line reply scripted at RCPT reaches smtplib with every line."""
    with ScriptedSMTPServer() as server:
        server.on("RCPT", replies.gmail.mailbox_disabled, recipient="b@example.com")
        with smtplib.SMTP(server.hostname, server.port, local_hostname="c.test") as client:
            refused = client.sendmail("a@example.org", ["b@example.com", "c@example.com"], b"x")
    code, text = refused["b@example.com"]
    assert code == 550
    expected = [line[4:] for line in replies.gmail.mailbox_disabled.split("\r\n")]
    assert text.decode().split("\n") == expected


def test_package_attribute_is_the_catalog() -> None:
    """smtpcodes.testing.replies stays the catalog once the module behind it is imported."""
    import smtpcodes.testing
    import smtpcodes.testing.canned  # importing it must not shadow the name

    assert isinstance(smtpcodes.testing.replies, ReplyCatalog)
    assert smtpcodes.testing.replies.gmail.mailbox_unknown == replies.gmail.mailbox_unknown


@pytest.mark.parametrize(("text", "name"), CATEGORY_ENTRIES)
def test_category_named_reply_classifies_as_named(text: str, name: str) -> None:
    """A canned reply named after a category is classified into that category."""
    assert classify(text).category.value == name


def test_public_names_resolve() -> None:
    """Every name in smtpcodes.testing.__all__ can be imported."""
    import smtpcodes.testing as kit

    for name in kit.__all__:
        assert getattr(kit, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        _ = kit.nothing
