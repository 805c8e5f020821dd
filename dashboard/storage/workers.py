"""Workers with their face ids, cards and group numbers.

Tables `workers`, `worker_credentials` and `worker_groups`; nothing else writes them.
Functions run inside the caller's transaction; `dashboard.storage.worker_store` is the
store the services use.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from contract.payloads import MAX_WORKER_NUMBER, format_utc, utc_now
from dashboard.core.workers import (
    REFUSED_STATUSES,
    Platform,
    ScopeText,
    Worker,
    WorkerInput,
    WorkerStatus,
    WorkerUpdate,
    check_window,
)
from dashboard.storage import pass_links, stations
from dashboard.storage.db import Connection, Row

MAX_GROUP_NUMBER = 255
"""Tokens carry the group in one byte; 0 means "no group"."""


class EnrollmentError(Exception):
    """Workers that cannot be stored as given; `problems` are (index, column, problem)."""

    def __init__(self, problems: Sequence[tuple[int, str, str]]) -> None:
        super().__init__("; ".join(f"#{i} {column}: {problem}" for i, column, problem in problems))
        self.problems = list(problems)


class UnknownWorkerError(LookupError):
    """No worker with that number."""


@dataclass(frozen=True, slots=True)
class CredentialRow:
    """A face id or card number and its worker."""

    kind: str
    external_id: str
    worker_number: int


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _stored_time(value: datetime | None) -> str | None:
    return None if value is None else format_utc(value)


# --- the workers aggregate (inside the caller's transaction) ----------------------------


def add(db: Connection, inputs: Sequence[WorkerInput]) -> list[Worker]:
    """Enroll all of `inputs`, or raise `EnrollmentError` listing every conflict (a face
    id or card already held, within the batch or by someone enrolled, a scope naming a
    station without a number)."""
    problems = conflicts(db, inputs)
    if problems:
        raise EnrollmentError(problems)
    now = format_utc(utc_now())
    numbers = []
    for item in inputs:
        number = _fresh_number(db)
        numbers.append(number)
        db.execute(
            """
            INSERT INTO workers (number, enrolled, display_name, platform, groups,
                valid_from, valid_until, status, scope, created_at, updated_at)
            VALUES (?, (SELECT coalesce(max(enrolled), 0) + 1 FROM workers),
                ?, ?, ?, ?, ?, 'active', ?, ?, ?)
            """,
            (
                number,
                item.display_name,
                item.platform.value,
                json.dumps(item.groups),
                _stored_time(item.valid_from),
                _stored_time(item.valid_until),
                item.scope,
                now,
                now,
            ),
        )
        for group in item.groups:
            _group_number(db, group)
        _insert_credentials(db, number, "face", item.face_ids)
        _insert_credentials(db, number, "card", item.card_numbers)
    return [load(db, number) for number in numbers]


def conflicts(
    db: Connection, inputs: Sequence[WorkerInput], exclude: int | None = None
) -> list[tuple[int, str, str]]:
    """What keeps `inputs` from being stored: (index, column, problem)."""
    problems: list[tuple[int, str, str]] = []
    claimed: dict[tuple[str, str], int] = {}
    numbers = {loc.station_id: loc.number for loc in stations.locations(db)}
    for index, item in enumerate(inputs):
        scope = ScopeText.parse(item.scope)
        if scope.station_id is not None:
            if scope.station_id not in numbers:
                problems.append((index, "scope", f"unknown station {scope.station_id!r}"))
            elif numbers[scope.station_id] is None:
                problems.append(
                    (
                        index,
                        "scope",
                        f"station {scope.station_id!r} has no number: describe it first",
                    )
                )
        for kind, column, values in (
            ("face", "face_ids", item.face_ids),
            ("card", "card_numbers", item.card_numbers),
        ):
            for value in values:
                first = claimed.setdefault((kind, value), index)
                if first != index:
                    problems.append((index, column, f"{value} is also given to entry #{first}"))
                holder = db.execute(
                    "SELECT worker_number FROM worker_credentials "
                    "WHERE kind = ? AND external_id = ?",
                    (kind, value),
                ).fetchone()
                if holder is not None and holder[0] != exclude:
                    problems.append((index, column, f"{value} already belongs to w{holder[0]}"))
    return problems


def _fresh_number(db: Connection) -> int:
    # Random, not sequential: the number says nothing about when someone enrolled.
    while True:
        number = secrets.randbelow(MAX_WORKER_NUMBER) + 1
        if db.execute("SELECT 1 FROM workers WHERE number = ?", (number,)).fetchone() is None:
            return number


def _group_number(db: Connection, name: str) -> int:
    row = db.execute("SELECT number FROM worker_groups WHERE name = ?", (name,)).fetchone()
    if row is not None:
        return int(row[0])
    top = db.execute("SELECT coalesce(max(number), 0) FROM worker_groups").fetchone()[0]
    if top >= MAX_GROUP_NUMBER:
        raise EnrollmentError([(0, "groups", f"no room for group {name!r}: 255 in use")])
    db.execute("INSERT INTO worker_groups (name, number) VALUES (?, ?)", (name, top + 1))
    return int(top) + 1


def _insert_credentials(db: Connection, number: int, kind: str, values: Sequence[str]) -> None:
    db.executemany(
        "INSERT INTO worker_credentials (kind, external_id, worker_number) VALUES (?, ?, ?)",
        [(kind, value, number) for value in values],
    )


def add_face(db: Connection, number: int, person_id: str) -> None:
    """Map a face id (a person on a face terminal) to the worker: a face paired at a door."""
    _insert_credentials(db, number, "face", [person_id])


def remove_faces(db: Connection, number: int, person_ids: Iterable[str]) -> None:
    """Take these face ids out of the worker's credentials (a pairing ended)."""
    db.executemany(
        "DELETE FROM worker_credentials WHERE kind = 'face' AND external_id = ? "
        "AND worker_number = ?",
        [(person, number) for person in sorted(set(person_ids))],
    )


