"""HLK-LD2410 (and LD2410B/C) 24 GHz presence radar over UART, 256000 8N1.

Two frame families share the line, all multi-byte numbers little-endian:

    data     F4 F3 F2 F1 | LEN u16 | TYPE | AA | target fields … | 55 00 | F8 F7 F6 F5
    command  FD FC FB FA | LEN u16 | CMD u16 | value …              | 04 03 02 01
    ACK      FD FC FB FA | LEN u16 | CMD|0x0100 u16 | STATUS u16 | data … | 04 03 02 01

LEN counts the bytes between the length field and the tail. TYPE 0x02 is a basic report
(13 bytes), 0x01 an engineering report with per-gate energies (35 bytes). The radar only
answers commands between "enable config" (0xFF) and "end config" (0xFE) and sends no
reports meanwhile.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

BAUDRATE = 256000

DATA_HEADER = b"\xf4\xf3\xf2\xf1"
DATA_TAIL = b"\xf8\xf7\xf6\xf5"
COMMAND_HEADER = b"\xfd\xfc\xfb\xfa"
COMMAND_TAIL = b"\x04\x03\x02\x01"

BASIC_LEN = 0x0D
ENGINEERING_LEN = 0x23
MAX_COMMAND_LEN = 64
"""Longer than any ACK the radar sends (parameters: 28); a bigger LEN is line noise."""

GATES = 9
"""Distance gates 0..8, 0.75 m each at the default resolution."""


class Command(IntEnum):
    """LD2410 command words."""

    SET_MAX_DISTANCE_AND_DURATION = 0x60
    READ_PARAMETERS = 0x61
    ENABLE_ENGINEERING = 0x62
    DISABLE_ENGINEERING = 0x63
    SET_GATE_SENSITIVITY = 0x64
    READ_FIRMWARE_VERSION = 0xA0
    SET_BAUD = 0xA1
    FACTORY_RESET = 0xA2
    RESTART = 0xA3
    END_CONFIG = 0xFE
    ENABLE_CONFIG = 0xFF


class TargetState(IntFlag):
    """Byte 8 of a report: bit0 a moving target, bit1 a stationary one."""

    NONE = 0
    MOVING = 1
    STATIONARY = 2
    BOTH = 3


@dataclass(frozen=True, slots=True)
class EngineeringData:
    """The extra fields of an engineering-mode report."""

    max_moving_gate: int
    max_stationary_gate: int
    moving_gate_energy: tuple[int, ...]
    stationary_gate_energy: tuple[int, ...]
    light: int
    """Light sensor reading, 0-255."""
    out_pin: bool
    """State of the OUT pin: True while the radar reports presence."""


@dataclass(frozen=True, slots=True)
class RadarReport:
    """One periodic data frame."""

    target_state: TargetState
    moving_distance_cm: int
    moving_energy: int
    stationary_distance_cm: int
    stationary_energy: int
    detection_distance_cm: int
    engineering: EngineeringData | None = None

    @property
    def presence(self) -> bool:
        """Somebody, moving or still, is in range."""
        return self.target_state != TargetState.NONE


@dataclass(frozen=True, slots=True)
class CommandAck:
    """The radar's answer to one command."""

    command: int
    """The command word answered (without the 0x0100 ACK bit)."""
    status: int
    data: bytes

    @property
    def ok(self) -> bool:
        """The radar accepted the command."""
        return self.status == 0


@dataclass(frozen=True, slots=True)
class RadarParameters:
    """Payload of the ACK to READ_PARAMETERS."""

    max_distance_gate: int
    max_moving_gate: int
    max_stationary_gate: int
    moving_sensitivity: tuple[int, ...]
    stationary_sensitivity: tuple[int, ...]
    no_one_duration_s: int


Ld2410Frame = RadarReport | CommandAck


# --- encoders -------------------------------------------------------------------------


def encode_command(command: int, value: bytes = b"") -> bytes:
    """Frame one host → radar command."""
    body = struct.pack("<H", command) + value
    return COMMAND_HEADER + struct.pack("<H", len(body)) + body + COMMAND_TAIL


