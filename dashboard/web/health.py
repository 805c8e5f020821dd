"""`/healthz` and `/metrics`: is the service up, and its counters for Prometheus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from dashboard.ingest.metrics import IngestMetrics
from servicekit import __version__

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class Health(BaseModel):
    """Liveness and ingest counters; `degraded` (with HTTP 503) while `reasons` says what
    keeps the central from storing what it receives."""

    status: Literal["ok", "degraded"]
    version: str
    broker_connected: bool
    ingest: dict[str, object]
    leader: bool = Field(
        description="Whether this replica holds the leader lease: runs the time-driven "
        "checks, retention and sweeps (always true on SQLite)."
    )
    reasons: list[str] = Field(default_factory=list)


def health_router(
    metrics: IngestMetrics,
    broker_connected: Callable[[], bool],
    scrape: Callable[[], bytes],
    problems: Callable[[], list[str]],
    leader: Callable[[], bool],
) -> APIRouter:
    """Health from the ingest counters, the broker link and `problems()` (what keeps the
    central from storing what it receives); `scrape()` renders `/metrics`."""
    router = APIRouter(tags=["operations"])

    @router.get(
        "/healthz",
        responses={503: {"model": Health, "description": "Degraded: see `reasons`."}},
    )
    def healthz(response: Response) -> Health:
        """Is the service up, is it connected to the broker, what has ingest seen, and
        is anything keeping it from storing what it receives. Reads no database."""
        reasons = problems()
        if reasons:
            response.status_code = 503
        return Health(
            status="degraded" if reasons else "ok",
            version=__version__,
            broker_connected=broker_connected(),
            ingest=metrics.snapshot(),
            leader=leader(),
            reasons=reasons,
        )

    @router.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def prometheus() -> PlainTextResponse:
        """Counters and gauges in the Prometheus text format."""
        return PlainTextResponse(scrape(), media_type=PROMETHEUS_TEXT)

    return router