def update(db: Connection, number: int, change: WorkerUpdate) -> Worker:
    """Apply the fields given in `change`; `EnrollmentError` on a conflict. A revoked
    worker stays revoked: revocation is final."""
    given = change.model_fields_set
    current = load(db, number)
    if current.status is WorkerStatus.REVOKED and given - {"status"}:
        raise EnrollmentError([(0, "status", "a revoked worker cannot be changed")])
    if current.status is WorkerStatus.REVOKED and change.status not in (
        None,
        WorkerStatus.REVOKED,
    ):
        raise EnrollmentError([(0, "status", "revocation is final; enroll again")])
    merged = WorkerInput.model_construct(
        display_name=change.display_name or current.display_name,
        platform=change.platform or current.platform,
        groups=change.groups if change.groups is not None else list(current.groups),
        valid_from=change.valid_from if "valid_from" in given else current.valid_from,
        valid_until=change.valid_until if "valid_until" in given else current.valid_until,
        scope=change.scope or current.scope,
        face_ids=change.face_ids if change.face_ids is not None else [],
        card_numbers=change.card_numbers if change.card_numbers is not None else [],
    )
    try:
        check_window(merged.valid_from, merged.valid_until)
    except ValueError as exc:
        raise EnrollmentError([(0, "valid_until", str(exc))]) from None
    problems = conflicts(db, [merged], exclude=number)
    if problems:
        raise EnrollmentError(problems)
    status = change.status or current.status
    db.execute(
        """
        UPDATE workers SET display_name = ?, platform = ?, groups = ?, valid_from = ?,
            valid_until = ?, status = ?, scope = ?, updated_at = ?
        WHERE number = ?
        """,
        (
            merged.display_name,
            merged.platform.value,
            json.dumps(merged.groups),
            _stored_time(merged.valid_from),
            _stored_time(merged.valid_until),
            status.value,
            merged.scope,
            format_utc(utc_now()),
            number,
        ),
    )
    for group in merged.groups:
        _group_number(db, group)
    for kind, replacement in (("face", change.face_ids), ("card", change.card_numbers)):
        if replacement is not None:
            db.execute(
                "DELETE FROM worker_credentials WHERE worker_number = ? AND kind = ?",
                (number, kind),
            )
            _insert_credentials(db, number, kind, replacement)
    if status in REFUSED_STATUSES:
        # A refused worker's links stop working with the status; lifting a suspension
        # needs new links, so an old leaked one stays dead.
        pass_links.revoke_all(db, number)
    return load(db, number)


