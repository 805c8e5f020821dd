"""What each happening at the gateway becomes on the wire. Pure: no I/O, no clock.

Access decisions, the door controller, the beams, the PIR and the radar, and the outbox
when it must drop events, speak in their own terms; the central reads wire contract v1.
This module is the one translation between the two, so a newcomer finds every "what gets
reported" rule in one place. `gateway.events.EventStamper` then adds who, when and the
sequence number. The one thing a gateway reads back from the wire, the token another
gateway of its station let in, is read here too (`token_granted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contract.payloads import (
    AccessEvent,
    AlarmEvent,
    AlarmKind,
    CrossingEvent,
    CrossingSource,
    Decision,
    Direction,
    DoorEvent,
    DoorState,
    DropReport,
    EventPayload,
    PresenceEvent,
)
from contract.tokens import worker_number_of
from firmware_bridge import beams
from gateway import door_controller as door
from gateway.access_rules import AccessDecision
from gateway.outbox import DropSummary


@dataclass(frozen=True, slots=True)
class WireEvent:
    """An event to stamp and publish: its payload model and the fields it carries."""

    model: type[EventPayload]
    fields: dict[str, Any]


_ALARMS: dict[type, tuple[AlarmKind, bool]] = {
    door.HeldOpenRaised: (AlarmKind.HELD_OPEN, True),
    door.HeldOpenCleared: (AlarmKind.HELD_OPEN, False),
    door.ForcedOpenRaised: (AlarmKind.FORCED, True),
    door.ForcedOpenCleared: (AlarmKind.FORCED, False),
    door.TamperAlarmRaised: (AlarmKind.TAMPER, True),
    door.TamperAlarmCleared: (AlarmKind.TAMPER, False),
    door.FireReleaseStarted: (AlarmKind.FIRE, True),
    door.FireReleaseEnded: (AlarmKind.FIRE, False),
}

_STATES: dict[type, DoorState] = {
    door.DoorOpened: DoorState.OPENED,
    door.DoorClosed: DoorState.CLOSED,
    door.LockdownStarted: DoorState.LOCKDOWN_STARTED,
    door.LockdownEnded: DoorState.LOCKDOWN_ENDED,
}


def from_access(decision: AccessDecision) -> WireEvent:
    """Every decision at a door is reported, granted or not, with its reason, and the
    token's identity when it was an authentic QR token."""
    token = decision.token_id
    return WireEvent(
        AccessEvent,
        {
            "door_id": decision.door_id,
            "direction": decision.direction,
            "credential": decision.credential,
            "worker_id": decision.worker_id,
            "token_not_before": None if token is None else datetime.fromtimestamp(token[1], UTC),
            "decision": decision.decision,
            "reason": decision.reason,
        },
    )


def token_granted(event: AccessEvent) -> tuple[int, int] | None:
    """The token (worker, not_before) an access event says was let in, read back from the
    wire as `from_access` wrote it; None for anything but an entry granted to a QR token."""
    if (
        event.decision is not Decision.GRANTED
        or event.direction is not Direction.IN
        or event.worker_id is None
        or event.token_not_before is None
    ):
        return None
    worker_number = worker_number_of(event.worker_id)
    if worker_number is None:
        return None
    return worker_number, int(event.token_not_before.timestamp())


def from_door(door_id: str, event: door.DoorEvent) -> list[WireEvent]:
    """The wire events for one door controller event (none for a refused grant)."""
    if isinstance(event, door.Unlocked):
        wire = [_door(door_id, DoorState.UNLOCKED, event.cause.value)]
        if event.cause is door.UnlockCause.REX:
            # The exit button means somebody is leaving; the central counts them out.
            wire.append(
                WireEvent(
                    CrossingEvent,
                    {"door_id": door_id, "direction": Direction.OUT, "source": CrossingSource.REX},
                )
            )
        return wire
    if isinstance(event, door.Relocked):
        return [_door(door_id, DoorState.LOCKED, event.cause.value)]
    if type(event) in _STATES:
        return [_door(door_id, _STATES[type(event)], None)]
    if type(event) in _ALARMS:
        kind, active = _ALARMS[type(event)]
        return [WireEvent(AlarmEvent, {"door_id": door_id, "alarm": kind, "active": active})]
    return []


def from_beams(door_id: str, result: beams.BeamResult) -> WireEvent | None:
    """A completed crossing becomes a crossing event; an abandoned one is not reported."""
    if not isinstance(result, beams.Crossing):
        return None
    direction = Direction.IN if result.direction is beams.Direction.IN else Direction.OUT
    return WireEvent(
        CrossingEvent, {"door_id": door_id, "direction": direction, "source": CrossingSource.BEAM}
    )


def presence(sensor_id: str, zone: str, present: bool) -> WireEvent:
    """A presence sensor changed its mind."""
    return WireEvent(PresenceEvent, {"sensor_id": sensor_id, "zone": zone, "present": present})


def dropped(summary: DropSummary) -> WireEvent:
    """The outbox overflowed and deleted events: say which, so the central knows the gap
    is for good."""
    return WireEvent(
        DropReport,
        {
            "count": summary.count,
            "kinds": dict(summary.kinds),
            "seq_ranges": summary.seq_ranges,
            "truncated": summary.truncated,
        },
    )


def _door(door_id: str, state: DoorState, cause: str | None) -> WireEvent:
    return WireEvent(DoorEvent, {"door_id": door_id, "state": state, "cause": cause})
