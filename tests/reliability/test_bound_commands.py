"""A signed unlock opens the one door it was made for, once.

A maintainer who copies the dashboard's signed unlock for one station's door onto another
station's command topic gets a refusal saying why, and that door stays locked; sent again
to its own gateway while still fresh, after a flood of other commands or a restart, it is
refused as replayed. Real parts throughout: the central signs the unlock with its operator
key and publishes it through a private Mosquitto; the gateways run on mock pins.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from dashboard.core.config import (
    CentralSettings,
    DatabaseSettings,
    HttpSettings,
)
from dashboard.core.stations import StationInput
from gateway.config import DoorSettings, GatewaySettings, MaintenanceSettings
from gateway.service import Gateway
from servicekit.mqtt_link import Message
from servicekit.settings import BrokerSettings
from tests.reliability.site import RELAY_PIN, one_door_board
from tests.support.mosquitto import MosquittoBroker, free_port
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central
from tests.support.signing import OPERATOR, command
from tests.support.waiting import wait_until

STATIONS = ("cs-0001", "cs-0002")


@dataclass
class Site:
    """A gateway `gw-1` with door `main` at each station, and the central that commands them."""

    central: RunningCentral
    broker: MosquittoBroker
    pins: dict[str, MockFactory]

    def relay_states(self, station: str) -> list[bool]:
        """Every state the station's lock relay took since the last `clear` (True: secured)."""
        return [bool(s.state) for s in self.pins[station].pin(RELAY_PIN).states]

    def clear(self, station: str) -> None:
        """Forget the relay's history, keeping its present state."""
        self.pins[station].pin(RELAY_PIN).clear_states()


@contextmanager
def running_gateway(
    station: str,
    broker_url: str,
    state_dir: Path,
    operators: dict[str, str],
    pins: MockFactory,
    max_command_ttl_s: float = 60,
) -> Iterator[Gateway]:
    """Gateway `gw-1` of `station`, trusting `operators`, connected; stopped afterwards."""
    settings = GatewaySettings(
        station_id=station,
        gateway_id="gw-1",
        broker=BrokerSettings(url=broker_url),
        doors={"main": DoorSettings(unlock_s=0.1)},
        state_dir=state_dir,
        maintenance=MaintenanceSettings(operators=operators, max_command_ttl_s=max_command_ttl_s),
    )
    gateway = Gateway(settings, one_door_board(), pin_factory=pins)
    gateway.start()
    try:
        assert gateway.link.wait_connected(10)
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture()
def site(own_broker: MosquittoBroker, tmp_path: Path) -> Iterator[Site]:
    settings = CentralSettings(
        broker=BrokerSettings(url=own_broker.url),
        http=HttpSettings(host="127.0.0.1", port=free_port()),
        database=DatabaseSettings(path=tmp_path / "central.db"),
    )
    registry = [
        StationInput(
            id=station,
            name=station,
            doors=[{"id": "main", "gateway_id": "gw-1"}],
            gateways=["gw-1"],
        )
        for station in STATIONS
    ]
    for central in run_central(settings, stations=registry):
        key = central.service.operator_key
        pins = {station: MockFactory() for station in STATIONS}
        try:
            with (
                running_gateway(
                    STATIONS[0],
                    own_broker.url,
                    tmp_path / "gw-a",
                    {key.name: key.public_key},
                    pins[STATIONS[0]],
                ),
                running_gateway(
                    STATIONS[1],
                    own_broker.url,
                    tmp_path / "gw-b",
                    {key.name: key.public_key},
                    pins[STATIONS[1]],
                ),
            ):
                yield Site(central, own_broker, pins)
        finally:
            for factory in pins.values():
                factory.reset()


def reply_from(station: str, request_id: str) -> Callable[[Message], bool]:
    def matches(message: Message) -> bool:
        return (
            message.topic == f"yz/v1/st/{station}/gw/gw-1/reply"
            and json.loads(message.payload)["request_id"] == request_id
        )

    return matches


