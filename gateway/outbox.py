"""The gateway's durable outbox: every event is on disk before it is published.

An event enters with `append`, is marked sent when the broker acknowledges it (`sent`),
and leaves only when the central says it has stored it (`confirm`, from the central's
retained `stored/1` mark): a broker that crashes before saving what it acknowledged
loses nothing that way, because the gateway still has it and publishes it again.
Appends, acknowledgements and marks are gathered for `batch_window_s` and written in one
SQLite (WAL) transaction, so a burst at the door costs one disk sync rather than one
per event, which spares the SD card. The outbox also keeps the gateway's next sequence
number, so numbering goes on across restarts and power cuts instead of starting at 1.

The outbox is bounded: past `max_bytes` it deletes the oldest events of the least
important kind first (telemetry, then door and crossing changes, and access and alarm
events only when nothing else is left), and writes a drop report in the same
transaction, so a drop is never silent. Until a central has confirmed anything (an
older central never does), events the broker acknowledged count as delivered, as they
did before marks existed: at the ceiling those go first, silently, so that such a
gateway stays within its ceiling without reporting drops of delivered events.

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
    size INTEGER NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_by_priority ON outbox (priority, id);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_INDEXES = """
CREATE INDEX IF NOT EXISTS outbox_by_seq ON outbox (seq);
"""
"""Made after the upgrade of an older outbox file, which first gains the `sent` column."""

TELEMETRY_KINDS = frozenset({"presence", "health"})
CRITICAL_KINDS = frozenset({"access", "alarm", "face_pairing"})
REPORT_KIND = "dropped"


def priority_of(kind: str) -> int:
    """Higher survives longer: telemetry 0, door and crossing 1, access, alarm and face
    pairing (a consent record) 2,
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
    """Events held: waiting for the broker, or sent and waiting for the central's mark."""
    bytes: int
    next_seq: int
    dropped: int
    committed_batches: int
    unconfirmed: int
    """Events the broker acknowledged that the central has not confirmed storing."""
    confirmed_seq: int | None
    """The central's latest mark: every event up to it is stored (None: none heard yet)."""


