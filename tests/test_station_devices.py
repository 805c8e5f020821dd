"""The real gateway on simulated devices: doors, alarms, fire, beams, exit button, radar.

Devices are driven as a person or a sensor would (mock pins, pty bytes); what the test
checks is what the gateway publishes and what the relay does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, TypeVar

import pytest
from gpiozero.pins.mock import MockFactory

from contract.payloads import (
    AlarmEvent,
    CrossingEvent,
    DoorEvent,
    EventPayload,
    PresenceEvent,
)
from gateway.config import DoorSettings, GatewaySettings
from gateway.service import Gateway
from gateway.trust_store import FILE_NAME, write_trust_file
from hardware.sim.radar import Presence, VirtualRadar
from hardware.sim.scanner import VirtualScanner
from servicekit.settings import BrokerSettings
from tests.support.events import Events
from tests.support.probe import MqttProbe
from tests.support.tokens import TokenMint
from yizhan.simulated_station import DOOR, FIRE_PIN, PINS, TAMPER_PIN, DoorHands, simulated_board

E = TypeVar("E", bound=EventPayload)


def wait_alarm(events: Events, kind: str, active: bool) -> AlarmEvent:
    return events.wait_for(AlarmEvent, lambda e: e.alarm == kind and e.active is active)


def wait_door(events: Events, state: str, cause: str) -> DoorEvent:
    return events.wait_for(DoorEvent, lambda e: e.state == state and e.cause == cause)


class Rig(NamedTuple):
    """A gateway on simulated devices, and what it has emitted."""

    gateway: Gateway
    events: Events
    entry: VirtualScanner
    radar: VirtualRadar
    mint: TokenMint


@pytest.fixture()
def station(
    broker_settings: BrokerSettings, mock_pins: MockFactory, tmp_path: Path
) -> Iterator[Rig]:
    entry, exit_, radar = VirtualScanner(), VirtualScanner(), VirtualRadar(period_s=0.05)
    settings = GatewaySettings(
        station_id="cs-0001",
        gateway_id="gw-1",
        broker=broker_settings,
        doors={DOOR: DoorSettings(unlock_s=1.0, held_open_s=0.3, forced_debounce_s=0.1)},
        state_dir=tmp_path,
    )
    gateway = Gateway(settings, simulated_board(entry.port, exit_.port, radar.port), mock_pins)
    mint = TokenMint()
    assert gateway.access.trust_store.apply(mint.keys())
    events = Events()
    gateway.add_listener(events)
    gateway.start()
    assert gateway.devices.wait_serial_open(5)
    yield Rig(gateway, events, entry, radar, mint)
    gateway.stop()
    for device in (entry, exit_, radar):
        device.close()


def test_a_door_held_open_raises_and_clears_the_alarm(station: Rig, mock_pins: MockFactory) -> None:
    _, events, entry, _, mint = station
    entry.scan(mint.token())
    wait_door(events, "unlocked", "grant")
    mock_pins.pin(PINS["contact"]).drive_high()
    wait_alarm(events, "held_open", True)
    mock_pins.pin(PINS["contact"]).drive_low()
    wait_alarm(events, "held_open", False)
    wait_door(events, "locked", "door_closed")


def test_a_forced_door_raises_an_alarm_that_reaches_the_broker(
    station: Rig, mock_pins: MockFactory, probe: MqttProbe
) -> None:
    _, events, _, _, _ = station
    mock_pins.pin(PINS["contact"]).drive_high()
    raised = wait_alarm(events, "forced", True)
    message = probe.wait_for(lambda m: m.topic == "yz/v1/st/cs-0001/gw/gw-1/event/alarm")
    assert raised.event_id.encode() in message.payload
    mock_pins.pin(PINS["contact"]).drive_low()
    wait_alarm(events, "forced", False)


def test_fire_releases_the_door_and_holds_it_until_cleared(
    station: Rig, mock_pins: MockFactory
) -> None:
    _, events, _, _, _ = station
    relay = mock_pins.pin(PINS["relay"])
    assert relay.state is True, "fail-safe lock is energised while secured"
    mock_pins.pin(FIRE_PIN).drive_low()
    wait_alarm(events, "fire", True)
    wait_door(events, "unlocked", "fire")
    assert relay.state is False
    mock_pins.pin(FIRE_PIN).drive_high()
    wait_alarm(events, "fire", False)
    wait_door(events, "locked", "fire_cleared")
    assert relay.state is True


def test_tamper_is_reported(station: Rig, mock_pins: MockFactory) -> None:
    _, events, _, _, _ = station
    mock_pins.pin(TAMPER_PIN).drive_high()
    wait_alarm(events, "tamper", True)


def test_beams_count_people_in_and_out(station: Rig, mock_pins: MockFactory) -> None:
    _, events, _, _, _ = station
    hands = DoorHands(mock_pins, threading.Event(), pace=0.5)

    hands.walk_through_beams(inwards=True)
    events.wait_for(CrossingEvent)
    hands.walk_through_beams(inwards=False)
    events.wait_for(CrossingEvent, lambda e: e.direction == "out")
    assert [(e.direction, e.source) for e in events.of(CrossingEvent)] == [
        ("in", "beam"),
        ("out", "beam"),
    ]


def test_the_exit_button_releases_the_door_and_counts_someone_out(
    station: Rig, mock_pins: MockFactory
) -> None:
    _, events, _, _, _ = station
    mock_pins.pin(PINS["rex"]).drive_low()
    mock_pins.pin(PINS["rex"]).drive_high()
    wait_door(events, "unlocked", "rex")
    crossing = events.wait_for(CrossingEvent, lambda e: e.source == "rex")
    assert crossing.direction == "out"


def test_the_radar_reports_presence_changes(station: Rig) -> None:
    _, events, _, radar, _ = station

    events.wait_for(PresenceEvent, lambda e: not e.present)
    radar.set_presence(Presence(stationary_cm=120, stationary_energy=70))
    present = events.wait_for(PresenceEvent, lambda e: e.present)
    assert (present.sensor_id, present.zone) == ("radar", "rest")
    radar.set_presence(Presence())
    events.wait_for(PresenceEvent, lambda e: len(events.of(PresenceEvent)) >= 3)
    # The radar sends a frame every 50 ms; the gateway reports changes, not frames.
    assert [e.present for e in events.of(PresenceEvent)] == [False, True, False]


def test_the_door_opens_with_no_broker_at_all(mock_pins: MockFactory, tmp_path: Path) -> None:
    # The keys come from the state directory, as after a reboot with the network down.
    mint = TokenMint()
    write_trust_file(tmp_path / FILE_NAME, {"keys": mint.keys()})
    entry, exit_, radar = VirtualScanner(), VirtualScanner(), VirtualRadar()
    settings = GatewaySettings(
        station_id="cs-0001",
        gateway_id="gw-1",
        broker=BrokerSettings(url="mqtt://127.0.0.1:9"),  # nothing listens on the discard port
        state_dir=tmp_path,
    )
    gateway = Gateway(settings, simulated_board(entry.port, exit_.port, radar.port), mock_pins)
    events = Events()
    gateway.add_listener(events)
    gateway.start()
    try:
        assert gateway.devices.wait_serial_open(5)
        entry.scan(mint.token())
        wait_door(events, "unlocked", "grant")
        assert mock_pins.pin(PINS["relay"]).state is False
        assert not gateway.link.connected
    finally:
        gateway.stop()
        for device in (entry, exit_, radar):
            device.close()
