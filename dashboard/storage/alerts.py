"""Alerts and their lifecycle: open → acknowledged → resolved, with who and when.

Table `alerts`; nothing else writes it. An alert is about one condition at one place:
its `kind`, station, gateway and `subject` (a door, a sensor, an alarm). While one is
unresolved, the same condition does not open another. Conditions that clear by
themselves (an alarm cleared, a gateway back online, a station with room again, a gap
filled) resolve their alert as `system`; an operator acknowledges ("I am on it") and may
resolve any alert by hand. Every opening and resolution comes back as an `AlertChange`,
for the live stream. When a condition holds is for the rules in
`dashboard.core.alert_rules`; this module only keeps the record.

Functions taking a `Connection` run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from contract.maintenance_payloads import Health
from contract.payloads import format_utc, utc_now
from dashboard.core.alert_rules import (
    FLAP_WINDOW_S,
    SYSTEM,
    AlertChange,
    AlertKind,
    AlertStatus,
    fault_of,
    joins_previous,
)
from dashboard.storage.db import Connection

DETAIL_CHARS = 1000
"""How much of an alert's detail is kept."""

Place = tuple[str, str | None, str | None]
"""Where a condition holds: a station, and a gateway and a subject where it has them."""


class AlertStateError(Exception):
    """The alert cannot make that transition (already resolved)."""


@dataclass(frozen=True, slots=True)
class AlertRow:
    """Something an operator should look at; open while `resolved_at` is None."""

    id: int
    kind: str
    station_id: str | None
    gateway_id: str | None
    opened_at: str
    resolved_at: str | None
    detail: str
    status: str = "open"
    subject: str | None = None
    acknowledged_at: str | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    acknowledged_note: str | None = None
    resolved_note: str | None = None
    repeats: int = 1
    """How many times the condition opened: a flapping one reopens this alert."""
    last_opened_at: str | None = None
    """When it last opened again (None while it opened once)."""


_RETURNING = "RETURNING id, kind, status, station_id, gateway_id, subject, detail"


# --- conditions the system sees --------------------------------------------------------


def find_open(
    db: Connection,
    kind: AlertKind,
    station_id: str | None,
    gateway_id: str | None,
    subject: str | None = None,
) -> int | None:
    """The id of the unresolved alert of a condition, if there is one."""
    row = db.execute(
        "SELECT id FROM alerts WHERE resolved_at IS NULL AND kind = ? "
        "AND coalesce(station_id, '') = ? AND coalesce(gateway_id, '') = ? "
        "AND coalesce(subject, '') = ?",
        (kind.value, station_id or "", gateway_id or "", subject or ""),
    ).fetchone()
    return None if row is None else int(row[0])


def unresolved_stations(db: Connection, kind: AlertKind, station_ids: Iterable[str]) -> set[str]:
    """Which of these stations have an unresolved alert of `kind` (of any gateway)."""
    ids = sorted(set(station_ids))
    if not ids:
        return set()
    among, params = db.among(ids)
    return {
        str(r[0])
        for r in db.execute(
            "SELECT DISTINCT station_id FROM alerts WHERE resolved_at IS NULL AND kind = ? "
            f"AND station_id {among}",
            [kind.value, *params],
        ).fetchall()
    }


def _reopen_recent(
    db: Connection,
    kind: AlertKind,
    station_id: str | None,
    gateway_id: str | None,
    subject: str | None,
    detail: str,
    now: datetime,
) -> AlertChange | None:
    """Reopen the condition's alert that cleared by itself moments ago, if there is one
    (`FLAP_WINDOW_S`), counting the repeat; None when a new alert is due."""
    since = format_utc(now - timedelta(seconds=FLAP_WINDOW_S))
    found = db.execute(
        "SELECT id, resolved_at, resolved_by FROM alerts WHERE resolved_at IS NOT NULL "
        "AND resolved_at >= ? AND kind = ? AND coalesce(station_id, '') = ? "
        "AND coalesce(gateway_id, '') = ? AND coalesce(subject, '') = ? "
        "ORDER BY resolved_at DESC, id DESC LIMIT 1",
        (since, kind.value, station_id or "", gateway_id or "", subject or ""),
    ).fetchone()
    if found is None:
        return None
    resolved_at = datetime.fromisoformat(str(found[1]).replace("Z", "+00:00"))
    if not joins_previous(resolved_at, found[2], now, FLAP_WINDOW_S):
        return None
    r = db.execute(
        "UPDATE alerts SET status = 'open', resolved_at = NULL, resolved_by = NULL, "
        "resolved_note = NULL, acknowledged_at = NULL, acknowledged_by = NULL, "
        "acknowledged_note = NULL, repeats = repeats + 1, last_opened_at = ?, detail = ? "
        "WHERE id = ? " + _RETURNING,
        (format_utc(now), detail[:DETAIL_CHARS], int(found[0])),
    ).fetchone()
    return AlertChange(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6])


