"""Opening a door from a phone: door stickers for operators, the door page for workers.

Operators (`/api/stations/{id}/stickers`, `.../doors/{door}/sticker`, `sticker.svg`,
`sticker/print`): every door can have a sticker, a QR code of `{public_url}/door/<secret>`
printed on the door. Rotating it (POST) makes a new secret; the old sticker stops
working at once. Rotations are audited as every state change is.

Workers (`/door/<secret>`, public by design): the page the sticker leads to. A phone that
opened its pass link holds a pass session (cookie `yz_pass`, set by the pass page), so
the worker is known; tapping Open posts `/door/<secret>/open`. The central decides
(`dashboard.core.phone_open`), sends the door's gateway a signed `phone_open` with a short
time-to-live (`[doors] phone_answer_s`), and answers once the gateway has (opened, full,
closed, refused) or has not (no answer). Every tap that names a worker is audited
(`PHONE_OPEN`: worker, door, decision, address); how it ended follows as `ANSWER`.
"""

from __future__ import annotations

import asyncio
import html
import secrets
from collections.abc import Callable
from datetime import timedelta
from importlib import resources
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from contract.payloads import Command, format_utc, utc_now
from contract.topics import gateway_topic
from dashboard.core.changes import CommandOutcome
from dashboard.core.commands import Outcome
from dashboard.core.config import DoorSettings
from dashboard.core.phone_open import (
    PhoneOutcome,
    central_refusal,
    outcome_of_command,
    outcome_of_reason,
    outside_geofence,
    over_rate,
)
from dashboard.core.workers import ScopeText, Worker
from dashboard.services.credentials import Credentials
from dashboard.services.nearby import distance_km, in_scope
from dashboard.services.pass_tokens import qr_svg
from dashboard.storage import commands as command_log
from dashboard.storage import door_stickers
from dashboard.storage.door_stickers import PhoneOpenTry, Sticker
from dashboard.storage.operators import OperatorStore
from dashboard.storage.stations import StationDetail
from dashboard.storage.store import StationNotFoundError, Store
from dashboard.web.auth import current
from dashboard.web.errors import ApiError, error_responses
from dashboard.web.passes import MAX_SECRET, PASS_COOKIE, PASS_HEADERS
from servicekit.keyed_lock import KeyedLock

WAIT_STEP_S = 0.02
"""How often a waiting tap looks for the gateway's answer in the database: the answer may
reach another replica, which writes it there."""

AUDIT_ACTION = "PHONE_OPEN"


class OpenRequest(BaseModel):
    """A tap on Open, with the phone's position when it shares one."""

    model_config = ConfigDict(extra="forbid")

    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class OpenAnswer(BaseModel):
    """How the tap ended, for the page to show in the worker's language."""

    outcome: PhoneOutcome
    reason: str | None = Field(default=None, description="The decision's reason, if any.")
    request_id: str | None = None
    detail: str = ""


class DoorAbout(BaseModel):
    """What the door page shows before the tap."""

    station_id: str
    station_name: str
    door_id: str
    has_pass: bool
    """Whether this phone holds a pass session that still works."""
    geofence: bool
    """Whether the page should offer its position."""


class StickerOut(BaseModel):
    """One door's sticker as operators see it; `url` is None before the first is made."""

    station_id: str
    door_id: str
    url: str | None
    created_at: str | None
    created_by: str | None


