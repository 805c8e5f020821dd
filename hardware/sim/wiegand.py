"""A virtual Wiegand card reader or face terminal.

`WiegandTransmitter` pulses gpiozero mock pins as a reader pulls D0/D1 low; mock pins
call their edge handlers synchronously, so a whole frame arrives within microseconds
and the receiver's inter-frame gap alone ends it. `bit_events` gives the same frame as
timestamped bits, with the usual 2 ms bit interval, for feeding an assembler directly.
"""

from __future__ import annotations

from typing import Protocol

from firmware_bridge.wiegand import encode_26, encode_wiegand, frame_bits


class DrivablePin(Protocol):
    """The part of gpiozero's `MockPin` a transmitter needs."""

    def drive_low(self) -> None:
        """Pull the line low."""
        ...

    def drive_high(self) -> None:
        """Release the line to its idle high level."""
        ...


def bit_events(
    bit_count: int, raw: int, start: float = 0.0, interval_s: float = 0.002
) -> list[tuple[int, float]]:
    """(bit, time) pairs for one frame, most significant bit first."""
    return [(bit, start + i * interval_s) for i, bit in enumerate(frame_bits(bit_count, raw))]


class WiegandTransmitter:
    """Drives D0 and D1 like a reader: a short low pulse per bit, lines idle high."""

    def __init__(self, d0: DrivablePin, d1: DrivablePin) -> None:
        self._pins = (d0, d1)
        for pin in self._pins:
            pin.drive_high()

    def send_raw(self, bit_count: int, raw: int) -> None:
        """Send an exact frame, parity bits and all (bad parity included)."""
        for bit in frame_bits(bit_count, raw):
            pin = self._pins[bit]
            pin.drive_low()
            pin.drive_high()

    def send(self, bit_count: int, value: int) -> None:
        """Send `value` as a 26- or 34-bit frame with correct parity."""
        self.send_raw(bit_count, encode_wiegand(bit_count, value))

    def send_card(self, facility_code: int, card_number: int) -> None:
        """Present a 26-bit H10301 card."""
        self.send_raw(26, encode_26(facility_code, card_number))
