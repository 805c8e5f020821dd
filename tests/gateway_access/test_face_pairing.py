"""Pairing a face at the door: the terminal captures it, the worker confirms with their
pass, the central records the consent; withdrawal and revocation delete it from the
terminals, confirmed by the gateway. With a real Mosquitto, central and gateway, and the
simulated ZKTeco and Hikvision terminals over loopback HTTP. No face ever leaves them.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from contract.payloads import AccessEvent, FaceAction, FacePairingEvent, utc_now
from contract.tokens import decode_token
from dashboard.storage import face_pairings
from dashboard.storage.migrations import open_database
from gateway.face_pairing import LATE_MEMORY_S, EnrolmentDesk, EnrolmentWindow
from hardware.sim.hikvision_isapi import IsapiTerminalSim
from hardware.sim.zkteco_push import ZkPushTerminal
from servicekit.mqtt_link import Message
from tests.gateway_access.support import (
    STATION,
    Door,
    current_token,
    enroll,
    wait_trust,
    worker_id_of_secret,
)
from tests.gateway_access.test_face_terminals import terminals_at_door
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.signing import command, maintenance_settings
from tests.support.waiting import wait_until

GATEWAY = "gw-1"
BASE = f"yz/v1/st/{STATION}/gw/{GATEWAY}"

FACE_BLOB = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00YZ-FACE-BLOB-" + secrets.token_hex(16).encode() + b"\xff\xd9"
)
"""A recognisable fake JPEG / template that the simulated terminals hold and upload."""


class Maintainer:
    """Sends signed commands to the gateway and waits for each reply."""

    def __init__(self, broker_url: str) -> None:
        self.probe = MqttProbe(broker_url, [f"{BASE}/reply", f"{BASE}/reply/#"])

    def ask(self, name: str, request_id: str, signed: bool = True, **args: Any) -> Any:
        extra: dict[str, Any] = {} if signed else {"key": None}
        self.probe.publish(
            f"{BASE}/command", command(name, request_id, to=(STATION, GATEWAY), **extra, **args)
        )
        reply = self.probe.wait_for(lambda m: json.loads(m.payload)["request_id"] == request_id)
        return json.loads(reply.payload)

    def close(self) -> None:
        self.probe.close()


@contextmanager
def station(
    broker_url: str, state_dir: Path, pins: MockFactory
) -> Iterator[tuple[Door, ZkPushTerminal, IsapiTerminalSim, Maintainer]]:
    maintainer = Maintainer(broker_url)
    try:
        with terminals_at_door(broker_url, state_dir, pins, maintenance=maintenance_settings()) as (
            door,
            zk,
            hik,
        ):
            yield door, zk, hik, maintainer
    finally:
        maintainer.close()


def faces_of(central: RunningCentral, worker_id: str) -> list[dict[str, Any]]:
    response = central.http.get(f"/api/workers/{worker_id}/faces")
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def pair(door: Door, terminal: str, token: str) -> FacePairingEvent:
    """Scan the pass at the door's entry scanner during enrolment: the pairing event."""
    before = len(door.events.of(FacePairingEvent))
    door.entry.scan(token)
    door.events.wait_for(FacePairingEvent, lambda e: len(door.events.of(FacePairingEvent)) > before)
    event = door.events.of(FacePairingEvent)[before]
    assert (event.action, event.terminal_id) == (FaceAction.PAIRED, terminal)
    return event


def drain(probe: MqttProbe) -> list[Message]:
    seen = []
    while not probe.messages.empty():
        seen.append(probe.messages.get_nowait())
    return seen


def stored_bytes(*paths: Path) -> bytes:
    """Every file of a SQLite database (and its journal) as it lies on disk."""
    return b"".join(
        p.read_bytes() for base in paths for p in sorted(base.parent.glob(base.name + "*"))
    )


