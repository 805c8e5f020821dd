"""An MQTT client for tests: publishes raw bytes and collects what it receives."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable

from yizhan.mqtt_link import Message, MqttLink
from yizhan.settings import BrokerSettings


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
        """Publish raw bytes at QoS 1."""
        self.link.publish(topic, payload, qos=1, retain=retain)

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
