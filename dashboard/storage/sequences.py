"""Per-gateway sequence tracking: which numbers are missing, and alerts for old gaps.

Every gateway numbers its events 1, 2, 3, … and keeps counting across restarts. The
central remembers the highest number seen per gateway and the ranges below it that have
not arrived. Redelivery after an outage or a crash fills most gaps within seconds; a
range still open after `gap_alert_after_s` opens a `seq_gap` alert, which resolves by
itself when the range fills. A `dropped/1` report from the gateway's outbox closes the
ranges it names: those events are known to be gone, and were reported.

The first number seen from a gateway is its baseline: a central that starts on an
empty database does not raise alerts for history it never had.

All functions here run inside the store's write transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from contract.payloads import format_utc, utc_now
from dashboard.storage.db import Connection

MIGRATION = """
CREATE TABLE alerts (
    id {serial},
    kind TEXT NOT NULL,
    station_id TEXT,
    gateway_id TEXT,
    opened_at TEXT NOT NULL,
    resolved_at TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX alerts_open ON alerts (resolved_at, kind, station_id, gateway_id);
CREATE TABLE seq_high (
    station_id TEXT NOT NULL,
    gateway_id TEXT NOT NULL,
    high INTEGER NOT NULL,
    PRIMARY KEY (station_id, gateway_id)
);
CREATE TABLE seq_missing (
    id {serial},
    station_id TEXT NOT NULL,
    gateway_id TEXT NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    noticed_at {real} NOT NULL,
    alert_id {bigint} REFERENCES alerts (id)
);
CREATE INDEX seq_missing_by_gateway ON seq_missing (station_id, gateway_id, first);
"""

GAP_ALERT = "seq_gap"


def track(db: Connection, station_id: str, gateway_id: str, seq: int, now: float) -> None:
    """Account for one newly stored event's sequence number."""
    track_many(db, station_id, gateway_id, [seq], now)


def track_many(
    db: Connection, station_id: str, gateway_id: str, seqs: Iterable[int], now: float
) -> None:
    """Account for newly stored events of one gateway, in arrival order.

    The high mark is read and written once per call, not once per event: a batch of a
    thousand in-order events costs two statements.
    """
    row = db.execute(
        "SELECT high FROM seq_high WHERE station_id = ? AND gateway_id = ?",
        (station_id, gateway_id),
    ).fetchone()
    high = None if row is None else int(row[0])
    start = high
    gaps: list[tuple[str, str, int, int, float]] = []
    for seq in seqs:
        if high is None:
            high = seq
        elif seq > high:
            if seq > high + 1:
                gaps.append((station_id, gateway_id, high + 1, seq - 1, now))
            high = seq
        else:
            # Late arrival: write the gaps seen so far first, so this one can fill them.
            _insert_gaps(db, gaps)
            gaps = []
            forget(db, station_id, gateway_id, [(seq, seq)])
    _insert_gaps(db, gaps)
    if high is None or high == start:
        return
    if start is None:
        db.execute(
            "INSERT INTO seq_high (station_id, gateway_id, high) VALUES (?, ?, ?)",
            (station_id, gateway_id, high),
        )
    else:
        db.execute(
            "UPDATE seq_high SET high = ? WHERE station_id = ? AND gateway_id = ?",
            (high, station_id, gateway_id),
        )


def track_batch(db: Connection, by_gateway: dict[tuple[str, str], list[int]], now: float) -> None:
    """`track_many` for every gateway of a batch, with one read of all their high marks
    and one write per kind of change, so a batch from a thousand gateways costs a handful
    of statements rather than two per gateway."""
    if not by_gateway:
        return
    stations = sorted({sid for sid, _ in by_gateway})
    marks = ", ".join("?" * len(stations))
    highs = {
        (r[0], r[1]): int(r[2])
        for r in db.execute(
            f"SELECT station_id, gateway_id, high FROM seq_high WHERE station_id IN ({marks})",
            stations,
        )
    }
    inserts: list[tuple[str, str, int]] = []
    updates: list[tuple[int, str, str]] = []
    gaps: list[tuple[str, str, int, int, float]] = []
    late: list[tuple[str, str, int]] = []
    for (sid, gid), seqs in by_gateway.items():
        start = high = highs.get((sid, gid))
        for seq in seqs:
            if high is None:
                high = seq
            elif seq > high:
                if seq > high + 1:
                    gaps.append((sid, gid, high + 1, seq - 1, now))
                high = seq
            else:
                late.append((sid, gid, seq))
        if high is None or high == start:
            continue
        if start is None:
            inserts.append((sid, gid, high))
        else:
            updates.append((high, sid, gid))
    db.executemany("INSERT INTO seq_high (station_id, gateway_id, high) VALUES (?, ?, ?)", inserts)
    db.executemany("UPDATE seq_high SET high = ? WHERE station_id = ? AND gateway_id = ?", updates)
    _insert_gaps(db, gaps)
    # Late arrivals (redelivery, out of order) fill gaps; gaps of this very batch are
    # written first so that a late one can fill them too.
    for sid, gid, seq in late:
        forget(db, sid, gid, [(seq, seq)])


def _insert_gaps(db: Connection, gaps: list[tuple[str, str, int, int, float]]) -> None:
    db.executemany(
        "INSERT INTO seq_missing (station_id, gateway_id, first, last, noticed_at) "
        "VALUES (?, ?, ?, ?, ?)",
        gaps,
    )


def forget(
    db: Connection,
    station_id: str,
    gateway_id: str,
    ranges: Iterable[tuple[int, int]],
) -> None:
    """Remove `ranges` (inclusive) from the missing ones: they arrived, or were reported
    dropped. Alerts left without a missing range resolve."""
    touched_alerts: set[int] = set()
    for first, last in ranges:
        overlapping = db.execute(
            "SELECT id, first, last, noticed_at, alert_id FROM seq_missing "
            "WHERE station_id = ? AND gateway_id = ? AND first <= ? AND last >= ?",
            (station_id, gateway_id, last, first),
        ).fetchall()
        for row_id, low, high, noticed_at, alert_id in overlapping:
            db.execute("DELETE FROM seq_missing WHERE id = ?", (row_id,))
            for part_first, part_last in ((low, first - 1), (last + 1, high)):
                if part_first <= part_last:
                    db.execute(
                        "INSERT INTO seq_missing "
                        "(station_id, gateway_id, first, last, noticed_at, alert_id) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (station_id, gateway_id, part_first, part_last, noticed_at, alert_id),
                    )
            if alert_id is not None:
                touched_alerts.add(int(alert_id))
    for alert_id in touched_alerts:
        left = db.execute(
            "SELECT count(*) FROM seq_missing WHERE alert_id = ?", (alert_id,)
        ).fetchone()[0]
        if left == 0:
            db.execute(
                "UPDATE alerts SET resolved_at = ?, status = 'resolved', resolved_by = 'system' "
                "WHERE id = ? AND resolved_at IS NULL",
                (format_utc(utc_now()), alert_id),
            )


def raise_overdue(db: Connection, now: float, after_s: float) -> list[int]:
    """Open (or extend) a `seq_gap` alert for every range missing longer than `after_s`.

    Returns the ids of alerts opened by this call.
    """
    overdue = db.execute(
        "SELECT id, station_id, gateway_id, first, last FROM seq_missing "
        "WHERE alert_id IS NULL AND noticed_at <= ? ORDER BY station_id, gateway_id, first",
        (now - after_s,),
    ).fetchall()
    opened: list[int] = []
    by_gateway: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
    for row_id, station_id, gateway_id, first, last in overdue:
        by_gateway.setdefault((station_id, gateway_id), []).append((row_id, first, last))
    for (station_id, gateway_id), ranges in by_gateway.items():
        existing = db.execute(
            "SELECT id FROM alerts WHERE kind = ? AND station_id = ? AND gateway_id = ? "
            "AND resolved_at IS NULL",
            (GAP_ALERT, station_id, gateway_id),
        ).fetchone()
        if existing is not None:
            alert_id = int(existing[0])
        else:
            count = sum(last - first + 1 for _, first, last in ranges)
            listed = ", ".join(
                str(first) if first == last else f"{first}-{last}" for _, first, last in ranges
            )
            detail = (
                f"{count} event(s) from {station_id}/{gateway_id} missing for over "
                f"{after_s:g} s: seq {listed}"
            )
            alert_id = db.insert_id(
                "INSERT INTO alerts (kind, station_id, gateway_id, opened_at, detail, status) "
                "VALUES (?, ?, ?, ?, ?, 'open') RETURNING id",
                (GAP_ALERT, station_id, gateway_id, format_utc(utc_now()), detail[:1000]),
            )
            opened.append(alert_id)
        db.executemany(
            "UPDATE seq_missing SET alert_id = ? WHERE id = ?",
            [(alert_id, row_id) for row_id, _, _ in ranges],
        )
    return opened
