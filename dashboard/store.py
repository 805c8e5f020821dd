"""SQLite storage of stations, gateways, events, quarantined messages and alerts.

One writer (the ingest thread) and many readers (API requests), each thread with its
own connection; WAL lets readers see committed data while a batch is being written.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from contract.payloads import (
    AccessEvent,
    Availability,
    DropReport,
    EventPayload,
    format_utc,
    utc_now,
)
from dashboard import sequences
from dashboard.occupancy import apply_delta, occupancy_delta

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE stations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        lat REAL,
        lon REAL,
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
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE TABLE entries (
        event_id TEXT PRIMARY KEY REFERENCES events (event_id),
        station_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
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
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at TEXT NOT NULL,
        topic TEXT NOT NULL,
        code TEXT NOT NULL,
        reason TEXT NOT NULL,
        size INTEGER NOT NULL,
        sample BLOB NOT NULL
    );
    """,
    """
    ALTER TABLE rejections RENAME TO quarantine;
    ALTER TABLE quarantine RENAME COLUMN sample TO payload;
    """,
    sequences.MIGRATION,
)
"""Schema changes in order; a database records how many it has applied."""

QUARANTINE_KEEP_BYTES = 64 * 1024
"""How much of a quarantined payload is kept: all of any payload within the size limit."""


