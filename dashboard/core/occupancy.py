"""The occupancy engine's pure core: events in, head counts per station and zone out.

Rules (docs/central.md, "Occupancy"):

- Each door leads into one zone of its station (`rest` unless configured). A granted
  access inwards adds one to that zone, a granted access outwards (exit reader) and a
  request-to-exit button press take one away.
- A door fitted with a directional beam pair counts from its beams only: beams see every
  person, tailgaters included, so its grants and exit buttons are ignored and nobody is
  counted twice. A door is a beam door when configured so, or from the first beam
  crossing it reports (learned and stored).
- Presence: when every presence sensor of a zone has said "nobody" for
  `empty_reset_s`, the zone's count is reset to zero (`presence_resets`).
- A count never goes below zero: a missed entry must not hide a real one later.
- An operator may set a zone's count; the store keeps who, when, why and the old value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from contract.payloads import (
    AccessEvent,
    CrossingEvent,
    CrossingSource,
    Decision,
    Direction,
    Payload,
)

DEFAULT_ZONE = "rest"
ZONE_KINDS = ("rest", "sleeping", "showers", "charging")
"""Zones a station may have; every station has at least `rest`."""


@dataclass(frozen=True, slots=True)
class DoorMove:
    """What one event does at a door: `delta` people into `zone` (may be negative)."""

    door_id: str
    delta: int
    beam: bool


def door_move(event: Payload) -> DoorMove | None:
    """The raw movement an event reports, before door rules; None when it moves nobody."""
    if isinstance(event, AccessEvent):
        if event.decision is not Decision.GRANTED:
            return None
        return DoorMove(event.door_id, 1 if event.direction is Direction.IN else -1, False)
    if isinstance(event, CrossingEvent):
        if event.source is CrossingSource.BEAM:
            return DoorMove(event.door_id, 1 if event.direction is Direction.IN else -1, True)
        # An exit button or exit reader only ever lets people out.
        return DoorMove(event.door_id, -1, False) if event.direction is Direction.OUT else None
    return None


def occupancy_delta(event: Payload) -> int:
    """+1, -1 or 0: what this event does to a count at a door without beams."""
    move = door_move(event)
    return 0 if move is None or move.beam else move.delta


def apply_delta(current: int, delta: int) -> int:
    """The new count: never negative, because a missed entry must not hide a real one."""
    return max(0, current + delta)


@dataclass(slots=True)
class StationCounts:
    """One station's counts per zone and the door rules that move them."""

    zones: dict[str, int] = field(default_factory=dict)
    door_zone: dict[str, str] = field(default_factory=dict)
    beam_doors: set[str] = field(default_factory=set)
    learned_beam_doors: set[str] = field(default_factory=set)
    """Doors that became beam doors while applying events (to be stored)."""
    changed_zones: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        """People in the whole station."""
        return sum(self.zones.values())

    def zone_of(self, door_id: str) -> str:
        """The zone a door leads into."""
        return self.door_zone.get(door_id, DEFAULT_ZONE)

    def apply(self, event: Payload) -> bool:
        """Apply one event; True when a count changed."""
        move = door_move(event)
        if move is None:
            return False
        if move.beam and move.door_id not in self.beam_doors:
            self.beam_doors.add(move.door_id)
            self.learned_beam_doors.add(move.door_id)
        if move.beam != (move.door_id in self.beam_doors):
            return False
        return self.set_zone(self.zone_of(move.door_id), None, move.delta)

    def set_zone(self, zone: str, value: int | None, delta: int = 0) -> bool:
        """Set a zone's count (or move it by `delta`); never below zero."""
        before = self.zones.get(zone, 0)
        after = max(0, value if value is not None else before + delta)
        if after == before:
            return False
        self.zones[zone] = after
        self.changed_zones.add(zone)
        return True


@dataclass(frozen=True, slots=True)
class SensorState:
    """What a presence sensor last said and when (epoch seconds)."""

    zone: str
    present: bool
    changed_at: float


def presence_resets(
    sensors: Iterable[SensorState], counts: dict[str, int], now: float, empty_reset_s: float
) -> list[str]:
    """Zones to reset to zero: counted people, yet every sensor there has seen nobody
    for at least `empty_reset_s`."""
    empty_since: dict[str, float] = {}
    occupied: set[str] = set()
    for sensor in sensors:
        if sensor.present:
            occupied.add(sensor.zone)
        else:
            empty_since[sensor.zone] = max(empty_since.get(sensor.zone, 0.0), sensor.changed_at)
    return sorted(
        zone
        for zone, since in empty_since.items()
        if zone not in occupied and counts.get(zone, 0) > 0 and now - since >= empty_reset_s
    )
