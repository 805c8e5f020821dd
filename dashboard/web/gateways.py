"""`/api/gateways`: every gateway's health as the central sees it."""

from __future__ import annotations

from fastapi import APIRouter

from dashboard.core.changes import GatewayRow
from dashboard.storage.store import Store
from dashboard.web.errors import error_responses


def gateways_router(store: Store) -> APIRouter:
    """Gateways over the store."""
    router = APIRouter(tags=["gateways"])

    @router.get("/api/gateways", responses=error_responses(422))
    def gateways(station_id: str | None = None) -> list[GatewayRow]:
        """Every gateway (of one station with `station_id`): online or not and why
        (`offline_reason` is `will` when its last will arrived, `silent` when nothing was
        heard in time), version, last seen, clock offset."""
        return store.gateways(station_id)

    return router
