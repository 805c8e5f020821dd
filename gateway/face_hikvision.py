"""The gateway as a client of a Hikvision face terminal (ISAPI over HTTP digest auth).

A thread holds `GET /ISAPI/Event/notification/alertStream` open and reads its parts
with `firmware_bridge.isapi`; every face the terminal verifies goes to `on_face`. When
the stream ends, fails, refuses the credentials or stays silent for `down_after_s` (the
terminal sends a heartbeat every few seconds), the terminal is down and the stream is
opened again after a backoff delay (`servicekit.backoff`). Persons are added and removed
with `UserInfo/Record` and `UserInfo/Delete`.

`stop()` shuts the stream's socket down rather than closing the response: the reading
thread holds the response's buffer lock while it waits for the next byte, so a close from
another thread waits with it, for the next heartbeat or, from a silent terminal, for all
of `down_after_s`. A shut-down socket ends the wait at once.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Final

from firmware_bridge.isapi import (
    AlertRefused,
    FaceVerified,
    MultipartDecoder,
    NotForUs,
    PartError,
    boundary_of,
    read_alert,
)
from servicekit.backoff import Backoff

log = logging.getLogger(__name__)

ALERT_STREAM: Final = "/ISAPI/Event/notification/alertStream?format=json"
USER_RECORD: Final = "/ISAPI/AccessControl/UserInfo/Record?format=json"
USER_DELETE: Final = "/ISAPI/AccessControl/UserInfo/Delete?format=json"
REQUEST_TIMEOUT_S: Final = 10.0

FaceHandler = Callable[[str, FaceVerified], None]
"""Called with the terminal id and the face it verified."""
StateHandler = Callable[[str, bool], None]
"""Called with the terminal id and whether its stream is now up."""


class IsapiError(RuntimeError):
    """The terminal refused a request or answered something unreadable."""


SocketNote = Callable[[socket.socket], None]
"""Told of each socket the alert stream's opener connects."""


def _noting(
    base: type[http.client.HTTPConnection], note: SocketNote
) -> Callable[..., http.client.HTTPConnection]:
    """Connections of `base` (plain or TLS) that hand each socket they connect to `note`."""

    class Noted(base):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            super().connect()
            note(self.sock)

    return Noted


class _NotedHTTPHandler(urllib.request.HTTPHandler):
    """Opens http:// URLs on connections whose sockets it hands to `note`."""

    def __init__(self, note: SocketNote) -> None:
        super().__init__()
        self._connection = _noting(http.client.HTTPConnection, note)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)


class _NotedHTTPSHandler(urllib.request.HTTPSHandler):
    """Opens https:// URLs (default TLS context) on connections whose sockets it hands
    to `note`."""

    def __init__(self, note: SocketNote) -> None:
        super().__init__()
        self._connection = _noting(http.client.HTTPSConnection, note)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)


