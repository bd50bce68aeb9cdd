"""Tests that the installed package finds its YAML tables from any directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import smtpcodes

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import json, smtpcodes
from smtpcodes.tables import data_path
v = smtpcodes.classify("452 4.2.2 Mailbox full")
print(json.dumps({"file": smtpcodes.__file__, "data": str(data_path()),
                  "category": v.category.value, "suppress": v.suppress}))
"""


def test_tables_found_from_another_directory(tmp_path: Path) -> None:
    """Run from an unrelated folder, smtpcodes loads its tables and classifies."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert (found["category"], found["suppress"]) == ("mailbox_full", True)
    data = Path(found["data"])
    assert (data / "categories.yaml").is_file()
    package = Path(found["file"]).parent
    if REPO not in package.parents:
        # A regular (non-editable) install, as in CI: the tables ship inside the wheel.
        assert data == package / "data"


def test_py_typed_marker_ships() -> None:
    """The package is marked as typed (PEP 561)."""
    assert (Path(smtpcodes.__file__).parent / "py.typed").is_file()


def test_version_from_metadata() -> None:
    """__version__ comes from the installed metadata."""
    assert smtpcodes.__version__.count(".") >= 2


def test_public_names_resolve() -> None:
    """Every name in __all__ is importable from the package."""
    for name in smtpcodes.__all__:
        assert getattr(smtpcodes, name) is not None, name
