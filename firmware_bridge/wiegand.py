"""Wiegand 26 and 34 as sent by card readers and face terminals.

A frame is `EP | data | OP`, most significant bit first: the leading bit makes the first
half of the frame (EP plus the first half of the data) even, the trailing bit makes the
second half odd. 26-bit (H10301) data is an 8-bit facility code and a 16-bit card number;
34-bit data is read as 16 + 16. On the wire, a low pulse on D0 is a 0 and on D1 a 1; a
silence of a few milliseconds ends the frame.

`decode_wiegand` and `WiegandAssembler` are pure; `WiegandReader` binds them to two GPIO
inputs through gpiozero.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpiozero import DigitalInputDevice

log = logging.getLogger(__name__)

SUPPORTED_LENGTHS = (26, 34)
DEFAULT_GAP_S = 0.025
"""Silence that ends a frame: well above the 20 ms worst-case bit interval."""
MAX_BITS = 64
"""Bits beyond this mean two frames ran together or a line is chattering."""


@dataclass(frozen=True, slots=True)
class WiegandCard:
    """A frame with good parity."""

    bit_count: int
    raw: int
    """The whole frame as an integer, parity bits included (last bit = LSB)."""
    value: int
    """The data bits between the parity bits: the generic card/user id."""
    facility_code: int
    card_number: int


@dataclass(frozen=True, slots=True)
class WiegandParityError:
    """A frame of a supported length whose parity does not check out."""

    bit_count: int
    raw: int
    even_ok: bool
    odd_ok: bool


WiegandResult = WiegandCard | WiegandParityError


def _second_half(bit_count: int) -> int:
    # Both supported lengths are even, so the halves are equal: 13+13 or 17+17 bits.
    return bit_count - bit_count // 2


def decode_wiegand(bit_count: int, raw: int) -> WiegandResult:
    """Check parity and split a 26- or 34-bit frame; raises ValueError on other lengths."""
    if bit_count not in SUPPORTED_LENGTHS:
        raise ValueError(f"unsupported Wiegand length {bit_count}")
    if not 0 <= raw < 1 << bit_count:
        raise ValueError(f"{raw:#x} does not fit in {bit_count} bits")
    second = _second_half(bit_count)
    even_ok = (raw >> second).bit_count() % 2 == 0
    odd_ok = (raw & ((1 << second) - 1)).bit_count() % 2 == 1
    if not (even_ok and odd_ok):
        return WiegandParityError(bit_count, raw, even_ok, odd_ok)
    data_bits = bit_count - 2
    value = (raw >> 1) & ((1 << data_bits) - 1)
    card_bits = 16
    return WiegandCard(
        bit_count=bit_count,
        raw=raw,
        value=value,
        facility_code=value >> card_bits,
        card_number=value & 0xFFFF,
    )


def encode_wiegand(bit_count: int, value: int) -> int:
    """Wrap `value` (bit_count - 2 data bits) in its parity bits; returns the raw frame."""
    if bit_count not in SUPPORTED_LENGTHS:
        raise ValueError(f"unsupported Wiegand length {bit_count}")
    data_bits = bit_count - 2
    if not 0 <= value < 1 << data_bits:
        raise ValueError(f"{value:#x} does not fit in {data_bits} data bits")
    second = _second_half(bit_count)
    body = value << 1
    even = (body >> second).bit_count() % 2
    odd = 1 - (body & ((1 << second) - 1)).bit_count() % 2
    return (even << (bit_count - 1)) | body | odd


def encode_26(facility_code: int, card_number: int) -> int:
    """Raw H10301 frame for an 8-bit facility code and a 16-bit card number."""
    if not (0 <= facility_code <= 0xFF and 0 <= card_number <= 0xFFFF):
        raise ValueError("facility code is 8 bits and card number 16 bits")
    return encode_wiegand(26, (facility_code << 16) | card_number)


def frame_bits(bit_count: int, raw: int) -> list[int]:
    """The frame as the wire sends it, most significant bit first."""
    return [(raw >> (bit_count - 1 - i)) & 1 for i in range(bit_count)]


class WiegandAssembler:
    """Collects timestamped bits into frames; a gap longer than `gap_s` ends a frame.

    Feed `bit()` from edge callbacks and call `poll()` when the gap may have passed;
    both return a finished frame's result or None. Frames of other lengths are dropped
    and counted in `rejected_frames`, because a partial frame from a glitch or a reader
    in the wrong format must not become somebody's card.
    """

    def __init__(
        self, gap_s: float = DEFAULT_GAP_S, lengths: tuple[int, ...] = SUPPORTED_LENGTHS
    ) -> None:
        unsupported = set(lengths) - set(SUPPORTED_LENGTHS)
        if unsupported:
            raise ValueError(f"cannot decode lengths {sorted(unsupported)}")
        self.gap_s = gap_s
        self._lengths = lengths
        self._raw = 0
        self._count = 0
        self._last: float | None = None
        self.rejected_frames = 0
        self.last_rejected_length: int | None = None
        self.parity_errors = 0

    @property
    def deadline(self) -> float | None:
        """When the frame in progress ends if no more bits come; None when idle."""
        return None if self._last is None else self._last + self.gap_s

    def bit(self, value: int, at: float) -> WiegandResult | None:
        """One pulse: 0 from D0, 1 from D1. Finishes the previous frame if it is stale."""
        finished = self.poll(at)
        if self._count < MAX_BITS:
            self._raw = (self._raw << 1) | (value & 1)
        self._count += 1
        self._last = at
        return finished

    def poll(self, now: float) -> WiegandResult | None:
        """Finish the frame in progress if `gap_s` has passed since its last bit."""
        deadline = self.deadline
        if deadline is None or now < deadline:
            return None
        return self.flush()

    def flush(self) -> WiegandResult | None:
        """Finish the frame in progress now, whatever the time."""
        count, raw = self._count, self._raw
        self._raw, self._count, self._last = 0, 0, None
        if count == 0:
            return None
        if count not in self._lengths:
            self.rejected_frames += 1
            self.last_rejected_length = count
            return None
        result = decode_wiegand(count, raw)
        if isinstance(result, WiegandParityError):
            self.parity_errors += 1
        return result


class WiegandReader:
    """D0/D1 inputs through gpiozero, handing each finished frame to `on_frame`.

    Lines idle high with pull-ups; a falling edge is a bit. A background thread ends
    the frame once `gap_s` of silence has passed; frames whose length is not in `lengths`
    (the reader's configured format) are rejected. Bits are timestamped with `clock` on
    arrival: the order and the gaps matter here, not the microseconds. `on_rejected`
    hears the bit count of each frame of an unsupported length (a keypad press, noise).
    """

    def __init__(
        self,
        d0_pin: int | str,
        d1_pin: int | str,
        on_frame: Callable[[WiegandResult], None],
        *,
        on_rejected: Callable[[int], None] | None = None,
        gap_s: float = DEFAULT_GAP_S,
        lengths: tuple[int, ...] = SUPPORTED_LENGTHS,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.assembler = WiegandAssembler(gap_s, lengths)
        self._on_frame = on_frame
        self._on_rejected = on_rejected
        self._clock = clock
        self._lock = threading.Lock()
        self._bit_arrived = threading.Event()
        self._stop = threading.Event()
        self._d0 = DigitalInputDevice(d0_pin, pull_up=True, pin_factory=pin_factory)
        self._d1 = DigitalInputDevice(d1_pin, pull_up=True, pin_factory=pin_factory)
        # With pull-ups the inputs are active low: "activated" is the falling edge.
        self._d0.when_activated = lambda: self._on_bit(0)
        self._d1.when_activated = lambda: self._on_bit(1)
        self._thread = threading.Thread(target=self._run, name="wiegand", daemon=True)
        self._thread.start()

    def _on_bit(self, value: int) -> None:
        with self._lock:
            rejected = self.assembler.rejected_frames
            result = self.assembler.bit(value, self._clock())
            rejected_now = self.assembler.rejected_frames != rejected
        self._bit_arrived.set()
        self._deliver(result, rejected_now)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                deadline = self.assembler.deadline
            if deadline is None:
                self._bit_arrived.wait()
                self._bit_arrived.clear()
                continue
            remaining = deadline - self._clock()
            if remaining > 0:
                # New bits move the deadline; waking early just recomputes it.
                self._stop.wait(remaining)
                continue
            with self._lock:
                rejected = self.assembler.rejected_frames
                result = self.assembler.poll(self._clock())
                rejected_now = self.assembler.rejected_frames != rejected
            self._deliver(result, rejected_now)

    def _deliver(self, result: WiegandResult | None, rejected: bool) -> None:
        length = self.assembler.last_rejected_length
        try:
            if result is not None:
                self._on_frame(result)
            elif rejected and self._on_rejected is not None and length is not None:
                self._on_rejected(length)
        except Exception:  # the reader must outlive one bad handler call
            log.exception("Wiegand frame handler failed")

    def close(self) -> None:
        """Stop the flush thread and release both pins."""
        self._stop.set()
        self._bit_arrived.set()
        self._thread.join(timeout=5)
        self._d0.close()
        self._d1.close()
