"""The REST API, the live stream, `/metrics` and the operator page, as one FastAPI app.

Routes by area: stations and occupancy in `stations_api`, workers and passes in
`workers_api`, the public feed in `feed`; entries, quarantine, alerts, gateways, the
live stream and health here. Every error is JSON (`dashboard.web.errors`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import datetime
from importlib import resources
from typing import Annotated, Literal

from fastapi import FastAPI, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field

from contract.payloads import Reason, format_utc
from dashboard.core.alert_rules import AlertChange, AlertKind, AlertStatus
from dashboard.core.changes import BatchResult
from dashboard.ingest.metrics import IngestMetrics
from dashboard.storage import door_states
from dashboard.storage.alerts import AlertStateError
from dashboard.storage.operators import OperatorStore
from dashboard.storage.store import EntryFilter, EntryRow, Store, encode_cursor
from dashboard.web.auth import AuthMiddleware, auth_router, current
from dashboard.web.errors import ApiError, install_error_handlers
from dashboard.web.feed import feed_router
from dashboard.web.live import LiveHub
from dashboard.web.prom import exposition
from dashboard.web.stations import stations_router
from servicekit import __version__

STREAM_KINDS = frozenset({"occupancy", "door", "alert", "gateway"})
SNAPSHOT_ALERTS = 1000
"""At most this many unresolved alerts (the newest) go in the live stream's snapshot."""


class EntryOut(BaseModel):
    """One access decision at a door; `worker_id` is the pseudonymous worker id."""

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
    status: str
    station_id: str | None
    gateway_id: str | None
    subject: str | None
    opened_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    resolved_at: str | None
    resolved_by: str | None
    detail: str
    acknowledged_note: str | None = None
    """What the operator wrote when acknowledging."""
    resolved_note: str | None = None
    """What the operator wrote when resolving (none when the system resolved it)."""


class AlertAction(BaseModel):
    """An optional note for the next operator (kept with the alert and in the audit log).
    Who acted is the logged-in operator; a `by` sent by older clients is ignored."""

    note: str | None = Field(default=None, max_length=500)


class GatewayOut(BaseModel):
    """A gateway's health as the central sees it."""

    station_id: str
    gateway_id: str
    online: bool
    version: str | None
    last_seen: str | None
    offline_reason: str | None
    """`will` (its last will arrived) or `silent` (nothing heard in time), when offline."""
    clock_offset_s: float | None


class Health(BaseModel):
    """Liveness and ingest counters; `degraded` (with HTTP 503) while `reasons` says what
    keeps the central from storing what it receives."""

    status: Literal["ok", "degraded"]
    version: str
    broker_connected: bool
    ingest: dict[str, object]
    reasons: list[str] = Field(default_factory=list)


ENTRY_COLUMNS = list(EntryOut.model_fields)


