"""HTTP routes for workers, signing keys and pass links, and the worker's pass page.

Operators: `/api/workers...`, `/api/keys...`, `/api/pass-links/...`. Workers: `/pass/{secret}`
and the two `/api/pass/{secret}/...` routes it calls. Every error is JSON
`{"detail": ..., "errors": [...]}` with a fitting status code; a CSV file or request with
several problems lists each of them.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ValidationError

from contract.payloads import format_utc, utc_now
from contract.tokens import ROTATION_PERIOD_S, worker_number_of
from dashboard.core.workers import ScopeText, Worker, WorkerInput, WorkerStatus, WorkerUpdate
from dashboard.services.credentials import Credentials
from dashboard.services.nearby import nearby_stations
from dashboard.services.pass_tokens import MAX_AHEAD
from dashboard.services.worker_csv import RowProblem, parse_workers_csv
from dashboard.storage.store import Store
from dashboard.storage.workers import EnrollmentError, UnknownWorkerError
from dashboard.web.errors import ApiError

PASS_HEADERS = {
    # The secret is in the URL: never send it on as a referrer, never cache the page.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}

PAGE_POLICY = {
    # Everything the page needs is inline or from this server; nothing else may load.
    "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
}


class WorkerOut(BaseModel):
    """A worker as operators see it."""

    worker_id: str
    display_name: str
    platform: str
    groups: list[str]
    valid_from: datetime | None
    valid_until: datetime | None
    status: str
    scope: str
    face_ids: list[str]
    card_numbers: list[str]
    created_at: datetime
    updated_at: datetime


def _out(worker: Worker) -> dict[str, Any]:
    return WorkerOut(**worker.public()).model_dump(mode="json")


def _validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    found = []
    for error in exc.errors():
        loc = error["loc"]
        found.append(
            {
                "column": str(loc[0]) if loc else None,
                "problem": str(error["msg"]).removeprefix("Value error, "),
            }
        )
    return found


def _conflicts(exc: EnrollmentError) -> ApiError:
    return ApiError(
        409,
        "conflicts with what is stored",
        [{"column": column, "problem": problem} for _, column, problem in exc.problems],
    )


def workers_router(credentials: Credentials, stations: Store) -> APIRouter:
    """The routes over a `Credentials` and the station store (for the pass page's list)."""
    router = APIRouter()
    page = resources.files("dashboard").joinpath("static/pass.html").read_text("utf-8")
    store = credentials.store

    def number_of(worker_id: str) -> int:
        number = worker_number_of(worker_id)
        if number is None:
            raise ApiError(404, f"{worker_id!r} is not a worker id (w followed by digits)")
        return number

    def load(worker_id: str) -> Worker:
        try:
            return store.get(number_of(worker_id))
        except UnknownWorkerError:
            raise ApiError(404, f"no worker {worker_id}") from None

    def parse_input(model: type[WorkerInput] | type[WorkerUpdate], data: object) -> Any:
        if not isinstance(data, dict):
            raise ApiError(422, "expected a JSON object")
        try:
            return model.model_validate(data, context={"zone": credentials.zone})
        except ValidationError as exc:
            raise ApiError(422, "invalid worker", _validation_errors(exc)) from None

    # --- workers ---------------------------------------------------------------------

    @router.get("/api/workers")
    def list_workers(
        status: WorkerStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    ) -> list[WorkerOut]:
        """Workers, oldest enrollment first."""
        return [WorkerOut(**w.public()) for w in store.workers(status, limit, offset)]

    @router.post("/api/workers", status_code=201)
    def create_worker(data: Annotated[Any, Body()]) -> Response:
        """Enroll one worker; the answer carries the pseudonymous id."""
        item = parse_input(WorkerInput, data)
        try:
            (worker,) = credentials.enroll([item])
        except EnrollmentError as exc:
            raise _conflicts(exc) from None
        return JSONResponse(_out(worker), status_code=201)

    @router.post("/api/workers/import", status_code=201)
    async def import_workers(request: Request) -> Response:
        """Enroll every row of a CSV body (`Content-Type: text/csv`), or none of them."""
        kind = request.headers.get("content-type", "")
        if kind.startswith("multipart/"):
            raise ApiError(
                415,
                "send the file itself as the body with Content-Type: text/csv "
                "(curl --data-binary @workers.csv -H 'Content-Type: text/csv')",
            )
        data = await request.body()
        return await run_in_threadpool(import_csv, data)

    def import_csv(data: bytes) -> Response:
        parsed = parse_workers_csv(data, credentials.zone)
        problems = parsed.problems
        if not problems:
            try:
                workers = credentials.enroll(parsed.workers)
            except EnrollmentError as exc:
                problems = [RowProblem(parsed.rows[i], col, text) for i, col, text in exc.problems]
            else:
                return JSONResponse(
                    {"imported": len(workers), "workers": [_out(w) for w in workers]},
                    status_code=201,
                )
        raise ApiError(
            422,
            f"{len(problems)} problem(s); nothing was imported",
            [asdict(problem) for problem in problems],
        )

    @router.get("/api/workers/{worker_id}")
    def get_worker(worker_id: str) -> WorkerOut:
        """One worker."""
        return WorkerOut(**load(worker_id).public())

    @router.patch("/api/workers/{worker_id}")
    def update_worker(worker_id: str, data: Annotated[Any, Body()]) -> WorkerOut:
        """Change the fields given; `status` suspends, reactivates or revokes."""
        change = parse_input(WorkerUpdate, data)
        try:
            return WorkerOut(**credentials.update(load(worker_id).number, change).public())
        except EnrollmentError as exc:
            raise _conflicts(exc) from None

    @router.post("/api/workers/{worker_id}/revoke")
    def revoke_worker(worker_id: str) -> WorkerOut:
        """Revoke for good; the revocation list is republished before this answers."""
        worker = load(worker_id)
        if worker.status is WorkerStatus.REVOKED:
            return WorkerOut(**worker.public())
        return WorkerOut(**credentials.revoke(worker.number).public())

    @router.delete("/api/workers/{worker_id}", status_code=204)
    def erase_worker(worker_id: str) -> Response:
        """Forget the worker's personal data; the pseudonymous id stays revoked."""
        credentials.erase(load(worker_id).number)
        return Response(status_code=204)

    # --- pass links ------------------------------------------------------------------

    @router.post("/api/workers/{worker_id}/pass-links", status_code=201)
    def create_pass_link(worker_id: str, request: Request) -> Response:
        """A new personal link; its secret is in this answer only."""
        worker = load(worker_id)
        try:
            link, secret = store.create_pass_link(worker.number)
        except EnrollmentError as exc:
            raise ApiError(409, f"no pass link for a worker who is {exc.problems[0][2]}") from None
        url = credentials.pass_url(secret, str(request.base_url))
        return JSONResponse({**asdict(link), "secret": secret, "url": url}, status_code=201)

    @router.get("/api/workers/{worker_id}/pass-links")
    def list_pass_links(worker_id: str) -> list[dict[str, Any]]:
        """A worker's links (without secrets), newest first."""
        return [asdict(link) for link in store.pass_links(load(worker_id).number)]

    @router.delete("/api/pass-links/{link_id}")
    def revoke_pass_link(link_id: Annotated[int, Path(ge=1, le=2**62)]) -> dict[str, Any]:
        """Make a link stop working at once."""
        try:
            return asdict(store.revoke_pass_link(link_id))
        except LookupError:
            raise ApiError(404, f"no pass link {link_id}") from None

    # --- keys ------------------------------------------------------------------------

    @router.get("/api/keys")
    def list_keys() -> list[dict[str, Any]]:
        """Signing keys (public halves), which one signs now and when each retires."""
        return [_jsonable(asdict(key)) for key in credentials.keys.keys(utc_now())]

    @router.post("/api/keys/rotate", status_code=201)
    def rotate_keys() -> Response:
        """Add a signing key; see docs/credentials.md for the schedule."""
        key_id = credentials.rotate_keys()
        keys = [_jsonable(asdict(key)) for key in credentials.keys.keys(utc_now())]
        return JSONResponse({"key_id": key_id, "keys": keys}, status_code=201)

    # --- the worker's pass -----------------------------------------------------------

    def pass_worker(secret: str) -> Worker:
        worker = store.worker_for_secret(secret) if len(secret) <= 64 else None
        if worker is None:
            raise ApiError(404, "this pass link does not work (any more); ask your station")
        return worker

    @router.get("/api/pass/{secret}/tokens")
    def pass_tokens(
        secret: str,
        count: Annotated[int | None, Query(ge=0, le=MAX_AHEAD)] = None,
    ) -> Response:
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
        body = {
            "worker_id": worker.worker_id,
            "period_s": ROTATION_PERIOD_S,
            "server_time": format_utc(now),
            "tokens": [_jsonable(asdict(token)) for token in tokens],
        }
        return JSONResponse(body, headers=PASS_HEADERS)

    @router.get("/api/pass/{secret}/stations")
    def pass_stations(
        secret: str,
        lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
        lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    ) -> Response:
        """Stations where this pass works, nearest (or emptiest) first."""
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
        body = {"sorted_by": sort_by, "stations": [asdict(s) for s in listed]}
        return JSONResponse(body, headers=PASS_HEADERS)

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
        return HTMLResponse(page, headers={**PASS_HEADERS, **PAGE_POLICY})

    return router


def _why_not(worker: Worker, now: datetime) -> str:
    if worker.status is not WorkerStatus.ACTIVE:
        return worker.status.value
    if worker.valid_from is not None and now < worker.valid_from:
        return f"valid from {worker.valid_from.isoformat()}"
    return "expired"


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(data, default=_default)))


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return format_utc(value)
    raise TypeError(type(value).__name__)
