"""Storage of stations, gateways, events, entries, quarantined messages, counts and alerts.

One implementation over `dashboard.storage.db`, for SQLite and PostgreSQL alike. Ingest writes a
whole batch in one transaction with a few `executemany` calls (events, entries, gateway
last-seen), so the cost per event is a row, not a round trip; counts, alerts and
sequence tracking are worked out per batch and per station.
"""

from __future__ import annotations

import base64
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from contract.maintenance_payloads import Health
from contract.payloads import (
    AccessEvent,
    AlarmEvent,
    Availability,
    DoorEvent,
    DropReport,
    EventPayload,
    PresenceEvent,
    format_utc,
    utc_now,
)
from dashboard.core.alert_rules import AlertChange, AlertKind
from dashboard.core.changes import (
    AlertThresholds,
    BatchResult,
    DoorChange,
    GatewayRow,
)
from dashboard.core.occupancy import DEFAULT_ZONE, SensorState, StationCounts, presence_resets
from dashboard.core.stations import DoorSpec, StationInput
from dashboard.storage import alerts as alert_rules
from dashboard.storage import devices, door_states, sequences
from dashboard.storage.db import Connection, Database

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE stations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        lat {real},
        lon {real},
        capacity INTEGER,
        occupancy INTEGER NOT NULL DEFAULT 0,
        registered INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE gateways (
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        online INTEGER NOT NULL DEFAULT 0,
        version TEXT,
        last_seen TEXT,
        PRIMARY KEY (station_id, gateway_id)
    );
    CREATE TABLE events (
        event_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        seq {bigint} NOT NULL,
        at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE TABLE entries (
        event_id TEXT PRIMARY KEY REFERENCES events (event_id),
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        seq {bigint} NOT NULL,
        at TEXT NOT NULL,
        door_id TEXT NOT NULL,
        direction TEXT NOT NULL,
        credential TEXT NOT NULL,
        worker_id TEXT,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX entries_newest ON entries (at DESC, event_id);
    CREATE TABLE rejections (
        id {serial},
        received_at TEXT NOT NULL,
        topic TEXT NOT NULL,
        code TEXT NOT NULL,
        reason TEXT NOT NULL,
        size INTEGER NOT NULL,
        sample {blob} NOT NULL
    );
    """,
    """
    ALTER TABLE rejections RENAME TO quarantine;
    ALTER TABLE quarantine RENAME COLUMN sample TO payload;
    """,
    sequences.MIGRATION,
    """
    ALTER TABLE stations ADD COLUMN address TEXT;
    ALTER TABLE stations ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Asia/Shanghai';
    ALTER TABLE stations ADD COLUMN opening_hours TEXT;
    ALTER TABLE stations ADD COLUMN amenities TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE stations ADD COLUMN accepting INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE stations ADD COLUMN updated_at TEXT;
    CREATE TABLE station_zones (
        station_id TEXT NOT NULL,
        zone TEXT NOT NULL,
        capacity INTEGER,
        occupancy INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (station_id, zone)
    );
    INSERT INTO station_zones (station_id, zone, occupancy)
        SELECT id, 'rest', occupancy FROM stations;
    CREATE TABLE doors (
        station_id TEXT NOT NULL,
        door_id TEXT NOT NULL,
        zone TEXT NOT NULL DEFAULT 'rest',
        beams INTEGER NOT NULL DEFAULT 0,
        gateway_id TEXT,
        configured INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (station_id, door_id)
    );
    CREATE TABLE sensors (
        station_id TEXT NOT NULL,
        sensor_id TEXT NOT NULL,
        zone TEXT NOT NULL,
        present INTEGER NOT NULL,
        changed_at {real} NOT NULL,
        last_seen {real} NOT NULL,
        silent INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (station_id, sensor_id)
    );
    CREATE TABLE occupancy_corrections (
        id {serial},
        station_id TEXT NOT NULL,
        zone TEXT NOT NULL,
        before_count INTEGER NOT NULL,
        after_count INTEGER NOT NULL,
        corrected_by TEXT NOT NULL,
        reason TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX corrections_by_station ON occupancy_corrections (station_id, id);
    ALTER TABLE alerts ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
    ALTER TABLE alerts ADD COLUMN subject TEXT;
    ALTER TABLE alerts ADD COLUMN acknowledged_at TEXT;
    ALTER TABLE alerts ADD COLUMN acknowledged_by TEXT;
    ALTER TABLE alerts ADD COLUMN resolved_by TEXT;
    UPDATE alerts SET status = 'resolved', resolved_by = 'system'
        WHERE resolved_at IS NOT NULL;
    ALTER TABLE gateways ADD COLUMN offline_reason TEXT;
    ALTER TABLE gateways ADD COLUMN clock_offset_s {real};
    CREATE INDEX gateways_silent ON gateways (offline_reason);
    CREATE INDEX entries_by_station ON entries (station_id, at);
    CREATE INDEX events_by_time ON events (at);
    """,
    # What the station page shows beyond live counts: the count per minute (written once a
    # minute from the changes ingest already made, never per event), every device's last
    # reading from its gateway's health report, each door's last state (for the live
    # stream's snapshot), and what an operator wrote when acting on an alert.
    """
    CREATE TABLE occupancy_history (
        station_id TEXT NOT NULL,
        at TEXT NOT NULL,
        occupancy INTEGER NOT NULL,
        peak INTEGER NOT NULL,
        capacity INTEGER,
        PRIMARY KEY (station_id, at)
    );
    CREATE INDEX occupancy_history_at ON occupancy_history (at);
    CREATE TABLE devices (
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        ok INTEGER NOT NULL,
        detail TEXT NOT NULL,
        state TEXT NOT NULL,
        last_frame_age_s {real},
        read_at TEXT NOT NULL,
        PRIMARY KEY (station_id, gateway_id, device_id)
    );
    CREATE TABLE door_states (
        station_id TEXT NOT NULL,
        door_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        state TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (station_id, door_id)
    );
    ALTER TABLE alerts ADD COLUMN acknowledged_note TEXT;
    ALTER TABLE alerts ADD COLUMN resolved_note TEXT;
    """,
)
"""Schema changes in order; a database records how many it has applied."""

QUARANTINE_KEEP_BYTES = 64 * 1024
"""How much of a quarantined payload is kept: all of any payload within the size limit."""

_ID_CHUNK = 500
"""Event ids looked up per statement when checking a batch for duplicates."""


@dataclass(frozen=True, slots=True)
class StationRow:
    """A station as the API and the map show it."""

    id: str
    name: str
    lat: float | None
    lon: float | None
    capacity: int | None
    occupancy: int
    online: bool
    registered: bool = True
    address: str | None = None
    time_zone: str = "Asia/Shanghai"
    opening_hours: str | None = None
    amenities: tuple[str, ...] = ()
    accepting: bool = True
    last_seen: str | None = None


@dataclass(frozen=True, slots=True)
class ZoneRow:
    """One zone's count and capacity."""

    zone: str
    occupancy: int
    capacity: int | None


@dataclass(frozen=True, slots=True)
class StationDetail:
    """A station with its zones, doors and gateways."""

    station: StationRow
    zones: list[ZoneRow]
    doors: list[DoorSpec]
    gateways: list[str]


@dataclass(frozen=True, slots=True)
class EntryRow:
    """One access decision as the API shows it."""

    event_id: str
    station_id: str
    gateway_id: str
    seq: int
    at: str
    door_id: str
    direction: str
    credential: str
    worker_id: str | None
    decision: str
    reason: str


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """Which entries to list."""

    station_id: str | None = None
    gateway_id: str | None = None
    door_id: str | None = None
    decision: str | None = None
    direction: str | None = None
    worker_id: str | None = None
    since: str | None = None
    until: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A message that failed validation, to be kept with its reason."""

    topic: str
    code: str
    reason: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    """A quarantined message and why, with the start of its payload as text."""

    id: int
    received_at: str
    topic: str
    code: str
    reason: str
    size: int
    sample: str


@dataclass(frozen=True, slots=True)
class AlertRow:
    """Something an operator should look at; open while `resolved_at` is None."""

    id: int
    kind: str
    station_id: str | None
    gateway_id: str | None
    opened_at: str
    resolved_at: str | None
    detail: str
    status: str = "open"
    subject: str | None = None
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    acknowledged_note: str | None = None
    resolved_note: str | None = None


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


class StationNotFoundError(LookupError):
    """No station with that id."""


class Store:
    """The central's database. Safe to share between threads."""

    def __init__(
        self, where: Path | str | Database, thresholds: AlertThresholds | None = None
    ) -> None:
        if isinstance(where, Database):
            self.db = where
        elif isinstance(where, Path):
            self.db = Database.for_path(where)
        else:
            self.db = Database(where)
        self.thresholds = thresholds or AlertThresholds()
        self.db.migrate("schema_version", MIGRATIONS)

    def _connection(self) -> AbstractContextManager[Connection]:
        """A borrowed connection (kept for tools that query the tables directly)."""
        return self.db.connection()

    def close(self) -> None:
        """Close idle connections."""
        self.db.close()

    # --- stations ----------------------------------------------------------------------

    def upsert_station(
        self,
        station_id: str,
        name: str,
        lat: float | None,
        lon: float | None,
        capacity: int | None,
    ) -> None:
        """Register a station or update its place and capacity; counts are left alone."""
        with self.db.transaction() as db:
            db.execute(
                """
                INSERT INTO stations (id, name, lat, lon, capacity, registered, updated_at)
                VALUES (?, ?, ?, ?, ?, 1, ?)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, lat = excluded.lat,
                    lon = excluded.lon, capacity = excluded.capacity, registered = 1,
                    updated_at = excluded.updated_at
                """,
                (station_id, name, lat, lon, capacity, format_utc(utc_now())),
            )
            db.execute(
                "INSERT INTO station_zones (station_id, zone) VALUES (?, ?) "
                "ON CONFLICT (station_id, zone) DO NOTHING",
                (station_id, DEFAULT_ZONE),
            )

    def put_station(self, station: StationInput) -> bool:
        """Create or replace a station's description; True when it is new.

        Counts are kept; zones no longer named lose their count.
        """
        with self.db.transaction() as db:
            return self._put_station(db, station)

    def put_stations(self, stations: Sequence[StationInput]) -> int:
        """Create or replace many stations in one transaction; how many were new."""
        with self.db.transaction() as db:
            return sum(self._put_station(db, s) for s in stations)

    def _put_station(self, db: Connection, s: StationInput) -> bool:
        existed = db.execute("SELECT registered FROM stations WHERE id = ?", (s.id,)).fetchone()
        db.execute(
            """
            INSERT INTO stations (id, name, lat, lon, capacity, registered, address,
                time_zone, opening_hours, amenities, accepting, updated_at)
            VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, lat = excluded.lat,
                lon = excluded.lon, capacity = excluded.capacity, registered = 1,
                address = excluded.address, time_zone = excluded.time_zone,
                opening_hours = excluded.opening_hours, amenities = excluded.amenities,
                accepting = excluded.accepting, updated_at = excluded.updated_at
            """,
            (
                s.id,
                s.name,
                s.lat,
                s.lon,
                s.capacity,
                s.address,
                s.time_zone,
                s.opening_hours,
                json.dumps([a.value for a in s.amenities]),
                s.accepting,
                format_utc(utc_now()),
            ),
        )
        zones = s.zone_capacities()
        kept = {
            r[0] for r in db.execute("SELECT zone FROM station_zones WHERE station_id = ?", (s.id,))
        }
        for zone in kept - set(zones):
            db.execute("DELETE FROM station_zones WHERE station_id = ? AND zone = ?", (s.id, zone))
        db.executemany(
            "INSERT INTO station_zones (station_id, zone, capacity) VALUES (?, ?, ?) "
            "ON CONFLICT (station_id, zone) DO UPDATE SET capacity = excluded.capacity",
            [(s.id, zone, cap) for zone, cap in zones.items()],
        )
        db.execute("DELETE FROM doors WHERE station_id = ? AND configured = 1", (s.id,))
        db.executemany(
            "INSERT INTO doors (station_id, door_id, zone, beams, gateway_id, configured) "
            "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (station_id, door_id) DO UPDATE SET "
            "zone = excluded.zone, beams = excluded.beams, gateway_id = excluded.gateway_id, "
            "configured = 1",
            [(s.id, d.id, d.zone.value, d.beams, d.gateway_id) for d in s.doors],
        )
        gateways = list(s.gateways) + [d.gateway_id for d in s.doors if d.gateway_id]
        db.executemany(
            "INSERT INTO gateways (station_id, gateway_id, online) VALUES (?, ?, 0) "
            "ON CONFLICT (station_id, gateway_id) DO NOTHING",
            [(s.id, g) for g in dict.fromkeys(gateways)],
        )
        self._sync_total(db, s.id)
        return existed is None or not existed[0]

    def delete_station(self, station_id: str) -> None:
        """Forget a station's description, zones, doors, gateways and sensors.

        Its events and entries stay until retention removes them.
        """
        with self.db.transaction() as db:
            if db.execute("SELECT 1 FROM stations WHERE id = ?", (station_id,)).fetchone() is None:
                raise StationNotFoundError(station_id)
            for table in (
                "station_zones",
                "doors",
                "door_states",
                "gateways",
                "sensors",
                "devices",
            ):
                db.execute(f"DELETE FROM {table} WHERE station_id = ?", (station_id,))
            db.execute("DELETE FROM stations WHERE id = ?", (station_id,))

    _STATION_SELECT = """
        SELECT s.id, s.name, s.lat, s.lon, s.capacity, s.occupancy, s.registered,
            s.address, s.time_zone, s.opening_hours, s.amenities, s.accepting,
            coalesce(g.online, 0) AS online, g.last_seen
        FROM stations s LEFT JOIN (
            SELECT station_id, max(online) AS online, max(last_seen) AS last_seen
            FROM gateways GROUP BY station_id
        ) g ON g.station_id = s.id
    """

    def stations(self) -> list[StationRow]:
        """Every station, with whether any of its gateways is online."""
        with self.db.connection() as db:
            rows = db.execute(self._STATION_SELECT + " ORDER BY s.id").fetchall()
        return [_station_row(r) for r in rows]

    def station(self, station_id: str) -> StationDetail:
        """One station with zones, doors and gateways; `StationNotFoundError`."""
        with self.db.connection() as db:
            row = db.execute(self._STATION_SELECT + " WHERE s.id = ?", (station_id,)).fetchone()
            if row is None:
                raise StationNotFoundError(station_id)
            zones = [
                ZoneRow(r[0], r[1], r[2])
                for r in db.execute(
                    "SELECT zone, occupancy, capacity FROM station_zones WHERE station_id = ? "
                    "ORDER BY zone",
                    (station_id,),
                )
            ]
            doors = [
                DoorSpec(id=r[0], zone=r[1], beams=bool(r[2]), gateway_id=r[3])
                for r in db.execute(
                    "SELECT door_id, zone, beams, gateway_id FROM doors WHERE station_id = ? "
                    "ORDER BY door_id",
                    (station_id,),
                )
            ]
            gateways = [
                r[0]
                for r in db.execute(
                    "SELECT gateway_id FROM gateways WHERE station_id = ? ORDER BY gateway_id",
                    (station_id,),
                )
            ]
        return StationDetail(_station_row(row), zones, doors, gateways)

    def zone_counts(self) -> dict[str, dict[str, int]]:
        """Station id → zone → count, for every station."""
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        with self.db.connection() as db:
            for sid, zone, occupancy in db.execute(
                "SELECT station_id, zone, occupancy FROM station_zones"
            ):
                counts[sid][zone] = occupancy
        return dict(counts)

    # --- ingest ------------------------------------------------------------------------

    def record(
        self,
        events: Iterable[EventPayload | Availability | Health],
        quarantined: Iterable[Quarantined] = (),
        texts: Mapping[str, str] | None = None,
    ) -> BatchResult:
        """Store a batch in one transaction; an event id already stored is skipped.

        Gateway health reports in the batch update their devices' last readings and
        `sensor_faulty` alerts, and count as hearing from the gateway.

        Quarantined messages of the same batch are kept in the same transaction, so that
        once it commits every message of the batch can be acknowledged to the broker.
        `texts` maps event ids to their payloads as they arrived (already validated);
        those are stored as they are, the others serialised from the model.
        """
        received = utc_now()
        received_at = format_utc(received)
        now = received.timestamp()
        result = BatchResult()
        items = list(events)
        with self.db.transaction() as db:
            result.quarantined = self._quarantine(db, quarantined, received_at)
            new, result.duplicates = self._new_events(db, items)
            result.stored = len(new)
            self._ensure_stations(db, {e.station_id for e in items})
            self._insert_events(db, new, received_at, texts or {})
            health = [m for m in items if isinstance(m, Health)]
            self._track_gateways(db, new, health, received_at, now, result)
            for message in items:
                if isinstance(message, Availability):
                    self._record_availability(db, message, received, result)
            if health:
                devices.write_reports(db, health)
                result.alerts += alert_rules.apply_device_health(db, health)
            self._apply_occupancy(db, new, result)
            self._apply_signals(db, new, received, result)
        return result

    def _new_events(
        self, db: Connection, items: list[EventPayload | Availability | Health]
    ) -> tuple[list[EventPayload], int]:
        seen: set[str] = set()
        unique: list[EventPayload] = []
        duplicates = 0
        for event in items:
            if isinstance(event, Availability | Health):
                continue
            if event.event_id in seen:
                duplicates += 1
                continue
            seen.add(event.event_id)
            unique.append(event)
        stored: set[str] = set()
        ids = [e.event_id for e in unique]
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = ids[start : start + _ID_CHUNK]
            marks = ", ".join("?" * len(chunk))
            stored.update(
                r[0]
                for r in db.execute(
                    f"SELECT event_id FROM events WHERE event_id IN ({marks})", chunk
                )
            )
        new = [e for e in unique if e.event_id not in stored]
        return new, duplicates + len(unique) - len(new)

    def _ensure_stations(self, db: Connection, station_ids: set[str]) -> None:
        # An event from a station nobody registered is kept, never dropped; the station
        # shows up unregistered so an operator can describe it.
        rows = [(sid, sid) for sid in sorted(station_ids)]
        db.executemany(
            "INSERT INTO stations (id, name, registered) VALUES (?, ?, 0) "
            "ON CONFLICT (id) DO NOTHING",
            rows,
        )
        db.executemany(
            "INSERT INTO station_zones (station_id, zone) VALUES (?, 'rest') "
            "ON CONFLICT (station_id, zone) DO NOTHING",
            [(sid,) for sid, _ in rows],
        )

    def _insert_events(
        self,
        db: Connection,
        events: list[EventPayload],
        received_at: str,
        texts: Mapping[str, str],
    ) -> None:
        rows = []
        entries = []
        for event in events:
            at = format_utc(event.at)
            rows.append(
                (
                    event.event_id,
                    event.SCHEMA.split("/", 1)[0],
                    event.station_id,
                    event.gateway_id,
                    event.seq,
                    at,
                    received_at,
                    texts.get(event.event_id) or event.model_dump_json(by_alias=True),
                )
            )
            if isinstance(event, AccessEvent):
                entries.append(
                    (
                        event.event_id,
                        event.station_id,
                        event.gateway_id,
                        event.seq,
                        at,
                        event.door_id,
                        event.direction.value,
                        event.credential.value,
                        event.worker_id,
                        event.decision.value,
                        event.reason.value,
                    )
                )
        db.executemany(
            "INSERT INTO events (event_id, kind, station_id, gateway_id, seq, at, received_at, "
            "payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
            rows,
        )
        db.executemany(
            "INSERT INTO entries (event_id, station_id, gateway_id, seq, at, door_id, "
            "direction, credential, worker_id, decision, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
            entries,
        )

    def _track_gateways(
        self,
        db: Connection,
        events: list[EventPayload],
        health: list[Health],
        received_at: str,
        now: float,
        result: BatchResult,
    ) -> None:
        by_gateway: dict[tuple[str, str], list[int]] = defaultdict(list)
        for event in events:
            by_gateway[(event.station_id, event.gateway_id)].append(event.seq)
        # Health reports carry no sequence number, but they are news from the gateway.
        heard = set(by_gateway) | {(h.station_id, h.gateway_id) for h in health}
        db.executemany(
            """
            INSERT INTO gateways (station_id, gateway_id, online, last_seen)
            VALUES (?, ?, 1, ?)
            ON CONFLICT (station_id, gateway_id) DO UPDATE SET last_seen = excluded.last_seen
            """,
            [(sid, gid, received_at) for sid, gid in sorted(heard)],
        )
        sequences.track_batch(db, by_gateway, now)
        for event in events:
            if isinstance(event, DropReport):
                sequences.forget(db, event.station_id, event.gateway_id, event.seq_ranges)
        if not heard:
            return
        # A gateway marked offline for silence is back as soon as anything arrives.
        silent = db.execute(
            "SELECT station_id, gateway_id FROM gateways WHERE offline_reason = 'silent'"
        ).fetchall()
        for sid, gid in silent:
            if (sid, gid) in heard:
                self._set_online(db, sid, gid, True, None, result)

    def _set_online(
        self,
        db: Connection,
        station_id: str,
        gateway_id: str,
        online: bool,
        reason: str | None,
        result: BatchResult,
    ) -> None:
        db.execute(
            "UPDATE gateways SET online = ?, offline_reason = ? "
            "WHERE station_id = ? AND gateway_id = ?",
            (online, reason, station_id, gateway_id),
        )
        if online:
            result.alerts += alert_rules.resolve_condition(
                db, AlertKind.GATEWAY_OFFLINE, station_id, gateway_id
            )
        else:
            why = (
                "its last will (connection lost)"
                if reason == "will"
                else (f"nothing heard for over {self.thresholds.offline_after_s:g} s")
            )
            change = alert_rules.open_alert(
                db,
                AlertKind.GATEWAY_OFFLINE,
                station_id,
                gateway_id,
                None,
                f"gateway {station_id}/{gateway_id} is offline: {why}",
            )
            if change is not None:
                result.alerts.append(change)
        row = db.execute(
            "SELECT station_id, gateway_id, online, version, last_seen, offline_reason, "
            "clock_offset_s FROM gateways WHERE station_id = ? AND gateway_id = ?",
            (station_id, gateway_id),
        ).fetchone()
        result.gateways.append(_gateway_row(row))

    def _record_availability(
        self, db: Connection, message: Availability, received: datetime, result: BatchResult
    ) -> None:
        received_at = format_utc(received)
        offset = None
        if message.at is not None:
            # A birth message goes out the moment the gateway connects, so the difference
            # to our clock is its clock's error (plus a little network delay).
            offset = round((message.at - received).total_seconds(), 3)
        db.execute(
            """
            INSERT INTO gateways (station_id, gateway_id, online, version, last_seen,
                clock_offset_s)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (station_id, gateway_id) DO UPDATE SET
                version = coalesce(excluded.version, gateways.version),
                last_seen = excluded.last_seen,
                clock_offset_s = coalesce(excluded.clock_offset_s, gateways.clock_offset_s)
            """,
            (
                message.station_id,
                message.gateway_id,
                message.online,
                message.version,
                received_at,
                offset,
            ),
        )
        self._set_online(
            db,
            message.station_id,
            message.gateway_id,
            message.online,
            None if message.online else "will",
            result,
        )
        if offset is not None:
            self._check_skew(db, message.station_id, message.gateway_id, offset, result)

    def _check_skew(
        self, db: Connection, station_id: str, gateway_id: str, offset: float, result: BatchResult
    ) -> None:
        if abs(offset) > self.thresholds.clock_skew_s:
            change = alert_rules.open_alert(
                db,
                AlertKind.CLOCK_SKEW,
                station_id,
                gateway_id,
                None,
                f"gateway {station_id}/{gateway_id} clock is {offset:+.1f} s off "
                f"(more than {self.thresholds.clock_skew_s:g} s)",
            )
            if change is not None:
                result.alerts.append(change)
        else:
            result.alerts += alert_rules.resolve_condition(
                db, AlertKind.CLOCK_SKEW, station_id, gateway_id
            )

    def _load_counts(self, db: Connection, station_ids: Sequence[str]) -> dict[str, StationCounts]:
        counts = {sid: StationCounts() for sid in station_ids}
        marks = ", ".join("?" * len(station_ids))
        for sid, zone, occupancy in db.execute(
            f"SELECT station_id, zone, occupancy FROM station_zones WHERE station_id IN ({marks})",
            station_ids,
        ):
            counts[sid].zones[zone] = occupancy
        for sid, door_id, zone, beams in db.execute(
            f"SELECT station_id, door_id, zone, beams FROM doors WHERE station_id IN ({marks})",
            station_ids,
        ):
            counts[sid].door_zone[door_id] = zone
            if beams:
                counts[sid].beam_doors.add(door_id)
        return counts

    def _apply_occupancy(
        self, db: Connection, events: list[EventPayload], result: BatchResult
    ) -> None:
        moving: dict[str, list[EventPayload]] = defaultdict(list)
        for event in events:
            if isinstance(event, AccessEvent):
                if event.decision.value == "granted" and event.direction.value == "in":
                    result.visits[event.station_id] = result.visits.get(event.station_id, 0) + 1
                moving[event.station_id].append(event)
            elif event.SCHEMA == "crossing/1":
                moving[event.station_id].append(event)
        if not moving:
            return
        station_ids = sorted(moving)
        counts = self._load_counts(db, station_ids)
        changed: list[str] = []
        learned: list[tuple[str, str]] = []
        for sid, station_events in moving.items():
            state = counts[sid]
            for event in station_events:
                state.apply(event)
            learned += [(sid, door) for door in sorted(state.learned_beam_doors)]
            if state.changed_zones:
                changed.append(sid)
        db.executemany(
            "INSERT INTO doors (station_id, door_id, beams) VALUES (?, ?, 1) "
            "ON CONFLICT (station_id, door_id) DO UPDATE SET beams = 1",
            learned,
        )
        if changed:
            self._write_counts(db, {sid: counts[sid] for sid in changed}, result)

    def _write_counts(
        self, db: Connection, states: dict[str, StationCounts], result: BatchResult
    ) -> None:
        """Store changed zone counts and station totals; open or resolve `station_full`
        where a station crossed its capacity. A few statements for any number of stations."""
        db.executemany(
            "INSERT INTO station_zones (station_id, zone, occupancy) VALUES (?, ?, ?) "
            "ON CONFLICT (station_id, zone) DO UPDATE SET occupancy = excluded.occupancy",
            [
                (sid, zone, state.zones[zone])
                for sid, state in states.items()
                for zone in sorted(state.changed_zones)
            ],
        )
        db.executemany(
            "UPDATE stations SET occupancy = ? WHERE id = ?",
            [(state.total, sid) for sid, state in states.items()],
        )
        marks = ", ".join("?" * len(states))
        capacities = {
            r[0]: r[1]
            for r in db.execute(
                f"SELECT id, capacity FROM stations WHERE id IN ({marks})", list(states)
            )
        }
        full_open = {
            r[0]
            for r in db.execute(
                "SELECT station_id FROM alerts WHERE kind = 'station_full' "
                f"AND resolved_at IS NULL AND station_id IN ({marks})",
                list(states),
            )
        }
        for sid, state in states.items():
            capacity = capacities.get(sid)
            total = state.total
            result.occupancy[sid] = (total, capacity)
            result.zones[sid] = dict(state.zones)
            full = capacity is not None and total >= capacity
            if full and sid not in full_open:
                change = alert_rules.open_alert(
                    db,
                    AlertKind.STATION_FULL,
                    sid,
                    None,
                    None,
                    f"station {sid} is full: {total} of {capacity} places taken",
                )
                if change is not None:
                    result.alerts.append(change)
            elif not full and sid in full_open:
                result.alerts += alert_rules.resolve_condition(db, AlertKind.STATION_FULL, sid)

    def _write_zones(
        self, db: Connection, station_id: str, state: StationCounts, result: BatchResult
    ) -> None:
        self._write_counts(db, {station_id: state}, result)

    def _sync_total(
        self, db: Connection, station_id: str, result: BatchResult | None = None
    ) -> None:
        zones = {
            r[0]: r[1]
            for r in db.execute(
                "SELECT zone, occupancy FROM station_zones WHERE station_id = ?", (station_id,)
            )
        }
        total = sum(zones.values())
        row = db.execute(
            "SELECT occupancy, capacity FROM stations WHERE id = ?", (station_id,)
        ).fetchone()
        if row is None:
            return
        before, capacity = row
        if before != total:
            db.execute("UPDATE stations SET occupancy = ? WHERE id = ?", (total, station_id))
        if result is None:
            return
        result.occupancy[station_id] = (total, capacity)
        result.zones[station_id] = zones
        if capacity is not None and total >= capacity:
            change = alert_rules.open_alert(
                db,
                AlertKind.STATION_FULL,
                station_id,
                None,
                None,
                f"station {station_id} is full: {total} of {capacity} places taken",
            )
            if change is not None:
                result.alerts.append(change)
        else:
            result.alerts += alert_rules.resolve_condition(db, AlertKind.STATION_FULL, station_id)

    def _apply_signals(
        self, db: Connection, events: list[EventPayload], received: datetime, result: BatchResult
    ) -> None:
        sensors = []
        future: dict[tuple[str, str], float] = {}
        for event in events:
            ahead = (event.at - received).total_seconds()
            if ahead > self.thresholds.clock_skew_s:
                # Late delivery is normal after an outage; an event from the future is not.
                future[(event.station_id, event.gateway_id)] = ahead
            if isinstance(event, AlarmEvent):
                self._apply_alarm(db, event, result)
            elif isinstance(event, DoorEvent):
                result.doors.append(
                    DoorChange(
                        event.station_id,
                        event.gateway_id,
                        event.door_id,
                        event.state.value,
                        format_utc(event.at),
                    )
                )
            elif isinstance(event, PresenceEvent):
                at = event.at.timestamp()
                sensors.append(
                    (event.station_id, event.sensor_id, event.zone, event.present, at, at)
                )
        if result.doors:
            # In the batch's transaction: the live stream's snapshot reads them.
            door_states.remember(db, result.doors)
        for (sid, gid), ahead in future.items():
            self._check_skew(db, sid, gid, ahead, result)
        if not sensors:
            return
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
            sensors,
        )
        for sid, sensor_id, *_ in sensors:
            if (sid, sensor_id) in was_silent:
                was_silent.discard((sid, sensor_id))
                result.alerts += alert_rules.resolve_condition(
                    db, AlertKind.SENSOR_SILENT, sid, subject=sensor_id, any_gateway=True
                )

    def _apply_alarm(self, db: Connection, event: AlarmEvent, result: BatchResult) -> None:
        kind = AlertKind(event.alarm.value)
        subject = event.door_id
        if event.active:
            where = f"door {subject}" if subject else "the station"
            change = alert_rules.open_alert(
                db,
                kind,
                event.station_id,
                event.gateway_id,
                subject,
                f"{event.alarm.value.replace('_', ' ')} at {where} of {event.station_id}",
            )
            if change is not None:
                result.alerts.append(change)
        else:
            result.alerts += alert_rules.resolve_condition(
                db, kind, event.station_id, event.gateway_id, subject
            )

    # --- periodic checks ---------------------------------------------------------------

    def raise_gap_alerts(self, after_s: float) -> list[int]:
        """Open alerts for sequence gaps older than `after_s`; the ids of new alerts."""
        with self.db.transaction() as db:
            return sequences.raise_overdue(db, time.time(), after_s)

    def check(self, now: float | None = None) -> BatchResult:
        """Time-driven rules: silent gateways and sensors, presence resets, gap alerts."""
        now = time.time() if now is None else now
        t = self.thresholds
        result = BatchResult()
        with self.db.transaction() as db:
            for alert_id in sequences.raise_overdue(db, now, t.gap_after_s):
                row = db.execute(
                    "SELECT id, kind, status, station_id, gateway_id, subject, detail "
                    "FROM alerts WHERE id = ?",
                    (alert_id,),
                ).fetchone()
                result.alerts.append(AlertChange(*row))
            cutoff = format_utc(datetime.fromtimestamp(now - t.offline_after_s, UTC))
            for sid, gid in db.execute(
                "SELECT station_id, gateway_id FROM gateways WHERE online = 1 AND last_seen < ?",
                (cutoff,),
            ).fetchall():
                self._set_online(db, sid, gid, False, "silent", result)
            for sid, sensor_id in db.execute(
                "SELECT station_id, sensor_id FROM sensors WHERE silent = 0 AND last_seen < ?",
                (now - t.sensor_silent_after_s,),
            ).fetchall():
                db.execute(
                    "UPDATE sensors SET silent = 1 WHERE station_id = ? AND sensor_id = ?",
                    (sid, sensor_id),
                )
                change = alert_rules.open_alert(
                    db,
                    AlertKind.SENSOR_SILENT,
                    sid,
                    None,
                    sensor_id,
                    f"presence sensor {sensor_id} at {sid} silent for over "
                    f"{t.sensor_silent_after_s:g} s",
                )
                if change is not None:
                    result.alerts.append(change)
            self._presence_resets(db, now, result)
        return result

    def _presence_resets(self, db: Connection, now: float, result: BatchResult) -> None:
        candidates = db.execute(
            "SELECT DISTINCT z.station_id FROM station_zones z JOIN sensors s "
            "ON s.station_id = z.station_id AND s.zone = z.zone "
            "WHERE z.occupancy > 0 AND s.present = 0 AND s.changed_at <= ?",
            (now - self.thresholds.empty_reset_s,),
        ).fetchall()
        for (sid,) in candidates:
            sensors = [
                SensorState(r[0], bool(r[1]), float(r[2]))
                for r in db.execute(
                    "SELECT zone, present, changed_at FROM sensors WHERE station_id = ?", (sid,)
                )
            ]
            counts = self._load_counts(db, [sid])[sid]
            zones = presence_resets(sensors, counts.zones, now, self.thresholds.empty_reset_s)
            for zone in zones:
                self._audit(db, sid, zone, counts.zones[zone], 0, "presence", "sensors saw nobody")
                counts.set_zone(zone, 0)
            if counts.changed_zones:
                self._write_zones(db, sid, counts, result)

    # --- occupancy corrections ---------------------------------------------------------

    def correct_occupancy(
        self, station_id: str, zone: str, count: int, by: str, reason: str
    ) -> BatchResult:
        """Set a zone's count by hand, with an audit record; `StationNotFoundError`,
        `KeyError` for a zone the station does not have."""
        result = BatchResult()
        with self.db.transaction() as db:
            if db.execute("SELECT 1 FROM stations WHERE id = ?", (station_id,)).fetchone() is None:
                raise StationNotFoundError(station_id)
            counts = self._load_counts(db, [station_id])[station_id]
            if zone not in counts.zones:
                raise KeyError(zone)
            before = counts.zones[zone]
            self._audit(db, station_id, zone, before, count, by, reason)
            counts.set_zone(zone, count)
            counts.changed_zones.add(zone)
            self._write_zones(db, station_id, counts, result)
        return result

    def _audit(
        self, db: Connection, sid: str, zone: str, before: int, after: int, by: str, why: str
    ) -> None:
        db.execute(
            "INSERT INTO occupancy_corrections (station_id, zone, before_count, after_count, "
            "corrected_by, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (sid, zone, before, after, by, why, format_utc(utc_now())),
        )

    def corrections(self, station_id: str, limit: int = 100) -> list[CorrectionRow]:
        """A station's audited count changes, newest first."""
        with self.db.connection() as db:
            rows = db.execute(
                "SELECT id, station_id, zone, before_count, after_count, corrected_by, reason, "
                "at FROM occupancy_corrections WHERE station_id = ? ORDER BY id DESC LIMIT ?",
                (station_id, limit),
            ).fetchall()
        return [CorrectionRow(*r) for r in rows]

    # --- reads -------------------------------------------------------------------------

    def _quarantine(self, db: Connection, messages: Iterable[Quarantined], received_at: str) -> int:
        rows = [
            (
                received_at,
                m.topic[:1024],
                m.code,
                m.reason,
                len(m.payload),
                m.payload[:QUARANTINE_KEEP_BYTES],
            )
            for m in messages
        ]
        db.executemany(
            "INSERT INTO quarantine (received_at, topic, code, reason, size, payload) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        return len(rows)

    def entries(
        self,
        limit: int,
        station_id: str | None = None,
        where: EntryFilter | None = None,
        cursor: str | None = None,
    ) -> list[EntryRow]:
        """Access decisions, newest first; `cursor` continues after a previous page."""
        where = where or EntryFilter(station_id=station_id)
        clauses: list[str] = []
        params: list[object] = []
        for column in (
            "station_id",
            "gateway_id",
            "door_id",
            "decision",
            "direction",
            "worker_id",
            "reason",
        ):
            value = getattr(where, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if where.since is not None:
            clauses.append("at >= ?")
            params.append(where.since)
        if where.until is not None:
            clauses.append("at < ?")
            params.append(where.until)
        if cursor is not None:
            at, event_id = decode_cursor(cursor)
            clauses.append("(at < ? OR (at = ? AND event_id < ?))")
            params += [at, at, event_id]
        query = "SELECT * FROM entries"
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY at DESC, event_id DESC LIMIT ?"
        params.append(limit)
        with self.db.connection() as db:
            rows = db.execute(query, params).fetchall()
        return [EntryRow(**dict(row)) for row in rows]

    def quarantine(self, limit: int, code: str | None = None) -> list[QuarantineRow]:
        """Quarantined messages, newest first, optionally of one rejection code."""
        query = "SELECT id, received_at, topic, code, reason, size, payload FROM quarantine"
        params: list[object] = []
        if code is not None:
            query += " WHERE code = ?"
            params.append(code)
        query += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        with self.db.connection() as db:
            rows = db.execute(query, params).fetchall()
        return [
            QuarantineRow(
                id=r["id"],
                received_at=r["received_at"],
                topic=r["topic"],
                code=r["code"],
                reason=r["reason"],
                size=r["size"],
                sample=bytes(r["payload"][:1024]).decode("utf-8", errors="replace"),
            )
            for r in rows
        ]

    def alerts(
        self,
        open_only: bool = True,
        limit: int = 100,
        kind: str | None = None,
        station_id: str | None = None,
        status: str | None = None,
    ) -> list[AlertRow]:
        """Alerts, newest first; only unresolved ones unless `open_only` is False."""
        clauses: list[str] = []
        params: list[object] = []
        if open_only:
            clauses.append("resolved_at IS NULL")
        for column, value in (("kind", kind), ("station_id", station_id), ("status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        query = "SELECT * FROM alerts"
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        with self.db.connection() as db:
            rows = db.execute(query, params).fetchall()
        return [AlertRow(**dict(row)) for row in rows]

    def alert(self, alert_id: int) -> AlertRow:
        """One alert; `LookupError` if there is none."""
        with self.db.connection() as db:
            row = db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            raise LookupError(alert_id)
        return AlertRow(**dict(row))

    def acknowledge_alert(self, alert_id: int, by: str, note: str | None = None) -> AlertChange:
        """An operator takes an alert, with an optional note (`LookupError`,
        `AlertStateError`)."""
        with self.db.transaction() as db:
            return alert_rules.acknowledge(db, alert_id, by, note)

    def resolve_alert(self, alert_id: int, by: str, note: str | None = None) -> AlertChange:
        """An operator resolves an alert, with an optional note (`LookupError`,
        `AlertStateError`)."""
        with self.db.transaction() as db:
            return alert_rules.resolve(db, alert_id, by, note)

    def gateways(self, station_id: str | None = None) -> list[GatewayRow]:
        """Every gateway's health, by station."""
        query = (
            "SELECT station_id, gateway_id, online, version, last_seen, offline_reason, "
            "clock_offset_s FROM gateways"
        )
        params: list[object] = []
        if station_id is not None:
            query += " WHERE station_id = ?"
            params.append(station_id)
        with self.db.connection() as db:
            rows = db.execute(query + " ORDER BY station_id, gateway_id", params).fetchall()
        return [_gateway_row(r) for r in rows]

    def event_count(self) -> int:
        """How many distinct events are stored."""
        with self.db.connection() as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])

    def event_payload(self, event_id: str) -> dict[str, object] | None:
        """The stored payload of one event, as it arrived."""
        with self.db.connection() as db:
            row = db.execute(
                "SELECT payload FROM events WHERE event_id = ?", (event_id,)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    # --- retention ---------------------------------------------------------------------

    def purge(self, before: datetime) -> int:
        """Delete entries, events, quarantined messages, corrections and occupancy history
        older than `before`; how many events went."""
        cutoff = format_utc(before)
        with self.db.transaction() as db:
            db.execute("DELETE FROM entries WHERE at < ?", (cutoff,))
            gone = db.execute("DELETE FROM events WHERE at < ?", (cutoff,)).rowcount
            db.execute("DELETE FROM quarantine WHERE received_at < ?", (cutoff,))
            db.execute("DELETE FROM occupancy_corrections WHERE at < ?", (cutoff,))
            db.execute("DELETE FROM occupancy_history WHERE at < ?", (cutoff,))
        return int(gone)


def encode_cursor(row: EntryRow) -> str:
    """An opaque cursor that continues after `row`."""
    return base64.urlsafe_b64encode(f"{row.at}|{row.event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The (at, event_id) a cursor continues after; `ValueError` if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a cursor from this API") from None
    at, sep, event_id = raw.partition("|")
    if not sep or not at or not event_id:
        raise ValueError("not a cursor from this API")
    return at, event_id


def _station_row(r: object) -> StationRow:
    row = dict(r)  # type: ignore[call-overload]
    return StationRow(
        id=row["id"],
        name=row["name"],
        lat=row["lat"],
        lon=row["lon"],
        capacity=row["capacity"],
        occupancy=row["occupancy"],
        online=bool(row["online"]),
        registered=bool(row["registered"]),
        address=row["address"],
        time_zone=row["time_zone"],
        opening_hours=row["opening_hours"],
        amenities=tuple(json.loads(row["amenities"])),
        accepting=bool(row["accepting"]),
        last_seen=row["last_seen"],
    )


def _gateway_row(r: Sequence[object]) -> GatewayRow:
    sid, gid, online, version, last_seen, reason, offset = r
    return GatewayRow(
        str(sid),
        str(gid),
        bool(online),
        None if version is None else str(version),
        None if last_seen is None else str(last_seen),
        None if reason is None else str(reason),
        None if offset is None else float(str(offset)),
    )