def create_app(
    store: Store,
    metrics: IngestMetrics,
    broker_connected: Callable[[], bool],
    live: LiveHub | None = None,
    changed: Callable[[BatchResult], None] | None = None,
    feed_ttl_s: int = 30,
    feed_language: str = "zh",
    extra_metrics: Callable[[], dict[str, float]] | None = None,
    secure_cookies: bool = False,
    problems: Callable[[], list[str]] | None = None,
) -> FastAPI:
    """Build the application over a store; `broker_connected()` reports the MQTT link,
    `changed` hears of changes made through the API (to publish them), `problems()` what
    keeps the central from storing what it receives (for `/healthz`)."""
    app = FastAPI(
        title="yizhan central",
        version=__version__,
        description="Stations, occupancy, entries, alerts, gateways, live stream and feed.",
    )
    install_error_handlers(app)
    # Every route, including those added later by the service, sits behind the roles.
    operators = OperatorStore(store.db)
    app.state.operators = operators
    app.add_middleware(AuthMiddleware, operators=operators)
    app.include_router(auth_router(operators, secure_cookies))
    hub = live or LiveHub()
    notify = changed or (lambda result: None)
    page = resources.files("dashboard").joinpath("static/index.html").read_text("utf-8")
    scrape = exposition(
        metrics,
        store,
        lambda: {"live_subscribers": hub.subscribers, **(extra_metrics() if extra_metrics else {})},
    )
    app.include_router(stations_router(store, notify))
    app.include_router(feed_router(store, feed_ttl_s, feed_language))

    @app.get(
        "/healthz",
        tags=["operations"],
        responses={503: {"model": Health, "description": "Degraded: see `reasons`."}},
    )
    def healthz(response: Response) -> Health:
        """Is the service up, is it connected to the broker, what has ingest seen, and
        is anything keeping it from storing what it receives. Reads no database."""
        reasons = problems() if problems is not None else []
        if reasons:
            response.status_code = 503
        return Health(
            status="degraded" if reasons else "ok",
            version=__version__,
            broker_connected=broker_connected(),
            ingest=metrics.snapshot(),
            reasons=reasons,
        )

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus() -> Response:
        """Counters and gauges in the Prometheus text format."""
        return Response(scrape(), media_type="text/plain; version=0.0.4; charset=utf-8")

    def entry_filter(
        station_id: str | None,
        gateway_id: str | None,
        door_id: str | None,
        decision: Literal["granted", "denied"] | None,
        direction: Literal["in", "out"] | None,
        worker_id: str | None,
        since: datetime | None,
        until: datetime | None,
        reason: Reason | None,
    ) -> EntryFilter:
        return EntryFilter(
            reason=None if reason is None else reason.value,
            station_id=station_id,
            gateway_id=gateway_id,
            door_id=door_id,
            decision=decision,
            direction=direction,
            worker_id=worker_id,
            since=None if since is None else format_utc(since),
            until=None if until is None else format_utc(until),
        )

    def page_of(where: EntryFilter, limit: int, cursor: str | None) -> list[EntryRow]:
        try:
            return store.entries(limit, where=where, cursor=cursor)
        except ValueError as exc:
            raise ApiError(
                422, str(exc), [{"where": "query.cursor", "problem": str(exc)}]
            ) from None

    @app.get("/api/entries", tags=["entries"])
    def entries(
        response: Response,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        station_id: str | None = None,
        gateway_id: str | None = None,
        door_id: str | None = None,
        decision: Literal["granted", "denied"] | None = None,
        direction: Literal["in", "out"] | None = None,
        worker_id: str | None = None,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
        reason: Reason | None = None,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> list[EntryOut]:
        """Access decisions, newest first; `reason` narrows to one decision reason (`full`,
        `expired`, ...). A full page answers `X-Next-Cursor`: pass it as
        `cursor` for the next page."""
        where = entry_filter(
            station_id, gateway_id, door_id, decision, direction, worker_id, since, until, reason
        )
        rows = page_of(where, limit, cursor)
        if len(rows) == limit:
            response.headers["X-Next-Cursor"] = encode_cursor(rows[-1])
        return [EntryOut(**asdict(row)) for row in rows]

    @app.get("/api/entries.csv", tags=["entries"], response_class=StreamingResponse)
    def entries_csv(
        station_id: str | None = None,
        gateway_id: str | None = None,
        door_id: str | None = None,
        decision: Literal["granted", "denied"] | None = None,
        direction: Literal["in", "out"] | None = None,
        worker_id: str | None = None,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
        reason: Reason | None = None,
        max_rows: Annotated[int, Query(ge=1, le=5_000_000)] = 1_000_000,
    ) -> StreamingResponse:
        """The same entries as CSV (UTF-8, header row), streamed page by page."""
        where = entry_filter(
            station_id, gateway_id, door_id, decision, direction, worker_id, since, until, reason
        )

        def rows() -> Iterator[str]:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(ENTRY_COLUMNS)
            cursor: str | None = None
            sent = 0
            while sent < max_rows:
                page = store.entries(min(1000, max_rows - sent), where=where, cursor=cursor)
                for row in page:
                    writer.writerow([getattr(row, c) for c in ENTRY_COLUMNS])
                sent += len(page)
                yield out.getvalue()
                out.seek(0)
                out.truncate()
                if len(page) < 1000:
                    return
                cursor = encode_cursor(page[-1])

        return StreamingResponse(
            rows(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="entries.csv"'},
        )

    @app.get("/api/quarantine", tags=["operations"])
    def quarantine(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        code: str | None = None,
    ) -> list[QuarantineOut]:
        """Messages that failed validation, newest first, with the reason."""
        return [QuarantineOut(**asdict(row)) for row in store.quarantine(limit, code)]

    @app.get("/api/alerts", tags=["alerts"])
    def alerts(
        include_resolved: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        kind: AlertKind | None = None,
        station_id: str | None = None,
        status: AlertStatus | None = None,
    ) -> list[AlertOut]:
        """Unresolved alerts (all with `include_resolved=true`), newest first."""
        rows = store.alerts(
            open_only=not include_resolved and status is not AlertStatus.RESOLVED,
            limit=limit,
            kind=None if kind is None else kind.value,
            station_id=station_id,
            status=None if status is None else status.value,
        )
        return [AlertOut(**asdict(row)) for row in rows]

    def alert_out(alert_id: int) -> AlertOut:
        try:
            return AlertOut(**asdict(store.alert(alert_id)))
        except LookupError:
            raise ApiError(404, f"no alert {alert_id}") from None

    @app.get("/api/alerts/{alert_id}", tags=["alerts"])
    def get_alert(alert_id: Annotated[int, Path(ge=1, le=2**62)]) -> AlertOut:
        """One alert with its history: who acknowledged and resolved it, and when."""
        return alert_out(alert_id)

    def transition(
        alert_id: int,
        action: Callable[[int, str, str | None], AlertChange],
        body: AlertAction,
        request: Request,
    ) -> AlertOut:
        note = (body.note or "").strip() or None
        if note is not None:
            # The audit middleware writes this with the request, so the audit log says
            # what was written as well as who acted.
            request.state.audit_detail = f"note: {note}"
        try:
            change = action(alert_id, current(request).name, note)
        except LookupError:
            raise ApiError(404, f"no alert {alert_id}") from None
        except AlertStateError as exc:
            raise ApiError(409, str(exc)) from None
        notify(BatchResult(alerts=[change]))
        return alert_out(alert_id)

    @app.post("/api/alerts/{alert_id}/acknowledge", tags=["alerts"])
    def acknowledge(
        alert_id: Annotated[int, Path(ge=1, le=2**62)],
        request: Request,
        body: AlertAction | None = None,
    ) -> AlertOut:
        """The logged-in operator takes the alert, with an optional `note`; 409 if it is
        already resolved."""
        return transition(alert_id, store.acknowledge_alert, body or AlertAction(), request)

    @app.post("/api/alerts/{alert_id}/resolve", tags=["alerts"])
    def resolve(
        alert_id: Annotated[int, Path(ge=1, le=2**62)],
        request: Request,
        body: AlertAction | None = None,
    ) -> AlertOut:
        """The logged-in operator closes the alert, with an optional `note`; 409 if it is
        already resolved."""
        return transition(alert_id, store.resolve_alert, body or AlertAction(), request)

    @app.get("/api/gateways", tags=["gateways"])
    def gateways(station_id: str | None = None) -> list[GatewayOut]:
        """Every gateway: online or not and why, version, last seen, clock offset."""
        return [GatewayOut(**asdict(row)) for row in store.gateways(station_id)]

    @app.get(
        "/api/stream",
        tags=["live"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def stream(
        kinds: Annotated[str | None, Query(max_length=200)] = None,
        station_id: Annotated[list[str] | None, Query(max_length=1000)] = None,
    ) -> StreamingResponse:
        """Server-sent events: `occupancy`, `door`, `alert` and `gateway` changes as they
        happen. `kinds=occupancy,alert` narrows the kinds, `station_id` (repeatable) the
        stations. Starts with a `snapshot` event: every station's count, every door's last
        known state and the unresolved alerts (the newest 1,000)."""
        wanted: frozenset[str] | None = None
        if kinds:
            wanted = frozenset(k.strip() for k in kinds.split(",") if k.strip())
            unknown = wanted - STREAM_KINDS
            if unknown:
                raise ApiError(422, f"unknown kinds: {', '.join(sorted(unknown))}")
        stations = frozenset(station_id) if station_id else None
        snapshot = [
            [s.id, s.occupancy, s.capacity, s.online]
            for s in store.stations()
            if stations is None or s.id in stations
        ]
        first_data: dict[str, object] = {"stations": snapshot}
        # The truth at connect time, so a new client need not wait for the next change:
        # every door's last state and the unresolved alerts, unless `kinds` leaves them out.
        if wanted is None or "door" in wanted:
            first_data["doors"] = door_states.current(store.db, stations)
        if wanted is None or "alert" in wanted:
            first_data["alerts"] = [
                asdict(alert)
                for alert in store.alerts(limit=SNAPSHOT_ALERTS)
                if stations is None or alert.station_id in stations
            ]
        first = "event: snapshot\ndata: " + json.dumps(first_data, ensure_ascii=False) + "\n\n"
        return StreamingResponse(
            hub.stream(wanted, stations, first),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return page

    return app
