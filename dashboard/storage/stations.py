"""Stations with their zones and doors: what an operator described, and the counts.

Tables `stations`, `station_zones`, `doors` and `station_numbers`; nothing else writes
them. This is the one registry of stations: nothing copies them from a configuration
file. A station's count lives in its zones (`station_zones.occupancy`) with the total
beside it on the station's row, written together by `write_counts`. A station heard from
before anyone described it is kept, unregistered (`ensure`), so that no event is dropped
for it; it gets a number when it is described.

Station numbers (what QR tokens name a station by) are given once and kept for good:
`station_numbers` holds every number ever given, also those of deleted stations, so the
next number is always above all of them and a number is never given twice.

Functions taking a `Connection` run inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from contract.payloads import format_utc, utc_now
from contract.tokens import MAX_STATION_NUMBER
from dashboard.core.changes import OccupancyChange
from dashboard.core.occupancy import DEFAULT_ZONE, StationCounts
from dashboard.core.stations import DoorSpec, StationInput
from dashboard.storage.db import BulkInsert, Connection, Row


@dataclass(frozen=True, slots=True)
class StationRow:
    """A station as the API and the map show it."""

    id: str
    name: str
    lat: float | None
    lon: float | None
    capacity: int | None
    occupancy: int
    online: bool
    registered: bool = True
    address: str | None = None
    time_zone: str = "Asia/Shanghai"
    opening_hours: str | None = None
    amenities: tuple[str, ...] = ()
    accepting: bool = True
    last_seen: str | None = None
    number: int | None = None
    """The number tokens carry for `station:` scopes; None until the station is described."""
    region_code: int | None = None
    """GB/T 2260 district code, for `region:` scopes."""


@dataclass(frozen=True, slots=True)
class StationLocationRow:
    """A station's number and region code, as tokens and worker scopes use them."""

    station_id: str
    number: int | None
    region_code: int | None


@dataclass(frozen=True, slots=True)
class ZoneRow:
    """One zone's count and capacity."""

    zone: str
    occupancy: int
    capacity: int | None


@dataclass(frozen=True, slots=True)
class StationDetail:
    """A station with its zones, doors and gateways."""

    station: StationRow
    zones: list[ZoneRow]
    doors: list[DoorSpec]
    gateways: list[str]


@dataclass(frozen=True, slots=True)
class StationColumns:
    """Every station's map fields, one list per field, all in the same (id) order."""

    id: list[str]
    name: list[str]
    lat: list[float | None]
    lon: list[float | None]
    capacity: list[int | None]
    occupancy: list[int]
    online: list[bool]
    last_seen: list[str | None]
    address: list[str | None]
    time_zone: list[str]
    amenities: list[str]
    """Each station's amenities as stored: a JSON array."""


class StationNotFoundError(LookupError):
    """No station with that id."""


class StationNumberError(ValueError):
    """A station number that cannot be given: taken, given before, or changed."""

    def __init__(self, station_id: str, problem: str) -> None:
        super().__init__(f"station {station_id!r}: {problem}")
        self.station_id = station_id
        self.problem = problem


_NUMBER_LOCK = 0x797A5F73_74616E6F
"""Held while a station number is given on PostgreSQL (`pg_advisory_xact_lock`)."""

_STATION_LOCK_CLASS = 0x797B
"""First half of a station's advisory lock key; the second is a hash of its id. The
two-key form keeps these apart from the one-key locks, and this half from the leader
lease's (`dashboard.services.leader_lease`)."""


def lock(db: Connection, station_ids: Iterable[str]) -> None:
    """Take these stations in turn with any other transaction that takes them (PostgreSQL;
    SQLite's writers already are: BEGIN IMMEDIATE), until this one ends.

    A batch or a correction reads a station's counts, sequences and alerts and writes
    them back: two central replicas doing so at once for one station would each miss the
    other's change. Taken in one order of keys, so two transactions wait, never deadlock.
    """
    ids = sorted(set(station_ids))
    if db.dialect != "postgresql" or not ids:
        return
    db.execute(
        "SELECT pg_advisory_xact_lock(?, k) FROM ("
        " SELECT DISTINCT hashtext(id) AS k FROM unnest(?::text[]) AS t(id) ORDER BY k"
        ") AS keys",
        (_STATION_LOCK_CLASS, ids),
    )


