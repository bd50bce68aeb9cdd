"""Test configuration shared by the whole suite."""

from __future__ import annotations

from hypothesis import settings

# No per-example deadline: the first example of a run may load the tables, and
# speed is measured by the scripts in tests/benchmarks/, not by unit tests.
settings.register_profile("smtpcodes", deadline=None, print_blob=True)
settings.load_profile("smtpcodes")
