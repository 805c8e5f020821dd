"""What the station page and the operators' panels read: occupancy history, sensors and
their last readings, entries by reason, alert notes. On SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contract.maintenance_payloads import DeviceHealth, Health
from contract.payloads import utc_now
from contract.topics import gateway_topic
from dashboard.core.changes import BatchResult
from dashboard.core.config import OccupancySettings
from dashboard.storage.history import OccupancyHistory
from dashboard.storage.store import Store
from servicekit.settings import BrokerSettings
from tests.central.conftest import STATIONS, central_settings
from tests.central.support import Gateway, health_report
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central
from tests.support.waiting import wait_until

STEP_S = 0.5
"""A short history step, so that a test sees samples written without waiting a minute."""


@pytest.fixture()
def quick_central(
    tmp_path: Path, broker_settings: BrokerSettings, database_url: str
) -> Iterator[RunningCentral]:
    """The real central on each database, writing history every half second."""
    settings = central_settings(
        tmp_path,
        broker_settings.url,
        database_url,
        occupancy=OccupancySettings(history_step_s=STEP_S),
    )
    yield from run_central(settings, stations=STATIONS)


def occupancy_of(central: RunningCentral, station_id: str) -> int:
    return int(central.http.get(f"/api/stations/{station_id}").json()["occupancy"])


def test_history_keeps_the_last_count_and_the_peak_of_each_step(database_url: str) -> None:
    store = Store.open(database_url)
    history = OccupancyHistory(store.db, step_s=60)
    t0 = 1_800_000_000.0  # the start of a step: 60 divides it
    for count in (1, 3, 2):
        history.note(BatchResult(occupancy={"s": (count, 4)}), now=t0 + 10)
    assert history.flush(now=t0 + 30) == 0, "the step is still in progress"
    assert history.flush(now=t0 + 61) == 1
    # Later in a restart: the same step again, lower; the peak stays the higher one.
    history.note(BatchResult(occupancy={"s": (1, 4)}), now=t0 + 50)
    history.flush(now=t0 + 200)
    history.note(BatchResult(occupancy={"s": (4, 4)}), now=t0 + 130)
    history.flush(now=t0 + 200)
    start = datetime.fromtimestamp(t0, UTC)
    samples = history.samples("s", start, start + timedelta(hours=1))
    assert [(s.occupancy, s.peak, s.capacity) for s in samples] == [(1, 3, 4), (4, 4, 4)]
    # A range starting later begins with the count it starts with, carried forward.
    later = history.samples("s", start + timedelta(seconds=90), start + timedelta(hours=1))
    assert [(s.occupancy, s.at.endswith(":01:30.000Z")) for s in later] == [(1, True), (4, False)]
    assert history.samples("other", start, start + timedelta(hours=1)) == []
    # Retention removes history with the entries.
    store.purge(start + timedelta(minutes=10))
    assert history.samples("s", start, start + timedelta(hours=1)) == []
    store.close()


def test_occupancy_history_through_the_broker(
    quick_central: RunningCentral, probe: MqttProbe
) -> None:
    http = quick_central.http
    gateway = Gateway(probe, "cs-0001", "gw-1")
    for _ in range(3):
        gateway.access("in")
    wait_until(lambda: occupancy_of(quick_central, "cs-0001") == 3, 10, "three inside")
    gateway.access("out")
    wait_until(lambda: occupancy_of(quick_central, "cs-0001") == 2, 10, "two inside")

    def written() -> dict[str, Any] | None:
        answer = http.get("/api/stations/cs-0001/occupancy/history").json()
        points = answer["points"]
        # Written samples plus the live count that ends the line. The entries may fall
        # into two steps, so wait for the one with all three inside to be written too.
        return answer if len(points) >= 2 and max(p["peak"] for p in points) == 3 else None

    answer = wait_until(written, 10, "history samples written")
    assert answer["capacity"] == 12 and answer["step_s"] == STEP_S
    points = answer["points"]
    assert [p["at"] for p in points] == sorted(p["at"] for p in points)
    assert points[-1]["occupancy"] == 2, "the line ends with the count now"
    assert max(p["peak"] for p in points) == 3
    assert answer["since"] < points[0]["at"] <= answer["until"]

    # A range in the past, before anything happened: no points at all.
    old = (utc_now() - timedelta(days=2)).isoformat()
    older = (utc_now() - timedelta(days=3)).isoformat()
    past = http.get(
        "/api/stations/cs-0001/occupancy/history", params={"since": older, "until": old}
    )
    assert past.status_code == 200 and past.json()["points"] == []
    bad = http.get("/api/stations/cs-0001/occupancy/history", params={"since": old, "until": older})
    assert bad.status_code == 422
    too_long = http.get(
        "/api/stations/cs-0001/occupancy/history",
        params={"since": (utc_now() - timedelta(days=40)).isoformat()},
    )
    assert too_long.status_code == 422 and "31 days" in too_long.json()["detail"]
    assert http.get("/api/stations/nowhere/occupancy/history").status_code == 404
    # A day before the first day there is: refused, not a server error.
    dawn = http.get(
        "/api/stations/cs-0001/occupancy/history", params={"until": "0001-01-01T12:00:00Z"}
    )
    assert dawn.status_code == 422


def health(at_offset_s: float, **devices: DeviceHealth) -> Health:
    return health_report(devices, at=utc_now() + timedelta(seconds=at_offset_s))


def test_sensors_and_their_last_readings(any_central: RunningCentral, probe: MqttProbe) -> None:
    http = any_central.http
    topic = gateway_topic("cs-0001", "gw-1", "health")
    report = health(
        -1,
        **{
            "scanner-main": DeviceHealth(kind="scanner", ok=True, detail="port open"),
            "radar-1": DeviceHealth(
                kind="radar", ok=True, last_frame_age_s=0.1, state={"present": True}
            ),
            "door-main": DeviceHealth(
                kind="door", ok=True, state={"lock": "secured", "open": False}
            ),
            "beams-main": DeviceHealth(
                kind="beams", ok=False, state={"a_broken": False, "b_broken": False}
            ),
        },
    )
    # Not retained: the broker is shared with other tests' centrals.
    probe.publish(topic, report.to_json())
    gateway = Gateway(probe, "cs-0001", "gw-1")
    gateway.presence(False, sensor="radar-1")
    gateway.presence(True, sensor="radar-sleep", zone="sleeping")

    def sensors() -> dict[str, dict[str, Any]] | None:
        rows = {s["sensor_id"]: s for s in http.get("/api/stations/cs-0001/sensors").json()}
        return rows if len(rows) == 5 and "health" in rows["radar-1"]["sources"] else None

    rows = wait_until(sensors, 10, "health report and presence events stored")
    assert rows["door-main"]["reading"] == {"lock": "secured", "open": False}
    assert rows["door-main"]["read_at"] == report.model_dump(mode="json")["at"]
    assert (rows["beams-main"]["kind"], rows["beams-main"]["ok"]) == ("beams", False)
    assert rows["scanner-main"]["detail"] == "port open"
    # The radar in both sources: its presence event (newer than the report) is the reading.
    radar = rows["radar-1"]
    assert radar["sources"] == ["health", "events"]
    assert radar["reading"]["present"] is False and radar["read_at"] > rows["door-main"]["read_at"]
    only_events = rows["radar-sleep"]
    assert (only_events["kind"], only_events["ok"], only_events["zone"]) == (
        "presence",
        None,
        "sleeping",
    )
    assert only_events["reading"]["present"] is True

    # A newer report without the beams: the gateway no longer has them.
    probe.publish(
        topic,
        health(0, **{"scanner-main": DeviceHealth(kind="scanner", ok=False)}).to_json(),
    )

    def beams_gone() -> bool:
        rows = {s["sensor_id"]: s for s in http.get("/api/stations/cs-0001/sensors").json()}
        return "beams-main" not in rows and rows["scanner-main"]["ok"] is False

    wait_until(beams_gone, 10, "the newer report replaces the older")
    # A report that breaks the contract is quarantined, not stored.
    probe.publish(topic, b'{"schema": "health/1", "station_id": "cs-0001"}')
    wait_until(
        lambda: any(q["topic"] == topic for q in http.get("/api/quarantine").json()),
        10,
        "bad health report quarantined",
    )
    assert http.get("/api/stations/cs-0002/sensors").json() == []
    assert http.get("/api/stations/nowhere/sensors").status_code == 404


def test_entries_by_reason_and_their_csv(any_central: RunningCentral, probe: MqttProbe) -> None:
    http = any_central.http
    gateway = Gateway(probe, "cs-0001", "gw-1")
    gateway.access("in")
    full = [gateway.access("in", decision="denied", reason="full").event_id for _ in range(2)]
    gateway.access("in", decision="denied", reason="expired")
    wait_until(lambda: len(http.get("/api/entries").json()) == 4, 10, "four entries")

    listed = http.get("/api/entries", params={"reason": "full"}).json()
    assert sorted(e["event_id"] for e in listed) == sorted(full)
    assert {e["reason"] for e in listed} == {"full"}
    both = http.get("/api/entries", params={"reason": "expired", "decision": "denied"}).json()
    assert [e["reason"] for e in both] == ["expired"]
    text = http.get("/api/entries.csv", params={"reason": "full"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["event_id"] for r in rows) == sorted(full)
    assert http.get("/api/entries", params={"reason": "sunny"}).status_code == 422


def test_alert_notes_are_kept_shown_and_audited(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    http = any_central.http
    Gateway(probe, "cs-0001", "gw-1").alarm("held_open", True)
    (alert,) = wait_until(lambda: http.get("/api/alerts").json(), 10, "alarm alert")
    path = f"/api/alerts/{alert['id']}"
    taken = http.post(f"{path}/acknowledge", json={"note": "  on my way  "})
    assert taken.status_code == 200
    assert (taken.json()["acknowledged_note"], taken.json()["resolved_note"]) == (
        "on my way",
        None,
    )
    assert http.post(f"{path}/resolve", json={"note": "x" * 501}).status_code == 422
    done = http.post(f"{path}/resolve", json={"note": "door closer replaced"})
    assert done.status_code == 200
    stored = http.get(path).json()
    assert (stored["status"], stored["resolved_by"], stored["resolved_note"]) == (
        "resolved",
        any_central.operator,
        "door closer replaced",
    )
    (listed,) = http.get("/api/alerts", params={"status": "resolved"}).json()
    assert listed["acknowledged_note"] == "on my way"

    def audited() -> list[dict[str, Any]]:
        # The audit row is written as the response goes out, so it may trail the answer.
        return [
            r
            for r in http.get("/api/audit").json()
            if r["target"] == f"{path}/resolve" and r["status"] == 200
        ]

    (resolved,) = wait_until(audited, 10, "the resolution audited")
    assert resolved["detail"] == "note: door closer replaced"
    # Without a note, nothing is invented.
    Gateway(probe, "cs-0002", "gw-2").alarm("tamper", True)
    (second,) = wait_until(lambda: http.get("/api/alerts").json(), 10, "second alert")
    plain = http.post(f"/api/alerts/{second['id']}/resolve").json()
    assert plain["resolved_note"] is None
