"""Health telemetry: a retained `health/1` report every interval (30 s by default).

The report is published at QoS 1 and retained, so a maintainer who subscribes sees the
last one at once. The broker round trip is the time from handing a report to the link to
the broker's acknowledgement; each report carries the one measured for the report
before it. A door or presence change asks for an early report (at most one a second), so
Home Assistant entities built on this topic follow the door within a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from contract.maintenance_payloads import Health
from servicekit.mqtt_link import MqttLink

log = logging.getLogger(__name__)

MIN_GAP_S = 1.0
"""Early reports come at most this often."""


class HealthReporter:
    """Publishes `build()` on `topic` every `interval()` seconds, and soon after `poke()`."""

    def __init__(
        self,
        link: MqttLink,
        topic: str,
        build: Callable[[float | None], Health],
        interval: Callable[[], float],
    ) -> None:
        self._link = link
        self._topic = topic
        self._build = build
        self._interval = interval
        self._stop = threading.Event()
        self._poked = threading.Event()
        self._rtt_ms: float | None = None
        self._last_sent = 0.0
        self.published = 0
        self._thread = threading.Thread(target=self._run, name="health", daemon=True)

    def start(self) -> None:
        """Start reporting (the first report goes out once connected)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop reporting."""
        self._stop.set()
        self._poked.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def poke(self) -> None:
        """Something a dashboard shows changed: report soon."""
        self._poked.set()

    def publish_now(self) -> None:
        """Build and publish one report."""
        report = self._build(self._rtt_ms)
        sent = time.monotonic()
        self._last_sent = sent

        def acked() -> None:
            self._rtt_ms = round((time.monotonic() - sent) * 1000, 1)

        self._link.publish_acked(self._topic, report.to_json(), acked)
        self.published += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._link.connected:
                self._link.wait_connected(1.0)
                continue
            # Cleared before the report is built: a change that comes while it is being
            # built asks for the next one instead of being forgotten.
            self._poked.clear()
            try:
                self.publish_now()
            except Exception:  # a report that cannot be built must not end the reporting
                log.exception("health report failed")
            deadline = self._last_sent + self._interval()
            while not self._stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if self._poked.wait(remaining):
                    # An early report, but never more than one per MIN_GAP_S.
                    self._stop.wait(max(0.0, self._last_sent + MIN_GAP_S - time.monotonic()))
                    break
