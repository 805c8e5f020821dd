"""`/healthz` and `/metrics`: is the service up, and its counters for Prometheus."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from dashboard.ingest.metrics import IngestMetrics
from servicekit import __version__

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class Health(BaseModel):
    """Liveness and ingest counters."""

    status: str
    version: str
    broker_connected: bool
    ingest: dict[str, object]


def health_router(
    metrics: IngestMetrics,
    broker_connected: Callable[[], bool],
    scrape: Callable[[], bytes],
) -> APIRouter:
    """Health from the ingest counters and the broker link; `scrape()` renders `/metrics`."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    def healthz() -> Health:
        """Is the service up, is it connected to the broker, what has ingest seen."""
        return Health(
            status="ok",
            version=__version__,
            broker_connected=broker_connected(),
            ingest=metrics.snapshot(),
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
