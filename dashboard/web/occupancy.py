"""`/api/occupancy` and `/api/stations/{id}/occupancy`: live counts per zone, and operators'
corrections with their audit trail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from dashboard.core.changes import BatchResult
from dashboard.core.stations import Zone
from dashboard.storage.store import CorrectionRow, StationNotFoundError, Store, ZoneRow
from dashboard.web.auth import current
from dashboard.web.errors import ApiError, error_responses


@dataclass(frozen=True, slots=True)
class StationOccupancy:
    """A station's count, capacity and per-zone counts."""

    station_id: str
    occupancy: int
    capacity: int | None
    zones: list[ZoneRow]


class Correction(BaseModel):
    """An operator sets a zone's count. Who corrects is the logged-in operator."""

    model_config = ConfigDict(extra="forbid")

    zone: Zone = Zone.REST
    count: StrictInt = Field(ge=0, le=100_000)
    reason: str = Field(default="", max_length=500)
    by: str | None = Field(
        default=None, deprecated=True, description="Ignored: older clients sent a name here."
    )


def occupancy_router(store: Store, changed: Callable[[BatchResult], None]) -> APIRouter:
    """Occupancy routes over the store; `changed` hears about corrected counts."""
    router = APIRouter(tags=["stations"])

    def of_station(station_id: str) -> StationOccupancy:
        try:
            detail = store.station(station_id)
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None
        station = detail.station
        return StationOccupancy(station_id, station.occupancy, station.capacity, detail.zones)

    @router.get("/api/occupancy")
    def all_occupancy() -> list[StationOccupancy]:
        """Every station's count, capacity and zones (a zone's own capacity is left out
        here: see each station)."""
        zones = store.zone_counts()
        return [
            StationOccupancy(
                s.id,
                s.occupancy,
                s.capacity,
                [ZoneRow(z, n, None) for z, n in sorted(zones.get(s.id, {}).items())],
            )
            for s in store.stations()
        ]

    @router.get("/api/stations/{station_id}/occupancy", responses=error_responses(404, 422))
    def occupancy(station_id: str) -> StationOccupancy:
        """A station's count and its zones' counts."""
        return of_station(station_id)

    @router.put("/api/stations/{station_id}/occupancy", responses=error_responses(404, 422))
    def correct(station_id: str, correction: Correction, request: Request) -> StationOccupancy:
        """Set a zone's count by hand; the old value, who (the logged-in operator) and why
        are kept. 422 for a zone the station does not have."""
        try:
            result = store.correct_occupancy(
                station_id,
                correction.zone.value,
                correction.count,
                current(request).name,
                correction.reason,
            )
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None
        except KeyError:
            raise ApiError(
                422, f"station {station_id!r} has no zone {correction.zone.value!r}"
            ) from None
        changed(result)
        return of_station(station_id)

    @router.get(
        "/api/stations/{station_id}/occupancy/corrections", responses=error_responses(404, 422)
    )
    def corrections(
        station_id: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[CorrectionRow]:
        """The station's audited count changes, newest first."""
        of_station(station_id)
        return store.corrections(station_id, limit)

    return router
