"""A pseudo-terminal pair: the simulated device writes on one end, the driver opens the other."""

from __future__ import annotations

import contextlib
import os
import pty
import tty


class PtyLink:
    """Owns a pty pair. `port` is the path a pyserial driver opens like a real tty."""

    def __init__(self) -> None:
        self._device_fd, self._driver_fd = pty.openpty()
        # Raw mode on the driver's end: no CR→LF translation, no echo, bytes as sent.
        tty.setraw(self._driver_fd)
        self.port = os.ttyname(self._driver_fd)

    @property
    def device_fd(self) -> int:
        """File descriptor of the device's end, for reading what the driver sends."""
        return self._device_fd

    def send(self, data: bytes) -> None:
        """Write bytes as the device would put them on the wire."""
        view = memoryview(data)
        while view:
            written = os.write(self._device_fd, view)
            view = view[written:]

    def close(self) -> None:
        """Close both ends. Safe to call twice: a second close of a number the OS has
        since given to another file (a socket) would break that file."""
        fds = (self._device_fd, self._driver_fd)
        self._device_fd = self._driver_fd = -1
        for fd in fds:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def __enter__(self) -> PtyLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
