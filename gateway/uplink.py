"""The gateway's way to the broker: outbox → throttled publisher → MQTT link.

`Uplink.send` puts an event in the durable outbox and returns at once; a publisher thread
hands stored events to the link in order, at most `replay_rate` per second and at most
`window` unacknowledged, and deletes each from the outbox once the broker acknowledges
it. After an outage or a restart the backlog drains the same way, so a city's gateways
coming back together do not flood the broker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial

from contract.payloads import EventPayload
from contract.topics import event_kind_of, event_topic
from gateway import wire_events
from gateway.config import GatewaySettings
from gateway.events import EventStamper
from gateway.outbox import DropSummary, Outbox, PendingEvent
from servicekit.mqtt_link import MessageHandler, MqttLink, Retained

log = logging.getLogger(__name__)


class RateLimiter:
    """A token bucket: `take()` returns once a token is free, or False when stopped."""

    def __init__(self, rate: float, stop: threading.Event, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        self._tokens = self.burst
        self._last = time.monotonic()
        self._stop = stop

    def take(self) -> bool:
        """Wait for one token; False if the uplink is stopping."""
        while True:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            if self._stop.wait((1 - self._tokens) / self.rate):
                return False


class Uplink:
    """Outbox, publisher thread and broker link of one gateway."""

    def __init__(
        self,
        settings: GatewaySettings,
        outbox: Outbox,
        stamper: EventStamper,
        on_message: MessageHandler,
        will: Retained,
        birth: Callable[[], Retained],
        subscriptions: list[tuple[str, int]],
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self._stamper = stamper
        outbox.set_report_factory(self._drop_report)
        self.link = MqttLink(
            client_id=f"yz-gw-{settings.station_id}-{settings.gateway_id}",
            broker=settings.broker,
            subscriptions=subscriptions,
            on_message=on_message,
            will=will,
            birth=birth,
            on_connected=self._wake,
        )
        self._stop = threading.Event()
        self._wakeup = threading.Condition()
        self._in_flight: dict[int, float] = {}
        self._cursor = 0
        self._thread = threading.Thread(target=self._publish_loop, name="uplink", daemon=True)

    def start(self) -> None:
        """Start the outbox writer, the publisher and the connection."""
        self.outbox.start()
        self._thread.start()
        self.link.start()

    def stop(self, goodbye: Retained | None = None) -> None:
        """Commit what is queued (it is sent after the next start), say goodbye, disconnect."""
        self.outbox.flush(timeout=5)
        self._stop.set()
        self._wake()
        self._thread.join(timeout=5)
        self.link.stop(goodbye=goodbye)
        self.outbox.close()

    def send(self, event: EventPayload) -> None:
        """Store an event durably; it is published as soon as the broker can take it."""
        self.outbox.append(self._pending(event))

    def in_flight(self) -> int:
        """How many events are handed to the broker and not yet acknowledged."""
        with self._wakeup:
            return len(self._in_flight)

    # --- publisher ------------------------------------------------------------------

    def _publish_loop(self) -> None:
        limiter = RateLimiter(self.settings.outbox.replay_rate, self._stop)
        window = self.settings.outbox.window
        while not self._stop.is_set():
            if not self.link.connected:
                self._wait(1.0)
                continue
            self._expire_stale_in_flight()
            with self._wakeup:
                room = window - len(self._in_flight)
                cursor = self._cursor
            if room <= 0:
                self._wait(1.0)
                continue
            rows, last = self.outbox.pending(cursor, room)
            if not rows:
                if last == cursor:
                    self.outbox.wait_new_rows(0.5)
                else:
                    with self._wakeup:
                        self._cursor = max(self._cursor, last)
                continue
            for row in rows:
                if not limiter.take() or not self.link.connected:
                    break
                with self._wakeup:
                    self._in_flight[row.id] = time.monotonic()
                    self._cursor = max(self._cursor, row.id)
                on_acked = partial(self._acked, row.id)
                if not self.link.publish_acked(row.topic, row.payload, on_acked):
                    with self._wakeup:
                        self._in_flight.pop(row.id, None)
                        self._cursor = min(self._cursor, row.id - 1)
                    break

    def _acked(self, row_id: int) -> None:
        self.outbox.acked(row_id)
        with self._wakeup:
            self._in_flight.pop(row_id, None)
            self._wakeup.notify_all()

    def _expire_stale_in_flight(self) -> None:
        # paho resends what it holds after a reconnect; this is the safety net for
        # anything it lost, e.g. a message the broker never acknowledged.
        limit = time.monotonic() - self.settings.outbox.ack_timeout_s
        with self._wakeup:
            if self._in_flight and min(self._in_flight.values()) < limit:
                log.warning(
                    "%d events unacknowledged for %.0f s; publishing them again",
                    len(self._in_flight),
                    self.settings.outbox.ack_timeout_s,
                )
                self._in_flight.clear()
                self._cursor = 0

    def _wait(self, timeout: float) -> None:
        with self._wakeup:
            self._wakeup.wait(timeout)

    def _wake(self) -> None:
        with self._wakeup:
            self._wakeup.notify_all()

    # --- drop reports ---------------------------------------------------------------

    def _drop_report(self, summary: DropSummary) -> PendingEvent:
        return self._pending(self._stamper.stamp(wire_events.dropped(summary)))

    def _pending(self, event: EventPayload) -> PendingEvent:
        kind = event_kind_of(type(event))
        topic = event_topic(self.settings.station_id, self.settings.gateway_id, kind)
        return PendingEvent(event.seq, kind, topic, event.to_json())
