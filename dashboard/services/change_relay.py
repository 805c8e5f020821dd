"""The live stream across replicas: what one replica committed, every other one shows.

Each replica's live stream is fed by the changes its own batches, checks and corrections
made. With several replicas on one PostgreSQL database, an operator's browser talks to
one of them, and the entry another replica stored first (the others found it already
there) would never reach that browser. So every replica sends the live messages of its
own changes to the others with PostgreSQL's `NOTIFY` on channel `yizhan_changes`, and
listens there for theirs (`LISTEN`, on a connection of its own). A notification carries
`{"from": central_id, "items": [[kind, station_id, text], ...]}`, the server-sent events
exactly as the sender's own stream wrote them, split so each stays under the server's
8,000-byte limit.

The relay is best-effort, as the live stream is: a notification lost while a connection
is down is not sent again (a browser that reconnects loads a fresh snapshot, and the map
rereads every minute). Sending happens on a thread of its own, so a slow database never
holds up the acknowledgements of ingest. On SQLite there is one replica, and nothing to
relay.

A replica alone on its database sends nothing, and the central then writes out no live
message that no browser of its own asked for: a burst's entries cost JSON and
notifications that nobody would read. Each listening connection is named
`yizhan-relay` (`application_name`); the sending thread counts them every
`LOOK_EVERY_S`, and a replica that starts listening says hello on the channel, so the
others relay to it from then on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from servicekit.backoff import Backoff

log = logging.getLogger(__name__)

CHANNEL: Final = "yizhan_changes"
MAX_PAYLOAD_BYTES: Final = 7_900
"""Under PostgreSQL's 8,000-byte limit for a notification's payload."""
MAX_WAITING: Final = 1_000
"""Sends waiting for the sending thread; beyond it they are dropped, counted."""
APPLICATION_NAME: Final = "yizhan-relay"
"""The listening connections' `application_name`, by which a replica sees the others."""
LOOK_EVERY_S: Final = 5.0
"""How often a replica looks whether other replicas listen."""

Item = tuple[str, str | None, str]
"""A live message: its kind, its station (if any), the server-sent event's text."""


def payloads(central_id: str, items: Sequence[Item]) -> list[str]:
    """The items as notification payloads of at most `MAX_PAYLOAD_BYTES` each; an item
    too large for one alone is left out (and logged)."""
    head = len(json.dumps({"from": central_id, "items": []}).encode())
    chunks: list[str] = []
    batch: list[Item] = []
    size = head
    for item in items:
        # The item as it appears in the payload, with the ", " before it.
        item_size = len(json.dumps(item, ensure_ascii=False).encode()) + 2
        if head + item_size > MAX_PAYLOAD_BYTES:
            log.warning("live message of kind %s too large to relay (%d bytes)", item[0], item_size)
            continue
        if size + item_size > MAX_PAYLOAD_BYTES:
            chunks.append(_payload(central_id, batch))
            batch, size = [], head
        batch.append(item)
        size += item_size
    if batch:
        chunks.append(_payload(central_id, batch))
    return chunks


def _payload(central_id: str, items: list[Item]) -> str:
    return json.dumps({"from": central_id, "items": items}, ensure_ascii=False)


def read_payload(text: str) -> tuple[str, list[Item]]:
    """The sender and items of one notification; `ValueError` if it is not one."""
    data = json.loads(text)
    sender = data["from"]
    items = [
        (str(kind), None if sid is None else str(sid), str(t)) for kind, sid, t in data["items"]
    ]
    return str(sender), items


