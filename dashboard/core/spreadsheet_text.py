"""The text of a file saved by a spreadsheet: UTF-8 (with or without a byte-order mark),
or GBK/GB18030 as Chinese Excel saves "CSV" by default.

A file that is not valid UTF-8 is read as GB18030 (a superset of GBK) only when every
character outside ASCII then comes out as Chinese (an ideograph, CJK or full-width
punctuation) written as two bytes that are both outside ASCII. A Latin-1 "José" is a
high byte followed by an ASCII letter, which GBK would read as one ideograph: such a pair
(and anything else not Chinese) makes the file refused, so a name is never stored
garbled. The price is that the rarer GBK ideographs whose second byte is in ASCII are
refused too; the message asks for UTF-8, which always works.
"""

from __future__ import annotations

from dataclasses import dataclass

_CHINESE_RANGES = (
    (0x3000, 0x303F),  # CJK symbols and punctuation: 、。《》【】
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xFF00, 0xFFEF),  # full-width forms: ，：；（）
    (0x2010, 0x2027),  # dashes, quotes and the ellipsis GBK has
    (0x00B7, 0x00B7),  # the middle dot in names like 阿卜杜·热合曼
)


@dataclass(frozen=True, slots=True)
class DecodedText:
    """The text of a file and the encoding it was read in (`utf-8` or `gb18030`)."""

    text: str
    encoding: str


class UndecodableTextError(ValueError):
    """The bytes are neither UTF-8 nor Chinese text in GBK/GB18030; the message says so."""


def _chinese(char: str) -> bool:
    code = ord(char)
    if code < 0x80:
        return True
    if not any(low <= code <= high for low, high in _CHINESE_RANGES):
        return False
    encoded = char.encode("gb18030")
    return len(encoded) == 2 and encoded[1] >= 0x80


def decode_spreadsheet_text(data: bytes) -> DecodedText:
    """The text of `data`; `UndecodableTextError` when it cannot be read safely."""
    try:
        return DecodedText(data.decode("utf-8-sig"), "utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("gb18030").removeprefix("\ufeff")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(_chinese(char) for char in text):
        return DecodedText(text, "gb18030")
    raise UndecodableTextError(
        f"neither UTF-8 nor Chinese GBK text (first bad byte at {utf8_error.start}); "
        'save the file as "CSV UTF-8"'
    )
