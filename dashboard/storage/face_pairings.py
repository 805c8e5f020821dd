"""Faces paired at stations' doors: each worker's consent record and where a terminal
holds their face, until the gateway confirms it deleted it.

Table `face_pairings`; nothing else writes it. A pairing (`face_pairing/1`, `paired`)
records the consent: when, at which station, gateway, terminal and door, the notice
version the terminal showed, and the worker's confirmation (the QR token they scanned,
named by `token_not_before`). It also makes the person id one of the worker's face ids
(`worker_credentials`), so the next credential map lets the face open the door. Asking
for removal (withdrawal, revocation, expiry) takes the face id out of the map at once and
marks the pairing; the gateway's `removed` event marks it removed. No image or template
is ever stored: there is none to store.

Functions taking a `Connection` run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from contract.payloads import FaceAction, FacePairingEvent, format_utc
from contract.tokens import worker_id_of, worker_number_of
from dashboard.storage import credential_revision, workers
from dashboard.storage.db import Connection

PairingState = Literal["paired", "removal_pending", "removed"]


@dataclass(frozen=True, slots=True)
class FacePairingRow:
    """One pairing and its consent record, as the API shows it (never a face)."""

    id: int
    worker_id: str
    station_id: str
    gateway_id: str
    terminal_id: str
    door_id: str | None
    person_id: str
    consented_at: str
    notice_version: str
    token_not_before: str | None
    removal_cause: str | None
    removal_asked_at: str | None
    removed_at: str | None

    @property
    def state(self) -> PairingState:
        """Paired; removal asked and not yet confirmed; or removed."""
        if self.removed_at is not None:
            return "removed"
        return "paired" if self.removal_asked_at is None else "removal_pending"


@dataclass(frozen=True, slots=True)
class RefusedPairing:
    """A pairing the central did not record, and why."""

    event: FacePairingEvent
    reason: str


_COLUMNS = (
    "id, worker_number, station_id, gateway_id, terminal_id, door_id, person_id, "
    "consented_at, notice_version, token_not_before, removal_cause, removal_asked_at, "
    "removed_at"
)


def _row(row: tuple[object, ...]) -> FacePairingRow:
    values = list(row)
    values[1] = worker_id_of(int(str(values[1])))
    return FacePairingRow(*values)  # type: ignore[arg-type]


def record(
    db: Connection, events: Iterable[FacePairingEvent], received_at: str
) -> list[RefusedPairing]:
    """Store new pairings and confirmed removals; the pairings refused, with why."""
    refused: list[RefusedPairing] = []
    mapped = False
    for event in events:
        if event.action is FaceAction.REMOVED:
            db.execute(
                "UPDATE face_pairings SET removed_at = ?, removal_event_id = ?, "
                "removal_cause = coalesce(removal_cause, ?) "
                "WHERE station_id = ? AND gateway_id = ? AND terminal_id = ? "
                "AND person_id = ? AND removed_at IS NULL",
                (
                    format_utc(event.at),
                    event.event_id,
                    event.cause,
                    event.station_id,
                    event.gateway_id,
                    event.terminal_id,
                    event.person_id,
                ),
            )
            continue
        problem = _pairing_problem(db, event)
        if problem is not None:
            refused.append(RefusedPairing(event, problem))
            continue
        number = worker_number_of(event.worker_id or "")
        assert number is not None  # checked by `_pairing_problem`
        db.execute(
            "INSERT INTO face_pairings (worker_number, station_id, gateway_id, terminal_id, "
            "door_id, person_id, consented_at, notice_version, token_not_before, "
            "pairing_event_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                number,
                event.station_id,
                event.gateway_id,
                event.terminal_id,
                event.door_id,
                event.person_id,
                format_utc(event.at),
                event.notice_version or "",
                None if event.token_not_before is None else format_utc(event.token_not_before),
                event.event_id,
                received_at,
            ),
        )
        owner = _face_owner(db, event.person_id)
        if owner is None:
            workers.add_face(db, number, event.person_id)
            mapped = True
    if mapped:
        credential_revision.count_change(db)
    return refused


def _face_owner(db: Connection, person_id: str) -> int | None:
    row = db.execute(
        "SELECT worker_number FROM worker_credentials WHERE kind = 'face' AND external_id = ?",
        (person_id,),
    ).fetchone()
    return None if row is None else int(row[0])


def _pairing_problem(db: Connection, event: FacePairingEvent) -> str | None:
    if event.worker_id is None:
        return "a pairing must name its worker"
    if event.notice_version is None or event.token_not_before is None:
        return "a pairing must name the consent notice and the confirming token"
    number = worker_number_of(event.worker_id)
    row = db.execute("SELECT status FROM workers WHERE number = ?", (number,)).fetchone()
    if row is None:
        return f"unknown worker {event.worker_id}"
    if row[0] != "active":
        return f"worker {event.worker_id} is {row[0]}"
    owner = _face_owner(db, event.person_id)
    if owner is not None and owner != number:
        return f"person id {event.person_id} is another worker's face id"
    return None


def of_worker(db: Connection, number: int) -> list[FacePairingRow]:
    """A worker's pairings, newest first, removed ones included (the consent record)."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM face_pairings WHERE worker_number = ? ORDER BY id DESC",
        (number,),
    ).fetchall()
    return [_row(tuple(r)) for r in rows]


