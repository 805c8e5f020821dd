"""paho's client, able to acknowledge a whole batch of received messages in one write.

The only module that reaches into paho's internals. `pyproject.toml` pins paho-mqtt to
the minor version this was tested on, and `tests/ground/test_batch_acks.py` checks the
bytes it sends, on a raw socket and against Mosquitto.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import paho.mqtt.client as mqtt

PUBACK = struct.Struct("!BBH")
"""A PUBACK packet: type, remaining length 2, packet id (MQTT 3.1.1; in MQTT 5 the same
four bytes mean "success", its reason code and properties left out)."""


class BatchAckClient(mqtt.Client):
    """A paho `Client` that acknowledges many QoS 1 messages with one socket write."""

    def ack_all(self, mids: Iterable[int]) -> None:
        """Send the PUBACKs of these received QoS 1 messages, in this order, at once.

        Only for a client made with `manual_ack=True`; otherwise paho has acknowledged
        them already, as its own `ack()` assumes.
        """
        if not self._manual_ack:
            return
        pubacks = b"".join(PUBACK.pack(mqtt.PUBACK, 2, mid) for mid in mids)
        if pubacks:
            # The stream is byte for byte what paho's `ack(mid, 1)` per message writes,
            # with one system call (ours and the broker's) for the batch instead of one
            # per message. `_packet_queue` is how paho queues its own PUBACKs.
            self._packet_queue(mqtt.PUBACK, pubacks, 0, 0)
