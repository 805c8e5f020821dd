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
only the pipe around it. A batch that fails comes back with the failure told apart
(`dashboard.storage.failures`): the database unavailable, or refusing the data. The
pipeline retries the first and splits the batch on the second until it finds the message
the database refuses, which it then sends alone with `refused` set, to be quarantined
with the database's words.
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
from typing import Any, NamedTuple

from pydantic import ValidationError

from contract.codec import MAX_PAYLOAD_BYTES, Decoded, Rejected, decode, suspicious
from contract.maintenance_payloads import ConfigReport, Health
from contract.payloads import Availability, CommandReply, EventPayload
from contract.topics import TopicAddress, parse_topic
from dashboard.core.changes import AlertThresholds, BatchResult
from dashboard.ingest.batch import record
from dashboard.storage import quarantine
from dashboard.storage.db import Database
from dashboard.storage.failures import WriteFailure, classify, describe
from dashboard.storage.migrations import open_database
from dashboard.storage.quarantine import Quarantined

log = logging.getLogger(__name__)


class RawMessage(NamedTuple):
    """A message as the writer needs it."""

    topic: str
    payload: bytes
    retained: bool = False
    """The broker sent a copy it kept (on subscribing), not the message as published."""


REFUSED = "refused_by_database"
"""The quarantine code of a message that passed validation but that the database refused."""

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
    quarantined, or what kept it from committing (with the writer's traceback)."""

    result: BatchResult | None = None
    quarantined: list[QuarantineNote] = field(default_factory=list)
    failure: WriteFailure | None = None
    traceback: str = ""


class WriteFailedError(RuntimeError):
    """The batch was not committed; `failure` says why and whether the database was
    unavailable, the message adds the writer's traceback."""

    def __init__(self, failure: WriteFailure, detail: str = "") -> None:
        super().__init__(f"{failure.reason}\n{detail}" if detail else failure.reason)
        self.failure = failure


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
    database: Database,
    thresholds: AlertThresholds,
    messages: Sequence[RawMessage],
    refused: str | None = None,
) -> WriteOutcome:
    """Validate every message and store the batch in one transaction (`batch.record`):
    events, availability, health and config reports to their tables, everything else to the
    quarantine with its reason. With `refused` (the database's words), quarantine every
    message as refused by the database instead."""
    if refused is not None:
        return _quarantine_refused(database, thresholds, messages, refused)
    messages = _without_known_retained(database, messages)
    accepted: list[EventPayload | Availability | Health | ConfigReport] = []
    quarantined: list[Quarantined] = []
    notes: list[QuarantineNote] = []
    texts: dict[str, str] = {}
    replies: list[CommandReply] = []
    for topic, payload, retained in messages:
        result = fast_decode(topic, payload) or decode(topic, payload)
        if isinstance(result, Rejected):
            quarantined.append(Quarantined(result.topic, result.code, result.reason, payload))
            notes.append(QuarantineNote(result.topic, result.code, result.reason))
            continue
        decoded = result.payload
        if isinstance(decoded, Availability) and retained:
            # A retained birth went out when the gateway connected, maybe hours ago: its
            # clock reading says nothing about how far the gateway's clock is off now.
            decoded = decoded.model_copy(update={"at": None})
        if isinstance(decoded, EventPayload | Availability | Health | ConfigReport):
            accepted.append(decoded)
        elif isinstance(decoded, CommandReply):
            replies.append(decoded)
        if isinstance(decoded, EventPayload):
            # Valid UTF-8 JSON, or it would not have passed validation.
            texts[decoded.event_id] = payload.decode()
    if not accepted and not quarantined and not replies:
        return WriteOutcome()
    return WriteOutcome(record(database, thresholds, accepted, quarantined, texts, replies), notes)


def _without_known_retained(
    database: Database, messages: Sequence[RawMessage]
) -> Sequence[RawMessage]:
    """The messages but for retained copies of what the quarantine holds already: the
    broker hands a retained message to every new subscription, and a bad one would
    otherwise be quarantined again at every restart of the central."""
    retained = [(m.topic, m.payload) for m in messages if m.retained]
    if not retained:
        return messages
    with database.connection() as db:
        known = quarantine.kept_already(db, retained)
    if not known:
        return messages
    log.info("%d retained message(s) quarantined before: not kept again", len(known))
    return [m for m in messages if not (m.retained and (m.topic, m.payload) in known)]


def _quarantine_refused(
    database: Database, thresholds: AlertThresholds, messages: Sequence[RawMessage], why: str
) -> WriteOutcome:
    reason = f"storing it failed: {why}"
    kept = [Quarantined(m.topic, REFUSED, reason, m.payload) for m in messages]
    notes = [QuarantineNote(m.topic, REFUSED, reason) for m in messages]
    return WriteOutcome(record(database, thresholds, [], kept), notes)


def _failed(error: BaseException) -> WriteOutcome:
    return WriteOutcome(failure=classify(error), traceback=traceback.format_exc())


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
    except Exception as error:
        conn.send(_failed(error))
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
            rows, refused = batch
            messages = [RawMessage._make(row) for row in rows]
            try:
                outcome = write_batch(database, thresholds, messages, refused)
            except Exception as error:
                outcome = _failed(error)
            conn.send(outcome)
    finally:
        stop.set()
        checkpoints.join(timeout=30)
        try:
            database.checkpoint()
        except Exception as error:
            # The log stays beside the file and is copied at the next start.
            log.warning("the last checkpoint failed: %s", describe(error))
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
            raise WriteFailedError(
                WriteFailure(True, f"the ingest writer did not start in {START_TIMEOUT_S:g} s")
            )
        ready: WriteOutcome = parent.recv()
        if ready.failure is not None:
            self.stop()
            why = ready.failure
            raise WriteFailedError(
                WriteFailure(
                    why.unavailable, f"the ingest writer could not open the database: {why.reason}"
                ),
                ready.traceback,
            )

    def write(self, messages: Sequence[RawMessage], refused: str | None = None) -> WriteOutcome:
        """Write one batch (`write_batch`); raises `WriteFailedError` if it was not
        committed. A child that died is replaced on the next call."""
        if self._conn is None or not self._process.is_alive():
            self.stop()
            self.start()
        assert self._conn is not None
        try:
            # As plain tuples: pickling a named tuple costs a reduce call per message,
            # several times the cost of the tuple itself, on both sides of the pipe.
            self._conn.send(([tuple(m) for m in messages], refused))
            outcome: WriteOutcome = self._conn.recv()
        except (EOFError, OSError) as error:
            code = self._process.exitcode if self._process is not None else None
            self.stop()
            # Not the database's doing, maybe a message's: the writer crashed on it, or
            # was killed. Either way the batch is written again, split if it fails again.
            raise WriteFailedError(
                WriteFailure(False, f"the ingest writer died (exit code {code})")
            ) from error
        if outcome.failure is not None:
            raise WriteFailedError(outcome.failure, outcome.traceback)
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
