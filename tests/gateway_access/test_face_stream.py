"""The Hikvision alert stream client alone, against the simulated terminal on loopback:
silence and a stream cut mid-part mark the terminal down and it is opened again; a part
cut in half never becomes a person at the door."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from firmware_bridge.isapi import FaceVerified
from gateway.face_hikvision import IsapiTerminal
from hardware.sim.hikvision_isapi import IsapiTerminalSim, part
from servicekit.backoff import Backoff
from tests.support.waiting import wait_until


class Seen:
    """What the client reported: faces and state changes, in order."""

    def __init__(self) -> None:
        self.faces: list[str] = []
        self.states: list[bool] = []

    def face(self, terminal_id: str, face: FaceVerified) -> None:
        self.faces.append(face.employee_no)

    def state(self, terminal_id: str, up: bool) -> None:
        self.states.append(up)


@pytest.fixture()
def sim() -> Iterator[IsapiTerminalSim]:
    terminal = IsapiTerminalSim(heartbeat_s=0.2)
    terminal.start()
    yield terminal
    terminal.close()


def client(sim: IsapiTerminalSim, seen: Seen) -> IsapiTerminal:
    return IsapiTerminal(
        "hik",
        sim.url,
        sim.username,
        sim.password,
        seen.face,
        seen.state,
        down_after_s=1.0,
        backoff=Backoff(0.1, 0.5),
    )


def test_a_silent_stream_is_down_and_opened_again(sim: IsapiTerminalSim) -> None:
    seen = Seen()
    terminal = client(sim, seen)
    terminal.start()
    try:
        wait_until(lambda: terminal.up, 10, "the stream open")
        sim.heartbeats.clear()
        wait_until(lambda: not terminal.up, 10, "silence noticed")
        assert "no byte on the alert stream for 1 s" in terminal.detail
        sim.heartbeats.set()
        wait_until(lambda: terminal.up and sim.streams_opened >= 2, 10, "the stream reopened")
        sim.verify_face("4242001")
        wait_until(lambda: seen.faces == ["4242001"], 5, "the face after reconnecting")
        assert seen.states[:3] == [True, False, True]
    finally:
        terminal.stop()


def test_a_part_cut_off_by_a_dropped_stream_is_no_person(sim: IsapiTerminalSim) -> None:
    seen = Seen()
    terminal = client(sim, seen)
    terminal.start()
    try:
        wait_until(lambda: terminal.up, 10, "the stream open")
        event = {
            "eventType": "AccessControllerEvent",
            "AccessControllerEvent": {
                "majorEventType": 5,
                "subEventType": 75,
                "employeeNoString": "7777777",
            },
        }
        whole = part(json.dumps(event).encode())
        sim.send_raw(whole[: len(whole) // 2])
        sim.drop_streams()
        wait_until(lambda: sim.streams_opened >= 2 and terminal.up, 10, "the stream reopened")
        sim.verify_face("4242001")
        wait_until(lambda: seen.faces == ["4242001"], 5, "only the whole event")
    finally:
        terminal.stop()


def test_stop_ends_a_stream_blocked_on_a_silent_terminal_at_once(
    sim: IsapiTerminalSim,
) -> None:
    # A terminal that goes quiet (unplugged, or here: no heartbeats) leaves the client
    # waiting for its next byte for `down_after_s`; stopping must not wait with it.
    seen = Seen()
    terminal = IsapiTerminal(
        "hik", sim.url, sim.username, sim.password, seen.face, seen.state, down_after_s=60.0
    )
    terminal.start()
    stopped = threading.Event()

    def stop() -> None:
        terminal.stop()
        stopped.set()

    try:
        wait_until(lambda: terminal.up, 10, "the stream open")
        sim.heartbeats.clear()
        threading.Thread(target=stop, daemon=True).start()
        assert stopped.wait(3), "stop() waited for the silent terminal's next byte"
        assert not terminal.running
    finally:
        sim.heartbeats.set()
        terminal.stop()
