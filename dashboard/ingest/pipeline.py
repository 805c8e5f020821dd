"""Ingest: validate every message from the broker, store it in batches, then acknowledge.

Messages arrive on paho's network thread and are only queued there. The ingest thread
takes them in batches and hands each to the writer process (`writer`), which
decodes them and commits the batch in a single transaction, so a burst costs one disk
sync per batch rather than one per event. Valid events and availability go to their
tables, anything that fails validation goes to the quarantine with its reason, in the
same transaction. Only after the commit are the messages acknowledged to the broker: a
central killed mid-batch has acknowledged nothing of it, and the broker delivers it again.

No message can stop the rest. A batch that fails is told apart
(`dashboard.storage.failures`): while the database is unavailable (down, unreachable,
locked, full, read-only) the same batch is retried with growing delays and nothing is
quarantined; when the database refuses the data, the batch is split in halves, and
halves again, each part committed on its own, until a message it refuses has failed
alone (and twice in all); that one is quarantined with the database's words. Each stretch of failing
or hanging writes is an outage (`outages`) for `/healthz` and the alerts.

Acknowledging a batch and publishing what it changed happen on a third thread, in commit
order, so the writer already stores the next batch meanwhile.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dashboard.core.alert_rules import AlertKind
from dashboard.core.changes import AlertThresholds, BatchResult
from dashboard.core.ingest_health import IngestState, is_stalled, stall_reason
from dashboard.ingest.metrics import IngestMetrics
from dashboard.ingest.outages import OutageLog
from dashboard.ingest.writer import RawMessage, WriteFailedError, WriterProcess
from dashboard.storage.db import Database
from servicekit.backoff import Backoff
from servicekit.mqtt_link import Message

log = logging.getLogger(__name__)

MAX_BATCH = 1000
BATCH_WAIT_S = 0.02
"""How long the ingest waits for more messages before writing a batch of one."""

RETRY_MIN_S = 0.2
RETRY_MAX_S = 5.0
"""Bounds of the growing, jittered delay before writing again to an unavailable database."""

REFUSALS_BEFORE_QUARANTINE = 2
"""How many refused writes a message must have been part of, the last one alone, before
it is quarantined: a refusal that came from a race with another replica's write (the same
event id stored at once) does not repeat."""

BatchListener = Callable[[BatchResult], None]
Acknowledge = Callable[[Sequence[Message]], None]

_Committed = tuple[list[Message], BatchResult | None]


class _StoppedBeforeCommitError(Exception):
    """The central stopped while a batch could not be committed."""


@dataclass(frozen=True, slots=True)
class _Part:
    """Messages of a batch to be committed together."""

    messages: list[Message]
    failures: int = 0
    """How many writes that included all of them the database has refused."""
    refused: str | None = None
    """Set when they are to be quarantined: what the database said."""


def _no_ack(messages: Sequence[Message]) -> None:
    """For an ingest whose link acknowledges by itself."""


class Ingest:
    """Queue in, store out. `submit` from any thread; `start()` and `stop()` the rest."""

    def __init__(
        self,
        database: Database,
        thresholds: AlertThresholds,
        metrics: IngestMetrics,
        on_batch: BatchListener,
        acknowledge: Acknowledge = _no_ack,
    ) -> None:
        self._writer = WriterProcess(database.url, thresholds)
        self._stall_after_s = thresholds.stall_after_s
        self._metrics = metrics
        self._on_batch = on_batch
        self._acknowledge = acknowledge
        # A deque under one condition rather than a queue.Queue: the ingest thread takes
        # a whole batch in one lock round instead of one per message. Each message comes
        # with when it arrived (monotonic), and keeps it until acknowledged.
        self._pending: deque[tuple[Message, float]] = deque()
        self._taken: deque[float] = deque()
        """When each message taken for writing and not yet acknowledged arrived."""
        self._changed = threading.Condition()
        self._unfinished = 0
        """Messages submitted and not yet acknowledged (or given up at stop)."""
        self._committed: queue.Queue[_Committed | None] = queue.Queue(maxsize=2)
        self._retry = Backoff(RETRY_MIN_S, RETRY_MAX_S)
        self.outages = OutageLog()
        """Storage failures and stalls, kept until the periodic checks record them."""
        self._judging = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._acker = threading.Thread(target=self._acknowledge_loop, name="ingest-ack")

    def start(self) -> None:
        """Start the writer process, then the threads that feed it and acknowledge."""
        self._writer.start()
        self._acker.start()
        self._thread.start()

    @property
    def running(self) -> bool:
        """True while both threads are alive (the ingest thread replaces a writer process
        that dies)."""
        return self._thread.is_alive() and self._acker.is_alive()

    @property
    def writer_pid(self) -> int | None:
        """The writer process's id while it runs."""
        return self._writer.pid

    def submit(self, message: Message) -> None:
        """Hand over a message as received; returns at once."""
        with self._changed:
            self._pending.append((message, time.monotonic()))
            self._unfinished += 1
            # The ingest thread waits for a first message, then briefly for a second
            # (`_next_batch`); beyond those it takes what is there when it comes back, and
            # waking it for every message of a burst only takes the GIL from this thread.
            if len(self._pending) <= 2:
                self._changed.notify_all()

    def stop(self) -> None:
        """Write and acknowledge what is queued, then end the threads and the writer."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        for thread in (self._thread, self._acker):
            if thread.is_alive():
                thread.join(timeout=30)
        self._writer.stop()

    def wait_idle(self, timeout: float) -> bool:
        """Block until everything submitted so far has been written and acknowledged
        (for tests and tools)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._unfinished == 0, timeout)

    def state(self) -> IngestState:
        """Where ingest stands now: its backlog, since when its oldest message waits, and
        its outages (a wait past `stall_after_s` with no write failing is one)."""
        # One caller at a time: two threads judging the stall at once could end it and
        # begin it again.
        with self._judging:
            now = time.time()
            with self._changed:
                backlog = self._unfinished
                oldest = self._oldest_arrival()
            oldest_at = None if oldest is None else now - max(0.0, time.monotonic() - oldest)
            self._settle_stall(oldest_at, now)
            outages = self.outages
            return IngestState(backlog, oldest_at, outages.unrecorded(), outages.ended_at)

    def _oldest_arrival(self) -> float | None:
        if self._taken:
            return self._taken[0]
        return self._pending[0][1] if self._pending else None

    def _settle_stall(self, oldest_at: float | None, now: float) -> None:
        failing = self.outages.ongoing(AlertKind.STORAGE_UNAVAILABLE) is not None
        if (
            oldest_at is not None
            and not failing
            and is_stalled(oldest_at, now, self._stall_after_s)
        ):
            self.outages.begin(
                AlertKind.INGEST_STALLED,
                stall_reason(oldest_at, self._stall_after_s),
                oldest_at + self._stall_after_s,
            )
        else:
            self.outages.end(AlertKind.INGEST_STALLED, now)

    def _next_batch(self) -> list[Message] | None:
        """Up to MAX_BATCH messages; waits a little for company when only one is there.
        None when stopping and nothing is left."""
        with self._changed:
            self._changed.wait_for(lambda: self._pending or self._stopping.is_set())
            if len(self._pending) == 1 and not self._stopping.is_set():
                self._changed.wait_for(lambda: len(self._pending) > 1, BATCH_WAIT_S)
            if not self._pending:
                return None
            batch = []
            for _ in range(min(len(self._pending), MAX_BATCH)):
                message, arrived = self._pending.popleft()
                batch.append(message)
                self._taken.append(arrived)
            return batch

    def _run(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                self._store(batch)
        except _StoppedBeforeCommitError:
            pass  # not acknowledged: the broker delivers the rest to the next start
        finally:
            self._committed.put(None)

    def _store(self, batch: list[Message]) -> None:
        """Commit the batch, in parts if the database refuses some of it; each part goes
        to the acknowledging thread once committed, in order."""
        parts = deque([_Part(batch)])
        while parts:
            part = parts.popleft()
            try:
                result = self._write(part)
            except WriteFailedError as error:
                self._metrics.count_write_failure()
                failure = error.failure
                if failure.unavailable or part.refused is not None:
                    # Not the data's fault (or the quarantine itself cannot be written):
                    # the same part again, later. The broker keeps the batch meanwhile,
                    # and its in-flight window stops it from sending more.
                    self._wait_before_retry(failure.reason, len(part.messages))
                    parts.appendleft(part)
                else:
                    log.warning(
                        "the database refused a part of %d messages; looking for the "
                        "message it refuses: %s",
                        len(part.messages),
                        failure.reason,
                    )
                    parts.extendleft(reversed(_narrowed(part, failure.reason)))
                continue
            self._retry.reset()
            with self._judging:
                self.outages.end(AlertKind.STORAGE_UNAVAILABLE, time.time())
            self._committed.put((part.messages, result))

    def _wait_before_retry(self, reason: str, count: int) -> None:
        with self._judging:
            self.outages.end(AlertKind.INGEST_STALLED, time.time())
            self.outages.begin(AlertKind.STORAGE_UNAVAILABLE, reason, time.time())
        delay = self._retry.next_delay()
        log.error("storing %d messages failed; trying again in %.1f s: %s", count, delay, reason)
        if self._stopping.wait(delay):
            raise _StoppedBeforeCommitError

    def _write(self, part: _Part) -> BatchResult | None:
        outcome = self._writer.write(
            [RawMessage(m.topic, m.payload, m.retain) for m in part.messages], part.refused
        )
        for note in outcome.quarantined:
            log.warning("quarantined message on %s: %s", note.topic, note.reason)
            self._metrics.count_quarantined(note.code)
        if outcome.result is not None:
            self._metrics.count_accepted(outcome.result.stored, outcome.result.duplicates)
            for gateway, request_id in outcome.result.unknown_replies:
                # A maintainer's own command, or one from a central that has forgotten it.
                log.info(
                    "reply from %s to request %r ignored: no command sent from here awaits it",
                    gateway,
                    request_id,
                )
        return outcome.result

    def _acknowledge_loop(self) -> None:
        while (committed := self._committed.get()) is not None:
            messages, result = committed
            try:
                self._acknowledge(messages)
                if result is not None:
                    self._on_batch(result)
            except Exception:
                log.exception("publishing the changes of a committed batch failed")
            finally:
                with self._changed:
                    for _ in messages:
                        self._taken.popleft()
                    self._unfinished -= len(messages)
                    self._changed.notify_all()


def _narrowed(part: _Part, reason: str) -> list[_Part]:
    """What to write instead of a part the database refused: its halves; a lone message
    once more; a lone message refused often enough, as a quarantine entry."""
    failures = part.failures + 1
    if len(part.messages) > 1:
        middle = len(part.messages) // 2
        return [
            _Part(part.messages[:middle], failures),
            _Part(part.messages[middle:], failures),
        ]
    if failures < REFUSALS_BEFORE_QUARANTINE:
        return [_Part(part.messages, failures)]
    return [_Part(part.messages, failures, refused=reason)]
