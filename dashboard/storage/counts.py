"""Head counts with their corrections: writing new counts, and the audit of every count
set by an operator or by presence sensors.

Table `occupancy_corrections`; nothing else writes it. The counts themselves live with
the stations (`dashboard.storage.stations`), and `write` stores them and keeps each
station's `station_full` alert in line with the rule in `dashboard.core.alert_rules`
(with its hysteresis: an open alert holds until the count falls below 90 %):
the one place where a new count meets that rule, whether it came from a batch of events,
a presence reset or an operator. Functions run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contract.payloads import format_utc, utc_now
from dashboard.core.alert_rules import AlertKind, station_full
from dashboard.core.changes import BatchResult
from dashboard.core.occupancy import StationCounts
from dashboard.storage import alerts, stations
from dashboard.storage.db import Connection

PRESENCE = "presence"
"""Who set a count that presence sensors reset."""


@dataclass(frozen=True, slots=True)
class CorrectionRow:
    """An audited change of a count by an operator or by presence."""

    id: int
    station_id: str
    zone: str
    before: int
    after: int
    by: str
    reason: str
    at: str


def write(db: Connection, states: Mapping[str, StationCounts], result: BatchResult) -> None:
    """Store changed counts, open or resolve `station_full` where a station crossed its
    capacity, and note both in `result`. A few statements for any number of stations."""
    if not states:
        return
    capacities = stations.write_counts(db, states)
    already = alerts.unresolved_stations(db, AlertKind.STATION_FULL, states)
    full: dict[alerts.Place, str | None] = {}
    for sid, state in states.items():
        capacity = capacities.get(sid)
        result.occupancy[sid] = (state.total, capacity)
        result.zones[sid] = dict(state.zones)
        full[(sid, None, None)] = station_full(sid, state.total, capacity, sid in already)
    result.alerts += alerts.settle(db, AlertKind.STATION_FULL, full)


def set_zone(
    db: Connection, station_id: str, counts: StationCounts, zone: str, count: int, by: str, why: str
) -> None:
    """Set one zone's count in `counts`, recording who did it, why and the count before."""
    db.execute(
        "INSERT INTO occupancy_corrections (station_id, zone, before_count, after_count, "
        "corrected_by, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (station_id, zone, counts.zones[zone], count, by, why, format_utc(utc_now())),
    )
    counts.set_zone(zone, count)
    # Written even when unchanged: an operator confirming a count still publishes it.
    counts.changed_zones.add(zone)


def correct(
    db: Connection, station_id: str, zone: str, count: int, by: str, reason: str
) -> BatchResult:
    """Set a zone's count by hand, with an audit record; `StationNotFoundError`,
    `KeyError` for a zone the station does not have."""
    stations.require(db, station_id)
    counts = stations.load_counts(db, [station_id])[station_id]
    if zone not in counts.zones:
        raise KeyError(zone)
    set_zone(db, station_id, counts, zone, count, by, reason)
    result = BatchResult()
    write(db, {station_id: counts}, result)
    return result


def purge(db: Connection, cutoff: str) -> None:
    """Delete corrections made before `cutoff`."""
    db.execute("DELETE FROM occupancy_corrections WHERE at < ?", (cutoff,))


def corrections(db: Connection, station_id: str, limit: int = 100) -> list[CorrectionRow]:
    """A station's audited count changes, newest first."""
    rows = db.execute(
        "SELECT id, station_id, zone, before_count, after_count, corrected_by, reason, "
        "at FROM occupancy_corrections WHERE station_id = ? ORDER BY id DESC LIMIT ?",
        (station_id, limit),
    ).fetchall()
    return [CorrectionRow(*r) for r in rows]
