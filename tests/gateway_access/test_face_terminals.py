"""Face terminals on the network: a simulated ZKTeco (PUSH, polling the gateway) and a
simulated Hikvision (ISAPI alert stream, digest auth) hand over the person they matched,
over real HTTP on loopback; the gateway decides, moves the relay and shows the outcome.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from gpiozero.pins.mock import MockFactory

from contract.credential_payloads import Revocations
from contract.payloads import AccessEvent, utc_now
from gateway.config import (
    FaceTerminalSettings,
    GatewaySettings,
    MaintenanceSettings,
    PolicySettings,
    check_doors,
)
from gateway.face_terminals import FaceTerminals, faces_to_remove
from hardware.sim.hikvision_isapi import IsapiTerminalSim, part
from hardware.sim.zkteco_push import ZkPushTerminal
from servicekit.operator_keys import OperatorKey
from servicekit.settings import ConfigError
from tests.gateway_access.support import (
    NUMBER,
    REGION,
    STATION,
    Door,
    enroll,
    running_door,
    wait_trust,
    worker_id_of_secret,
)
from tests.gateway_access.test_capacity import clear_feedback, pattern
from tests.support.mosquitto import MosquittoBroker, free_port
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.signing import OPERATOR, command, maintenance_settings
from tests.support.waiting import wait_until
from yizhan.simulated_station import FEEDBACK_PINS, PINS, simulated_board

FACE = "4242001"
SERIAL = "CQZ7233460003"


@contextmanager
def terminals_at_door(
    broker_url: str,
    state_dir: Path,
    pins: MockFactory,
    policy: PolicySettings | None = None,
    password: str | None = None,
    maintenance: MaintenanceSettings | None = None,
) -> Iterator[tuple[Door, ZkPushTerminal, IsapiTerminalSim]]:
    """A gateway with a ZKTeco and a Hikvision terminal at its door, both connected."""
    hik = IsapiTerminalSim(heartbeat_s=0.3)
    hik.start()
    port = free_port()
    settings = [
        FaceTerminalSettings(
            id="zk",
            kind="zkteco_push",
            door="main",
            serial_number=SERIAL,
            listen="127.0.0.1",
            port=port,
            down_after_s=1.5,
        ),
        FaceTerminalSettings(
            id="hik",
            kind="hikvision_isapi",
            door="main",
            url=hik.url,
            username="admin",
            password=password or hik.password,
            down_after_s=1.5,
        ),
    ]
    zk = ZkPushTerminal("127.0.0.1", port, SERIAL, delay_s=0.2)
    try:
        with running_door(
            broker_url, state_dir, pins, policy, face_terminals=settings, maintenance=maintenance
        ) as door:
            zk.start()
            wait_until(lambda: zk.polls > 0, 10, "the ZKTeco terminal to poll")
            if password is None:
                wait_until(lambda: door.gateway.faces.isapi["hik"].up, 10, "the alert stream")
            yield door, zk, hik
    finally:
        zk.close()
        hik.close()


def accesses(door: Door) -> list[AccessEvent]:
    return door.events.of(AccessEvent)


def closed_now() -> list[str]:
    """Opening hours that exclude the present hour in Changsha."""
    hour = datetime.now(ZoneInfo("Asia/Shanghai")).hour
    start = (hour + 2) % 24
    return [f"{start:02d}:00-{(start + 1):02d}:00" if start < 23 else "23:00-24:00"]


def test_a_known_face_opens_the_door_through_either_terminal_and_others_are_refused(
    central: RunningCentral,
    own_broker: MosquittoBroker,
    mock_pins: MockFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.service")
    worker_id = worker_id_of_secret(central, enroll(central, face_ids=[FACE]))
    with terminals_at_door(own_broker.url, tmp_path / "state", mock_pins) as (door, zk, hik):
        wait_trust(door.gateway, "the face map", lambda t: FACE in t.credentials.faces)
        relay = mock_pins.pin(PINS["relay"])
        relay.clear_states()
        clear_feedback(mock_pins)

        assert zk.verify(FACE) == (200, "OK: 1")
        granted = door.next_access(0)
        assert (granted.credential, granted.decision, granted.worker_id) == (
            "face",
            "granted",
            worker_id,
        )
        assert granted.door_id == "main"
        wait_until(lambda: len(relay.states) > 1, 5, "the relay to move")
        assert pattern(mock_pins, "green", 2) == [False, True, False]

        hik.verify_face(FACE)
        again = door.next_access(1)
        assert (again.credential, again.decision, again.worker_id) == ("face", "granted", worker_id)

        green = mock_pins.pin(FEEDBACK_PINS["green"])
        strangers: list[Callable[[], object]] = [
            lambda: zk.verify("999"),
            lambda: hik.verify_face("998"),
        ]
        for n, present in enumerate(strangers):
            wait_until(lambda: not green.state, 5, "the last grant's green light to end")
            clear_feedback(mock_pins)
            present()
            unknown = door.next_access(2 + n)
            assert (unknown.decision, unknown.reason, unknown.worker_id) == (
                "denied",
                "unknown_face",
                None,
            )
            # Refused: red three times, one long beep, green dark.
            assert pattern(mock_pins, "red", 6) == [False, True] * 3 + [False]
            assert pattern(mock_pins, "green", 0) == [False]
        assert "face terminal's person 999 refused: unknown_face" in caplog.text
        assert "face terminal's person 998 refused: unknown_face" in caplog.text

        # A revocation list naming the worker (the central's map may lag behind it, or be
        # lost): refused as revoked at either terminal.
        number = int(worker_id[1:])
        door.gateway.access.trust_store.apply(
            Revocations(version=10**6, issued_at=utc_now(), worker_numbers=[number])
        )
        unlocks = len(door.unlocks())
        zk.verify(FACE)
        hik.verify_face(FACE)
        revoked = [door.next_access(4), door.next_access(5)]
        assert [(r.decision, r.reason) for r in revoked] == [("denied", "revoked")] * 2

        # Revoked at the central: its map drops the face, which is then nobody's.
        assert central.http.post(f"/api/workers/{worker_id}/revoke").status_code == 200
        wait_trust(door.gateway, "the face unmapped", lambda t: FACE not in t.credentials.faces)
        zk.verify(FACE)
        assert door.next_access(6).reason == "unknown_face"
        assert len(door.unlocks()) == unlocks


def test_a_full_station_says_full_and_a_closed_one_closed(
    central: RunningCentral, own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    enroll(central, face_ids=[FACE])
    full = PolicySettings(station_number=NUMBER, region_code=REGION, capacity=0)
    with terminals_at_door(own_broker.url, tmp_path / "a", mock_pins, full) as (door, zk, hik):
        wait_trust(door.gateway, "the face map", lambda t: FACE in t.credentials.faces)
        clear_feedback(mock_pins)
        hik.verify_face(FACE)
        assert door.next_access(0).reason == "full"
        # Full: red and green together three times, two beeps.
        assert pattern(mock_pins, "red", 6) == [False, True] * 3 + [False]
        assert pattern(mock_pins, "green", 6) == [False, True] * 3 + [False]
        zk.verify(FACE)
        assert door.next_access(1).reason == "full"
        assert door.unlocks() == []

    mock_pins.reset()
    closed = PolicySettings(station_number=NUMBER, region_code=REGION, hours=closed_now())
    with terminals_at_door(own_broker.url, tmp_path / "b", mock_pins, closed) as (door, zk, hik):
        wait_trust(door.gateway, "the face map", lambda t: FACE in t.credentials.faces)
        clear_feedback(mock_pins)
        zk.verify(FACE)
        assert door.next_access(0).reason == "closed"
        assert pattern(mock_pins, "red", 6) == [False, True] * 3 + [False]
        hik.verify_face(FACE)
        assert door.next_access(1).reason == "closed"
        assert door.unlocks() == []


def face_health(door: Door, name: str) -> tuple[bool, str]:
    device = door.gateway.health_report(None).devices[f"face-{name}"]
    assert device.kind == "face_terminal"
    return device.ok, device.detail


def test_a_dropped_stream_and_a_silent_terminal_are_faulty_until_they_are_back(
    central: RunningCentral, own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    enroll(central, face_ids=[FACE])
    with terminals_at_door(own_broker.url, tmp_path / "state", mock_pins) as (door, zk, hik):
        wait_trust(door.gateway, "the face map", lambda t: FACE in t.credentials.faces)
        assert face_health(door, "hik")[0] and face_health(door, "zk")[0]

        # The terminal reboots: its stream ends and, for a while, it refuses new ones.
        hik.available.clear()
        hik.drop_streams()
        wait_until(lambda: not face_health(door, "hik")[0], 10, "the terminal reported down")
        zk.pause()
        wait_until(lambda: not face_health(door, "zk")[0], 10, "the silent terminal down")
        assert face_health(door, "zk")[1] == "stopped polling"

        def open_faults() -> list[str]:
            alerts = central.http.get("/api/alerts", params={"kind": "sensor_faulty"}).json()
            return sorted(a["subject"] for a in alerts if a["status"] != "resolved")

        wait_until(lambda: open_faults() == ["face-hik", "face-zk"], 15, "sensor_faulty alerts")

        hik.available.set()
        zk.resume()
        wait_until(lambda: face_health(door, "hik")[0], 15, "the stream opened again")
        wait_until(lambda: face_health(door, "zk")[0], 10, "the terminal polling again")
        assert hik.streams_opened >= 2
        wait_until(lambda: open_faults() == [], 15, "the alerts resolved")

        # Back for real: a face opens the door again.
        hik.verify_face(FACE)
        assert door.next_access(0).decision == "granted"


def test_bad_input_is_refused_with_a_reason_and_the_door_stays_shut(
    central: RunningCentral,
    own_broker: MosquittoBroker,
    mock_pins: MockFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    enroll(central, face_ids=[FACE])
    with terminals_at_door(own_broker.url, tmp_path / "state", mock_pins) as (door, zk, hik):
        wait_trust(door.gateway, "the face map", lambda t: FACE in t.credentials.faces)
        relay = mock_pins.pin(PINS["relay"])
        relay.clear_states()

        status, text = zk.upload("rtlog", b"\x00\xffgarbage without fields\r\n")
        assert status == 400 and "no readable line" in text
        status, _ = zk.upload("rtlog", b"time=yesterday\tpin=4242001\tverifytype=15\r\n")
        assert status == 400
        assert "time 'yesterday' is not YYYY-MM-DD HH:MM:SS" in caplog.text
        status, _ = zk.upload("rtlog", b"time=2026-01-01 00:00:00\tpin=42;DROP\r\n")
        assert status == 400 and "PIN '42;DROP'" in caplog.text
        # A punch from hours ago (a backlog after an outage) opens nothing.
        old = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(hours=3)).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        assert zk.verify(FACE, at=old)[0] == 200
        assert zk.attendance(FACE, at=old)[0] == 200
        assert "no door opened" in caplog.text
        # A terminal the gateway was not told about is refused.
        stranger = ZkPushTerminal("127.0.0.1", zk.port, "UNKNOWN0001")
        assert stranger.verify(FACE)[0] == 403
        assert "unknown terminal serial number" in caplog.text

        hik.send_raw(part(b"{not json"))
        hik.send_raw(part(b'{"eventType": "AccessControllerEvent"}'))
        hik.send_raw(part(b"\xff\xd8 a picture", content_type="image/jpeg"))
        big = b"--MIME_boundary\r\nContent-Type: application/json\r\nContent-Length: 999999\r\n\r\n"
        hik.send_raw(big)
        wait_until(lambda: "part of 999999 bytes" in caplog.text, 5, "the oversized part refused")
        assert "alert refused: not JSON" in caplog.text
        assert "AccessControllerEvent without its object" in caplog.text

        # Nothing above was a person at the door.
        assert accesses(door) == []
        assert [s.state for s in relay.states] == [relay.states[0].state]
        # The stream survived it all: a real event still gets through.
        hik.verify_face(FACE)
        assert door.next_access(0).decision == "granted"


def test_a_wrong_password_is_reported_and_never_streams(
    central: RunningCentral, own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    with terminals_at_door(own_broker.url, tmp_path / "state", mock_pins, password="wrong") as (
        door,
        _zk,
        hik,
    ):
        wait_until(lambda: hik.auth_failures > 0, 10, "a refused digest")
        wait_until(
            lambda: "wrong username or password" in face_health(door, "hik")[1],
            10,
            "the reason in the health report",
        )
        assert not face_health(door, "hik")[0]
        assert hik.streams_opened == 0


def test_persons_are_added_and_removed_and_a_revoked_workers_face_is_deleted(
    central: RunningCentral, own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    worker_id = worker_id_of_secret(central, enroll(central, face_ids=[FACE]))
    with terminals_at_door(own_broker.url, tmp_path / "state", mock_pins) as (door, zk, hik):
        wait_trust(door.gateway, "the face map", lambda t: FACE in t.credentials.faces)
        faces = door.gateway.faces
        for person in (FACE, "4242002"):
            faces.add_person("hik", person, "W000123")
            faces.add_person("zk", person, "W000123")
        assert hik.persons[FACE]["name"] == "W000123"
        wait_until(lambda: zk.users.get("4242002") == "W000123", 10, "the users on the ZKTeco")
        wait_until(lambda: list(faces.command_results("zk").values()) == [0, 0], 10, "results")

        faces.remove_person("hik", "4242002")
        faces.remove_person("zk", "4242002")
        assert "4242002" not in hik.persons
        wait_until(lambda: "4242002" not in zk.users, 10, "the user removed from the ZKTeco")

        # Revoked at the central: the worker's face is deleted from both terminals.
        assert central.http.post(f"/api/workers/{worker_id}/revoke").status_code == 200
        wait_until(lambda: FACE not in hik.persons, 10, "the face deleted from the Hikvision")
        wait_until(lambda: FACE not in zk.users, 10, "the face deleted from the ZKTeco")
        assert faces.removed_faces == {FACE}


def test_face_terminal_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="zkteco_push needs serial_number"):
        FaceTerminalSettings(id="zk", kind="zkteco_push", door="main")
    with pytest.raises(ValueError, match="needs url, username and password"):
        FaceTerminalSettings(id="hik", kind="hikvision_isapi", door="main", url="http://h")
    with pytest.raises(ValueError, match="url"):
        FaceTerminalSettings(
            id="hik",
            kind="hikvision_isapi",
            door="main",
            url="ftp://h/x",
            username="a",
            password="b",
        )
    zk = FaceTerminalSettings(id="zk", kind="zkteco_push", door="side", serial_number="SN1")
    with pytest.raises(ValueError, match="same id"):
        GatewaySettings(station_id="s", gateway_id="g", face_terminals=[zk, zk])
    settings = GatewaySettings(station_id="s", gateway_id="g", face_terminals=[zk])
    board = simulated_board("/dev/null", "/dev/null", "/dev/null")
    with pytest.raises(ConfigError, match=r"face_terminals\.zk: .* no door 'side'"):
        check_doors(settings, board)


def test_only_revoked_workers_faces_not_yet_removed_are_removed() -> None:
    known = {"1001": 1, "1002": 2, "1003": 2, "1004": 3}
    assert faces_to_remove(known, frozenset({2, 9}), {"1002"}) == ["1003"]
    assert faces_to_remove(known, frozenset(), set()) == []


class Nobody:
    """A listener for terminals that never get to report."""

    def face_verified(self, door_id: str, direction: str, person_id: str) -> None:
        raise AssertionError("nothing should be verified")

    def face_terminal_changed(self, terminal_id: str, up: bool) -> None:
        pass

    def face_removed(self, terminal_id: str, person_id: str, cause: str) -> None:
        raise AssertionError("nothing should be removed")


def test_a_port_already_taken_is_a_configuration_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        zk = FaceTerminalSettings(
            id="zk",
            kind="zkteco_push",
            door="main",
            serial_number="SN1",
            listen="127.0.0.1",
            port=port,
        )
        expected = rf"face_terminals zk: cannot listen on 127.0.0.1:{port}"
        with pytest.raises(ConfigError, match=expected):
            FaceTerminals([zk], Nobody(), "Asia/Shanghai", utc_now)


def test_maintainers_add_persons_with_a_signed_command_and_remove_them(
    own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    base = f"yz/v1/st/{STATION}/gw/gw-1"
    replies = MqttProbe(own_broker.url, [f"{base}/reply", f"{base}/reply/#"])
    signed_by_operator = maintenance_settings()

    def ask(name: str, request_id: str, key: OperatorKey | None = OPERATOR, **args: Any) -> Any:
        replies.publish(
            f"{base}/command", command(name, request_id, to=(STATION, "gw-1"), key=key, **args)
        )
        reply = replies.wait_for(lambda m: json.loads(m.payload)["request_id"] == request_id)
        return json.loads(reply.payload)

    try:
        with terminals_at_door(
            own_broker.url, tmp_path / "state", mock_pins, maintenance=signed_by_operator
        ) as (_door, zk, hik):
            unsigned = ask("face_person_add", "a1", key=None, terminal="hik", person=FACE)
            assert unsigned["status"] == "unauthorised" and FACE not in hik.persons

            added = ask("face_person_add", "a2", terminal="hik", person=FACE, pseudonym="W004242")
            assert added["status"] == "ok" and hik.persons[FACE]["name"] == "W004242"
            assert ask("face_person_add", "a3", terminal="zk", person=FACE)["status"] == "ok"
            wait_until(lambda: zk.users.get(FACE) == FACE, 10, "the user on the ZKTeco")

            twice = ask("face_person_add", "a4", terminal="hik", person=FACE)
            assert twice["status"] == "error" and "employeeNoAlreadyExist" in twice["message"]
            nowhere = ask("face_person_add", "a5", terminal="lobby", person=FACE)
            assert nowhere["status"] == "wrong_target" and "hik, zk" in nowhere["message"]
            bad = ask("face_person_add", "a6", terminal="hik", person="42 01")
            assert bad["status"] == "bad_args"

            # Removing cannot open a door: no signature needed.
            removed = ask("face_person_remove", "r1", key=None, terminal="hik", person=FACE)
            assert removed["status"] == "ok" and FACE not in hik.persons
    finally:
        replies.close()
