"""Grow/Newland zone-bit commands: every example from the reference, byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.grow_commands import (
    ACK,
    GrowReply,
    GrowReplyDecoder,
    ScannerStreamDecoder,
    TriggerMode,
    crc16_xmodem,
    encode_read,
    encode_reply,
    encode_save,
    encode_write,
    mode_byte,
    save_settings,
    set_command_mode,
    set_continuous_mode,
    set_sensor_mode,
    trigger_scan,
)
from firmware_bridge.qr_lines import ScannedCode
from tests.firmware_bridge.chunks import chunked, cut_points


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# (what the encoder produced, the bytes printed in the reference)
COMMAND_EXAMPLES = [
    (encode_read(0x000A), "7E 00 07 01 00 0A 01 EE 8A"),
    (encode_write(0x000A, b"\x3e"), "7E 00 08 01 00 0A 3E 4C CF"),
    (encode_save(), "7E 00 09 01 00 00 00 DE C8"),
    (save_settings(), "7E 00 09 01 00 00 00 DE C8"),
    (encode_read(0x002A, 2), "7E 00 07 01 00 2A 02 D8 0F"),
    (encode_write(0x002A, b"\x39\x01"), "7E 00 08 02 00 2A 39 01 A7 EA"),
    (set_continuous_mode(), "7E 00 08 01 00 00 D6 DF 22"),
    (trigger_scan(), "7E 00 08 01 00 02 01 02 DA"),
    (trigger_scan(bypass_crc=True), "7E 00 08 01 00 02 01 AB CD"),
    (set_command_mode(), "7E 00 08 01 00 00 D5 EF 41"),
    (set_sensor_mode(), "7E 00 08 01 00 00 D7 CF 03"),
    (encode_read(0x0000), "7E 00 07 01 00 00 01 01 41"),
]


@pytest.mark.parametrize(("encoded", "expected"), COMMAND_EXAMPLES)
def test_commands_match_reference_bytes(encoded: bytes, expected: str) -> None:
    assert encoded == h(expected)


@pytest.mark.parametrize("expected", [e for _, e in COMMAND_EXAMPLES if not e.endswith("AB CD")])
def test_crc_of_every_reference_command(expected: str) -> None:
    frame = h(expected)
    assert crc16_xmodem(frame[2:-2]) == int.from_bytes(frame[-2:], "big")


def test_crc16_xmodem_standard_check_value() -> None:
    # The catalogue check value for CRC-16/XMODEM over "123456789".
    assert crc16_xmodem(b"123456789") == 0x31C3


@pytest.mark.parametrize(
    ("reply", "status", "data"),
    [
        ("02 00 00 01 3E E4 AC", 0, b"\x3e"),  # read 0x000A
        ("02 00 00 01 00 33 31", 0, b"\x00"),  # write / save ACK
    ],
)
def test_reference_replies_decode(reply: str, status: int, data: bytes) -> None:
    decoder = GrowReplyDecoder()
    assert decoder.feed(h(reply)) == [GrowReply(status, data)]
    assert decoder.garbage_bytes == 0
    assert encode_reply(data, status) == h(reply)


def test_ack_constant_is_the_seven_byte_ack() -> None:
    assert h("02 00 00 01 00 33 31") == ACK
    assert GrowReply(0, b"\x00").is_ack
    assert not GrowReply(0, b"\x3e").is_ack


def test_baud_query_reply_carries_0x0139() -> None:
    # The reference leaves the CRC of this reply as "SS SS"; ours must round-trip.
    frame = encode_reply(b"\x39\x01")
    assert frame[:6] == h("02 00 00 02 39 01")
    (reply,) = GrowReplyDecoder().feed(frame)
    assert int.from_bytes(reply.data, "little") == 0x0139  # 313 → 9600 bps


def test_mode_byte_layout() -> None:
    assert mode_byte(TriggerMode.COMMAND) == 0xD5
    assert mode_byte(TriggerMode.CONTINUOUS) == 0xD6
    assert mode_byte(TriggerMode.SENSOR, led=False, beep=False) == 0x17


def test_bad_crc_reply_is_garbage_and_next_reply_survives() -> None:
    decoder = GrowReplyDecoder()
    broken = bytearray(ACK)
    broken[-1] ^= 0xFF
    assert decoder.feed(bytes(broken) + ACK) == [GrowReply(0, b"\x00")]
    assert decoder.garbage_bytes == len(ACK)


def test_encoder_rejects_what_the_scanner_cannot_take() -> None:
    with pytest.raises(ValueError):
        encode_write(0x10000, b"\x00")
    with pytest.raises(ValueError):
        encode_write(0, bytes(246))
    with pytest.raises(ValueError):
        encode_read(0, 257)
    assert encode_read(0, 256)[6] == 0x00  # 256 goes on the wire as 0


def test_reply_of_256_bytes_uses_length_zero() -> None:
    data = bytes(range(256))
    frame = encode_reply(data)
    assert frame[3] == 0
    assert GrowReplyDecoder().feed(frame) == [GrowReply(0, data)]


# --- mixed stream -----------------------------------------------------------------------


def test_ack_then_code_as_a_triggered_scan_sends_them() -> None:
    decoder = ScannerStreamDecoder()
    frames = decoder.feed(ACK + b"YZ1:ABC\r")
    assert frames == [GrowReply(0, b"\x00"), ScannedCode("YZ1:ABC")]
    assert decoder.garbage_bytes == 0


def test_reply_containing_cr_is_not_split_as_a_line() -> None:
    frame = encode_reply(b"\x0d\x0a")
    decoder = ScannerStreamDecoder()
    assert decoder.feed(frame + b"OK\r") == [GrowReply(0, b"\x0d\x0a"), ScannedCode("OK")]


def test_false_reply_header_times_out_with_a_clock() -> None:
    now = [0.0]
    decoder = ScannerStreamDecoder(clock=lambda: now[0])
    assert decoder.feed(b"\x02\x00\x00\x30") == []  # claims 48 data bytes
    now[0] = 1.0
    # The stray header poisons its own line, but the next line gets through at once.
    assert decoder.feed(b"junk\rGOOD\r") == [ScannedCode("GOOD")]
    assert decoder.garbage_bytes > 0


def test_false_reply_header_without_clock_waits_for_enough_bytes() -> None:
    decoder = ScannerStreamDecoder()
    assert decoder.feed(b"\x02\x00\x00\x01AB") == []  # 6 bytes: a complete bad-CRC frame
    assert decoder.feed(b"\rGOOD\r") == [ScannedCode("GOOD")]


# --- properties ---------------------------------------------------------------------------

replies = st.binary(min_size=1, max_size=40).map(encode_reply)
# Noise without 0x02 can never open a reply, so every inserted reply must come out.
noise = st.binary(max_size=30).map(lambda b: b.replace(b"\x02", b""))


@given(st.lists(st.tuples(noise, replies), max_size=6), noise)
def test_replies_survive_noise(pairs: list[tuple[bytes, bytes]], tail: bytes) -> None:
    stream = b"".join(n + r for n, r in pairs) + tail
    decoder = GrowReplyDecoder()
    got = decoder.feed(stream)
    assert [encode_reply(g.data, g.status) for g in got] == [r for _, r in pairs]
    assert decoder.garbage_bytes == sum(len(n) for n, _ in pairs) + len(tail)


@given(st.binary(max_size=200), st.lists(replies, min_size=1, max_size=4))
def test_replies_after_arbitrary_garbage_are_recovered(junk: bytes, frames: list[bytes]) -> None:
    # Garbage may contain 0x02 and even whole frames; what we inserted must still appear.
    # A false header in the garbage holds later bytes back until its length has arrived
    # and its CRC fails, so pad with enough non-header bytes to disprove any of them.
    got = GrowReplyDecoder().feed(junk + b"".join(frames) + bytes(262))
    encoded = [encode_reply(g.data, g.status) for g in got]
    assert encoded[-len(frames) :] == frames


codes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:$%*+-./ ", min_size=1, max_size=30)
mixed_items = st.one_of(replies, codes.map(lambda c: c.encode() + b"\r"))


@given(st.lists(mixed_items, max_size=8), cut_points)
def test_mixed_stream_chunking_gives_same_frames(items: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(items)
    whole = ScannerStreamDecoder().feed(stream)
    pieces = ScannerStreamDecoder()
    in_pieces = [f for chunk in chunked(stream, cuts) for f in pieces.feed(chunk)]
    assert in_pieces == whole
    assert len(whole) == len(items)


@given(st.lists(st.tuples(st.binary(max_size=20), mixed_items), max_size=6))
def test_mixed_stream_keeps_frames_after_cr_terminated_noise(
    pairs: list[tuple[bytes, bytes]],
) -> None:
    # Noise is closed with CR (a garbled line) and kept free of 0x02 so it cannot open a
    # reply; each real item after it must come out intact.
    stream = b"".join(n.replace(b"\x02", b"") + b"\r" + item for n, item in pairs)
    decoder = ScannerStreamDecoder()
    got = decoder.feed(stream)
    expected = [
        GrowReplyDecoder().feed(item)[0] if item[0] == 0x02 else ScannedCode(item[:-1].decode())
        for _, item in pairs
    ]
    # Printable noise lines are themselves valid codes; the real items must be a
    # subsequence of what came out, in order.
    it = iter(got)
    assert all(any(e == g for g in it) for e in expected)
