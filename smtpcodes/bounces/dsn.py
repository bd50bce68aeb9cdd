"""Read the fields of an RFC 3464 ``message/delivery-status`` body.

The body is a per-message block (``Reporting-MTA``, ``Arrival-Date``, ...)
followed by one block per recipient (``Final-Recipient``, ``Action``,
``Status``, ``Diagnostic-Code``, ...), blocks separated by blank lines. Real
reports bend this: blank lines go missing between recipients, fields are folded,
addresses come as ``rfc822;<a@b>`` or RFC 6533 ``utf-8;`` with ``\\x{...}``
escapes. This reader accepts all of those and never raises.
"""

from __future__ import annotations

import re

import attrs

__all__ = [
    "MAX_DSN_RECIPIENTS",
    "DsnFields",
    "DsnRecipient",
    "clean_address",
    "parse_delivery_status",
]

#: Recipient blocks read from one report (a million-recipient report is cut here).
MAX_DSN_RECIPIENTS = 10_000
# (the same cap as the records of a report: a block past it would be dropped anyway)
# Lines read from one delivery-status body; beyond that the report is cut.
_MAX_LINES = 200_000

_XTEXT = re.compile(r"\+([0-9A-Fa-f]{2})")
_UNITEXT = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")
_ANGLE = re.compile(r"<([^<>\s]{1,320})>")
_FIELD = re.compile(r"([A-Za-z][A-Za-z0-9-]{0,60})[ \t]*:[ \t]*(.*)")

_RECIPIENT_FIELDS = frozenset({"final-recipient", "original-recipient", "x-actual-recipient"})


@attrs.frozen
class DsnRecipient:
    """The per-recipient fields of one DSN block (lower-case names)."""

    fields: dict[str, str]

    def get(self, name: str) -> str:
        """The field's value, or an empty string."""
        return self.fields.get(name, "")


@attrs.frozen
class DsnFields:
    """A parsed delivery-status body: per-message fields and recipient blocks."""

    message: dict[str, str]
    recipients: tuple[DsnRecipient, ...]
    truncated: bool = False


def clean_address(value: str) -> str:
    """The bare address from a DSN address field (``rfc822; <a@b>`` -> ``a@b``).

    RFC 6533 ``utf-8;`` values may carry ``\\x{HHHH}`` escapes and RFC 3461
    xtext ``+HH`` escapes; both are undone.
    """
    kind, sep, rest = value.partition(";")
    address = rest if sep else kind
    kind = kind.strip().lower() if sep else ""
    address = address.strip()
    m = _ANGLE.search(address)
    if m is not None:
        address = m[1]
    address = address.strip().strip("<>\"'").strip()
    if "\\x{" in address:
        address = _UNITEXT.sub(lambda mm: _chr(mm[1]), address)
    if kind in ("rfc822", "utf-8", "") and "+" in address and _XTEXT.search(address):
        # xtext is only meaningful where the report used it; '+' alone is a plain sub-address.
        decoded = _XTEXT.sub(lambda mm: chr(int(mm[1], 16)), address)
        if "@" in decoded and decoded.isprintable():
            address = decoded
    if " " in address:
        address = address.split()[0]
    return address


def _chr(hex_digits: str) -> str:
    code = int(hex_digits, 16)
    return chr(code) if code <= 0x10FFFF else "\ufffd"


def parse_delivery_status(text: str) -> DsnFields:
    """Parse a ``message/delivery-status`` body into message and recipient fields."""
    message: dict[str, str] = {}
    recipients: list[DsnRecipient] = []
    current: dict[str, str] | None = None
    last: tuple[dict[str, str], str] | None = None
    truncated = False
    for count, line in enumerate(text.splitlines()):
        if count >= _MAX_LINES:
            truncated = True
            break
        if not line.strip():
            if current is not None:
                recipients.append(DsnRecipient(current))
                current = None
                if len(recipients) >= MAX_DSN_RECIPIENTS:
                    truncated = True
                    break
            last = None
            continue
        if line[0] in " \t":
            if last is not None:
                target, name = last
                target[name] = (target[name] + " " + line.strip()).strip()
            continue
        m = _FIELD.match(line)
        if m is None:
            continue
        name = m[1].lower()
        value = m[2].strip()
        if name in _RECIPIENT_FIELDS or (
            current is None and name in ("action", "status", "diagnostic-code")
        ):
            if current is not None and (
                name in current or (name == "final-recipient" and "final-recipient" in current)
            ):
                # A new recipient block with no blank line before it.
                recipients.append(DsnRecipient(current))
                current = None
                if len(recipients) >= MAX_DSN_RECIPIENTS:
                    truncated = True
                    break
            if current is None:
                current = {}
        target = current if current is not None else message
        if name in target and target is current:
            if name in ("action", "status", "diagnostic-code"):
                # Repeated per-recipient field without a recipient: start a new block.
                recipients.append(DsnRecipient(current))
                current = {}
                target = current
            else:
                continue
        target.setdefault(name, value)
        last = (target, name)
    if current is not None and not truncated:
        recipients.append(DsnRecipient(current))
    kept = tuple(
        r for r in recipients if r.fields.keys() & _RECIPIENT_FIELDS or "status" in r.fields
    )
    return DsnFields(message=message, recipients=kept, truncated=truncated)
