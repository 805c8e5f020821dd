"""A virtual HLK-LD2410 presence radar on a pseudo-terminal.

It sends a report every `period_s` (about 10 Hz like the real module) describing the
presence set with `set_presence`, in basic or engineering form. It answers command frames
as the module does: nothing but "enable config" is answered outside config mode, no
reports go out while in config mode, and "restart" leaves config mode. Frames are built
here with `struct` straight from the byte table, independently of the driver's codec.
"""

from __future__ import annotations

import os
import select
import struct
import threading
import time
from dataclasses import dataclass

from hardware.sim.pty_link import PtyLink

DATA_HEAD, DATA_TAIL = b"\xf4\xf3\xf2\xf1", b"\xf8\xf7\xf6\xf5"
CMD_HEAD, CMD_TAIL = b"\xfd\xfc\xfb\xfa", b"\x04\x03\x02\x01"
GATE_CM = 75
PROTOCOL_VERSION, BUFFER_SIZE = 0x0001, 0x0040
"""What the ACK to "enable config" reports."""


@dataclass(frozen=True, slots=True)
class Presence:
    """What the radar currently sees."""

    moving_cm: int | None = None
    moving_energy: int = 0
    stationary_cm: int | None = None
    stationary_energy: int = 0
    light: int = 80

    @property
    def state(self) -> int:
        """Target state byte: bit0 moving, bit1 stationary."""
        return (self.moving_cm is not None) | ((self.stationary_cm is not None) << 1)


class VirtualRadar:
    """The module on the other end of a pty; `port` is what the driver opens."""

    def __init__(self, period_s: float = 0.1, presence: Presence | None = None) -> None:
        self._link = PtyLink()
        self._lock = threading.Lock()
        self.period_s = period_s
        self._presence = presence or Presence()
        self.engineering = False
        self.config_mode = False
        self.max_moving_gate = 8
        self.max_stationary_gate = 8
        self.no_one_duration_s = 5
        self.moving_sensitivity = [50, 50, 40, 30, 20, 15, 15, 15, 15]
        self.stationary_sensitivity = [0, 0, 40, 40, 30, 30, 20, 20, 20]
        self.reports_sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="virtual-radar", daemon=True)
        self._thread.start()

    @property
    def port(self) -> str:
        """The tty path the driver opens, as it would open `/dev/ttyAMA0`."""
        return self._link.port

    def set_presence(self, presence: Presence) -> None:
        """Change what the next reports describe."""
        with self._lock:
            self._presence = presence

    def send_raw(self, data: bytes) -> None:
        """Put arbitrary bytes on the line."""
        self._link.send(data)

    def close(self) -> None:
        """Stop reporting and answering, then close the pty."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._link.close()

    # --- frames -------------------------------------------------------------------------

    def report_frame(self) -> bytes:
        """The report the radar would send now."""
        with self._lock:
            p, engineering = self._presence, self.engineering
        moving = p.moving_cm or 0
        still = p.stationary_cm or 0
        detection = max(moving, still)
        body = struct.pack(
            "<BHBHBH",
            p.state,
            moving,
            p.moving_energy if p.moving_cm is not None else 0,
            still,
            p.stationary_energy if p.stationary_cm is not None else 0,
            detection,
        )
        if engineering:
            body += bytes([self.max_moving_gate, self.max_stationary_gate])
            body += _gate_energies(p.moving_cm, p.moving_energy)
            body += _gate_energies(p.stationary_cm, p.stationary_energy)
            body += bytes([p.light, 1 if p.state else 0])
        payload = bytes([0x01 if engineering else 0x02, 0xAA]) + body + b"\x55\x00"
        return DATA_HEAD + struct.pack("<H", len(payload)) + payload + DATA_TAIL

    @staticmethod
    def ack_frame(command: int, status: int = 0, data: bytes = b"") -> bytes:
        """An ACK as the radar sends it."""
        body = struct.pack("<HH", command | 0x0100, status) + data
        return CMD_HEAD + struct.pack("<H", len(body)) + body + CMD_TAIL

    # --- loop --------------------------------------------------------------------------

    def _run(self) -> None:
        buffer = bytearray()
        next_report = time.monotonic()
        fd = self._link.device_fd
        while not self._stop.is_set():
            timeout = max(0.0, next_report - time.monotonic())
            try:
                ready, _, _ = select.select([fd], [], [], timeout)
                if ready:
                    buffer += os.read(fd, 512)
                    self._handle(buffer)
                if time.monotonic() >= next_report:
                    next_report += self.period_s
                    if not self.config_mode:
                        self._link.send(self.report_frame())
                        self.reports_sent += 1
            except OSError:
                return  # the pty went away

    def _handle(self, buffer: bytearray) -> None:
        while True:
            start = buffer.find(CMD_HEAD)
            if start < 0:
                del buffer[: max(0, len(buffer) - 3)]
                return
            del buffer[:start]
            if len(buffer) < 6:
                return
            size = 6 + int.from_bytes(buffer[4:6], "little") + 4
            if len(buffer) < size:
                return
            frame = bytes(buffer[:size])
            del buffer[:size]
            if frame[-4:] != CMD_TAIL or size < 12:
                continue
            command = int.from_bytes(frame[6:8], "little")
            self._execute(command, frame[8:-4])

    def _execute(self, command: int, value: bytes) -> None:
        if command == 0xFF:
            self.config_mode = True
            self._link.send(
                self.ack_frame(0xFF, 0, struct.pack("<HH", PROTOCOL_VERSION, BUFFER_SIZE))
            )
            return
        if not self.config_mode:
            return  # the module ignores commands outside config mode
        if command == 0xFE:
            self.config_mode = False
        elif command == 0x62:
            self.engineering = True
        elif command == 0x63:
            self.engineering = False
        elif command == 0x61:
            data = bytes([0xAA, 8, self.max_moving_gate, self.max_stationary_gate])
            data += bytes(self.moving_sensitivity) + bytes(self.stationary_sensitivity)
            data += struct.pack("<H", self.no_one_duration_s)
            self._link.send(self.ack_frame(0x61, 0, data))
            return
        elif command == 0x60:
            if not self._set_parameters(value):
                self._link.send(self.ack_frame(0x60, 1))
                return
        elif command == 0xA3:
            self.config_mode = False
            self.engineering = False
        else:
            self._link.send(self.ack_frame(command, 1))
            return
        self._link.send(self.ack_frame(command))

    def _set_parameters(self, value: bytes) -> bool:
        if len(value) != 18:
            return False
        fields = dict(struct.unpack("<HIHIHI", value)[i : i + 2] for i in range(0, 6, 2))
        moving, still, duration = fields.get(0), fields.get(1), fields.get(2)
        if moving is None or still is None or duration is None:
            return False
        if not (2 <= moving <= 8 and 2 <= still <= 8):
            return False
        self.max_moving_gate, self.max_stationary_gate = moving, still
        self.no_one_duration_s = duration
        return True


def _gate_energies(distance_cm: int | None, energy: int) -> bytes:
    energies = [0] * 9
    if distance_cm is not None:
        # Energy falls off in the gates either side of the target's own gate.
        gate = min(8, distance_cm // GATE_CM)
        energies[gate] = energy
        for near in (gate - 1, gate + 1):
            if 0 <= near <= 8:
                energies[near] = energy // 3
    return bytes(energies)
