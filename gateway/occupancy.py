"""The gateway's own head count, for refusing entry to a full station. Pure.

The gateway must say "full" with the broker and the central down, so it counts for
itself, by the same rules as the central (`dashboard/core/occupancy.py`): a granted entry is
+1, a granted exit and an exit-button press are -1, and the count never goes below zero.
Beam crossings are not counted: they see the people the readers already counted.

The central sees every gateway of the station and the operator's corrections, so its
retained `occupancy/1` message replaces the local count whenever one arrives: the
central is authoritative when it is reachable, the local count bridges the gaps. Right
after a grant the central's figure can lag by the events still on their way to it; the
next message, sent once the central has counted them, catches up.

The count starts at zero after a reboot and is corrected by the retained message as soon
as the broker is reachable.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.payloads import Decision, Direction


@dataclass(frozen=True, slots=True)
class LocalOccupancy:
    """How many people the gateway believes are inside."""

    count: int = 0

    def after_access(self, decision: Decision, direction: Direction) -> LocalOccupancy:
        """The count after one access decision; refusals change nothing."""
        if decision is not Decision.GRANTED:
            return self
        return self.entered() if direction is Direction.IN else self.left()

    def entered(self) -> LocalOccupancy:
        """Someone was let in."""
        return LocalOccupancy(self.count + 1)

    def left(self) -> LocalOccupancy:
        """Someone left; a count already at zero stays there (an entry was missed)."""
        return LocalOccupancy(max(0, self.count - 1))

    def corrected(self, central_count: int) -> LocalOccupancy:
        """The central's count replaces the local one."""
        return LocalOccupancy(max(0, central_count))