def enable_config() -> bytes:
    """Enter config mode; the radar ignores every other command until this."""
    return encode_command(Command.ENABLE_CONFIG, b"\x01\x00")


def end_config() -> bytes:
    """Leave config mode; reports resume."""
    return encode_command(Command.END_CONFIG)


def enable_engineering() -> bytes:
    """Switch to engineering reports (per-gate energies, light, OUT pin)."""
    return encode_command(Command.ENABLE_ENGINEERING)


def disable_engineering() -> bytes:
    """Switch back to basic reports."""
    return encode_command(Command.DISABLE_ENGINEERING)


def read_parameters() -> bytes:
    """Ask for max gates, per-gate sensitivities and the no-one duration."""
    return encode_command(Command.READ_PARAMETERS)


def set_max_distance_and_duration(
    max_moving_gate: int, max_stationary_gate: int, no_one_duration_s: int
) -> bytes:
    """Limit detection to gates 2..8 and set how long "nobody" must last before it shows."""
    for gate in (max_moving_gate, max_stationary_gate):
        if not 2 <= gate <= 8:
            raise ValueError(f"max gate must be 2..8, not {gate}")
    if not 0 <= no_one_duration_s <= 0xFFFF:
        raise ValueError(f"no-one duration {no_one_duration_s} s is out of range")
    value = struct.pack(
        "<HIHIHI", 0x0000, max_moving_gate, 0x0001, max_stationary_gate, 0x0002,
        no_one_duration_s,
    )  # fmt: skip
    return encode_command(Command.SET_MAX_DISTANCE_AND_DURATION, value)


def restart() -> bytes:
    """Reboot the radar (it leaves config mode)."""
    return encode_command(Command.RESTART)


def encode_ack(command: int, status: int = 0, data: bytes = b"") -> bytes:
    """Frame a radar → host ACK (used by simulators and tests)."""
    return encode_command(command | 0x0100, struct.pack("<H", status) + data)


def encode_report(report: RadarReport) -> bytes:
    """Frame a data report as the radar does (used by simulators and tests)."""
    fields = struct.pack(
        "<BHBHBH",
        report.target_state,
        report.moving_distance_cm,
        report.moving_energy,
        report.stationary_distance_cm,
        report.stationary_energy,
        report.detection_distance_cm,
    )
    eng = report.engineering
    if eng is None:
        payload = b"\x02\xaa" + fields
    else:
        payload = (
            b"\x01\xaa"
            + fields
            + bytes([eng.max_moving_gate, eng.max_stationary_gate])
            + bytes(eng.moving_gate_energy)
            + bytes(eng.stationary_gate_energy)
            + bytes([eng.light, int(eng.out_pin)])
        )
    payload += b"\x55\x00"
    return DATA_HEADER + struct.pack("<H", len(payload)) + payload + DATA_TAIL


# --- decoding --------------------------------------------------------------------------


def parse_report(payload: bytes) -> RadarReport | None:
    """Decode the bytes between LEN and the tail of a data frame; None if malformed."""
    kind = payload[0] if payload else None
    expected = {0x02: BASIC_LEN, 0x01: ENGINEERING_LEN}.get(kind or -1)
    if expected is None or len(payload) != expected:
        return None
    if payload[1] != 0xAA or payload[-2:] != b"\x55\x00":
        return None
    state, mov_d, mov_e, still_d, still_e, det_d = struct.unpack_from("<BHBHBH", payload, 2)
    if state > TargetState.BOTH:
        return None
    engineering = None
    if kind == 0x01:
        # Offsets are frame offsets minus 6 (header and LEN are not in the payload).
        gates = payload[11:13]
        moving = payload[13 : 13 + GATES]
        still = payload[13 + GATES : 13 + 2 * GATES]
        light, out = payload[31], payload[32]
        engineering = EngineeringData(
            max_moving_gate=gates[0],
            max_stationary_gate=gates[1],
            moving_gate_energy=tuple(moving),
            stationary_gate_energy=tuple(still),
            light=light,
            out_pin=bool(out),
        )
    return RadarReport(TargetState(state), mov_d, mov_e, still_d, still_e, det_d, engineering)


