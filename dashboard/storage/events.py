"""Events as they arrived, and the access decisions among them as entries.

Tables `events` (every event once, by its `event_id`, with its payload as received) and
`entries` (access decisions, for the entry log and its filters); nothing else writes
them. A batch goes in as one bulk insert per table (`dashboard.storage.db.BulkInsert`),
the ids already stored skipped by the insert itself on PostgreSQL and by one query per
500 events on SQLite, so the cost per event is a row, not a round trip. Functions
taking a `Connection` run inside the caller's transaction.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from contract.payloads import AccessEvent, EventPayload, Payload, format_utc
from dashboard.storage.db import BulkInsert, Connection

_EVENTS = BulkInsert(
    "events",
    (
        ("event_id", "text"),
        ("kind", "text"),
        ("station_id", "text"),
        ("gateway_id", "text"),
        ("seq", "bigint"),
        ("at", "text"),
        ("received_at", "text"),
        ("payload", "text"),
    ),
    "ON CONFLICT (event_id) DO NOTHING",
)
_ENTRIES = BulkInsert(
    "entries",
    (
        ("event_id", "text"),
        ("station_id", "text"),
        ("gateway_id", "text"),
        ("seq", "bigint"),
        ("at", "text"),
        ("door_id", "text"),
        ("direction", "text"),
        ("credential", "text"),
        ("worker_id", "text"),
        ("decision", "text"),
        ("reason", "text"),
    ),
    "ON CONFLICT (event_id) DO NOTHING",
)

_ENTRY_FILTERS = ("station_id", "gateway_id", "door_id", "decision", "direction", "worker_id")


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


def store(
    db: Connection, messages: Sequence[Payload], received_at: str, texts: Mapping[str, str]
) -> tuple[list[EventPayload], int]:
    """Store the events among `messages` that are not stored yet, and the access
    decisions among them as entries; those new events, each once, in order, and how many
    were duplicates (within the batch or of stored events). `texts` maps event ids to
    their payloads as they arrived (kept as they are); the others are serialised from
    the model."""
    unique: dict[str, EventPayload] = {}
    duplicates = 0
    for event in messages:
        if not isinstance(event, EventPayload):
            continue
        if event.event_id in unique:
            duplicates += 1
            continue
        unique[event.event_id] = event
    ats = {event_id: format_utc(event.at) for event_id, event in unique.items()}
    stored = db.insert_new(
        _EVENTS,
        [
            (
                event_id,
                event.SCHEMA.split("/", 1)[0],
                event.station_id,
                event.gateway_id,
                event.seq,
                ats[event_id],
                received_at,
                texts.get(event_id) or event.model_dump_json(by_alias=True),
            )
            for event_id, event in unique.items()
        ],
    )
    new = [event for event_id, event in unique.items() if event_id in stored]
    db.insert_rows(
        _ENTRIES,
        [
            (
                event.event_id,
                event.station_id,
                event.gateway_id,
                event.seq,
                ats[event.event_id],
                event.door_id,
                event.direction.value,
                event.credential.value,
                event.worker_id,
                event.decision.value,
                event.reason.value,
            )
            for event in new
            if isinstance(event, AccessEvent)
        ],
    )
    return new, duplicates + len(unique) - len(new)


def purge(db: Connection, cutoff: str) -> int:
    """Delete entries and events from before `cutoff`; how many events went."""
    db.execute("DELETE FROM entries WHERE at < ?", (cutoff,))
    return int(db.execute("DELETE FROM events WHERE at < ?", (cutoff,)).rowcount)


def count(db: Connection) -> int:
    """How many distinct events are stored."""
    return int(db.execute("SELECT count(*) FROM events").fetchone()[0])


def payload(db: Connection, event_id: str) -> dict[str, object] | None:
    """The stored payload of one event, as it arrived."""
    row = db.execute("SELECT payload FROM events WHERE event_id = ?", (event_id,)).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def entries(
    db: Connection, limit: int, where: EntryFilter, cursor: str | None = None
) -> list[EntryRow]:
    """Access decisions, newest first; `cursor` continues after a previous page
    (`ValueError` if it is not a cursor)."""
    clauses: list[str] = []
    params: list[object] = []
    for column in (*_ENTRY_FILTERS, "reason"):
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
    return [EntryRow(**dict(row)) for row in db.execute(query, params).fetchall()]


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
