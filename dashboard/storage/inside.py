"""Who is inside a station now, read from the entry log (table `entries`, written by
`dashboard.storage.events`) and the workers' names (table `workers`); this module writes
nothing.

A worker is inside station S when their latest granted access decision that named them,
at any station, is an entry (`direction` `in`) at S, made since the start of the look-back.
The "matching exit" of an entry is therefore any later granted decision naming the same
worker: an exit scan (`direction` `out`) at any door of any station, and also an entry at
another station (they left without scanning out). Exits that name nobody (the exit
button, beams) cannot end anyone's visit: they change the count, not this list; so do
radar resets and operator corrections. Denied scans change nothing. Entries older than
the look-back are left out, so someone who left through an exit button is listed only
until then. Order is by the gateways' clocks (`at`), the event id breaking ties.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.tokens import worker_number_of
from dashboard.storage.db import Database


@dataclass(frozen=True, slots=True)
class InsideRow:
    """A worker inside a station: the entry that let them in, and their name if known."""

    worker_id: str
    display_name: str | None
    door_id: str
    gateway_id: str
    credential: str
    entered_at: str
    event_id: str


def inside(database: Database, station_id: str, since: str, limit: int) -> list[InsideRow]:
    """Workers inside `station_id` who entered at or after `since` (the wire's UTC time
    format), latest entry first, at most `limit`."""
    with database.connection() as db:
        rows = db.execute(
            """
            SELECT e.event_id, e.worker_id, e.door_id, e.gateway_id, e.credential, e.at
            FROM entries e
            WHERE e.station_id = ? AND e.direction = 'in' AND e.decision = 'granted'
                AND e.worker_id IS NOT NULL AND e.at >= ?
                AND NOT EXISTS (
                    SELECT 1 FROM entries later
                    WHERE later.worker_id = e.worker_id AND later.decision = 'granted'
                        AND (later.at > e.at OR (later.at = e.at AND later.event_id > e.event_id))
                )
            ORDER BY e.at DESC, e.event_id DESC
            LIMIT ?
            """,
            (station_id, since, limit),
        ).fetchall()
        numbers = sorted(
            {n for row in rows if (n := worker_number_of(row["worker_id"])) is not None}
        )
        names: dict[int, str] = {}
        for start in range(0, len(numbers), 500):
            part = numbers[start : start + 500]
            marks = ", ".join("?" * len(part))
            for found in db.execute(
                f"SELECT number, display_name FROM workers WHERE number IN ({marks})", part
            ).fetchall():
                names[int(found["number"])] = found["display_name"]
    shown = []
    for row in rows:
        number = worker_number_of(row["worker_id"])
        # An erased worker keeps an empty name: shown by id only.
        name = names.get(number) if number is not None else None
        shown.append(
            InsideRow(
                worker_id=row["worker_id"],
                display_name=name or None,
                door_id=row["door_id"],
                gateway_id=row["gateway_id"],
                credential=row["credential"],
                entered_at=row["at"],
                event_id=row["event_id"],
            )
        )
    return shown
