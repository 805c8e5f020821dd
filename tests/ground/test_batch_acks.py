"""A committed batch's PUBACKs go out in one write: exactly paho's bytes, taken by the broker.

`servicekit.batch_ack_client` reaches into paho's internals to do it, so these tests are
what tells a paho upgrade that broke it.
"""

from __future__ import annotations

import queue
import struct

from contract.topics import event_topic
from servicekit.mqtt_link import Message, MqttLink
from servicekit.settings import BrokerSettings
from tests.ground.raw_broker import RawBroker
from tests.support.mosquitto import MosquittoBroker

TOPIC = event_topic("ack-0001", "gw-1", "access")
DISCONNECT = b"\xe0\x00"


def puback(packet_id: int) -> bytes:
    """A PUBACK as MQTT 3.1.1 spells it: 0x40, remaining length 2, the packet id."""
    return b"\x40\x02" + struct.pack("!H", packet_id)


def receive(messages: queue.Queue[Message], count: int) -> list[Message]:
    """The next `count` messages the link handed over."""
    return [messages.get(timeout=10) for _ in range(count)]


def test_the_batch_is_one_puback_per_acknowledged_message_in_order_and_nothing_else() -> None:
    received: queue.Queue[Message] = queue.Queue()
    with RawBroker() as server:
        link = MqttLink(
            "acks-on-the-wire",
            # No keepalive ping can fall into the recording.
            BrokerSettings(url=server.url, keepalive_s=3600),
            on_message=received.put,
            clean_session=True,
            manual_ack=True,
        )
        link.start()
        try:
            connect = server.accept()
            assert connect[:7] == b"\x00\x04MQTT\x04", "not an MQTT 3.1.1 CONNECT"
            assert link.wait_connected(10)
            packet_ids = [7, 300, 65535, 1]
            for packet_id in packet_ids:
                server.publish(TOPIC, f"event {packet_id}".encode(), packet_id)
            messages = receive(received, len(packet_ids))
            assert [m.mid for m in messages] == packet_ids
            # The second stays unacknowledged (a batch that failed to commit, say).
            link.ack([messages[0], messages[2], messages[3]])
        finally:
            link.stop()
        sent = server.read_until_closed()
    assert sent == puback(7) + puback(65535) + puback(1) + DISCONNECT


def test_the_broker_takes_the_batch_as_acknowledged_and_sends_only_the_rest_again(
    own_broker: MosquittoBroker,
) -> None:
    received: queue.Queue[Message] = queue.Queue()

    def central() -> MqttLink:
        # A persistent session, as the central keeps: what it has not acknowledged, the
        # broker sends again when it is back.
        link = MqttLink(
            "yz-central-acks",
            BrokerSettings(url=own_broker.url),
            subscriptions=[(TOPIC, 1)],
            on_message=received.put,
            clean_session=False,
            manual_ack=True,
        )
        link.start()
        assert link.wait_connected(10)
        return link

    publisher = MqttLink("acks-publisher", BrokerSettings(url=own_broker.url), clean_session=True)
    publisher.start()
    assert publisher.wait_connected(10)
    first = central()
    try:
        for number in range(6):
            publisher.publish(TOPIC, f"m{number}".encode())
        messages = receive(received, 6)
        assert [m.payload for m in messages] == [f"m{n}".encode() for n in range(6)]
        first.ack(messages[:4])
    finally:
        # The DISCONNECT follows the PUBACKs on the same stream, so the broker has
        # read them by the time the session ends.
        first.stop()
    second = central()
    try:
        publisher.publish(TOPIC, b"after")
        again = receive(received, 3)
    finally:
        second.stop()
        publisher.stop()
    assert [m.payload for m in again] == [b"m4", b"m5", b"after"]
