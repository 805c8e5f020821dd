"""A gateway on simulated hardware, commanded by a real MQTT client through the private
Mosquitto: what every maintenance test drives."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from contract.payloads import AccessEvent
from gateway.config import DoorSettings, GatewaySettings, HomeAssistantSettings
from gateway.service import Gateway
from hardware.sim.radar import VirtualRadar
from hardware.sim.scanner import VirtualScanner
from servicekit.mqtt_link import Message
from servicekit.settings import BrokerSettings
from tests.support.events import Events
from tests.support.probe import MqttProbe
from tests.support.signing import command, maintenance_settings
from tests.support.tokens import TokenMint
from yizhan.simulated_station import DOOR, PINS, simulated_board

STATION, GATEWAY = "mt-0001", "gw-1"
BASE = f"yz/v1/st/{STATION}/gw/{GATEWAY}"


@dataclass
class Rig:
    """The gateway, its devices, a client that sees its replies, and its events."""

    gateway: Gateway
    pins: MockFactory
    probe: MqttProbe
    events: Events
    entry: VirtualScanner
    exit: VirtualScanner
    radar: VirtualRadar
    mint: TokenMint

    @property
    def relay(self) -> Any:
        """The lock relay's mock pin (fail-safe: high = secured)."""
        return self.pins.pin(PINS["relay"])

    def ask(self, name: str, request_id: str, **kwargs: Any) -> dict[str, Any]:
        """Publish a command as a maintainer would and return the reply's JSON."""
        self.probe.publish(
            f"{BASE}/command", command(name, request_id, to=(STATION, GATEWAY), **kwargs)
        )
        return self.reply(request_id)

    def reply(self, request_id: str) -> dict[str, Any]:
        """The reply to `request_id`."""

        def matches(message: Message) -> bool:
            return (
                message.topic.startswith(f"{BASE}/reply")
                and json.loads(message.payload)["request_id"] == request_id
            )

        document: dict[str, Any] = json.loads(self.probe.wait_for(matches).payload)
        return document

    def latest(
        self, topic: str, where: Callable[[dict[str, Any]], bool] = lambda d: True
    ) -> dict[str, Any]:
        """The retained (or next live) message on `topic` that satisfies `where`, as JSON;
        a fresh subscriber, so messages the replies were waited past are not missed."""
        reader = MqttProbe(self.probe.link._broker.url, [topic])
        try:
            message = reader.wait_for(lambda m: bool(m.payload) and where(json.loads(m.payload)))
        finally:
            reader.close()
        document: dict[str, Any] = json.loads(message.payload)
        return document

    def scan(self) -> AccessEvent:
        """Show a valid token at the entry and return the gateway's decision."""
        before = len(self.events.of(AccessEvent))
        self.entry.scan(self.mint.token())
        return self.events.wait_for(
            AccessEvent, lambda e: self.events.of(AccessEvent).index(e) >= before
        )


def start_rig(
    broker: BrokerSettings,
    pins: MockFactory,
    state_dir: Path,
    *,
    health_interval_s: float = 30.0,
    home_assistant: bool = False,
    unlock_s: float = 30.0,
) -> Iterator[Rig]:
    """Start the rig; yields once the gateway is connected and its ports are open."""
    entry, exit_, radar = VirtualScanner(), VirtualScanner(), VirtualRadar(period_s=0.1)
    settings = GatewaySettings(
        station_id=STATION,
        gateway_id=GATEWAY,
        broker=broker,
        doors={DOOR: DoorSettings(unlock_s=unlock_s)},
        state_dir=state_dir,
        maintenance=maintenance_settings(health_interval_s=health_interval_s),
        home_assistant=HomeAssistantSettings(enabled=home_assistant),
    )
    gateway = Gateway(settings, simulated_board(entry.port, exit_.port, radar.port), pins)
    mint = TokenMint()
    assert gateway.access.trust_store.apply(mint.keys())
    events = Events()
    gateway.add_listener(events)
    probe = MqttProbe(broker.url, [f"{BASE}/#", "homeassistant/#"])
    gateway.start()
    try:
        assert gateway.link.wait_connected(10)
        assert gateway.devices.wait_serial_open(5)
        yield Rig(gateway, pins, probe, events, entry, exit_, radar, mint)
    finally:
        gateway.stop()
        for device in (entry, exit_, radar):
            device.close()
        # Retained state of this gateway must not leak into later tests on the broker.
        for leaf in ("availability", "health", "config/reported", "config/desired"):
            probe.publish(f"{BASE}/{leaf}", b"", retain=True)
        for topic, _ in gateway.discovery.messages(gateway._board):
            probe.publish(topic, b"", retain=True)
        probe.close()
