"""Per-gateway sequence tracking: the highest number seen and the ranges still missing.

Tables `seq_high` and `seq_missing`; nothing else writes them. The rules (what a batch
of numbers does to the high mark, what remains of a range once part of it arrives) are
pure, in `dashboard.core.sequence_gaps`; the alert a range raises once it has been
missing too long is `dashboard.storage.alerts`'s to open and resolve. Here a missing
range only remembers which alert it belongs to, and `track_batch` and `forget` say which
alerts were left with nothing missing, so that the caller resolves them.

Functions run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from dashboard.core.sequence_gaps import SeqRange, advance, subtract
from dashboard.storage.db import Connection

GatewayKey = tuple[str, str]
"""(station id, gateway id)."""


def track_batch(
    db: Connection, by_gateway: Mapping[GatewayKey, Sequence[int]], now: float
) -> set[int]:
    """Account for the sequence numbers of a batch's newly stored events, per gateway in
    arrival order: one read of all their high marks and one write per kind of change, so
    a batch from a thousand gateways costs a handful of statements rather than two per
    gateway. The ids of gap alerts whose last missing number arrived."""
    if not by_gateway:
        return set()
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
        start = highs.get((sid, gid))
        step = advance(start, seqs)
        gaps += [(sid, gid, first, last, now) for first, last in step.gaps]
        late += [(sid, gid, seq) for seq in step.late]
        if step.high is None or step.high == start:
            continue
        if start is None:
            inserts.append((sid, gid, step.high))
        else:
            updates.append((step.high, sid, gid))
    db.executemany("INSERT INTO seq_high (station_id, gateway_id, high) VALUES (?, ?, ?)", inserts)
    db.executemany("UPDATE seq_high SET high = ? WHERE station_id = ? AND gateway_id = ?", updates)
    db.executemany(
        "INSERT INTO seq_missing (station_id, gateway_id, first, last, noticed_at) "
        "VALUES (?, ?, ?, ?, ?)",
        gaps,
    )
    # Late arrivals (redelivery after an outage) fill gaps noticed in earlier batches.
    emptied: set[int] = set()
    for sid, gid, seq in late:
        emptied |= forget(db, sid, gid, [(seq, seq)])
    return emptied


def forget(
    db: Connection, station_id: str, gateway_id: str, ranges: Iterable[SeqRange]
) -> set[int]:
    """Remove `ranges` from the missing ones: they arrived, or were reported dropped.
    The ids of gap alerts left without a missing range."""
    touched: set[int] = set()
    for gone in ranges:
        first, last = gone
        overlapping = db.execute(
            "SELECT id, first, last, noticed_at, alert_id FROM seq_missing "
            "WHERE station_id = ? AND gateway_id = ? AND first <= ? AND last >= ?",
            (station_id, gateway_id, last, first),
        ).fetchall()
        for row_id, low, high, noticed_at, alert_id in overlapping:
            db.execute("DELETE FROM seq_missing WHERE id = ?", (row_id,))
            db.executemany(
                "INSERT INTO seq_missing "
                "(station_id, gateway_id, first, last, noticed_at, alert_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (station_id, gateway_id, part_first, part_last, noticed_at, alert_id)
                    for part_first, part_last in subtract((low, high), gone)
                ],
            )
            if alert_id is not None:
                touched.add(int(alert_id))
    return {
        alert_id
        for alert_id in touched
        if db.execute(
            "SELECT 1 FROM seq_missing WHERE alert_id = ? LIMIT 1", (alert_id,)
        ).fetchone()
        is None
    }


def overdue(db: Connection, noticed_before: float) -> dict[GatewayKey, list[tuple[int, SeqRange]]]:
    """Missing ranges noticed before `noticed_before` and not yet under an alert, per
    gateway: (row id, range), lowest first."""
    by_gateway: dict[GatewayKey, list[tuple[int, SeqRange]]] = {}
    for row_id, station_id, gateway_id, first, last in db.execute(
        "SELECT id, station_id, gateway_id, first, last FROM seq_missing "
        "WHERE alert_id IS NULL AND noticed_at <= ? ORDER BY station_id, gateway_id, first",
        (noticed_before,),
    ).fetchall():
        by_gateway.setdefault((station_id, gateway_id), []).append((int(row_id), (first, last)))
    return by_gateway


def attach(db: Connection, alert_id: int, row_ids: Iterable[int]) -> None:
    """Put missing ranges under a gap alert, which resolves once they have all arrived."""
    db.executemany(
        "UPDATE seq_missing SET alert_id = ? WHERE id = ?",
        [(alert_id, row_id) for row_id in row_ids],
    )
