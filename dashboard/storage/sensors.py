"""Presence sensors as their events describe them: present or not, since when, last heard,
and whether they have gone silent.

Table `sensors`; nothing else writes it. The presence resets and the silent-sensor alerts
read it; the station page reads it beside the devices' health reports
(`dashboard.storage.devices`). Functions run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contract.payloads import PresenceEvent
from dashboard.core.occupancy import SensorState
from dashboard.storage.db import Connection

SensorKey = tuple[str, str]
"""(station id, sensor id)."""


@dataclass(frozen=True, slots=True)
class Reading:
    """What one presence event says of its sensor."""

    station_id: str
    sensor_id: str
    zone: str
    present: bool
    at: float
    """The gateway's time of the event, epoch seconds."""

    @classmethod
    def of(cls, event: PresenceEvent) -> Reading:
        """The reading a presence event carries."""
        return cls(
            event.station_id, event.sensor_id, event.zone, event.present, event.at.timestamp()
        )


def record(db: Connection, readings: Sequence[Reading]) -> list[SensorKey]:
    """Keep each sensor's newest state (`changed_at` moves only when `present` does);
    the sensors among them that had been marked silent, now speaking again."""
    if not readings:
        return []
    was_silent = {
        (r[0], r[1])
        for r in db.execute("SELECT station_id, sensor_id FROM sensors WHERE silent = 1")
    }
    db.executemany(
        """
        INSERT INTO sensors (station_id, sensor_id, zone, present, changed_at, last_seen)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (station_id, sensor_id) DO UPDATE SET zone = excluded.zone,
            changed_at = CASE WHEN sensors.present = excluded.present
                THEN sensors.changed_at ELSE excluded.changed_at END,
            present = excluded.present, last_seen = excluded.last_seen, silent = 0
        """,
        [(r.station_id, r.sensor_id, r.zone, r.present, r.at, r.at) for r in readings],
    )
    woke = []
    for reading in readings:
        key = (reading.station_id, reading.sensor_id)
        if key in was_silent:
            was_silent.discard(key)
            woke.append(key)
    return woke


def mark_silent(db: Connection, unheard_since: float) -> list[SensorKey]:
    """Mark as silent the sensors not heard from since `unheard_since` (epoch seconds)
    and not marked yet; which they are."""
    quiet = [
        (r[0], r[1])
        for r in db.execute(
            "SELECT station_id, sensor_id FROM sensors WHERE silent = 0 AND last_seen < ?",
            (unheard_since,),
        ).fetchall()
    ]
    db.executemany("UPDATE sensors SET silent = 1 WHERE station_id = ? AND sensor_id = ?", quiet)
    return quiet


def forget_station(db: Connection, station_id: str) -> None:
    """Delete a station's sensors."""
    db.execute("DELETE FROM sensors WHERE station_id = ?", (station_id,))


def stations_empty_since(db: Connection, changed_before: float) -> list[str]:
    """Stations with people counted in a zone where some sensor has seen nobody since
    before `changed_before`: the candidates for a presence reset."""
    return [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT z.station_id FROM station_zones z JOIN sensors s "
            "ON s.station_id = z.station_id AND s.zone = z.zone "
            "WHERE z.occupancy > 0 AND s.present = 0 AND s.changed_at <= ?",
            (changed_before,),
        ).fetchall()
    ]


def states(db: Connection, station_id: str) -> list[SensorState]:
    """What every presence sensor of a station last said."""
    return [
        SensorState(r[0], bool(r[1]), float(r[2]))
        for r in db.execute(
            "SELECT zone, present, changed_at FROM sensors WHERE station_id = ?", (station_id,)
        )
    ]
