"""Ingest: validate every message from the broker, store it in batches, then acknowledge.

Messages arrive on paho's network thread and are only queued there; one writer thread
decodes them and commits each batch in a single transaction, so a burst costs one disk
sync per batch rather than one per event. Valid events and availability go to their
tables, anything that fails validation goes to the quarantine with its reason, in the
same transaction. Only after the commit are the messages acknowledged to the broker: a
central killed mid-batch has acknowledged nothing of it, and the broker delivers it again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from contract.codec import MAX_PAYLOAD_BYTES, Decoded, Rejected, decode
from contract.payloads import Availability, EventPayload
from contract.topics import parse_topic
from dashboard.metrics import IngestMetrics
from dashboard.store import BatchResult, Quarantined, Store
from yizhan.mqtt_link import Message

log = logging.getLogger(__name__)

MAX_BATCH = 1000
BATCH_WAIT_S = 0.02
"""How long the writer waits for more messages before committing a partial batch."""

RETRY_S = 1.0
"""How long to wait before writing a failed batch again."""

BatchListener = Callable[[BatchResult], None]
Acknowledge = Callable[[Sequence[Message]], None]

_STOP = object()


def fast_decode(topic: str, raw: bytes) -> Decoded | None:
    """The common case in one step: a valid payload parsed straight from its bytes by the
    model (about half the cost of `decode`). None for anything else, which `decode` then
    looks at again to name the exact reason."""
    address = parse_topic(topic)
    if address is None or len(raw) > MAX_PAYLOAD_BYTES:
        return None
    try:
        payload = address.spec.model.model_validate_json(raw)
    except ValidationError:
        return None
    if (
        getattr(payload, "station_id", address.station_id) != address.station_id
        or getattr(payload, "gateway_id", address.gateway_id) != address.gateway_id
    ):
        return None
    return Decoded(address, payload)


def _no_ack(messages: Sequence[Message]) -> None:
    """For an ingest whose link acknowledges by itself."""


class Ingest:
    """Queue in, store out. `submit` from any thread; `start()` and `stop()` the writer."""

    def __init__(
        self,
        store: Store,
        metrics: IngestMetrics,
        on_batch: BatchListener,
        acknowledge: Acknowledge = _no_ack,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._on_batch = on_batch
        self._acknowledge = acknowledge
        self._queue: queue.Queue[Message | object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._written = threading.Condition()
        self._stopping = threading.Event()

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    @property
    def running(self) -> bool:
        """True while the writer thread is alive."""
        return self._thread.is_alive()

    def submit(self, message: Message) -> None:
        """Hand over a message as received; returns at once."""
        self._queue.put(message)

    def stop(self) -> None:
        """Write what is queued, then end the writer thread."""
        self._stopping.set()
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def wait_idle(self, timeout: float) -> bool:
        """Block until everything submitted so far has been written (for tests and tools)."""
        with self._written:
            return self._written.wait_for(lambda: self._queue.unfinished_tasks == 0, timeout)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            stopping = batch[0] is _STOP
            while not stopping and len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get(timeout=BATCH_WAIT_S if len(batch) < 2 else 0)
                except queue.Empty:
                    break
                batch.append(item)
                stopping = item is _STOP
            messages = [item for item in batch if isinstance(item, Message)]
            try:
                self._write_until_committed(messages)
            finally:
                for _ in batch:
                    self._queue.task_done()
                with self._written:
                    self._written.notify_all()
            if stopping:
                return

    def _write_until_committed(self, messages: list[Message]) -> None:
        # A batch that cannot be committed (disk full, database locked) is retried, never
        # acknowledged: the broker keeps it, and the unacknowledged window stops it from
        # sending more meanwhile.
        while True:
            try:
                outcome = self._write(messages)
            except Exception:
                self._metrics.count_write_failure()
                log.exception("writing a batch of %d messages failed; retrying", len(messages))
                if self._stopping.wait(RETRY_S):
                    return
                continue
            self._acknowledge(messages)
            if outcome is not None:
                self._on_batch(outcome)
            return

    def _write(self, messages: list[Message]) -> BatchResult | None:
        accepted: list[EventPayload | Availability] = []
        quarantined: list[Quarantined] = []
        for message in messages:
            result = fast_decode(message.topic, message.payload) or decode(
                message.topic, message.payload
            )
            if isinstance(result, Rejected):
                log.warning("quarantined message on %s: %s", result.topic, result.reason)
                quarantined.append(
                    Quarantined(result.topic, result.code, result.reason, message.payload)
                )
            elif isinstance(result, Decoded) and isinstance(
                result.payload, EventPayload | Availability
            ):
                accepted.append(result.payload)
        if not accepted and not quarantined:
            return None
        outcome = self._store.record(accepted, quarantined)
        self._metrics.count_accepted(outcome.stored, outcome.duplicates)
        for item in quarantined:
            self._metrics.count_quarantined(item.code)
        return outcome
