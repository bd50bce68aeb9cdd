"""pytest plugin (the ``pytest11`` entry point): fixtures ``smtp_server`` and ``fake_clock``.

Installed with smtpcodes, so no conftest is needed. pytest loads this module in every
test run of anyone who has smtpcodes installed, so it imports nothing heavy at module
level: aiosmtpd is imported only when a test asks for ``smtp_server``.

Markers, read by the ``smtp_server`` fixture:

- ``@pytest.mark.smtp_server_options(starttls=True, credentials={...}, ...)``: keyword
  arguments for :class:`~smtpcodes.testing.ScriptedSMTPServer`.
- ``@pytest.mark.smtp_reply(stage, reply, recipient=..., sender=..., times=..., ...)``:
  one :meth:`~smtpcodes.testing.ScriptedSMTPServer.on` call; stack them for more.
- ``@pytest.mark.smtp_drop(stage, ...)``: one
  :meth:`~smtpcodes.testing.ScriptedSMTPServer.drop` call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .clock import FakeClock
    from .server import ScriptedSMTPServer

__all__ = ["fake_clock", "pytest_configure", "smtp_server"]

_MARKERS = (
    "smtp_server_options(**options): keyword arguments for the smtp_server fixture's"
    " ScriptedSMTPServer (starttls=, credentials=, require_auth=, ...).",
    "smtp_reply(stage, reply, **filters): script the smtp_server fixture with"
    " smtp_server.on(stage, reply, **filters) before the test runs; stackable.",
    "smtp_drop(stage, **filters): script the smtp_server fixture to drop the connection"
    " at stage, as smtp_server.drop(stage, **filters); stackable.",
)


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's markers, so ``--strict-markers`` accepts them."""
    for line in _MARKERS:
        config.addinivalue_line("markers", line)


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest) -> Iterator[ScriptedSMTPServer]:
    """A fresh scripted SMTP server on 127.0.0.1 for this test, stopped afterwards.

    It accepts everything with 250 until scripted with ``on()``/``drop()`` or the
    ``smtp_reply``/``smtp_drop`` markers; ``messages`` holds what it accepted.
    """
    from .server import ScriptedSMTPServer  # keep the plugin import cheap

    options: dict[str, object] = {}
    marker = request.node.get_closest_marker("smtp_server_options")
    if marker is not None:
        if marker.args:
            msg = "smtp_server_options takes keyword arguments only, e.g. starttls=True."
            raise TypeError(msg)
        options.update(marker.kwargs)
    server = ScriptedSMTPServer(**options)  # type: ignore[arg-type]
    # Markers apply top-down as written above the test: iter_markers yields the closest
    # (lowest) first, so reverse it to keep the written order.
    for marker in reversed(list(request.node.iter_markers())):
        if marker.name == "smtp_reply":
            server.on(*marker.args, **marker.kwargs)
        elif marker.name == "smtp_drop":
            server.drop(*marker.args, **marker.kwargs)
    with server:
        yield server
    if server.errors:
        # A predicate that raised, or a bug in the kit: say so rather than hide it in a 451.
        problems = "; ".join(f"{type(e).__name__}: {e}" for e in server.errors)
        pytest.fail(f"The test SMTP server hit errors while answering: {problems}")


@pytest.fixture
def fake_clock() -> FakeClock:
    """A :class:`~smtpcodes.testing.FakeClock` at 2024-01-01T00:00:00Z; ``advance()`` moves it."""
    from .clock import FakeClock

    return FakeClock()
