"""What an operator reads beside an entry's ids: the station's name and time zone, the
worker's name; and the stations an operator means by a name they typed.

Reads only (tables `stations` and `workers` belong to their own modules). Names are looked
up per page of entries, two queries whatever its size, rather than joined into the
entries query, so the log's own index order stays as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from contract.payloads import format_utc
from dashboard.core.station_time import FALLBACK_ZONE, day_start
from dashboard.storage.db import Connection
from dashboard.storage.events import EntryRow

MAX_MATCHES = 500
"""At most this many stations match one typed name (a city's worth)."""


@dataclass(frozen=True, slots=True)
class NamedEntry(EntryRow):
    """An access decision with the names an operator reads and the station's zone."""

    station_name: str | None
    """None for a station the registry does not have."""
    time_zone: str
    """The station's IANA zone, in which its times are shown."""
    worker_name: str | None
    """None when the entry names no worker or the worker is not enrolled (or erased)."""


def _worker_number(worker_id: str | None) -> int | None:
    if worker_id is None or not worker_id.startswith("w") or not worker_id[1:].isdigit():
        return None
    return int(worker_id[1:])


def named(db: Connection, rows: Sequence[EntryRow]) -> list[NamedEntry]:
    """`rows` with their station's name and zone and their worker's name."""
    if not rows:
        return []
    among, station_ids = db.among(sorted({row.station_id for row in rows}))
    stations = {
        r[0]: (r[1], r[2])
        for r in db.execute(
            f"SELECT id, name, time_zone FROM stations WHERE id {among}", station_ids
        ).fetchall()
    }
    numbers = sorted({n for n in (_worker_number(row.worker_id) for row in rows) if n is not None})
    workers: dict[int, str] = {}
    if numbers:
        among, params = db.among(numbers)
        workers = {
            int(r[0]): r[1]
            for r in db.execute(
                f"SELECT number, display_name FROM workers WHERE number {among}", params
            ).fetchall()
            if r[1]
        }
    out = []
    for row in rows:
        name, zone = stations.get(row.station_id, (None, FALLBACK_ZONE))
        number = _worker_number(row.worker_id)
        out.append(
            NamedEntry(
                **asdict(row),
                station_name=name,
                time_zone=zone or FALLBACK_ZONE,
                worker_name=None if number is None else workers.get(number),
            )
        )
    return out


def stations_matching(db: Connection, text: str) -> list[str]:
    """The ids of the stations `text` names: the one whose id it is, else those whose name
    contains it (any case), fewest first by id; empty when none does."""
    text = text.strip()
    if not text:
        return []
    exact = db.execute("SELECT id FROM stations WHERE id = ?", (text,)).fetchone()
    if exact is not None:
        return [str(exact[0])]
    # LIKE's own wildcards in what was typed are meant literally.
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = db.execute(
        "SELECT id FROM stations WHERE lower(name) LIKE ? ESCAPE '\\' ORDER BY id LIMIT ?",
        (pattern, MAX_MATCHES),
    ).fetchall()
    return [str(r[0]) for r in rows]


def entries_today(db: Connection, now: datetime) -> int:
    """Granted entries (people going in) since each station's own midnight: one count
    per time zone the registry uses, joined to its stations."""
    total = 0
    zones = [r[0] for r in db.execute("SELECT DISTINCT time_zone FROM stations").fetchall()]
    for zone in zones:
        since = format_utc(day_start(zone, now))
        total += int(
            db.execute(
                "SELECT count(*) FROM entries e JOIN stations s ON s.id = e.station_id "
                "WHERE s.time_zone = ? AND e.at >= ? AND e.decision = 'granted' "
                "AND e.direction = 'in'",
                (zone, since),
            ).fetchone()[0]
        )
    return total
