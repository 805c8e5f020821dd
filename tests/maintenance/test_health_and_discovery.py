"""Health telemetry on its retained topic, and Home Assistant discovery with re-announce."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.sim.radar import Presence
from servicekit.settings import BrokerSettings
from tests.maintenance.rig import BASE, Rig, start_rig
from tests.support.schemas import validate_published


@pytest.fixture()
def rig(broker_settings: BrokerSettings, mock_pins: MockFactory, tmp_path: Path) -> Iterator[Rig]:
    yield from start_rig(
        broker_settings, mock_pins, tmp_path / "state", health_interval_s=1, home_assistant=True
    )


def test_health_reports_host_outbox_broker_and_devices(rig: Rig) -> None:
    first = rig.latest(f"{BASE}/health")
    validate_published(f"{BASE}/health", json.dumps(first).encode())
    # The round trip is measured on one report and carried by the next.
    report = rig.latest(f"{BASE}/health", lambda d: d["broker_rtt_ms"] is not None)
    assert report["version"] == "0.1.0" and report["outbox_depth"] >= 0
    assert report["uptime_s"] > 0 and report["memory_available_mb"] > 0
    assert report["disk_free_mb"] > 0 and report["load_1m"] is not None
    devices = report["devices"]
    assert devices["scanner-in"]["ok"] and devices["scanner-in"]["kind"] == "scanner"
    assert devices["radar-radar"]["ok"] and devices["radar-radar"]["last_frame_age_s"] < 5
    assert devices["door-main"]["state"]["lock"] == "secured"
    # A radar that goes quiet (stuck in config mode, where it sends no reports) is
    # reported as not answering.
    rig.radar.config_mode = True
    quiet = rig.latest(f"{BASE}/health", lambda d: not d["devices"]["radar-radar"]["ok"])
    assert quiet["devices"]["radar-radar"]["detail"]


def test_presence_changes_reach_health_soon(rig: Rig) -> None:
    rig.radar.set_presence(Presence(stationary_cm=120, stationary_energy=60))
    report = rig.latest(
        f"{BASE}/health", lambda d: d["devices"]["radar-radar"]["state"].get("present") is True
    )
    assert report["devices"]["radar-radar"]["ok"]


def test_home_assistant_discovery_and_reannounce(rig: Rig) -> None:
    node = "yz_7_mt-0001_gw-1"
    door = rig.latest(f"homeassistant/binary_sensor/{node}/door_main/config")
    assert door["device_class"] == "door" and door["state_topic"] == f"{BASE}/health"
    assert door["availability_topic"] == f"{BASE}/availability"
    assert door["unique_id"] == f"{node}_door_main" and door["device"]["identifiers"] == [node]
    # Home Assistant 2026.4 drops `object_id`; the entity id is `default_entity_id`.
    assert door["default_entity_id"] == f"binary_sensor.{node}_door_main"
    assert "object_id" not in door
    occupancy = rig.latest(f"homeassistant/sensor/{node}/occupancy/config")
    assert occupancy["value_template"] == "{{ value_json.occupancy }}"
    rig.latest(f"homeassistant/binary_sensor/{node}/presence_radar_radar/config")
    # Home Assistant restarts: every config is published again, live.
    topic = f"homeassistant/binary_sensor/{node}/lock_main/config"
    while not rig.probe.messages.empty():
        rig.probe.messages.get_nowait()
    rig.probe.publish("homeassistant/status", b"online")
    again = rig.probe.wait_for(lambda m: m.topic == topic and not m.retain)
    assert json.loads(again.payload)["device_class"] == "lock"


def test_discovery_is_off_by_default(
    broker_settings: BrokerSettings, mock_pins: MockFactory, tmp_path: Path
) -> None:
    for rig in start_rig(broker_settings, mock_pins, tmp_path / "state"):
        assert not rig.gateway.settings.home_assistant.enabled
        assert "homeassistant/status" not in [
            topic for topic, _ in rig.gateway.incoming.subscriptions
        ]
        rig.ask("ping", "p-1", key=None)
        seen = []
        while not rig.probe.messages.empty():
            seen.append(rig.probe.messages.get_nowait().topic)
        assert not [t for t in seen if t.startswith("homeassistant/")], seen
