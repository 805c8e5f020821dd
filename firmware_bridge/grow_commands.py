"""Grow/Newland "zone bit" command protocol (GM65, GM805, GM861, Waveshare module, FM30).

The host configures the scanner by writing bytes into numbered registers ("zone bits"):

    command  7E 00 | TYPE | LENS | ADDR (2, big-endian) | DATAS | CRC (2, big-endian)
    reply    02 00 | TYPE | LENS | DATAS | CRC (2, big-endian)

TYPE 0x07 reads, 0x08 writes, 0x09 saves the registers to flash. The CRC is
CRC-16/XMODEM over TYPE..DATAS. A reply of TYPE 0x00 is success; write and save answer
with the 7-byte ACK `02 00 00 01 00 33 31`. The scanner stays silent on a bad CRC, an
unknown command or a half frame, so the host must time out rather than wait for a NAK.

A scanner answers commands on the same line it sends decoded codes on, so
`ScannerStreamDecoder` splits one stream into `ScannedCode`s and `GrowReply`s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from firmware_bridge.qr_lines import QrLineDecoder, ScannedCode

COMMAND_HEADER = b"\x7e\x00"
REPLY_HEADER = b"\x02\x00"
CRC_BYPASS = b"\xab\xcd"
"""Sent in place of the CRC, tells the scanner to skip the check (documented by Grow)."""

MAX_WRITE_BYTES = 245
"""The most data bytes one write command may carry, per the Grow manual."""

REPLY_TIMEOUT_S = 0.4
"""The scanner drops a command whose bytes stop for this long; replies get the same grace."""


class CommandType(IntEnum):
    """TYPE byte of a host → scanner command."""

    READ = 0x07
    WRITE = 0x08
    SAVE = 0x09


class Register(IntEnum):
    """Zone-bit addresses this project uses."""

    MODE = 0x0000
    """LED, beep, aim, illumination and trigger mode, see `mode_byte`."""
    TRIGGER = 0x0002
    """Writing 0x01 starts one scan while in command-triggered mode."""
    BAUD = 0x002A
    """Two bytes, little-endian divisor; 0x0139 means 9600 bps."""


class TriggerMode(IntEnum):
    """Bits 1-0 of register 0x0000."""

    MANUAL = 0b00
    COMMAND = 0b01
    CONTINUOUS = 0b10
    SENSOR = 0b11


class Aim(IntEnum):
    """Bits 5-4 (aiming light) or 3-2 (illumination) of register 0x0000."""

    NONE = 0b00
    STANDARD = 0b01
    ALWAYS_ON = 0b10


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM: poly 0x1021, init 0, MSB first, no reflection, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def encode_command(
    kind: CommandType, address: int, data: bytes, *, bypass_crc: bool = False
) -> bytes:
    """Frame one command; `data` is the DATAS field exactly as it goes on the wire."""
    if not 0 <= address <= 0xFFFF:
        raise ValueError(f"register address {address:#x} does not fit in two bytes")
    if not 1 <= len(data) <= 0xFF:
        raise ValueError(f"a command carries 1..255 data bytes, not {len(data)}")
    body = bytes([kind, len(data)]) + address.to_bytes(2, "big") + data
    check = CRC_BYPASS if bypass_crc else crc16_xmodem(body).to_bytes(2, "big")
    return COMMAND_HEADER + body + check


def encode_read(address: int, count: int = 1) -> bytes:
    """Read `count` registers from `address` (1..256; 256 goes on the wire as 0x00)."""
    if not 1 <= count <= 256:
        raise ValueError(f"a read covers 1..256 registers, not {count}")
    return encode_command(CommandType.READ, address, bytes([count & 0xFF]))


def encode_write(address: int, data: bytes, *, bypass_crc: bool = False) -> bytes:
    """Write `data` into consecutive registers starting at `address`."""
    if len(data) > MAX_WRITE_BYTES:
        raise ValueError(f"a write carries at most {MAX_WRITE_BYTES} bytes, not {len(data)}")
    return encode_command(CommandType.WRITE, address, data, bypass_crc=bypass_crc)


def encode_save() -> bytes:
    """Persist the current registers to flash so they survive a power cycle."""
    return encode_command(CommandType.SAVE, 0x0000, b"\x00")


def mode_byte(
    mode: TriggerMode,
    *,
    led: bool = True,
    beep: bool = True,
    aim: Aim = Aim.STANDARD,
    illumination: Aim = Aim.STANDARD,
) -> int:
    """Value for register 0x0000: bit7 LED, bit6 beep, bits5-4 aim, 3-2 light, 1-0 mode."""
    return (led << 7) | (beep << 6) | (aim << 4) | (illumination << 2) | mode


def trigger_scan(*, bypass_crc: bool = False) -> bytes:
    """Start one scan; only has an effect in command-triggered mode."""
    return encode_write(Register.TRIGGER, b"\x01", bypass_crc=bypass_crc)


def set_command_mode() -> bytes:
    """Scan only when the host sends `trigger_scan` (LED, beep, aim and light standard)."""
    return encode_write(Register.MODE, bytes([mode_byte(TriggerMode.COMMAND)]))


def set_continuous_mode() -> bytes:
    """Scan all the time and send every code read (LED, beep, aim and light standard)."""
    return encode_write(Register.MODE, bytes([mode_byte(TriggerMode.CONTINUOUS)]))


def set_sensor_mode() -> bytes:
    """Scan when the scanner's own sensor sees something move in front of it."""
    return encode_write(Register.MODE, bytes([mode_byte(TriggerMode.SENSOR)]))


def save_settings() -> bytes:
    """Same as `encode_save`, named for what a maintainer wants."""
    return encode_save()


