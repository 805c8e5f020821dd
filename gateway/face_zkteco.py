"""The gateway's iclock server for ZKTeco PUSH face terminals on the station LAN.

The terminal is the client: it shakes hands (`GET /iclock/cdata?options=all`), uploads
what it verified (`POST /iclock/cdata?table=rtlog|ATTLOG|OPERLOG`), polls for commands
(`GET /iclock/getrequest`) and reports their results (`POST /iclock/devicecmd`). The
server reads each request with `firmware_bridge.iclock`, hands every fresh verification
to `on_face` and queues user commands per terminal. A terminal that has not polled for
`down_after_s` is down until it polls again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Final
from urllib.parse import parse_qs, urlsplit

from firmware_bridge.iclock import (
    IclockError,
    Verification,
    handshake_reply,
    parse_command_results,
    parse_upload,
    user_delete_command,
    user_update_command,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 256 * 1024
"""An upload of real-time records is a few hundred bytes; anything this large is refused."""

FaceHandler = Callable[[str, Verification], None]
"""Called with the terminal's serial number and a fresh verification."""


@dataclass
class IclockTerminal:
    """What the server knows of one terminal: how long a poll may lag, its queue."""

    serial_number: str
    delay_s: int
    down_after_s: float
    max_record_age_s: float
    last_seen: float | None = None
    commands: deque[tuple[int, str]] = field(default_factory=deque)
    sent: dict[int, str] = field(default_factory=dict)
    results: dict[int, int] = field(default_factory=dict)
    """Command id → the terminal's return code."""

    def up(self, now: float) -> bool:
        """True while the terminal polls often enough."""
        return self.last_seen is not None and now - self.last_seen < self.down_after_s


