"""A remote unlock that is too old, or seen before, never pulses the relay."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from gateway.config import DoorSettings, GatewaySettings
from gateway.service import Gateway
from servicekit.mqtt_link import Message
from servicekit.settings import BrokerSettings
from tests.reliability.site import RELAY_PIN, one_door_board
from tests.support.probe import MqttProbe
from tests.support.signing import command, maintenance_settings
from tests.support.waiting import wait_until

LOCK_PIN = RELAY_PIN
COMMAND = "yz/v1/st/cs-0001/gw/gw-5/command"
REPLY = "yz/v1/st/cs-0001/gw/gw-5/reply"


@pytest.fixture()
def gateway(
    broker_settings: BrokerSettings, mock_pins: MockFactory, tmp_path: Path
) -> Iterator[Gateway]:
    settings = GatewaySettings(
        station_id="cs-0001",
        gateway_id="gw-5",
        broker=broker_settings,
        doors={"main": DoorSettings(unlock_s=0.1)},
        state_dir=tmp_path / "state",
        maintenance=maintenance_settings(),
    )
    service = Gateway(settings, one_door_board(), pin_factory=mock_pins)
    service.start()
    assert service.link.wait_connected(10)
    yield service
    service.stop()
    # Clear its retained availability: later tests on this broker count the stations.
    cleaner = MqttProbe(broker_settings.url)
    cleaner.publish("yz/v1/st/cs-0001/gw/gw-5/availability", b"", retain=True)
    cleaner.close()


def unlock(request_id: str, age_s: float, ttl_s: float = 30) -> bytes:
    return command(
        "unlock", request_id, to=("cs-0001", "gw-5"), age_s=age_s, ttl_s=ttl_s, door="main"
    )


def reply_to(request_id: str) -> Callable[[Message], bool]:
    def matches(message: Message) -> bool:
        return message.topic == REPLY and json.loads(message.payload)["request_id"] == request_id

    return matches


def test_an_expired_unlock_does_not_pulse_the_relay(
    gateway: Gateway, mock_pins: MockFactory, mosquitto: object
) -> None:
    relay = mock_pins.pin(LOCK_PIN)
    relay.clear_states()
    probe = MqttProbe(gateway.settings.broker.url, [f"{REPLY}/#", REPLY])
    try:
        # Queued somewhere for 45 s with a 30 s time-to-live: it must not open the door.
        probe.publish(COMMAND, unlock("late-1", age_s=45))
        late = probe.wait_for(reply_to("late-1"))
        document = json.loads(late.payload)
        assert document["status"] == "expired"
        assert "not carried out" in document["message"]
        assert len(relay.states) == 1, "the relay moved"

        # The same path with a fresh command does pulse: the check above can fail.
        probe.publish(COMMAND, unlock("fresh-1", age_s=1))
        fresh = probe.wait_for(reply_to("fresh-1"))
        assert json.loads(fresh.payload)["status"] == "ok"
        # Fail-safe lock: the relay drops to release the door, then holds it again.
        wait_until(lambda: [s.state for s in relay.states] == [True, False, True], 5, "pulse")

        # Sent again (a broker redelivery, a replay): refused, the relay stays still.
        relay.clear_states()
        probe.publish(COMMAND, unlock("fresh-1", age_s=1))
        again = probe.wait_for(reply_to("fresh-1"))
        assert json.loads(again.payload)["status"] == "replayed"
        assert len(relay.states) == 1, "the relay moved"
    finally:
        probe.close()
