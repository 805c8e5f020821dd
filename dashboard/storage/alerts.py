"""Alerts and their lifecycle: open → acknowledged → resolved, with who and when.

An alert is about one condition at one place: its `kind`, station, gateway and
`subject` (a door, a sensor, an alarm). While one is unresolved, the same condition
does not open another. Conditions that clear by themselves (an alarm cleared, a gateway
back online, a station with room again, a gap filled) resolve their alert as `system`;
an operator acknowledges ("I am on it") and may resolve any alert by hand.

All functions here run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from contract.maintenance_payloads import Health
from contract.payloads import format_utc, utc_now
from dashboard.core.alert_rules import SYSTEM, AlertChange, AlertKind, AlertStatus, fault_of
from dashboard.storage.db import Connection


class AlertStateError(Exception):
    """The alert cannot make that transition (already resolved)."""


def open_alert(
    db: Connection,
    kind: AlertKind,
    station_id: str | None,
    gateway_id: str | None,
    subject: str | None,
    detail: str,
) -> AlertChange | None:
    """Open an alert unless the same condition already has an unresolved one."""
    existing = db.execute(
        "SELECT id FROM alerts WHERE resolved_at IS NULL AND kind = ? "
        "AND coalesce(station_id, '') = ? AND coalesce(gateway_id, '') = ? "
        "AND coalesce(subject, '') = ?",
        (kind.value, station_id or "", gateway_id or "", subject or ""),
    ).fetchone()
    if existing is not None:
        return None
    alert_id = db.insert_id(
        "INSERT INTO alerts (kind, station_id, gateway_id, subject, opened_at, detail, status) "
        "VALUES (?, ?, ?, ?, ?, ?, 'open') RETURNING id",
        (kind.value, station_id, gateway_id, subject, format_utc(utc_now()), detail[:1000]),
    )
    return AlertChange(alert_id, kind.value, "open", station_id, gateway_id, subject, detail)


def resolve_condition(
    db: Connection,
    kind: AlertKind,
    station_id: str | None,
    gateway_id: str | None = None,
    subject: str | None = None,
    any_gateway: bool = False,
) -> list[AlertChange]:
    """Resolve (as `system`) the unresolved alerts of a condition that has cleared."""
    query = (
        "SELECT id, kind, station_id, gateway_id, subject, detail FROM alerts "
        "WHERE resolved_at IS NULL AND kind = ? AND coalesce(station_id, '') = ? "
        "AND coalesce(subject, '') = ?"
    )
    params: list[object] = [kind.value, station_id or "", subject or ""]
    if not any_gateway:
        query += " AND coalesce(gateway_id, '') = ?"
        params.append(gateway_id or "")
    rows = db.execute(query, params).fetchall()
    changes = []
    for row in rows:
        _set_resolved(db, int(row[0]), SYSTEM)
        changes.append(AlertChange(int(row[0]), row[1], "resolved", row[2], row[3], row[4], row[5]))
    return changes


def _set_resolved(db: Connection, alert_id: int, by: str) -> None:
    db.execute(
        "UPDATE alerts SET status = 'resolved', resolved_at = ?, resolved_by = ? "
        "WHERE id = ? AND resolved_at IS NULL",
        (format_utc(utc_now()), by, alert_id),
    )


def acknowledge(db: Connection, alert_id: int, by: str, note: str | None = None) -> AlertChange:
    """An operator takes an open alert, optionally saying what they do about it;
    `LookupError`, or `AlertStateError` if resolved."""
    row = _load(db, alert_id)
    if row["status"] == AlertStatus.RESOLVED:
        raise AlertStateError(f"alert {alert_id} is already resolved")
    if row["status"] == AlertStatus.OPEN:
        db.execute(
            "UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?, "
            "acknowledged_by = ?, acknowledged_note = ? WHERE id = ?",
            (format_utc(utc_now()), by, note or None, alert_id),
        )
    return _change(_load(db, alert_id))


def resolve(db: Connection, alert_id: int, by: str, note: str | None = None) -> AlertChange:
    """An operator resolves an alert, optionally saying how; `LookupError`, or
    `AlertStateError` if resolved."""
    row = _load(db, alert_id)
    if row["status"] == AlertStatus.RESOLVED:
        raise AlertStateError(f"alert {alert_id} is already resolved")
    _set_resolved(db, alert_id, by)
    if note:
        db.execute("UPDATE alerts SET resolved_note = ? WHERE id = ?", (note, alert_id))
    return _change(_load(db, alert_id))


def _load(db: Connection, alert_id: int) -> dict[str, object]:
    row = db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    if row is None:
        raise LookupError(alert_id)
    return dict(row)


def _change(row: dict[str, object]) -> AlertChange:
    def text(key: str) -> str | None:
        value = row[key]
        return None if value is None else str(value)

    return AlertChange(
        int(str(row["id"])),
        str(row["kind"]),
        str(row["status"]),
        text("station_id"),
        text("gateway_id"),
        text("subject"),
        str(row["detail"]),
    )


def apply_device_health(db: Connection, reports: Iterable[Health]) -> list[AlertChange]:
    """Open `sensor_faulty` for each faulty device, resolve it (as `system`) when the same
    gateway reports the device healthy again. Reports are applied in the order given.

    A device that vanishes from its gateway's reports (configured away) keeps its alert
    until an operator resolves it: silence about a device is not evidence that it works.
    """
    # Few faulty alerts are unresolved at any time: one query for all of them beats one
    # per device per report (10,000 gateways report every 30 s).
    unresolved = {
        (row[2], row[3], row[4]): row
        for row in db.execute(
            "SELECT id, kind, station_id, gateway_id, subject, detail FROM alerts "
            "WHERE resolved_at IS NULL AND kind = ?",
            (AlertKind.SENSOR_FAULTY.value,),
        ).fetchall()
    }
    changes: list[AlertChange] = []
    for report in reports:
        for name, device in report.devices.items():
            key = (report.station_id, report.gateway_id, name)
            fault = fault_of(name, device)
            row = unresolved.get(key)
            if fault is None and row is not None:
                _set_resolved(db, int(row[0]), SYSTEM)
                changes.append(
                    AlertChange(int(row[0]), row[1], "resolved", row[2], row[3], row[4], row[5])
                )
                del unresolved[key]
            elif fault is not None and row is None:
                change = open_alert(
                    db, AlertKind.SENSOR_FAULTY, report.station_id, report.gateway_id, name, fault
                )
                if change is not None:
                    changes.append(change)
                    unresolved[key] = (
                        change.id,
                        change.kind,
                        change.station_id,
                        change.gateway_id,
                        change.subject,
                        change.detail,
                    )
    return changes
