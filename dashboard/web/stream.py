"""`GET /api/stream`: the live stream of changes, as server-sent events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from dashboard.core.changes import DoorChange
from dashboard.storage import devices, door_states
from dashboard.storage.store import Store
from dashboard.web.errors import ApiError, error_responses
from dashboard.web.live import LiveHub
from dashboard.web.live_messages import CHANGE_KINDS, Snapshot, StationCount
from dashboard.web.map_state import StationMapState

SNAPSHOT_ALERTS = 1000
"""At most this many unresolved alerts (the newest) go in the live stream's snapshot."""


def snapshot_of(
    store: Store,
    state: StationMapState,
    kinds: frozenset[str] | None,
    stations: frozenset[str] | None,
) -> Snapshot:
    """Every station's count, and every door's last state, the doors in lockdown, fire or
    forced open and the unresolved alerts unless `kinds` leaves them out; of `stations`
    only, when given."""
    wanted = kinds if kinds is not None else CHANGE_KINDS
    # Columns kept in memory, not rows read: a country's snapshot is 186,000 stations.
    every = state.counts()
    counts = zip(every.id, every.occupancy, every.capacity, every.online, strict=True)
    return Snapshot(
        stations=[
            StationCount(*count) for count in counts if stations is None or count[0] in stations
        ],
        doors=[DoorChange(**door) for door in door_states.current(store.db, stations)]
        if "door" in wanted
        else None,
        conditions=devices.current_conditions(store.db, stations)
        if "condition" in wanted
        else None,
        alerts=[
            alert
            for alert in store.alerts(limit=SNAPSHOT_ALERTS)
            if stations is None or alert.station_id in stations
        ]
        if "alert" in wanted
        else None,
    )


def stream_router(store: Store, state: StationMapState, hub: LiveHub) -> APIRouter:
    """The live stream over the store and the map's kept state (for the snapshot) and
    the hub (for the changes)."""
    router = APIRouter(tags=["live"])

    @router.get(
        "/api/stream",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "Server-sent events, never ending.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            **error_responses(422),
        },
    )
    async def stream(
        kinds: Annotated[str | None, Query(max_length=200)] = None,
        station_id: Annotated[list[str] | None, Query(max_length=1000)] = None,
    ) -> StreamingResponse:
        """Server-sent events: `occupancy`, `door`, `condition` (a door's lockdown, fire
        and forced-open flags), `alert`, `gateway` and `command` (how a command sent from
        the dashboard ended) changes as they happen. `kinds=occupancy,alert` narrows the
        kinds, `station_id` (repeatable) the stations. Starts with a `snapshot` event:
        every station's count as `[id, occupancy, capacity, online]`, every door's last
        known state, the doors with a condition set and the unresolved alerts (the newest
        1,000). A client that falls too far behind gets `overflow` and the stream ends."""
        wanted: frozenset[str] | None = None
        if kinds:
            wanted = frozenset(k.strip() for k in kinds.split(",") if k.strip())
            unknown = wanted - CHANGE_KINDS
            if unknown:
                raise ApiError(422, f"unknown kinds: {', '.join(sorted(unknown))}")
        stations = frozenset(station_id) if station_id else None
        first = await run_in_threadpool(snapshot_of, store, state, wanted, stations)
        return StreamingResponse(
            hub.stream(wanted, stations, first),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router
