"""Alerts raised from events and from silence, and resolved when the condition clears."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from contract.maintenance_payloads import DeviceHealth, Health
from contract.payloads import AlarmEvent, Availability, PresenceEvent, utc_now
from contract.topics import gateway_topic
from dashboard.core.alert_rules import clock_skew, fault_of, station_full
from dashboard.core.changes import AlertThresholds, BatchResult
from dashboard.core.stations import StationInput
from dashboard.ingest import batch
from dashboard.ingest.batch import Message
from dashboard.ingest.checks import run_checks
from dashboard.storage import devices
from dashboard.storage.store import Store
from tests.central.support import Gateway, health_report
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until

from .test_occupancy import access


@pytest.fixture()
def store(database_url: str) -> Iterator[Store]:
    """A store on each database."""
    opened = Store.open(database_url)
    yield opened
    opened.close()


def record(
    store: Store, events: list[Message], thresholds: AlertThresholds | None = None
) -> BatchResult:
    """Store a batch the way the ingest writer does."""
    return batch.record(store.db, thresholds or AlertThresholds(), events)


def open_kinds(store: Store) -> dict[str, str | None]:
    return {a.kind: a.subject for a in store.alerts()}


def alarm(seq: int, kind: str, active: bool) -> AlarmEvent:
    return AlarmEvent(
        station_id="s",
        gateway_id="g",
        seq=seq,
        at=utc_now(),
        door_id="main",
        alarm=kind,
        active=active,
    )


def test_alarms_open_and_clear(store: Store) -> None:
    result = record(store, [alarm(1, "held_open", True), alarm(2, "fire", True)])
    assert {a.kind for a in result.alerts} == {"held_open", "fire"}
    record(store, [alarm(3, "held_open", True)])
    assert len(store.alerts()) == 2, "one alert per condition, not one per event"
    record(store, [alarm(4, "held_open", False)])
    assert open_kinds(store) == {"fire": "main"}
    (cleared,) = store.alerts(open_only=False, kind="held_open")
    assert (cleared.status, cleared.resolved_by) == ("resolved", "system")


def test_when_a_station_is_full_and_a_clock_wrong() -> None:
    assert station_full("s", 3, 4) is None
    assert station_full("s", 4, 4) == "station s is full: 4 of 4 places taken"
    assert station_full("s", 5, 4) == "station s is full: 5 of 4 places taken"
    assert station_full("s", 500, None) is None, "no capacity, never full"
    assert clock_skew("s", "g", -30.0, 30) is None
    assert clock_skew("s", "g", -30.5, 30) == "gateway s/g clock is -30.5 s off (more than 30 s)"


def test_full_station_opens_and_closes(store: Store) -> None:
    store.put_station(StationInput(id="s", name="S", capacity=2))
    full = record(store, [access("in"), access("in")])
    assert [(a.kind, a.status) for a in full.alerts] == [("station_full", "open")]
    assert "station_full" in open_kinds(store)
    assert record(store, [access("in")]).alerts == [], "still full: the same alert"
    room = record(store, [access("out"), access("out")])
    assert [(a.kind, a.status) for a in room.alerts] == [("station_full", "resolved")]
    assert "station_full" not in open_kinds(store)


def test_an_operator_filling_a_station_opens_the_same_full_alert(store: Store) -> None:
    store.put_station(StationInput(id="s", name="S", capacity=2))
    result = store.correct_occupancy("s", "rest", 2, "operator", "counted by hand")
    assert [(a.kind, a.status) for a in result.alerts] == [("station_full", "open")]
    assert result.occupancy == {"s": (2, 2)}
    assert "station_full" in open_kinds(store)
    emptied = store.correct_occupancy("s", "rest", 0, "operator", "everyone left")
    assert [(a.kind, a.status) for a in emptied.alerts] == [("station_full", "resolved")]


def test_silent_gateway_and_sensor_and_clock_skew(store: Store) -> None:
    thresholds = AlertThresholds(offline_after_s=60, sensor_silent_after_s=600, clock_skew_s=30)
    record(
        store,
        [
            Availability(
                station_id="s", gateway_id="g", online=True, at=utc_now() + timedelta(minutes=5)
            ),
            PresenceEvent(
                station_id="s", gateway_id="g", seq=1, at=utc_now(), sensor_id="radar", present=True
            ),
        ],
        thresholds,
    )
    (skew,) = store.alerts(kind="clock_skew")
    assert "+300" in skew.detail or "+299" in skew.detail
    assert run_checks(store.db, thresholds, time.time() + 30).alerts == []
    later = run_checks(store.db, thresholds, time.time() + 700)
    assert {a.kind for a in later.alerts} == {"gateway_offline", "sensor_silent"}
    assert [(g.online, g.offline_reason) for g in store.gateways()] == [(False, "silent")]
    # Anything from the gateway brings it back; the sensor speaking resolves its alert;
    # a birth message with a good clock resolves the skew.
    result = record(
        store,
        [
            PresenceEvent(
                station_id="s",
                gateway_id="g",
                seq=2,
                at=utc_now(),
                sensor_id="radar",
                present=False,
            ),
            Availability(station_id="s", gateway_id="g", online=True, at=utc_now()),
        ],
        thresholds,
    )
    assert {(a.kind, a.status) for a in result.alerts} >= {
        ("gateway_offline", "resolved"),
        ("sensor_silent", "resolved"),
        ("clock_skew", "resolved"),
    }
    assert store.alerts() == []


def test_last_will_through_the_broker(any_central: RunningCentral, probe: MqttProbe) -> None:
    gw = Gateway(probe, "cs-0002", "gw-9")
    gw.availability(True)
    gw.availability(False)

    def offline() -> list[dict[str, object]]:
        return [
            a for a in any_central.http.get("/api/alerts").json() if a["kind"] == "gateway_offline"
        ]

    (alert,) = wait_until(offline, 10, "offline alert")
    assert "last will" in str(alert["detail"])
    gateway = any_central.http.get("/api/gateways", params={"station_id": "cs-0002"}).json()
    assert gateway[0]["offline_reason"] == "will"
    gw.availability(True, at=utc_now())
    wait_until(lambda: not offline(), 10, "alert resolved on return")


def test_a_health_report_is_news_from_a_silent_gateway(store: Store) -> None:
    thresholds = AlertThresholds(offline_after_s=60)
    report = health("gw-9", radar_ok=True)
    record(store, [report], thresholds)
    assert [(g.gateway_id, g.online) for g in store.gateways()] == [("gw-9", True)]
    run_checks(store.db, thresholds, time.time() + 120)
    assert [(g.online, g.offline_reason) for g in store.gateways()] == [(False, "silent")]
    result = record(store, [health("gw-9", radar_ok=True)], thresholds)
    assert [(a.kind, a.status) for a in result.alerts] == [("gateway_offline", "resolved")]
    assert [(g.online, g.offline_reason) for g in store.gateways()] == [(True, None)]


def health(gateway_id: str, radar_ok: bool, **radar: object) -> Health:
    """A gateway's health report with a radar and a door, as the gateway builds it."""
    return health_report(
        {
            "radar-1": DeviceHealth(
                kind="radar",
                ok=radar_ok,
                detail="port open" if radar_ok else "port not open",
                last_frame_age_s=0.1 if radar_ok else None,
                state=dict(radar) or {"present": False},
            ),
            "door-main": DeviceHealth(kind="door", ok=True, state={"open": 0}),
        },
        station_id="cs-0002",
        gateway_id=gateway_id,
    )