def door_router(
    store: Store,
    credentials: Credentials,
    operators: OperatorStore,
    publish: Callable[[str, bytes], None],
    sign: Callable[[Command], Command],
    doors: DoorSettings,
) -> APIRouter:
    """Sticker routes over the store, and the door page: `publish` sends on the broker,
    `sign` signs with the central's operator key."""
    router = APIRouter()
    opening = KeyedLock()
    page = resources.files("dashboard").joinpath("static/door.html").read_text("utf-8")
    workers = credentials.store

    def base_url(request: Request) -> str:
        return (credentials.settings.credentials.public_url or str(request.base_url)).rstrip("/")

    def detail(station_id: str) -> StationDetail:
        try:
            return store.station(station_id)
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None

    def door_of(station_id: str, door_id: str) -> StationDetail:
        found = detail(station_id)
        if not any(d.id == door_id for d in found.doors):
            raise ApiError(404, f"station {station_id!r} has no door {door_id!r}")
        return found

    def sticker_out(
        station_id: str, door_id: str, sticker: Sticker | None, base: str
    ) -> StickerOut:
        if sticker is None:
            return StickerOut(
                station_id=station_id, door_id=door_id, url=None, created_at=None, created_by=None
            )
        return StickerOut(
            station_id=station_id,
            door_id=door_id,
            url=f"{base}/door/{sticker.secret}",
            created_at=sticker.created_at,
            created_by=sticker.created_by,
        )

    def made(station_id: str, door_id: str) -> Sticker:
        door_of(station_id, door_id)
        sticker = door_stickers.of_door(store.db, station_id, door_id)
        if sticker is None:
            raise ApiError(404, f"door {door_id!r} has no sticker yet: make one (POST)")
        return sticker

    # --- operators -------------------------------------------------------------------

    @router.get(
        "/api/stations/{station_id}/stickers",
        tags=["stickers"],
        responses=error_responses(404),
    )
    def stickers(station_id: str, request: Request) -> list[StickerOut]:
        """Every door of the station with its sticker's address (None before one is made)."""
        found = detail(station_id)
        held = {s.door_id: s for s in door_stickers.of_station(store.db, station_id)}
        base = base_url(request)
        return [sticker_out(station_id, d.id, held.get(d.id), base) for d in found.doors]

    @router.post(
        "/api/stations/{station_id}/doors/{door_id}/sticker",
        tags=["stickers"],
        status_code=201,
        responses=error_responses(404),
    )
    def rotate(station_id: str, door_id: str, request: Request) -> StickerOut:
        """Make the door's sticker, or a new one in place of the old, which stops working
        at once: print and post the new one."""
        door_of(station_id, door_id)
        sticker = door_stickers.rotate(store.db, station_id, door_id, current(request).name)
        request.state.audit_detail = f"sticker of {station_id}/{door_id} rotated"
        return sticker_out(station_id, door_id, sticker, base_url(request))

    @router.get(
        "/api/stations/{station_id}/doors/{door_id}/sticker.svg",
        tags=["stickers"],
        response_class=Response,
        responses={**error_responses(404), 200: {"content": {"image/svg+xml": {}}}},
    )
    def sticker_svg(station_id: str, door_id: str, request: Request) -> Response:
        """The sticker's QR code (SVG)."""
        sticker = made(station_id, door_id)
        svg = qr_svg(f"{base_url(request)}/door/{sticker.secret}")
        return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    @router.get(
        "/api/stations/{station_id}/doors/{door_id}/sticker/print",
        tags=["stickers"],
        response_class=Response,
        responses={**error_responses(404), 200: {"content": {"text/html": {}}}},
    )
    def sticker_print(station_id: str, door_id: str, request: Request) -> HTMLResponse:
        """A page to print the sticker from: the QR code, the station and the door."""
        found = detail(station_id)
        sticker = made(station_id, door_id)
        svg = qr_svg(f"{base_url(request)}/door/{sticker.secret}")
        name = html.escape(found.station.name)
        return HTMLResponse(
            "<!doctype html><html lang=zh-CN><meta charset=utf-8>"
            f"<title>{name} · {html.escape(door_id)}</title>"
            '<link rel="stylesheet" href="/static/pages/door.css">'
            f'<main class="sticker"><h1>扫码开门 <span class="en">Scan to open</span></h1>'
            f'<div class="qr">{svg}</div><p class="where">{name} · {html.escape(door_id)}</p>'
            '<p class="en">Open your pass link once on this phone, then scan.</p></main>',
            headers={"Cache-Control": "no-store"},
        )

    # --- workers ---------------------------------------------------------------------

    def sticker_door(secret: str) -> tuple[StationDetail, str] | None:
        found = door_stickers.door_of(store.db, secret) if len(secret) <= MAX_SECRET else None
        if found is None:
            return None
        station_id, door_id = found
        try:
            station = store.station(station_id)
        except StationNotFoundError:
            return None
        return (station, door_id) if any(d.id == door_id for d in station.doors) else None

    def pass_worker(request: Request) -> Worker | None:
        secret = request.cookies.get(PASS_COOKIE, "")
        if not secret or len(secret) > MAX_SECRET:
            return None
        return workers.worker_for_secret(secret)

    def gone() -> ApiError:
        return ApiError(404, "this sticker no longer works; the door stays shut")

    @router.get("/door/{secret}", response_class=HTMLResponse, include_in_schema=False)
    def door_page(secret: str) -> HTMLResponse:
        if sticker_door(secret) is None:
            return HTMLResponse(
                "<!doctype html><html lang=zh-CN><meta charset=utf-8>"
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                '<title>yizhan</title><link rel="stylesheet" href="/static/pages/door.css">'
                '<main><h1 id="gone">此贴纸已失效</h1><p>门未打开，请扫描门上的新贴纸或联系驿站。'
                '<p class="en">This sticker no longer works. The door stays shut: scan the '
                "new sticker on the door or ask the station.</main>",
                status_code=404,
                headers=PASS_HEADERS,
            )
        # Script and style are files under /static/pages (the pages' CSP allows nothing
        # inline).
        return HTMLResponse(page, headers=PASS_HEADERS)

    @router.get("/door/{secret}/about", tags=["door page"], responses=error_responses(404))
    def door_about(secret: str, request: Request, response: Response) -> DoorAbout:
        """The station and door a sticker opens, and whether this phone holds a pass."""
        found = sticker_door(secret)
        if found is None:
            raise gone()
        station, door_id = found
        response.headers.update(PASS_HEADERS)
        return DoorAbout(
            station_id=station.station.id,
            station_name=station.station.name,
            door_id=door_id,
            has_pass=pass_worker(request) is not None,
            geofence=doors.geofence_m is not None,
        )

    @router.post("/door/{secret}/open", tags=["door page"], responses=error_responses(404, 422))
    async def door_open(
        secret: str, ask: Annotated[OpenRequest, Body()], request: Request, response: Response
    ) -> OpenAnswer:
        """Open the door for the worker whose pass session this phone holds, and wait for
        the gateway's answer (at most `[doors] phone_answer_s`)."""
        response.headers.update(PASS_HEADERS)
        if (ask.lat is None) != (ask.lon is None):
            raise ApiError(422, "give both lat and lon, or neither")
        started = await run_in_threadpool(begin, secret, ask, request)
        if started.outcome is not PhoneOutcome.PENDING or started.request_id is None:
            return started
        deadline = asyncio.get_running_loop().time() + doors.phone_answer_s + 1.0
        while True:
            settled = await run_in_threadpool(command_log.get, store.db, started.request_id)
            if settled is not None and settled.outcome != Outcome.PENDING.value:
                outcome, reason = outcome_of_command(Outcome(settled.outcome), settled.message)
                return OpenAnswer(
                    outcome=outcome,
                    reason=None if reason is None else reason.value,
                    request_id=started.request_id,
                    detail=settled.message,
                )
            if asyncio.get_running_loop().time() >= deadline:
                # Its time-to-live has passed: the gateway refuses it now, so it is final.
                return OpenAnswer(
                    outcome=PhoneOutcome.NO_ANSWER,
                    request_id=started.request_id,
                    detail="the door's gateway did not answer",
                )
            await asyncio.sleep(WAIT_STEP_S)

    def begin(secret: str, ask: OpenRequest, request: Request) -> OpenAnswer:
        """Decide, record and (when the central admits the worker) send the command."""
        found = sticker_door(secret)
        if found is None:
            raise gone()
        place, door_id = found
        worker = pass_worker(request)
        if worker is None:
            return OpenAnswer(
                outcome=PhoneOutcome.NO_PASS, detail="open your pass link on this phone first"
            )
        ip = request.client.host if request.client is not None else ""
        # Counting a worker's recent tries and recording this one are two statements: two
        # taps at once would both count under the limit without taking turns.
        with opening.hold(worker.number):
            return decide(place, door_id, worker, ask, ip)

    def decide(
        place: StationDetail, door_id: str, worker: Worker, ask: OpenRequest, ip: str
    ) -> OpenAnswer:
        """The central's answer to one worker's tap, recorded, with the command sent when
        the worker is admitted."""
        station = place.station
        target = f"{station.id}/{door_id}"
        now = utc_now()

        def audit(status: int, what: str) -> None:
            operators.audit(worker.worker_id, AUDIT_ACTION, target, status, f"{what} from {ip}")

        recent = door_stickers.count_since(store.db, worker.number, now - timedelta(minutes=1))
        if over_rate(recent, doors.phone_opens_per_minute):
            audit(429, "rate_limited")
            return OpenAnswer(
                outcome=PhoneOutcome.RATE_LIMITED,
                detail=f"at most {doors.phone_opens_per_minute} opens a minute",
            )
        distance_m = None
        phone_at = (ask.lat, ask.lon) if ask.lat is not None and ask.lon is not None else None
        station_at = (
            (station.lat, station.lon)
            if station.lat is not None and station.lon is not None
            else None
        )
        if phone_at is not None and station_at is not None:
            distance_m = 1000 * distance_km(phone_at, station_at)
        request_id = f"phone-{secrets.token_hex(6)}"

        def refused(outcome: PhoneOutcome, reason: str | None, status: int, say: str) -> OpenAnswer:
            door_stickers.record(
                store.db,
                PhoneOpenTry(
                    request_id, worker.number, station.id, door_id, now, reason or outcome.value, ip
                ),
            )
            audit(status, f"{reason or outcome.value} {request_id}")
            return OpenAnswer(outcome=outcome, reason=reason, request_id=request_id, detail=say)

        if outside_geofence(distance_m, doors.geofence_m):
            return refused(
                PhoneOutcome.TOO_FAR, None, 403, f"about {distance_m:.0f} m from the station"
            )
        location = next((r for r in store.station_locations() if r.station_id == station.id), None)
        try:
            scope_ok = in_scope(ScopeText.parse(worker.scope), station.id, location)
        except ValueError:
            scope_ok = False
        reason = central_refusal(
            worker,
            in_scope=scope_ok,
            hours=station.opening_hours,
            zone=ZoneInfo(station.time_zone),
            capacity=station.capacity,
            occupancy=station.occupancy,
            now=now,
        )
        if reason is not None:
            return refused(outcome_of_reason(reason), reason.value, 403, f"refused: {reason.value}")
        gateway_id = next((d.gateway_id for d in place.doors if d.id == door_id), None)
        if gateway_id is None and len(place.gateways) == 1:
            gateway_id = place.gateways[0]
        if gateway_id is None:
            return refused(PhoneOutcome.REFUSED, None, 409, "no gateway known for this door")
        groups = workers.group_numbers()
        group = groups.get(worker.groups[0], 0) if worker.groups else 0
        answer_by = now + timedelta(seconds=doors.phone_answer_s)
        command = Command(
            request_id=request_id,
            station_id=station.id,
            gateway_id=gateway_id,
            issued_at=now,
            ttl_s=doors.phone_answer_s,
            command="phone_open",
            args={"door": door_id, "worker": worker.number, "group": group},
        )
        door_stickers.record(
            store.db, PhoneOpenTry(request_id, worker.number, station.id, door_id, now, "sent", ip)
        )
        command_log.issue(
            store.db,
            CommandOutcome(
                request_id=request_id,
                station_id=station.id,
                gateway_id=gateway_id,
                door_id=door_id,
                command="phone_open",
                by=worker.worker_id,
                outcome=Outcome.PENDING.value,
                message="",
                reply_status=None,
                issued_at=format_utc(now),
                answer_by=format_utc(answer_by),
                answer_within_s=doors.phone_answer_s,
                answered_at=None,
            ),
        )
        audit(202, f"sent {request_id}")
        publish(gateway_topic(station.id, gateway_id, "command"), sign(command).to_json())
        return OpenAnswer(outcome=PhoneOutcome.PENDING, request_id=request_id)

    return router
