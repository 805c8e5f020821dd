"""`/api/stations`: describing stations one by one or by bulk import, and listing them
(in full, or compact for a map of ten thousand)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from contract.payloads import SLUG_PATTERN
from dashboard.core.stations import DoorSpec, StationInput
from dashboard.services.station_import import ParsedStations, parse_csv, parse_geojson
from dashboard.storage.store import (
    StationDetail,
    StationNotFoundError,
    StationNumberError,
    StationRow,
    Store,
    ZoneRow,
)
from dashboard.web.errors import ApiError, error_responses, validation_problems
from dashboard.web.openapi import SelfParsedBody, json_body, raw_body, validate_body

IMPORT_TYPES = ("text/csv", "application/geo+json", "application/json")


@dataclass(frozen=True, slots=True, kw_only=True)
class StationWithParts(StationRow):
    """A station with its zones, doors and gateways."""

    zones: list[ZoneRow]
    doors: list[DoorSpec]
    gateways: list[str]

    @classmethod
    def of(cls, detail: StationDetail) -> StationWithParts:
        """The station of `detail` with its parts beside its own fields."""
        own = {field.name: getattr(detail.station, field.name) for field in fields(StationRow)}
        return cls(**own, zones=detail.zones, doors=detail.doors, gateways=detail.gateways)


COMPACT_FIELDS = ("id", "lat", "lon", "occupancy", "capacity", "online", "accepting")


class CompactStations(BaseModel):
    """Every station as one short array, in the order `fields` names."""

    fields: list[str]
    stations: list[list[str | bool | int | float | None]]


class ImportResult(BaseModel):
    """What an import stored."""

    imported: int
    created: int


IMPORT_BODY = raw_body(
    "CSV (a header row naming the columns; `id` and `name` required) or a GeoJSON "
    "FeatureCollection of Point features whose properties are station fields.",
    {
        "text/csv": {"schema": {"type": "string"}},
        "application/geo+json": {"schema": {"type": "object"}},
        "application/json": {"schema": {"type": "object"}},
    },
)


def stations_router(store: Store, registry_changed: Callable[[], None] = lambda: None) -> APIRouter:
    """Station routes over the store. `registry_changed` hears of every station created,
    replaced or deleted: a new station's credential map (and a changed region's) goes to
    its gateways at once rather than at the publisher's next periodic rebuild."""
    router = APIRouter(tags=["stations"])

    def load(station_id: str) -> StationDetail:
        try:
            return store.station(station_id)
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None

    def parse(data: Any, station_id: str | None = None) -> StationInput:
        # Parsed here rather than by FastAPI, so that problems name the field alone
        # (`lat`, not `body.lat`) as the import's problems do.
        if not isinstance(data, dict):
            raise ApiError(422, "expected a JSON object")
        if station_id is not None:
            data = {**data, "id": data.get("id", station_id)}
        try:
            station = validate_body(StationInput, data)
        except ValidationError as exc:
            raise ApiError(422, "invalid station", validation_problems(exc)) from None
        if station_id is not None and station.id != station_id:
            raise ApiError(422, f"body id {station.id!r} differs from {station_id!r} in the path")
        return station

    def put(station: StationInput) -> bool:
        try:
            created = store.put_station(station)
        except StationNumberError as exc:
            raise ApiError(409, str(exc)) from None
        registry_changed()
        return created

    @router.get("/api/stations")
    def list_stations() -> list[StationRow]:
        """Every station with its live occupancy and online state."""
        return store.stations()

    @router.get("/api/stations/compact")
    def compact_stations() -> CompactStations:
        """Every station as a short array (about 60 bytes each), for a map to load fast."""
        return CompactStations(
            fields=list(COMPACT_FIELDS),
            stations=[[getattr(s, name) for name in COMPACT_FIELDS] for s in store.stations()],
        )

    @router.post(
        "/api/stations",
        status_code=201,
        openapi_extra=json_body(StationInput),
        responses=error_responses(409, 422),
    )
    def create_station(data: SelfParsedBody = None) -> StationWithParts:
        """Describe a new station; it gets the next station number unless it names an
        unused one. 409 if the id is taken by a registered station or the number was
        ever given to another station."""
        station = parse(data)
        try:
            if store.station(station.id).station.registered:
                raise ApiError(409, f"station {station.id!r} already exists; PUT replaces it")
        except StationNotFoundError:
            pass
        put(station)
        return StationWithParts.of(store.station(station.id))

    @router.get("/api/stations/{station_id}", responses=error_responses(404, 422))
    def get_station(station_id: str) -> StationWithParts:
        """One station with its zones, doors and gateways."""
        return StationWithParts.of(load(station_id))

    @router.put(
        "/api/stations/{station_id}",
        openapi_extra=json_body(StationInput, optional=("id",), name="StationReplacement"),
        responses={
            201: {"model": StationWithParts, "description": "Created"},
            **error_responses(409, 422),
        },
    )
    def put_station(
        station_id: Annotated[str, Path(pattern=SLUG_PATTERN)],
        response: Response,
        data: SelfParsedBody = None,
    ) -> StationWithParts:
        """Create (201) or replace (200) a station's description; its counts are kept. The
        body's `id` may be left out; when given it must be the path's."""
        station = parse(data, station_id)
        if put(station):
            response.status_code = 201
        return StationWithParts.of(store.station(station_id))

    @router.delete(
        "/api/stations/{station_id}", status_code=204, responses=error_responses(404, 422)
    )
    def delete_station(station_id: str) -> Response:
        """Forget a station (its entry log stays until retention removes it)."""
        try:
            store.delete_station(station_id)
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None
        registry_changed()
        return Response(status_code=204)

    @router.post(
        "/api/stations/import",
        openapi_extra=IMPORT_BODY,
        responses=error_responses(409, 413, 415, 422),
    )
    async def import_stations(request: Request) -> ImportResult:
        """Create or replace many stations from CSV or GeoJSON; all or nothing, with every
        problem listed by row (CSV, header = row 1) or feature (GeoJSON, from 1)."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in IMPORT_TYPES:
            raise ApiError(415, "send text/csv or application/geo+json")
        # `BodyLimit` has refused a body over `http.max_station_import_bytes` unread.
        body = await request.body()
        parsed: ParsedStations = parse_csv(body) if kind == "text/csv" else parse_geojson(body)
        if parsed.problems:
            raise ApiError(422, "nothing was imported", [asdict(p) for p in parsed.problems[:1000]])
        try:
            created = await run_in_threadpool(store.put_stations, parsed.stations)
        except StationNumberError as exc:
            problem = {"row": None, "field": "number", "problem": str(exc)}
            raise ApiError(409, "nothing was imported", [problem]) from None
        registry_changed()
        return ImportResult(imported=len(parsed.stations), created=created)

    return router
