"""One worker's scan travels the whole way: pty → gateway → relay → broker → SQLite → REST."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from contract.payloads import AccessEvent, Direction
from firmware_bridge.grow_commands import ScannerStreamDecoder
from gateway.config import DoorSettings, GatewaySettings
from gateway.service import Gateway
from hardware.sim.radar import VirtualRadar
from hardware.sim.scanner import VirtualScanner
from servicekit.settings import BrokerSettings
from tests.support.events import Events
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until
from yizhan.simulated_station import DOOR, PINS, simulated_board

LOCK_PIN = PINS["relay"]


def worker_token(central: RunningCentral) -> tuple[str, str]:
    """Enroll a worker through the API and return their id and current token."""
    enrolled = central.http.post(
        "/api/workers", json={"display_name": "李明", "platform": "meituan"}
    )
    assert enrolled.status_code == 201, enrolled.text
    worker_id = enrolled.json()["worker_id"]
    link = central.http.post(f"/api/workers/{worker_id}/pass-links").json()
    tokens = central.http.get(f"/api/pass/{link['secret']}/tokens", params={"count": 0})
    assert tokens.status_code == 200, tokens.text
    return worker_id, tokens.json()["tokens"][0]["token"]


@pytest.fixture()
def scanners() -> Iterator[tuple[VirtualScanner, VirtualScanner]]:
    entry, exit_ = VirtualScanner(), VirtualScanner()
    yield entry, exit_
    entry.close()
    exit_.close()


@pytest.fixture()
def radar() -> Iterator[VirtualRadar]:
    device = VirtualRadar(period_s=0.2)
    yield device
    device.close()


@pytest.fixture()
def gateway(
    central: RunningCentral,
    broker_settings: BrokerSettings,
    mock_pins: MockFactory,
    scanners: tuple[VirtualScanner, VirtualScanner],
    radar: VirtualRadar,
    tmp_path: Path,
) -> Iterator[Gateway]:
    entry, exit_ = scanners
    settings = GatewaySettings(
        station_id="cs-0001",
        # A gateway id of its own: a broker keeps a persistent session per client, and
        # this test's gateway must start with none.
        gateway_id=f"gw-{uuid.uuid4().hex[:8]}",
        broker=broker_settings,
        doors={DOOR: DoorSettings(unlock_s=0.2)},
        state_dir=tmp_path / "gateway",
    )
    board = simulated_board(entry.port, exit_.port, radar.port)
    service = Gateway(settings, board, pin_factory=mock_pins)
    service.start()
    assert service.link.wait_connected(10)
    assert service.devices.wait_serial_open(5)
    # The central's public key arrives retained; from then on the gateway decides alone.
    wait_until(lambda: service.access.trust.keys_version, 10, "the central's keys")
    yield service
    service.stop()


def test_a_scan_travels_from_the_serial_port_to_the_api(
    central: RunningCentral,
    gateway: Gateway,
    mock_pins: MockFactory,
    scanners: tuple[VirtualScanner, VirtualScanner],
    probe: MqttProbe,
) -> None:
    entry, _ = scanners
    worker_id, token = worker_token(central)
    relay = mock_pins.pin(LOCK_PIN)
    relay.clear_states()
    events = Events()
    gateway.add_listener(events)

    entry.scan(token)

    # Fail-safe maglock: the relay drops (released) and is energised again when the
    # unlock time ends with nobody opening the door.
    wait_until(lambda: [s.state for s in relay.states] == [True, False, True], 5, "relay pulse")
    event = events.wait_for(AccessEvent)
    assert (event.worker_id, event.decision, event.direction) == (worker_id, "granted", "in")

    # The event went through the real broker at QoS 1 on its documented topic.
    message = probe.wait_for(lambda m: m.topic.endswith("/event/access"))
    assert message.topic == f"yz/v1/st/cs-0001/gw/{gateway.settings.gateway_id}/event/access"
    assert message.qos == 1
    assert json.loads(message.payload)["event_id"] == event.event_id

    # The central stored it and counts the worker in; the API shows both.
    assert central.service.ingest.wait_idle(10)
    stored = wait_until(lambda: central.service.store.event_payload(event.event_id), 5, "row")
    assert stored["seq"] == event.seq
    entries = central.http.get("/api/entries").json()
    assert entries[0]["event_id"] == event.event_id
    stations = {s["id"]: s for s in central.http.get("/api/stations").json()}
    assert stations["cs-0001"]["occupancy"] == 1
    assert stations["cs-0001"]["online"] is True


def test_an_unknown_code_is_denied_and_the_door_stays_locked(
    central: RunningCentral,
    gateway: Gateway,
    mock_pins: MockFactory,
    scanners: tuple[VirtualScanner, VirtualScanner],
) -> None:
    entry, _ = scanners
    relay = mock_pins.pin(LOCK_PIN)
    relay.clear_states()
    events = Events()
    gateway.add_listener(events)

    entry.scan("NOT-A-WORKER")

    event = events.wait_for(AccessEvent)
    assert (event.decision, event.reason) == ("denied", "malformed")
    assert [s.state for s in relay.states] == [True], "the lock must stay energised"
    wait_until(lambda: central.service.store.event_payload(event.event_id), 10, "denied row")
    assert central.http.get("/api/stations").json()[0]["occupancy"] == 0


def test_garbage_on_the_serial_line_is_skipped_and_the_next_scan_works(
    central: RunningCentral,
    gateway: Gateway,
    scanners: tuple[VirtualScanner, VirtualScanner],
) -> None:
    entry, exit_ = scanners
    _, token = worker_token(central)
    events = Events()
    gateway.add_listener(events)

    entry.send_raw(b"\x00\xff\x13garbage\x07\r\n\x1b[2J\r" + b"\xaa" * 2000 + b"\r")
    entry.scan(token)
    events.wait_for(AccessEvent)
    exit_.scan(token)

    events.wait_for(AccessEvent, lambda e: e.direction == Direction.OUT)
    # The entry line is read in order: an access event made from the garbage would have
    # come before the scan's, so every access event there will be is here by now.
    access = [(e.direction, e.decision) for e in events.of(AccessEvent)]
    assert access == [(Direction.IN, "granted"), (Direction.OUT, "granted")], (
        "garbage must not turn into access events"
    )
    decoder = gateway.devices.serial[0].decoder
    assert isinstance(decoder, ScannerStreamDecoder)
    assert decoder.garbage_bytes + decoder.lines.garbage_bytes > 2000
    wait_until(lambda: len(central.http.get("/api/entries").json()) == 2, 10, "both entries")
    assert central.http.get("/api/stations").json()[0]["occupancy"] == 0