def open_alert(
    db: Connection,
    kind: AlertKind,
    station_id: str | None,
    gateway_id: str | None,
    subject: str | None,
    detail: str,
    opened_at: datetime | None = None,
) -> AlertChange | None:
    """Open an alert unless the same condition already has an unresolved one; `opened_at`
    when the condition began earlier than now (it could not be recorded then). A
    condition that cleared by itself within `FLAP_WINDOW_S` reopens that alert instead,
    its `repeats` counted up: flapping is one alert, not a page of them."""
    if find_open(db, kind, station_id, gateway_id, subject) is not None:
        return None
    if opened_at is None:
        again = _reopen_recent(db, kind, station_id, gateway_id, subject, detail, utc_now())
        if again is not None:
            return again
    opened = format_utc(opened_at or utc_now())
    alert_id = db.insert_id(
        "INSERT INTO alerts (kind, station_id, gateway_id, subject, opened_at, detail, status) "
        "VALUES (?, ?, ?, ?, ?, ?, 'open') RETURNING id",
        (kind.value, station_id, gateway_id, subject, opened, detail[:DETAIL_CHARS]),
    )
    return AlertChange(alert_id, kind.value, "open", station_id, gateway_id, subject, detail)


def set_detail(db: Connection, alert_id: int, detail: str) -> None:
    """Say anew what an open alert is about (a count that grew, a latest report)."""
    db.execute("UPDATE alerts SET detail = ? WHERE id = ?", (detail[:DETAIL_CHARS], alert_id))


def resolve_condition(
    db: Connection,
    kind: AlertKind,
    station_id: str | None,
    gateway_id: str | None = None,
    subject: str | None = None,
    any_gateway: bool = False,
    at: datetime | None = None,
) -> list[AlertChange]:
    """Resolve (as `system`) the unresolved alerts of a condition that has cleared (at
    `at` when that was earlier than now)."""
    query = (
        "SELECT id FROM alerts WHERE resolved_at IS NULL AND kind = ? "
        "AND coalesce(station_id, '') = ? AND coalesce(subject, '') = ?"
    )
    params: list[object] = [kind.value, station_id or "", subject or ""]
    if not any_gateway:
        query += " AND coalesce(gateway_id, '') = ?"
        params.append(gateway_id or "")
    return resolve_ids(db, [int(r[0]) for r in db.execute(query, params).fetchall()], at)


def settle(
    db: Connection, kind: AlertKind, conditions: Mapping[Place, str | None]
) -> list[AlertChange]:
    """Bring the alerts of `kind` in line with `conditions`: a place with a detail has an
    unresolved alert (opened now if it had none), a place with None has none (resolved
    now as `system`). One query finds the unresolved alerts of all the places' stations,
    so a batch touching many stations costs a statement per change, not per station."""
    if not conditions:
        return []
    among, stations = db.among(sorted({station for station, _, _ in conditions}))
    unresolved = {
        (r[1], r[2], r[3]): int(r[0])
        for r in db.execute(
            "SELECT id, station_id, coalesce(gateway_id, ''), coalesce(subject, '') "
            f"FROM alerts WHERE resolved_at IS NULL AND kind = ? AND station_id {among}",
            [kind.value, *stations],
        )
    }
    changes: list[AlertChange] = []
    for (station_id, gateway_id, subject), detail in conditions.items():
        alert_id = unresolved.get((station_id, gateway_id or "", subject or ""))
        if detail is not None and alert_id is None:
            change = open_alert(db, kind, station_id, gateway_id, subject, detail)
            if change is not None:
                changes.append(change)
        elif detail is None and alert_id is not None:
            changes += resolve_ids(db, [alert_id])
    return changes


def resolve_ids(
    db: Connection, alert_ids: Iterable[int], at: datetime | None = None
) -> list[AlertChange]:
    """Resolve these alerts as `system` (those still unresolved), now or `at`; what
    changed."""
    changes = []
    resolved = format_utc(at or utc_now())
    for alert_id in alert_ids:
        r = db.execute(
            "UPDATE alerts SET status = 'resolved', resolved_at = ?, resolved_by = ? "
            "WHERE id = ? AND resolved_at IS NULL " + _RETURNING,
            (resolved, SYSTEM, alert_id),
        ).fetchone()
        if r is not None:
            changes.append(AlertChange(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6]))
    return changes