_STATION_FROM = """
    FROM stations s LEFT JOIN (
        SELECT station_id, max(online) AS online, max(last_seen) AS last_seen
        FROM gateways GROUP BY station_id
    ) g ON g.station_id = s.id
"""
_STATION_SELECT = (
    """
    SELECT s.id, s.name, s.lat, s.lon, s.capacity, s.occupancy, s.registered,
        s.address, s.time_zone, s.opening_hours, s.amenities, s.accepting,
        s.number, s.region_code, coalesce(g.online, 0) AS online, g.last_seen"""
    + _STATION_FROM
)


# --- writes ----------------------------------------------------------------------------


def upsert(
    db: Connection,
    station_id: str,
    name: str,
    lat: float | None,
    lon: float | None,
    capacity: int | None,
) -> None:
    """Register a station or update its place and capacity; counts are left alone."""
    db.execute(
        """
        INSERT INTO stations (id, name, lat, lon, capacity, registered, updated_at)
        VALUES (?, ?, ?, ?, ?, 1, ?)
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, lat = excluded.lat,
            lon = excluded.lon, capacity = excluded.capacity, registered = 1,
            updated_at = excluded.updated_at
        """,
        (station_id, name, lat, lon, capacity, format_utc(utc_now())),
    )
    db.execute(
        "INSERT INTO station_zones (station_id, zone) VALUES (?, ?) "
        "ON CONFLICT (station_id, zone) DO NOTHING",
        (station_id, DEFAULT_ZONE),
    )
    _number(db, station_id, None)


def put(db: Connection, s: StationInput) -> bool:
    """Create or replace a station's description, zones and doors; True when it is new.

    Counts are kept; zones no longer named lose their count. Its gateways are the
    caller's to register (`dashboard.storage.gateways.register`).
    """
    existed = db.execute("SELECT registered FROM stations WHERE id = ?", (s.id,)).fetchone()
    db.execute(
        """
        INSERT INTO stations (id, name, lat, lon, capacity, registered, address,
            time_zone, opening_hours, amenities, accepting, updated_at, region_code)
        VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, lat = excluded.lat,
            lon = excluded.lon, capacity = excluded.capacity, registered = 1,
            address = excluded.address, time_zone = excluded.time_zone,
            opening_hours = excluded.opening_hours, amenities = excluded.amenities,
            accepting = excluded.accepting, updated_at = excluded.updated_at,
            region_code = excluded.region_code
        """,
        (
            s.id,
            s.name,
            s.lat,
            s.lon,
            s.capacity,
            s.address,
            s.time_zone,
            s.opening_hours,
            json.dumps([a.value for a in s.amenities]),
            s.accepting,
            format_utc(utc_now()),
            s.region_code,
        ),
    )
    _number(db, s.id, s.number)
    zones = s.zone_capacities()
    kept = {
        r[0] for r in db.execute("SELECT zone FROM station_zones WHERE station_id = ?", (s.id,))
    }
    for zone in kept - set(zones):
        db.execute("DELETE FROM station_zones WHERE station_id = ? AND zone = ?", (s.id, zone))
    db.executemany(
        "INSERT INTO station_zones (station_id, zone, capacity) VALUES (?, ?, ?) "
        "ON CONFLICT (station_id, zone) DO UPDATE SET capacity = excluded.capacity",
        [(s.id, zone, cap) for zone, cap in zones.items()],
    )
    db.execute("DELETE FROM doors WHERE station_id = ? AND configured = 1", (s.id,))
    db.executemany(
        "INSERT INTO doors (station_id, door_id, zone, beams, gateway_id, configured) "
        "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (station_id, door_id) DO UPDATE SET "
        "zone = excluded.zone, beams = excluded.beams, gateway_id = excluded.gateway_id, "
        "configured = 1",
        [(s.id, d.id, d.zone.value, d.beams, d.gateway_id) for d in s.doors],
    )
    _sync_total(db, s.id)
    return existed is None or not existed[0]


def set_policy(
    db: Connection, station_id: str, capacity: int | None, opening_hours: str | None
) -> None:
    """Set a station's capacity and opening hours as its policy has them, so that the
    map, the public feed and the gateways say the same; `StationNotFoundError`."""
    require(db, station_id)
    db.execute(
        "UPDATE stations SET capacity = ?, opening_hours = ?, updated_at = ? WHERE id = ?",
        (capacity, opening_hours, format_utc(utc_now()), station_id),
    )


def touch(db: Connection, station_id: str) -> None:
    """Mark a station as described anew, so that the registry's signature moves and the
    map's kept columns are read again: a gateway added or removed changes whether the
    station is online, and no ingest batch says so."""
    db.execute(
        "UPDATE stations SET updated_at = ? WHERE id = ?",
        (format_utc(utc_now()), station_id),
    )


