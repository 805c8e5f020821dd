"""How events move a station's head count. Pure.

Entries come from granted access inwards; exits from granted access outwards (exit
readers) and from the request-to-exit button. Beam crossings are not counted yet: they see
the same people the readers already counted, and fusing the two is the occupancy engine's
job. A count never goes below zero.
"""

from __future__ import annotations

from contract.payloads import (
    AccessEvent,
    CrossingEvent,
    CrossingSource,
    Decision,
    Direction,
    Payload,
)


def occupancy_delta(event: Payload) -> int:
    """+1, -1 or 0: what this event does to its station's count."""
    if isinstance(event, AccessEvent) and event.decision is Decision.GRANTED:
        return 1 if event.direction is Direction.IN else -1
    if isinstance(event, CrossingEvent) and event.source is CrossingSource.REX:
        return -1 if event.direction is Direction.OUT else 0
    return 0


def apply_delta(current: int, delta: int) -> int:
    """The new count: never negative, because a missed entry must not hide a real one."""
    return max(0, current + delta)