def apply_device_health(db: Connection, reports: Iterable[Health]) -> list[AlertChange]:
    """Open `sensor_faulty` for each faulty device, resolve it (as `system`) when the same
    gateway reports the device healthy again. Reports are applied in the order given.

    A device that vanishes from its gateway's reports (configured away) keeps its alert
    until an operator resolves it: silence about a device is not evidence that it works.
    """
    # Few faulty alerts are unresolved at any time: one query for all of them beats one
    # per device per report (10,000 gateways report every 30 s).
    unresolved = {
        (row[1], row[2], row[3]): int(row[0])
        for row in db.execute(
            "SELECT id, station_id, gateway_id, subject FROM alerts "
            "WHERE resolved_at IS NULL AND kind = ?",
            (AlertKind.SENSOR_FAULTY.value,),
        ).fetchall()
    }
    changes: list[AlertChange] = []
    for report in reports:
        for name, device in report.devices.items():
            key = (report.station_id, report.gateway_id, name)
            fault = fault_of(name, device)
            alert_id = unresolved.get(key)
            if fault is None and alert_id is not None:
                changes += resolve_ids(db, [alert_id])
                del unresolved[key]
            elif fault is not None and alert_id is None:
                change = open_alert(
                    db, AlertKind.SENSOR_FAULTY, report.station_id, report.gateway_id, name, fault
                )
                if change is not None:
                    changes.append(change)
                    unresolved[key] = change.id
    return changes


# --- what operators do -----------------------------------------------------------------


def acknowledge(db: Connection, alert_id: int, by: str, note: str | None = None) -> AlertChange:
    """An operator takes an open alert, optionally saying what they do about it;
    `LookupError`, or `AlertStateError` if resolved."""
    status = _status(db, alert_id)
    if status == AlertStatus.RESOLVED:
        raise AlertStateError(f"alert {alert_id} is already resolved")
    if status == AlertStatus.OPEN:
        db.execute(
            "UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?, "
            "acknowledged_by = ?, acknowledged_note = ? WHERE id = ?",
            (format_utc(utc_now()), by, note or None, alert_id),
        )
    return _change(db, alert_id)


def resolve(db: Connection, alert_id: int, by: str, note: str | None = None) -> AlertChange:
    """An operator resolves an alert, optionally saying how; `LookupError`, or
    `AlertStateError` if resolved."""
    if _status(db, alert_id) == AlertStatus.RESOLVED:
        raise AlertStateError(f"alert {alert_id} is already resolved")
    db.execute(
        "UPDATE alerts SET status = 'resolved', resolved_at = ?, resolved_by = ?, "
        "resolved_note = ? WHERE id = ?",
        (format_utc(utc_now()), by, note or None, alert_id),
    )
    return _change(db, alert_id)


# --- reads -----------------------------------------------------------------------------


def rows(
    db: Connection,
    open_only: bool = True,
    limit: int = 100,
    kind: str | None = None,
    station_id: str | None = None,
    status: str | None = None,
) -> list[AlertRow]:
    """Alerts, newest first; only unresolved ones unless `open_only` is False."""
    clauses: list[str] = []
    params: list[object] = []
    if open_only:
        clauses.append("resolved_at IS NULL")
    for column, value in (("kind", kind), ("station_id", station_id), ("status", status)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    query = "SELECT * FROM alerts"
    if clauses:
        query += " WHERE " + " AND ".join(clauses)
    query += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return [AlertRow(**dict(row)) for row in db.execute(query, params).fetchall()]


def open_count(db: Connection) -> int:
    """How many alerts are unresolved."""
    return int(db.execute("SELECT count(*) FROM alerts WHERE resolved_at IS NULL").fetchone()[0])


def row(db: Connection, alert_id: int) -> AlertRow:
    """One alert; `LookupError` if there is none."""
    found = db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    if found is None:
        raise LookupError(alert_id)
    return AlertRow(**dict(found))


def _status(db: Connection, alert_id: int) -> str:
    found = db.execute("SELECT status FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    if found is None:
        raise LookupError(alert_id)
    return str(found[0])


def _change(db: Connection, alert_id: int) -> AlertChange:
    r = db.execute(
        "SELECT id, kind, status, station_id, gateway_id, subject, detail FROM alerts WHERE id = ?",
        (alert_id,),
    ).fetchone()
    return AlertChange(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6])