class IsapiTerminal:
    """One Hikvision terminal: its alert stream and person management."""

    def __init__(
        self,
        terminal_id: str,
        url: str,
        username: str,
        password: str,
        on_face: FaceHandler,
        on_state: StateHandler,
        down_after_s: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.terminal_id = terminal_id
        self.url = url.rstrip("/")
        self._on_face = on_face
        self._on_state = on_state
        self.down_after_s = down_after_s
        self._backoff = backoff or Backoff(0.5, 30.0, stable_s=down_after_s)
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        passwords.add_password(None, self.url, username, password)
        self._opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(passwords))
        # The stream's own opener notes its sockets, for `stop()` to shut down.
        self._stream_opener = urllib.request.build_opener(
            urllib.request.HTTPDigestAuthHandler(passwords),
            _NotedHTTPHandler(self._noted),
            _NotedHTTPSHandler(self._noted),
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"isapi-{terminal_id}", daemon=True)
        self._socket_lock = threading.Lock()
        self._socket: socket.socket | None = None
        """The alert stream's socket (the last one connected)."""
        self.up = False
        self.detail = "not connected yet"
        """Why the terminal is down, or how it is reached while up (health reports)."""
        self.connects = 0

    def start(self) -> None:
        """Start holding the alert stream open."""
        self._thread.start()

    @property
    def running(self) -> bool:
        """True while the stream's thread holds the stream open or reconnects."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """End the stream and stop reconnecting; returns once the stream's thread ended,
        or after 5 s if it is still connecting (a connect cannot be cut short)."""
        self._stop.set()
        with self._socket_lock:
            sock = self._socket
        if sock is not None:
            # Wakes the blocked read with an end of stream; the thread then closes it.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _noted(self, sock: socket.socket) -> None:
        with self._socket_lock:
            self._socket = sock
        if self._stop.is_set():
            # Connected after `stop()` looked: end this one too.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # -- the alert stream --

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._hold_stream()
                reason = "the terminal ended the alert stream"
            except urllib.error.HTTPError as exc:
                reason = f"alert stream refused: HTTP {exc.code} {exc.reason}"
                if exc.code == 401:
                    reason = "alert stream refused: wrong username or password (digest)"
            except TimeoutError:
                reason = f"no byte on the alert stream for {self.down_after_s:g} s"
            except (OSError, http.client.HTTPException, ValueError) as exc:
                reason = f"alert stream failed: {exc!r}"
            except Exception as exc:  # a bug here must not end the reconnecting for good
                log.exception("face terminal %s: alert stream broke", self.terminal_id)
                reason = f"alert stream failed: {exc!r}"
            if self._stop.is_set():
                break
            self._backoff.disconnected()
            self._set_state(False, reason)
            log.warning("face terminal %s: %s; reconnecting", self.terminal_id, reason)
            self._stop.wait(self._backoff.next_delay())

    def _hold_stream(self) -> None:
        request = urllib.request.Request(self.url + ALERT_STREAM)
        response = self._stream_opener.open(request, timeout=self.down_after_s)
        try:
            boundary = boundary_of(response.headers.get("Content-Type", ""))
            if boundary is None:
                raise ValueError(
                    f"alert stream is {response.headers.get('Content-Type')!r}, "
                    "not multipart/mixed with a boundary"
                )
            self.connects += 1
            self._backoff.connected()
            self._set_state(True, f"alert stream open ({self.url})")
            decoder = MultipartDecoder(boundary)
            while not self._stop.is_set():
                data = response.read1(4096)
                if not data:
                    return
                for item in decoder.feed(data):
                    self._handle(item)
        finally:
            response.close()

    def _handle(self, item: Any) -> None:
        if isinstance(item, PartError):
            log.warning("face terminal %s: part refused: %s", self.terminal_id, item.reason)
            return
        alert = read_alert(item)
        if isinstance(alert, FaceVerified):
            self._on_face(self.terminal_id, alert)
        elif isinstance(alert, AlertRefused):
            log.warning("face terminal %s: alert refused: %s", self.terminal_id, alert.reason)
        elif isinstance(alert, NotForUs):
            log.debug("face terminal %s: %s", self.terminal_id, alert.what)

    def _set_state(self, up: bool, detail: str) -> None:
        changed = up != self.up
        self.up, self.detail = up, detail
        if changed:
            self._on_state(self.terminal_id, up)

    # -- persons --

    def add_person(self, employee_no: str, name: str) -> None:
        """Create a person (no face: it is captured at the terminal, in front of them)."""
        body = {
            "UserInfo": {
                "employeeNo": employee_no,
                "name": name[:32],
                "userType": "normal",
                "Valid": {
                    "enable": True,
                    "beginTime": "2020-01-01T00:00:00",
                    "endTime": "2037-12-31T23:59:59",
                    "timeType": "local",
                },
                "doorRight": "1",
                "RightPlan": [{"doorNo": 1, "planTemplateNo": "1"}],
            }
        }
        self._call("POST", USER_RECORD, body)

    def remove_person(self, employee_no: str) -> None:
        """Delete a person and the face the terminal holds for them."""
        body = {"UserInfoDelCond": {"EmployeeNoList": [{"employeeNo": employee_no}]}}
        self._call("PUT", USER_DELETE, body)

    def _call(self, method: str, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=REQUEST_TIMEOUT_S) as response:
                answer = json.loads(response.read(64 * 1024))
        except urllib.error.HTTPError as exc:
            raise IsapiError(f"{method} {path}: HTTP {exc.code} {exc.reason}") from None
        except (OSError, ValueError) as exc:
            raise IsapiError(f"{method} {path}: {exc}") from None
        if not isinstance(answer, dict) or answer.get("statusCode") != 1:
            raise IsapiError(f"{method} {path}: the terminal answered {str(answer)[:200]}")
