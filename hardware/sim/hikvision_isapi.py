"""A simulated Hikvision face terminal (DS-K1T series) speaking ISAPI over HTTP.

An HTTP server on loopback with digest authentication (RFC 7616, MD5, qop=auth) as the
terminals have it. `GET /ISAPI/Event/notification/alertStream` answers
`multipart/mixed; boundary=MIME_boundary` and stays open: a heartbeat part every
`heartbeat_s`, and an `AccessControllerEvent` part (major 5, minor 75) whenever
`verify_face` is called. Persons are added with `POST /ISAPI/AccessControl/UserInfo/
Record?format=json` and removed with `PUT .../UserInfo/Delete?format=json`. The bytes
follow docs/face-terminals.md. It keeps no face: a "face" is the employee number it
would have matched.
"""

from __future__ import annotations

import hashlib
import json
import queue
import secrets
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

BOUNDARY = "MIME_boundary"
REALM = "DS-K1T341AMF"
OK_STATUS = {"statusCode": 1, "statusString": "OK", "subStatusCode": "ok"}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _digest_params(header: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in header.removeprefix("Digest").split(","):
        key, _, value = item.strip().partition("=")
        params[key.strip()] = value.strip().strip('"')
    return params


def part(body: bytes, content_type: str = 'application/json; charset="UTF-8"') -> bytes:
    """One multipart part as the terminal writes it, delimiter first."""
    return (
        (
            f"--{BOUNDARY}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        + b"\r\n"
    )


class IsapiTerminalSim:
    """A terminal on 127.0.0.1:`port` (0: a free one); `start()`, then `close()`."""

    def __init__(
        self,
        username: str = "admin",
        password: str = "Station-2026",
        port: int = 0,
        heartbeat_s: float = 0.5,
        time_zone: str = "Asia/Shanghai",
    ) -> None:
        self.username, self.password = username, password
        self.heartbeat_s = heartbeat_s
        self._zone = ZoneInfo(time_zone)
        self.persons: dict[str, dict[str, Any]] = {}
        """employeeNo → the UserInfo the gateway sent."""
        self.faces: dict[str, bytes] = {}
        """employeeNo → the face picture the terminal holds for them (never sent on)."""
        self.captured: bytes | None = None
        """A face captured in enrolment mode, bound to the next person created."""
        self.auth_failures = 0
        self.streams_opened = 0
        self._streams: list[queue.Queue[bytes | None]] = []
        self._lock = threading.Lock()
        self._nonces: set[str] = set()
        self._serial = 0
        self.heartbeats = threading.Event()
        self.heartbeats.set()
        self.available = threading.Event()
        """Cleared: new alert streams are refused with 503, as a terminal still booting."""
        self.available.set()
        self._http = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The terminal's base URL."""
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def open_streams(self) -> int:
        """Alert streams held open now."""
        with self._lock:
            return len(self._streams)

    def start(self) -> None:
        """Serve on a thread of its own."""
        self._thread.start()

    def close(self) -> None:
        """End every stream and stop serving."""
        self.drop_streams()
        self._http.shutdown()
        self._http.server_close()

    def drop_streams(self) -> None:
        """Close every open alert stream, as a terminal that reboots does."""
        with self._lock:
            for stream in self._streams:
                stream.put(None)

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are onto every open stream (bad-input tests)."""
        with self._lock:
            for stream in self._streams:
                stream.put(data)

    def capture_face(self, picture: bytes) -> None:
        """The worker looked into the camera in enrolment mode: the terminal keeps the
        picture and binds it to the next person created on it."""
        with self._lock:
            self.captured = picture

    def verify_face(self, employee_no: str, minor: int = 75) -> None:
        """The terminal matched a face to `employee_no`: push the access event, and the
        capture picture after it as firmware does (the gateway must drop it unread)."""
        with self._lock:
            self._serial += 1
            serial = self._serial
        alert = {
            "ipAddress": "192.168.1.64",
            "portNo": 80,
            "protocol": "HTTP",
            "macAddress": "a4:d5:c2:00:00:01",
            "channelID": 1,
            "dateTime": datetime.now(self._zone).isoformat(timespec="seconds"),
            "activePostCount": 1,
            "eventType": "AccessControllerEvent",
            "eventState": "active",
            "eventDescription": "Access Controller Event",
            "AccessControllerEvent": {
                "deviceName": "Access Controller",
                "majorEventType": 5,
                "subEventType": minor,
                "name": self.persons.get(employee_no, {}).get("name", ""),
                "cardReaderNo": 1,
                "doorNo": 1,
                "employeeNoString": employee_no,
                "serialNo": serial,
                "userType": "normal",
                "currentVerifyMode": "cardOrFace",
                "mask": "no",
                "picturesNumber": 0,
            },
        }
        self.send_raw(part(json.dumps(alert, ensure_ascii=False).encode("utf-8")))
        picture = self.faces.get(employee_no)
        if picture is not None:
            self.send_raw(part(picture, content_type="image/jpeg"))

    def heartbeat(self) -> bytes:
        """The part a terminal sends when nothing happens."""
        alert = {
            "ipAddress": "192.168.1.64",
            "dateTime": datetime.now(self._zone).isoformat(timespec="seconds"),
            "activePostCount": 0,
            "eventType": "videoloss",
            "eventState": "inactive",
            "eventDescription": "videoloss alarm",
        }
        return part(json.dumps(alert).encode())

    # -- what the handler calls --

    def challenge(self) -> str:
        nonce = secrets.token_hex(16)
        with self._lock:
            self._nonces.add(nonce)
        return f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", algorithm=MD5'

    def authorised(self, method: str, header: str | None) -> bool:
        if header is None or not header.startswith("Digest "):
            return False
        p = _digest_params(header)
        with self._lock:
            known = p.get("nonce") in self._nonces
        if not known or p.get("username") != self.username or p.get("realm") != REALM:
            self.auth_failures += 1
            return False
        ha1 = _md5(f"{self.username}:{REALM}:{self.password}")
        ha2 = _md5(f"{method}:{p.get('uri', '')}")
        expected = _md5(
            f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}:{p.get('qop', '')}:{ha2}"
        )
        if not secrets.compare_digest(expected, p.get("response", "")):
            self.auth_failures += 1
            return False
        return True

    def open_stream(self) -> queue.Queue[bytes | None]:
        stream: queue.Queue[bytes | None] = queue.Queue()
        with self._lock:
            self._streams.append(stream)
            self.streams_opened += 1
        return stream

    def close_stream(self, stream: queue.Queue[bytes | None]) -> None:
        with self._lock:
            if stream in self._streams:
                self._streams.remove(stream)

    def record(self, body: dict[str, Any]) -> dict[str, Any]:
        info = body.get("UserInfo")
        if not isinstance(info, dict) or not isinstance(info.get("employeeNo"), str):
            return {
                "statusCode": 6,
                "statusString": "Invalid Content",
                "subStatusCode": "badJsonContent",
            }
        with self._lock:
            if info["employeeNo"] in self.persons:
                return {
                    "statusCode": 6,
                    "statusString": "Invalid Content",
                    "subStatusCode": "employeeNoAlreadyExist",
                }
            self.persons[info["employeeNo"]] = info
            if self.captured is not None:
                self.faces[info["employeeNo"]], self.captured = self.captured, None
        return OK_STATUS

    def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        cond = body.get("UserInfoDelCond", {})
        numbers = [e.get("employeeNo") for e in cond.get("EmployeeNoList", [])]
        with self._lock:
            for number in numbers:
                self.persons.pop(number, None)
                self.faces.pop(number, None)
        return OK_STATUS


def _handler_for(sim: IsapiTerminalSim) -> type[BaseHTTPRequestHandler]:
    class IsapiHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "App-webs/"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if not self._auth("GET"):
                return
            if self.path.split("?")[0] != "/ISAPI/Event/notification/alertStream":
                self._json(404, {"statusCode": 4, "statusString": "Invalid Operation"})
                return
            if not sim.available.is_set():
                self._json(503, {"statusCode": 2, "statusString": "Device Busy"})
                return
            self._stream()

        def do_POST(self) -> None:
            self._change("POST", "/ISAPI/AccessControl/UserInfo/Record", sim.record)

        def do_PUT(self) -> None:
            self._change("PUT", "/ISAPI/AccessControl/UserInfo/Delete", sim.delete)

        def _change(self, method: str, path: str, act: Any) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if not self._auth(method):
                return
            if self.path.split("?")[0] != path:
                self._json(404, {"statusCode": 4, "statusString": "Invalid Operation"})
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._json(400, {"statusCode": 6, "statusString": "Invalid Content"})
                return
            self._json(200, act(body))

        def _auth(self, method: str) -> bool:
            if sim.authorised(method, self.headers.get("Authorization")):
                return True
            data = b'{"statusCode":4,"statusString":"Unauthorized"}'
            self.send_response(401)
            self.send_header("WWW-Authenticate", sim.challenge())
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return False

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/mixed; boundary={BOUNDARY}")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            stream = sim.open_stream()
            try:
                self.wfile.flush()
                while True:
                    try:
                        data = stream.get(timeout=sim.heartbeat_s)
                    except queue.Empty:
                        if not sim.heartbeats.is_set():
                            continue
                        data = sim.heartbeat()
                    if data is None:
                        return
                    self.wfile.write(data)
                    self.wfile.flush()
            except OSError:
                return
            finally:
                sim.close_stream(stream)

    return IsapiHandler
