"""Tests for loading tables: schema errors, overlays, packaged data."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from smtpcodes import Category, Classifier, TableError, Tables
from smtpcodes.tables import data_path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


class TestDefaults:
    def test_every_category_has_a_policy(self) -> None:
        """categories.yaml covers every spec category."""
        assert set(Tables.default().categories) == set(Category)

    def test_data_folder_is_found(self) -> None:
        """The default tables are found (packaged or in the checkout)."""
        assert (data_path() / "categories.yaml").is_file()

    def test_default_is_cached(self) -> None:
        """Tables.default() is loaded once."""
        assert Tables.default() is Tables.default()


class TestOverlays:
    def test_add_rule(self, tmp_path: Path) -> None:
        """An overlay can add a rule that then decides."""
        path = write(
            tmp_path,
            "acme.yaml",
            """
            rules:
              - id: acme.frozen
                comment: ACME's own wording for a disabled mailbox.
                match: 'mailbox is frozen'
                category: mailbox_disabled
                priority: 100
                examples:
                  - reply: "550 5.0.0 mailbox is frozen"
                    expect: {category: mailbox_disabled}
            """,
        )
        classifier = Classifier.from_paths(path)
        v = classifier.classify("550 5.0.0 Sorry, mailbox is frozen")
        assert (v.category, v.rule, v.suppress) == (Category.MAILBOX_DISABLED, "acme.frozen", True)
        assert (
            Classifier.default().classify("550 5.0.0 Sorry, mailbox is frozen").rule
            != "acme.frozen"
        )

    def test_change_a_code_verdict_by_extension(self, tmp_path: Path) -> None:
        """An overlay entry with an existing code extends it: only its keys change."""
        path = write(
            tmp_path,
            "o.yaml",
            """
            codes:
              - code: "421 4.7.0"
                retry_after: [60, 120]
            """,
        )
        v = Classifier.from_paths(path).classify("421 4.7.0 Service temporarily unavailable")
        assert v.category is Category.SERVER_BUSY
        assert v.retry_after is not None
        assert v.retry_after.as_seconds() == (60, 120)

    def test_lenient_mailbox_full_policy(self) -> None:
        """The shipped lenient policy retries a full mailbox and defers suppression."""
        path = data_path() / "policies" / "lenient-mailbox-full.yaml"
        v = Classifier.from_paths(path).classify("452 4.2.2 Mailbox full")
        assert (v.retry, v.suppress) == (True, False)
        assert v.suppress_after is not None
        assert v.suppress_after.count == 3
        strict = Classifier.default().classify("452 4.2.2 Mailbox full")
        assert (strict.retry, strict.suppress, strict.suppress_after) == (False, True, None)

    def test_disable_rule(self, tmp_path: Path) -> None:
        """disable: true removes a default rule by id."""
        rules = Tables.default().rules.rules
        if not rules:
            pytest.skip("no default rules loaded")
        victim = rules[0].id
        path = write(tmp_path, "off.yaml", f"rules:\n  - id: {victim}\n    disable: true\n")
        assert victim not in {r.id for r in Tables.load(path).rules.rules}

    def test_overlay_folder(self, tmp_path: Path) -> None:
        """A folder overlay loads all its YAML files."""
        write(tmp_path, "a.yaml", "codes:\n  - code: 599\n    category: policy\n")
        assert Classifier.from_paths(tmp_path).classify("599 no").category is Category.POLICY

    def test_missing_overlay(self, tmp_path: Path) -> None:
        """A missing overlay path is a FileNotFoundError naming it."""
        with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
            Tables.load(tmp_path / "nope.yaml")


class TestSchemaErrors:
    @pytest.mark.parametrize(
        ("text", "where", "problem"),
        [
            (
                "rules:\n  - id: x\n    comment: c\n    match: 'a'\n    category: mailbox_ful\n",
                "rules[0]",
                "mailbox_ful",
            ),
            (
                "rules:\n  - id: x\n    comment: c\n    match: '('\n    category: policy\n",
                "rules[0]",
                "regular expression",
            ),
            (
                "rules:\n  - id: x\n    match: 'a'\n    category: policy\n",
                "rules[0]",
                "comment is required",
            ),
            (
                "rules:\n  - comment: c\n    match: 'a'\n    category: policy\n",
                "rules[0]",
                "id is required",
            ),
            (
                "rules:\n  - id: x\n    comment: c\n    match: 'a'\n"
                "    category: policy\n    retyr: true\n",
                "rules[0]",
                "unknown key 'retyr'",
            ),
            ("codes:\n  - code: 5.1\n    category: policy\n", "codes[0]", "neither a basic code"),
            (
                "codes:\n  - code: 550\n    category: policy\n    retry_after: [10, 5]\n",
                "codes[0]",
                "before earliest",
            ),
            ("categories:\n  policy:\n    scope: galaxy\n", "categories.policy", "galaxy"),
            ("surprise: 1\n", None, "unknown top-level key 'surprise'"),
            ("rules: [\n", "line", "invalid YAML"),
            ("- just\n- a list\n", None, "must hold a mapping"),
        ],
    )
    def test_broken_overlay_names_file_entry_and_problem(
        self, tmp_path: Path, text: str, where: str | None, problem: str
    ) -> None:
        """A broken overlay raises TableError naming the file, the entry and the problem."""
        path = write(tmp_path, "broken.yaml", text)
        with pytest.raises(TableError) as info:
            Tables.load(path)
        message = str(info.value)
        assert "broken.yaml" in message
        assert problem in message
        if where is not None:
            assert where in message

    def test_yaml_is_loaded_safely(self, tmp_path: Path) -> None:
        """Python object tags are refused, not executed."""
        path = write(tmp_path, "evil.yaml", "codes: !!python/object/apply:os.system ['echo hi']\n")
        with pytest.raises(TableError, match="invalid YAML"):
            Tables.load(path)
