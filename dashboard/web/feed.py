"""The public availability feed for workers' apps and city maps, modelled on GBFS.

`/feed/gbfs.json` lists the feeds; `station_information.json` says where stations are
and what they offer (changes rarely); `station_status.json` says how many places are
free, whether each is open and accepting entries, and when it last reported (changes
all the time). Each document carries `last_updated` (epoch seconds) and `ttl` (seconds
a client may cache it). `/feed/stations.geojson` is both in one map layer, and
`/feed/nearest` the open stations with room nearest a position.

Nothing personal is in it: no worker ids, no entries, no gateway ids — only stations.
Unregistered stations (heard from but never described by an operator) are left out.

Every answer may be cached by anyone for its `ttl` (`Cache-Control: public,
max-age=<ttl>`): it is the same for every reader, and its links come from the configured
`feed.public_url`, never from the request's Host header, so a forged Host cannot make a
shared cache hand other readers links to somewhere else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from contract.payloads import utc_now
from dashboard.core.stations import open_at
from dashboard.services.nearby import distance_km
from dashboard.storage.store import StationRow, Store
from dashboard.web.errors import error_responses

GBFS_VERSION = "2.3"
GEOJSON = "application/geo+json"
FEEDS = ("station_information", "station_status")


def free_places(station: StationRow) -> int | None:
    """Places left, or None when the station has no capacity set."""
    return None if station.capacity is None else max(station.capacity - station.occupancy, 0)


def status_of(station: StationRow, now_open: bool) -> dict[str, Any]:
    """One station's live status, as GBFS `station_status` has it plus our fields."""
    free = free_places(station)
    accepting = station.online and station.accepting and now_open and free != 0
    return {
        "station_id": station.id,
        "num_places_available": free,
        "num_people_present": station.occupancy,
        "is_installed": True,
        "is_renting": accepting,
        "is_open": now_open,
        "is_accepting_entries": accepting,
        "is_online": station.online,
        "last_reported": _epoch(station.last_seen),
    }


def information_of(station: StationRow) -> dict[str, Any]:
    """One station's description, as GBFS `station_information` has it plus our fields."""
    return {
        "station_id": station.id,
        "name": station.name,
        "lat": station.lat,
        "lon": station.lon,
        "address": station.address,
        "capacity": station.capacity,
        "opening_hours": station.opening_hours or "24/7",
        "time_zone": station.time_zone,
        "amenities": list(station.amenities),
    }


def _epoch(text: str | None) -> int | None:
    if text is None:
        return None
    from datetime import datetime

    return int(datetime.fromisoformat(text).timestamp())


class GeoJsonResponse(JSONResponse):
    """A GeoJSON document, with its own media type (RFC 7946)."""

    media_type = GEOJSON


def feed_router(store: Store, ttl_s: int, language: str, public_url: str = "") -> APIRouter:
    """The feed's routes over the station store; every link starts with `public_url`
    (relative when it is empty), never with what a request says its host is."""
    router = APIRouter(prefix="/feed", tags=["public feed"])

    def public(stations: Callable[[], list[StationRow]] = store.stations) -> list[StationRow]:
        return [s for s in stations() if s.registered]

    def document(data: dict[str, Any]) -> JSONResponse:
        return JSONResponse(
            {"last_updated": int(time.time()), "ttl": ttl_s, "version": GBFS_VERSION, "data": data},
            headers={"Cache-Control": f"public, max-age={ttl_s}"},
        )

    @router.get("/gbfs.json")
    def gbfs() -> JSONResponse:
        """The feed index (GBFS `gbfs.json`)."""
        base = public_url.rstrip("/")
        feeds = [{"name": name, "url": f"{base}/feed/{name}.json"} for name in FEEDS]
        feeds.append({"name": "stations_geojson", "url": f"{base}/feed/stations.geojson"})
        return document({language: {"feeds": feeds}})

    @router.get("/station_information.json")
    def station_information() -> JSONResponse:
        """Where every station is and what it offers."""
        return document({"stations": [information_of(s) for s in public()]})

    @router.get("/station_status.json")
    def station_status() -> JSONResponse:
        """Free places, open now, accepting entries and last report of every station."""
        now = utc_now()
        return document(
            {
                "stations": [
                    status_of(s, open_at(s.opening_hours, s.time_zone, now)) for s in public()
                ]
            }
        )

    @router.get(
        "/stations.geojson",
        response_class=GeoJsonResponse,
        responses={200: {"content": {GEOJSON: {"schema": {"type": "object"}}}}},
    )
    def geojson() -> GeoJsonResponse:
        """Every located station as a GeoJSON point with its description and status."""
        now = utc_now()
        features = [
            {
                "type": "Feature",
                "id": s.id,
                "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                "properties": {
                    **information_of(s),
                    **status_of(s, open_at(s.opening_hours, s.time_zone, now)),
                },
            }
            for s in public()
            if s.lat is not None and s.lon is not None
        ]
        return GeoJsonResponse(
            {"type": "FeatureCollection", "features": features},
            headers={"Cache-Control": f"public, max-age={ttl_s}"},
        )

    @router.get("/nearest", responses=error_responses(422))
    def nearest(
        lat: Annotated[float, Query(ge=-90, le=90)],
        lon: Annotated[float, Query(ge=-180, le=180)],
        limit: Annotated[int, Query(ge=1, le=50)] = 5,
        max_km: Annotated[float, Query(gt=0, le=20_000)] = 50.0,
    ) -> JSONResponse:
        """The nearest stations that are open, online and have a free place."""
        now = utc_now()
        found = []
        for s in public():
            if s.lat is None or s.lon is None:
                continue
            status = status_of(s, open_at(s.opening_hours, s.time_zone, now))
            if not status["is_accepting_entries"]:
                continue
            far = distance_km((lat, lon), (s.lat, s.lon))
            if far <= max_km:
                found.append((far, s, status))
        found.sort(key=lambda item: (item[0], item[1].id))
        return document(
            {
                "stations": [
                    {**information_of(s), **status, "distance_km": round(far, 3)}
                    for far, s, status in found[:limit]
                ]
            }
        )

    return router
