"""The occupancy engine: its pure rules, and the running central's counts, which the retained
MQTT message and the API both show."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from contract.payloads import AccessEvent, CrossingEvent, PresenceEvent, utc_now
from contract.topics import occupancy_topic
from dashboard.core.changes import AlertThresholds
from dashboard.core.occupancy import SensorState, StationCounts, presence_resets
from dashboard.core.stations import StationInput
from dashboard.ingest import batch
from dashboard.ingest.checks import run_checks
from dashboard.storage.store import Store
from tests.central.conftest import STATIONS, central_settings
from tests.central.support import Gateway
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central
from tests.support.waiting import wait_until


def access(direction: str, door: str = "main", decision: str = "granted") -> AccessEvent:
    return AccessEvent.model_validate(
        dict(
            station_id="s",
            gateway_id="g",
            seq=1,
            at=utc_now(),
            door_id=door,
            direction=direction,
            credential="qr",
            decision=decision,
            reason="granted" if decision == "granted" else "expired",
        )
    )


def crossing(source: str, direction: str, door: str = "main") -> CrossingEvent:
    return CrossingEvent.model_validate(
        dict(
            station_id="s",
            gateway_id="g",
            seq=1,
            at=utc_now(),
            door_id=door,
            direction=direction,
            source=source,
        )
    )


def test_entries_exits_and_never_negative() -> None:
    counts = StationCounts(door_zone={"dorm": "sleeping"})
    for event in (
        access("in"),
        access("in"),
        access("in", "dorm"),
        access("in", decision="denied"),
    ):
        counts.apply(event)
    assert counts.zones == {"rest": 2, "sleeping": 1}
    counts.apply(crossing("rex", "out"))
    counts.apply(crossing("exit_reader", "out"))
    counts.apply(crossing("rex", "in"))
    assert counts.zones["rest"] == 0
    # Negative drift: more people leave than were seen entering; the count stays at zero.
    for _ in range(5):
        counts.apply(crossing("rex", "out"))
    assert counts.zones["rest"] == 0 and counts.total == 1
    counts.apply(access("in"))
    assert counts.zones["rest"] == 1, "the next real entry is counted, not swallowed"


def test_a_door_with_beams_counts_from_beams_only() -> None:
    counts = StationCounts()
    counts.apply(access("in"))
    assert counts.zones == {"rest": 1}
    # The first beam crossing makes `main` a beam door; its grants and REX no longer count.
    counts.apply(crossing("beam", "in"))
    counts.apply(access("in"))
    counts.apply(crossing("beam", "in"))
    counts.apply(crossing("rex", "out"))
    assert counts.zones == {"rest": 3}
    assert counts.learned_beam_doors == {"main"}
    counts.apply(crossing("beam", "out"))
    assert counts.zones == {"rest": 2}


def test_presence_resets_only_when_every_sensor_saw_nobody_long_enough() -> None:
    now = 10_000.0
    sensors = [SensorState("rest", False, now - 700), SensorState("rest", False, now - 300)]
    assert presence_resets(sensors, {"rest": 4}, now, 600) == []
    sensors[1] = SensorState("rest", False, now - 650)
    assert presence_resets(sensors, {"rest": 4}, now, 600) == ["rest"]
    assert presence_resets(sensors, {"rest": 0}, now, 600) == [], "nothing to reset"
    sensors.append(SensorState("rest", True, now - 900))
    assert presence_resets(sensors, {"rest": 4}, now, 600) == [], "someone is seen"


def test_radar_reset_in_the_store(database_url: str) -> None:
    store = Store.open(database_url)
    thresholds = AlertThresholds()
    store.put_station(StationInput(id="s", name="S", capacity=2))
    batch.record(store.db, thresholds, [access("in"), access("in")])
    assert store.alerts(kind="station_full")
    long_ago = utc_now() - timedelta(minutes=15)
    batch.record(
        store.db,
        thresholds,
        [
            PresenceEvent(
                station_id="s", gateway_id="g", seq=2, at=long_ago, sensor_id="radar", present=False
            )
        ],
    )
    assert store.stations()[0].occupancy == 2
    result = run_checks(store.db, thresholds)
    assert result.occupancy == {"s": (0, 2)}
    assert [(a.kind, a.status) for a in result.alerts] == [("station_full", "resolved")]
    (audit,) = store.corrections("s")
    assert (audit.before, audit.after, audit.by) == (2, 0, "presence")
    store.close()


@pytest.fixture()
def own_central(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[RunningCentral]:
    settings = central_settings(tmp_path, mosquitto.url, f"sqlite:///{tmp_path / 'c.db'}")
    yield from run_central(settings, stations=STATIONS)


def retained_matches_api(
    central: RunningCentral, broker_url: str, station: str
) -> dict[str, object]:
    """The retained occupancy a fresh MQTT subscriber gets, once it equals the API's."""

    def check() -> dict[str, object] | None:
        api = central.http.get(f"/api/stations/{station}/occupancy").json()
        watcher = MqttProbe(broker_url, [occupancy_topic(station)])
        try:
            message: dict[str, object] = json.loads(watcher.wait_for(lambda m: True, 5).payload)
        finally:
            watcher.close()
        zones = {z["zone"]: z["occupancy"] for z in api["zones"]}
        if message["occupancy"] == api["occupancy"] and message["zones"] == zones:
            return message
        return None

    return wait_until(check, 10, "retained occupancy equal to the API's")


def test_the_retained_message_matches_the_api(
    own_central: RunningCentral, probe: MqttProbe, mosquitto: MosquittoBroker
) -> None:
    gw = Gateway(probe)
    for _ in range(4):
        gw.access("in")
    gw.access("in", door="dorm")
    gw.crossing("rex", "out")
    wait_until(lambda: own_central.service.store.event_count() == 6, 10, "events stored")
    message = retained_matches_api(own_central, mosquitto.url, "cs-0001")
    assert message["occupancy"] == 4 and message["zones"] == {"rest": 3, "sleeping": 1}
    assert message["capacity"] == 12 and message["schema"] == "occupancy/1"

    own_central.http.put("/api/stations/cs-0001/occupancy", json={"zone": "rest", "count": 1})
    message = retained_matches_api(own_central, mosquitto.url, "cs-0001")
    assert message["occupancy"] == 2
