"""Pass links: a worker's phone page address, whose secret is shown once and never stored.

Table `pass_links`; nothing else writes it. Functions run inside the caller's
transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from contract.payloads import format_utc, utc_now
from dashboard.storage.db import Connection


@dataclass(frozen=True, slots=True)
class PassLinkRow:
    """A pass link as operators see it; the secret itself is never stored."""

    id: int
    worker_id: str
    created_at: str
    revoked_at: str | None


def hash_secret(secret: str) -> str:
    """What is stored of a pass link's secret: its SHA-256, so a copy of the database
    cannot be turned into working links. The secret has 192 random bits, so a plain hash
    (no salt, no stretching) cannot be reversed by guessing."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create(db: Connection, worker_number: int) -> tuple[PassLinkRow, str]:
    """A new link for a worker (whose standing is the caller's to check): its row and
    the secret."""
    secret = secrets.token_urlsafe(24)
    link_id = db.insert_id(
        "INSERT INTO pass_links (worker_number, secret_hash, created_at) "
        "VALUES (?, ?, ?) RETURNING id",
        (worker_number, hash_secret(secret), format_utc(utc_now())),
    )
    return row(db, link_id), secret


def revoke(db: Connection, link_id: int) -> PassLinkRow:
    """Make a link stop working; `LookupError` if there is no such link."""
    row(db, link_id)
    db.execute(
        "UPDATE pass_links SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
        (format_utc(utc_now()), link_id),
    )
    return row(db, link_id)


def revoke_all(db: Connection, worker_number: int) -> None:
    """Make every live link of a worker stop working."""
    db.execute(
        "UPDATE pass_links SET revoked_at = ? WHERE worker_number = ? AND revoked_at IS NULL",
        (format_utc(utc_now()), worker_number),
    )


def forget_all(db: Connection, worker_number: int) -> None:
    """Delete a worker's links (when their personal data is erased)."""
    db.execute("DELETE FROM pass_links WHERE worker_number = ?", (worker_number,))


def row(db: Connection, link_id: int) -> PassLinkRow:
    """One link; `LookupError` if there is none."""
    found = db.execute("SELECT * FROM pass_links WHERE id = ?", (link_id,)).fetchone()
    if found is None:
        raise LookupError(link_id)
    return PassLinkRow(
        found["id"], f"w{found['worker_number']}", found["created_at"], found["revoked_at"]
    )


def of_worker(db: Connection, worker_number: int) -> list[PassLinkRow]:
    """A worker's links, newest first."""
    ids = [
        r[0]
        for r in db.execute(
            "SELECT id FROM pass_links WHERE worker_number = ? ORDER BY id DESC", (worker_number,)
        ).fetchall()
    ]
    return [row(db, link_id) for link_id in ids]


def worker_of_secret(db: Connection, secret: str) -> int | None:
    """The number of the worker behind a live link, or None for an unknown or revoked one."""
    found = db.execute(
        "SELECT worker_number FROM pass_links WHERE secret_hash = ? AND revoked_at IS NULL",
        (hash_secret(secret),),
    ).fetchone()
    return None if found is None else int(found[0])