@dataclass(frozen=True, slots=True)
class StationRow:
    """A station as the API shows it."""

    id: str
    name: str
    lat: float | None
    lon: float | None
    capacity: int | None
    occupancy: int
    online: bool


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


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one committed batch changed."""

    stored: int
    duplicates: int
    occupancy: dict[str, tuple[int, int | None]]
    """Station id → (new occupancy, capacity), for stations whose count changed."""
    quarantined: int = 0


class Store:
    """The central's database. Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.Lock()
        with self._connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            self._migrate(db)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        # NORMAL is durable across process crashes in WAL mode; only a power cut of the
        # central's own machine may lose the last transactions.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
        yield db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock, self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT max(version) FROM schema_version").fetchone()
        applied = row[0] or 0
        for version, script in enumerate(MIGRATIONS[applied:], start=applied + 1):
            db.executescript(
                f"BEGIN; {script}; INSERT INTO schema_version VALUES ({version}); COMMIT;"
            )

    def close(self) -> None:
        """Close this thread's connection (others close with their threads)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def upsert_station(
        self,
        station_id: str,
        name: str,
        lat: float | None,
        lon: float | None,
        capacity: int | None,
    ) -> None:
        """Register a station or update its description; its count is left alone."""
        with self._transaction() as db:
            db.execute(
                """
                INSERT INTO stations (id, name, lat, lon, capacity, registered)
                VALUES (?, ?, ?, ?, ?, 1)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, lat = excluded.lat,
                    lon = excluded.lon, capacity = excluded.capacity, registered = 1
                """,
                (station_id, name, lat, lon, capacity),
            )

    def record(
        self,
        events: Iterable[EventPayload | Availability],
        quarantined: Iterable[Quarantined] = (),
    ) -> BatchResult:
        """Store a batch in one transaction; an event id already stored is skipped.

        Quarantined messages of the same batch are kept in the same transaction, so that
        once it commits every message of the batch can be acknowledged to the broker.
        """
        stored = duplicates = 0
        touched: set[str] = set()
        received_at = format_utc(utc_now())
        now = time.time()
        with self._transaction() as db:
            kept = self._quarantine(db, quarantined, received_at)
            for event in events:
                self._ensure_station(db, event.station_id)
                if isinstance(event, Availability):
                    self._record_availability(db, event, received_at)
                    continue
                if not self._insert_event(db, event, received_at):
                    duplicates += 1
                    continue
                stored += 1
                self._touch_gateway(db, event.station_id, event.gateway_id, received_at)
                sequences.track(db, event.station_id, event.gateway_id, event.seq, now)
                if isinstance(event, DropReport):
                    sequences.forget(db, event.station_id, event.gateway_id, event.seq_ranges)
                delta = occupancy_delta(event)
                if delta:
                    row = db.execute(
                        "SELECT occupancy FROM stations WHERE id = ?", (event.station_id,)
                    ).fetchone()
                    new = apply_delta(row[0], delta)
                    if new != row[0]:
                        db.execute(
                            "UPDATE stations SET occupancy = ? WHERE id = ?",
                            (new, event.station_id),
                        )
                        touched.add(event.station_id)
            occupancy = {
                row["id"]: (row["occupancy"], row["capacity"])
                for station_id in touched
                for row in db.execute(
                    "SELECT id, occupancy, capacity FROM stations WHERE id = ?", (station_id,)
                )
            }
        return BatchResult(stored, duplicates, occupancy, kept)

    def raise_gap_alerts(self, after_s: float) -> list[int]:
        """Open alerts for sequence gaps older than `after_s`; the ids of new alerts."""
        with self._transaction() as db:
            return sequences.raise_overdue(db, time.time(), after_s)

    def _ensure_station(self, db: sqlite3.Connection, station_id: str) -> None:
        # An event from a station nobody registered is kept, never dropped; the station
        # shows up unregistered so an operator can describe it.
        db.execute(
            "INSERT OR IGNORE INTO stations (id, name, registered) VALUES (?, ?, 0)",
            (station_id, station_id),
        )

    def _insert_event(self, db: sqlite3.Connection, event: EventPayload, received_at: str) -> bool:
        kind = event.SCHEMA.split("/", 1)[0]
        cursor = db.execute(
            """
            INSERT OR IGNORE INTO events
                (event_id, kind, station_id, gateway_id, seq, at, received_at, payload)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                event.event_id,
                kind,
                event.station_id,
                event.gateway_id,
                event.seq,
                format_utc(event.at),
                received_at,
                event.model_dump_json(by_alias=True),
            ),
        )
        if cursor.rowcount == 0:
            return False
        if isinstance(event, AccessEvent):
            db.execute(
                """
                INSERT INTO entries (event_id, station_id, gateway_id, seq, at, door_id,
                    direction, credential, worker_id, decision, reason)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    event.event_id,
                    event.station_id,
                    event.gateway_id,
                    event.seq,
                    format_utc(event.at),
                    event.door_id,
                    event.direction.value,
                    event.credential.value,
                    event.worker_id,
                    event.decision.value,
                    event.reason.value,
                ),
            )
        return True

    def _record_availability(
        self, db: sqlite3.Connection, message: Availability, received_at: str
    ) -> None:
        db.execute(
            """
            INSERT INTO gateways (station_id, gateway_id, online, version, last_seen)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (station_id, gateway_id) DO UPDATE SET online = excluded.online,
                version = coalesce(excluded.version, gateways.version),
                last_seen = excluded.last_seen
            """,
            (message.station_id, message.gateway_id, message.online, message.version, received_at),
        )

    def _touch_gateway(
        self, db: sqlite3.Connection, station_id: str, gateway_id: str, received_at: str
    ) -> None:
        db.execute(
            """
            INSERT INTO gateways (station_id, gateway_id, online, last_seen)
            VALUES (?, ?, 1, ?)
            ON CONFLICT (station_id, gateway_id) DO UPDATE SET last_seen = excluded.last_seen
            """,
            (station_id, gateway_id, received_at),
        )

    def _quarantine(
        self, db: sqlite3.Connection, messages: Iterable[Quarantined], received_at: str
    ) -> int:
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

    def stations(self) -> list[StationRow]:
        """Every station, with whether any of its gateways is online."""
        with self._connection() as db:
            rows = db.execute(
                """
                SELECT s.id, s.name, s.lat, s.lon, s.capacity, s.occupancy,
                    coalesce(max(g.online), 0) AS online
                FROM stations s LEFT JOIN gateways g ON g.station_id = s.id
                GROUP BY s.id ORDER BY s.id
                """
            ).fetchall()
        return [
            StationRow(
                id=r["id"],
                name=r["name"],
                lat=r["lat"],
                lon=r["lon"],
                capacity=r["capacity"],
                occupancy=r["occupancy"],
                online=bool(r["online"]),
            )
            for r in rows
        ]

    def entries(self, limit: int, station_id: str | None = None) -> list[EntryRow]:
        """Access decisions, newest first."""
        query = "SELECT * FROM entries"
        params: list[object] = []
        if station_id is not None:
            query += " WHERE station_id = ?"
            params.append(station_id)
        query += " ORDER BY at DESC, seq DESC LIMIT ?"
        params.append(limit)
        with self._connection() as db:
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
        with self._connection() as db:
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

    def alerts(self, open_only: bool = True, limit: int = 100) -> list[AlertRow]:
        """Alerts, newest first; only unresolved ones unless `open_only` is False."""
        query = "SELECT * FROM alerts"
        if open_only:
            query += " WHERE resolved_at IS NULL"
        query += " ORDER BY id DESC LIMIT ?"
        with self._connection() as db:
            rows = db.execute(query, (limit,)).fetchall()
        return [AlertRow(**dict(row)) for row in rows]

    def event_count(self) -> int:
        """How many distinct events are stored."""
        with self._connection() as db:
            return int(db.execute("SELECT count(*) FROM events").fetchone()[0])

    def event_payload(self, event_id: str) -> dict[str, object] | None:
        """The stored payload of one event, as it arrived."""
        with self._connection() as db:
            row = db.execute(
                "SELECT payload FROM events WHERE event_id = ?", (event_id,)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))
