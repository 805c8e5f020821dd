"""Where workers' faces are paired, and withdrawing consent.

`/api/workers/{id}/faces` and `/api/stations/{id}/faces` show operators each pairing and
its consent record (never a face: the central has none). `/api/pass/{secret}/face` lets
the worker see where their face is kept and withdraw (`DELETE`): the face stops opening
doors with the next credential map, and each terminal holding it is asked to delete it;
a pairing reads `removal_pending` until the gateway confirms, then `removed`.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dashboard.core.workers import Worker
from dashboard.services.face_removals import FaceRemovals
from dashboard.storage.face_pairings import FacePairingRow, PairingState
from dashboard.storage.store import StationNotFoundError, Store
from dashboard.storage.worker_store import WorkerStore
from dashboard.web.errors import ApiError, error_responses
from dashboard.web.workers import worker_by_id

log = logging.getLogger(__name__)

MAX_SECRET = 64


class FacePairingOut(BaseModel):
    """One pairing and its consent record."""

    worker_id: str
    station_id: str
    gateway_id: str
    terminal_id: str
    door_id: str | None
    person_id: str = Field(description="The person id on the terminal.")
    consented_at: str = Field(description="When the worker confirmed, by the gateway's clock.")
    notice_version: str = Field(description="The consent notice the terminal showed.")
    token_not_before: str | None = Field(
        description="The QR token the worker confirmed with (with `worker_id`)."
    )
    state: PairingState
    removal_cause: str | None
    removal_asked_at: str | None
    removed_at: str | None = Field(description="When the gateway confirmed the deletion.")


def _out(row: FacePairingRow) -> FacePairingOut:
    return FacePairingOut(
        worker_id=row.worker_id,
        station_id=row.station_id,
        gateway_id=row.gateway_id,
        terminal_id=row.terminal_id,
        door_id=row.door_id,
        person_id=row.person_id,
        consented_at=row.consented_at,
        notice_version=row.notice_version,
        token_not_before=row.token_not_before,
        state=row.state,
        removal_cause=row.removal_cause,
        removal_asked_at=row.removal_asked_at,
        removed_at=row.removed_at,
    )


def faces_router(workers: WorkerStore, stations: Store, removals: FaceRemovals) -> APIRouter:
    """Face pairing routes over the worker store and the removal service."""
    router = APIRouter(tags=["faces"])

    def pass_worker(secret: str) -> Worker:
        worker = workers.worker_for_secret(secret) if len(secret) <= MAX_SECRET else None
        if worker is None:
            raise ApiError(404, "this pass link does not work (any more); ask your station")
        return worker

    @router.get("/api/workers/{worker_id}/faces", responses=error_responses(404))
    def worker_faces(worker_id: str) -> list[FacePairingOut]:
        """Every terminal where the worker's face is or was paired, newest first, with the
        consent record. No image: the face stays in the terminal."""
        return [_out(row) for row in removals.of_worker(worker_by_id(workers, worker_id).number)]

    @router.get("/api/stations/{station_id}/faces", responses=error_responses(404))
    def station_faces(station_id: str) -> list[FacePairingOut]:
        """The persons each of the station's terminals holds by the registry (pairings not
        yet confirmed removed), by gateway, terminal and person."""
        try:
            stations.station(station_id)
        except StationNotFoundError:
            raise ApiError(404, f"no station {station_id!r}") from None
        return [_out(row) for row in removals.of_station(station_id)]

    @router.get("/api/pass/{secret}/face", responses=error_responses(404))
    def pass_faces(secret: str) -> list[FacePairingOut]:
        """Where the pass holder's face is kept now (pairings not yet removed)."""
        worker = pass_worker(secret)
        rows = removals.of_worker(worker.number)
        return [_out(row) for row in rows if row.removed_at is None]

    @router.delete("/api/pass/{secret}/face", responses=error_responses(404))
    def withdraw_face(secret: str) -> list[FacePairingOut]:
        """Withdraw consent: the face opens nothing from the next credential map, and
        every terminal holding it is asked to delete it. The pairings waiting for their
        gateway's confirmation; an empty list when no face was paired."""
        worker = pass_worker(secret)
        pending = removals.remove(worker.number, "withdrawn")
        log.info("worker %s withdrew face consent (%d pairings)", worker.worker_id, len(pending))
        return [_out(row) for row in pending]

    return router