def _number(db: Connection, station_id: str, wanted: int | None) -> int:
    """The station's number: kept if it has one, else `wanted` or the next never given.

    `StationNumberError` when `wanted` differs from the number it has, or was given
    before (to any station, deleted ones included)."""
    row = db.execute("SELECT number FROM stations WHERE id = ?", (station_id,)).fetchone()
    current = None if row is None else row[0]
    if current is not None:
        if wanted is not None and wanted != current:
            raise StationNumberError(
                station_id, f"has number {current} for good; it cannot become {wanted}"
            )
        return int(current)
    if db.dialect == "postgresql":
        # Two transactions giving numbers at once (two requests, two replicas) would both
        # read the same highest number; this lock, held until commit, takes them in turn.
        # (SQLite's writers already are: BEGIN IMMEDIATE.)
        db.execute("SELECT pg_advisory_xact_lock(?)", (_NUMBER_LOCK,))
    if wanted is None:
        high = db.execute("SELECT coalesce(max(number), 0) FROM station_numbers").fetchone()[0]
        wanted = int(high) + 1
        if wanted > MAX_STATION_NUMBER:
            raise StationNumberError(station_id, f"every number up to {MAX_STATION_NUMBER} is used")
    else:
        given = db.execute(
            "SELECT station_id, retired_at FROM station_numbers WHERE number = ?", (wanted,)
        ).fetchone()
        if given is not None and given[0] == station_id:
            # The same station described again after it was deleted: its own number back.
            db.execute("UPDATE station_numbers SET retired_at = NULL WHERE number = ?", (wanted,))
            db.execute("UPDATE stations SET number = ? WHERE id = ?", (wanted, station_id))
            return wanted
        if given is not None:
            holder, retired = given[0], given[1]
            whose = f"deleted station {holder!r}" if retired else f"station {holder!r}"
            raise StationNumberError(
                station_id, f"number {wanted} was given to {whose}; numbers are never reused"
            )
    db.execute(
        "INSERT INTO station_numbers (number, station_id, assigned_at) VALUES (?, ?, ?)",
        (wanted, station_id, format_utc(utc_now())),
    )
    db.execute("UPDATE stations SET number = ? WHERE id = ?", (wanted, station_id))
    return wanted


def _sync_total(db: Connection, station_id: str) -> None:
    total = db.execute(
        "SELECT coalesce(sum(occupancy), 0) FROM station_zones WHERE station_id = ?",
        (station_id,),
    ).fetchone()[0]
    db.execute(
        "UPDATE stations SET occupancy = ? WHERE id = ? AND occupancy <> ?",
        (total, station_id, total),
    )


_UNDESCRIBED = BulkInsert(
    "stations",
    (("id", "text"), ("name", "text"), ("registered", "bigint")),
    "ON CONFLICT (id) DO NOTHING",
)
_DEFAULT_ZONE = BulkInsert(
    "station_zones",
    (("station_id", "text"), ("zone", "text")),
    "ON CONFLICT (station_id, zone) DO NOTHING",
)
_ZONE_COUNTS = BulkInsert(
    "station_zones",
    (("station_id", "text"), ("zone", "text"), ("occupancy", "bigint")),
    "ON CONFLICT (station_id, zone) DO UPDATE SET occupancy = excluded.occupancy",
)
_BEAM_DOORS = BulkInsert(
    "doors",
    (("station_id", "text"), ("door_id", "text"), ("beams", "bigint")),
    "ON CONFLICT (station_id, door_id) DO UPDATE SET beams = 1",
)


def ensure(db: Connection, station_ids: Iterable[str]) -> None:
    """Keep, unregistered, the stations nobody described yet, each with its default zone.

    An event from a station nobody registered is kept, never dropped; the station shows
    up unregistered so an operator can describe it."""
    ids = sorted(set(station_ids))
    db.insert_rows(_UNDESCRIBED, [(sid, sid, 0) for sid in ids])
    db.insert_rows(_DEFAULT_ZONE, [(sid, DEFAULT_ZONE) for sid in ids])


def forget(db: Connection, station_id: str) -> None:
    """Delete a station's description, zones and doors (`StationNotFoundError`)."""
    require(db, station_id)
    # The number stays in `station_numbers`, retired: it is never given again.
    db.execute(
        "UPDATE station_numbers SET retired_at = ? WHERE station_id = ? AND retired_at IS NULL",
        (format_utc(utc_now()), station_id),
    )
    db.execute("DELETE FROM station_zones WHERE station_id = ?", (station_id,))
    db.execute("DELETE FROM doors WHERE station_id = ?", (station_id,))
    db.execute("DELETE FROM stations WHERE id = ?", (station_id,))


