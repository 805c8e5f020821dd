"""The one module that speaks paho-mqtt, for the gateway and the central alike.

It keeps what both sides need from a connection in one place: a unique client id, a
persistent session, a retained last will, a birth message and subscriptions that are
renewed on every (re)connect, reconnection with exponential backoff and random jitter,
TLS, publishes whose broker acknowledgement is reported back (the gateway's outbox
marks an event sent only then), and manual acknowledgement of received messages (the
central acknowledges only once a message is committed, so a crash loses nothing).

A message of wire contract v1 goes out with the QoS and retain flag of its topic family
in `contract.topics`: the caller names the topic, never the delivery settings.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from contract.topics import TopicSpec, spec_of
from servicekit.backoff import Backoff
from servicekit.batch_ack_client import BatchAckClient
from servicekit.settings import BrokerSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    """One message as it came off the broker."""

    topic: str
    payload: bytes
    retain: bool
    qos: int
    mid: int = 0
    """The packet id, for `MqttLink.ack` when the link acknowledges manually."""
    generation: int = 0
    """Which connection delivered it; an ack is only valid on that same connection."""


@dataclass(frozen=True, slots=True)
class Retained:
    """A message the broker keeps for late subscribers (a birth, a last will, a goodbye),
    on a topic whose family the table says is retained."""

    topic: str
    payload: bytes

    def __post_init__(self) -> None:
        if not spec_of(self.topic).retain:
            raise ValueError(f"{self.topic!r} is not a retained topic in contract.topics")


MessageHandler = Callable[[Message], None]
AckHandler = Callable[[], None]


def _ignore() -> None:
    """The acknowledgement handler of a publish nobody waits on."""


def _require_acknowledged(spec: TopicSpec) -> None:
    if spec.qos == 0:
        raise ValueError(f"{spec.name} goes at QoS 0, so the broker acknowledges nothing")


class MqttLink:
    """A connection to the broker that comes back by itself after any outage.

    `on_message` runs on paho's network thread: keep it short (hand work to a queue).
    """

    def __init__(
        self,
        client_id: str,
        broker: BrokerSettings,
        subscriptions: Sequence[tuple[str, int]] = (),
        on_message: MessageHandler | None = None,
        will: Retained | None = None,
        birth: Callable[[], Retained] | None = None,
        clean_session: bool = False,
        manual_ack: bool = False,
        on_connected: Callable[[], None] | None = None,
    ) -> None:
        self.client_id = broker.client_id or client_id
        self._broker = broker
        self._subscriptions = list(subscriptions)
        self._on_message = on_message
        self._on_connected = on_connected
        self._birth = birth
        self._manual_ack = manual_ack
        self._connected = threading.Event()
        self._generation = 0
        self._subscribe_mid: int | None = None
        self._backoff = Backoff(broker.reconnect_min_s, broker.reconnect_max_s)
        # Broker acknowledgements may arrive before `publish()` has returned the mid, so
        # both sides of that race meet under this lock.
        self._acks_lock = threading.Lock()
        self._ack_waiters: dict[int, AckHandler] = {}
        self._early_acks: set[int] = set()
        self._client = BatchAckClient(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
            manual_ack=manual_ack,
        )
        if broker.username is not None:
            self._client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            self._client.tls_set(
                ca_certs=str(broker.ca_file) if broker.ca_file else None,
                certfile=str(broker.cert_file) if broker.cert_file else None,
                keyfile=str(broker.key_file) if broker.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        if will is not None:
            spec = spec_of(will.topic)
            self._client.will_set(will.topic, will.payload, qos=spec.qos, retain=spec.retain)
        self._set_next_delay()
        # Messages published while the link is down wait in paho's queue until it is back;
        # the gateway's outbox hands paho only a bounded window, so this stays small.
        self._client.max_queued_messages_set(0)
        self._client.max_inflight_messages_set(100)
        self._client.on_connect = self._handle_connect
        self._client.on_subscribe = self._handle_subscribe
        self._client.on_connect_fail = self._handle_connect_fail
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message
        self._client.on_publish = self._handle_publish

    @property
    def connected(self) -> bool:
        """True while the broker has accepted this client and its subscriptions."""
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background; returns at once, even if the broker is down."""
        self._client.connect_async(
            self._broker.host, self._broker.port, keepalive=self._broker.keepalive_s
        )
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected and subscribed (True) or the timeout passes (False)."""
        return self._connected.wait(timeout)

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue a message of wire contract v1 with its family's QoS and retain flag; paho
        delivers it when connected and retries QoS 1 until acked.

        Raises `contract.topics.UnknownTopicError` for a topic outside the contract.
        """
        spec = spec_of(topic)
        self._publish(topic, payload, spec.qos, spec.retain, _ignore)

    def publish_acked(self, topic: str, payload: bytes, on_acked: AckHandler) -> bool:
        """Publish like `publish` and call `on_acked()` (on paho's thread) once the broker
        has the message; for the families the table sends at QoS 1.

        Returns False when paho refused the message outright (then `on_acked` is never
        called). A message handed over stays with paho across reconnects and is sent again
        until acknowledged, within this process's lifetime.
        """
        spec = spec_of(topic)
        _require_acknowledged(spec)
        return self._publish(topic, payload, spec.qos, spec.retain, on_acked)

    def publish_as(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> None:
        """Publish with a QoS and retain flag the caller chooses, past the topic table.

        Only for topics outside wire contract v1 (Home Assistant's discovery tree, whose
        own documentation sets them, and the broker's `$CONTROL` topics of
        `servicekit.dynsec`), and for test clients that play a maintainer's
        `mosquitto_pub`, which may send anything anywhere.
        """
        self._publish(topic, payload, qos, retain, _ignore)

    def _publish(
        self, topic: str, payload: bytes, qos: int, retain: bool, on_acked: AckHandler
    ) -> bool:
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.error("publish to %s failed: %s", topic, mqtt.error_string(info.rc))
            return False
        self._expect_ack(info.mid, on_acked)
        return True

    def _expect_ack(self, mid: int, on_acked: AckHandler) -> None:
        # Every publish registers its mid, so an early ack is always claimed by the call
        # that caused it and can never be mistaken for a later message reusing the mid.
        with self._acks_lock:
            acked_already = mid in self._early_acks
            if acked_already:
                self._early_acks.discard(mid)
            else:
                self._ack_waiters[mid] = on_acked
        if acked_already:
            on_acked()

    def ack(self, messages: Iterable[Message]) -> None:
        """Acknowledge received QoS 1 messages (manual-ack links), in the order received.

        Messages from an earlier connection are skipped: the broker sends those again on
        the new connection, and they are acknowledged then.
        """
        if not self._manual_ack:
            return
        current = [m for m in messages if m.generation == self._generation]
        # One write for the whole batch: a committed batch of a thousand messages costs
        # the broker one read instead of a thousand.
        self._client.ack_all(m.mid for m in current if m.qos == 1)
        for message in current:
            if message.qos == 2:
                self._client.ack(message.mid, message.qos)

    def stop(self, goodbye: Retained | None = None) -> None:
        """Say goodbye (a retained message the last will would not send), then disconnect."""
        if goodbye is not None and self.connected:
            said = threading.Event()
            # If the link drops meanwhile, the last will says the same thing.
            if self.publish_acked(goodbye.topic, goodbye.payload, said.set):
                said.wait(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused %s: %s", self.client_id, reason)
            self._set_next_delay()
            return
        self._generation += 1
        self._backoff.connected()
        log.info(
            "connected to %s as %s (session present: %s)",
            self._broker.url,
            self.client_id,
            flags.session_present,
        )
        self.announce()
        if not self._subscriptions:
            self._ready()
            return
        # Ready only once the broker has confirmed the subscriptions: a message published
        # the moment `wait_connected` returns must not overtake them and be missed.
        _, self._subscribe_mid = client.subscribe(list(self._subscriptions))

    def _handle_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: object,
    ) -> None:
        if mid != self._subscribe_mid:
            return  # a `subscribe_again`
        self._subscribe_mid = None
        for (topic, _), reason in zip(self._subscriptions, reasons, strict=False):
            if reason.is_failure:
                log.error("broker refused the subscription to %s: %s", topic, reason)
        self._ready()

    def _ready(self) -> None:
        self._connected.set()
        if self._on_connected is not None:
            self._on_connected()

    def subscribe_again(self, subscriptions: Sequence[tuple[str, int]]) -> None:
        """Subscribe again (filter, QoS), so the broker sends the retained copies once more."""
        if subscriptions:
            self._client.subscribe(list(subscriptions))

    def announce(self) -> None:
        """Publish the birth message again (when a central asks who is there)."""
        if self._birth is not None:
            birth = self._birth()
            self.publish(birth.topic, birth.payload)

    def _handle_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        log.warning("cannot reach %s; trying again", self._broker.url)
        self._set_next_delay()

    def _set_next_delay(self) -> None:
        # paho waits its "minimum" delay after this; setting both bounds to one jittered
        # value makes each wait exactly our backoff's next draw.
        delay = self._backoff.next_delay()
        # paho's hints say int; it does plain arithmetic and sleeps, so a float is fine.
        self._client.reconnect_delay_set(cast(int, delay), cast(int, delay))

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected:
            self._backoff.disconnected()
        self._set_next_delay()
        if reason.is_failure:
            log.warning("disconnected from %s (%s); reconnecting", self._broker.url, reason)
        else:
            log.info("disconnected from %s", self._broker.url)

    def _handle_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        with self._acks_lock:
            waiter = self._ack_waiters.pop(mid, None)
            if waiter is None:
                self._early_acks.add(mid)
        if waiter is not None:
            try:
                waiter()
            except Exception:
                log.exception("acknowledgement handler for mid %d failed", mid)

    def _handle_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if self._on_message is None:
            return
        try:
            self._on_message(
                Message(
                    msg.topic,
                    bytes(msg.payload),
                    bool(msg.retain),
                    msg.qos,
                    msg.mid,
                    self._generation,
                )
            )
        except Exception:
            # A handler bug must not kill paho's network thread and with it the link.
            log.exception("handling a message on %s failed", msg.topic)