def test_a_face_is_paired_by_the_pass_scan_withdrawn_and_never_leaves_the_terminal(
    central: RunningCentral,
    own_broker: MosquittoBroker,
    mock_pins: MockFactory,
    tmp_path: Path,
) -> None:
    secret = enroll(central)
    worker_id = worker_id_of_secret(central, secret)
    person = worker_id[1:]
    everything = MqttProbe(own_broker.url, ["#"])
    try:
        with station(own_broker.url, tmp_path / "state", mock_pins) as (door, zk, hik, maint):
            # Enrolment at the Hikvision: the terminal captures, the worker confirms.
            started = maint.ask("face_enrol_start", "e1", terminal="hik", seconds=60)
            assert started["status"] == "ok", started
            hik.capture_face(FACE_BLOB)
            token = current_token(central, secret)
            paired = pair(door, "hik", token)
            assert paired.worker_id == worker_id and paired.person_id == person
            assert paired.notice_version == "face-consent-1"
            not_before = decode_token(token).claims.not_before
            assert paired.token_not_before is not None
            assert paired.token_not_before.timestamp() == not_before
            assert door.events.of(AccessEvent) == [], "the confirming scan is not an entry"
            assert hik.persons[person]["name"] == worker_id
            assert hik.faces[person] == FACE_BLOB

            # The same worker at the ZKTeco.
            assert maint.ask("face_enrol_start", "e2", terminal="zk")["status"] == "ok"
            zk.capture_face(FACE_BLOB)
            pair(door, "zk", current_token(central, secret))
            wait_until(lambda: zk.faces.get(person) == FACE_BLOB, 10, "the face on the ZKTeco")

            # The central recorded the consent and mapped the person to the worker.
            def recorded() -> list[dict[str, Any]]:
                rows = faces_of(central, worker_id)
                return rows if len(rows) == 2 else []

            rows = wait_until(recorded, 10, "both pairings recorded")
            assert {r["terminal_id"] for r in rows} == {"hik", "zk"}
            for row in rows:
                assert row["state"] == "paired" and row["station_id"] == STATION
                assert row["notice_version"] == "face-consent-1"
                assert row["person_id"] == person and row["door_id"] == "main"
            hik_row = next(r for r in rows if r["terminal_id"] == "hik")
            assert hik_row["token_not_before"] == paired.model_dump(mode="json")["token_not_before"]
            wait_trust(door.gateway, "the face mapped", lambda t: person in t.credentials.faces)

            # The face opens the door at either terminal (which upload their pictures).
            hik.verify_face(person)
            granted = door.next_access(0)
            assert (granted.credential, granted.decision, granted.worker_id) == (
                "face",
                "granted",
                worker_id,
            )
            zk.verify(person)
            assert door.next_access(1).worker_id == worker_id

            # The worker withdraws on the pass page.
            on_page = central.http.get(f"/api/pass/{secret}/face").json()
            assert sorted(r["terminal_id"] for r in on_page) == ["hik", "zk"]
            withdrawn = central.http.delete(f"/api/pass/{secret}/face")
            assert withdrawn.status_code == 200, withdrawn.text
            assert {r["state"] for r in withdrawn.json()} == {"removal_pending"}
            wait_until(lambda: person not in hik.persons, 10, "deleted from the Hikvision")
            wait_until(lambda: person not in zk.users, 10, "deleted from the ZKTeco")
            assert hik.faces == {} and zk.faces == {}

            def confirmed() -> list[dict[str, Any]]:
                rows = faces_of(central, worker_id)
                return rows if all(r["state"] == "removed" for r in rows) else []

            rows = wait_until(confirmed, 15, "the removals confirmed by the gateway")
            assert {r["removal_cause"] for r in rows} == {"withdrawn"}
            assert all(r["removed_at"] for r in rows)
            assert central.http.get(f"/api/pass/{secret}/face").json() == []
            wait_trust(
                door.gateway, "the face unmapped", lambda t: person not in t.credentials.faces
            )
            hik.verify_face(person)
            assert door.next_access(2).reason == "unknown_face"
            state_dir = tmp_path / "state"
            gateway_files = b"".join(p.read_bytes() for p in state_dir.rglob("*") if p.is_file())
    finally:
        everything.close()

    messages = drain(everything)
    assert any(m.topic.endswith("/event/face_pairing") for m in messages)
    database = stored_bytes(tmp_path / "central.db")
    encoded = base64.b64encode(FACE_BLOB)
    marker = FACE_BLOB[11:50]
    for where, data in [
        *((m.topic, m.payload) for m in messages),
        ("the central's database", database),
        ("the gateway's state files", gateway_files),
    ]:
        for blob in (FACE_BLOB, encoded, marker, base64.b64encode(marker)[:-4]):
            assert blob not in data, f"face bytes reached {where}"


