"""A thin reader thread: serial port → codec → callback, for any `StreamDecoder`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import serial

from firmware_bridge.stream import StreamDecoder

log = logging.getLogger(__name__)

FrameT = TypeVar("FrameT")

READ_TIMEOUT_S = 0.1
"""How long one read blocks with no data; bounds how long `stop()` waits."""

REOPEN_DELAY_S = 1.0


class SerialLoop(Generic[FrameT]):
    """Reads a serial device in a background thread and hands each frame to `on_frame`.

    `port` is a device path or any pyserial URL (`loop://`, `spy://...`). A port that
    vanishes (USB unplugged) is reopened until `stop()`; a callback that raises is logged
    and the loop goes on, because one bad frame must not silence the door.
    """

    def __init__(
        self,
        port: str,
        baudrate: int,
        decoder: StreamDecoder[FrameT],
        on_frame: Callable[[FrameT], None],
        name: str = "serial",
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.decoder = decoder
        self._on_frame = on_frame
        self._stop = threading.Event()
        self._opened = threading.Event()
        self._serial: serial.Serial | None = None
        self._thread = threading.Thread(target=self._run, name=f"{name}:{port}", daemon=True)

    def start(self) -> None:
        """Open the port and start reading."""
        self._thread.start()

    @property
    def running(self) -> bool:
        """True while the reader thread is alive (open or retrying the port)."""
        return self._thread.is_alive()

    def wait_open(self, timeout: float) -> bool:
        """Block until the port is open (True) or the timeout passes (False)."""
        return self._opened.wait(timeout)

    def write(self, data: bytes) -> None:
        """Send bytes to the device (commands); raises if the port is not open."""
        port = self._serial
        if port is None:
            raise OSError(f"serial port {self.port} is not open")
        port.write(data)

    def stop(self) -> None:
        """Stop reading and close the port; returns once the thread has ended."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with serial.serial_for_url(
                    self.port, baudrate=self.baudrate, timeout=READ_TIMEOUT_S
                ) as port:
                    self._serial = port
                    self._opened.set()
                    self._read_until_stopped(port)
            except (OSError, serial.SerialException) as exc:
                log.warning("serial port %s unavailable: %s; retrying", self.port, exc)
                self._stop.wait(REOPEN_DELAY_S)
            finally:
                self._serial = None
                self._opened.clear()

    def _read_until_stopped(self, port: serial.Serial) -> None:
        while not self._stop.is_set():
            # Read whatever is waiting, or block for one byte: the last byte of a scan
            # reaches the codec as soon as it arrives, not after a fixed-size read.
            data = port.read(port.in_waiting or 1)
            if not data:
                continue
            for frame in self.decoder.feed(data):
                try:
                    self._on_frame(frame)
                except Exception:
                    log.exception("handling a frame from %s failed", self.port)