class IclockServer:
    """Serves every ZKTeco terminal of one listen address; `start()`, then `stop()`."""

    def __init__(
        self,
        host: str,
        port: int,
        terminals: list[IclockTerminal],
        on_face: FaceHandler,
        local_now: Callable[[], datetime],
    ) -> None:
        self.terminals = {t.serial_number: t for t in terminals}
        self._on_face = on_face
        self._local_now = local_now
        self._ids = count(1)
        self._lock = threading.Lock()
        handler = _handler_for(self)
        self._http = ThreadingHTTPServer((host, port), handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, name=f"iclock-{port}", daemon=True
        )

    @property
    def port(self) -> int:
        """The port served (useful when 0 asked for a free one)."""
        return int(self._http.server_address[1])

    def start(self) -> None:
        """Serve on a thread of its own."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._http.shutdown()
        self._http.server_close()

    def queue_user(self, serial_number: str, pin: str, name: str) -> int:
        """Queue a user to be created (or renamed) on a terminal; its command id."""
        with self._lock:
            command_id = next(self._ids)
            line = user_update_command(command_id, pin, name)
            self.terminals[serial_number].commands.append((command_id, line))
        return command_id

    def queue_delete(self, serial_number: str, pin: str) -> int:
        """Queue a user (and their face template) to be removed from a terminal."""
        with self._lock:
            command_id = next(self._ids)
            line = user_delete_command(command_id, pin)
            self.terminals[serial_number].commands.append((command_id, line))
        return command_id

    # -- what the request handler calls --

    def terminal(self, serial_number: str) -> IclockTerminal | None:
        """The terminal of a serial number, marked as seen now; None if unknown."""
        terminal = self.terminals.get(serial_number)
        if terminal is not None:
            terminal.last_seen = time.monotonic()
        return terminal

    def handshake(self, terminal: IclockTerminal) -> str:
        log.info("face terminal %s shook hands", terminal.serial_number)
        return handshake_reply(terminal.serial_number, terminal.delay_s)

    def upload(self, terminal: IclockTerminal, table: str, body: str) -> str:
        upload = parse_upload(table, body)
        for refused in upload.refused:
            log.warning(
                "face terminal %s: %s line %d refused: %s",
                terminal.serial_number,
                table,
                refused.line_no,
                refused.reason,
            )
        if body.strip() and not upload.verifications and not upload.ignored:
            raise IclockError(f"no readable line in the {table} upload")
        now = self._local_now()
        for verification in upload.verifications:
            age = abs((now - verification.at).total_seconds())
            if age > terminal.max_record_age_s:
                # A backlog uploaded after an outage: the person is long gone.
                log.info(
                    "face terminal %s: record of PIN %s from %s is %.0f s old; no door opened",
                    terminal.serial_number,
                    verification.pin,
                    verification.at,
                    age,
                )
                continue
            self._on_face(terminal.serial_number, verification)
        return f"OK: {len(upload.verifications)}"

    def next_command(self, terminal: IclockTerminal) -> str:
        with self._lock:
            if not terminal.commands:
                return "OK"
            command_id, line = terminal.commands.popleft()
            terminal.sent[command_id] = line
        return line

    def command_results(self, terminal: IclockTerminal, body: str) -> str:
        results, refused = parse_command_results(body)
        for line in refused:
            log.warning(
                "face terminal %s: command result line %d refused: %s",
                terminal.serial_number,
                line.line_no,
                line.reason,
            )
        if not results:
            raise IclockError("no readable command result")
        with self._lock:
            for result in results:
                if terminal.sent.pop(result.command_id, None) is None:
                    log.warning(
                        "face terminal %s answered command %d, which it was never sent",
                        terminal.serial_number,
                        result.command_id,
                    )
                    continue
                terminal.results[result.command_id] = result.return_code
                if not result.ok:
                    log.warning(
                        "face terminal %s: command %d (%s) failed with Return=%d",
                        terminal.serial_number,
                        result.command_id,
                        result.command,
                        result.return_code,
                    )
        return "OK"


def _handler_for(server: IclockServer) -> type[BaseHTTPRequestHandler]:
    class IclockHandler(BaseHTTPRequestHandler):
        """One request of a terminal; answers plain text, as the firmware expects."""

        server_version = "yizhan-iclock"
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the body waits for the
        # terminal's delayed ACK (about 40 ms), and the terminal's next upload with it.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            log.debug("iclock %s: " + format, self.client_address[0], *args)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            serial = query.get("SN", [""])[0]
            body = ""
            if method == "POST":
                try:
                    body = self._body()
                except IclockError as exc:
                    self._refuse(413, serial, str(exc))
                    return
            terminal = server.terminal(serial)
            if terminal is None:
                self._refuse(403, serial, "unknown terminal serial number")
                return
            route = (method, url.path)
            try:
                if route == ("GET", "/iclock/cdata"):
                    self._answer(200, server.handshake(terminal))
                elif route == ("POST", "/iclock/cdata"):
                    table = query.get("table", [""])[0]
                    self._answer(200, server.upload(terminal, table, body))
                elif route == ("GET", "/iclock/getrequest"):
                    self._answer(200, server.next_command(terminal))
                elif route == ("POST", "/iclock/devicecmd"):
                    self._answer(200, server.command_results(terminal, body))
                else:
                    self._refuse(404, serial, f"no such iclock request {method} {url.path}")
            except IclockError as exc:
                self._refuse(400, serial, str(exc))
            except Exception:
                log.exception("face terminal %s: request %s %s failed", serial, method, url.path)
                self._answer(500, "ERROR")

        def _body(self) -> str:
            length_text = self.headers.get("Content-Length")
            if length_text is None or not length_text.isdigit():
                raise IclockError("a POST without Content-Length")
            length = int(length_text)
            if length > MAX_BODY_BYTES:
                raise IclockError(f"a body of {length} bytes is more than {MAX_BODY_BYTES}")
            return self.rfile.read(length).decode("utf-8", errors="replace")

        def _refuse(self, status: int, serial: str, reason: str) -> None:
            log.warning(
                "iclock request from %s (SN %r) refused: %s",
                self.client_address[0],
                serial[:32],
                reason,
            )
            self._answer(status, f"ERROR: {reason}", close=status == 413)

        def _answer(self, status: int, text: str, close: bool = False) -> None:
            data = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

    return IclockHandler
