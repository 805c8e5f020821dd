"""The gateway's durable outbox: every event is on disk before it is published.

An event enters with `append` and leaves only when the broker has acknowledged it
(`acked`). Appends and acknowledgements are gathered for `batch_window_s` and written in
one SQLite (WAL) transaction, so a burst at the door costs one disk sync rather than one
per event, which spares the SD card. The outbox also keeps the gateway's next sequence
number, so numbering goes on across restarts and power cuts instead of starting at 1.

The outbox is bounded: past `max_bytes` it deletes the oldest events of the least
important kind first (telemetry, then door and crossing changes, and access and alarm
events only when nothing else is left), and writes a drop report in the same
transaction, so a drop is never silent.

What a crash can lose: appends still in the current batch window, which were never
published either. Everything committed survives `kill -9`; with `synchronous = "full"`
(the default) it survives a power cut too.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.config import OutboxSettings

log = logging.getLogger(__name__)

ROW_OVERHEAD_BYTES = 96
"""Rough per-row cost beyond the payload (keys, topic, page slack), counted against the ceiling."""

DROP_TARGET = 0.9
"""After a drop the outbox is brought down to this share of its ceiling, so that a full
outbox does not drop (and report) one event per batch."""

MAX_REPORTED_RANGES = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    priority INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_priority ON outbox (priority, id);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

TELEMETRY_KINDS = frozenset({"presence", "health"})
CRITICAL_KINDS = frozenset({"access", "alarm"})
REPORT_KIND = "dropped"


def priority_of(kind: str) -> int:
    """Higher survives longer: telemetry 0, door and crossing 1, access and alarm 2,
    drop reports 3 (never dropped)."""
    if kind == REPORT_KIND:
        return 3
    if kind in CRITICAL_KINDS:
        return 2
    if kind in TELEMETRY_KINDS:
        return 0
    return 1


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One stored event, ready to publish."""

    id: int
    seq: int
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event as handed to `append`, before it is committed."""

    seq: int
    kind: str
    topic: str
    payload: bytes


@dataclass(slots=True)
class DropSummary:
    """What one ceiling enforcement deleted."""

    count: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    seq_ranges: list[tuple[int, int]] = field(default_factory=list)
    truncated: bool = False

    def add(self, seq: int, kind: str) -> None:
        """Count one dropped event; consecutive sequence numbers merge into one range."""
        self.count += 1
        self.kinds[kind] += 1
        ranges = self.seq_ranges
        if ranges and ranges[-1][1] + 1 == seq:
            ranges[-1] = (ranges[-1][0], seq)
        elif len(ranges) < MAX_REPORTED_RANGES:
            ranges.append((seq, seq))
        else:
            self.truncated = True


ReportFactory = Callable[[DropSummary], PendingEvent]
"""Builds the drop-report event (stamped with the next sequence number)."""


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """How full the outbox is and what it has done since start."""

    pending: int
    bytes: int
    next_seq: int
    dropped: int
    committed_batches: int


class Outbox:
    """A SQLite outbox with a writer thread. `start()`, `append(...)`, `acked(id)`, `close()`."""

    def __init__(self, settings: OutboxSettings, report: ReportFactory | None = None) -> None:
        self.settings = settings
        self.max_bytes = int(settings.max_mb * 1024 * 1024)
        self._report = report
        if settings.path is None:
            log.warning(
                "outbox.path is not set: events wait in memory and are lost on restart; "
                "set it on a real gateway"
            )
        else:
            settings.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection serves the writer and the publisher's reads, under one lock: the
        # reads are small pages, and it lets an in-memory outbox work the same way.
        self._db = sqlite3.connect(
            ":memory:" if settings.path is None else settings.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=30,
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={settings.synchronous.upper()}")
        self._db.executescript(_SCHEMA)
        self._db_lock = threading.Lock()
        self._next_seq = self._state("next_seq", 1)
        self._bytes = int(self._db.execute("SELECT total(size) FROM outbox").fetchone()[0])
        self._pending_count = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        self._dropped = self._state("dropped", 0)
        self._batches = 0
        # Appends and acks wait here until the writer takes them.
        self._changed = threading.Condition()
        self._buffer: list[PendingEvent] = []
        self._acked: set[int] = set()
        self._acked_in_flight: set[int] = set()
        self._appended = 0
        self._committed = 0
        self._closing = False
        self._new_rows = threading.Event()
        self._writer = threading.Thread(target=self._run, name="outbox-writer", daemon=True)

    @property
    def next_seq(self) -> int:
        """The sequence number after the last one committed (1 for a new outbox)."""
        return self._next_seq

    def set_report_factory(self, report: ReportFactory) -> None:
        """Say how to build drop reports (before `start()`)."""
        self._report = report

    def start(self) -> None:
        """Start the writer thread."""
        self._writer.start()

    def append(self, event: PendingEvent) -> None:
        """Queue one event for the next commit; returns at once."""
        with self._changed:
            if self._closing:
                raise RuntimeError("outbox is closed")
            self._buffer.append(event)
            self._appended += 1
            self._changed.notify_all()

    def acked(self, row_id: int) -> None:
        """The broker has this row; it is deleted in the next commit. Any thread."""
        with self._changed:
            self._acked.add(row_id)
            self._changed.notify_all()

    def flush(self, timeout: float) -> bool:
        """Block until everything appended so far is committed (True) or `timeout` passes."""
        with self._changed:
            target = self._appended
            return self._changed.wait_for(lambda: self._committed >= target, timeout)

    def wait_new_rows(self, timeout: float) -> bool:
        """Block until a commit has added rows since the last call (for the publisher)."""
        arrived = self._new_rows.wait(timeout)
        self._new_rows.clear()
        return arrived

    def pending(self, after_id: int, limit: int) -> tuple[list[OutboxRow], int]:
        """Up to `limit` stored rows after `after_id`, oldest first, and the last id read.

        Rows acknowledged but not yet deleted are left out (yet counted in the last id),
        so a publisher that starts over does not send them again.
        """
        with self._db_lock:
            rows = self._db.execute(
                "SELECT id, seq, topic, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        with self._changed:
            skip = self._acked | self._acked_in_flight
        last = rows[-1][0] if rows else after_id
        return [OutboxRow(r[0], r[1], r[2], bytes(r[3])) for r in rows if r[0] not in skip], last

    def stats(self) -> OutboxStats:
        """Counts for health reporting and tests."""
        with self._db_lock:
            return OutboxStats(
                self._pending_count, self._bytes, self._next_seq, self._dropped, self._batches
            )

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, stop the writer and close the database."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        if self._writer.is_alive():
            self._writer.join(timeout)
        else:
            self._commit_pending()
        with self._db_lock:
            self._db.close()

    # --- writer ---------------------------------------------------------------------

    def _run(self) -> None:
        window = self.settings.batch_window_s
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._buffer or self._acked or self._closing)
                if not self._closing:
                    # Let the batch fill: a burst at the door becomes one transaction.
                    deadline = time.monotonic() + window
                    while not self._closing and (remaining := deadline - time.monotonic()) > 0:
                        self._changed.wait(remaining)
                closing = self._closing
            try:
                self._commit_pending()
            except sqlite3.Error:
                # A full or failing disk must not kill the writer; the batch is retried.
                log.exception("outbox commit failed; retrying")
                with self._changed:
                    self._changed.wait(1.0)
            if closing:
                with self._changed:
                    if not self._buffer and not self._acked:
                        return

    def _commit_pending(self) -> None:
        with self._changed:
            batch, self._buffer = self._buffer, []
            acked, self._acked = self._acked, set()
            self._acked_in_flight = acked
        try:
            with self._db_lock:
                drops = self._write(batch, acked)
        except BaseException:
            with self._changed:
                self._buffer[:0] = batch
                self._acked |= acked
                self._acked_in_flight = set()
            raise
        with self._changed:
            self._acked_in_flight = set()
            self._committed += len(batch)
            self._changed.notify_all()
        if batch:
            self._new_rows.set()
        if drops is not None:
            log.warning(
                "outbox above its ceiling of %d bytes: dropped %d events (%s)",
                self.max_bytes,
                drops.count,
                dict(drops.kinds),
            )

    def _write(self, batch: list[PendingEvent], acked: set[int]) -> DropSummary | None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if acked:
                ids = list(acked)
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    freed = db.execute(
                        f"DELETE FROM outbox WHERE id IN ({marks}) RETURNING size", chunk
                    ).fetchall()
                    self._bytes -= sum(row[0] for row in freed)
                    self._pending_count -= len(freed)
            next_seq = self._next_seq
            for event in batch:
                self._insert(event)
                next_seq = max(next_seq, event.seq + 1)
            drops = self._enforce_ceiling() if self._bytes > self.max_bytes else None
            if drops is not None and self._report is not None:
                report = self._report(drops)
                self._insert(report)
                next_seq = max(next_seq, report.seq + 1)
            if next_seq != self._next_seq:
                self._set_state("next_seq", next_seq)
            if drops is not None:
                self._set_state("dropped", self._dropped + drops.count)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            # Recount from disk: the in-memory totals may have moved inside the transaction.
            self._bytes = int(db.execute("SELECT total(size) FROM outbox").fetchone()[0])
            self._pending_count = int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
            raise
        self._next_seq = next_seq
        if drops is not None:
            self._dropped += drops.count
        self._batches += 1
        return drops

    def _insert(self, event: PendingEvent) -> None:
        size = len(event.payload) + len(event.topic) + ROW_OVERHEAD_BYTES
        self._db.execute(
            "INSERT INTO outbox (seq, kind, priority, topic, payload, size) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (event.seq, event.kind, priority_of(event.kind), event.topic, event.payload, size),
        )
        self._bytes += size
        self._pending_count += 1

    def _enforce_ceiling(self) -> DropSummary | None:
        target = int(self.max_bytes * DROP_TARGET)
        summary = DropSummary()
        victims: list[tuple[int, int, str, int]] = []
        excess = self._bytes - target
        # Least important first, oldest first within a priority; drop reports never.
        for row in self._db.execute(
            "SELECT id, seq, kind, size FROM outbox WHERE priority < 3 ORDER BY priority, id"
        ):
            if excess <= 0:
                break
            victims.append(row)
            excess -= row[3]
        if not victims:
            return None
        for row_id, seq, kind, size in sorted(victims, key=lambda v: v[1]):
            summary.add(seq, kind)
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            self._bytes -= size
            self._pending_count -= 1
        return summary

    def _state(self, key: str, default: int) -> int:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else int(row[0])

    def _set_state(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
