"""The live stream's fan-out: ingest and checks publish changes, each subscriber gets a copy.

Publishing never blocks ingest: every subscriber has a bounded queue on its event loop,
filled with `call_soon_threadsafe`; a subscriber that falls `MAX_BACKLOG` messages
behind is cut off (its client reconnects and reloads), rather than slowing anyone else.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from dashboard.core.changes import BatchResult
from dashboard.web.live_messages import (
    KIND_OF,
    Change,
    Overflow,
    Snapshot,
    changes_of,
    event_text,
)

MAX_BACKLOG = 10_000


@dataclass(eq=False)
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[str | None]
    kinds: frozenset[str] | None
    stations: frozenset[str] | None
    dropped: bool = False


@dataclass
class LiveHub:
    """Occupancy, door, alert and gateway changes, as server-sent events."""

    _subscribers: set[_Subscriber] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    published: int = 0

    @property
    def subscribers(self) -> int:
        """How many streams are open."""
        with self._lock:
            return len(self._subscribers)

    def publish_changes(self, batch: BatchResult) -> list[tuple[str, str | None, str]]:
        """Send every change of a committed batch, check or correction; from any thread.
        The messages as sent, (kind, station id, text), for other replicas' streams."""
        sent = [(KIND_OF[type(c)], c.station_id, event_text(c)) for c in changes_of(batch)]
        self.publish_texts(sent)
        return sent

    def publish_texts(self, messages: list[tuple[str, str | None, str]]) -> None:
        """Send messages another replica relayed, as `publish_changes` returned them."""
        for kind, station_id, text in messages:
            self.publish_text(kind, station_id, text)

    def publish(self, change: Change) -> None:
        """Send one change to every interested subscriber; from any thread."""
        self.publish_text(KIND_OF[type(change)], change.station_id, event_text(change))

    def publish_text(self, kind: str, station_id: str | None, text: str) -> None:
        """Send a change already written as a server-sent event (one another replica
        relayed) to every interested subscriber; from any thread."""
        with self._lock:
            targets = list(self._subscribers)
            self.published += 1
        for sub in targets:
            if sub.kinds is not None and kind not in sub.kinds:
                continue
            if sub.stations is not None and station_id not in sub.stations:
                continue
            try:
                sub.loop.call_soon_threadsafe(self._offer, sub, text)
            except RuntimeError:
                # Its loop has closed: the client is gone.
                self._remove(sub)

    def _offer(self, sub: _Subscriber, text: str) -> None:
        if sub.dropped:
            return
        if sub.queue.qsize() >= MAX_BACKLOG:
            sub.dropped = True
            sub.queue.put_nowait(None)
            return
        sub.queue.put_nowait(text)

    def _remove(self, sub: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    async def stream(
        self,
        kinds: frozenset[str] | None = None,
        stations: frozenset[str] | None = None,
        first: Snapshot | None = None,
        keepalive_s: float = 15.0,
    ) -> AsyncIterator[str]:
        """Server-sent events for one client, starting with the `first` snapshot."""
        sub = _Subscriber(asyncio.get_running_loop(), asyncio.Queue(), kinds, stations)
        with self._lock:
            self._subscribers.add(sub)
        try:
            # A comment line first, so the client sees the stream is open at once.
            yield ": yizhan live stream\nretry: 2000\n\n"
            if first is not None:
                yield event_text(first)
            while True:
                try:
                    text = await asyncio.wait_for(sub.queue.get(), keepalive_s)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if text is None:
                    yield event_text(Overflow())
                    return
                yield text
        finally:
            self._remove(sub)
