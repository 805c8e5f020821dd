"""What one committed batch (or one periodic check) changed, for the live stream, the
retained occupancy topics and the exports."""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard.core.alert_rules import AlertChange
from dashboard.core.occupancy import DEFAULT_ZONE


@dataclass(frozen=True, slots=True)
class GatewayRow:
    """A gateway's health as the central sees it."""

    station_id: str
    gateway_id: str
    online: bool
    version: str | None
    last_seen: str | None
    offline_reason: str | None
    clock_offset_s: float | None


@dataclass(frozen=True, slots=True)
class DoorChange:
    """A door's lock or contact changed (for the live stream)."""

    station_id: str
    gateway_id: str
    door_id: str
    state: str
    at: str


@dataclass(frozen=True, slots=True)
class DoorCondition:
    """Whether a door is in lockdown, under a fire release or forced open, as its gateway's
    latest health report says (for the map marker and the station banner)."""

    station_id: str
    gateway_id: str
    door_id: str
    lockdown: bool
    fire: bool
    forced_open: bool
    at: str

    @property
    def any(self) -> bool:
        """Whether any of the three holds."""
        return self.lockdown or self.fire or self.forced_open


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """How a command an operator sent a gateway stands (`dashboard.core.commands`)."""

    request_id: str
    station_id: str
    gateway_id: str
    door_id: str | None
    command: str
    """The dashboard's name for it: `unlock`, `lock`, `lockdown_on`, ... (`DashboardCommand`)."""
    by: str
    outcome: str
    """`pending`, `done`, `refused` or `no_answer`."""
    message: str
    """The gateway's own words (empty while pending and without an answer)."""
    reply_status: str | None
    """The gateway's `reply/1` status (`ok`, `error`, `expired`, ...), when it answered."""
    issued_at: str
    answer_by: str
    answer_within_s: float
    answered_at: str | None


@dataclass(frozen=True, slots=True)
class EntryChange:
    """An access decision just stored (for the live entries log and the day's totals)."""

    event_id: str
    station_id: str
    gateway_id: str
    door_id: str
    direction: str
    decision: str
    reason: str
    worker_id: str | None
    at: str


@dataclass(frozen=True, slots=True)
class OccupancyChange:
    """A station's new counts."""

    station_id: str
    occupancy: int
    capacity: int | None
    zones: dict[str, int]


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    """When the store's checks and ingest raise alerts."""

    gap_after_s: float = 300.0
    offline_after_s: float = 90.0
    sensor_silent_after_s: float = 3600.0
    clock_skew_s: float = 30.0
    empty_reset_s: float = 600.0
    stall_after_s: float = 30.0
    reorder_hold_s: float = 0.0
    """How long an event waits for an earlier one of its gateway before it is applied
    anyway (`dashboard.core.sequence_order`); 0 applies each in arrival order, which is
    the gateway's order when one central receives all of its messages."""


@dataclass(slots=True)
class BatchResult:
    """What one committed batch (or one check) changed."""

    stored: int = 0
    duplicates: int = 0
    occupancy: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    """Station id → (new occupancy, capacity), for stations whose count changed."""
    quarantined: int = 0
    zones: dict[str, dict[str, int]] = field(default_factory=dict)
    """Station id → zone → count, for stations whose count changed."""
    doors: list[DoorChange] = field(default_factory=list)
    alerts: list[AlertChange] = field(default_factory=list)
    visits: dict[str, int] = field(default_factory=dict)
    """Station id → granted entries in this batch."""
    gateways: list[GatewayRow] = field(default_factory=list)
    """Gateways whose online state changed."""
    stored_marks: dict[tuple[str, str], int] = field(default_factory=dict)
    """(station id, gateway id) → the highest sequence number up to which its events are
    all stored, for the gateways that sent events or announced themselves in the batch;
    published retained on the gateway's `stored` topic."""

    conditions: list[DoorCondition] = field(default_factory=list)
    """Doors whose lockdown, fire or forced-open condition changed."""
    commands: list[CommandOutcome] = field(default_factory=list)
    """Commands that got their outcome (an answer, or none in time)."""
    unknown_replies: list[tuple[str, str]] = field(default_factory=list)
    """(topic, request id) of replies to no command the central is waiting for."""
    entries: list[EntryChange] = field(default_factory=list)
    """Access decisions stored by the batch, in the order they came."""
    heard: set[str] = field(default_factory=set)
    """Stations with a gateway heard from in the batch: their last-seen time moved."""

    def occupancy_changes(self) -> list[OccupancyChange]:
        """The changed counts, one per station."""
        return [
            OccupancyChange(sid, total, cap, self.zones.get(sid, {DEFAULT_ZONE: total}))
            for sid, (total, cap) in self.occupancy.items()
        ]


def condition_changes(
    before: list[DoorCondition], after: list[DoorCondition]
) -> list[DoorCondition]:
    """The doors whose lockdown, fire or forced-open condition differs between two
    readings; a door no longer reported counts as clear of all three."""
    flags = {(c.station_id, c.gateway_id, c.door_id): c for c in before}
    now = {(c.station_id, c.gateway_id, c.door_id): c for c in after}
    changed = []
    for key, condition in now.items():
        old = flags.get(key)
        was = (False, False, False) if old is None else _flags(old)
        if _flags(condition) != was:
            changed.append(condition)
    for key, old in flags.items():
        if key not in now and old.any:
            changed.append(DoorCondition(*key, False, False, False, old.at))
    return changed


def _flags(condition: DoorCondition) -> tuple[bool, bool, bool]:
    return condition.lockdown, condition.fire, condition.forced_open
