"""Workers' passes: the personal links operators hand out (`/api/workers/{id}/pass-links`,
`/api/pass-links/{id}`), and what a link opens on the worker's phone (`/pass/{secret}`,
the page, and the two `/api/pass/{secret}/...` routes it calls, public by design: the
secret in the address is the credential)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from contract.payloads import format_utc, utc_now
from contract.tokens import ROTATION_PERIOD_S
from dashboard.core.workers import ScopeText, Worker, WorkerStatus
from dashboard.services.credentials import Credentials
from dashboard.services.nearby import NearbyStation, nearby_stations
from dashboard.services.pass_tokens import MAX_AHEAD, IssuedToken
from dashboard.storage.pass_links import PassLinkRow
from dashboard.storage.store import Store
from dashboard.storage.workers import EnrollmentError
from dashboard.web.errors import ApiError, error_responses
from dashboard.web.workers import worker_by_id

PASS_HEADERS = {
    # The secret is in the URL: never send it on as a referrer, never cache the page.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}

MAX_SECRET = 64
"""Longer than any secret this central hands out: refused without a database lookup."""


@dataclass(frozen=True, slots=True)
class NewPassLink(PassLinkRow):
    """A link just made, with its secret and address: shown in this answer only."""

    secret: str
    url: str


@dataclass(frozen=True, slots=True)
class PassTokens:
    """The worker's current token and the next ones, each with its window and QR code."""

    worker_id: str
    period_s: int
    server_time: str
    """The central's clock, so that the phone can correct its own."""
    tokens: list[IssuedToken]


@dataclass(frozen=True, slots=True)
class PassStations:
    """Stations where the pass works, nearest first (`position`) or emptiest first."""

    sorted_by: str
    stations: list[NearbyStation]


def passes_router(credentials: Credentials, stations: Store) -> APIRouter:
    """Pass routes over the central's credentials and the station store."""
    router = APIRouter(tags=["passes"])
    page = resources.files("dashboard").joinpath("static/pass.html").read_text("utf-8")
    store = credentials.store

    @router.post(
        "/api/workers/{worker_id}/pass-links",
        status_code=201,
        responses=error_responses(404, 409),
    )
    def create_pass_link(worker_id: str, request: Request) -> NewPassLink:
        """A new personal link; its secret is in this answer only. 409 for a worker who
        is suspended or revoked."""
        worker = worker_by_id(store, worker_id)
        try:
            link, secret = store.create_pass_link(worker.number)
        except EnrollmentError as exc:
            raise ApiError(409, f"no pass link for a worker who is {exc.problems[0][2]}") from None
        url = credentials.pass_url(secret, str(request.base_url))
        return NewPassLink(**asdict(link), secret=secret, url=url)

    @router.get("/api/workers/{worker_id}/pass-links", responses=error_responses(404))
    def list_pass_links(worker_id: str) -> list[PassLinkRow]:
        """A worker's links (without secrets), newest first."""
        return store.pass_links(worker_by_id(store, worker_id).number)

    @router.delete("/api/pass-links/{link_id}", responses=error_responses(404, 422))
    def revoke_pass_link(link_id: Annotated[int, Path(ge=1, le=2**62)]) -> PassLinkRow:
        """Make a link stop working at once."""
        try:
            return store.revoke_pass_link(link_id)
        except LookupError:
            raise ApiError(404, f"no pass link {link_id}") from None

    def pass_worker(secret: str) -> Worker:
        worker = store.worker_for_secret(secret) if len(secret) <= MAX_SECRET else None
        if worker is None:
            raise ApiError(404, "this pass link does not work (any more); ask your station")
        return worker

    @router.get(
        "/api/pass/{secret}/tokens",
        responses={
            **error_responses(404, 409, 422),
            403: {**error_responses(403)[403], "description": "The pass is not valid now."},
        },
    )
    def pass_tokens(
        secret: str,
        response: Response,
        count: Annotated[int | None, Query(ge=0, le=MAX_AHEAD)] = None,
    ) -> PassTokens:
        """The current token and the next `count`, each with its window and QR (SVG)."""
        worker = pass_worker(secret)
        now = utc_now()
        if not worker.valid_at(now):
            raise ApiError(403, f"this pass is not valid now ({_why_not(worker, now)})")
        ahead = credentials.settings.credentials.prefetch if count is None else count
        try:
            tokens = credentials.tokens(worker, now, ahead)
        except LookupError as exc:
            raise ApiError(409, f"scope cannot be issued: {exc}") from None
        response.headers.update(PASS_HEADERS)
        return PassTokens(worker.worker_id, ROTATION_PERIOD_S, format_utc(now), tokens)

    @router.get("/api/pass/{secret}/stations", responses=error_responses(404, 422))
    def pass_stations(
        secret: str,
        response: Response,
        lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
        lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    ) -> PassStations:
        """Stations where this pass works: nearest first with `lat` and `lon` (both or
        neither), otherwise emptiest first."""
        worker = pass_worker(secret)
        if (lat is None) != (lon is None):
            raise ApiError(422, "give both lat and lon, or neither")
        origin = (lat, lon) if lat is not None and lon is not None else None
        listed, sort_by = nearby_stations(
            stations.stations(),
            store.station_locations(),
            ScopeText.parse(worker.scope),
            origin,
        )
        response.headers.update(PASS_HEADERS)
        return PassStations(sort_by, listed)

    @router.get("/pass/{secret}", response_class=HTMLResponse, include_in_schema=False)
    def pass_page(secret: str, request: Request) -> Response:
        try:
            pass_worker(secret)
        except ApiError as exc:
            if "text/html" not in request.headers.get("accept", ""):
                raise
            return HTMLResponse(
                f"<!doctype html><meta charset=utf-8><title>yizhan</title>"
                f"<p>通行链接无效，请联系驿站。<p>{exc.detail}.",
                status_code=exc.status,
                headers=PASS_HEADERS,
            )
        # Its script and style are files under /static/pages: the pages' Content Security
        # Policy (`dashboard.web.security_headers`) allows nothing inline.
        return HTMLResponse(page, headers=PASS_HEADERS)

    return router


def _why_not(worker: Worker, now: datetime) -> str:
    if worker.status is not WorkerStatus.ACTIVE:
        return worker.status.value
    if worker.valid_from is not None and now < worker.valid_from:
        return f"valid from {worker.valid_from.isoformat()}"
    return "expired"
