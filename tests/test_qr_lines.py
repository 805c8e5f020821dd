"""The scanner's decoded-data line codec."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.qr_lines import MAX_LINE_BYTES, QrLineDecoder, ScannedCode

printable = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=200
)


def test_cr_terminated_lines_become_codes() -> None:
    decoder = QrLineDecoder()
    assert decoder.feed(b"ABC123\rYZ1:XYZ\r") == [ScannedCode("ABC123"), ScannedCode("YZ1:XYZ")]


def test_crlf_and_lf_are_tolerated() -> None:
    decoder = QrLineDecoder()
    assert decoder.feed(b"A\r\nB\nC\r") == [ScannedCode("A"), ScannedCode("B"), ScannedCode("C")]
    assert decoder.garbage_bytes == 0


def test_a_code_split_across_reads_is_reassembled() -> None:
    decoder = QrLineDecoder()
    assert decoder.feed(b"YZ1:") == []
    assert decoder.feed(b"ABC") == []
    assert decoder.feed(b"\r") == [ScannedCode("YZ1:ABC")]


def test_lines_with_control_or_high_bytes_are_dropped_and_counted() -> None:
    decoder = QrLineDecoder()
    assert decoder.feed(b"\x00\x01bad\rgood\r\xffx\r") == [ScannedCode("good")]
    assert decoder.rejected_lines == 2
    assert decoder.garbage_bytes == 7


def test_an_overlong_line_is_dropped_and_the_next_line_still_decodes() -> None:
    decoder = QrLineDecoder()
    assert decoder.feed(b"x" * (MAX_LINE_BYTES + 100) + b"\rOK\r") == [ScannedCode("OK")]
    assert decoder.rejected_lines == 1
    assert decoder.garbage_bytes == MAX_LINE_BYTES + 100


@given(codes=st.lists(printable, max_size=10), chunk=st.integers(min_value=1, max_value=64))
def test_any_chunking_gives_the_same_codes(codes: list[str], chunk: int) -> None:
    stream = b"".join(code.encode() + b"\r" for code in codes)
    decoder = QrLineDecoder()
    found = []
    for start in range(0, len(stream), chunk):
        found += decoder.feed(stream[start : start + chunk])
    assert found == [ScannedCode(code) for code in codes]


@given(
    noise=st.lists(st.binary(min_size=1, max_size=100), max_size=5),
    codes=st.lists(printable, min_size=1, max_size=5),
)
def test_valid_lines_survive_garbage_between_them(noise: list[bytes], codes: list[str]) -> None:
    # Garbage is followed by a terminator, as a glitch on the line would be by the next CR;
    # a NUL makes sure the glitch is never itself a printable code.
    stream = b""
    for n, code in enumerate(codes):
        if n < len(noise):
            stream += b"\x00" + noise[n].replace(b"\r", b"").replace(b"\n", b"") + b"\r"
        stream += code.encode() + b"\r"
    found = QrLineDecoder().feed(stream)
    assert found == [ScannedCode(code) for code in codes]
