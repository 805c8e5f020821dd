"""Station numbers and region codes, as QR tokens and worker scopes carry them.

Table `station_locations`; nothing else writes it. It mirrors the central's configured
stations (`replace` at start); workers' scopes may name only stations listed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboard.storage.db import Connection


@dataclass(frozen=True, slots=True)
class StationLocationRow:
    """A station's number and region code, as tokens and scopes use them."""

    station_id: str
    number: int | None
    region_code: int | None


def replace(db: Connection, locations: Sequence[StationLocationRow]) -> None:
    """Replace every station's number and region code with `locations`."""
    db.execute("DELETE FROM station_locations")
    db.executemany(
        "INSERT INTO station_locations (station_id, number, region_code) VALUES (?, ?, ?)",
        [(loc.station_id, loc.number, loc.region_code) for loc in locations],
    )


def rows(db: Connection) -> list[StationLocationRow]:
    """Every configured station's number and region code, by station id."""
    return [
        StationLocationRow(r["station_id"], r["number"], r["region_code"])
        for r in db.execute("SELECT * FROM station_locations ORDER BY station_id").fetchall()
    ]