def parse_ack(payload: bytes) -> CommandAck | None:
    """Decode the bytes between LEN and the tail of an ACK; None if it is not one."""
    if len(payload) < 4:
        return None
    word, status = struct.unpack_from("<HH", payload)
    if not word & 0x0100:
        return None  # a command echoed back (loopback wiring), not an answer
    return CommandAck(command=word & ~0x0100 & 0xFFFF, status=status, data=payload[4:])


def parse_parameters(ack: CommandAck) -> RadarParameters | None:
    """Decode a READ_PARAMETERS ACK; None if it is another ACK or malformed."""
    data = ack.data
    if ack.command != Command.READ_PARAMETERS or not ack.ok or len(data) != 24 or data[0] != 0xAA:
        return None
    return RadarParameters(
        max_distance_gate=data[1],
        max_moving_gate=data[2],
        max_stationary_gate=data[3],
        moving_sensitivity=tuple(data[4 : 4 + GATES]),
        stationary_sensitivity=tuple(data[4 + GATES : 4 + 2 * GATES]),
        no_one_duration_s=int.from_bytes(data[22:24], "little"),
    )


_FAMILIES = (
    (DATA_HEADER, DATA_TAIL, parse_report, (BASIC_LEN, ENGINEERING_LEN)),
    (COMMAND_HEADER, COMMAND_TAIL, parse_ack, None),
)


class Ld2410Decoder:
    """Reports and ACKs from the radar's UART; noise and broken frames are skipped.

    A frame is accepted only if header, a plausible LEN, tail and inner markers all agree;
    on any mismatch one byte is dropped and the search for a header resumes, so a real
    frame that started inside a broken one is still found.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.garbage_bytes = 0

    def feed(self, data: bytes) -> list[Ld2410Frame]:
        """Consume bytes; return the frames they completed."""
        self._buffer += data
        frames: list[Ld2410Frame] = []
        buf = self._buffer
        while buf:
            start = _next_header(buf)
            if start:
                self.garbage_bytes += start
                del buf[:start]
                continue
            if len(buf) < 4:
                break  # a possible header prefix at the very end
            frame, size = self._try_frame(buf)
            if size == 0:
                break
            if frame is None:
                self.garbage_bytes += 1
                del buf[:1]
            else:
                frames.append(frame)
                del buf[:size]
        return frames

    @staticmethod
    def _try_frame(buf: bytearray) -> tuple[Ld2410Frame | None, int]:
        """(frame, size) if complete and valid, (None, 0) if incomplete, (None, -1) if bad."""
        for header, tail, parse, lengths in _FAMILIES:
            if buf[:4] != header:
                continue
            if len(buf) < 6:
                return None, 0
            length = int.from_bytes(buf[4:6], "little")
            plausible = length in lengths if lengths else 2 <= length <= MAX_COMMAND_LEN
            if not plausible:
                return None, -1
            size = 6 + length + 4
            if len(buf) < size:
                return None, 0
            if buf[size - 4 : size] != tail:
                return None, -1
            frame = parse(bytes(buf[6 : size - 4]))
            return (frame, size) if frame is not None else (None, -1)
        return None, -1


def _next_header(buf: bytearray) -> int:
    """Index of the first byte that may start a frame: a header, or a header prefix at
    the end of the buffer; len(buf) if there is none."""
    best = len(buf)
    for header in (DATA_HEADER, COMMAND_HEADER):
        at = buf.find(header)
        if 0 <= at < best:
            best = at
    # Keep a trailing partial header: its remaining bytes may be in the next chunk.
    for keep in range(min(3, len(buf)), 0, -1):
        tail = buf[-keep:]
        if any(h.startswith(tail) for h in (DATA_HEADER, COMMAND_HEADER)):
            best = min(best, len(buf) - keep)
            break
    return best
