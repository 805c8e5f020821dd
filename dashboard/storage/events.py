"""Events as they arrived, and the access decisions among them as entries.

Tables `events` (every event once, by its `event_id`, with its payload as received) and
`entries` (access decisions, for the entry log and its filters); nothing else writes
them. A batch goes in as one bulk insert per table (`dashboard.storage.db.BulkInsert`),
the ids already stored skipped by the insert itself on PostgreSQL and by one query per
500 events on SQLite, so the cost per event is a row, not a round trip. Functions
taking a `Connection` run inside the caller's transaction.

On PostgreSQL both tables are partitioned by the month of `at` (see
`dashboard.storage.migrations`): an event is unique there by (event_id, at), which a
redelivery repeats as it was written, so the duplicate meets its first copy in the same
partition. A month's partitions must exist
before its rows go in (`prepare_months`: the central makes them ahead, the ingest on
demand), and retention drops the months wholly older than its cut-off
(`drop_months_before`) before deleting the older rows of the month it cuts through.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

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
    "ON CONFLICT DO NOTHING",
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
    "ON CONFLICT DO NOTHING",
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
    station_ids: tuple[str, ...] | None = None
    """Any of these stations (those a typed name matched); empty matches no entry."""
    station_text: str | None = None
    """A station's id or part of its name, as typed; the web layer turns it into
    `station_ids` before a query (the query itself ignores it)."""


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


def prepare_months(db: Connection, months: Iterable[date]) -> None:
    """Make sure the partitions of the months of `months` (any day of each) exist, on
    PostgreSQL; SQLite keeps one table. Safe while another process makes the same."""
    days = sorted(set(months))
    if db.dialect == "postgresql" and days:
        db.execute("SELECT yizhan_prepare_month(d) FROM unnest(?::date[]) AS d", (days,))


def missing_month(error: BaseException) -> bool:
    """Whether `error` is PostgreSQL refusing a row for which no monthly partition exists
    (retention dropped its month after the writer had made sure of it)."""
    return getattr(error, "sqlstate", None) == "23514" and "no partition of relation" in str(error)


def drop_months_before(db: Connection, cutoff: str) -> list[str]:
    """Drop the monthly partitions whose every row is older than `cutoff` (their upper
    bound is at or before it), on PostgreSQL; the partitions dropped."""
    if db.dialect != "postgresql":
        return []
    return [r[0] for r in db.execute("SELECT yizhan_drop_months_before(?)", (cutoff,))]


def purge(db: Connection, cutoff: str) -> int:
    """Delete entries and events from before `cutoff` (on PostgreSQL only those of the
    month the cut-off falls in are left after `drop_months_before`); how many events
    were deleted."""
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
    if where.station_ids is not None:
        if where.station_ids:
            among, ids = db.among(where.station_ids)
            clauses.append(f"station_id {among}")
            params += ids
        else:
            clauses.append("1 = 0")
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


class Positioned(Protocol):
    """Anything with an entry's place in the log (`EntryRow`, a named entry)."""

    @property
    def at(self) -> str: ...
    @property
    def event_id(self) -> str: ...


def encode_cursor(row: Positioned) -> str:
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
