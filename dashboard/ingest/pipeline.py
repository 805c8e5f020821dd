"""Ingest: validate every message from the broker, store it in batches, then acknowledge.

Messages arrive on paho's network thread and are only queued there. The ingest thread
takes them in batches and hands each to the writer process (`writer`), which
decodes them and commits the batch in a single transaction, so a burst costs one disk
sync per batch rather than one per event. Valid events and availability go to their
tables, anything that fails validation goes to the quarantine with its reason, in the
same transaction. Only after the commit are the messages acknowledged to the broker: a
central killed mid-batch has acknowledged nothing of it, and the broker delivers it again.

Acknowledging a batch and publishing what it changed happen on a third thread, in commit
order, so the writer already stores the next batch meanwhile.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence

from dashboard.core.changes import AlertThresholds, BatchResult
from dashboard.ingest.metrics import IngestMetrics
from dashboard.ingest.writer import WriterProcess
from dashboard.storage.db import Database
from servicekit.mqtt_link import Message

log = logging.getLogger(__name__)

MAX_BATCH = 1000
BATCH_WAIT_S = 0.02
"""How long the ingest waits for more messages before writing a batch of one."""

RETRY_S = 1.0
"""How long to wait before writing a failed batch again."""

BatchListener = Callable[[BatchResult], None]
Acknowledge = Callable[[Sequence[Message]], None]

_Committed = tuple[list[Message], BatchResult | None]


class _StoppedBeforeCommitError(Exception):
    """The central stopped while a batch could not be committed."""


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
        self._metrics = metrics
        self._on_batch = on_batch
        self._acknowledge = acknowledge
        # A deque under one condition rather than a queue.Queue: the ingest thread takes
        # a whole batch in one lock round instead of one per message.
        self._pending: deque[Message] = deque()
        self._changed = threading.Condition()
        self._unfinished = 0
        """Messages submitted and not yet acknowledged (or given up at stop)."""
        self._committed: queue.Queue[_Committed | None] = queue.Queue(maxsize=2)
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
            self._pending.append(message)
            self._unfinished += 1
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

    def _next_batch(self) -> list[Message] | None:
        """Up to MAX_BATCH messages; waits a little for company when only one is there.
        None when stopping and nothing is left."""
        with self._changed:
            self._changed.wait_for(lambda: self._pending or self._stopping.is_set())
            if len(self._pending) == 1 and not self._stopping.is_set():
                self._changed.wait_for(lambda: len(self._pending) > 1, BATCH_WAIT_S)
            if not self._pending:
                return None
            count = min(len(self._pending), MAX_BATCH)
            return [self._pending.popleft() for _ in range(count)]

    def _run(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                self._committed.put((batch, self._write_until_committed(batch)))
        except _StoppedBeforeCommitError:
            pass  # not acknowledged: the broker delivers the batch to the next start
        finally:
            self._committed.put(None)

    def _write_until_committed(self, messages: list[Message]) -> BatchResult | None:
        """The batch's result once committed (None when it changed nothing)."""
        # A batch that cannot be committed (disk full, database locked) is retried, never
        # acknowledged: the broker keeps it, and the unacknowledged window stops it from
        # sending more meanwhile.
        while True:
            try:
                return self._write(messages)
            except Exception as error:
                self._metrics.count_write_failure()
                log.error(
                    "writing a batch of %d messages failed; retrying: %s", len(messages), error
                )
                if self._stopping.wait(RETRY_S):
                    raise _StoppedBeforeCommitError from error

    def _write(self, messages: list[Message]) -> BatchResult | None:
        outcome = self._writer.write([(m.topic, m.payload) for m in messages])
        for note in outcome.quarantined:
            log.warning("quarantined message on %s: %s", note.topic, note.reason)
            self._metrics.count_quarantined(note.code)
        if outcome.result is not None:
            self._metrics.count_accepted(outcome.result.stored, outcome.result.duplicates)
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
                    self._unfinished -= len(messages)
                    self._changed.notify_all()
