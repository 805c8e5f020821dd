"""What the live stream sends: one type per kind of message, and its server-sent event text.

A change is the very dataclass the batch that made it carries (`OccupancyChange`,
`DoorChange`, `DoorCondition`, `AlertChange`, `GatewayRow`, `CommandOutcome`,
`EntryChange`); the stream adds the `Snapshot` it starts with and the `Overflow` it ends
with when a client falls too far behind. Each message is sent as `event: <kind>` and
`data: <the dataclass as JSON>`, which is what the UI's `EventSource` listeners read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

from dashboard.core.alert_rules import AlertChange
from dashboard.core.changes import (
    BatchResult,
    CommandOutcome,
    DoorChange,
    DoorCondition,
    EntryChange,
    GatewayRow,
    OccupancyChange,
)
from dashboard.storage.store import AlertRow

Change = (
    OccupancyChange
    | DoorChange
    | DoorCondition
    | AlertChange
    | GatewayRow
    | CommandOutcome
    | EntryChange
)
"""A change a client can subscribe to."""


class StationCount(NamedTuple):
    """A station in the snapshot, as a short array: `[id, occupancy, capacity, online]`."""

    station_id: str
    occupancy: int
    capacity: int | None
    online: bool


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The truth when a client connects, so it need not wait for the next change."""

    stations: list[StationCount]
    doors: list[DoorChange] | None = None
    """Every door's last known state; left out when the client did not ask for doors."""
    alerts: list[AlertRow] | None = None
    """The unresolved alerts; left out when the client did not ask for alerts."""
    conditions: list[DoorCondition] | None = None
    """The doors in lockdown, under a fire release or forced open; left out when the
    client did not ask for conditions."""


@dataclass(frozen=True, slots=True)
class Overflow:
    """The client fell too far behind and is cut off; it reconnects and reloads."""


LiveMessage = Snapshot | Change | Overflow

KIND_OF: dict[type[LiveMessage], str] = {
    Snapshot: "snapshot",
    OccupancyChange: "occupancy",
    DoorChange: "door",
    DoorCondition: "condition",
    AlertChange: "alert",
    GatewayRow: "gateway",
    CommandOutcome: "command",
    EntryChange: "entry",
    Overflow: "overflow",
}
"""The `event:` name of each message type."""

_FIELD_NAMES: dict[type, tuple[str, ...]] = {
    kind: tuple(f.name for f in fields(kind)) for kind in KIND_OF
}

CHANGE_KINDS = frozenset(
    KIND_OF[kind]
    for kind in (
        OccupancyChange,
        DoorChange,
        DoorCondition,
        AlertChange,
        GatewayRow,
        CommandOutcome,
        EntryChange,
    )
)
"""The kinds a client may narrow its stream to (`kinds=occupancy,alert`)."""


def changes_of(batch: BatchResult) -> list[Change]:
    """Every change a committed batch, check or correction made, in the order sent."""
    return [
        *batch.occupancy_changes(),
        *batch.doors,
        *batch.conditions,
        *batch.alerts,
        *batch.gateways,
        *batch.commands,
        *batch.entries,
    ]


def event_text(message: LiveMessage) -> str:
    """The server-sent event for one message."""
    if isinstance(message, Snapshot):
        # A part the client did not ask for is left out rather than sent empty.
        data = {key: value for key, value in asdict(message).items() if value is not None}
    else:
        # Changes hold plain values only: their fields as they are, without `asdict`'s
        # deep copy, which cost the ingest's acknowledging thread more than the rest.
        data = {name: getattr(message, name) for name in _FIELD_NAMES[type(message)]}
    return f"event: {KIND_OF[type(message)]}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def occupancy_of_text(text: str) -> OccupancyChange | None:
    """The count an `occupancy` event's text carries (as `event_text` wrote it); None for
    a text that is not one."""
    head, _, data = text.partition("\ndata: ")
    if head != "event: occupancy":
        return None
    try:
        fields = json.loads(data)
        return OccupancyChange(
            str(fields["station_id"]),
            int(fields["occupancy"]),
            None if fields["capacity"] is None else int(fields["capacity"]),
            {str(zone): int(count) for zone, count in fields["zones"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
