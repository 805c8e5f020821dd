"""`GET /api/overview`: the totals an operator's header shows, all stations together."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from dashboard.storage.store import Store


class Overview(BaseModel):
    """How the whole network stands now."""

    stations_online: int
    stations_offline: int
    inside: int
    """People inside all stations together."""
    entries_today: int
    """Granted entries since each station's own midnight."""
    open_alerts: int
    time_zones: list[str]
    """The time zones the stations use; one, in most networks."""


def overview_router(store: Store) -> APIRouter:
    """The network's totals over the store."""
    router = APIRouter(tags=["stations"])

    @router.get("/api/overview")
    def overview() -> Overview:
        """Stations online and offline, people inside, entries today (each station's day,
        from its own midnight) and unresolved alerts. The dashboard reads it once and
        keeps it current from the live stream."""
        stations = store.station_columns()
        online = sum(stations.online)
        return Overview(
            stations_online=online,
            stations_offline=len(stations.id) - online,
            inside=sum(stations.occupancy),
            entries_today=store.entries_today(),
            open_alerts=store.open_alert_count(),
            time_zones=sorted(set(stations.time_zone)),
        )

    return router
