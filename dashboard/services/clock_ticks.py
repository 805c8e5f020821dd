"""The central's time for gateways: a `clock/1` tick every `clock.tick_s` seconds.

Gateways verify tokens, which the central's clock dates, against the central's time as
they estimate it from these ticks (`gateway/central_clock.py`), so a gateway whose own
clock is off still admits valid tokens. Ticks go out at QoS 0 and are never retained
(`contract.topics`): one that cannot be delivered at once is worth nothing later. Every
replica ticks; a gateway takes the best of what it hears, so no leader is needed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from contract.payloads import ClockTick, utc_now
from contract.topics import clock_topic

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], None]
"""Sends one message with its topic's QoS and retain flag (`contract.topics`)."""


class ClockTicker:
    """Publishes this replica's time every `interval_s` while the broker link is up."""

    def __init__(
        self,
        central_id: str,
        interval_s: float,
        publish: Publish,
        connected: Callable[[], bool],
    ) -> None:
        self._topic = clock_topic(central_id)
        self._central_id = central_id
        self._interval_s = interval_s
        self._publish = publish
        self._connected = connected
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clock", daemon=True)

    def start(self) -> None:
        """Tick in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._connected():
                # Nothing is queued while the link is down: a late tick misstates the time.
                self._stop.wait(0.1)
                continue
            try:
                tick = ClockTick(central_id=self._central_id, at=utc_now())
                self._publish(self._topic, tick.to_json())
            except Exception:
                log.exception("publishing the clock tick failed")
            self._stop.wait(self._interval_s)
