"""The public halves of the central's signing keys and their schedule (the private
halves are files in the key directory: `dashboard.services.signing_keys`).

Table `signing_keys`; nothing else writes it. Functions run inside the caller's
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from contract.payloads import format_utc
from dashboard.storage.db import Connection


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A signing key's public half and its schedule."""

    key_id: int
    public_key: str
    created_at: datetime
    signs_from: datetime
    retire_at: datetime | None


def rows(db: Connection) -> list[KeyRow]:
    """Every signing key still kept, oldest first."""
    return [
        KeyRow(
            r["key_id"],
            r["public_key"],
            datetime.fromisoformat(r["created_at"]),
            datetime.fromisoformat(r["signs_from"]),
            None if r["retire_at"] is None else datetime.fromisoformat(r["retire_at"]),
        )
        for r in db.execute("SELECT * FROM signing_keys ORDER BY created_at, key_id").fetchall()
    ]


def insert(db: Connection, row: KeyRow, retire: Sequence[tuple[int, datetime]] = ()) -> None:
    """Add a key and schedule others' retirement."""
    db.execute(
        "INSERT INTO signing_keys (key_id, public_key, created_at, signs_from, retire_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (
            row.key_id,
            row.public_key,
            format_utc(row.created_at),
            format_utc(row.signs_from),
            None if row.retire_at is None else format_utc(row.retire_at),
        ),
    )
    db.executemany(
        "UPDATE signing_keys SET retire_at = ? WHERE key_id = ?",
        [(format_utc(at), key_id) for key_id, at in retire],
    )


def delete(db: Connection, key_ids: Sequence[int]) -> None:
    """Forget retired keys."""
    db.executemany("DELETE FROM signing_keys WHERE key_id = ?", [(k,) for k in key_ids])
