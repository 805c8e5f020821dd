"""A virtual Grow/Newland QR scanner on a pseudo-terminal, in serial output mode."""

from __future__ import annotations

from hardware.sim.pty_link import PtyLink

TERMINATOR = b"\r"
"""The scanner's factory default end-of-data character."""


class VirtualScanner:
    """Emits decoded codes exactly as a GM65 in serial mode does: the text, then CR."""

    def __init__(self) -> None:
        self._link = PtyLink()

    @property
    def port(self) -> str:
        """The tty path the gateway opens, as it would open `/dev/ttyS0`."""
        return self._link.port

    def scan(self, code: str) -> None:
        """A person holds a QR code showing `code` under the scanner."""
        self._link.send(code.encode("ascii") + TERMINATOR)

    def send_raw(self, data: bytes) -> None:
        """Put arbitrary bytes on the line (noise, a half frame, a mode change echo)."""
        self._link.send(data)

    def close(self) -> None:
        """Unplug the scanner."""
        self._link.close()
