"""Alerts raised from events and from silence, and resolved when the condition clears."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

from contract.maintenance_payloads import DeviceHealth, Health
from contract.payloads import AlarmEvent, Availability, PresenceEvent, utc_now
from contract.topics import gateway_topic
from dashboard.core.alert_rules import fault_of
from dashboard.core.changes import AlertThresholds
from dashboard.core.stations import StationInput
from dashboard.storage.store import Store
from tests.central.support import Gateway, health_report
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until

from .test_occupancy import access


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


def test_alarms_open_and_clear(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    result = store.record([alarm(1, "held_open", True), alarm(2, "fire", True)])
    assert {a.kind for a in result.alerts} == {"held_open", "fire"}
    store.record([alarm(3, "held_open", True)])
    assert len(store.alerts()) == 2, "one alert per condition, not one per event"
    store.record([alarm(4, "held_open", False)])
    assert open_kinds(store) == {"fire": "main"}
    (cleared,) = store.alerts(open_only=False, kind="held_open")
    assert (cleared.status, cleared.resolved_by) == ("resolved", "system")


def test_full_station_opens_and_closes(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    store.put_station(StationInput(id="s", name="S", capacity=2))
    store.record([access("in"), access("in")])
    assert "station_full" in open_kinds(store)
    store.record([access("out")])
    assert "station_full" not in open_kinds(store)


def test_silent_gateway_and_sensor_and_clock_skew(tmp_path: Path) -> None:
    store = Store(
        tmp_path / "c.db",
        AlertThresholds(offline_after_s=60, sensor_silent_after_s=600, clock_skew_s=30),
    )
    store.record(
        [
            Availability(
                station_id="s", gateway_id="g", online=True, at=utc_now() + timedelta(minutes=5)
            ),
            PresenceEvent(
                station_id="s", gateway_id="g", seq=1, at=utc_now(), sensor_id="radar", present=True
            ),
        ]
    )
    (skew,) = store.alerts(kind="clock_skew")
    assert "+300" in skew.detail or "+299" in skew.detail
    assert store.check(time.time() + 30).alerts == []
    later = store.check(time.time() + 700)
    assert {a.kind for a in later.alerts} == {"gateway_offline", "sensor_silent"}
    assert [(g.online, g.offline_reason) for g in store.gateways()] == [(False, "silent")]
    # Anything from the gateway brings it back; the sensor speaking resolves its alert;
    # a birth message with a good clock resolves the skew.
    result = store.record(
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
        ]
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


def test_a_health_report_is_news_from_a_silent_gateway(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db", AlertThresholds(offline_after_s=60))
    report = health("gw-9", radar_ok=True)
    store.record([report])
    assert [(g.gateway_id, g.online) for g in store.gateways()] == [("gw-9", True)]
    store.check(time.time() + 120)
    assert [(g.online, g.offline_reason) for g in store.gateways()] == [(False, "silent")]
    result = store.record([health("gw-9", radar_ok=True)])
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
