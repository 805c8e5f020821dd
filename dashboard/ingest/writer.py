"""The ingest writer: decodes a batch of raw messages and stores it, in a process of its own.

Receiving from the broker (paho, in Python) and decoding plus storing (pydantic, SQL) each
cost a core's worth of work at ten thousand events a second; in one process they take
turns on the interpreter lock and the central keeps up with less than half of what the
broker can deliver. So the ingest hands each batch to a child process, which owns its
own database connection, writes the batch in one transaction and answers with what
changed. The parent acknowledges the batch to the broker only after that answer: a child
that dies mid-batch has committed nothing that was acknowledged, and the batch is
written again by its successor.

`write_batch` is the whole job and runs the same in either process; `WriterProcess` is
only the pipe around it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from pydantic import ValidationError

from contract.codec import MAX_PAYLOAD_BYTES, Decoded, Rejected, decode, suspicious
from contract.maintenance_payloads import Health
from contract.payloads import Availability, EventPayload
from contract.topics import TopicAddress, parse_topic
from dashboard.core.changes import AlertThresholds, BatchResult
from dashboard.ingest.batch import record
from dashboard.storage.db import Database
from dashboard.storage.migrations import open_database
from dashboard.storage.quarantine import Quarantined

log = logging.getLogger(__name__)

RawMessage = tuple[str, bytes]
"""A message as the writer needs it: topic and payload bytes."""

CHECKPOINT_EVERY_S = 1.0
"""How often the writer copies its SQLite write-ahead log into the database file."""

START_TIMEOUT_S = 60.0
"""How long a new writer may take to open the database and say it is ready."""


@dataclass(frozen=True, slots=True)
class QuarantineNote:
    """One message the batch quarantined, for the parent's log and counters."""

    topic: str
    code: str
    reason: str


@dataclass(slots=True)
class WriteOutcome:
    """The answer to one batch: what changed (None when nothing was stored), what was
    quarantined, or the error that kept it from committing."""

    result: BatchResult | None = None
    quarantined: list[QuarantineNote] = field(default_factory=list)
    error: str | None = None


class WriteFailedError(RuntimeError):
    """The batch was not committed; the message says why (a traceback from the writer)."""


@functools.lru_cache(maxsize=65536)
def _address(topic: str) -> TopicAddress | None:
    # A few topics per gateway, each seen over and over: parse each once.
    return parse_topic(topic)


def fast_decode(topic: str, raw: bytes) -> Decoded | None:
    """The common case in one step: a valid payload parsed straight from its bytes by the
    model (about half the cost of `decode`). None for anything else, which `decode` then
    looks at again to name the exact reason."""
    address = _address(topic)
    if address is None or len(raw) > MAX_PAYLOAD_BYTES or suspicious(raw):
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


def write_batch(
    database: Database, thresholds: AlertThresholds, messages: Sequence[RawMessage]
) -> WriteOutcome:
    """Validate every message and store the batch in one transaction (`batch.record`):
    events, availability and health reports to their tables, everything else to the
    quarantine with its reason."""
    accepted: list[EventPayload | Availability | Health] = []
    quarantined: list[Quarantined] = []
    notes: list[QuarantineNote] = []
    texts: dict[str, str] = {}
    for topic, payload in messages:
        result = fast_decode(topic, payload) or decode(topic, payload)
        if isinstance(result, Rejected):
            quarantined.append(Quarantined(result.topic, result.code, result.reason, payload))
            notes.append(QuarantineNote(result.topic, result.code, result.reason))
        elif isinstance(result, Decoded) and isinstance(
            result.payload, EventPayload | Availability | Health
        ):
            accepted.append(result.payload)
            if isinstance(result.payload, EventPayload):
                # Valid UTF-8 JSON, or it would not have passed validation.
                texts[result.payload.event_id] = payload.decode()
    if not accepted and not quarantined:
        return WriteOutcome()
    return WriteOutcome(record(database, thresholds, accepted, quarantined, texts), notes)


def _checkpoint_loop(database: Database, stop: threading.Event) -> None:
    # SQLite would otherwise checkpoint inside whichever commit crosses the WAL's size
    # mark, a pause of tens of milliseconds every few batches; here it happens beside
    # the writes instead, and pages changed by several batches are copied once.
    while not stop.wait(CHECKPOINT_EVERY_S):
        try:
            database.checkpoint()
        except Exception:
            log.exception("checkpointing the database failed; trying again")


def _serve(conn: Connection, database_url: str, thresholds: AlertThresholds) -> None:
    """The child's loop: one batch in, one outcome out, until told to stop or orphaned."""
    try:
        database = open_database(database_url, autocheckpoint=False)
    except Exception:
        conn.send(WriteOutcome(error=traceback.format_exc()))
        return
    stop = threading.Event()
    checkpoints = threading.Thread(
        target=_checkpoint_loop, args=(database, stop), name="checkpoint", daemon=True
    )
    checkpoints.start()
    conn.send(WriteOutcome())
    try:
        while True:
            try:
                batch = conn.recv()
            except EOFError:
                return  # the parent is gone; nothing of ours is unacknowledged-and-lost
            if batch is None:
                return
            try:
                outcome = write_batch(database, thresholds, batch)
            except Exception:
                outcome = WriteOutcome(error=traceback.format_exc())
            conn.send(outcome)
    finally:
        stop.set()
        checkpoints.join(timeout=30)
        database.checkpoint()
        database.close()


def _context() -> Any:
    # A fork server forks each writer from a clean single-threaded process that has the
    # modules loaded already: quick to start, and none of the parent's threads or locks
    # (paho, uvicorn, logging) are copied into the child.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


class WriterProcess:
    """A child process running `write_batch` against `database_url`. Not thread-safe:
    one ingest thread talks to it."""

    def __init__(self, database_url: str, thresholds: AlertThresholds) -> None:
        self._database_url = database_url
        self._thresholds = thresholds
        self._process: Any = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (for diagnostics and tests)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the child and wait until it has opened the database."""
        context = _context()
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child, self._database_url, self._thresholds),
            name="ingest-writer",
            daemon=True,
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        if not parent.poll(START_TIMEOUT_S):
            self.stop()
            raise WriteFailedError(f"the ingest writer did not start in {START_TIMEOUT_S:g} s")
        ready = parent.recv()
        if ready.error is not None:
            self.stop()
            raise WriteFailedError(f"the ingest writer could not open the database:\n{ready.error}")

    def write(self, messages: Sequence[RawMessage]) -> WriteOutcome:
        """Write one batch; raises `WriteFailedError` if it was not committed. A child
        that died is replaced on the next call."""
        if self._conn is None or not self._process.is_alive():
            self.stop()
            self.start()
        assert self._conn is not None
        try:
            self._conn.send(list(messages))
            outcome: WriteOutcome = self._conn.recv()
        except (EOFError, OSError) as error:
            code = self._process.exitcode if self._process is not None else None
            self.stop()
            raise WriteFailedError(f"the ingest writer died (exit code {code})") from error
        if outcome.error is not None:
            raise WriteFailedError(outcome.error)
        return outcome

    def stop(self) -> None:
        """Ask the child to finish and wait for it; kill it if it does not."""
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(None)
            conn.close()
        if process is not None:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