class Outbox:
    """A SQLite outbox with a writer thread: `start()`, `append(...)`, `sent(id)`,
    `confirm(seq)`, `close()`."""

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
        self._add_sent_column()
        self._db.executescript(_INDEXES)
        self._db_lock = threading.Lock()
        self._next_seq = self._state("next_seq", 1)
        self._count_from_disk()
        self._dropped = self._state("dropped", 0)
        confirmed = self._state("confirmed", -1)
        self._confirmed: int | None = None if confirmed < 0 else confirmed
        self._batches = 0
        # Appends, acknowledgements and marks wait here until the writer takes them.
        self._changed = threading.Condition()
        self._buffer: list[PendingEvent] = []
        self._sent: set[int] = set()
        self._sent_in_flight: set[int] = set()
        self._confirm_to: int | None = None
        self._confirm_in_flight: int | None = None
        self._asked = 0
        """Appends, acknowledgements and marks handed in so far."""
        self._done = 0
        """How many of those the last commit had taken in."""
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
            self._asked += 1
            self._changed.notify_all()

    def sent(self, row_id: int) -> None:
        """The broker has this row; it is marked sent in the next commit. Any thread."""
        with self._changed:
            self._sent.add(row_id)
            self._asked += 1
            self._changed.notify_all()

    def confirm(self, seq: int) -> bool:
        """The central has stored every event up to `seq`: those rows are deleted in the
        next commit. Any thread. False, changing nothing, when `seq` is no news, or is
        beyond every number this outbox has given out: a mark from before the gateway's
        outbox was replaced, which would delete events the central never had."""
        with self._changed:
            if seq <= (self._mark() or 0):
                return False
            if seq >= self._next_seq:
                log.warning(
                    "ignored the central's mark %d: this gateway has numbered only %d events",
                    seq,
                    self._next_seq - 1,
                )
                return False
            self._confirm_to = seq
            self._asked += 1
            self._changed.notify_all()
        return True

    @property
    def confirmed_seq(self) -> int | None:
        """The central's latest mark, committed or about to be (None: none heard yet)."""
        with self._changed:
            return self._mark()

    @property
    def unconfirmed(self) -> int:
        """Events the broker has acknowledged and the central has not confirmed (as of
        the last commit)."""
        return self._unconfirmed

    def last_id(self) -> int:
        """The newest row's id (0 when empty)."""
        with self._db_lock:
            return int(self._db.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0])

    def _mark(self) -> int | None:
        marks = (self._confirmed, self._confirm_in_flight, self._confirm_to)
        return max((m for m in marks if m is not None), default=None)

    def flush(self, timeout: float) -> bool:
        """Block until everything appended, acknowledged and confirmed so far is
        committed (True) or `timeout` passes."""
        with self._changed:
            target = self._asked
            return self._changed.wait_for(lambda: self._done >= target, timeout)

    def wait_new_rows(self, timeout: float) -> bool:
        """Block until a commit has added rows since the last call (for the publisher)."""
        arrived = self._new_rows.wait(timeout)
        self._new_rows.clear()
        return arrived

    def pending(
        self, after_id: int, limit: int, include_sent: bool = False
    ) -> tuple[list[OutboxRow], int]:
        """Up to `limit` stored rows after `after_id`, oldest first, and the last id read.

        Rows the central has confirmed are left out. So are rows the broker acknowledged,
        unless `include_sent` (publishing again what the central still lacks); those
        left out still count in the last id, so a publisher that starts over skips them.
        """
        mark = self.confirmed_seq or 0
        with self._db_lock:
            rows = self._db.execute(
                "SELECT id, seq, topic, payload, sent FROM outbox WHERE id > ? AND seq > ? "
                "ORDER BY id LIMIT ?",
                (after_id, mark, limit),
            ).fetchall()
        with self._changed:
            skip = set() if include_sent else self._sent | self._sent_in_flight
        last = rows[-1][0] if rows else after_id
        return [
            OutboxRow(r[0], r[1], r[2], bytes(r[3]))
            for r in rows
            if include_sent or not (r[4] or r[0] in skip)
        ], last

    def stats(self) -> OutboxStats:
        """Counts for health reporting and tests."""
        confirmed = self.confirmed_seq
        with self._db_lock:
            return OutboxStats(
                self._pending_count,
                self._bytes,
                self._next_seq,
                self._dropped,
                self._batches,
                self._unconfirmed,
                confirmed,
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
                self._changed.wait_for(lambda: self._has_work() or self._closing)
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
                    if not self._has_work():
                        return

    def _has_work(self) -> bool:
        return bool(self._buffer or self._sent or self._confirm_to is not None)

    def _commit_pending(self) -> None:
        with self._changed:
            taken = self._asked
            batch, self._buffer = self._buffer, []
            sent, self._sent = self._sent, set()
            self._sent_in_flight = sent
            confirm_to, self._confirm_to = self._confirm_to, None
            self._confirm_in_flight = confirm_to
        try:
            with self._db_lock:
                drops = self._write(batch, sent, confirm_to)
        except BaseException:
            with self._changed:
                self._buffer[:0] = batch
                self._sent |= sent
                self._sent_in_flight = set()
                if confirm_to is not None and (self._confirm_to or 0) < confirm_to:
                    self._confirm_to = confirm_to
                self._confirm_in_flight = None
            raise
        with self._changed:
            self._sent_in_flight = set()
            if confirm_to is not None:
                self._confirmed = max(self._confirmed or 0, confirm_to)
            self._confirm_in_flight = None
            self._done = max(self._done, taken)
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

    def _write(
        self, batch: list[PendingEvent], sent: set[int], confirm_to: int | None
    ) -> DropSummary | None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            ids = list(sent)
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                marked = db.execute(
                    f"UPDATE outbox SET sent = 1 WHERE sent = 0 AND id IN ({marks})", chunk
                )
                self._unconfirmed += marked.rowcount
            if confirm_to is not None:
                freed = db.execute(
                    "DELETE FROM outbox WHERE seq <= ? RETURNING size, sent", (confirm_to,)
                ).fetchall()
                self._bytes -= sum(row[0] for row in freed)
                self._pending_count -= len(freed)
                self._unconfirmed -= sum(row[1] for row in freed)
                self._set_state("confirmed", confirm_to)
            next_seq = self._next_seq
            for event in batch:
                self._insert(event)
                next_seq = max(next_seq, event.seq + 1)
            confirming = confirm_to is not None or self._confirmed is not None
            drops = self._enforce_ceiling(confirming) if self._bytes > self.max_bytes else None
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
            self._count_from_disk()
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

    def _enforce_ceiling(self, confirming: bool) -> DropSummary | None:
        target = int(self.max_bytes * DROP_TARGET)
        if not confirming:
            self._release_sent(self._bytes - target)
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

    def _release_sent(self, excess: int) -> None:
        """Delete the oldest events the broker acknowledged, up to `excess` bytes, without
        a drop report: with no central confirming storage, that acknowledgement is all
        the delivery there is."""
        released: list[tuple[int, int]] = []
        for row_id, size in self._db.execute(
            "SELECT id, size FROM outbox WHERE sent = 1 ORDER BY id"
        ):
            if excess <= 0:
                break
            released.append((row_id, size))
            excess -= size
        self._db.executemany("DELETE FROM outbox WHERE id = ?", [(r,) for r, _ in released])
        self._bytes -= sum(size for _, size in released)
        self._pending_count -= len(released)
        self._unconfirmed -= len(released)
        if released:
            log.info(
                "outbox at its ceiling and no central confirms storage: released %d events "
                "the broker had acknowledged",
                len(released),
            )

    def _count_from_disk(self) -> None:
        db = self._db
        self._bytes = int(db.execute("SELECT total(size) FROM outbox").fetchone()[0])
        self._pending_count = int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        self._unconfirmed = int(
            db.execute("SELECT count(*) FROM outbox WHERE sent = 1").fetchone()[0]
        )

    def _add_sent_column(self) -> None:
        # Outbox files from before marks lack it; their rows count as not yet sent, so
        # they are published again and stay until the central confirms them.
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        if "sent" not in columns:
            self._db.execute("ALTER TABLE outbox ADD COLUMN sent INTEGER NOT NULL DEFAULT 0")

    def _state(self, key: str, default: int) -> int:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else int(row[0])

    def _set_state(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
