"""Each door's last known state, so that a client connecting to the live stream is told
every door's state at once instead of waiting for the door to change.

One row per door, written in the same transaction as the door events that change it. A
late event (delivered after an outage) never overwrites a newer state: the row keeps the
state with the latest gateway time. Table `door_states`; nothing else writes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from dashboard.storage.db import BulkInsert, Connection, Database

_NEWEST = BulkInsert(
    "door_states",
    (
        ("station_id", "text"),
        ("door_id", "text"),
        ("gateway_id", "text"),
        ("state", "text"),
        ("at", "text"),
    ),
    "ON CONFLICT (station_id, door_id) DO UPDATE SET "
    "gateway_id = excluded.gateway_id, state = excluded.state, at = excluded.at "
    # Times are the wire's fixed-width UTC text, so text order is time order.
    "WHERE door_states.at <= excluded.at",
)


class DoorState(Protocol):
    """A door's state at a time (`dashboard.core.changes.DoorChange` is one)."""

    @property
    def station_id(self) -> str: ...
    @property
    def gateway_id(self) -> str: ...
    @property
    def door_id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def at(self) -> str: ...


def remember(db: Connection, changes: Iterable[DoorState]) -> None:
    """Keep each door's newest state, inside the caller's transaction. Of changes to one
    door at the same time, the last one given wins."""
    newest: dict[tuple[str, str], DoorState] = {}
    for change in changes:
        key = (change.station_id, change.door_id)
        kept = newest.get(key)
        if kept is None or kept.at <= change.at:
            newest[key] = change
    # One row per door: the statement may update each row once.
    db.insert_rows(
        _NEWEST, [(c.station_id, c.door_id, c.gateway_id, c.state, c.at) for c in newest.values()]
    )


def forget_station(db: Connection, station_id: str) -> None:
    """Delete the states of a station's doors."""
    db.execute("DELETE FROM door_states WHERE station_id = ?", (station_id,))


def current(database: Database, stations: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Every door's last known state (of `stations` only, when given), in the live
    stream's `door` event shape."""
    with database.connection() as db:
        rows = db.execute(
            "SELECT station_id, gateway_id, door_id, state, at FROM door_states "
            "ORDER BY station_id, door_id"
        ).fetchall()
    keys = ("station_id", "gateway_id", "door_id", "state", "at")
    return [
        dict(zip(keys, row, strict=True)) for row in rows if stations is None or row[0] in stations
    ]
