"""Hikvision ISAPI alert stream: multipart parts in, typed alerts (or refusals) out.

`GET /ISAPI/Event/notification/alertStream` answers `multipart/mixed; boundary=..` and
never ends: each part is one `EventNotificationAlert` (JSON here), a heartbeat every
few seconds when nothing happens, and on some firmware a picture part after an access
event. `MultipartDecoder` is fed the bytes as they arrive and hands back whole parts;
`read_alert` turns a part into what the gateway acts on. Both are pure.

Pictures are discarded unread: a face image never leaves the decoder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

MAX_PART_BYTES: Final = 64 * 1024
"""An event part is well under 4 KiB; a larger one is refused and skipped."""
MAX_HEADER_BYTES: Final = 2048

MAJOR_EVENT: Final = 5
"""Access-controller "event" major type (HCNetSDK MAJOR_EVENT)."""
FACE_PASS_MINORS: Final = frozenset({0x4B, 0x4D})
"""Face verified (MINOR_FACE_VERIFY_PASS) and employee number and face verified."""
FACE_FAIL_MINORS: Final = frozenset({0x4C, 0x4E})
"""Face not verified (the terminal recognised nobody)."""


@dataclass(frozen=True, slots=True)
class Part:
    """One multipart part: its headers (lower-case names) and body."""

    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class PartError:
    """A part the decoder could not take, and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class FaceVerified:
    """The terminal matched a face to its person `employee_no`."""

    employee_no: str
    verify_mode: str
    door_no: int
    serial_no: int | None


@dataclass(frozen=True, slots=True)
class NotForUs:
    """A part read fine but not about a verified person: a heartbeat, another event,
    a face the terminal did not recognise, a picture. `what` says which."""

    what: str


@dataclass(frozen=True, slots=True)
class AlertRefused:
    """A part that claims to be an alert but cannot be read; `reason` says why."""

    reason: str


Alert = FaceVerified | NotForUs | AlertRefused


def boundary_of(content_type: str) -> str | None:
    """The boundary of a `multipart/mixed; boundary=...` header, or None."""
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/mixed":
        return None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value.strip('"'):
            return value.strip('"')
    return None


class MultipartDecoder:
    """Splits a never-ending multipart body into parts, whatever the read sizes.

    A part with a `Content-Length` is taken by length; one without ends at the next
    boundary. A part that is too large, or whose headers are garbage, is refused and the
    decoder looks for the next boundary.
    """

    def __init__(self, boundary: str) -> None:
        self._delimiter = b"--" + boundary.encode("ascii")
        self._buffer = b""

    def feed(self, data: bytes) -> list[Part | PartError]:
        """Add bytes; return every part (or refused part) they completed."""
        self._buffer += data
        out: list[Part | PartError] = []
        while True:
            item = self._next()
            if item is None:
                break
            out.append(item)
        if len(self._buffer) > MAX_PART_BYTES + MAX_HEADER_BYTES:
            # No boundary in sight for longer than any part may be: drop all but a tail
            # that could hold the start of the next delimiter.
            self._buffer = self._buffer[-len(self._delimiter) :]
            out.append(PartError(f"no boundary within {MAX_PART_BYTES} bytes; skipped"))
        return out

    def _next(self) -> Part | PartError | None:
        start = self._buffer.find(self._delimiter)
        if start < 0:
            return None
        head_from = start + len(self._delimiter)
        head_end = self._buffer.find(b"\r\n\r\n", head_from)
        if head_end < 0:
            if len(self._buffer) - head_from > MAX_HEADER_BYTES:
                self._buffer = self._buffer[head_from:]
                return PartError("part headers longer than 2 KiB")
            return None
        raw_headers = self._buffer[head_from:head_end].decode("latin-1")
        body_from = head_end + 4
        headers: dict[str, str] = {}
        for line in raw_headers.split("\r\n"):
            if not line.strip():
                continue
            name, sep, value = line.partition(":")
            if not sep:
                self._buffer = self._buffer[body_from:]
                return PartError(f"header line {line[:40]!r} has no colon")
            headers[name.strip().lower()] = value.strip()
        length_text = headers.get("content-length")
        if length_text is not None:
            if not length_text.isdigit():
                self._buffer = self._buffer[body_from:]
                return PartError(f"Content-Length {length_text[:16]!r} is not a number")
            length = int(length_text)
            if length > MAX_PART_BYTES:
                # Skip it: the next boundary search starts after its headers.
                self._buffer = self._buffer[body_from:]
                return PartError(f"part of {length} bytes is larger than {MAX_PART_BYTES}")
            if len(self._buffer) < body_from + length:
                return None
            body = self._buffer[body_from : body_from + length]
            self._buffer = self._buffer[body_from + length :]
            return Part(headers, body)
        end = self._buffer.find(b"\r\n" + self._delimiter, body_from)
        if end < 0:
            return None
        body = self._buffer[body_from:end]
        self._buffer = self._buffer[end + 2 :]
        if len(body) > MAX_PART_BYTES:
            return PartError(f"part of {len(body)} bytes is larger than {MAX_PART_BYTES}")
        return Part(headers, body)


def read_alert(part: Part) -> Alert:
    """What one part of the alert stream says."""
    content_type = part.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type.startswith("image/"):
        return NotForUs("picture (discarded)")
    if content_type not in ("application/json", "text/json", ""):
        return AlertRefused(f"content type {content_type[:40]!r} (the gateway asks for JSON)")
    try:
        alert = json.loads(part.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return AlertRefused(f"not JSON: {exc}")
    if not isinstance(alert, dict):
        return AlertRefused("not a JSON object")
    event_type = alert.get("eventType")
    if not isinstance(event_type, str):
        return AlertRefused("no eventType")
    if event_type != "AccessControllerEvent":
        return NotForUs(event_type[:40])
    event = alert.get("AccessControllerEvent")
    if not isinstance(event, dict):
        return AlertRefused("AccessControllerEvent without its object")
    major, minor = event.get("majorEventType"), event.get("subEventType")
    if not isinstance(major, int) or not isinstance(minor, int):
        return AlertRefused("majorEventType or subEventType missing or not a number")
    if major != MAJOR_EVENT or minor in FACE_FAIL_MINORS:
        return NotForUs(f"access event {major}/{minor}")
    if minor not in FACE_PASS_MINORS:
        return NotForUs(f"access event {major}/{minor}")
    employee = event.get("employeeNoString")
    if not isinstance(employee, str) or not employee.strip():
        return AlertRefused("face verified but no employeeNoString")
    employee = employee.strip()
    if not re.fullmatch(r"[0-9A-Za-z]{1,32}", employee):
        return AlertRefused(f"employeeNoString {employee[:40]!r} is not 1-32 letters or digits")
    mode = event.get("currentVerifyMode", "")
    door = event.get("doorNo", 1)
    serial = event.get("serialNo")
    return FaceVerified(
        employee_no=employee,
        verify_mode=mode[:40] if isinstance(mode, str) else "",
        door_no=door if isinstance(door, int) else 1,
        serial_no=serial if isinstance(serial, int) else None,
    )
