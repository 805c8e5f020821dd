"""HTTP routes for stations (CRUD, bulk import, a compact list for big maps) and occupancy
(live counts per zone, operator corrections with their audit trail)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from dashboard.core.changes import BatchResult
from dashboard.core.stations import DoorSpec, StationInput
from dashboard.services.station_import import ParsedStations, parse_csv, parse_geojson
from dashboard.storage.store import StationDetail, StationNotFoundError, Store
from dashboard.web.auth import current
from dashboard.web.errors import ApiError, validation_problems

MAX_IMPORT_BYTES = 20 * 1024 * 1024


class StationOut(BaseModel):
    """A station on the map: where it is, how full, and whether it is reachable."""

    id: str
    name: str
    lat: float | None
    lon: float | None
    capacity: int | None
    occupancy: int
    online: bool
    registered: bool
    address: str | None
    time_zone: str
    opening_hours: str | None
    amenities: list[str]
    accepting: bool
    last_seen: str | None


class ZoneOut(BaseModel):
    """One zone's count and capacity."""

    zone: str
    occupancy: int
    capacity: int | None


class StationDetailOut(StationOut):
    """A station with its zones, doors and gateways."""

    zones: list[ZoneOut]
    doors: list[DoorSpec]
    gateways: list[str]


class CompactStations(BaseModel):
    """Every station as one short array, for a map of ten thousand: see `fields`."""

    fields: list[str]
    stations: list[list[Any]]


class OccupancyOut(BaseModel):
    """A station's count, capacity and per-zone counts."""

    station_id: str
    occupancy: int
    capacity: int | None
    zones: list[ZoneOut]


class Correction(BaseModel):
    """An operator sets a zone's count. Who corrects is the logged-in operator; a `by`
    sent by older clients is ignored."""

    zone: str = Field(default="rest", min_length=1, max_length=64)
    count: int = Field(ge=0, le=100_000)
    reason: str = Field(default="", max_length=500)


class CorrectionOut(BaseModel):
    """An audited change of a count."""

    id: int
    station_id: str
    zone: str
    before: int
    after: int
    by: str
    reason: str
    at: str


class ImportResult(BaseModel):
    """What an import stored."""

    imported: int
    created: int


COMPACT_FIELDS = ["id", "lat", "lon", "occupancy", "capacity", "online", "accepting"]


def detail_out(detail: StationDetail) -> StationDetailOut:
    """The API's view of a station with its parts."""
    return StationDetailOut(
        **_station_fields(detail.station),
        zones=[ZoneOut(**asdict(z)) for z in detail.zones],
        doors=detail.doors,
        gateways=detail.gateways,
    )


def _station_fields(row: Any) -> dict[str, Any]:
    data = asdict(row)
    data["amenities"] = list(data["amenities"])
    return data


