"""The central's record of faces paired at doors, on SQLite and on PostgreSQL: a pairing
is stored with its consent record and maps the person to the worker; one for an unknown
worker is refused; withdrawal on the pass page sends the gateway the removal and the
gateway's confirmation marks the pairing removed."""

from __future__ import annotations

import json
from typing import Any

from contract.payloads import FacePairingEvent, format_utc, utc_now
from tests.central.support import Gateway
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until


def enroll(central: RunningCentral) -> tuple[str, str]:
    """A worker and their pass link's secret."""
    created = central.http.post(
        "/api/workers", json={"display_name": "王芳", "platform": "eleme"}
    ).json()
    link = central.http.post(f"/api/workers/{created['worker_id']}/pass-links").json()
    return created["worker_id"], link["secret"]


def face_event(gateway: Gateway, **fields: Any) -> FacePairingEvent:
    return FacePairingEvent.model_validate(
        {
            **gateway._fields(None),
            "terminal_id": "hik-main",
            "door_id": "main",
            **fields,
        }
    )


def test_a_pairing_is_recorded_withdrawn_and_its_removal_confirmed(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    central = any_central
    worker_id, secret = enroll(central)
    person = worker_id[1:]
    gateway = Gateway(probe)
    confirmed_with = utc_now()
    gateway.send(
        face_event(
            gateway,
            action="paired",
            person_id=person,
            worker_id=worker_id,
            notice_version="face-consent-1",
            token_not_before=confirmed_with,
        )
    )
    # Nobody's: refused, never recorded, never mapped.
    gateway.send(
        face_event(
            gateway,
            action="paired",
            person_id="77",
            worker_id="w77",
            notice_version="face-consent-1",
            token_not_before=confirmed_with,
        )
    )

    def faces() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = central.http.get(f"/api/workers/{worker_id}/faces").json()
        return rows

    rows = wait_until(faces, 10, "the pairing recorded")
    assert len(rows) == 1
    row = rows[0]
    assert (row["station_id"], row["gateway_id"], row["terminal_id"], row["state"]) == (
        "cs-0001",
        "gw-1",
        "hik-main",
        "paired",
    )
    assert row["token_not_before"] == format_utc(confirmed_with)
    assert row["notice_version"] == "face-consent-1"
    worker = central.http.get(f"/api/workers/{worker_id}").json()
    assert worker["face_ids"] == [person]
    at_station = central.http.get("/api/stations/cs-0001/faces").json()
    assert [(r["terminal_id"], r["person_id"]) for r in at_station] == [("hik-main", person)]
    assert central.http.get("/api/stations/nowhere/faces").status_code == 404
    assert central.http.get("/api/workers/w77/faces").status_code == 404

    on_page = central.http.get(f"/api/pass/{secret}/face").json()
    assert [r["terminal_id"] for r in on_page] == ["hik-main"]
    assert central.http.delete("/api/pass/not-a-secret/face").status_code == 404
    withdrawn = central.http.delete(f"/api/pass/{secret}/face")
    assert withdrawn.status_code == 200, withdrawn.text
    assert [r["state"] for r in withdrawn.json()] == ["removal_pending"]
    sent = probe.wait_for(lambda m: m.topic == "yz/v1/st/cs-0001/gw/gw-1/command")
    command = json.loads(sent.payload)
    assert command["command"] == "face_person_remove"
    assert command["args"] == {"terminal": "hik-main", "person": person, "cause": "withdrawn"}
    assert central.http.get(f"/api/workers/{worker_id}").json()["face_ids"] == []
    # Unconfirmed: sent again once its time is up (here: as if it were up already).
    removals = central.service.face_removals
    assert removals.ask_again() == 0, "asked a moment ago"
    assert removals.ask_again(unconfirmed_after_s=-1.0) == 1
    again = probe.wait_for(lambda m: m.topic == "yz/v1/st/cs-0001/gw/gw-1/command")
    assert json.loads(again.payload)["args"] == command["args"]
    assert json.loads(again.payload)["request_id"] != command["request_id"]

    gateway.send(face_event(gateway, action="removed", person_id=person, cause="withdrawn"))
    removed = wait_until(
        lambda: [r for r in faces() if r["state"] == "removed"], 10, "the removal confirmed"
    )
    assert removed[0]["removal_cause"] == "withdrawn" and removed[0]["removed_at"]
    assert central.http.get(f"/api/pass/{secret}/face").json() == []
    assert central.http.get("/api/stations/cs-0001/faces").json() == []


def test_an_expired_workers_faces_are_removed_by_the_periodic_checks(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    central = any_central
    worker_id, _ = enroll(central)
    gateway = Gateway(probe)
    gateway.send(
        face_event(
            gateway,
            action="paired",
            person_id=worker_id[1:],
            worker_id=worker_id,
            notice_version="face-consent-1",
            token_not_before=utc_now(),
        )
    )
    wait_until(
        lambda: central.http.get(f"/api/workers/{worker_id}/faces").json(), 10, "the pairing"
    )
    assert central.service.face_removals.remove_expired() == 0, "still valid"
    ended = central.http.patch(
        f"/api/workers/{worker_id}", json={"valid_until": format_utc(utc_now())}
    )
    assert ended.status_code == 200, ended.text
    assert central.service.face_removals.remove_expired() == 1
    sent = probe.wait_for(lambda m: m.topic == "yz/v1/st/cs-0001/gw/gw-1/command")
    assert json.loads(sent.payload)["args"]["cause"] == "expired"
    rows = central.http.get(f"/api/workers/{worker_id}/faces").json()
    assert [(r["state"], r["removal_cause"]) for r in rows] == [("removal_pending", "expired")]
    assert central.service.face_removals.remove_expired() == 0, "asked once"
