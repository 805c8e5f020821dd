"""The central tells each gateway, retained on its `stored` topic, how far its events are
stored: after the batch commits, never past a hole, and a few times per burst rather than
once per event."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.payloads import AccessEvent, utc_now
from contract.topics import event_topic, gateway_topic
from dashboard.ingest.stored_marks import StoredMarks
from servicekit.mqtt_link import Message
from tests.central.conftest import STATIONS, central_settings
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central

STATION, GATEWAY = "cs-0001", "gw-9"
STORED = gateway_topic(STATION, GATEWAY, "stored")


@pytest.fixture()
def central(tmp_path: Path, own_broker: MosquittoBroker) -> Iterator[RunningCentral]:
    settings = central_settings(tmp_path, own_broker.url, f"sqlite:///{tmp_path / 'c.db'}")
    yield from run_central(settings, stations=STATIONS)


@pytest.fixture()
def gateway(own_broker: MosquittoBroker) -> Iterator[MqttProbe]:
    """A client in the gateway's place: publishes its events, reads its marks."""
    probe = MqttProbe(own_broker.url, [STORED])
    yield probe
    probe.close()


def access(seq: int) -> bytes:
    return AccessEvent(
        station_id=STATION,
        gateway_id=GATEWAY,
        seq=seq,
        at=utc_now(),
        door_id="main",
        direction="in",
        credential="qr",
        decision="denied",
        reason="unknown_credential",
    ).to_json()


def send(gateway: MqttProbe, seqs: range | list[int]) -> None:
    for seq in seqs:
        gateway.publish(event_topic(STATION, GATEWAY, "access"), access(seq))


def seq_of(message: Message) -> int:
    document = json.loads(message.payload)
    assert document["schema"] == "stored/1" and document["gateway_id"] == GATEWAY
    assert message.topic == STORED
    return int(document["seq"])


def marks_until(gateway: MqttProbe, last: int) -> list[int]:
    """Every mark the gateway hears until one says `last`."""
    marks: list[int] = []
    while not marks or marks[-1] != last:
        marks.append(seq_of(gateway.wait_for(lambda m: True, timeout=30)))
    return marks


def test_a_burst_is_marked_a_few_times_in_order(
    central: RunningCentral, gateway: MqttProbe, own_broker: MosquittoBroker
) -> None:
    send(gateway, range(1, 1001))
    marks = marks_until(gateway, 1000)
    assert marks == sorted(marks), "a mark went backwards"
    assert len(marks) < 100, f"{len(marks)} marks for a burst of 1,000 events"
    # Retained: a gateway that (re)subscribes is told at once.
    late = MqttProbe(own_broker.url, [STORED])
    try:
        assert seq_of(late.wait_for(lambda m: m.retain)) == 1000
    finally:
        late.close()


def test_the_mark_stops_below_a_hole_until_it_is_filled(
    central: RunningCentral, gateway: MqttProbe
) -> None:
    send(gateway, range(1, 11))
    marks_until(gateway, 10)
    send(gateway, range(12, 21))
    assert central.service.ingest.wait_idle(10)
    # The batch that stored 12..20 asks for the mark again; 11 is still missing.
    assert seq_of(gateway.wait_for(lambda m: True)) == 10
    send(gateway, [11])
    assert marks_until(gateway, 20)[-1] == 20


def test_marks_noted_while_one_goes_out_leave_as_one_with_the_latest_value() -> None:
    sent: list[tuple[str, int]] = []
    first_out = threading.Event()
    release = threading.Event()

    def publish(topic: str, payload: bytes) -> None:
        sent.append((topic, json.loads(payload)["seq"]))
        first_out.set()
        assert release.wait(10)

    marks = StoredMarks(publish, interval_s=0)
    marks.start()
    try:
        marks.note({(STATION, GATEWAY): 1})
        assert first_out.wait(10)
        for seq in range(2, 500):
            marks.note({(STATION, GATEWAY): seq, (STATION, "gw-8"): seq})
        release.set()
    finally:
        marks.stop()
    assert sorted(sent) == sorted(
        [(STORED, 1), (STORED, 499), (gateway_topic(STATION, "gw-8", "stored"), 499)]
    )
