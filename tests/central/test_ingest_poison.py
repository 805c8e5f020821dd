"""No message can stop ingest: a running central on SQLite and on PostgreSQL, fed through
the broker, stores everything else when the database refuses one message, keeps a
retained bad message once however often the broker hands it over again, stores sequence
numbers up to the wire's 64-bit limit, and judges no clock by a retained birth.

The wire bounds stop every case the attacks found at decoding, so the database's refusal
is forced here the way a stricter schema would refuse: a constraint (PostgreSQL) or a
trigger (SQLite) the test adds to its own database.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from contract.payloads import INT64_MAX, Availability, utc_now
from contract.topics import event_topic, gateway_topic
from dashboard.core.config import AlertSettings
from dashboard.ingest.writer import REFUSED
from dashboard.storage.migrations import open_database
from servicekit.settings import BrokerSettings
from tests.central.conftest import STATIONS, central_settings
from tests.central.support import Gateway
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central
from tests.support.waiting import wait_until

POISON = "poison"
"""The door id (events) or software version (births) the test's database refuses."""

REFUSALS = {
    "sqlite": [
        "CREATE TRIGGER refuse_poison_entry BEFORE INSERT ON entries "
        f"WHEN NEW.door_id = '{POISON}' BEGIN SELECT RAISE(ABORT, 'refuse_poison'); END",
        "CREATE TRIGGER refuse_poison_birth BEFORE INSERT ON gateways "
        f"WHEN NEW.version = '{POISON}' BEGIN SELECT RAISE(ABORT, 'refuse_poison'); END",
        "CREATE TRIGGER refuse_poison_rebirth BEFORE UPDATE ON gateways "
        f"WHEN NEW.version = '{POISON}' BEGIN SELECT RAISE(ABORT, 'refuse_poison'); END",
    ],
    "postgresql": [
        f"ALTER TABLE entries ADD CONSTRAINT refuse_poison CHECK (door_id <> '{POISON}')",
        f"ALTER TABLE gateways ADD CONSTRAINT refuse_poison_birth CHECK (version <> '{POISON}')",
    ],
}
"""What makes each database refuse a message that passes validation."""


def refuse_poison(database_url: str) -> None:
    """Make the database (migrated first) refuse what names the door or version POISON."""
    database = open_database(database_url)
    with database.connection() as db:
        for statement in REFUSALS[database.dialect]:
            db.raw.execute(statement)
    database.close()


def stored_ids(central: RunningCentral) -> set[str]:
    """Every entry's event id, through the API."""
    rows = central.http.get("/api/entries", params={"limit": 1000}).json()
    return {row["event_id"] for row in rows}


def refused(central: RunningCentral) -> list[dict[str, object]]:
    """The quarantine's messages refused by the database, through the API."""
    rows: list[dict[str, object]] = central.http.get(
        "/api/quarantine", params={"code": REFUSED}
    ).json()
    return rows


@pytest.fixture()
def refusing_central(
    tmp_path: Path, broker_settings: BrokerSettings, database_url: str
) -> Iterator[RunningCentral]:
    """A central on a database that refuses POISON."""
    refuse_poison(database_url)
    yield from run_central(
        central_settings(tmp_path, broker_settings.url, database_url), stations=STATIONS
    )


def test_a_message_the_database_refuses_is_quarantined_and_the_rest_stored(
    refusing_central: RunningCentral, probe: MqttProbe
) -> None:
    central = refusing_central
    gateway = Gateway(probe)
    before = [gateway.access().event_id for _ in range(40)]
    poison = gateway.access(door=POISON)
    after = [gateway.access().event_id for _ in range(40)]

    wait_until(lambda: set(before + after) <= stored_ids(central), 30, "the other events stored")
    assert central.service.ingest.wait_idle(10), "not everything was acknowledged"
    rows = refused(central)
    assert [(r["topic"], json.loads(str(r["sample"]))["event_id"]) for r in rows] == [
        (event_topic("cs-0001", "gw-1", "access"), poison.event_id)
    ]
    assert str(rows[0]["reason"]).startswith("storing it failed: ")
    assert "refuse_poison" in str(rows[0]["reason"]), "the database's own words are kept"
    assert poison.event_id not in stored_ids(central)
    health = central.http.get("/healthz")
    assert (health.status_code, health.json()["status"]) == (200, "ok")
    assert health.json()["ingest"]["write_failures"] >= 1


