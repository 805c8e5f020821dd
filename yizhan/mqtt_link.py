"""The one module that speaks paho-mqtt, for the gateway and the central alike.

It keeps what both sides need from a connection in one place: a unique client id, a
persistent session, a retained last will, a birth message and subscriptions that are
renewed on every (re)connect, and reconnection with growing delays.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from yizhan.settings import BrokerSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    """One message as it came off the broker."""

    topic: str
    payload: bytes
    retain: bool
    qos: int


@dataclass(frozen=True, slots=True)
class Retained:
    """A message the broker keeps for late subscribers (a birth or a last will)."""

    topic: str
    payload: bytes
    qos: int = 1


MessageHandler = Callable[[Message], None]


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
    ) -> None:
        self.client_id = client_id
        self._broker = broker
        self._subscriptions = list(subscriptions)
        self._on_message = on_message
        self._birth = birth
        self._connected = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
        )
        if broker.username is not None:
            self._client.username_pw_set(broker.username, broker.password)
        if will is not None:
            self._client.will_set(will.topic, will.payload, qos=will.qos, retain=True)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        # Messages published while the link is down wait in paho's queue until it is back.
        self._client.max_queued_messages_set(0)
        self._client.max_inflight_messages_set(100)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message

    @property
    def connected(self) -> bool:
        """True while the broker has accepted this client."""
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background; returns at once, even if the broker is down."""
        self._client.connect_async(
            self._broker.host, self._broker.port, keepalive=self._broker.keepalive_s
        )
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected (True) or the timeout passes (False)."""
        return self._connected.wait(timeout)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Queue a message; paho delivers it when connected and retries QoS 1 until acked."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.error("publish to %s failed: %s", topic, mqtt.error_string(info.rc))

    def stop(self, goodbye: Retained | None = None) -> None:
        """Say goodbye (a retained message the last will would not send), then disconnect."""
        if goodbye is not None and self.connected:
            info = self._client.publish(goodbye.topic, goodbye.payload, goodbye.qos, retain=True)
            # If the link drops meanwhile, the last will says the same thing.
            with contextlib.suppress(RuntimeError):
                info.wait_for_publish(timeout=2)
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
            return
        log.info("connected to %s as %s", self._broker.url, self.client_id)
        for topic, qos in self._subscriptions:
            client.subscribe(topic, qos=qos)
        if self._birth is not None:
            birth = self._birth()
            client.publish(birth.topic, birth.payload, qos=birth.qos, retain=True)
        self._connected.set()

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        self._connected.clear()
        log.warning("disconnected from %s (%s); paho reconnects", self._broker.url, reason)

    def _handle_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if self._on_message is None:
            return
        try:
            self._on_message(Message(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos))
        except Exception:
            # A handler bug must not kill paho's network thread and with it the link.
            log.exception("handling a message on %s failed", msg.topic)
