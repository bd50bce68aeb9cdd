"""IBM/HCL Domino (Lotus Notes) failure reports.

"Your message ... was not delivered to:" then the address indented on its own
line, then "because:" and the reason. Old Lotus SMTP gateways write
"------- Failure Reasons --------" with the reason above the address.
"""

from __future__ import annotations

from ..view import MessageView
from .base import BounceFormat, Finding, address_blocks, find_address, section

__all__ = ["FORMAT"]


def _detect(view: MessageView) -> bool:
    head = view.text[:4000].lower()
    return ("was not delivered to:" in head and "because:" in head) or (
        "------- failure reasons" in head
    )


def _parse(view: MessageView) -> list[Finding]:
    text = view.text
    lowered = text[:8000].lower()
    if "was not delivered to:" in lowered:
        targets = section(text, ("was not delivered to:",), ("because:",))
        reason = " ".join(section(text, ("because:",)).split())[:2000]
        return [
            Finding(recipient=address, diagnostic=reason) for address, _ in address_blocks(targets)
        ]
    reasons = section(text, ("------- failure reasons",), ("------- returned message",))
    lines = [ln.strip() for ln in reasons.splitlines() if ln.strip()]
    out: list[Finding] = []
    pending: list[str] = []
    for line in lines:
        address = find_address(line)
        if address is not None and line.strip("<>") == address:
            out.append(Finding(recipient=address, diagnostic=" ".join(pending)))
            pending = []
        else:
            pending.append(line)
    return out


FORMAT = BounceFormat(name="domino", detect=_detect, parse=_parse, priority=41)