def test_a_retained_poison_is_quarantined_once_across_restarts_and_new_sessions(
    tmp_path: Path, own_broker: MosquittoBroker, database_url: str
) -> None:
    refuse_poison(database_url)
    probe = MqttProbe(own_broker.url)
    topic = gateway_topic("cs-0001", "gw-9", "availability")
    birth = Availability(
        station_id="cs-0001", gateway_id="gw-9", online=True, at=utc_now(), version=POISON
    )
    kept = threading.Event()
    assert probe.link.publish_acked(topic, birth.to_json(), kept.set)
    assert kept.wait(10), "the broker did not take the retained birth"
    gateway = Gateway(probe)

    def life(central_id: str) -> list[dict[str, object]]:
        """Run a central until an event sent after it subscribed is stored; what its
        database's quarantine then holds of refused messages."""
        directory = tmp_path / f"life-{len(lives)}"
        directory.mkdir()
        settings = central_settings(directory, own_broker.url, database_url, central_id=central_id)
        lifetime = run_central(settings, stations=STATIONS)
        running = next(lifetime)
        try:
            # The broker hands over the retained birth on subscribing, before this event.
            marker = gateway.access().event_id
            wait_until(lambda: marker in stored_ids(running), 15, "an event after the birth")
            assert running.service.ingest.wait_idle(10)
            return refused(running)
        finally:
            lifetime.close()

    lives: list[list[dict[str, object]]] = []
    try:
        lives.append(life("poison-1"))
        lives.append(life("poison-1"))  # a restart: the same session, subscribed again
        lives.append(life("poison-2"))  # a new session, as after the broker lost it
    finally:
        probe.close()
    assert [r["topic"] for r in lives[0]] == [topic]
    assert lives[1] == lives[0]
    assert lives[2] == lives[0]


def test_sequence_numbers_up_to_the_wire_limit_are_stored(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    gateway = Gateway(probe)
    gateway.seq = 2**31
    past_32_bits = gateway.access().event_id
    gateway.seq = INT64_MAX - 1
    last = gateway.access().event_id

    wait_until(lambda: {past_32_bits, last} <= stored_ids(any_central), 15, "both stored")
    entries = any_central.http.get("/api/entries", params={"limit": 10}).json()
    assert sorted(row["seq"] for row in entries) == [2**31 + 1, INT64_MAX]
    assert any_central.http.get("/api/quarantine").json() == []


def test_a_retained_birth_is_not_judged_for_clock_skew(
    tmp_path: Path, own_broker: MosquittoBroker, database_url: str
) -> None:
    # A birth published ten minutes ago by a gateway whose clock is right: the broker kept
    # it, and hands it to a central that starts now.
    probe = MqttProbe(own_broker.url)
    old_birth = Availability(
        station_id="cs-0001", gateway_id="gw-1", online=True, at=utc_now() - timedelta(minutes=10)
    )
    kept = threading.Event()
    assert probe.link.publish_acked(
        gateway_topic("cs-0001", "gw-1", "availability"), old_birth.to_json(), kept.set
    )
    assert kept.wait(10), "the broker did not take the retained birth"
    settings = central_settings(
        tmp_path, own_broker.url, database_url, alerts=AlertSettings(check_interval_s=0.1)
    )
    lifetime = run_central(settings, stations=STATIONS)
    central = next(lifetime)
    try:
        # A gateway whose clock is ten minutes behind says so in a birth sent now.
        skewed = Gateway(probe, gateway_id="gw-2")
        skewed.availability(True, at=utc_now() - timedelta(minutes=10))
        marker = Gateway(probe).access().event_id
        wait_until(lambda: marker in stored_ids(central), 15, "an event after both births")
        assert central.service.ingest.wait_idle(10)
        skews = central.http.get(
            "/api/alerts", params={"kind": "clock_skew", "include_resolved": "true"}
        ).json()
        gateways = {g["gateway_id"]: g for g in central.http.get("/api/gateways").json()}
    finally:
        lifetime.close()
        probe.close()
    assert [(a["gateway_id"], a["status"]) for a in skews] == [("gw-2", "open")]
    assert gateways["gw-1"]["online"] is True
