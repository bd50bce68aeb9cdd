"""``assert_verdict``: classify what the server sent back to a client, and check the verdict.

It takes whatever a test has in hand after a send: the reply text, an ``smtplib`` or
``aiosmtplib`` exception, a ``(code, message)`` pair or an ``SMTPResponse``, the
refused-recipients mapping ``send_message`` returns, or a :class:`~smtpcodes.Verdict`.
It fails with one message listing every field that differs, and returns the verdict
so a test can look further.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..classifier import classify
from ..exceptions import classify_exception, classify_response
from ..reply import Reply
from ..suppression import normalize_address
from ..verdict import Verdict

__all__ = ["assert_verdict", "verdict_of"]

_UNSET: Any = object()


def verdict_of(
    received: object,
    /,
    *,
    stage: str | None = None,
    recipient: str | None = None,
    after_data: bool = False,
) -> Verdict:
    """Classify ``received`` (see :func:`assert_verdict` for what it may be) into a verdict.

    ``recipient`` picks one entry when ``received`` holds one reply per recipient
    (``SMTPRecipientsRefused``, the dict ``send_message`` returns); it may be left out
    when there is only one. ``after_data`` marks a disconnect or timeout as happening
    after the message was sent (``delivery_unknown``). Raises :class:`ValueError` when
    the recipient cannot be chosen and :class:`TypeError` for anything unclassifiable.
    """
    if isinstance(received, Verdict):
        return received
    if isinstance(received, (str, bytes, Reply)):
        return classify(received, stage=stage)
    if isinstance(received, BaseException):
        found = classify_exception(received, stage=stage, after_data=after_data)
        if isinstance(found, Verdict):
            return found
        return _pick(found, recipient, what=type(received).__name__)
    if isinstance(received, tuple) and len(received) == 2 and isinstance(received[0], int):
        # smtplib's (code, bytes) pairs and aiosmtplib's SMTPResponse(code, message)
        code, message = received
        if not isinstance(message, (str, bytes)):
            msg = f"The reply text of {received!r} must be str or bytes."
            raise TypeError(msg)
        return classify_response(code, message, stage=stage)
    if isinstance(received, Mapping):
        verdicts = {
            str(address): verdict_of(reply, stage=stage or "RCPT")
            for address, reply in received.items()
        }
        return _pick(verdicts, recipient, what="the mapping of refused recipients")
    msg = (
        f"assert_verdict cannot classify a {type(received).__name__}: pass a reply text,"
        " an SMTP exception, a (code, message) pair, a mapping of refused recipients"
        " or a Verdict."
    )
    raise TypeError(msg)


def _pick(verdicts: Mapping[str, Verdict], recipient: str | None, *, what: str) -> Verdict:
    if recipient is not None:
        if recipient in verdicts:
            return verdicts[recipient]
        # The domain's case never matters; the local part's may (RFC 5321 §2.4).
        wanted = normalize_address(recipient)
        for address, verdict in verdicts.items():
            if normalize_address(address) == wanted:
                return verdict
        named = ", ".join(verdicts) or "none"
        msg = f"{what} holds no reply for {recipient!r}; it names: {named}."
        raise ValueError(msg)
    if len(verdicts) == 1:
        return next(iter(verdicts.values()))
    named = ", ".join(verdicts) or "none"
    msg = f"{what} holds {len(verdicts)} replies ({named}); pass recipient= to choose one."
    raise ValueError(msg)


def assert_verdict(
    received: object,
    /,
    *,
    category: str = _UNSET,
    outcome: str = _UNSET,
    retry: bool = _UNSET,
    suppress: bool = _UNSET,
    scope: str = _UNSET,
    delivery_unknown: bool = _UNSET,
    stage: str | None = None,
    recipient: str | None = None,
    after_data: bool = False,
) -> Verdict:
    """Classify what the server sent back and assert the verdict's fields; return the verdict.

    ``received`` is a reply (``str``/``bytes``/:class:`~smtpcodes.reply.Reply`), an
    ``smtplib``/``aiosmtplib`` exception, a ``(code, message)`` pair or
    ``SMTPResponse``, the ``{recipient: reply}`` mapping a send returns, or a
    :class:`~smtpcodes.Verdict`. Only the fields passed are checked (names as in the
    spec: ``category="mailbox_unknown"``, ``outcome="permanent"``, ...). ``stage``,
    ``recipient`` and ``after_data`` are as in :func:`verdict_of`.

    Raises :class:`AssertionError` naming every field that differs, with the reply.
    """
    __tracebackhide__ = True
    verdict = verdict_of(received, stage=stage, recipient=recipient, after_data=after_data)
    expected = {
        "category": category,
        "outcome": outcome,
        "retry": retry,
        "suppress": suppress,
        "scope": scope,
        "delivery_unknown": delivery_unknown,
    }
    differences = []
    for field, wanted in expected.items():
        if wanted is _UNSET:
            continue
        actual = getattr(verdict, field)
        if actual != wanted:
            shown = actual.value if hasattr(actual, "value") else actual
            wanted_shown = wanted.value if hasattr(wanted, "value") else wanted
            differences.append(f"{field} is {shown!r}, expected {wanted_shown!r}")
    if differences:
        reply = verdict.reply
        said = " ".join(reply.lines) if reply is not None else "no reply"
        msg = (
            f"The verdict does not match: {'; '.join(differences)}."
            f" The server said: {said!r} (rule: {verdict.rule})."
        )
        raise AssertionError(msg)
    return verdict