@dataclass(frozen=True, slots=True)
class GrowReply:
    """One scanner → host reply frame with a valid CRC."""

    status: int
    """TYPE byte; 0x00 is success (the scanner sends nothing at all on failure)."""
    data: bytes

    @property
    def ok(self) -> bool:
        """The command succeeded."""
        return self.status == 0x00

    @property
    def is_ack(self) -> bool:
        """The write/save acknowledgement `02 00 00 01 00 33 31`.

        A one-register read that returns 0x00 looks identical on the wire; only the
        command that was sent tells the two apart.
        """
        return self.status == 0x00 and self.data == b"\x00"


ACK = REPLY_HEADER + b"\x00\x01\x00\x33\x31"


def encode_reply(data: bytes, status: int = 0x00) -> bytes:
    """Frame a reply as the scanner does (used by simulators and tests)."""
    if not 1 <= len(data) <= 256:
        raise ValueError(f"a reply carries 1..256 data bytes, not {len(data)}")
    body = bytes([status, len(data) & 0xFF]) + data
    return REPLY_HEADER + body + crc16_xmodem(body).to_bytes(2, "big")


def _reply_length(lens: int) -> int:
    # A 256-byte read cannot state its length in one byte; like the request, 0 means 256.
    return 4 + (lens or 256) + 2


def _try_reply(buf: bytes | bytearray, start: int) -> tuple[GrowReply | None, int]:
    """Parse a reply at `start`: (reply, its length), (None, 0) if incomplete, or
    (None, -1) if the bytes there cannot be a reply."""
    end_of_head = start + 4
    head = bytes(buf[start : start + 2])
    if not REPLY_HEADER.startswith(head):
        return None, -1
    if len(head) < 2:
        return None, 0
    if len(buf) < end_of_head:
        return None, 0
    size = _reply_length(buf[start + 3])
    if len(buf) < start + size:
        return None, 0
    body = bytes(buf[start + 2 : start + size - 2])
    crc = int.from_bytes(buf[start + size - 2 : start + size], "big")
    if crc16_xmodem(body) != crc:
        return None, -1
    return GrowReply(status=body[0], data=body[2:]), size


class GrowReplyDecoder:
    """Replies from a port that carries nothing else (e.g. while configuring).

    Bytes that do not start a reply with a valid CRC are skipped one at a time, so a
    reply hidden behind noise or behind a false `02 00` is still found.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.garbage_bytes = 0

    def feed(self, data: bytes) -> list[GrowReply]:
        """Consume bytes; return the replies they completed."""
        self._buffer += data
        replies: list[GrowReply] = []
        while self._buffer:
            reply, size = _try_reply(self._buffer, 0)
            if reply is not None:
                replies.append(reply)
                del self._buffer[:size]
            elif size == 0:
                break
            else:
                self._skip_to_next_header()
        return replies

    def _skip_to_next_header(self) -> None:
        nxt = self._buffer.find(0x02, 1)
        drop = len(self._buffer) if nxt < 0 else nxt
        self.garbage_bytes += drop
        del self._buffer[:drop]


ScannerFrame = ScannedCode | GrowReply


class ScannerStreamDecoder:
    """One scanner port: CR-terminated decoded codes mixed with binary replies.

    A byte 0x02 (never part of a printable code) followed by 0x00 opens a candidate
    reply; it becomes a `GrowReply` if the length and CRC check out, otherwise the 0x02
    is handed to the text side, which rejects its line as noise. Everything else goes
    to a `QrLineDecoder`. A false `02 00` can hold back the text behind it until up to
    262 bytes have arrived; give a `clock` and the candidate is dropped once it is older
    than `reply_timeout_s` at the next `feed`, mirroring the scanner's own 400 ms rule.
    """

    def __init__(
        self,
        lines: QrLineDecoder | None = None,
        *,
        clock: Callable[[], float] | None = None,
        reply_timeout_s: float = REPLY_TIMEOUT_S,
    ) -> None:
        self.lines = lines if lines is not None else QrLineDecoder()
        self._clock = clock
        self._timeout = reply_timeout_s
        self._pending = bytearray()
        self._pending_since: float | None = None
        self.garbage_bytes = 0
        """Bytes dropped; a false reply header is dropped with the line it poisons."""

    def feed(self, data: bytes) -> list[ScannerFrame]:
        """Consume bytes; return codes and replies in the order they completed."""
        now = self._clock() if self._clock is not None else None
        frames: list[ScannerFrame] = []
        if (
            now is not None
            and self._pending_since is not None
            and now - self._pending_since > self._timeout
        ):
            frames += self._to_text(1)
            self._pending_since = None
        held = len(self._pending)
        self._pending += data
        frames += self._drain()
        if not self._pending or now is None:
            self._pending_since = None
        elif self._pending_since is None or len(self._pending) != held + len(data):
            # Something was consumed, so what is left is a new candidate: its clock
            # starts now, not when the previous one did.
            self._pending_since = now
        self.garbage_bytes = self.lines.garbage_bytes
        return frames

    def _drain(self) -> list[ScannerFrame]:
        frames: list[ScannerFrame] = []
        buf = self._pending
        while buf:
            if buf[0] != 0x02:
                cut = buf.find(0x02)
                cut = len(buf) if cut < 0 else cut
                frames += self.lines.feed(bytes(buf[:cut]))
                del buf[:cut]
                continue
            reply, size = _try_reply(buf, 0)
            if reply is not None:
                frames.append(reply)
                del buf[:size]
            elif size == 0:
                break  # wait for the rest of a possible reply
            else:
                frames += self._to_text(1)
        return frames

    def _to_text(self, count: int) -> list[ScannerFrame]:
        chunk = bytes(self._pending[:count])
        del self._pending[:count]
        return [*self.lines.feed(chunk)]
