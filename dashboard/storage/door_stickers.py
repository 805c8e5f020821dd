"""Door stickers and the phone opens they lead to.

Tables `door_stickers` (one secret per door; rotating replaces it, so the old sticker
stops working at once) and `phone_opens` (every tap that got past the pass session:
who, which door, when, from which address, what the central decided). Nothing else
writes them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from contract.payloads import format_utc, utc_now
from dashboard.storage.db import Database

SECRET_BYTES = 18
"""144 random bits, 24 characters in the address: a short URL keeps the QR small enough
to scan from a step back, and nobody can guess a live one."""


@dataclass(frozen=True, slots=True)
class Sticker:
    """A door's current sticker secret."""

    station_id: str
    door_id: str
    secret: str
    created_at: str
    created_by: str


def of_door(database: Database, station_id: str, door_id: str) -> Sticker | None:
    """The door's sticker, or None when none was made yet."""
    with database.connection() as db:
        row = db.execute(
            "SELECT station_id, door_id, secret, created_at, created_by FROM door_stickers "
            "WHERE station_id = ? AND door_id = ?",
            (station_id, door_id),
        ).fetchone()
    return None if row is None else Sticker(*(str(v) for v in row))


def of_station(database: Database, station_id: str) -> list[Sticker]:
    """Every sticker of a station, by door."""
    with database.connection() as db:
        rows = db.execute(
            "SELECT station_id, door_id, secret, created_at, created_by FROM door_stickers "
            "WHERE station_id = ? ORDER BY door_id",
            (station_id,),
        ).fetchall()
    return [Sticker(*(str(v) for v in row)) for row in rows]


def rotate(database: Database, station_id: str, door_id: str, by: str) -> Sticker:
    """A new secret for the door (its first, or one that replaces the old at once)."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    now = format_utc(utc_now())
    with database.transaction() as db:
        db.execute(
            "DELETE FROM door_stickers WHERE station_id = ? AND door_id = ?",
            (station_id, door_id),
        )
        db.execute(
            "INSERT INTO door_stickers (station_id, door_id, secret, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?)",
            (station_id, door_id, secret, now, by),
        )
    return Sticker(station_id, door_id, secret, now, by)


def door_of(database: Database, secret: str) -> tuple[str, str] | None:
    """The (station, door) a live sticker secret belongs to; None for a rotated or unknown
    one."""
    with database.connection() as db:
        row = db.execute(
            "SELECT station_id, door_id FROM door_stickers WHERE secret = ?", (secret,)
        ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


@dataclass(frozen=True, slots=True)
class PhoneOpenTry:
    """One tap that reached a decision."""

    request_id: str
    worker_number: int
    station_id: str
    door_id: str
    at: datetime
    decided: str
    """`sent` (the gateway was asked) or the reason the central refused."""
    ip: str


def record(database: Database, attempt: PhoneOpenTry) -> None:
    """Keep one tap, for the rate limit and the record."""
    with database.transaction() as db:
        db.execute(
            "INSERT INTO phone_opens (request_id, worker_number, station_id, door_id, at, "
            "decided, ip) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                attempt.request_id,
                attempt.worker_number,
                attempt.station_id,
                attempt.door_id,
                format_utc(attempt.at),
                attempt.decided,
                attempt.ip,
            ),
        )


def count_since(database: Database, worker_number: int, since: datetime) -> int:
    """How many taps of the worker were kept since `since`."""
    with database.connection() as db:
        row = db.execute(
            "SELECT count(*) FROM phone_opens WHERE worker_number = ? AND at >= ?",
            (worker_number, format_utc(since)),
        ).fetchone()
    return int(row[0])