def erase(db: Connection, number: int) -> None:
    """Forget a worker's personal data: name, face ids, cards and pass links. The number
    stays as a revoked record with no name, so it is never given to anyone else (entry
    logs keep naming it) and stays on the revocation list."""
    load(db, number)
    db.execute("DELETE FROM worker_credentials WHERE worker_number = ?", (number,))
    pass_links.forget_all(db, number)
    db.execute(
        "UPDATE workers SET display_name = '', groups = '[]', scope = 'any', "
        "status = 'revoked', updated_at = ? WHERE number = ?",
        (format_utc(utc_now()), number),
    )


def load(db: Connection, number: int) -> Worker:
    """One worker; `UnknownWorkerError` if there is none."""
    row = db.execute("SELECT * FROM workers WHERE number = ?", (number,)).fetchone()
    if row is None:
        raise UnknownWorkerError(number)
    return _worker(db, row)


def _worker(db: Connection, row: Row) -> Worker:
    creds = db.execute(
        "SELECT kind, external_id FROM worker_credentials WHERE worker_number = ? "
        "ORDER BY external_id",
        (row["number"],),
    ).fetchall()
    return Worker(
        number=row["number"],
        display_name=row["display_name"],
        platform=Platform(row["platform"]),
        groups=tuple(json.loads(row["groups"])),
        valid_from=_time(row["valid_from"]),
        valid_until=_time(row["valid_until"]),
        status=WorkerStatus(row["status"]),
        scope=row["scope"],
        face_ids=tuple(c["external_id"] for c in creds if c["kind"] == "face"),
        card_numbers=tuple(c["external_id"] for c in creds if c["kind"] == "card"),
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


def rows(
    db: Connection, status: WorkerStatus | None = None, limit: int = 1000, offset: int = 0
) -> list[Worker]:
    """Workers, oldest enrollment first."""
    query, params = "SELECT * FROM workers", []
    if status is not None:
        query += " WHERE status = ?"
        params.append(status.value)
    query += " ORDER BY enrolled LIMIT ? OFFSET ?"
    return [_worker(db, row) for row in db.execute(query, (*params, limit, offset)).fetchall()]


def search(
    db: Connection,
    text: str,
    status: WorkerStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Worker]:
    """Workers, oldest enrollment first, that are not erased and match `text`: a part of
    the display name (any case), the worker id (`w123` or `123`), or a part of a card
    number or face id."""
    needle = text.strip().lower()
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    digits = needle.removeprefix("w")
    clauses = [
        "lower(display_name) LIKE ? ESCAPE '\\'",
        "number IN (SELECT worker_number FROM worker_credentials "
        "WHERE lower(external_id) LIKE ? ESCAPE '\\')",
    ]
    params: list[object] = [pattern, pattern]
    if digits.isascii() and digits.isdigit() and len(digits) <= 18:
        clauses.append("number = ?")
        params.append(int(digits))
    query = "SELECT * FROM workers WHERE display_name <> '' AND (" + " OR ".join(clauses) + ")"
    if status is not None:
        query += " AND status = ?"
        params.append(status.value)
    query += " ORDER BY enrolled LIMIT ? OFFSET ?"
    return [_worker(db, row) for row in db.execute(query, (*params, limit, offset)).fetchall()]


def group_numbers(db: Connection) -> dict[str, int]:
    """Group name → the number tokens and credential maps carry."""
    return {r["name"]: r["number"] for r in db.execute("SELECT * FROM worker_groups")}


def refused_numbers(db: Connection) -> list[int]:
    """Worker numbers that are suspended or revoked, ascending."""
    return [
        row[0]
        for row in db.execute(
            "SELECT number FROM workers WHERE status IN ('suspended', 'revoked') ORDER BY number"
        ).fetchall()
    ]


def credentials(db: Connection) -> list[tuple[CredentialRow, Worker]]:
    """Every face id and card with its worker."""
    holders = {
        row["number"]: _worker(db, row)
        for row in db.execute(
            "SELECT * FROM workers WHERE number IN (SELECT worker_number FROM worker_credentials)"
        ).fetchall()
    }
    return [
        (
            CredentialRow(r["kind"], r["external_id"], r["worker_number"]),
            holders[r["worker_number"]],
        )
        for r in db.execute(
            "SELECT * FROM worker_credentials ORDER BY kind, external_id"
        ).fetchall()
    ]
