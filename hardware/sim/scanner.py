"""A virtual Grow/Newland QR scanner on a pseudo-terminal, in serial output mode.

Besides emitting codes it answers the zone-bit command protocol the way a GM65 does:
reads return the register bytes, writes and saves answer with the 7-byte ACK, and a bad
CRC, an unknown command or a command that stalls for 400 ms get no answer at all.

Trigger semantics: `scan(code)` means "a person holds this code under the window". In
continuous, sensor or manual mode the code goes out at once. In command-triggered mode
the code waits in front of the scanner (`pending_codes`) and each trigger command (0x01
written to register 0x0002) sends the ACK and then the oldest waiting code; a trigger
with nothing waiting sends only the ACK, as a real scanner that times out reading does.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections import deque

from firmware_bridge.grow_commands import (
    ACK,
    CRC_BYPASS,
    CommandType,
    Register,
    TriggerMode,
    crc16_xmodem,
    encode_reply,
)
from hardware.sim.pty_link import PtyLink

TERMINATOR = b"\r"
"""The scanner's factory default end-of-data character."""

COMMAND_STALL_S = 0.4
"""A command whose bytes stop for longer than this is dropped, as the GM65 does."""

FACTORY_REGISTERS = {
    Register.MODE: 0xD6,  # continuous, LED, beep, standard aim and light
    0x000A: 0x3E,  # the value the GM65 manual's read example returns
    Register.BAUD: 0x39,  # 0x0139 little-endian: 9600 bps
    Register.BAUD + 1: 0x01,
}


class VirtualScanner:
    """Emits decoded codes exactly as a GM65 in serial mode does: the text, then CR."""

    def __init__(self) -> None:
        self._link = PtyLink()
        self._lock = threading.Lock()
        self.registers: dict[int, int] = dict(FACTORY_REGISTERS)
        self.flash: dict[int, int] = dict(FACTORY_REGISTERS)
        """What survives a power cycle: the registers as of the last save command."""
        self._pending: deque[str] = deque()
        self.commands_answered = 0
        self.commands_ignored = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="virtual-scanner", daemon=True)
        self._thread.start()

    @property
    def port(self) -> str:
        """The tty path the gateway opens, as it would open `/dev/ttyS0`."""
        return self._link.port

    @property
    def mode(self) -> TriggerMode:
        """The trigger mode currently in register 0x0000."""
        return TriggerMode(self.registers.get(Register.MODE, 0) & 0b11)

    @property
    def pending_codes(self) -> list[str]:
        """Codes held under the window, waiting for a trigger (command mode only)."""
        with self._lock:
            return list(self._pending)

    def scan(self, code: str) -> None:
        """A person holds a QR code showing `code` under the scanner."""
        with self._lock:
            if self.mode is TriggerMode.COMMAND:
                self._pending.append(code)
                return
            self._link.send(code.encode("ascii") + TERMINATOR)

    def send_raw(self, data: bytes) -> None:
        """Put arbitrary bytes on the line (noise, a half frame, a mode change echo)."""
        self._link.send(data)

    def power_cycle(self) -> None:
        """Lose every unsaved register change."""
        with self._lock:
            self.registers = dict(self.flash)
            self._pending.clear()

    def close(self) -> None:
        """Unplug the scanner: stop answering, then close the pty."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._link.close()

    # --- command side ---------------------------------------------------------------

    def _serve(self) -> None:
        buffer = bytearray()
        last_byte_at = 0.0
        fd = self._link.device_fd
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], 0.05)
                chunk = os.read(fd, 512) if ready else b""
            except OSError:
                return  # the pty went away
            now = time.monotonic()
            if buffer and now - last_byte_at > COMMAND_STALL_S:
                buffer.clear()
            if chunk:
                buffer += chunk
                last_byte_at = now
                self._handle(buffer)

    def _handle(self, buffer: bytearray) -> None:
        while True:
            start = buffer.find(b"\x7e\x00")
            if start < 0:
                # Keep a lone trailing 0x7E: it may be the start of the next command.
                del buffer[: len(buffer) - (buffer[-1:] == b"\x7e")]
                return
            del buffer[:start]
            if len(buffer) < 6:
                return
            size = 2 + 4 + buffer[3] + 2
            if len(buffer) < size:
                return
            frame = bytes(buffer[:size])
            body, check = frame[2:-2], frame[-2:]
            if check != CRC_BYPASS and crc16_xmodem(body) != int.from_bytes(check, "big"):
                self.commands_ignored += 1
                del buffer[:2]  # silence, and look for a command further on
                continue
            del buffer[:size]
            self._execute(body[0], int.from_bytes(body[2:4], "big"), body[4:])

    def _execute(self, kind: int, address: int, data: bytes) -> None:
        with self._lock:
            if kind == CommandType.READ and len(data) == 1:
                count = data[0] or 256
                values = bytes(self.registers.get(address + i, 0) for i in range(count))
                self._answer(encode_reply(values))
            elif kind == CommandType.WRITE:
                for i, value in enumerate(data):
                    self.registers[address + i] = value
                self._answer(ACK)
                if address == Register.TRIGGER and data[:1] == b"\x01":
                    self.registers[Register.TRIGGER] = 0  # the bit clears itself
                    self._trigger()
            elif kind == CommandType.SAVE:
                self.flash = dict(self.registers)
                self._answer(ACK)
            else:
                self.commands_ignored += 1

    def _answer(self, reply: bytes) -> None:
        self.commands_answered += 1
        self._link.send(reply)

    def _trigger(self) -> None:
        if self.mode is TriggerMode.COMMAND and self._pending:
            self._link.send(self._pending.popleft().encode("ascii") + TERMINATOR)