def test_the_dashboards_unlock_copied_to_another_station_is_refused(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dashboard.ingest.pipeline")
    probe = MqttProbe(site.broker.url, ["yz/v1/st/+/gw/gw-1/command", "yz/v1/st/+/gw/gw-1/reply"])
    try:
        for station in STATIONS:
            site.clear(station)
        sent = site.central.http.post("/api/stations/cs-0001/doors/main/unlock")
        assert sent.status_code == 202, sent.text
        request_id = sent.json()["request_id"]
        original = probe.wait_for(lambda m: m.topic.endswith("/command")).payload
        opened = json.loads(probe.wait_for(reply_from("cs-0001", request_id)).payload)
        assert opened["status"] == "ok"
        wait_until(lambda: site.relay_states("cs-0001")[:2] == [True, False], 5, "released")

        # A maintainer copies it, signature and all, onto the other station's gateway.
        probe.publish("yz/v1/st/cs-0002/gw/gw-1/command", original)
        refused = json.loads(probe.wait_for(reply_from("cs-0002", request_id)).payload)
        assert refused["status"] == "wrong_target", refused
        assert "cs-0001" in refused["message"] and "not carried out" in refused["message"]
        assert site.relay_states("cs-0002") == [True], "the other station's door moved"
        # The central heard both answers: its own gateway's settles the command, the
        # other gateway's refusal of the copy answers nothing it sent there, and is logged.
        ignored = f"reply from cs-0002/gw-1 to request {request_id!r} ignored"
        wait_until(lambda: ignored in caplog.text, 5, "the copy's refusal logged")
        outcome = site.central.http.get(f"/api/commands/{request_id}").json()
        assert (outcome["outcome"], outcome["reply_status"]) == ("done", "ok"), outcome
    finally:
        probe.close()


def test_a_replayed_unlock_is_refused_after_a_flood_and_after_a_restart(
    own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    station, state_dir = STATIONS[0], tmp_path / "gw"
    operators = {OPERATOR.name: OPERATOR.public_key}
    # Valid for five minutes, as long as any gateway lets a command live.
    unlock = command("unlock", "unlock-1", to=(station, "gw-1"), ttl_s=300, door="main")
    topic = f"yz/v1/st/{station}/gw/gw-1/command"
    relay = mock_pins.pin(RELAY_PIN)
    probe = MqttProbe(own_broker.url, [f"yz/v1/st/{station}/gw/gw-1/reply"])

    def answer(request_id: str) -> str:
        status: str = json.loads(probe.wait_for(reply_from(station, request_id)).payload)["status"]
        return status

    try:
        with running_gateway(station, own_broker.url, state_dir, operators, mock_pins, 300):
            relay.clear_states()
            probe.publish(topic, unlock)
            assert answer("unlock-1") == "ok"
            wait_until(lambda: [s.state for s in relay.states] == [True, False, True], 5, "pulse")

            # More commands than any fixed list of recent ids would hold.
            for n in range(2000):
                probe.publish(topic, command("ping", f"ping-{n}", to=(station, "gw-1"), key=None))
            assert answer("ping-1999") == "ok"
            relay.clear_states()
            probe.publish(topic, unlock)
            assert answer("unlock-1") == "replayed"
            assert len(relay.states) == 1, "the relay moved"

        with running_gateway(station, own_broker.url, state_dir, operators, mock_pins, 300):
            relay.clear_states()
            probe.publish(topic, unlock)
            assert answer("unlock-1") == "replayed"
            assert len(relay.states) == 1, "the relay moved"
            # The same path with a new request id does open: the refusals above can fail.
            probe.publish(topic, command("unlock", "unlock-2", to=(station, "gw-1"), door="main"))
            assert answer("unlock-2") == "ok"
            wait_until(lambda: len(relay.states) == 3, 5, "pulse")
    finally:
        probe.close()
