"""The public availability feed for workers' apps and city maps: GBFS 2.3, plus a map
layer and a nearest-station search.

`/feed/gbfs.json` is GBFS's discovery file; it lists `system_information.json` (who runs
the network), `station_information.json` (where stations are and what they offer, changes
rarely) and `station_status.json` (free places, in service, accepting entries, last
report; changes all the time), each a valid GBFS 2.3 document (`dashboard/web/gbfs.py`
says how places and people map onto docks and vehicles). Two more answers are not GBFS
and not in its discovery file: `/feed/stations.geojson`, both in one map layer, and
`/feed/nearest`, the open stations with room nearest a position.

Nothing personal is in it: no worker ids, no entries, no gateway ids — only stations.
Unregistered stations (heard from but never described by an operator) are left out, and
GBFS's station files leave out stations without a location.

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
from dashboard.core.config import FeedSettings
from dashboard.core.stations import open_at
from dashboard.services.nearby import distance_km
from dashboard.storage.store import StationRow, Store
from dashboard.web import gbfs
from dashboard.web.errors import error_responses
from dashboard.web.gbfs import GBFS_FEEDS, GBFS_VERSION, epoch, free_places

GEOJSON = "application/geo+json"


def status_of(station: StationRow, now_open: bool) -> dict[str, Any]:
    """One station's live status, for the map layer and the nearest search."""
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
        "last_reported": epoch(station.last_seen),
    }


def information_of(station: StationRow) -> dict[str, Any]:
    """One station's description, for the map layer and the nearest search."""
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


class GeoJsonResponse(JSONResponse):
    """A GeoJSON document, with its own media type (RFC 7946)."""

    media_type = GEOJSON


def feed_router(store: Store, feed: FeedSettings, public_url: str = "") -> APIRouter:
    """The feed's routes over the station store; every link starts with `public_url`
    (relative when it is empty, which GBFS readers do not accept), never with what a
    request says its host is."""
    router = APIRouter(prefix="/feed", tags=["public feed"])
    ttl_s = feed.ttl_s
    base = public_url.rstrip("/")

    def public(stations: Callable[[], list[StationRow]] = store.stations) -> list[StationRow]:
        return [s for s in stations() if s.registered]

    def located() -> list[StationRow]:
        return [s for s in public() if s.lat is not None and s.lon is not None]

    def cached(body: dict[str, Any]) -> JSONResponse:
        return JSONResponse(body, headers={"Cache-Control": f"public, max-age={ttl_s}"})

    def document(data: dict[str, Any], now_s: int | None = None) -> JSONResponse:
        """A GBFS file: its data in the envelope every GBFS file shares."""
        last_updated = int(time.time()) if now_s is None else now_s
        return cached(
            {"last_updated": last_updated, "ttl": ttl_s, "version": GBFS_VERSION, "data": data}
        )

    @router.get("/gbfs.json")
    def discovery() -> JSONResponse:
        """GBFS's discovery file: the feed's files, in its one language."""
        feeds = [{"name": name, "url": f"{base}/feed/{name}.json"} for name in GBFS_FEEDS]
        return document({feed.language: {"feeds": feeds}})

    @router.get("/system_information.json")
    def system_information() -> JSONResponse:
        """Who runs the stations, the feed's language and time zone."""
        return document(gbfs.system_information(feed, base))

    @router.get("/station_information.json")
    def station_information() -> JSONResponse:
        """Where every located station is, its capacity and what it offers."""
        return document({"stations": [gbfs.station_information(s) for s in located()]})

    @router.get("/station_status.json")
    def station_status() -> JSONResponse:
        """Free places, in service, accepting entries and last report of every station."""
        now = utc_now()
        now_s = int(now.timestamp())
        return document(
            {
                "stations": [
                    gbfs.station_status(s, open_at(s.opening_hours, s.time_zone, now), now_s)
                    for s in located()
                ]
            },
            now_s,
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
        # Not a GBFS file: the same envelope, without a GBFS version to claim.
        return cached(
            {
                "last_updated": int(time.time()),
                "ttl": ttl_s,
                "data": {
                    "stations": [
                        {**information_of(s), **status, "distance_km": round(far, 3)}
                        for far, s, status in found[:limit]
                    ]
                },
            }
        )

    return router