def test_a_late_or_bad_confirmation_pairs_nobody_and_says_why(
    central: RunningCentral,
    own_broker: MosquittoBroker,
    mock_pins: MockFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    secret = enroll(central)
    worker_id = worker_id_of_secret(central, secret)
    with station(own_broker.url, tmp_path / "state", mock_pins) as (door, _zk, hik, maint):
        unsigned = maint.ask("face_enrol_start", "u1", signed=False, terminal="hik")
        assert unsigned["status"] == "unauthorised"
        assert maint.ask("face_enrol_start", "b1", terminal="lobby")["status"] == "wrong_target"
        too_long = maint.ask("face_enrol_start", "b2", terminal="hik", seconds=3600)
        assert too_long["status"] == "bad_args" and "seconds" in too_long["message"]

        # A scan after the window: no person; the scan is an ordinary entry.
        assert maint.ask("face_enrol_start", "l1", terminal="hik", seconds=0.2)["status"] == "ok"
        hik.capture_face(FACE_BLOB)
        closes = door.gateway.enrolments.waiting()[0].closes_s
        wait_until(lambda: time.monotonic() > closes, 5, "the enrolment window to close")
        entry = door.scan_in(current_token(central, secret))
        assert entry.decision == "granted"
        assert "after the window closed; no person created" in caplog.text
        assert hik.persons == {}

        # A scan in the window with a token that is not good.
        assert maint.ask("face_enrol_start", "x1", terminal="hik")["status"] == "ok"
        door.entry.scan("YZ1.not-a-token")
        wait_until(
            lambda: "the pass QR was refused" in caplog.text, 5, "the bad confirmation refused"
        )
        assert hik.persons == {} and door.events.of(FacePairingEvent) == []
        assert faces_of(central, worker_id) == []


def test_a_revoked_workers_paired_face_is_deleted_and_the_central_records_it(
    central: RunningCentral,
    own_broker: MosquittoBroker,
    mock_pins: MockFactory,
    tmp_path: Path,
) -> None:
    secret = enroll(central)
    worker_id = worker_id_of_secret(central, secret)
    person = worker_id[1:]
    with station(own_broker.url, tmp_path / "state", mock_pins) as (door, _zk, hik, _maint):
        door.gateway.enrolments.open(
            EnrolmentWindow("hik", "main", "face-consent-1", time.monotonic() + 30)
        )
        hik.capture_face(FACE_BLOB)
        pair(door, "hik", current_token(central, secret))
        wait_trust(door.gateway, "the face mapped", lambda t: person in t.credentials.faces)

        assert central.http.post(f"/api/workers/{worker_id}/revoke").status_code == 200
        wait_until(lambda: person not in hik.persons, 10, "the face deleted from the terminal")
        removed = door.events.wait_for(FacePairingEvent, lambda e: e.action is FaceAction.REMOVED)
        assert (removed.cause, removed.worker_id) == ("revoked", worker_id)
        rows = wait_until(
            lambda: [r for r in faces_of(central, worker_id) if r["state"] == "removed"],
            10,
            "the removal recorded",
        )
        assert rows[0]["removal_cause"] == "revoked"


def test_the_central_refuses_a_pairing_for_an_unknown_or_revoked_worker(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'central.db'}")
    fields: dict[str, Any] = {
        "station_id": STATION,
        "gateway_id": GATEWAY,
        "seq": 1,
        "at": utc_now(),
        "action": "paired",
        "terminal_id": "hik",
        "door_id": "main",
        "person_id": "999999",
        "worker_id": "w999999",
        "notice_version": "face-consent-1",
        "token_not_before": utc_now(),
    }
    unknown = FacePairingEvent.model_validate(fields)
    unconfirmed = FacePairingEvent.model_validate({**fields, "token_not_before": None, "seq": 2})
    with database.transaction() as db:
        refused = face_pairings.record(db, [unknown, unconfirmed], "2026-12-01T00:00:00.000Z")
        assert [r.reason for r in refused] == [
            "unknown worker w999999",
            "a pairing must name the consent notice and the confirming token",
        ]
        assert face_pairings.of_worker(db, 999999) == []
        row = db.execute("SELECT count(*) FROM worker_credentials").fetchone()
        assert row[0] == 0
    database.close()


def test_the_enrolment_desk_hands_a_window_out_once_and_remembers_a_closed_one() -> None:
    desk = EnrolmentDesk()
    desk.open(EnrolmentWindow("hik", "main", "face-consent-1", closes_s=100.0))
    assert desk.take("side", 50.0) == (None, 0.0), "another door has no window"
    window, late = desk.take("main", 50.0)
    assert window is not None and window.terminal_id == "hik" and late == 0.0
    assert desk.take("main", 51.0) == (None, 0.0), "taken: one scan confirms one enrolment"

    desk.open(EnrolmentWindow("hik", "main", "face-consent-1", closes_s=100.0))
    window, late = desk.take("main", 112.5)
    assert window is not None and late == 12.5, "a late scan is told how late"
    desk.open(EnrolmentWindow("hik", "main", "face-consent-1", closes_s=100.0))
    assert desk.take("main", 100.0 + LATE_MEMORY_S + 1) == (None, 0.0), "long forgotten"
    assert desk.waiting() == []
