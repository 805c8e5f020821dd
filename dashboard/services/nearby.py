"""Which stations a worker's pass page lists, and in what order.

Only stations the worker's tokens are good at are listed. With the phone's position
(when the worker allows it) they are sorted by distance from it; without one, a worker
bound to one station sees distances from that station, and anyone else sees the stations
with the most free places first. Stations keep no opening hours yet: they are 24-hour
stations, so "open" means a gateway is online and there is room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from contract.tokens import Scope, ScopeKind, StationLocation
from dashboard.core.workers import ScopeText
from dashboard.storage.stations import StationLocationRow, StationRow

EARTH_RADIUS_KM = 6371.0


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
    """`open`, `full` or `offline`."""


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


def nearby_stations(
    stations: list[StationRow],
    locations: list[StationLocationRow],
    scope: ScopeText,
    origin: tuple[float, float] | None,
    limit: int = 5,
) -> tuple[list[NearbyStation], str]:
    """The stations to list and what they are sorted by (`position`, `station`, `free`)."""
    by_id = {loc.station_id: loc for loc in locations}
    usable = [s for s in stations if in_scope(scope, s.id, by_id.get(s.id))]
    sort_by = "position" if origin is not None else "free"
    if origin is None and scope.kind is ScopeKind.STATION:
        home = next((s for s in usable if s.lat is not None and s.lon is not None), None)
        if home is not None and home.lat is not None and home.lon is not None:
            origin, sort_by = (home.lat, home.lon), "station"
    listed = []
    for s in usable:
        far = None
        if origin is not None and s.lat is not None and s.lon is not None:
            far = round(distance_km(origin, (s.lat, s.lon)), 2)
        free = None if s.capacity is None else max(s.capacity - s.occupancy, 0)
        status = "offline" if not s.online else "full" if free == 0 else "open"
        listed.append(
            NearbyStation(s.id, s.name, far, s.occupancy, s.capacity, free, s.online, status)
        )
    if sort_by == "free":
        listed.sort(key=lambda n: (n.status != "open", -(n.free if n.free is not None else 1e9)))
    else:
        listed.sort(key=lambda n: (n.distance_km is None, n.distance_km or 0.0, n.id))
    return listed[:limit], sort_by
