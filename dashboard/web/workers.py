"""`/api/workers`: enrolling workers one by one or from a CSV file, reading, changing,
suspending, revoking and erasing them.

Bodies are validated against the central's time zone (a date alone is a day there), so
each problem names its field as `column`, as the CSV import's problems do.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contract.tokens import worker_number_of
from dashboard.core.workers import Platform, Worker, WorkerInput, WorkerStatus, WorkerUpdate
from dashboard.services.credentials import Credentials
from dashboard.storage.worker_revocations import MAX_REASON, Revocation
from dashboard.storage.worker_store import WorkerStore
from dashboard.storage.workers import EnrollmentError, UnknownWorkerError
from dashboard.web.auth import current
from dashboard.web.errors import ApiError, error_responses
from dashboard.web.openapi import SelfParsedBody, json_body, raw_body, validate_body

CSV_BODY = raw_body(
    "CSV (UTF-8, a header row naming the columns): one worker a row.",
    {"text/csv": {"schema": {"type": "string"}}},
)


class WorkerOut(BaseModel):
    """A worker as operators see it: by the pseudonymous id, never the number behind it."""

    model_config = ConfigDict(from_attributes=True)

    worker_id: str
    display_name: str
    platform: Platform
    groups: list[str]
    valid_from: datetime | None
    valid_until: datetime | None
    status: WorkerStatus
    scope: str
    face_ids: list[str]
    card_numbers: list[str]
    created_at: datetime
    updated_at: datetime
    revocation: Revocation | None = Field(
        default=None,
        description="Why, by whom and when the worker was revoked, when a reason was given.",
    )


class RevokeWorker(BaseModel):
    """Why the worker is revoked: kept with the worker and written to the audit log."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=MAX_REASON)


class WorkersImported(BaseModel):
    """The workers a CSV file enrolled."""

    imported: int
    workers: list[WorkerOut]


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


def worker_by_id(store: WorkerStore, worker_id: str) -> Worker:
    """The worker with this pseudonymous id; 404 for an unknown or erased one, or a
    malformed id."""
    number = worker_number_of(worker_id)
    if number is None:
        raise ApiError(404, f"{worker_id!r} is not a worker id (w followed by digits)")
    try:
        worker = store.get(number)
    except UnknownWorkerError:
        raise ApiError(404, f"no worker {worker_id}") from None
    if worker.erased:
        raise ApiError(404, f"worker {worker_id} was erased")
    return worker


def conflicts(exc: EnrollmentError) -> ApiError:
    """A 409 naming each stored card, face or scope the request conflicts with."""
    return ApiError(
        409,
        "conflicts with what is stored",
        [{"column": column, "problem": problem} for _, column, problem in exc.problems],
    )


def workers_router(credentials: Credentials) -> APIRouter:
    """Worker routes over the central's credentials."""
    router = APIRouter(tags=["workers"])
    store = credentials.store

    def out(worker: Worker, revocation: Revocation | None = None) -> WorkerOut:
        shown = WorkerOut.model_validate(worker)
        if revocation is None and worker.status is WorkerStatus.REVOKED:
            revocation = store.revocations([worker.number]).get(worker.number)
        shown.revocation = revocation
        return shown

    def listed(workers: list[Worker]) -> list[WorkerOut]:
        reasons = store.revocations([w.number for w in workers if w.status is WorkerStatus.REVOKED])
        return [out(w, reasons.get(w.number)) for w in workers]

    def load(worker_id: str) -> Worker:
        return worker_by_id(store, worker_id)

    def parse_input(model: type[WorkerInput] | type[WorkerUpdate], data: object) -> Any:
        if not isinstance(data, dict):
            raise ApiError(422, "expected a JSON object")
        try:
            return validate_body(model, data, context={"zone": credentials.zone})
        except ValidationError as exc:
            raise ApiError(422, "invalid worker", _validation_errors(exc)) from None

    @router.get("/api/workers", responses=error_responses(422))
    def list_workers(
        status: WorkerStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
        q: Annotated[str | None, Query(max_length=100)] = None,
    ) -> list[WorkerOut]:
        """Workers, oldest enrollment first; erased ones are no longer shown (a page may
        hold fewer than `limit` where they were). `q` keeps those whose name contains
        it (any case), whose id it is (`w123` or `123`), or one of whose card numbers or
        face ids contains it."""
        if q is not None and q.strip():
            return listed(store.search(q, status, limit, offset))
        return listed([w for w in store.workers(status, limit, offset) if not w.erased])

    @router.post(
        "/api/workers",
        status_code=201,
        openapi_extra=json_body(WorkerInput),
        responses=error_responses(409, 422),
    )
    def create_worker(data: SelfParsedBody = None) -> WorkerOut:
        """Enroll one worker; the answer carries the pseudonymous id. 409 if a card or
        face belongs to someone else or the scope names an unknown station."""
        item = parse_input(WorkerInput, data)
        try:
            (worker,) = credentials.enroll([item])
        except EnrollmentError as exc:
            raise conflicts(exc) from None
        return out(worker)

    @router.post(
        "/api/workers/import",
        status_code=201,
        openapi_extra=CSV_BODY,
        responses=error_responses(415, 422),
    )
    async def import_workers(request: Request) -> WorkersImported:
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

    def import_csv(data: bytes) -> WorkersImported:
        workers, problems = credentials.import_csv(data)
        if not problems:
            return WorkersImported(imported=len(workers), workers=[out(w) for w in workers])
        raise ApiError(
            422,
            f"{len(problems)} problem(s); nothing was imported",
            [asdict(problem) for problem in problems],
        )

    @router.get("/api/workers/{worker_id}", responses=error_responses(404))
    def get_worker(worker_id: str) -> WorkerOut:
        """One worker."""
        return out(load(worker_id))

    @router.patch(
        "/api/workers/{worker_id}",
        openapi_extra=json_body(WorkerUpdate),
        responses=error_responses(404, 409, 422),
    )
    def update_worker(worker_id: str, data: SelfParsedBody = None) -> WorkerOut:
        """Change the fields given; `status` suspends, reactivates or revokes. 409 for a
        revoked worker, or a card or face that belongs to someone else."""
        change = parse_input(WorkerUpdate, data)
        try:
            return out(credentials.update(load(worker_id).number, change))
        except EnrollmentError as exc:
            raise conflicts(exc) from None

    @router.post("/api/workers/{worker_id}/revoke", responses=error_responses(404, 422))
    def revoke_worker(
        worker_id: str,
        request: Request,
        body: Annotated[RevokeWorker | None, Body()] = None,
    ) -> WorkerOut:
        """Revoke for good, with an optional `reason` (shown with the worker, and in the
        audit log); the revocation list is republished before this answers. Revoking a
        revoked worker again changes nothing, its first reason included."""
        worker = load(worker_id)
        reason = ((body.reason if body else None) or "").strip() or None
        # The audit middleware writes this with the request.
        request.state.audit_detail = f"revoke {worker_id}" + (f": {reason}" if reason else "")
        if worker.status is WorkerStatus.REVOKED:
            return out(worker)
        return out(credentials.revoke(worker.number, reason, current(request).name))

    @router.delete("/api/workers/{worker_id}", status_code=204, responses=error_responses(404))
    def erase_worker(worker_id: str) -> Response:
        """Erase the worker: their personal data is forgotten and they are no longer shown
        (404). The pseudonymous id stays on the revocation list and is never given to
        anyone else; entry logs keep naming it."""
        credentials.erase(load(worker_id).number)
        return Response(status_code=204)

    return router
