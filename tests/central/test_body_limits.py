"""Request bodies over their route's limit are refused before they are read: a central
started as `yizhan central` answers a 300 MB login 413 and its memory stays put."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support.central_process import central_process, resident_kib
from tests.support.mosquitto import MosquittoBroker
from tests.support.running_central import RunningCentral

HUGE = 300 * 1024 * 1024
CHUNK = 64 * 1024
RSS_GROWTH_KIB = 50 * 1024


def chunked_login(total: int) -> Iterator[bytes]:
    """A login body of `total` bytes in HTTP/1.1 chunks, made as it is sent (the test
    never holds more than one chunk)."""
    head = b'{"name": "admin", "password": "'
    yield b"%x\r\n%s\r\n" % (len(head), head)
    filler = b"a" * CHUNK
    sent = len(head)
    while sent < total:
        yield b"%x\r\n%s\r\n" % (len(filler), filler)
        sent += len(filler)
    yield b'2\r\n"}\r\n0\r\n\r\n'


def send_until_answered(port: int, head: bytes, body: Iterator[bytes]) -> tuple[bytes, int]:
    """Send `head` then `body` until the server answers (or stops taking bytes); the raw
    answer and how many body bytes went out. Fails if the server neither reads nor
    answers for 20 s."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(head)
    sent = 0
    pending = b""
    try:
        while True:
            readable, writable, _ = select.select([sock], [sock], [], 20)
            assert readable or writable, "the server neither read the body nor answered"
            if readable:
                break
            if not pending:
                pending = next(body, b"")
                if not pending:
                    break
            try:
                written = sock.send(pending)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += written
            pending = pending[written:]
        answer = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            answer += part
            if b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}"):
                break
        return answer, sent
    finally:
        sock.close()


def parse_answer(raw: bytes) -> tuple[int, dict[str, object]]:
    """Status code and JSON body of a raw HTTP/1.1 answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def test_huge_bodies_are_refused_unread(tmp_path: Path, mosquitto: MosquittoBroker) -> None:
    with (
        central_process(tmp_path / "central", mosquitto.url) as (pid, port),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
    ):
        # Warm up the routes and the JSON refusal once, so that the first real
        # answer's imports are not counted as growth.
        assert http.post("/api/session", json={"name": "x", "password": "y"}).status_code
        before = resident_kib(pid)

        # Chunked, no length said: counted as it comes and refused at 64 KiB.
        raw, sent = send_until_answered(
            port,
            b"POST /api/session HTTP/1.1\r\nHost: central\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            chunked_login(HUGE),
        )
        status, body = parse_answer(raw)
        assert status == 413, raw[:300]
        assert "65536" in str(body["detail"])
        assert sent < HUGE // 10, f"the server read {sent} bytes of a refused body"

        # A declared length over the limit: refused before a byte of body is sent.
        raw, sent = send_until_answered(
            port,
            b"POST /api/session/token HTTP/1.1\r\nHost: central\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % HUGE,
            iter(()),
        )
        assert parse_answer(raw)[0] == 413 and sent == 0

        # Other routes: the general limit, before the login is even asked for.
        big_json = http.post(
            "/api/alerts/1/ack",
            content=b"x" * (1024 * 1024 + 1),
            headers={"Content-Type": "application/json"},
        )
        assert big_json.status_code == 413, big_json.text
        assert big_json.json()["detail"].startswith("request body larger than 1048576")
        small = http.post("/api/alerts/1/ack", json={})
        assert small.status_code == 401, "under the limit, the login is asked for"

        grown = resident_kib(pid) - before
        assert grown < RSS_GROWTH_KIB, f"the central grew by {grown} KiB"
        assert http.get("/healthz").status_code in (200, 503), "still answering"


def chunks_of(total: int) -> Iterator[bytes]:
    """`total` bytes of JSON-looking filler in HTTP/1.1 chunks, made as they are sent."""
    filler = b" " * CHUNK
    for _ in range(0, total, CHUNK):
        yield b"%x\r\n%s\r\n" % (len(filler), filler)
    yield b"0\r\n\r\n"


def test_a_logged_in_chunked_body_over_the_limit(any_central: RunningCentral) -> None:
    """Past authentication, a chunked body is cut off at the general limit, the answer
    carries the headers every answer does, and the audit log says 413."""
    port = int(any_central.base_url.rsplit(":", 1)[1])
    bearer = any_central.http.headers["Authorization"].encode()
    raw, sent = send_until_answered(
        port,
        b"POST /api/alerts/1/acknowledge HTTP/1.1\r\nHost: central\r\n"
        b"Authorization: %s\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" % bearer,
        chunks_of(64 * 1024 * 1024),
    )
    status, body = parse_answer(raw)
    assert status == 413, raw[:300]
    assert str(body["detail"]).startswith("request body larger than 1048576")
    assert sent < 16 * 1024 * 1024, f"the server took {sent} bytes of a refused body"
    assert b"x-content-type-options: nosniff" in raw.lower()
    audit = any_central.http.get("/api/audit").json()
    (row,) = [r for r in audit if r["target"] == "/api/alerts/1/acknowledge"]
    assert row["status"] == 413 and row["actor"] == any_central.operator
