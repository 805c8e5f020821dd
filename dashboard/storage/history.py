"""Occupancy history: one sample per station and minute, for the station page's chart.

Ingest never writes history itself. Every committed change already passes through the
service's one change listener; `OccupancyHistory.note` keeps the last and the highest
count of the current minute per station in memory, and `flush` (from the service's
periodic checks) writes the minutes that are over in one `executemany`. A burst of ten
thousand events a second therefore costs a dictionary update per changed station and
batch, and one small write a minute. A station whose count does not change writes
nothing: the chart carries the last sample forward.

What is lost if the central dies: the samples of the minute in progress (the counts
themselves are in the store). The rows obey the entries' retention purge (`purge`).
Table `occupancy_history`; nothing else writes it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from contract.payloads import format_utc
from dashboard.core.changes import BatchResult
from dashboard.storage.db import Connection, Database

DEFAULT_STEP_S = 60.0
"""One sample per station and minute at most."""


@dataclass(frozen=True, slots=True)
class Sample:
    """A station's count at the end of one step, and the highest it reached in it."""

    at: str
    occupancy: int
    peak: int
    capacity: int | None


@dataclass(slots=True)
class _Pending:
    occupancy: int
    peak: int
    capacity: int | None


class OccupancyHistory:
    """Counts per station and step, noted in memory and written once the step is over.

    Safe to share between threads: `note` runs on the ingest's acknowledging thread (and
    the API's, for corrections), `flush` on the periodic checks' thread.
    """

    def __init__(self, db: Database, step_s: float = DEFAULT_STEP_S) -> None:
        self.db = db
        self.step_s = step_s
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, int], _Pending] = {}

    def _step(self, now: float) -> int:
        return int(now // self.step_s)

    def note(self, batch: BatchResult, now: float | None = None) -> None:
        """Remember the new counts of a committed batch (in memory only)."""
        if not batch.occupancy:
            return
        step = self._step(time.time() if now is None else now)
        with self._lock:
            for station_id, (total, capacity) in batch.occupancy.items():
                key = (station_id, step)
                pending = self._pending.get(key)
                if pending is None:
                    self._pending[key] = _Pending(total, total, capacity)
                else:
                    pending.occupancy = total
                    pending.peak = max(pending.peak, total)
                    pending.capacity = capacity

    def flush(self, now: float | None = None, everything: bool = False) -> int:
        """Write the steps that are over (all of them with `everything`, at shutdown);
        how many samples were written."""
        current = self._step(time.time() if now is None else now)
        with self._lock:
            done = [key for key in self._pending if everything or key[1] < current]
            taken = {key: self._pending.pop(key) for key in done}
        if not taken:
            return 0
        rows = [
            (
                station_id,
                format_utc(datetime.fromtimestamp(step * self.step_s, UTC)),
                p.occupancy,
                p.peak,
                p.capacity,
            )
            for (station_id, step), p in sorted(taken.items())
        ]
        try:
            with self.db.transaction() as db:
                # A step written twice (a restart within the minute, or two replicas)
                # keeps the later count and the higher peak.
                db.executemany(
                    "INSERT INTO occupancy_history (station_id, at, occupancy, peak, capacity) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (station_id, at) DO UPDATE SET "
                    "occupancy = excluded.occupancy, capacity = excluded.capacity, "
                    "peak = CASE WHEN occupancy_history.peak > excluded.peak "
                    "THEN occupancy_history.peak ELSE excluded.peak END",
                    rows,
                )
        except Exception:
            # Not lost on a failed write: they go again with the next flush.
            with self._lock:
                for key, p in taken.items():
                    self._pending.setdefault(key, p)
            raise
        return len(rows)

    def samples(self, station_id: str, since: datetime, until: datetime) -> list[Sample]:
        """A station's samples from `since` to `until`, oldest first. The first one is the
        last sample before `since`, if any, moved to `since`: the count the range starts
        with."""
        start, end = format_utc(since), format_utc(until)
        with self.db.connection() as db:
            before = db.execute(
                "SELECT occupancy, capacity FROM occupancy_history "
                "WHERE station_id = ? AND at < ? ORDER BY at DESC LIMIT 1",
                (station_id, start),
            ).fetchone()
            rows = db.execute(
                "SELECT at, occupancy, peak, capacity FROM occupancy_history "
                "WHERE station_id = ? AND at >= ? AND at <= ? ORDER BY at",
                (station_id, start, end),
            ).fetchall()
        samples = [Sample(str(r[0]), int(r[1]), int(r[2]), r[3]) for r in rows]
        if before is not None and (not samples or samples[0].at != start):
            samples.insert(0, Sample(start, int(before[0]), int(before[0]), before[1]))
        return samples


def purge(db: Connection, cutoff: str) -> None:
    """Delete samples from before `cutoff` (inside the caller's transaction)."""
    db.execute("DELETE FROM occupancy_history WHERE at < ?", (cutoff,))
