"""Why each worker was revoked: the operator's reason, who gave it and when.

Table `worker_revocations`; nothing else writes it. A worker revoked without a reason
(an older release, `PATCH` with `status`) has no row. Functions run inside the caller's
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contract.payloads import format_utc, utc_now
from dashboard.storage.db import Connection

MAX_REASON = 500
"""The longest reason kept, in characters."""


@dataclass(frozen=True, slots=True)
class Revocation:
    """A worker's revocation as operators see it."""

    reason: str
    revoked_by: str | None
    revoked_at: str


def record(db: Connection, worker_number: int, reason: str, revoked_by: str | None) -> None:
    """Keep why a worker was revoked; the first reason stays (revocation is final)."""
    if db.execute(
        "SELECT 1 FROM worker_revocations WHERE worker_number = ?", (worker_number,)
    ).fetchone():
        return
    db.execute(
        "INSERT INTO worker_revocations (worker_number, reason, revoked_by, revoked_at) "
        "VALUES (?, ?, ?, ?)",
        (worker_number, reason[:MAX_REASON], revoked_by, format_utc(utc_now())),
    )


def of_workers(db: Connection, worker_numbers: Sequence[int]) -> dict[int, Revocation]:
    """The revocations of those workers that have one."""
    found: dict[int, Revocation] = {}
    # In slices: SQLite allows only so many parameters in one statement.
    for start in range(0, len(worker_numbers), 500):
        part = list(worker_numbers[start : start + 500])
        marks = ", ".join("?" * len(part))
        for row in db.execute(
            f"SELECT * FROM worker_revocations WHERE worker_number IN ({marks})", part
        ).fetchall():
            found[int(row["worker_number"])] = Revocation(
                row["reason"], row["revoked_by"], row["revoked_at"]
            )
    return found


def forget(db: Connection, worker_number: int) -> None:
    """Delete the reason (it may name the person) when their data is erased."""
    db.execute("DELETE FROM worker_revocations WHERE worker_number = ?", (worker_number,))
