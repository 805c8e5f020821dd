"""Replicas that share the gateways' messages through an MQTT shared subscription.

Mosquitto deals the messages of `$share/<group>/...` round robin: two events of one
gateway reach different replicas, and either may commit first. The same 20,000 events
from 200 gateways go once to one central and once to three replicas sharing them, each
on a broker and a PostgreSQL database of its own; both databases must end the same
(events, sequences, counts, learned beam doors, door states, alerts) and equal to the
generated truth, and the count each station's retained message says too.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.codec import Decoded, decode
from contract.payloads import (
    AccessEvent,
    AlarmEvent,
    CrossingEvent,
    DoorEvent,
    EventPayload,
    StationOccupancy,
    utc_now,
)
from contract.topics import event_kind_of, event_topic
from dashboard.core.config import ReplicaSettings
from dashboard.core.occupancy import StationCounts
from dashboard.core.stations import StationInput
from dashboard.storage.db import Database
from dashboard.storage.migrations import open_database
from tests.central.conftest import central_settings
from tests.support.mosquitto import MosquittoBroker, free_port
from tests.support.postgres import PostgresServer
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central
from tests.support.waiting import wait_until

GATEWAYS = 200
PER_GATEWAY = 100
CAPACITY = 3
"""Small, so that `station_full` opens and resolves as the counts move."""

STATIONS = [
    StationInput(id=f"sh-{n:04d}", name=f"驿站 {n}", lat=28.2, lon=112.9, capacity=CAPACITY)
    for n in range(GATEWAYS)
]


def day(rng: random.Random, station_id: str) -> list[EventPayload]:
    """One gateway's events in its order: grants in and out (some exits when nobody is
    counted, which stop at zero), refusals, beams at a second door, exit buttons, the
    door, and a forced-door alarm raised and cleared."""
    events: list[EventPayload] = []
    alarm = False
    at = utc_now()
    for seq in range(1, PER_GATEWAY + 1):
        head: dict[str, Any] = dict(station_id=station_id, gateway_id="gw-1", seq=seq, at=at)
        roll = rng.random()
        if roll < 0.35:
            direction = "out" if rng.random() < 0.45 else "in"
            events.append(AccessEvent.model_validate({**head, "door_id": "main",
                "direction": direction, "credential": "qr", "decision": "granted",
                "reason": "granted", "worker_id": f"w{rng.randrange(1000, 9999)}"}))  # fmt: skip
        elif roll < 0.45:
            events.append(AccessEvent.model_validate({**head, "door_id": "main",
                "direction": "in", "credential": "qr", "decision": "denied",
                "reason": "expired"}))  # fmt: skip
        elif roll < 0.65:
            direction = "out" if rng.random() < 0.5 else "in"
            events.append(CrossingEvent.model_validate({**head, "door_id": "side",
                "direction": direction, "source": "beam"}))  # fmt: skip
        elif roll < 0.7:
            events.append(CrossingEvent.model_validate({**head, "door_id": "main",
                "direction": "out", "source": "rex"}))  # fmt: skip
        elif roll < 0.85:
            state = rng.choice(["opened", "closed", "locked", "unlocked"])
            events.append(DoorEvent.model_validate({**head, "door_id": "main", "state": state}))
        else:
            alarm = not alarm
            events.append(AlarmEvent.model_validate({**head, "door_id": "main",
                "alarm": "forced", "active": alarm}))  # fmt: skip
    return events


@pytest.fixture(scope="module")
def generated() -> list[list[EventPayload]]:
    rng = random.Random(20261202)
    return [day(rng, station.id) for station in STATIONS]


def truth(generated: list[list[EventPayload]]) -> dict[str, int]:
    """Each station's count with its gateway's events applied in order."""
    counts: dict[str, int] = {}
    for events in generated:
        state = StationCounts()
        for event in events:
            state.apply(event)
        counts[events[0].station_id] = state.total
    return counts


def publish_all(broker_url: str, generated: list[list[EventPayload]]) -> None:
    """Every event at QoS 1, each gateway's in its order, the gateways interleaved; returns
    once the broker has acknowledged them all."""
    port = int(broker_url.rsplit(":", 1)[1])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-gateways")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        sent = []
        for seq in range(PER_GATEWAY):
            for events in generated:
                event = events[seq]
                topic = event_topic(event.station_id, event.gateway_id, event_kind_of(type(event)))
                sent.append(client.publish(topic, event.to_json(), qos=1))
        for info in sent:
            info.wait_for_publish(30)
            assert info.is_published()
    finally:
        client.loop_stop()
        client.disconnect()


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    database = Database(url)
    try:
        with database.connection() as db:
            return sorted(tuple(row) for row in db.execute(sql).fetchall())
    finally:
        database.close()


STATE = {
    "events": "SELECT event_id, seq FROM events",
    "sequences": "SELECT station_id, gateway_id, high FROM seq_high",
    "missing": "SELECT station_id, gateway_id, first, last FROM seq_missing",
    "counts": "SELECT id, occupancy FROM stations",
    "zones": "SELECT station_id, zone, occupancy FROM station_zones",
    "beam doors": "SELECT station_id, door_id, beams FROM doors",
    "door states": "SELECT station_id, door_id, state, at FROM door_states",
    "alerts": "SELECT kind, station_id, gateway_id, subject, status, repeats, detail, "
    "resolved_at IS NULL FROM alerts WHERE kind <> 'station_full'",
    # A station's fullness is judged on each batch's resulting count, so how often it
    # opened during a burst depends on how the events fell into batches, even with one
    # central; which stations end full does not.
    "full": "SELECT station_id FROM alerts WHERE kind = 'station_full' AND resolved_at IS NULL",
}
"""What must be the same after one central and after three sharing replicas."""


def stored_state(url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {name: rows(url, sql) for name, sql in STATE.items()}


@contextmanager
def broker(path: Path) -> Iterator[MosquittoBroker]:
    path.mkdir()
    started = MosquittoBroker(path, free_port())
    started.start()
    try:
        yield started
    finally:
        started.stop()


def centrals(
    tmp_path: Path, broker_url: str, url: str, count: int, **overrides: object
) -> Iterator[list[RunningCentral]]:
    with ExitStack() as stack:
        running = [
            stack.enter_context(
                contextmanager(run_central)(
                    central_settings(tmp_path / f"r{n}", broker_url, url, **overrides),
                    stations=STATIONS,
                )
            )
            for n in range(count)
        ]
        yield running


def stored_everything(url: str) -> Callable[[], bool]:
    def done() -> bool:
        return rows(url, "SELECT count(*) FROM events") == [(GATEWAYS * PER_GATEWAY,)] and rows(
            url, "SELECT count(*) FROM seq_waiting"
        ) == [(0,)]

    return done


@contextmanager
def retained_counts(broker_url: str) -> Iterator[Callable[[], dict[str, int]]]:
    """Each station's count as its retained occupancy says, read as often as asked."""
    latest: dict[str, int] = {}
    probe = MqttProbe(broker_url, ["yz/v1/st/+/occupancy"])

    def read() -> dict[str, int]:
        while not probe.messages.empty():
            message = probe.messages.get()
            decoded = decode(message.topic, message.payload)
            assert isinstance(decoded, Decoded), decoded
            assert isinstance(decoded.payload, StationOccupancy), decoded
            latest[decoded.payload.station_id] = decoded.payload.occupancy
        return latest

    try:
        yield read
    finally:
        probe.close()


