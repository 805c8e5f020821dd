"""The operator map's station load, kept built in memory: descriptions and live columns.

A country's 186,100 stations cost about a second to read from the database, and a page
load needs all of them. So the central reads them once (at start, and again whenever the
registry's signature moves: a station described, changed or deleted) and keeps:

- the description body (id, name, place, district, amenities, time zone), gzipped, with
  its version, for `/api/stations/map`;
- the live columns (occupancy, capacity, online, last seen) in the same order, for
  `/api/stations/live` and the live stream's snapshot.

A committed batch names the stations whose count, gateway state or last-heard time it
moved (`note`); before the next answer those stations alone are read again from the
database. Values therefore always come from the database: a mark says only which rows to
read, and one too many costs a row. Another replica's batches are not heard here, so
`reread` (every `REREAD_S`, from the central's periodic checks) compares every row with
the database and marks the ones that differ (DESIGN: a replica rebuilds its state from
the store). The live body is encoded once per change of the columns, not per request.

Columns, not objects: each field name appears once, and values that repeat (districts,
amenity sets, time zones) are sent once in a table and referred to by their index.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import re
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dashboard.core.changes import BatchResult
from dashboard.storage.store import StationColumns, Store

log = logging.getLogger(__name__)

# The district in a Chinese address (…区, …县, …旗 after the city), as the map filters by.
DISTRICT = re.compile(r"(?:市|^)([^市省]{1,8}?(?:区|县|旗))")
GZIP_LEVEL = 5
"""Fast enough for a country's worth of stations in about 0.1 s; 9 saves a few percent."""
REREAD_S = 60.0
"""How often every station's live row is compared with the database, for what other
replicas wrote (one replica alone is exact without it)."""

T = TypeVar("T", bound=Hashable)


@functools.lru_cache(maxsize=4096)
def district_of(address: str | None) -> str:
    """The district an address names, or "" if it names none."""
    match = DISTRICT.search(address or "")
    return match.group(1) if match else ""


class Table(Generic[T]):
    """Values that repeat, each stored once: `index` gives a value's place."""

    def __init__(self) -> None:
        self.values: list[T] = []
        self._places: dict[T, int] = {}

    def index(self, value: T) -> int:
        """The place of `value`, added at the end the first time it is seen."""
        place = self._places.get(value)
        if place is None:
            place = self._places[value] = len(self.values)
            self.values.append(value)
        return place


def map_columns(stations: StationColumns) -> dict[str, Any]:
    """The stations' descriptions as columns and tables (see the module's docstring)."""
    districts: Table[str] = Table()
    amenity_sets: Table[str] = Table()
    time_zones: Table[str] = Table()
    return {
        "count": len(stations.id),
        "id": stations.id,
        "name": stations.name,
        "lat": stations.lat,
        "lon": stations.lon,
        "district": [districts.index(district_of(a)) for a in stations.address],
        # Stored as a JSON array: the same text is the same set, decoded once below.
        "amenities": [amenity_sets.index(a) for a in stations.amenities],
        "time_zone": [time_zones.index(z) for z in stations.time_zone],
        "tables": {
            "district": districts.values,
            "amenities": [json.loads(a) for a in amenity_sets.values],
            "time_zone": time_zones.values,
        },
    }


