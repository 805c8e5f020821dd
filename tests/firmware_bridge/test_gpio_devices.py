"""Wiegand, beams and PIR through gpiozero mock pins."""

from __future__ import annotations

import queue
from typing import Any

from firmware_bridge.beams import (
    AbandonedCrossing,
    AbandonReason,
    Beam,
    BeamPair,
    BeamResult,
    Crossing,
    Direction,
    MotionEvent,
    PirSensor,
)
from firmware_bridge.wiegand import (
    WiegandAssembler,
    WiegandCard,
    WiegandParityError,
    WiegandReader,
    WiegandResult,
    encode_26,
)
from hardware.sim.wiegand import WiegandTransmitter, bit_events

TIMEOUT = 5.0
D0, D1 = 4, 5
BEAM_A, BEAM_B = 17, 27
PIR = 22


def test_bit_events_feed_the_assembler() -> None:
    asm = WiegandAssembler()
    results = [asm.bit(b, t) for b, t in bit_events(26, encode_26(123, 4567))]
    assert results == [None] * 26
    card = asm.poll(1.0)
    assert isinstance(card, WiegandCard)
    assert (card.facility_code, card.card_number) == (123, 4567)


def test_wiegand_pulses_decode_to_the_card(mock_pins: Any) -> None:
    frames: queue.Queue[WiegandResult] = queue.Queue()
    rejected: queue.Queue[int] = queue.Queue()
    reader = WiegandReader(
        D0, D1, frames.put, on_rejected=rejected.put, gap_s=0.05, pin_factory=mock_pins
    )
    try:
        tx = WiegandTransmitter(mock_pins.pin(D0), mock_pins.pin(D1))
        tx.send_card(123, 4567)
        card = frames.get(timeout=TIMEOUT)
        assert isinstance(card, WiegandCard)
        assert (card.bit_count, card.facility_code, card.card_number) == (26, 123, 4567)

        tx.send(34, 0xDEADBEEF)
        card = frames.get(timeout=TIMEOUT)
        assert isinstance(card, WiegandCard)
        assert (card.bit_count, card.value) == (34, 0xDEADBEEF)

        tx.send_raw(26, encode_26(1, 1) ^ 1)
        assert isinstance(frames.get(timeout=TIMEOUT), WiegandParityError)

        tx.send_raw(8, 0xA5)  # a keypad frame: not a card, counted and dropped
        assert rejected.get(timeout=TIMEOUT) == 8
        tx.send_card(7, 8)
        card = frames.get(timeout=TIMEOUT)
        assert isinstance(card, WiegandCard)
        assert card.card_number == 8
        assert reader.assembler.rejected_frames == 1
    finally:
        reader.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_beams_on_mock_pins_count_in_and_out(mock_pins: Any) -> None:
    results: queue.Queue[BeamResult] = queue.Queue()
    clock = FakeClock()
    pair = BeamPair(BEAM_A, BEAM_B, results.put, pin_factory=mock_pins, clock=clock)
    a, b = mock_pins.pin(BEAM_A), mock_pins.pin(BEAM_B)

    def step(pin: Any, broken: bool, dt: float = 0.1) -> None:
        clock.now += dt
        if broken:
            pin.drive_low()
        else:
            pin.drive_high()

    try:
        for pin, broken in ((a, True), (b, True), (a, False), (b, False)):
            step(pin, broken)
        clock.now += 1.0  # the settle timer finishes the episode
        crossing = results.get(timeout=TIMEOUT)
        assert isinstance(crossing, Crossing)
        assert crossing.direction is Direction.IN

        for pin, broken in ((b, True), (a, True), (b, False), (a, False)):
            step(pin, broken)
        clock.now += 1.0
        crossing = results.get(timeout=TIMEOUT)
        assert isinstance(crossing, Crossing)
        assert crossing.direction is Direction.OUT

        step(a, True)
        step(a, False, 0.4)
        clock.now += 1.0
        abandoned = results.get(timeout=TIMEOUT)
        assert isinstance(abandoned, AbandonedCrossing)
        assert abandoned.reason is AbandonReason.BACKED_OUT

        det = pair.detector
        assert (det.entries, det.exits, det.abandoned) == (1, 1, 1)
    finally:
        pair.close()


def test_beams_broken_at_start_are_seen(mock_pins: Any) -> None:
    # Receivers that go high when broken: with pull-ups both read "broken" at boot, as
    # when somebody stands in the door while the gateway starts.
    results: queue.Queue[BeamResult] = queue.Queue()
    clock = FakeClock()
    pair = BeamPair(
        BEAM_A, BEAM_B, results.put, broken_when_low=False, pin_factory=mock_pins, clock=clock
    )
    try:
        assert pair.detector.is_broken(Beam.A)
        assert pair.detector.is_broken(Beam.B)
        clock.now += 0.2
        mock_pins.pin(BEAM_A).drive_low()
        clock.now += 0.1
        mock_pins.pin(BEAM_B).drive_low()  # cleared last on the inside: walked in
        clock.now += 1.0
        crossing = results.get(timeout=TIMEOUT)
        assert isinstance(crossing, Crossing)
        assert crossing.direction is Direction.IN
    finally:
        pair.close()


def test_pir_reports_motion_and_no_motion(mock_pins: Any) -> None:
    events: queue.Queue[MotionEvent] = queue.Queue()
    pir = PirSensor(PIR, events.put, pin_factory=mock_pins, clock=lambda: 42.0)
    try:
        mock_pins.pin(PIR).drive_high()
        assert events.get(timeout=TIMEOUT) == MotionEvent(True, 42.0)
        assert pir.motion_detected
        mock_pins.pin(PIR).drive_low()
        assert events.get(timeout=TIMEOUT) == MotionEvent(False, 42.0)
        assert not pir.motion_detected
    finally:
        pir.close()
