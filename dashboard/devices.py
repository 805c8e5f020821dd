"""Every sensor of a station and its last reading, for the station page.

Two sources, both already on the wire:

- each gateway's retained `health/1` report (every 30 s, and soon after a door or
  presence change) lists its devices — scanners, radars, door contacts and locks, beam
  pairs, PIRs, Wiegand readers — with whether they answer and what they read now;
- presence events (`presence/1`), which ingest already keeps per sensor in the `sensors`
  table for the presence resets.

The event writer stores nothing for health reports (it only acknowledges them in order):
`DeviceReadings.offer` keeps the newest report per gateway in memory as it arrives, and
`flush` (from the periodic checks) replaces that gateway's devices in one transaction.
Ten thousand gateways reporting every 30 s cost one write of a few hundred rows per
check, never a write per message; a report lost with a crash is replaced by the next one
(and the broker retains the latest).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contract.maintenance_payloads import Health
from contract.payloads import format_utc
from dashboard.db import Database

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


class DeviceReadings:
    """The newest health report per gateway in memory, written on `flush`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], Health] = {}
        # Which devices each gateway had at the last write: most reports name the same
        # ones again, and then an upsert is all it takes (no delete).
        self._written: dict[tuple[str, str], frozenset[str]] = {}

    def offer(self, report: Health) -> None:
        """Keep a gateway's report until the next flush; a newer one replaces it."""
        key = (report.station_id, report.gateway_id)
        with self._lock:
            kept = self._pending.get(key)
            if kept is None or kept.at <= report.at:
                self._pending[key] = report

    def flush(self) -> int:
        """Write the reports held; how many gateways' devices were replaced."""
        with self._lock:
            reports, self._pending = self._pending, {}
        if not reports:
            return 0
        names = {key: frozenset(report.devices) for key, report in reports.items()}
        changed = [key for key, kept in names.items() if self._written.get(key) != kept]
        try:
            with self.db.transaction() as db:
                # A gateway whose devices changed (or that this process has not written
                # yet) loses the ones it no longer reports.
                db.executemany(
                    "DELETE FROM devices WHERE station_id = ? AND gateway_id = ?", changed
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
                        for r in reports.values()
                        for name, device in sorted(r.devices.items())
                    ],
                )
        except Exception:
            with self._lock:
                for key, report in reports.items():
                    self._pending.setdefault(key, report)
            raise
        self._written.update(names)
        return len(reports)

    def station(self, station_id: str) -> list[SensorReading]:
        """Every sensor the central knows at a station, by gateway and id."""
        with self.db.connection() as db:
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
