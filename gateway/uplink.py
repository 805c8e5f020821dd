"""The gateway's way to the central: outbox → throttled publisher → MQTT link.

`Uplink.send` puts an event in the durable outbox and returns at once; a publisher thread
hands stored events to the link in order, at most `replay_rate` per second and at most
`window` unacknowledged, and marks each sent once the broker acknowledges it. The
central's retained `stored/1` mark (`confirmed`) deletes what it has stored; what it
still lacks is handed to the broker again when `gateway.resend` says so. After an outage
or a restart the backlog drains the same way, so a city's gateways coming back together
do not flood the broker.
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
from gateway.resend import ResendPolicy
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
        self._rewinds = 0
        """Counts the times the cursor went back, so a page read before does not undo it."""
        self._resend_until = 0
        """While the cursor is below this id, rows the broker took are published again."""
        self._resend_asked: str | None = None
        """Why a pass was asked for, until the publisher starts it."""
        self._resend = ResendPolicy(
            settings.outbox.confirm_wait_s, settings.outbox.confirm_wait_max_s, time.monotonic()
        )
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

    def confirmed(self, seq: int) -> None:
        """The central's mark: every event up to `seq` is stored (any thread)."""
        if self.outbox.confirm(seq):
            with self._wakeup:
                self._resend.progress(time.monotonic())

    def central_seen(self, central_id: str, online: bool, live: bool) -> None:
        """A central's availability (`live`: just said, not the broker's retained copy).
        One that has just come online may have lost what the broker held for it."""
        with self._wakeup:
            if self._resend.central(central_id, online, live, time.monotonic()):
                # Started by the publisher: this runs on the link's network thread.
                self._resend_asked = f"central {central_id} came online"
                self._wakeup.notify_all()

    # --- publisher ------------------------------------------------------------------

    def _publish_loop(self) -> None:
        limiter = RateLimiter(self.settings.outbox.replay_rate, self._stop)
        window = self.settings.outbox.window
        while not self._stop.is_set():
            if not self.link.connected:
                self._wait(1.0)
                continue
            self._expire_stale_in_flight()
            self._resend_if_due()
            with self._wakeup:
                room = window - len(self._in_flight)
                cursor = self._cursor
                rewinds = self._rewinds
                again = cursor < self._resend_until
            if room <= 0:
                self._wait(1.0)
                continue
            rows, last = self.outbox.pending(cursor, room, include_sent=again)
            with self._wakeup:
                rows = [row for row in rows if row.id not in self._in_flight]
            if not rows:
                if last == cursor:
                    self.outbox.wait_new_rows(0.5)
                else:
                    with self._wakeup:
                        if self._rewinds == rewinds:
                            self._cursor = max(self._cursor, last)
                continue
            for row in rows:
                if not limiter.take() or not self.link.connected:
                    break
                with self._wakeup:
                    if self._rewinds != rewinds:
                        break
                    self._in_flight[row.id] = time.monotonic()
                    self._cursor = max(self._cursor, row.id)
                on_acked = partial(self._acked, row.id)
                if not self.link.publish_acked(row.topic, row.payload, on_acked):
                    with self._wakeup:
                        self._in_flight.pop(row.id, None)
                        self._cursor = min(self._cursor, row.id - 1)
                    break

    def _acked(self, row_id: int) -> None:
        self.outbox.sent(row_id)
        with self._wakeup:
            self._in_flight.pop(row_id, None)
            self._wakeup.notify_all()

    def _resend_if_due(self) -> None:
        with self._wakeup:
            why, self._resend_asked = self._resend_asked, None
            if why is None and self._resend.due(time.monotonic(), self._awaiting_mark()):
                why = "the central's stored mark has not moved"
        if why is not None:
            self._publish_unconfirmed_again(why)

    def _awaiting_mark(self) -> int:
        # Only once a central has confirmed something: an older central never will, and
        # must not get the same events again and again.
        return self.outbox.unconfirmed if self.outbox.confirmed_seq is not None else 0

    def _publish_unconfirmed_again(self, why: str) -> None:
        waiting = self._awaiting_mark()
        if not waiting:
            return
        last = self.outbox.last_id()
        log.info("%s: publishing again %d events not confirmed stored", why, waiting)
        with self._wakeup:
            self._cursor = 0
            self._rewinds += 1
            self._resend_until = last
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
                self._rewinds += 1

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
