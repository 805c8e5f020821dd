"""One worker's scan travels the whole way: pty → gateway → relay → broker → SQLite → REST."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from contract.payloads import AccessEvent, Direction, EventPayload
from gateway.config import GatewaySettings, LockSettings, ReaderSettings
from gateway.service import Gateway
from hardware.sim.scanner import VirtualScanner
from tests.conftest import RunningCentral
from tests.support.probe import MqttProbe
from tests.support.waiting import wait_until
from yizhan.settings import BrokerSettings

LOCK_PIN = 17
CODE = "YZ-TEST-0001"


@pytest.fixture()
def scanners() -> Iterator[tuple[VirtualScanner, VirtualScanner]]:
    entry, exit_ = VirtualScanner(), VirtualScanner()
    yield entry, exit_
    entry.close()
    exit_.close()


@pytest.fixture()
def gateway(
    broker_settings: BrokerSettings,
    mock_pins: MockFactory,
    scanners: tuple[VirtualScanner, VirtualScanner],
) -> Iterator[Gateway]:
    entry, exit_ = scanners
    settings = GatewaySettings(
        station_id="cs-0001",
        gateway_id="gw-1",
        broker=broker_settings,
        readers=[
            ReaderSettings(port=entry.port, direction=Direction.IN),
            ReaderSettings(port=exit_.port, direction=Direction.OUT),
        ],
        locks=[LockSettings(pin=LOCK_PIN, unlock_s=0.2)],
        allowlist={CODE: "w-0001"},
    )
    service = Gateway(settings, pin_factory=mock_pins)
    service.start()
    assert service.link.wait_connected(10)
    for reader in service.readers:
        assert reader.wait_open(5)
    yield service
    service.stop()


class EventCatcher:
    """Collects a gateway's events and lets a test wait for the n-th one."""

    def __init__(self) -> None:
        self.events: list[EventPayload] = []
        self._changed = threading.Condition()

    def __call__(self, event: EventPayload) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_count(self, count: int, timeout: float = 10) -> list[EventPayload]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.events) >= count, timeout)
            return list(self.events)


def test_a_scan_travels_from_the_serial_port_to_the_api(
    central: RunningCentral,
    gateway: Gateway,
    mock_pins: MockFactory,
    scanners: tuple[VirtualScanner, VirtualScanner],
    probe: MqttProbe,
) -> None:
    entry, _ = scanners
    relay = mock_pins.pin(LOCK_PIN)
    relay.clear_states()
    catcher = EventCatcher()
    gateway.add_listener(catcher)

    entry.scan(CODE)

    # The relay goes high, then low again when the unlock pulse ends.
    wait_until(lambda: [s.state for s in relay.states] == [False, True, False], 5, "relay pulse")
    event = catcher.wait_count(1)[0]
    assert isinstance(event, AccessEvent)
    assert (event.worker_id, event.decision, event.direction) == ("w-0001", "granted", "in")

    # The event went through the real broker at QoS 1 on its documented topic.
    message = probe.wait_for(lambda m: m.topic.endswith("/event/access"))
    assert message.topic == "yz/v1/st/cs-0001/gw/gw-1/event/access"
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
    catcher = EventCatcher()
    gateway.add_listener(catcher)

    entry.scan("NOT-A-WORKER")

    event = catcher.wait_count(1)[0]
    assert isinstance(event, AccessEvent)
    assert (event.decision, event.reason) == ("denied", "unknown_credential")
    assert [s.state for s in relay.states] == [False]
    wait_until(lambda: central.service.store.event_payload(event.event_id), 10, "denied row")
    assert central.http.get("/api/stations").json()[0]["occupancy"] == 0


def test_garbage_on_the_serial_line_is_skipped_and_the_next_scan_works(
    central: RunningCentral,
    gateway: Gateway,
    scanners: tuple[VirtualScanner, VirtualScanner],
) -> None:
    entry, exit_ = scanners
    catcher = EventCatcher()
    gateway.add_listener(catcher)

    entry.send_raw(b"\x00\xff\x13garbage\x07\r\n\x1b[2J\r" + b"\xaa" * 2000 + b"\r")
    entry.scan(CODE)
    catcher.wait_count(1)
    exit_.scan(CODE)

    events = catcher.wait_count(2)
    assert [getattr(e, "direction", None) for e in events] == [Direction.IN, Direction.OUT]
    assert len(events) == 2, "garbage must not turn into access events"
    decoder = gateway.readers[0].decoder
    assert decoder.garbage_bytes > 2000
    wait_until(lambda: central.service.store.event_count() == 2, 10, "both events stored")
    assert central.http.get("/api/stations").json()[0]["occupancy"] == 0