class ChangeRelay:
    """Sends this replica's live messages to the other replicas and hands theirs to
    `deliver`; does nothing on a database other than PostgreSQL."""

    def __init__(
        self, database_url: str, central_id: str, deliver: Callable[[list[Item]], None]
    ) -> None:
        self.database_url = database_url
        self.central_id = central_id
        self._deliver = deliver
        self.enabled = database_url.startswith(("postgresql://", "postgres://"))
        self._waiting: queue.Queue[list[Item] | None] = queue.Queue(MAX_WAITING)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._send_loop, name="relay-send", daemon=True),
            threading.Thread(target=self._listen_loop, name="relay-listen", daemon=True),
        ]
        self.listening = threading.Event()
        """Set while the listening connection is up (tests wait on it)."""
        self.dropped = 0
        """Sends dropped because the sending thread was too far behind."""
        self.received = 0
        self.others = False
        """Whether another replica listened when this one last looked (`LOOK_EVERY_S`):
        with none, a single central on PostgreSQL writes out and sends nothing."""
        # Every notification comes back to its sender too: its own are told by their
        # first bytes (`_payload` writes "from" first), without decoding a burst's worth.
        self._own = _payload(central_id, [])[: -len('"items": []}')]

    def start(self) -> None:
        """Start sending and listening (PostgreSQL only)."""
        if self.enabled:
            for thread in self._threads:
                thread.start()

    def stop(self) -> None:
        """Stop both threads; what waits to be sent is dropped."""
        self._stop.set()
        if not self.enabled:
            return
        with contextlib.suppress(queue.Full):
            self._waiting.put_nowait(None)
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=5)

    def send(self, items: list[Item]) -> None:
        """Relay these live messages to the other replicas; from any thread, never blocks."""
        if not self.wanted or not items:
            return
        try:
            self._waiting.put_nowait(items)
        except queue.Full:
            self.dropped += 1

    @property
    def wanted(self) -> bool:
        """Whether what this replica changes is worth writing out for the others."""
        return self.enabled and self.others

    def _connect(self, application_name: str = "yizhan") -> Any:
        import psycopg

        return psycopg.connect(
            self.database_url, autocommit=True, application_name=application_name
        )

    def _send_loop(self) -> None:
        conn: Any = None
        looked = 0.0
        while not self._stop.is_set():
            try:
                items = self._waiting.get(timeout=LOOK_EVERY_S)
            except queue.Empty:
                items = []
            if items is None:
                break
            try:
                if conn is None:
                    conn = self._connect()
                if time.monotonic() - looked >= LOOK_EVERY_S:
                    looked = time.monotonic()
                    self.others = self._listeners(conn) > 1
                for payload in payloads(self.central_id, items):
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
            except Exception as error:
                log.warning("live changes not relayed to other replicas: %s", error)
                _closed(conn)
                conn = None
        _closed(conn)

    def _listen_loop(self) -> None:
        backoff = Backoff(0.2, 5.0)
        while not self._stop.is_set():
            conn: Any = None
            try:
                conn = self._connect(APPLICATION_NAME)
                conn.execute(f"LISTEN {CHANNEL}")
                # Hello, with nothing in it: the others start relaying to this one at once.
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, _payload(self.central_id, [])))
                self.listening.set()
                backoff.connected()
                while not self._stop.is_set():
                    for notify in conn.notifies(timeout=0.5):
                        self._heard(notify.payload)
            except Exception as error:
                self.listening.clear()
                backoff.disconnected()
                log.warning("not hearing other replicas' live changes: %s", error)
                self._stop.wait(backoff.next_delay())
            finally:
                _closed(conn)
        self.listening.clear()

    @staticmethod
    def _listeners(conn: Any) -> int:
        """Replicas listening on this database now, this one's own listener included."""
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,),
        ).fetchone()
        return int(row[0])

    def _heard(self, payload: str) -> None:
        if payload.startswith(self._own):
            return
        try:
            sender, items = read_payload(payload)
        except (ValueError, KeyError, TypeError) as error:
            log.warning("ignored a notification on %s that is not a relay: %s", CHANNEL, error)
            return
        if sender == self.central_id:
            return
        self.others = True
        if items:
            self.received += 1
            self._deliver(items)


def _closed(conn: Any) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception as error:
            log.debug("closing a relay connection failed: %s", error)
