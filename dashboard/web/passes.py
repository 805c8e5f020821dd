"""Workers' passes: the personal links operators hand out (`/api/workers/{id}/pass-links`,
`/api/pass-links/{id}`), and what a link opens on the worker's phone (`/pass/{secret}`,
the page, and the two `/api/pass/{secret}/...` routes it calls, public by design: the
secret in the address is the credential), with what makes the page installable and
usable offline: its web manifest (`/pass/{secret}/manifest.webmanifest`) and its service
worker (`/pass/sw.js`, scope `/pass/`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from contract.payloads import format_utc, utc_now
from contract.tokens import ROTATION_PERIOD_S
from dashboard.core.workers import ScopeText, Worker, WorkerStatus
from dashboard.services.credentials import Credentials
from dashboard.services.nearby import NearbyStation, nearby_stations
from dashboard.services.pass_tokens import MAX_AHEAD, IssuedToken, qr_svg_document
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

PASS_COOKIE = "yz_pass"
"""The pass session on the worker's phone: the pass link's secret, HttpOnly, sent only to
the door pages (`/door/...`, `dashboard.web.door_page`), so a door sticker scanned with
the camera knows whose phone it is."""
PASS_COOKIE_PATH = "/door"
PASS_COOKIE_MAX_AGE_S = 180 * 24 * 3600
"""Half a year; revoking the pass link ends the session at once anyway."""

SERVICE_WORKER_HEADERS = {
    # Checked for a new version on every visit; it may control every page under /pass/.
    "Cache-Control": "no-cache",
    "Service-Worker-Allowed": "/pass/",
}

DEAD_LINK_ZH = (
    '<!doctype html><html lang="zh-CN"><meta charset=utf-8>'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>驿站通行码</title><p>此通行链接已失效，请向驿站工作人员索取新链接。"
    '<p><a href="/map">查看附近的驿站</a>'
)
DEAD_LINK_EN = (
    '<!doctype html><html lang="en"><meta charset=utf-8>'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Station pass</title><p>This pass link no longer works. "
    'Ask the station staff for a new one.<p><a href="/map">Stations nearby</a>'
)
"""What a dead link opens, in one language: the page's script (and the worker's remembered
choice) never runs there, so the browser's first language decides; Chinese otherwise."""

MAX_SECRET = 64
"""Longer than any secret this central hands out: refused without a database lookup."""


@dataclass(frozen=True, slots=True)
class NewPassLink(PassLinkRow):
    """A link just made, with its secret and address: shown in this answer only."""

    secret: str
    url: str
    qr_svg: str
    """The address as a QR code for a printed card: an SVG document sized by its viewBox."""


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
    secure_cookie = (credentials.settings.credentials.public_url or "").startswith("https:")
    static = resources.files("dashboard").joinpath("static")
    page = static.joinpath("pass.html").read_text("utf-8")
    service_worker = static.joinpath("pages/pass-sw.js").read_text("utf-8")
    store = credentials.store

    @router.post(
        "/api/workers/{worker_id}/pass-links",
        status_code=201,
        responses=error_responses(404, 409),
    )
    def create_pass_link(worker_id: str, request: Request) -> NewPassLink:
        """A new personal link; its secret, address and the address's QR code (for a
        printed card) are in this answer only. 409 for a worker who is suspended or
        revoked."""
        worker = worker_by_id(store, worker_id)
        try:
            link, secret = store.create_pass_link(worker.number)
        except EnrollmentError as exc:
            raise ApiError(409, f"no pass link for a worker who is {exc.problems[0][2]}") from None
        url = credentials.pass_url(secret, str(request.base_url))
        return NewPassLink(**asdict(link), secret=secret, url=url, qr_svg=qr_svg_document(url))

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
            why, reason = _why_not(worker, now)
            # `reason` lets the page say it in the worker's language.
            raise ApiError(
                403,
                f"this pass is not valid now ({why})",
                [{"problem": why, "reason": reason}],
            )
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
            utc_now(),
        )
        response.headers.update(PASS_HEADERS)
        return PassStations(sort_by, listed)

    # Declared before `/pass/{secret}`, which would otherwise take "sw.js" for a secret.
    @router.get("/pass/sw.js", include_in_schema=False)
    def pass_service_worker() -> Response:
        """The script that keeps the pass page and its last codes on the phone."""
        return Response(
            service_worker, media_type="text/javascript", headers=SERVICE_WORKER_HEADERS
        )

    @router.get("/pass/{secret}/manifest.webmanifest", include_in_schema=False)
    def pass_manifest(secret: str) -> JSONResponse:
        """What a phone needs to put the pass on its home screen: it opens this link."""
        pass_worker(secret)
        return JSONResponse(
            {
                "name": "驿站通行码 · Station pass",
                "short_name": "通行码",
                "lang": "zh-CN",
                "start_url": f"/pass/{secret}",
                "scope": "/pass/",
                "display": "standalone",
                "background_color": "#ffffff",
                "theme_color": "#0b3d91",
                "icons": [{"src": "/favicon.ico", "type": "image/svg+xml", "sizes": "any"}],
            },
            media_type="application/manifest+json",
            headers=PASS_HEADERS,
        )

    @router.get("/pass/{secret}", response_class=HTMLResponse, include_in_schema=False)
    def pass_page(secret: str, request: Request) -> Response:
        try:
            pass_worker(secret)
        except ApiError as exc:
            if "text/html" not in request.headers.get("accept", ""):
                raise
            english = _prefers_english(request.headers.get("accept-language", ""))
            return HTMLResponse(
                DEAD_LINK_EN if english else DEAD_LINK_ZH,
                status_code=exc.status,
                headers=PASS_HEADERS,
            )
        # Its script and style are files under /static/pages: the pages' Content Security
        # Policy (`dashboard.web.security_headers`) allows nothing inline.
        # The secret is known to the store, so it is one `token_urlsafe` made: nothing
        # in it needs escaping.
        manifest = f"/pass/{secret}/manifest.webmanifest"
        answer = HTMLResponse(page.replace("{manifest}", manifest), headers=PASS_HEADERS)
        pass_cookie(answer, secret, secure_cookie)
        return answer

    return router


def pass_cookie(response: Response, secret: str, secure: bool) -> None:
    """Give the phone its pass session, for the door pages."""
    response.set_cookie(
        PASS_COOKIE,
        secret,
        max_age=PASS_COOKIE_MAX_AGE_S,
        path=PASS_COOKIE_PATH,
        httponly=True,
        # Lax: a scanned sticker opens the door page as a top-level visit from the camera
        # or WeChat, which must carry the cookie; another site's form posting does not.
        samesite="lax",
        secure=secure,
    )


def _why_not(worker: Worker, now: datetime) -> tuple[str, str]:
    """Why a worker may not enter now, in words and as a code: `suspended`,
    `revoked`, `not_yet` or `expired`."""
    if worker.status is not WorkerStatus.ACTIVE:
        return worker.status.value, worker.status.value
    if worker.valid_from is not None and now < worker.valid_from:
        return f"valid from {worker.valid_from.isoformat()}", "not_yet"
    return "expired", "expired"


def _prefers_english(accept_language: str) -> bool:
    """Whether the browser's first language is English (`Accept-Language: en-US,...`)."""
    first = accept_language.split(",", 1)[0].strip().lower()
    return first == "en" or first.startswith("en-")
