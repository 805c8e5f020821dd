"""`GET /api/stations/{id}/inside`: the workers inside a station now, each with the time
they came in as UTC and in the station's own time zone (role viewer, like every read).

What "inside" means, from the entries the central stores, is in
`dashboard.storage.inside` and docs/dashboard.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from contract.payloads import format_utc, utc_now
from dashboard.storage.inside import InsideRow, inside
from dashboard.storage.store import StationNotFoundError, Store
from dashboard.web.errors import ApiError, error_responses

MAX_HOURS = 720
"""The longest look-back one request may ask for: 30 days."""
MAX_LISTED = 1000


class InsideWorker(BaseModel):
    """A worker inside the station, by the entry that let them in."""

    worker_id: str
    display_name: str | None = Field(description="None for a worker unknown here or erased.")
    door_id: str
    gateway_id: str
    credential: str
    entered_at: str = Field(description="UTC, the gateway's clock.")
    entered_at_local: str = Field(description="The same moment in the station's time zone.")
    event_id: str


class InsideNow(BaseModel):
    """Who is inside a station now: entries since `since` without a matching exit."""

    station_id: str
    time_zone: str
    since: str
    count: int
    workers: list[InsideWorker]


def local_time(utc_text: str, zone: ZoneInfo) -> str:
    """A stored UTC time as ISO 8601 with the offset of `zone` (seconds precision)."""
    return datetime.fromisoformat(utc_text).astimezone(zone).isoformat(timespec="seconds")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # Station time zones are checked when stations are put; this is a last resort.
        return ZoneInfo("Asia/Shanghai")


def inside_router(store: Store) -> APIRouter:
    """The route over the station store (entries and workers are in its database)."""
    router = APIRouter(tags=["stations"])

    @router.get("/api/stations/{station_id}/inside", responses=error_responses(404, 422))
    def inside_now(
        station_id: str,
        hours: Annotated[int, Query(ge=1, le=MAX_HOURS)] = 24,
        limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = 200,
    ) -> InsideNow:
        """Workers inside the station now, latest entry first: those whose latest granted
        scan anywhere is an entry here within the last `hours`. A later exit scan (at any
        station) or entry at another station ends a visit; exits that name nobody (the
        exit button, beams) cannot."""
        try:
            row = store.station(station_id).station
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None
        zone = _zone(row.time_zone)
        since = format_utc(utc_now() - timedelta(hours=hours))
        found = inside(store.db, station_id, since, limit)
        return InsideNow(
            station_id=station_id,
            time_zone=row.time_zone,
            since=since,
            count=len(found),
            workers=[_shown(r, zone) for r in found],
        )

    return router


def _shown(row: InsideRow, zone: ZoneInfo) -> InsideWorker:
    return InsideWorker(
        worker_id=row.worker_id,
        display_name=row.display_name,
        door_id=row.door_id,
        gateway_id=row.gateway_id,
        credential=row.credential,
        entered_at=row.entered_at,
        entered_at_local=local_time(row.entered_at, zone),
        event_id=row.event_id,
    )
