"""The central's web application, assembled in one place from its parts.

Every route is in a router module named for its resource; `build_app` puts them
together with the error handlers, the auth middleware (which guards every route, public
ones aside), the UI's files and the truthful OpenAPI document. Nothing adds a route
anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI

from contract.maintenance_payloads import ConfigDesired
from contract.payloads import Command
from dashboard.core.changes import BatchResult
from dashboard.core.config import CentralSettings, FeedbackSettings, HttpSettings
from dashboard.core.login_throttle import LoginThrottle, ThrottlePolicy
from dashboard.ingest.metrics import IngestMetrics
from dashboard.services.credentials import Credentials
from dashboard.services.face_removals import FaceRemovals
from dashboard.services.gateway_provisioning import GatewayProvisioning
from dashboard.services.worker_voice import WorkerVoice
from dashboard.storage.history import OccupancyHistory
from dashboard.storage.operators import OperatorStore
from dashboard.storage.store import Store
from dashboard.web.alerts import alerts_router
from dashboard.web.api_docs import api_docs_mount, api_docs_router
from dashboard.web.auth import AuthMiddleware
from dashboard.web.body_limit import LOGIN_BODY_BYTES, LOGIN_PATHS, BodyLimit, BodyLimits
from dashboard.web.commands import commands_router
from dashboard.web.door_page import door_router
from dashboard.web.entries import entries_router
from dashboard.web.errors import install_error_handlers
from dashboard.web.faces import faces_router
from dashboard.web.feed import feed_router
from dashboard.web.gateway_enrollment import gateway_enrollment_router
from dashboard.web.gateways import gateways_router
from dashboard.web.health import health_router
from dashboard.web.inside import inside_router
from dashboard.web.keys import keys_router
from dashboard.web.live import LiveHub
from dashboard.web.map_state import StationMapState
from dashboard.web.nul_guard import NulGuard
from dashboard.web.occupancy import occupancy_router
from dashboard.web.openapi import install_openapi
from dashboard.web.operators import operators_router
from dashboard.web.overview import overview_router
from dashboard.web.passes import passes_router
from dashboard.web.prom import exposition
from dashboard.web.public_map import public_map_router
from dashboard.web.quarantine import quarantine_router
from dashboard.web.reports import reports_router
from dashboard.web.security_headers import SecurityHeaders
from dashboard.web.sessions import sessions_router
from dashboard.web.station_map import station_map_router
from dashboard.web.station_page import station_page_router
from dashboard.web.station_policy import station_policy_router
from dashboard.web.stations import stations_router
from dashboard.web.stream import stream_router
from dashboard.web.tiles import base_map_of, tiles_router
from dashboard.web.ui import ui_mounts, ui_router
from dashboard.web.worker_voice import FEEDBACK_PATH, feedback_body_bytes, worker_voice_router
from dashboard.web.workers import workers_router
from servicekit import __version__


@dataclass(frozen=True)
class WebParts:
    """What the web application is built over; the central makes each of them."""

    settings: CentralSettings
    store: Store
    operators: OperatorStore
    credentials: Credentials
    history: OccupancyHistory
    metrics: IngestMetrics
    live: LiveHub
    map_state: StationMapState
    """The map's station load, kept built and brought up to date from every change."""
    changed: Callable[[BatchResult], None]
    """Hears of every change made through the API, to publish it."""
    broker_connected: Callable[[], bool]
    publish_command: Callable[[str, bytes], None]
    """Publishes a signed command on a gateway's topic."""
    sign_command: Callable[[Command], Command]
    sign_config: Callable[[ConfigDesired], ConfigDesired]
    """Signs a station's policy as desired config, with the same operator key."""
    extra_metrics: Callable[[], dict[str, float]]
    """Gauges beyond ingest's and the store's (the InfluxDB export's), for `/metrics`."""
    problems: Callable[[], list[str]]
    """What keeps the central from storing what it receives, for `/healthz`."""
    leader: Callable[[], bool]
    """Whether this replica holds the leader lease, for `/healthz`."""
    provisioning: GatewayProvisioning
    """Adds and removes gateways with their broker accounts and enrollment codes."""
    voice: WorkerVoice
    """Workers' fault reports and suggestions."""


