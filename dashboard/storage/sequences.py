"""Per-gateway sequence tracking: the highest number seen and the ranges still missing.

Tables `seq_high` and `seq_missing`; nothing else writes them. The rules (what a batch
of numbers does to the high mark, what remains of a range once part of it arrives, how
far everything is stored) are pure, in `dashboard.core.sequence_gaps`; the alert a range
raises once it has been missing too long is `dashboard.storage.alerts`'s to open and
resolve. Here a missing range only remembers which alert it belongs to, and
`track_batch` and `forget` say which alerts were left with nothing missing, so that the
caller resolves them, and how far each gateway they saw is now stored without a hole
(the mark the central tells the gateway), worked out from the rows they read anyway;
`stored_marks` reads it for gateways a batch did not track.

Functions run inside the caller's transaction, and each costs a fixed handful of
statements however many gateways and events it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dashboard.core.sequence_gaps import (
    SeqRange,
    advance,
    ranges_of,
    reach,
    remove,
    stored_through,
)
from dashboard.storage.db import BulkInsert, Connection

_HIGHS = BulkInsert(
    "seq_high",
    (("station_id", "text"), ("gateway_id", "text"), ("high", "bigint")),
    "ON CONFLICT (station_id, gateway_id) DO UPDATE SET high = excluded.high",
)
_GAPS = BulkInsert(
    "seq_missing",
    (
        ("station_id", "text"),
        ("gateway_id", "text"),
        ("first", "bigint"),
        ("last", "bigint"),
        ("noticed_at", "double precision"),
    ),
)
_LEFT = BulkInsert(
    "seq_missing",
    (
        ("station_id", "text"),
        ("gateway_id", "text"),
        ("first", "bigint"),
        ("last", "bigint"),
        ("noticed_at", "double precision"),
        ("alert_id", "bigint"),
    ),
)

GatewayKey = tuple[str, str]
"""(station id, gateway id)."""


@dataclass(slots=True)
class Tracked:
    """What `track_batch` or `forget` left behind: gap alerts with nothing missing any
    more, and per gateway they saw its high mark and lowest missing number."""

    emptied: set[int] = field(default_factory=set)
    """Ids of gap alerts whose last missing number arrived (or was reported dropped)."""
    highs: dict[GatewayKey, int] = field(default_factory=dict)
    """The high mark of each tracked gateway that has a baseline."""
    lowest_missing: dict[GatewayKey, int | None] = field(default_factory=dict)
    """The lowest number still missing, per gateway whose missing ranges are known."""

    def update(self, other: Tracked) -> None:
        """Take in what a later step (a `forget`) found; its findings are newer."""
        self.emptied |= other.emptied
        self.highs.update(other.highs)
        self.lowest_missing.update(other.lowest_missing)

    def marks(self, keys: Iterable[GatewayKey]) -> dict[GatewayKey, int]:
        """The stored marks (`stored_through`) of those `keys` that were tracked."""
        return {
            key: stored_through(self.highs[key], self.lowest_missing.get(key))
            for key in keys
            if key in self.highs
        }


def track_batch(
    db: Connection,
    by_gateway: Mapping[GatewayKey, Sequence[int]],
    now: float,
    reached: Mapping[GatewayKey, int] | None = None,
) -> Tracked:
    """Account for the sequence numbers of a batch's newly stored events, per gateway in
    arrival order, and for how far each gateway says its numbering has got (`reached`,
    from its health reports): one read of all their high marks (with their lowest
    missing numbers) and one write per kind of change, so a batch from a thousand
    gateways costs a handful of statements rather than two per gateway. What it left
    behind: the gap alerts whose last missing number arrived, and every gateway's high
    mark and lowest missing number, from which its stored mark follows."""
    reached = reached or {}
    keys = set(by_gateway) | set(reached)
    tracked = Tracked()
    if not keys:
        return tracked
    known = _marks_read(db, keys)
    moved: list[tuple[str, str, int]] = []
    gaps: list[tuple[str, str, int, int, float]] = []
    late: dict[GatewayKey, list[SeqRange]] = {}
    for key in sorted(keys):
        sid, gid = key
        start, lowest = known.get(key, (None, None))
        step = advance(start, by_gateway.get(key, ()))
        if key in reached:
            step = reach(step, reached[key])
        gaps += [(sid, gid, first, last, now) for first, last in step.gaps]
        late[key] = ranges_of(step.late)
        if step.high is not None:
            tracked.highs[key] = step.high
            # New gaps lie above the old high mark, so above anything missing before;
            # late arrivals may raise the lowest, which `forget` below works out.
            tracked.lowest_missing[key] = lowest if lowest is not None else _first_of(step.gaps)
        if step.high is not None and step.high != start:
            moved.append((sid, gid, step.high))
    # New baselines and raised marks alike, one row per gateway (keys are sorted above).
    db.insert_rows(_HIGHS, moved)
    db.insert_rows(_GAPS, gaps)
    # Late arrivals (redelivery after an outage, or the events a health report announced)
    # fill gaps noticed in earlier batches.
    tracked.update(forget(db, late))
    return tracked


def forget(db: Connection, gone: Mapping[GatewayKey, Sequence[SeqRange]]) -> Tracked:
    """Remove, per gateway, `gone` ranges from the missing ones: they arrived, or were
    reported dropped. The ids of gap alerts left without a missing range, and the lowest
    number each of those gateways still misses (no high marks: `forget` reads none)."""
    gone = {key: ranges for key, ranges in gone.items() if ranges}
    forgotten = Tracked()
    if not gone:
        return forgotten
    lowest = forgotten.lowest_missing
    for key in gone:
        lowest[key] = None
    among, stations = db.among(sorted({sid for sid, _ in gone}))
    deleted: list[tuple[int]] = []
    inserted: list[tuple[str, str, int, int, float, int | None]] = []
    touched: set[int] = set()
    for row_id, sid, gid, low, high, noticed_at, alert_id in db.execute(
        "SELECT id, station_id, gateway_id, first, last, noticed_at, alert_id FROM seq_missing "
        f"WHERE station_id {among}",
        stations,
    ).fetchall():
        left = remove((low, high), gone.get((sid, gid), ()))
        if (sid, gid) in lowest and left:
            least = lowest[(sid, gid)]
            first_left = min(first for first, _ in left)
            lowest[(sid, gid)] = first_left if least is None else min(least, first_left)
        if left == [(low, high)]:
            continue
        deleted.append((row_id,))
        inserted += [(sid, gid, first, last, noticed_at, alert_id) for first, last in left]
        if alert_id is not None:
            touched.add(int(alert_id))
    db.executemany("DELETE FROM seq_missing WHERE id = ?", deleted)
    db.insert_rows(_LEFT, inserted)
    if not touched:
        return forgotten
    among, alert_ids = db.among(sorted(touched))
    still_open = {
        int(row[0])
        for row in db.execute(
            f"SELECT DISTINCT alert_id FROM seq_missing WHERE alert_id {among}", alert_ids
        ).fetchall()
    }
    forgotten.emptied = touched - still_open
    return forgotten


def stored_marks(db: Connection, keys: Iterable[GatewayKey]) -> dict[GatewayKey, int]:
    """Per gateway of `keys` that has a baseline: the highest number up to which every
    event from the baseline on is stored (or was reported dropped)."""
    wanted = set(keys)
    if not wanted:
        return {}
    return {
        key: stored_through(high, lowest) for key, (high, lowest) in _marks_read(db, wanted).items()
    }


def _marks_read(
    db: Connection, keys: Iterable[GatewayKey]
) -> dict[GatewayKey, tuple[int, int | None]]:
    """Per gateway of `keys` with a baseline: its high mark and lowest missing number."""
    wanted = set(keys)
    among, stations = db.among(sorted({sid for sid, _ in wanted}))
    rows = db.execute(
        "SELECT h.station_id, h.gateway_id, h.high, (SELECT min(m.first) FROM seq_missing m "
        "WHERE m.station_id = h.station_id AND m.gateway_id = h.gateway_id) "
        f"FROM seq_high h WHERE h.station_id {among}",
        stations,
    ).fetchall()
    return {
        (sid, gid): (int(high), None if first is None else int(first))
        for sid, gid, high, first in rows
        if (sid, gid) in wanted
    }


def _first_of(ranges: Sequence[SeqRange]) -> int | None:
    return min(first for first, _ in ranges) if ranges else None


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