def test_what_counts_as_faulty() -> None:
    report = health("g", radar_ok=False)
    assert fault_of("radar-1", report.devices["radar-1"]) == "radar radar-1 faulty: port not open"
    assert fault_of("door-main", report.devices["door-main"]) is None
    silent = DeviceHealth(kind="radar", ok=False, detail="port open", last_frame_age_s=7.5)
    assert fault_of("radar-1", silent) == "radar radar-1 faulty: port open, last frame 7.5 s ago"
    impossible = DeviceHealth(kind="pir", ok=True, state={"present": "maybe"})
    assert "impossible presence 'maybe'" in str(fault_of("pir-1", impossible))
    assert fault_of("pir-1", DeviceHealth(kind="pir", ok=True, state={"present": None})) is None


def test_a_faulty_sensor_in_a_health_report_opens_an_alert_and_recovery_resolves_it(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    # A gateway of this test alone: the broker is shared with other tests' centrals.
    gateway_id = f"gw-h{uuid.uuid4().hex[:8]}"
    topic = gateway_topic("cs-0002", gateway_id, "health")
    # Gateways retain their reports; this one is not retained, so that no later test's
    # central is handed it. The central treats both alike.
    probe.publish(topic, health(gateway_id, radar_ok=False).to_json())

    def faulty(status: str = "open") -> list[dict[str, object]]:
        return [
            a
            for a in any_central.http.get(
                "/api/alerts", params={"kind": "sensor_faulty", "include_resolved": "true"}
            ).json()
            if a["gateway_id"] == gateway_id and a["status"] == status
        ]

    (alert,) = wait_until(faulty, 10, "sensor_faulty alert")
    assert (alert["station_id"], alert["subject"]) == ("cs-0002", "radar-1")
    assert "port not open" in str(alert["detail"])
    # The same fault in the next report is the same alert, not another.
    probe.publish(topic, health(gateway_id, radar_ok=False).to_json())
    probe.publish(topic, health(gateway_id, radar_ok=True).to_json())
    (resolved,) = wait_until(lambda: faulty("resolved"), 10, "sensor_faulty resolved")
    assert resolved["id"] == alert["id"] and resolved["resolved_by"] == "system"
    assert faulty() == []
    # A report that fails validation is quarantined like any other message.
    probe.publish(topic, b'{"schema": "health/1", "station_id": "cs-0002"}')
    quarantined = wait_until(
        lambda: [q for q in any_central.http.get("/api/quarantine").json() if q["topic"] == topic],
        10,
        "quarantined health report",
    )
    assert quarantined[0]["code"] == "invalid"


def test_a_health_report_stored_after_a_newer_one_changes_nothing(store: Store) -> None:
    # A replica that stores its share late (after a restart) hands in an older report.
    newer = health("gw-9", radar_ok=True)
    older = health("gw-9", radar_ok=False).model_copy(
        update={"at": newer.at - timedelta(seconds=30)}
    )
    record(store, [newer])
    result = record(store, [older])
    assert result.alerts == []
    assert store.alerts(kind="sensor_faulty") == []
    readings = devices.station_readings(store.db, "cs-0002")
    assert [(r.sensor_id, r.ok) for r in readings if r.sensor_id == "radar-1"] == [
        ("radar-1", True)
    ]
