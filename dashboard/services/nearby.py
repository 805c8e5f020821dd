"""Which stations a worker's pass page lists, and in what order.

The list answers "where can I rest near here": the stations the worker's tokens are good
at, and, when there is a position to measure from, the other open stations with room
within `NEAR_KM` of it (marked: the pass does not open their doors, but the public map
and their staff can help). The position is the phone's when the worker allows it;
without one, a worker bound to one station measures from that station, which is then
listed as "your station" rather than as a place 0 km away, and anyone else sees the
stations with the most free places first.

Stations that can take the worker now come first; full, closed and offline ones follow,
marked with their status, so that a full home station is never presented as the answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from contract.tokens import Scope, ScopeKind, StationLocation
from dashboard.core.stations import open_at
from dashboard.core.workers import ScopeText
from dashboard.storage.stations import StationLocationRow, StationRow

EARTH_RADIUS_KM = 6371.0
NEAR_KM = 20.0
"""How far from the position another station may be to be suggested."""


@dataclass(frozen=True, slots=True)
class NearbyStation:
    """One station on the pass page."""

    id: str
    name: str
    distance_km: float | None
    occupancy: int
    capacity: int | None
    free: int | None
    online: bool
    status: str
    """`open`, `full`, `closed` or `offline`."""
    pass_valid: bool = True
    """Whether this worker's pass opens its door."""
    home: bool = False
    """The one station the worker's pass is bound to (a `station:` scope)."""
    lat: float | None = None
    lon: float | None = None
    opening_hours: str = "24/7"


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def in_scope(scope: ScopeText, station_id: str, location: StationLocationRow | None) -> bool:
    """Whether tokens of `scope` are good at this station."""
    if scope.kind is ScopeKind.ANY:
        return True
    if scope.kind is ScopeKind.STATION:
        return scope.station_id == station_id
    if location is None or location.region_code is None or scope.region is None:
        return False
    # The station number does not matter for a region check; 1 stands in when unset.
    here = StationLocation(location.number or 1, location.region_code)
    return Scope.region(scope.region).covers(here)


def status_of(station: StationRow, now: datetime) -> str:
    """`offline`, `closed`, `full` or `open`: whether a worker can get in now, and if
    not, why not."""
    if not station.online:
        return "offline"
    if not open_at(station.opening_hours, station.time_zone, now):
        return "closed"
    free = None if station.capacity is None else max(station.capacity - station.occupancy, 0)
    return "full" if free == 0 or not station.accepting else "open"


def nearby_stations(
    stations: list[StationRow],
    locations: list[StationLocationRow],
    scope: ScopeText,
    origin: tuple[float, float] | None,
    now: datetime,
    limit: int = 5,
) -> tuple[list[NearbyStation], str]:
    """The stations to list and what they are sorted by (`position`, `station`, `free`)."""
    by_id = {loc.station_id: loc for loc in locations}
    valid = {s.id for s in stations if in_scope(scope, s.id, by_id.get(s.id))}
    home_id = scope.station_id if scope.kind is ScopeKind.STATION else None
    sort_by = "position" if origin is not None else "free"
    if origin is None and home_id is not None:
        home = next((s for s in stations if s.id == home_id), None)
        if home is not None and home.lat is not None and home.lon is not None:
            origin, sort_by = (home.lat, home.lon), "station"
    listed = []
    for s in stations:
        far = None
        if origin is not None and s.lat is not None and s.lon is not None:
            far = round(distance_km(origin, (s.lat, s.lon)), 2)
        status = status_of(s, now)
        # Another station is only worth naming when it is close and can take people.
        nearby = s.registered and far is not None and far <= NEAR_KM and status == "open"
        if s.id not in valid and not nearby:
            continue
        free = None if s.capacity is None else max(s.capacity - s.occupancy, 0)
        listed.append(
            NearbyStation(
                s.id,
                s.name,
                far,
                s.occupancy,
                s.capacity,
                free,
                s.online,
                status,
                pass_valid=s.id in valid,
                home=s.id == home_id,
                lat=s.lat,
                lon=s.lon,
                opening_hours=s.opening_hours or "24/7",
            )
        )
    if sort_by == "free":
        listed.sort(key=lambda n: (n.status != "open", -(n.free if n.free is not None else 1e9)))
    else:
        # Where the worker can get in first, nearest first; the rest after, marked.
        listed.sort(
            key=lambda n: (
                n.status != "open",
                not n.pass_valid,
                n.distance_km is None,
                n.distance_km or 0.0,
                n.id,
            )
        )
    shown = listed[:limit]
    if home_id is not None and all(n.id != home_id for n in shown):
        # The worker's own station stays on the list, whatever its place.
        shown[-1:] = [n for n in listed if n.id == home_id] or shown[-1:]
    return shown, sort_by