def stations_router(store: Store, changed: Callable[[BatchResult], None]) -> APIRouter:
    """Station and occupancy routes; `changed` hears about corrected counts."""
    router = APIRouter(tags=["stations"])

    def load(station_id: str) -> StationDetail:
        try:
            return store.station(station_id)
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None

    def parse(data: Any, station_id: str | None = None) -> StationInput:
        if not isinstance(data, dict):
            raise ApiError(422, "expected a JSON object")
        if station_id is not None:
            data = {**data, "id": data.get("id", station_id)}
        try:
            station = StationInput.model_validate(data)
        except ValidationError as exc:
            raise ApiError(422, "invalid station", validation_problems(exc)) from None
        if station_id is not None and station.id != station_id:
            raise ApiError(422, f"body id {station.id!r} differs from {station_id!r} in the path")
        return station

    @router.get("/api/stations")
    def list_stations() -> list[StationOut]:
        """Every station with its live occupancy and online state."""
        return [StationOut(**_station_fields(row)) for row in store.stations()]

    @router.get("/api/stations/compact")
    def compact_stations() -> CompactStations:
        """Every station as a short array (about 60 bytes each), for a map to load fast."""
        return CompactStations(
            fields=COMPACT_FIELDS,
            stations=[
                [s.id, s.lat, s.lon, s.occupancy, s.capacity, s.online, s.accepting]
                for s in store.stations()
            ],
        )

    @router.post("/api/stations", status_code=201)
    def create_station(data: Annotated[Any, Body()]) -> StationDetailOut:
        """Describe a new station; 409 if the id is taken by a registered station."""
        station = parse(data)
        try:
            if store.station(station.id).station.registered:
                raise ApiError(409, f"station {station.id!r} already exists; PUT replaces it")
        except StationNotFoundError:
            pass
        store.put_station(station)
        return detail_out(store.station(station.id))

    @router.get("/api/stations/{station_id}")
    def get_station(station_id: str) -> StationDetailOut:
        """One station with its zones, doors and gateways."""
        return detail_out(load(station_id))

    @router.put("/api/stations/{station_id}")
    def put_station(station_id: str, data: Annotated[Any, Body()]) -> JSONResponse:
        """Create or replace a station's description; its counts are kept."""
        station = parse(data, station_id)
        created = store.put_station(station)
        body = detail_out(store.station(station_id)).model_dump(mode="json")
        return JSONResponse(body, status_code=201 if created else 200)

    @router.delete("/api/stations/{station_id}", status_code=204)
    def delete_station(station_id: str) -> Response:
        """Forget a station (its entry log stays until retention removes it)."""
        try:
            store.delete_station(station_id)
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None
        return Response(status_code=204)

    @router.post(
        "/api/stations/import",
        openapi_extra={
            "requestBody": {
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/geo+json": {"schema": {"type": "object"}},
                },
                "required": True,
            }
        },
    )
    async def import_stations(request: Request) -> ImportResult:
        """Create or replace many stations from CSV or GeoJSON; all or nothing, with every
        problem listed by row (CSV, header = row 1) or feature (GeoJSON, from 1)."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("text/csv", "application/geo+json", "application/json"):
            raise ApiError(415, "send text/csv or application/geo+json")
        body = await request.body()
        if len(body) > MAX_IMPORT_BYTES:
            raise ApiError(413, f"larger than {MAX_IMPORT_BYTES} bytes")
        parsed: ParsedStations = parse_csv(body) if kind == "text/csv" else parse_geojson(body)
        if parsed.problems:
            raise ApiError(
                422,
                "nothing was imported",
                [asdict(p) for p in parsed.problems[:1000]],
            )
        created = await run_in_threadpool(store.put_stations, parsed.stations)
        return ImportResult(imported=len(parsed.stations), created=created)

    @router.get("/api/occupancy")
    def all_occupancy() -> list[OccupancyOut]:
        """Every station's count, capacity and zones."""
        zones = store.zone_counts()
        return [
            OccupancyOut(
                station_id=s.id,
                occupancy=s.occupancy,
                capacity=s.capacity,
                zones=[
                    ZoneOut(zone=z, occupancy=n, capacity=None)
                    for z, n in sorted(zones.get(s.id, {}).items())
                ],
            )
            for s in store.stations()
        ]

    @router.get("/api/stations/{station_id}/occupancy")
    def occupancy(station_id: str) -> OccupancyOut:
        """A station's count and its zones' counts."""
        detail = load(station_id)
        return OccupancyOut(
            station_id=station_id,
            occupancy=detail.station.occupancy,
            capacity=detail.station.capacity,
            zones=[ZoneOut(**asdict(z)) for z in detail.zones],
        )

    @router.put("/api/stations/{station_id}/occupancy")
    def correct(station_id: str, correction: Correction, request: Request) -> OccupancyOut:
        """Set a zone's count by hand; the old value, who (the logged-in operator) and why
        are kept."""
        try:
            result = store.correct_occupancy(
                station_id,
                correction.zone,
                correction.count,
                current(request).name,
                correction.reason,
            )
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None
        except KeyError:
            raise ApiError(422, f"station {station_id!r} has no zone {correction.zone!r}") from None
        changed(result)
        return occupancy(station_id)

    @router.get("/api/stations/{station_id}/occupancy/corrections")
    def corrections(
        station_id: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[CorrectionOut]:
        """The station's audited count changes, newest first."""
        load(station_id)
        return [CorrectionOut(**asdict(c)) for c in store.corrections(station_id, limit)]

    return router
