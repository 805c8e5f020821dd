"""A simulated ZKTeco face terminal in PUSH (ADMS / iclock) mode.

Like the real one it is an HTTP client of the server it was pointed at: it shakes hands
(`GET /iclock/cdata?SN=..&options=all`), polls `GET /iclock/getrequest?SN=..` every
`delay_s`, carries out the user commands it is handed on its own user table and reports
them (`POST /iclock/devicecmd`), and uploads a real-time record (`POST /iclock/cdata?
table=rtlog`) the moment a face is verified. The bytes follow docs/face-terminals.md.
A "face" here is the PIN it would have matched; a face captured in enrolment mode
(`capture_face`) is kept as given and bound to the next user created, and, as firmware
does, uploaded as a template line (`OPERLOG` `FACE ... TMP=<base64>`) and as a photo
(`ATTPHOTO`) which the gateway must drop unread.
"""

from __future__ import annotations

import base64
import http.client
import threading
from datetime import datetime
from zoneinfo import ZoneInfo


class ZkPushTerminal:
    """A terminal polling `host`:`port`; `start()`, then `close()`."""

    def __init__(
        self,
        host: str,
        port: int,
        serial_number: str = "CQZ7233460003",
        delay_s: float = 0.2,
        time_zone: str = "Asia/Shanghai",
    ) -> None:
        self.host, self.port = host, port
        self.serial_number = serial_number
        self.delay_s = delay_s
        self._zone = ZoneInfo(time_zone)
        self.users: dict[str, str] = {}
        """PIN → name, as the terminal's own user table holds them."""
        self.faces: dict[str, bytes] = {}
        """PIN → the face the terminal holds for them."""
        self.captured: bytes | None = None
        """A face captured in enrolment mode, bound to the next user created."""
        self._uploads: list[tuple[str, bytes]] = []
        self.options: str | None = None
        """The handshake's answer."""
        self.answers: list[tuple[int, str]] = []
        """(status, body) of every upload, newest last."""
        self.polls = 0
        self._polling = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._index = 0
        self._thread = threading.Thread(target=self._run, name="zk-sim", daemon=True)

    def start(self) -> None:
        """Shake hands, then poll until stopped."""
        self._polling.set()
        self._thread.start()

    def close(self) -> None:
        """Stop polling for good."""
        self._stop.set()
        self._polling.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def pause(self) -> None:
        """Stop polling, as a terminal does when its network cable is pulled."""
        self._polling.clear()

    def resume(self) -> None:
        """Poll again."""
        self._polling.set()

    def _request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "text/plain"
    ) -> tuple[int, str]:
        with self._lock:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=5)
            try:
                headers = {"User-Agent": "iClock Proxy/1.09"}
                if body is not None:
                    headers["Content-Type"] = content_type
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.read().decode("utf-8", errors="replace")
            finally:
                connection.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._polling.wait()
            if self._stop.is_set():
                return
            try:
                if self.options is None:
                    status, text = self._request(
                        "GET", f"/iclock/cdata?SN={self.serial_number}&options=all&pushver=2.4.1"
                    )
                    if status == 200:
                        self.options = text
                else:
                    self._poll()
            except OSError:
                pass  # the server is away; try again on the next round, as firmware does
            self._stop.wait(self.delay_s)

    def _poll(self) -> None:
        status, text = self._request("GET", f"/iclock/getrequest?SN={self.serial_number}")
        self.polls += 1
        if status != 200 or text.strip() == "OK":
            return
        results = [self._carry_out(line) for line in text.splitlines() if line.startswith("C:")]
        if results:
            body = "".join(f"{r}\n" for r in results).encode()
            self._request("POST", f"/iclock/devicecmd?SN={self.serial_number}", body)
        with self._lock:
            uploads, self._uploads = self._uploads, []
        for table, data in uploads:
            self.upload(table, data)

    def capture_face(self, picture: bytes) -> None:
        """The worker looked into the camera in enrolment mode: keep the picture for the
        next user created."""
        with self._lock:
            self.captured = picture

    def _carry_out(self, line: str) -> str:
        # C:<id>:<command>; fields after the verb are tab-separated key=value pairs.
        _, command_id, command = line.split(":", 2)
        verb, _, rest = command.partition(" USERINFO ")
        fields = dict(field.partition("=")[::2] for field in rest.split("\t") if field)
        pin = fields.get("PIN", "")
        if verb == "DATA UPDATE" and pin:
            self.users[pin] = fields.get("Name", "")
            with self._lock:
                captured, self.captured = self.captured, None
            if captured is not None:
                self.faces[pin] = captured
                template = base64.b64encode(captured).decode()
                line = f"FACE PIN={pin}\tFID=0\tSIZE={len(template)}\tVALID=1\tTMP={template}\n"
                with self._lock:
                    self._uploads.append(("OPERLOG", line.encode()))
            return f"ID={command_id}&Return=0&CMD=DATA"
        if verb == "DATA DELETE" and pin:
            self.users.pop(pin, None)
            self.faces.pop(pin, None)
            return f"ID={command_id}&Return=0&CMD=DATA"
        return f"ID={command_id}&Return=-1002&CMD=DATA"

    def _now(self) -> str:
        return datetime.now(self._zone).strftime("%Y-%m-%d %H:%M:%S")

    def verify(self, pin: str, at: str | None = None, verify_type: int = 15) -> tuple[int, str]:
        """A face matched to `pin` (no check against the user table: the gateway decides
        whom it knows). Uploads the real-time record; returns the server's answer."""
        self._index += 1
        line = (
            f"time={at or self._now()}\tpin={pin}\tcardno=0\teventaddr=1\tevent=0\t"
            f"inoutstatus=0\tverifytype={verify_type}\tindex={self._index}\r\n"
        )
        answer = self.upload("rtlog", line.encode())
        picture = self.faces.get(pin)
        if picture is not None:
            self.upload("ATTPHOTO", picture, content_type="image/jpeg")
        return answer

    def attendance(self, pin: str, at: str | None = None) -> tuple[int, str]:
        """An ATTLOG punch: `PIN\\ttime\\tstatus\\tverify\\tworkcode\\treserved\\treserved`."""
        line = f"{pin}\t{at or self._now()}\t0\t15\t0\t0\t0\n"
        return self.upload("ATTLOG", line.encode())

    def upload(self, table: str, body: bytes, content_type: str = "text/plain") -> tuple[int, str]:
        """POST any body as an upload of `table` (for bad-input tests too)."""
        answer = self._request(
            "POST",
            f"/iclock/cdata?SN={self.serial_number}&table={table}&Stamp=9999",
            body,
            content_type,
        )
        self.answers.append(answer)
        return answer