def of_station(db: Connection, station_id: str) -> list[FacePairingRow]:
    """The pairings at a station not yet confirmed removed, by terminal and person."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM face_pairings WHERE station_id = ? AND removed_at IS NULL "
        "ORDER BY gateway_id, terminal_id, person_id",
        (station_id,),
    ).fetchall()
    return [_row(tuple(r)) for r in rows]


def ask_removal(db: Connection, number: int, cause: str, at: str) -> list[FacePairingRow]:
    """Mark every pairing of the worker not yet removed as to be removed for `cause`, and
    take their person ids out of the worker's face ids (the map drops them); the pairings
    whose terminals must now delete the person."""
    pending = [p for p in of_worker(db, number) if p.removed_at is None]
    if not pending:
        return []
    db.executemany(
        "UPDATE face_pairings SET removal_asked_at = ?, removal_cause = coalesce("
        "removal_cause, ?) WHERE id = ?",
        [(at, cause, p.id) for p in pending],
    )
    workers.remove_faces(db, number, (p.person_id for p in pending))
    credential_revision.count_change(db)
    return [p for p in of_worker(db, number) if p.removed_at is None]


def expired_workers(db: Connection, now: str) -> list[int]:
    """Workers whose validity ended by `now` (wire time text) and who still have a face
    paired whose removal nobody asked for yet."""
    rows = db.execute(
        "SELECT DISTINCT p.worker_number FROM face_pairings p "
        "JOIN workers w ON w.number = p.worker_number "
        "WHERE p.removed_at IS NULL AND p.removal_asked_at IS NULL "
        "AND w.valid_until IS NOT NULL AND w.valid_until <= ? ORDER BY p.worker_number",
        (now,),
    ).fetchall()
    return [int(r[0]) for r in rows]


def unconfirmed_removals(db: Connection, asked_before: str, at: str) -> list[FacePairingRow]:
    """Pairings whose removal was asked for before `asked_before` and is still not
    confirmed (the command was lost, or the gateway was away): marked asked again `at`,
    for the caller to send the removal once more."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM face_pairings WHERE removed_at IS NULL "
        "AND removal_asked_at IS NOT NULL AND removal_asked_at < ? ORDER BY id",
        (asked_before,),
    ).fetchall()
    stale = [_row(tuple(r)) for r in rows]
    db.executemany(
        "UPDATE face_pairings SET removal_asked_at = ? WHERE id = ?", [(at, p.id) for p in stale]
    )
    return stale
