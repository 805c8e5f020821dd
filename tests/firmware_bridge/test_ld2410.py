"""LD2410 radar frames: reference bytes, ACKs, resynchronisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.ld2410 import (
    CommandAck,
    EngineeringData,
    Ld2410Decoder,
    RadarReport,
    TargetState,
    disable_engineering,
    enable_config,
    enable_engineering,
    encode_ack,
    encode_command,
    encode_report,
    end_config,
    parse_parameters,
    read_parameters,
    restart,
    set_max_distance_and_duration,
)
from tests.firmware_bridge.chunks import chunked, cut_points


def h(text: str) -> bytes:
    return bytes.fromhex(text)


REFERENCE_REPORT = "F4 F3 F2 F1 0D 00 02 AA 03 4E 00 3C 50 00 64 50 00 55 00 F8 F7 F6 F5"


def test_reference_basic_report_decodes() -> None:
    decoder = Ld2410Decoder()
    (report,) = decoder.feed(h(REFERENCE_REPORT))
    assert report == RadarReport(
        target_state=TargetState.BOTH,
        moving_distance_cm=78,
        moving_energy=60,
        stationary_distance_cm=80,
        stationary_energy=100,
        detection_distance_cm=80,
    )
    assert report.presence
    assert decoder.garbage_bytes == 0


def test_reference_basic_report_encodes_byte_for_byte() -> None:
    report = RadarReport(TargetState.BOTH, 78, 60, 80, 100, 80)
    assert encode_report(report) == h(REFERENCE_REPORT)
    assert len(h(REFERENCE_REPORT)) == 23


def test_reference_config_commands() -> None:
    assert enable_config() == h("FD FC FB FA 04 00 FF 00 01 00 04 03 02 01")
    assert end_config() == h("FD FC FB FA 02 00 FE 00 04 03 02 01")


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (enable_engineering(), "FD FC FB FA 02 00 62 00 04 03 02 01"),
        (disable_engineering(), "FD FC FB FA 02 00 63 00 04 03 02 01"),
        (read_parameters(), "FD FC FB FA 02 00 61 00 04 03 02 01"),
        (restart(), "FD FC FB FA 02 00 A3 00 04 03 02 01"),
        (
            # value layout from the reference: 00 00 <mov u32> 01 00 <still u32> 02 00 <s u32>
            set_max_distance_and_duration(8, 6, 5),
            "FD FC FB FA 14 00 60 00 00 00 08 00 00 00 01 00 06 00 00 00"
            " 02 00 05 00 00 00 04 03 02 01",
        ),
    ],
)
def test_command_frames(frame: bytes, expected: str) -> None:
    assert frame == h(expected)


def test_engineering_report_offsets_follow_the_reference_table() -> None:
    eng = EngineeringData(8, 7, tuple(range(1, 10)), tuple(range(21, 30)), 123, True)
    report = RadarReport(TargetState.STATIONARY, 0, 0, 150, 42, 150, eng)
    frame = encode_report(report)
    # Absolute frame offsets from the reference: LEN at 4, gates at 17/18, energies at
    # 19..27 and 28..36, light 37, OUT 38, then 55 00 and the tail.
    assert frame[4:6] == b"\x23\x00"
    assert frame[6] == 0x01
    assert frame[17:19] == b"\x08\x07"
    assert frame[19:28] == bytes(range(1, 10))
    assert frame[28:37] == bytes(range(21, 30))
    assert frame[37] == 123
    assert frame[38] == 1
    assert frame[39:] == h("55 00 F8 F7 F6 F5")
    assert Ld2410Decoder().feed(frame) == [report]


def test_enable_config_ack() -> None:
    ack = encode_ack(0xFF, 0, b"\x01\x00\x40\x00")
    assert ack == h("FD FC FB FA 08 00 FF 01 00 00 01 00 40 00 04 03 02 01")
    assert Ld2410Decoder().feed(ack) == [CommandAck(0xFF, 0, b"\x01\x00\x40\x00")]


def test_failed_ack_is_not_ok() -> None:
    (ack,) = Ld2410Decoder().feed(encode_ack(0x60, 1))
    assert isinstance(ack, CommandAck)
    assert not ack.ok


def test_parameters_ack() -> None:
    data = b"\xaa\x08\x08\x06" + bytes([20] * 9) + bytes([25] * 9) + b"\x05\x00"
    (ack,) = Ld2410Decoder().feed(encode_ack(0x61, 0, data))
    assert isinstance(ack, CommandAck)
    params = parse_parameters(ack)
    assert params is not None
    assert (params.max_distance_gate, params.max_moving_gate, params.max_stationary_gate) == (
        8,
        8,
        6,
    )
    assert params.moving_sensitivity == (20,) * 9
    assert params.stationary_sensitivity == (25,) * 9
    assert params.no_one_duration_s == 5
    assert parse_parameters(CommandAck(0xFF, 0, data)) is None


def test_echoed_command_is_not_taken_for_an_ack() -> None:
    decoder = Ld2410Decoder()
    assert decoder.feed(enable_config()) == []
    assert decoder.garbage_bytes == len(enable_config())


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda f: f[:-1] + b"\x00",  # bad tail
        lambda f: f[:4] + b"\xff\x7f" + f[6:],  # absurd length
        lambda f: f[:7] + b"\x00" + f[8:],  # missing 0xAA head
        lambda f: f[:-6] + b"\x54" + f[-5:],  # missing 0x55 tail marker
        lambda f: f[:6] + b"\x07" + f[7:],  # unknown data type
        lambda f: f[:-4],  # truncated: tail never came
    ],
)
def test_corrupt_frame_is_skipped_and_next_frame_found(corrupt: object) -> None:
    good = h(REFERENCE_REPORT)
    assert callable(corrupt)
    bad = corrupt(good)
    decoder = Ld2410Decoder()
    frames = decoder.feed(bad + good)
    assert frames == Ld2410Decoder().feed(good)
    assert decoder.garbage_bytes == len(bad)


# --- properties --------------------------------------------------------------------------

energies = st.integers(0, 100)
distances = st.integers(0, 0xFFFF)
engineering = st.builds(
    EngineeringData,
    max_moving_gate=st.integers(0, 8),
    max_stationary_gate=st.integers(0, 8),
    moving_gate_energy=st.tuples(*[energies] * 9),
    stationary_gate_energy=st.tuples(*[energies] * 9),
    light=st.integers(0, 255),
    out_pin=st.booleans(),
)
reports = st.builds(
    RadarReport,
    target_state=st.sampled_from(list(TargetState)),
    moving_distance_cm=distances,
    moving_energy=energies,
    stationary_distance_cm=distances,
    stationary_energy=energies,
    detection_distance_cm=distances,
    engineering=st.none() | engineering,
)
acks = st.builds(
    encode_ack,
    st.sampled_from([0x60, 0x61, 0x62, 0x63, 0xA0, 0xA3, 0xFE, 0xFF]),
    st.integers(0, 1),
    st.binary(max_size=24),
)
frames = st.one_of(reports.map(encode_report), acks)
# 0xF4 and 0xFD are the first bytes of the two headers; without them noise cannot hold
# or imitate a frame, so the decoder must find every inserted frame and drop all noise.
noise = st.binary(max_size=40).map(lambda b: b.replace(b"\xf4", b"").replace(b"\xfd", b""))


@given(reports)
def test_report_round_trip(report: RadarReport) -> None:
    assert Ld2410Decoder().feed(encode_report(report)) == [report]


@given(st.lists(st.tuples(noise, frames), max_size=6), noise)
def test_frames_survive_noise(pairs: list[tuple[bytes, bytes]], tail: bytes) -> None:
    decoder = Ld2410Decoder()
    got = decoder.feed(b"".join(n + f for n, f in pairs) + tail)
    expected = [Ld2410Decoder().feed(f)[0] for _, f in pairs]
    assert got == expected
    assert decoder.garbage_bytes == sum(len(n) for n, _ in pairs) + len(tail)


@given(st.binary(max_size=120), st.lists(frames, min_size=1, max_size=4))
def test_frames_after_arbitrary_garbage_are_recovered(junk: bytes, inserted: list[bytes]) -> None:
    decoder = Ld2410Decoder()
    # Pad so a false header in the junk is disproved (its LEN is bounded) before the end.
    got = decoder.feed(junk + b"".join(inserted) + bytes(80))
    expected = [Ld2410Decoder().feed(f)[0] for f in inserted]
    assert got[-len(expected) :] == expected


@given(st.lists(st.tuples(st.binary(max_size=30), frames), max_size=6), cut_points)
def test_chunking_gives_same_frames(pairs: list[tuple[bytes, bytes]], cuts: list[int]) -> None:
    stream = b"".join(n + f for n, f in pairs)
    whole = Ld2410Decoder()
    expected = whole.feed(stream)
    pieces = Ld2410Decoder()
    got = [f for chunk in chunked(stream, cuts) for f in pieces.feed(chunk)]
    assert got == expected
    assert pieces.garbage_bytes == whole.garbage_bytes


def test_command_encoder_length_field_counts_word_and_value() -> None:
    frame = encode_command(0x64, bytes(18))
    assert frame[4:6] == (20).to_bytes(2, "little")
