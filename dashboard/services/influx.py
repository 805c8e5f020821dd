"""Optional export of occupancy, visits and gateway health to an InfluxDB 2 write API.

Ingest only drops points into a bounded queue (`offer`, never blocks); one sender thread
takes up to `batch_size` of them at a time and writes them with influxdb-client. When
the server is down, the batch in hand is retried with growing delays (up to 30 s) while
new points keep queueing; when the queue is full the oldest points are dropped and
counted, so a long outage costs history, never ingest speed or memory.

Measurements (line protocol):

- `occupancy,station=ID,zone=Z count=N,capacity=C` — on every change;
- `visits,station=ID entries=N` — granted entries per ingest batch;
- `gateway,station=ID,gateway=GW online=1,clock_offset_s=X` — every gateway, every
  `health_interval_s`, and on every online change.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass

from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from dashboard.core.changes import BatchResult, GatewayRow
from dashboard.core.config import InfluxSettings

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_S = 30.0


@dataclass
class ExportCounters:
    """What the exporter has done since start."""

    written: int = 0
    dropped: int = 0
    failures: int = 0


class InfluxExport:
    """Points in from any thread, written to InfluxDB by one background thread."""

    def __init__(self, settings: InfluxSettings) -> None:
        assert settings.url is not None
        self.settings = settings
        self.counters = ExportCounters()
        self._queue: collections.deque[Point] = collections.deque()
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._client = InfluxDBClient(
            url=settings.url, token=settings.token, org=settings.org, timeout=10_000
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)
        self._thread = threading.Thread(target=self._run, name="influx-export", daemon=True)

    def start(self) -> None:
        """Start the sender thread."""
        self._thread.start()

    def stop(self, flush_timeout: float = 5.0) -> None:
        """Write what is queued (within `flush_timeout`), then stop."""
        deadline = time.monotonic() + flush_timeout
        with self._lock:
            self._lock.wait_for(lambda: not self._queue, timeout=flush_timeout)
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        self._thread.join(timeout=max(deadline - time.monotonic(), 0.1) + 1)
        self._client.close()

    @property
    def queued(self) -> int:
        """Points waiting to be written."""
        with self._lock:
            return len(self._queue)

    def offer(self, points: list[Point]) -> None:
        """Queue points; never blocks. The oldest are dropped when the buffer is full."""
        if not points:
            return
        with self._lock:
            self._queue.extend(points)
            over = len(self._queue) - self.settings.buffer_points
            for _ in range(max(over, 0)):
                self._queue.popleft()
            if over > 0:
                self.counters.dropped += over
            self._lock.notify_all()

    def batch(self, result: BatchResult) -> None:
        """Points for what one ingest batch (or check, or correction) changed."""
        now = time.time_ns()
        points = []
        for station_id, zones in result.zones.items():
            total, capacity = result.occupancy.get(station_id, (sum(zones.values()), None))
            for zone, count in zones.items():
                points.append(_occupancy(station_id, zone, count, None, now))
            points.append(_occupancy(station_id, "all", total, capacity, now))
        for station_id, entries in result.visits.items():
            points.append(
                Point("visits")
                .tag("station", station_id)
                .field("entries", entries)
                .time(now, WritePrecision.NS)
            )
        points += [gateway_point(row, now) for row in result.gateways]
        self.offer(points)

    def gateways(self, rows: list[GatewayRow]) -> None:
        """A health point for each gateway."""
        now = time.time_ns()
        self.offer([gateway_point(row, now) for row in rows])

    def _run(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            with self._lock:
                self._lock.wait_for(
                    lambda: bool(self._queue) or self._stopping.is_set(),
                    timeout=self.settings.flush_interval_ms / 1000,
                )
                batch = [
                    self._queue.popleft()
                    for _ in range(min(len(self._queue), self.settings.batch_size))
                ]
            while batch and not self._stopping.is_set():
                try:
                    self._write.write(
                        bucket=self.settings.bucket, org=self.settings.org, record=batch
                    )
                except Exception as exc:
                    self.counters.failures += 1
                    log.warning("InfluxDB write failed (%s); retrying in %.1f s", exc, delay)
                    self._stopping.wait(delay)
                    delay = min(delay * 2, MAX_RETRY_DELAY_S)
                    continue
                delay = 0.5
                with self._lock:
                    self.counters.written += len(batch)
                    self._lock.notify_all()
                batch = []
            if batch:
                # Stopping with a batch unwritten: put it back so `queued` tells the truth.
                with self._lock:
                    self._queue.extendleft(reversed(batch))


def _occupancy(station_id: str, zone: str, count: int, capacity: int | None, now: int) -> Point:
    point = Point("occupancy").tag("station", station_id).tag("zone", zone).field("count", count)
    if capacity is not None:
        point = point.field("capacity", capacity)
    return point.time(now, WritePrecision.NS)


def gateway_point(row: GatewayRow, now: int) -> Point:
    """One gateway's health as a point."""
    point = (
        Point("gateway")
        .tag("station", row.station_id)
        .tag("gateway", row.gateway_id)
        .field("online", int(row.online))
    )
    if row.clock_offset_s is not None:
        point = point.field("clock_offset_s", row.clock_offset_s)
    return point.time(now, WritePrecision.NS)
