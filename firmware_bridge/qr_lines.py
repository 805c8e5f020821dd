"""Decoded-data lines from Grow/Newland-style QR scanners (GM65, GM805, GM861, FM30).

In serial output mode the scanner sends the decoded text followed by CR (an LF may
follow). Credentials are printable text by design, so anything else on the line is noise
from a loose wire or a scanner in the wrong mode: such lines are dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LINE_BYTES = 512
"""Longer than any credential we issue; a line this long means a lost terminator."""


@dataclass(frozen=True, slots=True)
class ScannedCode:
    """One decoded QR code, as printable ASCII text."""

    text: str


class QrLineDecoder:
    """Splits the scanner's byte stream into codes; keeps partial lines between chunks."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max = max_line_bytes
        self._buffer = bytearray()
        self._overflowed = False
        self.garbage_bytes = 0
        self.rejected_lines = 0

    def feed(self, data: bytes) -> list[ScannedCode]:
        """Consume bytes; return the codes whose terminator arrived in this chunk."""
        codes: list[ScannedCode] = []
        for byte in data:
            if byte in (0x0D, 0x0A):
                code = self._finish_line()
                if code is not None:
                    codes.append(code)
            elif len(self._buffer) >= self._max:
                # Resynchronise on the next terminator rather than growing without bound.
                self._overflowed = True
                self.garbage_bytes += 1
            else:
                self._buffer.append(byte)
        return codes

    def _finish_line(self) -> ScannedCode | None:
        line = bytes(self._buffer)
        self._buffer.clear()
        overflowed, self._overflowed = self._overflowed, False
        if not line and not overflowed:
            return None  # the LF of a CR LF pair, or an idle terminator
        if overflowed or not _is_printable_ascii(line):
            self.garbage_bytes += len(line)
            self.rejected_lines += 1
            return None
        return ScannedCode(line.decode("ascii"))


def _is_printable_ascii(line: bytes) -> bool:
    return all(0x20 <= b < 0x7F for b in line)
