"""Workers' fault reports and suggestions, and the alerts problems open.

Table `worker_feedback`; nothing else writes it. A problem is stored with the
`worker_report` alert it opened or joined (one unresolved alert per station and
category; `subject` is the category), and that alert's detail says how many reports it
holds. A problem's status is its alert's (`problem_status`); a suggestion's is the one an
operator gave it, with a public reply. `photo` names a file the caller keeps outside the
database.

Functions taking a `Connection` run inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contract.payloads import format_utc, utc_now
from dashboard.core.alert_rules import AlertChange, AlertKind
from dashboard.core.worker_voice import (
    Category,
    FeedbackKind,
    FeedbackStatus,
    alert_detail,
    problem_status,
)
from dashboard.storage import alerts, stations
from dashboard.storage.db import Connection

_COLUMNS = (
    "f.id, f.kind, f.station_id, s.name, s.region_code, f.category, f.body, f.lang, "
    "f.worker_number, f.created_at, f.photo IS NOT NULL, f.alert_id, a.status, f.status, "
    "f.reply, f.replied_at, f.replied_by"
)
_FROM = (
    "FROM worker_feedback f LEFT JOIN stations s ON s.id = f.station_id "
    "LEFT JOIN alerts a ON a.id = f.alert_id"
)


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """A report or suggestion as operators see it."""

    id: int
    kind: str
    station_id: str
    station_name: str | None
    region_code: str | None
    category: str
    text: str
    lang: str
    worker_number: int | None
    """Who made it (a pass holder's number); None when it came from the public map."""
    created_at: str
    has_photo: bool
    alert_id: int | None
    status: str
    """A problem's from its alert; a suggestion's as an operator set it."""
    reply: str | None
    replied_at: str | None
    replied_by: str | None


@dataclass(frozen=True, slots=True)
class FeedbackFilter:
    """Which reports to list; None matches any."""

    kind: FeedbackKind | None = None
    station_id: str | None = None
    region_code: int | None = None
    """A district (GB/T 2260), as stations hold it."""
    category: Category | None = None
    status: FeedbackStatus | None = None
    worker_number: int | None = None
    limit: int = 100


def _row(r: tuple[object, ...]) -> FeedbackRow:
    kind = str(r[1])
    alert_status = r[12]
    status = (
        problem_status(str(alert_status)).value
        if kind == FeedbackKind.PROBLEM and alert_status is not None
        else str(r[13])
    )
    return FeedbackRow(
        id=int(r[0]),  # type: ignore[call-overload]
        kind=kind,
        station_id=str(r[2]),
        station_name=None if r[3] is None else str(r[3]),
        region_code=None if r[4] is None else str(r[4]),
        category=str(r[5]),
        text=str(r[6]),
        lang=str(r[7]),
        worker_number=None if r[8] is None else int(r[8]),  # type: ignore[call-overload]
        created_at=str(r[9]),
        has_photo=bool(r[10]),
        alert_id=None if r[11] is None else int(r[11]),  # type: ignore[call-overload]
        status=status,
        reply=None if r[14] is None else str(r[14]),
        replied_at=None if r[15] is None else str(r[15]),
        replied_by=None if r[16] is None else str(r[16]),
    )


def add(
    db: Connection,
    kind: FeedbackKind,
    station_id: str,
    category: Category,
    text: str,
    lang: str,
    worker_number: int | None,
    photo: str | None,
) -> tuple[FeedbackRow, AlertChange | None]:
    """Keep a report; a problem opens its station's alert for the category, or joins
    the one open. `StationNotFoundError` for an unknown station. The alert change is for
    the live stream (None for a suggestion)."""
    stations.require(db, station_id)
    change: AlertChange | None = None
    alert_id: int | None = None
    if kind is FeedbackKind.PROBLEM:
        change = _alert_for(db, station_id, category, text)
        alert_id = change.id
    feedback_id = db.insert_id(
        "INSERT INTO worker_feedback (kind, station_id, category, body, lang, worker_number, "
        "created_at, photo, alert_id, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id",
        (
            kind.value,
            station_id,
            category.value,
            text,
            lang,
            worker_number,
            format_utc(utc_now()),
            photo,
            alert_id,
            FeedbackStatus.RECEIVED.value,
        ),
    )
    if change is not None:
        change = _with_count(db, change, category, text)
    return row(db, feedback_id), change


def _alert_for(db: Connection, station_id: str, category: Category, text: str) -> AlertChange:
    """The open alert of the station's category (locked on PostgreSQL, so two replicas
    joining it at once count both), or a new one."""
    alert_id = alerts.find_open(db, AlertKind.WORKER_REPORT, station_id, None, category.value)
    if alert_id is not None:
        if db.dialect == "postgresql":
            db.execute("SELECT id FROM alerts WHERE id = ? FOR UPDATE", (alert_id,))
        current = alerts.row(db, alert_id)
        return AlertChange(
            alert_id, current.kind, current.status, station_id, None, category.value, ""
        )
    opened = alerts.open_alert(db, AlertKind.WORKER_REPORT, station_id, None, category.value, text)
    assert opened is not None  # none was open, in this transaction
    return opened


def _with_count(db: Connection, change: AlertChange, category: Category, text: str) -> AlertChange:
    count = int(
        db.execute(
            "SELECT count(*) FROM worker_feedback WHERE alert_id = ?", (change.id,)
        ).fetchone()[0]
    )
    occupancy = None
    if category is Category.OCCUPANCY and change.station_id is not None:
        shown = db.execute(
            "SELECT occupancy, capacity FROM stations WHERE id = ?", (change.station_id,)
        ).fetchone()
        if shown is not None:
            occupancy = f"{shown[0]} of {shown[1]}" if shown[1] is not None else f"{shown[0]}"
    detail = alert_detail(category, count, text, occupancy)
    alerts.set_detail(db, change.id, detail)
    return AlertChange(
        change.id,
        change.kind,
        change.status,
        change.station_id,
        change.gateway_id,
        change.subject,
        detail,
    )


def row(db: Connection, feedback_id: int) -> FeedbackRow:
    """One report; `LookupError` when there is none."""
    found = db.execute(f"SELECT {_COLUMNS} {_FROM} WHERE f.id = ?", (feedback_id,)).fetchone()
    if found is None:
        raise LookupError(feedback_id)
    return _row(tuple(found))


def rows(db: Connection, which: FeedbackFilter) -> list[FeedbackRow]:
    """Reports matching `which`, newest first. The status filter is applied after the
    problems' statuses are derived from their alerts."""
    where: list[str] = []
    params: list[object] = []
    for column, value in (
        ("f.kind", which.kind),
        ("f.station_id", which.station_id),
        ("s.region_code", which.region_code),
        ("f.category", which.category),
        ("f.worker_number", which.worker_number),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value.value if isinstance(value, FeedbackKind | Category) else value)
    if which.status is not None:
        alert_status = {
            FeedbackStatus.RECEIVED: "open",
            FeedbackStatus.IN_PROGRESS: "acknowledged",
            FeedbackStatus.DONE: "resolved",
        }.get(which.status)
        where.append(
            "((f.alert_id IS NULL AND f.status = ?) OR (f.alert_id IS NOT NULL AND a.status = ?))"
        )
        params += [which.status.value, alert_status or "-"]
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    found = db.execute(
        f"SELECT {_COLUMNS} {_FROM} {clause} ORDER BY f.id DESC LIMIT ?",
        [*params, which.limit],
    ).fetchall()
    return [_row(tuple(r)) for r in found]


def reply(
    db: Connection, feedback_id: int, status: FeedbackStatus, text: str | None, by: str
) -> FeedbackRow:
    """Give a suggestion a status and a public reply. `LookupError` for no such report;
    `ValueError` for a problem (its status follows its alert)."""
    current = row(db, feedback_id)
    if current.kind != FeedbackKind.SUGGESTION:
        raise ValueError(
            f"report {feedback_id} is a problem: acknowledge or resolve its alert "
            f"{current.alert_id} instead"
        )
    db.execute(
        "UPDATE worker_feedback SET status = ?, reply = ?, replied_at = ?, replied_by = ? "
        "WHERE id = ?",
        (status.value, text, format_utc(utc_now()), by, feedback_id),
    )
    return row(db, feedback_id)


def recent_count(
    db: Connection, since: datetime, worker_number: int | None, station_id: str | None
) -> int:
    """Reports made since `since` by a worker (or anonymously, when None) -- at one
    station when `station_id` is given."""
    query = "SELECT count(*) FROM worker_feedback WHERE created_at >= ?"
    params: list[object] = [format_utc(since)]
    if worker_number is None:
        query += " AND worker_number IS NULL"
    else:
        query += " AND worker_number = ?"
        params.append(worker_number)
    if station_id is not None:
        query += " AND station_id = ?"
        params.append(station_id)
    return int(db.execute(query, params).fetchone()[0])


def delete(db: Connection, feedback_id: int) -> str | None:
    """Forget a report; the name of its photo file, for the caller to delete."""
    found = db.execute("SELECT photo FROM worker_feedback WHERE id = ?", (feedback_id,)).fetchone()
    if found is None:
        raise LookupError(feedback_id)
    db.execute("DELETE FROM worker_feedback WHERE id = ?", (feedback_id,))
    return None if found[0] is None else str(found[0])


def photo(db: Connection, feedback_id: int) -> str | None:
    """The name of a report's photo file, if it has one; `LookupError` for no report."""
    found = db.execute("SELECT photo FROM worker_feedback WHERE id = ?", (feedback_id,)).fetchone()
    if found is None:
        raise LookupError(feedback_id)
    return None if found[0] is None else str(found[0])


def expire_photos(db: Connection, before: datetime) -> list[str]:
    """Detach the photos of reports made before `before`; their file names, to delete."""
    found = [
        str(r[0])
        for r in db.execute(
            "SELECT photo FROM worker_feedback WHERE photo IS NOT NULL AND created_at < ?",
            (format_utc(before),),
        ).fetchall()
    ]
    if found:
        db.execute(
            "UPDATE worker_feedback SET photo = NULL WHERE photo IS NOT NULL AND created_at < ?",
            (format_utc(before),),
        )
    return found


def changes_made(db: Connection, station_id: str, limit: int) -> list[FeedbackRow]:
    """A station's suggestions marked done, newest reply first: what changed because
    workers asked."""
    found = db.execute(
        f"SELECT {_COLUMNS} {_FROM} WHERE f.station_id = ? AND f.kind = ? AND f.status = ? "
        "ORDER BY f.replied_at DESC, f.id DESC LIMIT ?",
        (station_id, FeedbackKind.SUGGESTION.value, FeedbackStatus.DONE.value, limit),
    ).fetchall()
    return [_row(tuple(r)) for r in found]
