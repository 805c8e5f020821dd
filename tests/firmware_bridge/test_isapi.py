"""Hikvision alert stream parts: split at any read boundary, read into a verified face
or refused with a reason; pictures discarded."""

from __future__ import annotations

import json

from hypothesis import given

from firmware_bridge.isapi import (
    AlertRefused,
    FaceVerified,
    MultipartDecoder,
    NotForUs,
    Part,
    PartError,
    boundary_of,
    read_alert,
)
from tests.firmware_bridge.chunks import chunked, cut_points

JSON = 'application/json; charset="UTF-8"'


def part(body: bytes, content_type: str = JSON, length: bool = True) -> bytes:
    head = f"--MIME_boundary\r\nContent-Type: {content_type}\r\n"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body + b"\r\n"


def event(minor: int = 75, employee: object = "4242001") -> bytes:
    return json.dumps(
        {
            "ipAddress": "192.168.1.64",
            "dateTime": "2026-12-01T08:30:05+08:00",
            "eventType": "AccessControllerEvent",
            "AccessControllerEvent": {
                "majorEventType": 5,
                "subEventType": minor,
                "employeeNoString": employee,
                "currentVerifyMode": "cardOrFace",
                "doorNo": 1,
                "serialNo": 88,
            },
        }
    ).encode()


HEARTBEAT = json.dumps({"eventType": "videoloss", "eventState": "inactive"}).encode()
STREAM = (
    part(HEARTBEAT)
    + part(event())
    + part(b"\xff\xd8jpeg", "image/jpeg")
    + part(event(employee="7"), length=False)
    + b"--MIME_boundary\r\n"
)


def decode_all(chunks: list[bytes]) -> list[Part | PartError]:
    decoder = MultipartDecoder("MIME_boundary")
    return [item for chunk in chunks for item in decoder.feed(chunk)]


@given(cut_points)
def test_parts_come_out_whole_however_the_stream_is_cut(cuts: list[int]) -> None:
    parts = decode_all(chunked(STREAM, cuts))
    assert [p.body for p in parts if isinstance(p, Part)] == [
        HEARTBEAT,
        event(),
        b"\xff\xd8jpeg",
        event(employee="7"),
    ]


def test_each_part_is_read_for_what_it_says() -> None:
    alerts = [read_alert(p) for p in decode_all([STREAM]) if isinstance(p, Part)]
    assert alerts == [
        NotForUs("videoloss"),
        FaceVerified("4242001", "cardOrFace", 1, 88),
        NotForUs("picture (discarded)"),
        FaceVerified("7", "cardOrFace", 1, 88),
    ]


def test_a_face_the_terminal_did_not_recognise_names_nobody() -> None:
    assert read_alert(Part({}, event(minor=76))) == NotForUs("access event 5/76")


def test_bad_parts_are_refused_with_a_reason() -> None:
    cases = {
        b"{not json": "not JSON",
        b"[1, 2]": "not a JSON object",
        b"{}": "no eventType",
        b'{"eventType": "AccessControllerEvent"}': "without its object",
        event(employee=""): "no employeeNoString",
        event(employee="42;DROP"): "is not 1-32 letters or digits",
        event(employee="张三"): "is not 1-32 letters or digits",
    }
    for body, reason in cases.items():
        alert = read_alert(Part({"content-type": JSON}, body))
        assert isinstance(alert, AlertRefused) and reason in alert.reason, body
    xml = read_alert(Part({"content-type": "application/xml"}, b"<EventNotificationAlert/>"))
    assert isinstance(xml, AlertRefused) and "asks for JSON" in xml.reason


def test_an_oversized_or_garbled_part_is_skipped_and_the_stream_goes_on() -> None:
    huge = b"--MIME_boundary\r\nContent-Type: application/json\r\nContent-Length: 999999\r\n\r\n"
    garbled = b"--MIME_boundary\r\nno colon here\r\n\r\n"
    items = decode_all([huge, b"x" * 100, garbled, part(event()), b"--MIME_boundary\r\n"])
    errors = [i.reason for i in items if isinstance(i, PartError)]
    assert errors[0] == "part of 999999 bytes is larger than 65536"
    assert any("has no colon" in e for e in errors)
    assert [read_alert(i) for i in items if isinstance(i, Part)][-1] == FaceVerified(
        "4242001", "cardOrFace", 1, 88
    )


def test_a_stream_without_boundaries_is_dropped_not_hoarded() -> None:
    decoder = MultipartDecoder("MIME_boundary")
    items = [item for _ in range(20) for item in decoder.feed(b"y" * 8192)]
    assert any(isinstance(i, PartError) and "no boundary" in i.reason for i in items)


def test_the_boundary_is_taken_from_the_content_type() -> None:
    assert boundary_of("multipart/mixed; boundary=MIME_boundary") == "MIME_boundary"
    assert boundary_of('multipart/mixed;boundary="b 1"') == "b 1"
    assert boundary_of("application/json") is None
    assert boundary_of("multipart/mixed") is None
