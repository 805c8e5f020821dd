"""Gateway health reports (`health/1`) in, `sensor_faulty` alerts out.

Health reports take a path of their own beside the event ingest: they are state, not
events (nothing of them is stored but the alerts they open or resolve), and this keeps the
event hot path untouched. Like the ingest, a writer thread takes what arrived in batches,
applies a batch in one transaction, and only then acknowledges the messages to the broker,
so a central killed mid-batch judges those reports again after its restart. A report that
fails validation is quarantined with its reason, like any other message.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence

from contract.codec import Decoded, Rejected, decode
from contract.maintenance_payloads import Health
from dashboard.alerts import apply_device_health
from dashboard.metrics import IngestMetrics
from dashboard.store import BatchResult, Quarantined, Store
from yizhan.mqtt_link import Message

log = logging.getLogger(__name__)

MAX_BATCH = 500
RETRY_S = 1.0
_STOP = object()


class DeviceHealthIngest:
    """Queue in, alerts out. `submit` from any thread; `start()` and `stop()` the writer."""

    def __init__(
        self,
        store: Store,
        metrics: IngestMetrics,
        on_batch: Callable[[BatchResult], None],
        acknowledge: Callable[[Sequence[Message]], None],
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._on_batch = on_batch
        self._acknowledge = acknowledge
        self._queue: queue.Queue[Message | object] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-writer", daemon=True)

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def submit(self, message: Message) -> None:
        """Hand over a health message as received; returns at once."""
        self._queue.put(message)

    def stop(self) -> None:
        """Apply what is queued, then end the writer thread."""
        self._stopping.set()
        self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            # Whatever else is already waiting joins the batch; nothing waits for more.
            while batch[-1] is not _STOP and len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            messages = [item for item in batch if isinstance(item, Message)]
            if messages:
                self._apply_until_committed(messages)
            if batch[-1] is _STOP:
                return

    def _apply_until_committed(self, messages: list[Message]) -> None:
        # Not acknowledged until committed: the broker keeps what could not be applied.
        while True:
            try:
                result = self._apply(messages)
            except Exception:
                log.exception("applying %d health reports failed; retrying", len(messages))
                if self._stopping.wait(RETRY_S):
                    return
                continue
            self._acknowledge(messages)
            if result.alerts:
                self._on_batch(result)
            return

    def _apply(self, messages: list[Message]) -> BatchResult:
        reports: list[Health] = []
        quarantined: list[Quarantined] = []
        for message in messages:
            decoded = decode(message.topic, message.payload)
            if isinstance(decoded, Rejected):
                log.warning("quarantined message on %s: %s", decoded.topic, decoded.reason)
                quarantined.append(
                    Quarantined(decoded.topic, decoded.code, decoded.reason, message.payload)
                )
            elif isinstance(decoded, Decoded) and isinstance(decoded.payload, Health):
                reports.append(decoded.payload)
        result = BatchResult()
        if reports:
            with self._store.db.transaction() as db:
                result.alerts.extend(apply_device_health(db, reports))
        # After the alerts: applying reports again on a retry changes nothing, keeping a
        # rejected message twice would.
        if quarantined:
            # The store's own way of keeping rejected messages, with no events beside them.
            self._store.record([], quarantined)
            for item in quarantined:
                self._metrics.count_quarantined(item.code)
        return result
