"""Every sensor of a station and its last reading, for the station page.

Two sources, both already on the wire:

- each gateway's retained `health/1` report (every 30 s, and soon after a door or
  presence change) lists its devices — scanners, radars, door contacts and locks, beam
  pairs, PIRs, Wiegand readers — with whether they answer and what they read now;
- presence events (`presence/1`), which ingest already keeps per sensor in the `sensors`
  table for the presence resets.

Health reports go through the ingest like events, and `write_reports` stores the newest
report per gateway of a batch inside the batch's transaction: a gateway's devices are
upserted, and the ones it no longer reports deleted. Table `devices`; nothing else writes
it. `station_readings` reads both sources for one station.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contract.maintenance_payloads import Health
from contract.payloads import format_utc
from dashboard.core.changes import DoorCondition
from dashboard.storage.db import Connection, Database

PRESENCE = "presence"
"""The kind of a sensor known only from its presence events."""


@dataclass(frozen=True, slots=True)
class SensorReading:
    """One sensor of a station and what it read last, and when."""

    sensor_id: str
    kind: str
    gateway_id: str | None
    ok: bool | None
    """Whether the device answers (from health reports); None when only events know it."""
    reading: dict[str, Any]
    read_at: str
    detail: str = ""
    zone: str | None = None
    silent: bool = False
    last_frame_age_s: float | None = None
    sources: list[str] = field(default_factory=list)
    """Where the reading comes from: `health`, `events` or both."""


def write_reports(db: Connection, reports: Iterable[Health]) -> list[Health]:
    """Store each gateway's devices from the newest of `reports` (inside a transaction),
    unless its devices were read later than that already; the reports stored, for the
    alerts they settle. A report that comes after a newer one (a replica storing its
    share of the messages late, after a restart) changes nothing."""
    newest: dict[tuple[str, str], Health] = {}
    for report in reports:
        key = (report.station_id, report.gateway_id)
        kept = newest.get(key)
        if kept is None or kept.at <= report.at:
            newest[key] = report
    if not newest:
        return []
    among, station_ids = db.among(sorted({sid for sid, _ in newest}))
    for sid, gid, read_at in db.execute(
        "SELECT station_id, gateway_id, max(read_at) FROM devices "
        f"WHERE station_id {among} GROUP BY station_id, gateway_id",
        station_ids,
    ).fetchall():
        found = newest.get((sid, gid))
        if found is not None and format_utc(found.at) < read_at:
            del newest[(sid, gid)]
    for report in newest.values():
        names = sorted(report.devices)
        marks = ", ".join("?" * len(names))
        db.execute(
            "DELETE FROM devices WHERE station_id = ? AND gateway_id = ?"
            + (f" AND device_id NOT IN ({marks})" if names else ""),
            (report.station_id, report.gateway_id, *names),
        )
    db.executemany(
        "INSERT INTO devices (station_id, gateway_id, device_id, kind, ok, detail, "
        "state, last_frame_age_s, read_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (station_id, gateway_id, device_id) DO UPDATE SET "
        "kind = excluded.kind, ok = excluded.ok, detail = excluded.detail, "
        "state = excluded.state, last_frame_age_s = excluded.last_frame_age_s, "
        "read_at = excluded.read_at",
        [
            (
                r.station_id,
                r.gateway_id,
                name,
                device.kind,
                device.ok,
                device.detail,
                json.dumps(device.state, sort_keys=True),
                device.last_frame_age_s,
                format_utc(r.at),
            )
            for r in newest.values()
            for name, device in sorted(r.devices.items())
        ],
    )
    return list(newest.values())


DOOR_PREFIX = "door-"
"""A door's device id in a health report is `door-<door id>` (`gateway.devices`)."""


def door_conditions(
    db: Connection, station_ids: Iterable[str] | None = None
) -> list[DoorCondition]:
    """Every door's lockdown, fire and forced-open condition from the latest health
    reports (of `station_ids` only, when given), set or not."""
    wanted = None if station_ids is None else sorted(set(station_ids))
    sql = "SELECT station_id, gateway_id, device_id, state, read_at FROM devices WHERE kind = ?"
    params: list[object] = ["door"]
    if wanted is not None:
        if not wanted:
            return []
        sql += f" AND station_id IN ({', '.join('?' * len(wanted))})"
        params += wanted
    conditions = []
    for sid, gid, name, state, read_at in db.execute(sql + " ORDER BY 1, 3, 2", params):
        reading = json.loads(state)
        conditions.append(
            DoorCondition(
                station_id=str(sid),
                gateway_id=str(gid),
                door_id=str(name).removeprefix(DOOR_PREFIX),
                lockdown=reading.get("lockdown") is True,
                fire=reading.get("fire") is True,
                forced_open=reading.get("forced_open") is True,
                at=str(read_at),
            )
        )
    return conditions


def current_conditions(
    database: Database, stations: Iterable[str] | None = None
) -> list[DoorCondition]:
    """The doors that are in lockdown, under a fire release or forced open now (of
    `stations` only, when given)."""
    with database.connection() as db:
        return [c for c in door_conditions(db, stations) if c.any]


def forget_station(db: Connection, station_id: str) -> None:
    """Delete the devices of a station's gateways."""
    db.execute("DELETE FROM devices WHERE station_id = ?", (station_id,))


def station_readings(database: Database, station_id: str) -> list[SensorReading]:
    """Every sensor the central knows at a station, by kind and id."""
    with database.connection() as db:
        devices = db.execute(
            "SELECT gateway_id, device_id, kind, ok, detail, state, last_frame_age_s, "
            "read_at FROM devices WHERE station_id = ?",
            (station_id,),
        ).fetchall()
        presence = db.execute(
            "SELECT sensor_id, zone, present, changed_at, last_seen, silent FROM sensors "
            "WHERE station_id = ?",
            (station_id,),
        ).fetchall()
    readings: dict[str, SensorReading] = {}
    for gid, name, kind, ok, detail, state, age, read_at in devices:
        readings[str(name)] = SensorReading(
            sensor_id=str(name),
            kind=str(kind),
            gateway_id=str(gid),
            ok=bool(ok),
            reading=dict(json.loads(state)),
            read_at=str(read_at),
            detail=str(detail),
            last_frame_age_s=None if age is None else float(age),
            sources=["health"],
        )
    for sensor_id, zone, present, changed_at, last_seen, silent in presence:
        seen = _iso(float(last_seen))
        reading = {"present": bool(present), "since": _iso(float(changed_at))}
        known = readings.get(str(sensor_id))
        if known is None:
            readings[str(sensor_id)] = SensorReading(
                sensor_id=str(sensor_id),
                kind=PRESENCE,
                gateway_id=None,
                ok=None,
                reading=reading,
                read_at=seen,
                zone=str(zone),
                silent=bool(silent),
                sources=["events"],
            )
            continue
        # The same radar in both: its presence event is the reading when it is newer
        # than the health report, and the report still says whether the port answers.
        newer = seen > known.read_at
        readings[str(sensor_id)] = SensorReading(
            sensor_id=known.sensor_id,
            kind=known.kind,
            gateway_id=known.gateway_id,
            ok=known.ok,
            reading={**known.reading, **reading} if newer else known.reading,
            read_at=seen if newer else known.read_at,
            detail=known.detail,
            zone=str(zone),
            silent=bool(silent),
            last_frame_age_s=known.last_frame_age_s,
            sources=["health", "events"],
        )
    return sorted(readings.values(), key=lambda r: (r.kind, r.sensor_id))


def _iso(epoch: float) -> str:
    return format_utc(datetime.fromtimestamp(epoch, UTC))