def learn_beam_doors(db: Connection, doors: Sequence[tuple[str, str]]) -> None:
    """Mark (station, door) pairs as counted by beams: they reported a beam crossing."""
    db.insert_rows(_BEAM_DOORS, [(sid, door, 1) for sid, door in dict.fromkeys(doors)])


def write_counts(db: Connection, states: Mapping[str, StationCounts]) -> dict[str, int | None]:
    """Store the changed zone counts and the station totals, a few statements for any
    number of stations; each station's capacity."""
    db.insert_rows(
        _ZONE_COUNTS,
        [
            (sid, zone, state.zones[zone])
            for sid, state in states.items()
            for zone in sorted(state.changed_zones)
        ],
    )
    db.executemany(
        "UPDATE stations SET occupancy = ? WHERE id = ?",
        [(state.total, sid) for sid, state in states.items()],
    )
    among, ids = db.among(states)
    rows = db.execute(f"SELECT id, capacity FROM stations WHERE id {among}", ids)
    return {r[0]: r[1] for r in rows}


# --- reads -----------------------------------------------------------------------------


def require(db: Connection, station_id: str) -> None:
    """`StationNotFoundError` unless the station exists."""
    if db.execute("SELECT 1 FROM stations WHERE id = ?", (station_id,)).fetchone() is None:
        raise StationNotFoundError(station_id)


def locations(db: Connection) -> list[StationLocationRow]:
    """Every station's number and region code, by station id (unregistered ones too)."""
    return [
        StationLocationRow(r[0], r[1], r[2])
        for r in db.execute("SELECT id, number, region_code FROM stations ORDER BY id")
    ]


def all_rows(db: Connection) -> list[StationRow]:
    """Every station, with whether any of its gateways is online."""
    return [_station_row(r) for r in db.execute(_STATION_SELECT + " ORDER BY s.id").fetchall()]


def columns(db: Connection) -> StationColumns:
    """Every station's map fields as columns: read as plain tuples and turned in one
    step, so a country's 186,000 stations cost one query and no object per station."""
    rows = db.tuples(
        "SELECT s.id, s.name, s.lat, s.lon, s.capacity, s.occupancy,"
        " coalesce(g.online, 0) AS online, g.last_seen, s.address, s.time_zone, s.amenities"
        + _STATION_FROM
        + " ORDER BY s.id"
    )
    if not rows:
        return StationColumns([], [], [], [], [], [], [], [], [], [], [])
    ids, names, lats, lons, capacities, occupancies, online, seen, addresses, zones, amenities = (
        list(column) for column in zip(*rows, strict=True)
    )
    return StationColumns(
        ids,
        names,
        lats,
        lons,
        capacities,
        occupancies,
        [bool(value) for value in online],
        seen,
        addresses,
        zones,
        amenities,
    )


def live_columns(
    db: Connection,
) -> tuple[list[str], list[int], list[int | None], list[bool], list[str | None]]:
    """Every station's id, occupancy, capacity, online flag and last-seen time, in id
    order (the order of `columns`)."""
    rows = db.tuples(
        "SELECT s.id, s.occupancy, s.capacity, coalesce(g.online, 0) AS online, g.last_seen"
        + _STATION_FROM
        + " ORDER BY s.id"
    )
    if not rows:
        return [], [], [], [], []
    ids, occupancy, capacity, online, seen = (list(column) for column in zip(*rows, strict=True))
    return ids, occupancy, capacity, [bool(value) for value in online], seen


LIVE_CHUNK = 5000
"""Stations read per statement by `live_of` (SQLite takes at most 32,766 parameters)."""


def live_of(
    db: Connection, station_ids: Iterable[str]
) -> list[tuple[str, int, int | None, bool, str | None]]:
    """Of these stations (those that exist), the id, occupancy, capacity, online flag and
    last-seen time, as `live_columns` reads them: only their gateways are grouped."""
    wanted = sorted(set(station_ids))
    found: list[tuple[str, int, int | None, bool, str | None]] = []
    for start in range(0, len(wanted), LIVE_CHUNK):
        among, ids = db.among(wanted[start : start + LIVE_CHUNK])
        rows = db.tuples(
            "SELECT s.id, s.occupancy, s.capacity, coalesce(g.online, 0), g.last_seen"
            " FROM stations s LEFT JOIN ("
            " SELECT station_id, max(online) AS online, max(last_seen) AS last_seen"
            f" FROM gateways WHERE station_id {among} GROUP BY station_id"
            f" ) g ON g.station_id = s.id WHERE s.id {among}",
            [*ids, *ids],
        )
        found += [(r[0], r[1], r[2], bool(r[3]), r[4]) for r in rows]
    return found


