"""The access decision for the foundation: a local allow-list of QR codes.

Pure: the same inputs give the same decision, with no clock, network or disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contract.payloads import Decision, Direction, Reason


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """What the gateway decided and why, and whom it recognised."""

    decision: Decision
    reason: Reason
    worker_id: str | None = None

    @property
    def granted(self) -> bool:
        """True when the door should open."""
        return self.decision is Decision.GRANTED


def decide_allowlist(
    code: str, direction: Direction, allowlist: Mapping[str, str]
) -> AccessDecision:
    """Grant a listed code; always let people out, named if the code is known."""
    worker_id = allowlist.get(code)
    if direction is Direction.OUT:
        # Leaving is never refused: egress is a safety matter, not a permission.
        return AccessDecision(Decision.GRANTED, Reason.GRANTED, worker_id)
    if worker_id is None:
        return AccessDecision(Decision.DENIED, Reason.UNKNOWN_CREDENTIAL)
    return AccessDecision(Decision.GRANTED, Reason.GRANTED, worker_id)
