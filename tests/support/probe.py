"""An MQTT client for tests: publishes raw bytes and collects what it receives."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from contract.codec import Decoded, decode
from contract.credential_payloads import PublicKeys
from contract.payloads import utc_now
from contract.topics import KEYS_TOPIC
from servicekit.mqtt_link import Message, MqttLink
from servicekit.settings import BrokerSettings

if TYPE_CHECKING:
    from dashboard.central import Central


class MqttProbe:
    """Subscribes to `topics` and keeps every message in a queue for the test to wait on."""

    def __init__(self, broker_url: str, topics: list[str] | None = None) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()
        self.link = MqttLink(
            client_id=f"test-probe-{uuid.uuid4().hex[:8]}",
            broker=BrokerSettings(url=broker_url),
            subscriptions=[(topic, 1) for topic in topics or []],
            on_message=self.messages.put,
            clean_session=True,
        )
        self.link.start()
        if not self.link.wait_connected(10):
            raise RuntimeError(f"test probe could not connect to {broker_url}")

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Publish raw bytes at QoS 1, as `mosquitto_pub -q 1` would (not from the table)."""
        self.link.publish_as(topic, payload, qos=1, retain=retain)

    def wait_for(self, predicate: Callable[[Message], bool], timeout: float = 10.0) -> Message:
        """The first message (from now on) that satisfies `predicate`; fails on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no matching MQTT message arrived in time")
            try:
                message = self.messages.get(timeout=remaining)
            except queue.Empty as exc:
                raise AssertionError("no matching MQTT message arrived in time") from exc
            if predicate(message):
                return message

    def close(self) -> None:
        """Disconnect."""
        self.link.stop()


def wait_retained_keys(broker_url: str, central: Central, timeout: float = 10.0) -> None:
    """Wait until the broker holds the `yz/v1/keys` that `central` publishes.

    A new subscriber is handed the retained copy at once; if that is still another
    central's, this central's own publication reaches it live once the broker has it.
    """
    wanted = {entry.public_key for entry in central.credentials.keys.published_entries(utc_now())}

    def current(message: Message) -> bool:
        decoded = decode(message.topic, message.payload)
        return (
            isinstance(decoded, Decoded)
            and isinstance(decoded.payload, PublicKeys)
            and wanted <= {entry.public_key for entry in decoded.payload.keys}
        )

    probe = MqttProbe(broker_url, [KEYS_TOPIC])
    try:
        probe.wait_for(current, timeout)
    finally:
        probe.close()
