"""The operator map's station load, compact enough for a whole country.

- `GET /api/stations/map`: what describes each station (id, name, place, district,
  amenities, time zone). It changes only when stations are described, so it is kept
  built and gzipped (`dashboard.web.map_state`) and `If-None-Match` is answered with
  304: a reload costs a query of two numbers.
- `GET /api/stations/live`: what moves (occupancy, capacity, online, last seen), in the
  same order; `version` names the description it lines up with. Kept in memory and
  brought up to date from the rows committed batches moved, so a country's page load
  reads no whole table.

Bodies are gzipped here when the browser accepts it (186,100 stations: about 2.3 MB on
the wire instead of 12 MB), so no middleware has to buffer the live stream.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dashboard.web.map_state import Encoded, StationMapState


def chosen(encoded: Encoded, request: Request, headers: dict[str, str]) -> Response:
    """`encoded` gzipped if the request accepts gzip, plain otherwise."""
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return Response(encoded.gzipped, media_type="application/json", headers=headers)
    return Response(encoded.body, media_type="application/json", headers=headers)


def station_map_router(state: StationMapState) -> APIRouter:
    """The map's station load over its kept state (before `/api/stations/{id}`)."""
    router = APIRouter(tags=["stations"])
    schema: dict[int | str, dict[str, Any]] = {
        200: {"content": {"application/json": {"schema": {"type": "object"}}}}
    }

    @router.get("/api/stations/map", responses={**schema, 304: {"description": "Unchanged"}})
    def station_map(request: Request) -> Response:
        """Every station's description in columns: `id`, `name`, `lat`, `lon`, and
        `district`, `amenities`, `time_zone` as indexes into `tables`. Gzipped when the
        request accepts it; `ETag` is the description's version (304 while it holds)."""
        built = state.described()
        etag = f'"{built.version}"'
        headers = {"ETag": etag, "Vary": "Accept-Encoding", "Cache-Control": "no-cache"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return chosen(built.encoded, request, headers)

    @router.get("/api/stations/live", responses=schema)
    def station_live(request: Request) -> Response:
        """Every station's `occupancy`, `capacity`, `online` (0/1) and `last_seen`, in
        the order of `/api/stations/map` at `version` (its `ETag`); gzipped when the
        request accepts it."""
        headers = {"Vary": "Accept-Encoding", "Cache-Control": "no-store"}
        return chosen(state.live(), request, headers)

    return router