def body_limits(http: HttpSettings, feedback: FeedbackSettings) -> BodyLimits:
    """Each route's body limit: the login's, the imports', a report's with its photo,
    and the general one."""
    return BodyLimits(
        default=http.max_body_bytes,
        by_path={
            **dict.fromkeys(LOGIN_PATHS, LOGIN_BODY_BYTES),
            "/api/workers/import": http.max_worker_import_bytes,
            "/api/stations/import": http.max_station_import_bytes,
            FEEDBACK_PATH: feedback_body_bytes(feedback.max_photo_bytes),
        },
    )


def build_app(parts: WebParts) -> FastAPI:
    """The whole application: error handlers, auth, every router, the UI and the document."""
    settings = parts.settings
    app = FastAPI(
        title="yizhan central",
        version=__version__,
        description="Stations, occupancy, entries, alerts, gateways, workers and their "
        "passes, the live stream and the public feed. Every error is JSON: `ErrorBody`.",
        # `/docs` is served from local files by `api_docs`; FastAPI's own pages load a CDN.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    # The last added runs first: the roles are checked before the request's text.
    app.add_middleware(NulGuard)
    app.add_middleware(AuthMiddleware, operators=parts.operators)
    # A body over its limit is refused before the login is looked at and before
    # `NulGuard` would read it whole.
    app.add_middleware(BodyLimit, limits=body_limits(settings.http, settings.feedback))
    # Outermost, so that every answer carries the headers, refusals included.
    base, tile_file = base_map_of(settings.http)
    app.add_middleware(SecurityHeaders, image_origins=base.image_origins)
    scrape = exposition(
        parts.metrics,
        parts.store,
        lambda: {"live_subscribers": parts.live.subscribers, **parts.extra_metrics()},
    )
    for router in (
        sessions_router(
            parts.operators,
            settings.http.secure_cookies,
            LoginThrottle(
                ThrottlePolicy(lock_at=settings.http.login_account_lock_at),
                ThrottlePolicy(lock_at=settings.http.login_address_lock_at),
            ),
        ),
        operators_router(parts.operators),
        # Before the station routes: `/api/stations/map` is not a station's id.
        station_map_router(parts.map_state),
        stations_router(parts.store, registry_changed=parts.credentials.stations_changed),
        station_policy_router(parts.store, parts.publish_command, parts.sign_config),
        occupancy_router(parts.store, parts.changed),
        station_page_router(parts.store, parts.history),
        inside_router(parts.store),
        commands_router(
            parts.store,
            parts.publish_command,
            parts.sign_command,
            parts.settings.commands.answer_timeout_s,
        ),
        entries_router(parts.store),
        overview_router(parts.store),
        reports_router(parts.store),
        alerts_router(parts.store, parts.changed),
        gateways_router(parts.store),
        gateway_enrollment_router(parts.provisioning),
        quarantine_router(parts.store),
        health_router(parts.metrics, parts.broker_connected, scrape, parts.problems, parts.leader),
        stream_router(parts.store, parts.map_state, parts.live),
        workers_router(parts.credentials),
        passes_router(parts.credentials, parts.store),
        faces_router(
            parts.credentials.store,
            parts.store,
            FaceRemovals(
                parts.credentials,
                parts.publish_command,
                parts.sign_command,
                parts.settings.commands.answer_timeout_s,
            ),
        ),
        worker_voice_router(parts.voice, parts.changed),
        door_router(
            parts.store,
            parts.credentials,
            parts.operators,
            parts.publish_command,
            parts.sign_command,
            settings.doors,
        ),
        keys_router(parts.credentials),
        feed_router(parts.store, settings.feed, settings.feed_url),
        ui_router(base),
        public_map_router(),
        api_docs_router(),
        *([] if tile_file is None else [tiles_router(tile_file)]),
    ):
        app.include_router(router)
    for mount in [*ui_mounts(), api_docs_mount()]:
        app.mount(mount.path, mount.app, mount.name)
    install_openapi(app)
    return app
