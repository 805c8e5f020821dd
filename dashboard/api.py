"""The REST API and the operator page, as one FastAPI application."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from importlib import resources
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from dashboard.metrics import IngestMetrics
from dashboard.store import Store
from yizhan import __version__


class StationOut(BaseModel):
    """A station on the map: where it is, how full, and whether it is reachable."""

    id: str
    name: str
    lat: float | None
    lon: float | None
    capacity: int | None
    occupancy: int
    online: bool


class EntryOut(BaseModel):
    """One access decision at a door."""

    event_id: str
    station_id: str
    gateway_id: str
    seq: int
    at: str
    door_id: str
    direction: str
    credential: str
    worker_id: str | None
    decision: str
    reason: str


class QuarantineOut(BaseModel):
    """A message that failed validation, why, and the start of its payload as text."""

    id: int
    received_at: str
    topic: str
    code: str
    reason: str
    size: int
    sample: str


class AlertOut(BaseModel):
    """Something an operator should look at; open while `resolved_at` is null."""

    id: int
    kind: str
    station_id: str | None
    gateway_id: str | None
    opened_at: str
    resolved_at: str | None
    detail: str


class Health(BaseModel):
    """Liveness and ingest counters."""

    status: str
    version: str
    broker_connected: bool
    ingest: dict[str, object]


def create_app(
    store: Store, metrics: IngestMetrics, broker_connected: Callable[[], bool]
) -> FastAPI:
    """Build the application over a store; `broker_connected()` reports the MQTT link."""
    app = FastAPI(title="yizhan central", version=__version__)
    page = resources.files("dashboard").joinpath("static/index.html").read_text("utf-8")

    @app.get("/healthz")
    def healthz() -> Health:
        """Is the service up, is it connected to the broker, what has ingest seen."""
        return Health(
            status="ok",
            version=__version__,
            broker_connected=broker_connected(),
            ingest=metrics.snapshot(),
        )

    @app.get("/api/stations")
    def stations() -> list[StationOut]:
        """Every station with its live occupancy and online state."""
        return [StationOut(**asdict(row)) for row in store.stations()]

    @app.get("/api/entries")
    def entries(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        station_id: str | None = None,
    ) -> list[EntryOut]:
        """Access decisions, newest first."""
        return [EntryOut(**asdict(row)) for row in store.entries(limit, station_id)]

    @app.get("/api/quarantine")
    def quarantine(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        code: str | None = None,
    ) -> list[QuarantineOut]:
        """Messages that failed validation, newest first, with the reason."""
        return [QuarantineOut(**asdict(row)) for row in store.quarantine(limit, code)]

    @app.get("/api/alerts")
    def alerts(
        include_resolved: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AlertOut]:
        """Open alerts (all alerts with `include_resolved=true`), newest first."""
        rows = store.alerts(open_only=not include_resolved, limit=limit)
        return [AlertOut(**asdict(row)) for row in rows]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    return app