def signature(db: Connection) -> tuple[int, str]:
    """What changes whenever a station is described, changed or deleted: how many there
    are and the latest description time."""
    row = db.tuples("SELECT count(*), coalesce(max(updated_at), '') FROM stations")[0]
    return int(row[0]), str(row[1])


def detail(db: Connection, station_id: str) -> StationDetail:
    """One station with zones, doors and gateways; `StationNotFoundError`."""
    row = db.execute(_STATION_SELECT + " WHERE s.id = ?", (station_id,)).fetchone()
    if row is None:
        raise StationNotFoundError(station_id)
    zones = [
        ZoneRow(r[0], r[1], r[2])
        for r in db.execute(
            "SELECT zone, occupancy, capacity FROM station_zones WHERE station_id = ? "
            "ORDER BY zone",
            (station_id,),
        )
    ]
    doors = [
        DoorSpec(id=r[0], zone=r[1], beams=bool(r[2]), gateway_id=r[3])
        for r in db.execute(
            "SELECT door_id, zone, beams, gateway_id FROM doors WHERE station_id = ? "
            "ORDER BY door_id",
            (station_id,),
        )
    ]
    gateways = [
        r[0]
        for r in db.execute(
            "SELECT gateway_id FROM gateways WHERE station_id = ? ORDER BY gateway_id",
            (station_id,),
        )
    ]
    return StationDetail(_station_row(row), zones, doors, gateways)


def zone_counts(db: Connection) -> dict[str, dict[str, int]]:
    """Station id → zone → count, for every station."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for sid, zone, occupancy in db.execute("SELECT station_id, zone, occupancy FROM station_zones"):
        counts[sid][zone] = occupancy
    return dict(counts)


def load_counts(db: Connection, station_ids: Sequence[str]) -> dict[str, StationCounts]:
    """The counts and door rules of these stations, to apply events or corrections to;
    locked (`lock`) until the transaction ends."""
    lock(db, station_ids)
    counts = {sid: StationCounts() for sid in station_ids}
    among, ids = db.among(station_ids)
    for sid, zone, occupancy in db.execute(
        f"SELECT station_id, zone, occupancy FROM station_zones WHERE station_id {among}", ids
    ):
        counts[sid].zones[zone] = occupancy
    for sid, door_id, zone, beams in db.execute(
        f"SELECT station_id, door_id, zone, beams FROM doors WHERE station_id {among}", ids
    ):
        counts[sid].door_zone[door_id] = zone
        if beams:
            counts[sid].beam_doors.add(door_id)
    return counts


def occupancy_of(db: Connection, station_ids: Iterable[str]) -> list[OccupancyChange]:
    """These stations' counts as stored: the total, the capacity and each zone's."""
    among, ids = db.among(sorted(set(station_ids)))
    zones: dict[str, dict[str, int]] = defaultdict(dict)
    for sid, zone, occupancy in db.execute(
        f"SELECT station_id, zone, occupancy FROM station_zones WHERE station_id {among}", ids
    ):
        zones[sid][zone] = occupancy
    return [
        OccupancyChange(sid, occupancy, capacity, zones.get(sid, {DEFAULT_ZONE: occupancy}))
        for sid, occupancy, capacity in db.execute(
            f"SELECT id, occupancy, capacity FROM stations WHERE id {among} ORDER BY id", ids
        )
    ]


def _station_row(r: Row) -> StationRow:
    row = dict(r)
    return StationRow(
        id=row["id"],
        name=row["name"],
        lat=row["lat"],
        lon=row["lon"],
        capacity=row["capacity"],
        occupancy=row["occupancy"],
        online=bool(row["online"]),
        registered=bool(row["registered"]),
        address=row["address"],
        time_zone=row["time_zone"],
        opening_hours=row["opening_hours"],
        amenities=tuple(json.loads(row["amenities"])),
        accepting=bool(row["accepting"]),
        last_seen=row["last_seen"],
        number=row["number"],
        region_code=row["region_code"],
    )