def test_three_sharing_replicas_store_what_one_central_stores(
    tmp_path: Path, postgres: PostgresServer, generated: list[list[EventPayload]]
) -> None:
    expected = truth(generated)
    assert 0 < sum(expected.values()) < GATEWAYS * CAPACITY * 2
    one_url, shared_url = postgres.create_database(), postgres.create_database()
    for url in (one_url, shared_url):
        open_database(url).close()
    try:
        with (
            broker(tmp_path / "one") as one_broker,
            contextmanager(centrals)(tmp_path / "one", one_broker.url, one_url, 1),
        ):
            publish_all(one_broker.url, generated)
            wait_until(stored_everything(one_url), 120, "one central to store every event")
        shared = ReplicaSettings(share_group="centrals")
        with (
            broker(tmp_path / "shared") as shared_broker,
            contextmanager(centrals)(
                tmp_path / "shared", shared_broker.url, shared_url, 3, replicas=shared
            ) as replicas,
        ):
            publish_all(shared_broker.url, generated)
            wait_until(stored_everything(shared_url), 120, "the replicas to store every event")
            # Each replica stored a share: the broker dealt the events between them.
            stored = [r.service.metrics.accepted for r in replicas]
            assert all(0 < n < GATEWAYS * PER_GATEWAY for n in stored), stored
            assert sum(stored) == GATEWAYS * PER_GATEWAY, stored
            with retained_counts(shared_broker.url) as retained:
                wait_until(
                    lambda: retained() == expected, 30, "each retained count to be the count"
                )
        one, many = stored_state(one_url), stored_state(shared_url)
        for name in STATE:
            assert many[name] == one[name], name
        assert dict(one["counts"]) == expected
        assert one["missing"] == []
        assert len(one["events"]) == GATEWAYS * PER_GATEWAY
    finally:
        postgres.drop_database(one_url)
        postgres.drop_database(shared_url)
