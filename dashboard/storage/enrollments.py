"""Enrollment codes: one-time, expiring codes that let one gateway fetch its credentials.

Table `enrollment_codes`; nothing else writes it. Only a code's SHA-256 is stored: a
code has 100 random bits and lives a day, so a plain hash cannot be reversed by
guessing, and a copy of the database enrolls nothing. A code is spent by its first good
use, revoked when a newer one is issued for its gateway or the gateway is removed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from contract.enrollment import new_code, normalise_code
from contract.payloads import format_utc, utc_now
from dashboard.storage.db import Database


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """A new code, shown once, and whom it is for."""

    code: str
    station_id: str
    gateway_id: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class PendingCode:
    """A code not yet used, as operators see it (never the code itself)."""

    station_id: str
    gateway_id: str
    created_by: str
    created_at: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class ClaimedCode:
    """Whom a code, now spent, was for."""

    station_id: str
    gateway_id: str


class CodeRefusedError(Exception):
    """A code that cannot be used; `reason` is `unknown`, `expired`, `spent` or
    `revoked`, and the message says what to do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def hash_code(raw: str) -> str:
    """What is stored of a normalised code."""
    return hashlib.sha256(raw.encode()).hexdigest()


class EnrollmentStore:
    """Enrollment codes in the central's database (upgraded: `dashboard.storage.migrations`)."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def issue(
        self, station_id: str, gateway_id: str, created_by: str, ttl: timedelta
    ) -> IssuedCode:
        """A new code for a gateway; the gateway's earlier unused codes stop working."""
        code = new_code()
        now = utc_now()
        expires = format_utc(now + ttl)
        with self.db.transaction() as db:
            db.execute(
                "UPDATE enrollment_codes SET revoked_at = ? WHERE station_id = ? AND "
                "gateway_id = ? AND spent_at IS NULL AND revoked_at IS NULL",
                (format_utc(now), station_id, gateway_id),
            )
            db.execute(
                "INSERT INTO enrollment_codes (code_hash, station_id, gateway_id, created_by,"
                " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    hash_code(normalise_code(code)),
                    station_id,
                    gateway_id,
                    created_by,
                    format_utc(now),
                    expires,
                ),
            )
        return IssuedCode(code, station_id, gateway_id, expires)

    def claim(self, code: str, now: datetime | None = None) -> ClaimedCode:
        """Spend a code (`normalise_code`d or not); whom it was for. `MalformedCodeError`
        for text that is no code, `CodeRefusedError` for one that does not work; neither
        changes anything."""
        digest = hash_code(normalise_code(code))
        when = now or utc_now()
        with self.db.transaction() as db:
            row = db.execute(
                "SELECT station_id, gateway_id, expires_at, spent_at, revoked_at "
                "FROM enrollment_codes WHERE code_hash = ?",
                (digest,),
            ).fetchone()
            if row is None:
                raise CodeRefusedError(
                    "unknown", "unknown enrollment code: check it, or ask for a new one"
                )
            station_id, gateway_id, expires_at, spent_at, revoked_at = row
            if spent_at is not None:
                raise CodeRefusedError(
                    "spent",
                    f"this enrollment code was already used at {spent_at}; each code works "
                    "once: ask for a new one",
                )
            if revoked_at is not None:
                raise CodeRefusedError(
                    "revoked",
                    f"this enrollment code was withdrawn at {revoked_at} (a newer code was "
                    "issued, or the gateway removed)",
                )
            if datetime.fromisoformat(str(expires_at)) <= when:
                raise CodeRefusedError(
                    "expired", f"this enrollment code expired at {expires_at}: ask for a new one"
                )
            taken = db.execute(
                "UPDATE enrollment_codes SET spent_at = ? "
                "WHERE code_hash = ? AND spent_at IS NULL AND revoked_at IS NULL",
                (format_utc(when), digest),
            ).rowcount
            if taken != 1:
                raise CodeRefusedError("spent", "this enrollment code was just used")
        return ClaimedCode(str(station_id), str(gateway_id))

    def unclaim(self, code: str) -> None:
        """Make a claimed code usable again: the enrollment it began could not finish."""
        with self.db.transaction() as db:
            db.execute(
                "UPDATE enrollment_codes SET spent_at = NULL WHERE code_hash = ?",
                (hash_code(normalise_code(code)),),
            )

    def revoke_gateway(self, station_id: str, gateway_id: str) -> int:
        """Withdraw a gateway's unused codes; how many."""
        with self.db.transaction() as db:
            return db.execute(
                "UPDATE enrollment_codes SET revoked_at = ? WHERE station_id = ? AND "
                "gateway_id = ? AND spent_at IS NULL AND revoked_at IS NULL",
                (format_utc(utc_now()), station_id, gateway_id),
            ).rowcount

    def pending(self, station_id: str, now: datetime | None = None) -> list[PendingCode]:
        """A station's codes still usable, by gateway."""
        with self.db.connection() as db:
            rows = db.execute(
                "SELECT station_id, gateway_id, created_by, created_at, expires_at "
                "FROM enrollment_codes WHERE station_id = ? AND spent_at IS NULL AND "
                "revoked_at IS NULL AND expires_at > ? ORDER BY gateway_id, created_at",
                (station_id, format_utc(now or utc_now())),
            ).fetchall()
        return [PendingCode(*(str(v) for v in r)) for r in rows]
