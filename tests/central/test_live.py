"""The live stream (server-sent events) read by a real HTTP client from a real uvicorn."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator

import httpx

from contract.payloads import DoorEvent, utc_now
from tests.central.support import Gateway
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral


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


def next_of(events: queue.Queue[tuple[str, dict[str, object]]], kind: str) -> dict[str, object]:
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
        assert ["cs-0001", 0, 12, False] in list(snapshot["stations"])  # type: ignore[call-overload]
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
