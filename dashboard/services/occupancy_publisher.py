"""Retained station occupancy where replicas share the gateways' messages.

One central publishes each station's new count right after the batch that changed it:
its batches of a station follow each other, so its publications do too. Replicas that
share a station's messages commit its batches in turn, but publish afterwards, each on
its own connection to the broker, and a count published a moment late would overwrite a
newer one, left standing as the retained message that gateways and maps read.

So where replicas share, only the leader publishes (`dashboard.services.leader_lease`):
each replica marks the stations its batches changed, and the leader also those the
others changed (their live messages, `dashboard.services.change_relay`); the leader
reads each marked station's count from the database and publishes it, from one thread.
The last publication of a station follows its last change, so the retained count is
the stored one. A replica that becomes leader publishes every station once, for a
change its predecessor may not have published before it stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from contract.payloads import StationOccupancy, utc_now
from contract.topics import occupancy_topic
from dashboard.core.changes import OccupancyChange
from dashboard.storage.failures import describe

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], None]
"""Sends one message with its topic's QoS and retain flag (`contract.topics`)."""

CHUNK = 500
"""Stations read from the database at a time."""


def publish_counts(publish: Publish, changes: Iterable[OccupancyChange], at: datetime) -> int:
    """Publish each station's count as its retained `occupancy` message; how many."""
    sent = 0
    for change in changes:
        message = StationOccupancy(
            station_id=change.station_id,
            occupancy=change.occupancy,
            capacity=change.capacity,
            zones=change.zones,
            at=at,
        )
        publish(occupancy_topic(change.station_id), message.to_json())
        sent += 1
    return sent


class OccupancyPublisher:
    """Publishes the stored counts of marked stations while this replica leads."""

    def __init__(
        self,
        read: Callable[[Iterable[str]], list[OccupancyChange]],
        every_station: Callable[[], list[str]],
        publish: Publish,
        leading: Callable[[], bool],
    ) -> None:
        self._read = read
        self._every_station = every_station
        self._publish = publish
        self._leading = leading
        self._marked: set[str] = set()
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._led = False
        self.published = 0
        """Publications so far (for tests and metrics)."""
        self._thread = threading.Thread(target=self._run, name="occupancy-out", daemon=True)

    def start(self) -> None:
        """Publish in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Publish what is marked (while leading), then stop publishing."""
        self._stop.set()
        with self._wake:
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._wake:
            marked, self._marked = self._marked, set()
        if marked and self._led and self._leading():
            try:
                self._send(sorted(marked))
            except Exception as error:
                # The next leader publishes every station as it takes over.
                log.warning("occupancy not published at stop: %s", describe(error))

    def mark(self, station_ids: Iterable[str]) -> None:
        """These stations' counts changed: publish them (if this replica leads)."""
        with self._wake:
            before = len(self._marked)
            self._marked.update(station_ids)
            if len(self._marked) != before:
                self._wake.notify()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                # The lease is looked at every second, so a new leader publishes soon.
                self._wake.wait_for(lambda: self._marked or self._stop.is_set(), timeout=1.0)
                marked, self._marked = self._marked, set()
            leading = self._leading()
            if not leading:
                self._led = False
                continue
            try:
                if not self._led:
                    marked.update(self._every_station())
                self._led = True
                self._send(sorted(marked))
            except Exception as error:
                # Kept for the next round: the database or the broker may be back by then.
                self.mark(marked)
                log.warning("occupancy not published, tried again: %s", describe(error))
                self._stop.wait(1.0)

    def _send(self, station_ids: list[str]) -> None:
        for start in range(0, len(station_ids), CHUNK):
            changes = self._read(station_ids[start : start + CHUNK])
            self.published += publish_counts(self._publish, changes, utc_now())