def dumped(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Encoded:
    """A body as built once: plain and gzipped."""

    body: bytes
    gzipped: bytes

    @classmethod
    def of(cls, value: Any) -> Encoded:
        """`value` as compact JSON, and gzipped."""
        body = dumped(value)
        return cls(body, gzip.compress(body, GZIP_LEVEL, mtime=0))


@dataclass(frozen=True, slots=True)
class Described:
    """The description body as built for one registry signature."""

    signature: tuple[int, str]
    version: str
    encoded: Encoded


@dataclass(frozen=True, slots=True)
class LiveCounts:
    """Every station's id, occupancy, capacity and online flag, in description order."""

    id: list[str]
    occupancy: list[int]
    capacity: list[int | None]
    online: list[bool]


@dataclass(slots=True)
class _Loaded:
    """Everything read at one signature; the live lists change in place, row by row."""

    described: Described
    ids: list[str]
    place: dict[str, int]
    occupancy: list[int]
    capacity: list[int | None]
    online: list[bool]
    last_seen: list[str | None]
    revision: int = 0
    """Moves on whenever a live value changes."""
    live: tuple[int, Encoded] | None = None
    """The live body and the revision it was built at."""


class StationMapState:
    """The map's station load over the store, kept built (see the module's docstring)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # Held while the database is read into the state, so two requests never both
        # read a country, and a row read is never overwritten by an older one.
        self._reading = threading.Lock()
        # Guards `_marked` alone: batches mark from the ingest thread without waiting on
        # a read in progress.
        self._marks = threading.Lock()
        self._marked: set[str] = set()
        self._loaded: _Loaded | None = None

    def note(self, batch: BatchResult) -> None:
        """Mark the stations a committed batch, check or correction moved; from any thread."""
        self.mark({*batch.occupancy, *(g.station_id for g in batch.gateways), *batch.heard})

    def mark(self, station_ids: set[str]) -> None:
        """Mark stations to be read again before the next answer (another replica changed
        them); from any thread."""
        if station_ids:
            with self._marks:
                self._marked |= station_ids

    def warm(self) -> threading.Thread:
        """Read the stations in the background, so the first page load finds them read."""
        thread = threading.Thread(target=self._warm, name="map-state", daemon=True)
        thread.start()
        return thread

    def _warm(self) -> None:
        try:
            self.described()
        except Exception as error:
            # The first page load reads them instead (a database away, a central stopping).
            log.warning("the map's stations were not read ahead: %s", error)

    def described(self) -> Described:
        """The description as the registry is now."""
        return self._current().described

    def live(self) -> Encoded:
        """The live body in the description's order: its `version`,
        `count`, `occupancy`, `capacity`, `online` (0/1) and `last_seen`."""
        loaded = self._current()
        with self._reading:
            built = loaded.live
            if built is None or built[0] != loaded.revision:
                body = Encoded.of(
                    {
                        "version": loaded.described.version,
                        "count": len(loaded.ids),
                        "occupancy": loaded.occupancy,
                        "capacity": loaded.capacity,
                        "online": [1 if value else 0 for value in loaded.online],
                        "last_seen": loaded.last_seen,
                    }
                )
                built = loaded.live = (loaded.revision, body)
        return built[1]

    def counts(self) -> LiveCounts:
        """Every station's live counts now, copied (for the live stream's snapshot)."""
        loaded = self._current()
        with self._reading:
            return LiveCounts(
                list(loaded.ids),
                list(loaded.occupancy),
                list(loaded.capacity),
                list(loaded.online),
            )

    def reread(self) -> int:
        """Compare every station's live row with the database and mark those that differ
        (written by another replica, or by a path that marks nothing); how many."""
        loaded = self._loaded
        if loaded is None:
            return 0
        ids, occupancy, capacity, online, seen = self._store.station_live_columns()
        with self._reading:
            differing = {
                sid
                for n, sid in enumerate(ids)
                if (place := loaded.place.get(sid)) is None
                or loaded.occupancy[place] != occupancy[n]
                or loaded.capacity[place] != capacity[n]
                or loaded.online[place] != online[n]
                or loaded.last_seen[place] != seen[n]
            }
        if differing:
            with self._marks:
                self._marked |= differing
        return len(differing)

    def _current(self) -> _Loaded:
        signature = self._store.station_signature()
        with self._reading:
            loaded = self._loaded
            if loaded is None or loaded.described.signature != signature:
                loaded = self._loaded = self._load(signature)
            else:
                self._read_marked(loaded)
            return loaded

    def _load(self, signature: tuple[int, str]) -> _Loaded:
        # The marks so far are all in what is read now.
        with self._marks:
            self._marked = set()
        columns = self._store.station_columns()
        encoded = Encoded.of(map_columns(columns))
        version = hashlib.sha256(encoded.body).hexdigest()[:20]
        return _Loaded(
            described=Described(signature, version, encoded),
            ids=columns.id,
            place={sid: n for n, sid in enumerate(columns.id)},
            occupancy=columns.occupancy,
            capacity=columns.capacity,
            online=columns.online,
            last_seen=columns.last_seen,
        )

    def _read_marked(self, loaded: _Loaded) -> None:
        with self._marks:
            marked, self._marked = self._marked, set()
        if not marked:
            return
        try:
            rows = self._store.station_live_of(marked)
        except Exception:
            # Read again next time: a mark is never lost to a database that was away.
            with self._marks:
                self._marked |= marked
            raise
        changed = False
        for sid, occupancy, capacity, online, seen in rows:
            place = loaded.place.get(sid)
            if place is None:
                # Described since the last load: the next signature brings it in.
                continue
            row = (occupancy, capacity, online, seen)
            if row != (
                loaded.occupancy[place],
                loaded.capacity[place],
                loaded.online[place],
                loaded.last_seen[place],
            ):
                loaded.occupancy[place] = occupancy
                loaded.capacity[place] = capacity
                loaded.online[place] = online
                loaded.last_seen[place] = seen
                changed = True
        if changed:
            loaded.revision += 1
