"""A gateway keeps each event until the central's `stored/1` mark says it is stored, and
publishes again, unchanged, what the central lacks.

The rules of when to publish again are pure and tested as such; the gateway itself runs
on simulated hardware against a private Mosquitto, with a test client in the central's
place that publishes marks and availability exactly as a central does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from contract.payloads import CentralStatus, StoredMark, utc_now
from contract.topics import central_topic, gateway_topic
from gateway.config import GatewaySettings, OutboxSettings
from gateway.resend import ResendPolicy
from gateway.service import Gateway
from servicekit.mqtt_link import Message
from servicekit.settings import BrokerSettings
from tests.reliability.site import one_door_board
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.waiting import wait_until

STATION, GATEWAY = "cs-0001", "gw-1"
EVENTS = gateway_topic(STATION, GATEWAY, "event") + "/+"
STORED = gateway_topic(STATION, GATEWAY, "stored")


def test_a_central_coming_online_asks_for_a_pass_at_once() -> None:
    policy = ResendPolicy(wait_s=30, max_wait_s=600, now=0)
    assert not policy.central("c-1", online=True, live=False, now=1), "a retained copy"
    assert policy.central_online
    assert policy.central("c-1", online=True, live=True, now=2), "it has just come online"
    assert not policy.central("c-1", online=False, live=True, now=3)
    assert not policy.central_online


def test_a_stalled_mark_asks_for_passes_ever_further_apart() -> None:
    policy = ResendPolicy(wait_s=30, max_wait_s=100, now=0)
    assert not policy.due(now=500, unconfirmed=5), "no central online: nobody to ask"
    policy.central("c-1", online=True, live=False, now=500)
    assert policy.due(now=500, unconfirmed=5), "no progress since 0"
    assert not policy.due(now=559, unconfirmed=5), "the wait doubled"
    assert policy.due(now=560, unconfirmed=5)
    assert not policy.due(now=659, unconfirmed=5), "doubled to 120, held at 100"
    assert policy.due(now=660, unconfirmed=5)
    assert not policy.due(now=759, unconfirmed=5)
    assert policy.due(now=760, unconfirmed=5)
    policy.progress(now=800)
    assert not policy.due(now=829, unconfirmed=5), "progress: the short wait again"
    assert policy.due(now=830, unconfirmed=5)


def test_nothing_waiting_restarts_the_clock() -> None:
    policy = ResendPolicy(wait_s=30, max_wait_s=600, now=0)
    policy.central("c-1", online=True, live=False, now=0)
    assert not policy.due(now=1000, unconfirmed=0)
    # The first event the broker takes after a quiet hour is not overdue at once.
    assert not policy.due(now=1001, unconfirmed=1)
    assert policy.due(now=1030, unconfirmed=1)


@pytest.fixture()
def central_stand_in(own_broker: MosquittoBroker) -> Iterator[MqttProbe]:
    """A client in the central's place: reads the gateway's events, says marks."""
    probe = MqttProbe(own_broker.url, [EVENTS])
    yield probe
    probe.close()


def start_gateway(
    broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path, **outbox: object
) -> Gateway:
    settings = GatewaySettings(
        station_id=STATION,
        gateway_id=GATEWAY,
        broker=BrokerSettings(url=broker.url, reconnect_min_s=0.2, reconnect_max_s=1.0),
        state_dir=tmp_path / "state",
        outbox=OutboxSettings.model_validate({"path": tmp_path / "outbox.db", **outbox}),
    )
    gateway = Gateway(settings, one_door_board(), pin_factory=mock_pins)
    gateway.start()
    assert gateway.link.wait_connected(10)
    return gateway


def seq_and_id(message: Message) -> tuple[int, str]:
    document = json.loads(message.payload)
    return document["seq"], document["event_id"]


def receive(probe: MqttProbe, count: int) -> list[tuple[int, str]]:
    """The next `count` events the broker hands the stand-in, in order."""
    return [seq_and_id(probe.wait_for(lambda m: True)) for _ in range(count)]


def all_sent_and_kept(gateway: Gateway, count: int) -> bool:
    stats = gateway.outbox.stats()
    return stats.next_seq - 1 == count == stats.pending == stats.unconfirmed


def say(probe: MqttProbe, topic: str, payload: bytes, retain: bool) -> None:
    probe.publish(topic, payload, retain=retain)


def mark(seq: int) -> bytes:
    return StoredMark(station_id=STATION, gateway_id=GATEWAY, seq=seq, at=utc_now()).to_json()


def central_online() -> bytes:
    return CentralStatus(central_id="central-1", online=True, at=utc_now()).to_json()


def test_events_stay_until_marked_stored_and_go_again_when_a_central_comes_online(
    own_broker: MosquittoBroker,
    central_stand_in: MqttProbe,
    mock_pins: MockFactory,
    tmp_path: Path,
) -> None:
    # A wait long enough that only the central coming online can start a pass here.
    gateway = start_gateway(own_broker, mock_pins, tmp_path, confirm_wait_s=3600)
    try:
        for n in range(6):
            gateway.presence_changed("radar-1", "rest", n % 2 == 0)
        first = receive(central_stand_in, 6)
        assert [seq for seq, _ in first] == [1, 2, 3, 4, 5, 6]
        # The broker acknowledged every one; the gateway keeps them all the same.
        wait_until(lambda: all_sent_and_kept(gateway, 6), 10, "all sent and all kept")

        say(central_stand_in, STORED, mark(2), retain=True)
        wait_until(lambda: gateway.outbox.stats().pending == 4, 10, "1 and 2 deleted")
        assert gateway.outbox.confirmed_seq == 2

        say(central_stand_in, central_topic("central-1"), central_online(), retain=False)
        # What the central lacks, again, in order, with the same ids and numbers.
        assert receive(central_stand_in, 4) == first[2:]

        say(central_stand_in, STORED, mark(6), retain=True)
        wait_until(lambda: gateway.outbox.stats().pending == 0, 10, "all deleted")
    finally:
        gateway.stop()


def test_a_mark_that_stops_moving_brings_the_rest_again(
    own_broker: MosquittoBroker,
    central_stand_in: MqttProbe,
    mock_pins: MockFactory,
    tmp_path: Path,
) -> None:
    # The central is online (its retained availability), so no pass starts with it.
    say(central_stand_in, central_topic("central-1"), central_online(), retain=True)
    gateway = start_gateway(own_broker, mock_pins, tmp_path, confirm_wait_s=0.5)
    try:
        for n in range(4):
            gateway.presence_changed("radar-1", "rest", n % 2 == 0)
        first = receive(central_stand_in, 4)
        wait_until(lambda: all_sent_and_kept(gateway, 4), 10, "all sent and all kept")
        say(central_stand_in, STORED, mark(1), retain=True)
        # Half a second without progress: 2..4 again, and again a second later.
        assert receive(central_stand_in, 3) == first[1:]
        assert receive(central_stand_in, 3) == first[1:]
        say(central_stand_in, STORED, mark(4), retain=True)
        wait_until(lambda: gateway.outbox.stats().pending == 0, 10, "all deleted")
    finally:
        gateway.stop()


def test_the_gateway_reports_how_far_it_has_numbered(
    own_broker: MosquittoBroker, mock_pins: MockFactory, tmp_path: Path
) -> None:
    health = MqttProbe(own_broker.url, [gateway_topic(STATION, GATEWAY, "health")])
    gateway = start_gateway(own_broker, mock_pins, tmp_path)
    try:
        for n in range(3):
            gateway.presence_changed("radar-1", "rest", n % 2 == 0)
        assert gateway.outbox.flush(5)
        # Each change asks for an early report; one of them has counted all three.
        health.wait_for(lambda m: json.loads(m.payload)["last_seq"] == 3)
    finally:
        gateway.stop()
        health.close()
