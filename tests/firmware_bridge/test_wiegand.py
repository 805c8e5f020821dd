"""Wiegand 26/34 decoding and frame assembly from timed bits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.wiegand import (
    WiegandAssembler,
    WiegandCard,
    WiegandParityError,
    decode_wiegand,
    encode_26,
    encode_wiegand,
    frame_bits,
)


def test_reference_26_bit_example() -> None:
    assert encode_26(123, 4567) == 0x2F623AE
    assert format(0x2F623AE, "026b") == "10111101100010001110101110"
    card = decode_wiegand(26, 0x2F623AE)
    assert card == WiegandCard(26, 0x2F623AE, (123 << 16) | 4567, 123, 4567)


def test_reference_34_bit_example() -> None:
    assert encode_wiegand(34, 0xDEADBEEF) == 0x3BD5B7DDE
    card = decode_wiegand(34, 0x3BD5B7DDE)
    assert isinstance(card, WiegandCard)
    assert card.value == 0xDEADBEEF
    assert (card.facility_code, card.card_number) == (0xDEAD, 0xBEEF)


@pytest.mark.parametrize(("flip", "even_ok", "odd_ok"), [(25, False, True), (0, True, False)])
def test_flipped_parity_bit_is_a_typed_error(flip: int, even_ok: bool, odd_ok: bool) -> None:
    raw = 0x2F623AE ^ (1 << flip)
    assert decode_wiegand(26, raw) == WiegandParityError(26, raw, even_ok, odd_ok)


def test_other_lengths_are_refused() -> None:
    with pytest.raises(ValueError):
        decode_wiegand(37, 0)
    with pytest.raises(ValueError):
        encode_wiegand(26, 1 << 24)


@given(st.sampled_from([26, 34]), st.data())
def test_encode_decode_round_trip(bits: int, data: st.DataObject) -> None:
    value = data.draw(st.integers(0, (1 << (bits - 2)) - 1))
    raw = encode_wiegand(bits, value)
    card = decode_wiegand(bits, raw)
    assert isinstance(card, WiegandCard)
    assert card.value == value


@given(st.sampled_from([26, 34]), st.data())
def test_any_single_bit_flip_breaks_parity(bits: int, data: st.DataObject) -> None:
    value = data.draw(st.integers(0, (1 << (bits - 2)) - 1))
    flip = data.draw(st.integers(0, bits - 1))
    assert isinstance(
        decode_wiegand(bits, encode_wiegand(bits, value) ^ (1 << flip)), WiegandParityError
    )


def _feed(
    asm: WiegandAssembler, bits: list[int], start: float, step: float = 0.002
) -> list[object]:
    out = [asm.bit(b, start + i * step) for i, b in enumerate(bits)]
    return [r for r in out if r is not None]


def test_assembler_completes_after_gap() -> None:
    asm = WiegandAssembler(gap_s=0.025)
    bits = frame_bits(26, encode_26(123, 4567))
    assert _feed(asm, bits, 0.0) == []
    last = 25 * 0.002
    assert asm.deadline == pytest.approx(last + 0.025)
    assert asm.poll(last + 0.024) is None
    card = asm.poll(last + 0.026)
    assert isinstance(card, WiegandCard)
    assert (card.facility_code, card.card_number) == (123, 4567)
    assert asm.deadline is None


def test_next_frame_after_gap_finishes_the_previous_one() -> None:
    asm = WiegandAssembler(gap_s=0.025)
    first = frame_bits(26, encode_26(1, 2))
    second = frame_bits(34, encode_wiegand(34, 0xDEADBEEF))
    assert _feed(asm, first, 0.0) == []
    done = _feed(asm, second, 1.0)
    assert len(done) == 1
    assert isinstance(done[0], WiegandCard)
    assert done[0].card_number == 2
    tail = asm.flush()
    assert isinstance(tail, WiegandCard)
    assert tail.value == 0xDEADBEEF


def test_unsupported_lengths_are_counted_not_returned() -> None:
    asm = WiegandAssembler(gap_s=0.025)
    _feed(asm, [1, 0, 1], 0.0)
    assert asm.poll(1.0) is None
    _feed(asm, [1] * 100, 2.0)
    assert asm.poll(3.0) is None
    assert asm.rejected_frames == 2


def test_parity_errors_are_returned_and_counted() -> None:
    asm = WiegandAssembler(gap_s=0.025)
    _feed(asm, frame_bits(26, encode_26(5, 6) ^ 1), 0.0)
    assert isinstance(asm.poll(1.0), WiegandParityError)
    assert asm.parity_errors == 1


def test_gap_is_configurable() -> None:
    asm = WiegandAssembler(gap_s=0.005)
    bits = frame_bits(26, encode_26(9, 9))
    # A 10 ms pause in the middle splits the frame into two rejected halves.
    _feed(asm, bits[:13], 0.0, 0.001)
    _feed(asm, bits[13:], 0.030, 0.001)
    assert asm.flush() is None
    assert asm.rejected_frames == 2


def test_assembler_refuses_lengths_it_cannot_decode() -> None:
    with pytest.raises(ValueError):
        WiegandAssembler(lengths=(26, 37))
    only26 = WiegandAssembler(lengths=(26,))
    _feed(only26, frame_bits(34, encode_wiegand(34, 7)), 0.0)
    assert only26.flush() is None
    assert only26.rejected_frames == 1
