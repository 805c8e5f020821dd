"""What a station page shows beyond the station itself: its occupancy over time and every
sensor with its last reading (role viewer, like every read)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from pydantic import BaseModel

from contract.payloads import format_utc, utc_now
from dashboard.core.changes import DoorCondition
from dashboard.storage.devices import SensorReading, current_conditions, station_readings
from dashboard.storage.history import OccupancyHistory
from dashboard.storage.store import StationNotFoundError, StationRow, Store
from dashboard.web.errors import ApiError, error_responses
from dashboard.web.params import Moment

DEFAULT_SPAN = timedelta(hours=24)
MAX_SPAN = timedelta(days=31)
"""The longest range one request may ask for (44,640 one-minute samples at most)."""


class OccupancyPoint(BaseModel):
    """The count from `at` until the next point; `peak` is the highest within its step."""

    at: str
    occupancy: int
    peak: int


class OccupancyHistoryOut(BaseModel):
    """A station's count over a time range, oldest first, as a step line.

    The first point is the count the range starts with (when the central knew one), the
    last one the count now when the range reaches the present.
    """

    station_id: str
    capacity: int | None
    since: str
    until: str
    step_s: float
    points: list[OccupancyPoint]


def station_page_router(store: Store, history: OccupancyHistory) -> APIRouter:
    """`GET /api/stations/{id}/occupancy/history`, `.../sensors` and `.../conditions`."""
    router = APIRouter(tags=["stations"])

    def station(station_id: str) -> StationRow:
        try:
            return store.station(station_id).station
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None

    @router.get("/api/stations/{station_id}/occupancy/history", responses=error_responses(404, 422))
    def occupancy_history(
        station_id: str,
        since: Moment | None = None,
        until: Moment | None = None,
    ) -> OccupancyHistoryOut:
        """The station's count over time: one sample per `step_s` in which it changed
        (the last count and the `peak` of that step), from `since` (24 hours ago by
        default) to `until` (now by default), at most 31 days."""
        row = station(station_id)
        now = utc_now()
        end = min(until or now, now)
        try:
            start = since or end - DEFAULT_SPAN
        except OverflowError:
            raise ApiError(422, "until is too early") from None
        if start >= end:
            raise ApiError(422, "since must be before until (and before now)")
        if end - start > MAX_SPAN:
            raise ApiError(422, f"at most {MAX_SPAN.days} days at once")
        points = [
            OccupancyPoint(at=s.at, occupancy=s.occupancy, peak=s.peak)
            for s in history.samples(station_id, start, end)
        ]
        if until is None or until >= now:
            # The minute in progress is not written yet; the live count ends the line.
            points.append(
                OccupancyPoint(at=format_utc(now), occupancy=row.occupancy, peak=row.occupancy)
            )
        return OccupancyHistoryOut(
            station_id=station_id,
            capacity=row.capacity,
            since=format_utc(start),
            until=format_utc(end),
            step_s=history.step_s,
            points=points,
        )

    @router.get("/api/stations/{station_id}/sensors", responses=error_responses(404, 422))
    def sensors(station_id: str) -> list[SensorReading]:
        """Every sensor of the station with its last reading and when it was read: the
        devices of its gateways' latest health reports, and presence sensors from their
        events."""
        station(station_id)
        return station_readings(store.db, station_id)

    @router.get("/api/stations/{station_id}/conditions", responses=error_responses(404, 422))
    def conditions(station_id: str) -> list[DoorCondition]:
        """The station's doors that are in lockdown, under a fire release or forced open,
        as their gateways' latest health reports say; empty when none is. The live stream
        sends each change as a `condition` event."""
        station(station_id)
        return current_conditions(store.db, [station_id])

    return router
