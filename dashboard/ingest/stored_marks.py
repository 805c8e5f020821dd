"""The central's `stored/1` marks: per gateway, how far its events are stored, retained.

A gateway keeps every event until the central says it is stored, because the broker's
acknowledgement alone does not survive the broker's crash. The central says it with a
retained mark per gateway: the sequence number up to which every event is stored. The
batch that moved a mark hands it over here after its commit; each gateway's mark then
goes out at most once per `interval_s`, with its latest value, so a burst costs a
gateway a few marks rather than one per event or per batch. Publishing happens on a
thread of its own, so the thread that acknowledges batches never waits for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from contract.payloads import StoredMark, utc_now
from contract.topics import gateway_topic

log = logging.getLogger(__name__)

GatewayKey = tuple[str, str]
"""(station id, gateway id)."""

INTERVAL_S = 0.5
"""The most often one gateway's mark is published."""

Publish = Callable[[str, bytes], None]


class StoredMarks:
    """Coalesces marks from committed batches and publishes the latest of each gateway.
    `note` from any thread; `start()` and `stop()` the publishing thread."""

    def __init__(self, publish: Publish, interval_s: float = INTERVAL_S) -> None:
        self._publish = publish
        self._interval_s = interval_s
        self._waiting: dict[GatewayKey, int] = {}
        self._changed = threading.Condition()
        self._stopping = False
        self.published = 0
        """Marks published so far (for tests and metrics)."""
        self._thread = threading.Thread(target=self._run, name="stored-marks", daemon=True)

    def start(self) -> None:
        """Start publishing."""
        self._thread.start()

    def note(self, marks: Mapping[GatewayKey, int]) -> None:
        """Marks of a committed batch; each replaces what waits for its gateway."""
        if not marks:
            return
        with self._changed:
            self._waiting.update(marks)
            self._changed.notify_all()

    def stop(self) -> None:
        """Publish what waits, then end the thread."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._waiting or self._stopping)
                marks, self._waiting = self._waiting, {}
                stopping = self._stopping
            self._send(marks)
            if stopping:
                return
            # What arrives meanwhile is coalesced into the next round.
            with self._changed:
                self._changed.wait_for(lambda: self._stopping, self._interval_s)

    def _send(self, marks: Mapping[GatewayKey, int]) -> None:
        now = utc_now()
        for (station_id, gateway_id), seq in marks.items():
            mark = StoredMark(station_id=station_id, gateway_id=gateway_id, seq=seq, at=now)
            try:
                self._publish(gateway_topic(station_id, gateway_id, "stored"), mark.to_json())
            except Exception:  # one bad mark must not end the marks of every gateway
                log.exception("publishing the stored mark of %s/%s failed", station_id, gateway_id)
                continue
            self.published += 1
