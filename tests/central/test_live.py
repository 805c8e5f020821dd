"""The live stream (server-sent events) read by a real HTTP client from a real uvicorn."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx

from contract.maintenance_payloads import DeviceHealth
from contract.payloads import Command, CommandReply, DoorEvent, ReplyStatus, utc_now
from contract.topics import gateway_topic
from servicekit.mqtt_link import Message
from tests.central.support import Gateway, health_report
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until


def read_events(response: httpx.Response, out: queue.Queue[tuple[str, dict[str, object]]]) -> None:
    kind = ""
    try:
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                out.put((kind, json.loads(line.removeprefix("data: "))))
    except (httpx.TransportError, httpx.StreamError):
        # The test closed the stream under this reader: its end.
        return


def next_of(events: queue.Queue[tuple[str, dict[str, Any]]], kind: str) -> dict[str, Any]:
    while True:
        got, data = events.get(timeout=10)
        if got == kind:
            return data


def stream(
    central: RunningCentral, params: dict[str, str]
) -> Iterator[queue.Queue[tuple[str, dict[str, object]]]]:
    events: queue.Queue[tuple[str, dict[str, object]]] = queue.Queue()
    timeout = httpx.Timeout(10, read=30)
    with (
        httpx.Client(
            base_url=central.base_url, timeout=timeout, headers=central.http.headers
        ) as client,
        client.stream("GET", "/api/stream", params=params) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = threading.Thread(target=read_events, args=(response, events), daemon=True)
        reader.start()
        yield events


def test_occupancy_door_and_alert_changes_arrive_live(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    for events in stream(any_central, {}):
        snapshot = next_of(events, "snapshot")
        assert ["cs-0001", 0, 12, False] in list(snapshot["stations"])
        gw = Gateway(probe)
        gw.access("in")
        occupancy = next_of(events, "occupancy")
        assert (occupancy["station_id"], occupancy["occupancy"]) == ("cs-0001", 1)
        assert occupancy["zones"] == {"rest": 1, "sleeping": 0}
        gw.alarm("tamper", True, door=None)
        alert = next_of(events, "alert")
        assert (alert["kind"], alert["status"]) == ("tamper", "open")
        gw.send(
            DoorEvent(
                station_id="cs-0001",
                gateway_id="gw-1",
                seq=99,
                at=utc_now(),
                door_id="main",
                state="opened",
            )
        )
        door = next_of(events, "door")
        assert (door["door_id"], door["state"]) == ("main", "opened")


def test_a_filtered_stream_and_a_bad_filter(any_central: RunningCentral, probe: MqttProbe) -> None:
    bad = any_central.http.get("/api/stream", params={"kinds": "weather"})
    assert bad.status_code == 422 and "weather" in bad.json()["detail"]
    for events in stream(any_central, {"kinds": "occupancy", "station_id": "cs-0002"}):
        next_of(events, "snapshot")
        Gateway(probe).access("in")  # cs-0001: filtered out
        Gateway(probe, "cs-0002", "gw-2").access("in")
        occupancy = next_of(events, "occupancy")
        assert occupancy["station_id"] == "cs-0002"


def door(gw: Gateway, state: str, at: datetime, door_id: str = "main") -> None:
    gw.send(
        DoorEvent(
            station_id=gw.station_id,
            gateway_id=gw.gateway_id,
            seq=gw.seq + 1,
            at=at,
            door_id=door_id,
            state=state,
        )
    )
    gw.seq += 1


def test_a_new_client_is_told_door_states_and_open_alerts_at_once(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    gw = Gateway(probe)
    now = utc_now()
    door(gw, "opened", now)
    # Delivered late (after an outage, say): older than what is known, so not the truth.
    door(gw, "closed", now - timedelta(minutes=1))
    door(Gateway(probe, "cs-0002", "gw-2"), "closed", now, door_id="front")
    gw.alarm("held_open", True)
    # The alarm was sent after the door events on the same connection: once its alert is
    # listed, the door events before it are committed too.
    wait_until(lambda: any_central.http.get("/api/alerts").json(), 10, "the held-open alert")
    for events in stream(any_central, {}):
        snapshot = next_of(events, "snapshot")
        doors = {(d["station_id"], d["door_id"]): d for d in snapshot["doors"]}
        assert set(doors) == {("cs-0001", "main"), ("cs-0002", "front")}
        assert doors[("cs-0001", "main")]["state"] == "opened"
        assert doors[("cs-0001", "main")]["gateway_id"] == "gw-1"
        assert doors[("cs-0002", "front")]["state"] == "closed"
        (alert,) = snapshot["alerts"]
        assert (alert["kind"], alert["status"], alert["subject"]) == ("held_open", "open", "main")
    # Narrowed to one station and to counts only: no doors or alerts of anyone else.
    for events in stream(any_central, {"station_id": "cs-0002", "kinds": "occupancy,door"}):
        snapshot = next_of(events, "snapshot")
        assert [d["door_id"] for d in snapshot["doors"]] == ["front"]
        assert "alerts" not in snapshot
    # Once resolved, an alert is no longer part of the truth a new client is told.
    gw.alarm("held_open", False)
    wait_until(lambda: not any_central.http.get("/api/alerts").json(), 10, "alarm cleared")
    for events in stream(any_central, {"kinds": "alert"}):
        snapshot = next_of(events, "snapshot")
        assert snapshot["alerts"] == [] and "doors" not in snapshot


def on_topic(topic: str) -> Callable[[Message], bool]:
    return lambda message: message.topic == topic


def test_door_conditions_and_command_outcomes_arrive_live(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    http = any_central.http
    door_id = http.get("/api/stations/cs-0001").json()["doors"][0]["id"]
    lockdown = DeviceHealth(kind="door", ok=True, state={"lock": "secured", "lockdown": True})
    for events in stream(any_central, {"kinds": "condition,command"}):
        snapshot = next_of(events, "snapshot")
        assert snapshot["conditions"] == [] and "doors" not in snapshot
        report = health_report({f"door-{door_id}": lockdown})
        probe.publish(gateway_topic("cs-0001", "gw-1", "health"), report.to_json())
        condition = next_of(events, "condition")
        assert (condition["station_id"], condition["door_id"]) == ("cs-0001", door_id)
        assert (condition["lockdown"], condition["fire"], condition["forced_open"]) == (
            True,
            False,
            False,
        )
        sent = http.post(
            "/api/stations/cs-0001/commands", json={"command": "unlock", "door_id": door_id}
        ).json()
        command = Command.model_validate_json(probe.wait_for(on_topic(sent["topic"])).payload)
        reply = CommandReply(
            request_id=command.request_id,
            station_id=command.station_id,
            gateway_id=command.gateway_id,
            at=utc_now(),
            status=ReplyStatus.ERROR,
            message=f"door {door_id!r} is in lockdown; not released",
        )
        probe.publish(gateway_topic("cs-0001", command.gateway_id, "reply"), reply.to_json())
        outcome = next_of(events, "command")
        assert (outcome["request_id"], outcome["outcome"], outcome["by"]) == (
            sent["request_id"],
            "refused",
            any_central.operator,
        )
        assert outcome["message"] == reply.message
    # A client that connects now is told of the lockdown at once.
    for events in stream(any_central, {"station_id": "cs-0001"}):
        snapshot = next_of(events, "snapshot")
        assert [(c["door_id"], c["lockdown"]) for c in snapshot["conditions"]] == [(door_id, True)]
