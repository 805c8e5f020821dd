"""Just enough of an MQTT 3.1.1 broker on a raw loopback socket to see a client's bytes."""

from __future__ import annotations

import socket
import struct
from types import TracebackType

CONNECT, CONNACK, PUBLISH_QOS1 = 0x10, b"\x20\x02\x00\x00", 0x32


def remaining_length(size: int) -> bytes:
    """MQTT's variable-length encoding of a packet's remaining length."""
    out = bytearray()
    while True:
        size, digit = divmod(size, 128)
        out.append(digit | (0x80 if size else 0))
        if not size:
            return bytes(out)


class RawBroker:
    """Accepts one client, answers its CONNECT, sends it packets and records what it sends."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(timeout)
        self._timeout = timeout
        self._client: socket.socket | None = None

    @property
    def url(self) -> str:
        """`mqtt://127.0.0.1:port` for the client under test."""
        return f"mqtt://127.0.0.1:{self._listener.getsockname()[1]}"

    def accept(self) -> bytes:
        """Take the client's connection and CONNECT packet, answer CONNACK; return the
        CONNECT packet's body."""
        self._client, _ = self._listener.accept()
        self._client.settimeout(self._timeout)
        header = self._read(1)[0]
        assert header == CONNECT, f"expected CONNECT, got packet type {header:#04x}"
        body = self._read(self._read_length())
        self._client.sendall(CONNACK)
        return body

    def publish(self, topic: str, payload: bytes, packet_id: int) -> None:
        """Send one QoS 1 PUBLISH to the client."""
        name = topic.encode()
        body = struct.pack("!H", len(name)) + name + struct.pack("!H", packet_id) + payload
        assert self._client is not None
        self._client.sendall(bytes([PUBLISH_QOS1]) + remaining_length(len(body)) + body)

    def read_until_closed(self) -> bytes:
        """Everything the client sends from now until it closes the connection."""
        received = bytearray()
        assert self._client is not None
        while chunk := self._client.recv(4096):
            received += chunk
        return bytes(received)

    def _read_length(self) -> int:
        size, shift = 0, 0
        while True:
            digit = self._read(1)[0]
            size |= (digit & 0x7F) << shift
            if not digit & 0x80:
                return size
            shift += 7

    def _read(self, count: int) -> bytes:
        assert self._client is not None
        data = bytearray()
        while len(data) < count:
            chunk = self._client.recv(count - len(data))
            if not chunk:
                raise AssertionError("the client closed the connection early")
            data += chunk
        return bytes(data)

    def __enter__(self) -> RawBroker:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._client is not None:
            self._client.close()
        self._listener.close()
