"""Central replicas on one PostgreSQL database: batches of one station written by two
replicas at once lose nothing, and one replica at a time holds the leader lease, which
moves within seconds when its holder stops or is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract.payloads import AccessEvent, utc_now
from dashboard.core.changes import AlertThresholds
from dashboard.core.config import AlertSettings
from dashboard.core.stations import StationInput
from dashboard.ingest import batch
from dashboard.services.change_relay import (
    MAX_PAYLOAD_BYTES,
    ChangeRelay,
    Item,
    payloads,
    read_payload,
)
from dashboard.services.leader_lease import LeaderLease
from dashboard.storage.db import Database
from dashboard.storage.migrations import open_database
from dashboard.storage.store import Store
from servicekit.settings import BrokerSettings
from tests.central.conftest import STATIONS, central_settings
from tests.central.support import Gateway
from tests.central.test_live import next_of, stream
from tests.support.mosquitto import MosquittoBroker, free_port
from tests.support.postgres import PostgresServer
from tests.support.probe import MqttProbe
from tests.support.running_central import run_central
from tests.support.waiting import wait_until

BATCHES = 30
PER_BATCH = 5


@pytest.fixture()
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh PostgreSQL database with the central's schema."""
    url = postgres.create_database()
    open_database(url).close()
    yield url
    postgres.drop_database(url)


def entries(gateway_id: str, first_seq: int) -> list[AccessEvent]:
    return [
        AccessEvent.model_validate(
            dict(
                station_id="s",
                gateway_id=gateway_id,
                seq=first_seq + i,
                at=utc_now(),
                door_id="main",
                direction="in",
                credential="qr",
                decision="granted",
                reason="granted",
            )
        )
        for i in range(PER_BATCH)
    ]


def test_two_replicas_moving_one_station_at_once_lose_no_entry(pg_url: str) -> None:
    store = Store.open(pg_url)
    store.put_station(StationInput(id="s", name="S", capacity=10_000))
    # Each replica has its own connections, as two processes would.
    replicas = [Database(pg_url), Database(pg_url)]
    together = threading.Barrier(len(replicas), timeout=30)
    failures: list[BaseException] = []

    def replica(index: int) -> None:
        try:
            for n in range(BATCHES):
                together.wait()
                events = entries(f"g{index}", 1 + n * PER_BATCH)
                batch.record(replicas[index], AlertThresholds(), events)
        except BaseException as error:
            failures.append(error)
            together.abort()

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(len(replicas))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    (station,) = store.stations()
    assert station.occupancy == len(replicas) * BATCHES * PER_BATCH
    for database in replicas:
        database.close()
    store.close()


def test_one_replica_holds_the_lease_and_hands_it_over_when_it_stops(pg_url: str) -> None:
    first, second = LeaderLease(pg_url, retry_s=0.2), LeaderLease(pg_url, retry_s=0.2)
    first.start()
    second.start()
    try:
        assert first.held
        assert not second.held
        first.stop()
        assert not first.held
        wait_until(lambda: second.held, 5, "the second replica to take the lease")
    finally:
        first.stop()
        second.stop()


LEASE_HOLDER = """
import sys, threading
from dashboard.services.change_relay import (
    MAX_PAYLOAD_BYTES,
    ChangeRelay,
    Item,
    payloads,
    read_payload,
)
from dashboard.services.leader_lease import LeaderLease
lease = LeaderLease(sys.argv[1])
lease.start()
print("held" if lease.held else "not held", flush=True)
threading.Event().wait()
"""


def test_the_lease_moves_within_ten_seconds_of_its_holder_killed(pg_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", LEASE_HOLDER, pg_url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    follower = LeaderLease(pg_url)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        follower.start()
        assert not follower.held
        os.kill(holder.pid, signal.SIGKILL)
        killed = time.monotonic()
        holder.wait(timeout=10)
        wait_until(lambda: follower.held, 10, "the follower to take the lease")
        assert time.monotonic() - killed < 10
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        follower.stop()


def test_sqlite_has_one_replica_and_it_leads(tmp_path: Path) -> None:
    lease = LeaderLease(f"sqlite:///{tmp_path / 'central.db'}")
    lease.start()
    assert lease.held
    lease.stop()
    assert lease.held


def test_a_follower_runs_no_checks_until_it_leads(
    tmp_path: Path, broker_settings: BrokerSettings, probe: MqttProbe, pg_url: str
) -> None:
    offline_after_s = 1.0
    settings = central_settings(
        tmp_path,
        broker_settings.url,
        pg_url,
        alerts=AlertSettings(check_interval_s=0.1, offline_after_s=offline_after_s),
    )
    other = LeaderLease(pg_url)
    other.start()
    assert other.held
    try:
        with contextmanager(run_central)(settings, stations=STATIONS) as running:
            assert running.http.get("/healthz").json()["leader"] is False
            gateway = Gateway(probe, "cs-0001", "gw-1")
            gateway.availability(True)
            gateway.access()
            wait_until(
                lambda: [g for g in gateways(running.http) if g["online"]],
                10,
                "the gateway to be heard and online",
            )
            # The checks are driven by time: let the gateway's silence pass the threshold
            # several check intervals over, which a leader would have called offline.
            threading.Event().wait(offline_after_s * 3)
            assert not offline_alerts(running.http), "a follower ran the offline check"
            publisher = running.service.credentials.publisher
            assert publisher is not None
            assert publisher.publications == 0, "a follower published credentials"
            other.stop()
            wait_until(
                lambda: running.http.get("/healthz").json()["leader"], 10, "the lease to move"
            )
            wait_until(lambda: offline_alerts(running.http), 10, "the leader's offline check")
            # The new leader publishes every credential document at once.
            wait_until(lambda: publisher.publications >= 3, 10, "the leader's credentials")
    finally:
        other.stop()


def gateways(http: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = http.get("/api/gateways", params={"station_id": "cs-0001"}).json()
    return found


def offline_alerts(http: httpx.Client) -> list[dict[str, Any]]:
    return [a for a in http.get("/api/alerts").json() if a["kind"] == "gateway_offline"]


def test_a_replica_streams_what_another_replica_stored(
    tmp_path: Path, broker_settings: BrokerSettings, probe: MqttProbe, pg_url: str
) -> None:
    # The second replica hears nothing from the gateways (a broker of its own): whatever
    # its stream shows of them came from the first replica through the database.
    quiet = MosquittoBroker(tmp_path / "quiet", free_port())
    (tmp_path / "quiet").mkdir()
    quiet.start()
    try:
        first = central_settings(tmp_path / "a", broker_settings.url, pg_url)
        second = central_settings(tmp_path / "b", quiet.url, pg_url)
        with (
            contextmanager(run_central)(first, stations=STATIONS) as sending,
            contextmanager(run_central)(second, stations=STATIONS) as watched,
        ):
            assert watched.service.relay.listening.wait(10)
            # Alone, the first sent nothing; the second's hello tells it to.
            wait_until(lambda: sending.service.relay.wanted, 10, "the first to hear the second")
            for events in stream(watched, {}):
                next_of(events, "snapshot")
                Gateway(probe, "cs-0001", "gw-1").access("in", worker="w4242")
                # In the order the first replica sent them: the count, then the entry.
                occupancy = next_of(events, "occupancy")
                assert (occupancy["station_id"], occupancy["occupancy"]) == ("cs-0001", 1)
                entry = next_of(events, "entry")
                assert (entry["station_id"], entry["worker_id"]) == ("cs-0001", "w4242")
            assert watched.service.relay.received > 0
            # Its chart noted the count too: the station page shows it on every replica.
            history = watched.service.history
            assert history.flush(everything=True) == 1
            now = utc_now()
            samples = history.samples("cs-0001", now - timedelta(minutes=2), now)
            assert [s.occupancy for s in samples] == [1]
    finally:
        quiet.stop()


def test_relayed_messages_are_split_under_the_notification_limit_in_order() -> None:
    items: list[Item] = [
        ("entry", f"cs-{n:04d}", f'event: entry\ndata: {{"n": {n}, "名": "{"驿" * 40}"}}\n\n')
        for n in range(300)
    ]
    too_large: Item = ("alert", None, "x" * MAX_PAYLOAD_BYTES)
    sent = payloads("central-1", [*items[:150], too_large, *items[150:]])
    assert len(sent) > 1
    assert all(len(p.encode()) <= MAX_PAYLOAD_BYTES for p in sent)
    received: list[Item] = []
    for payload in sent:
        sender, part = read_payload(payload)
        assert sender == "central-1"
        received += part
    assert received == items
    with pytest.raises(ValueError):
        read_payload("not json")


def test_a_replica_alone_relays_nothing_until_another_listens(
    tmp_path: Path, broker_settings: BrokerSettings, pg_url: str
) -> None:
    settings = central_settings(tmp_path, broker_settings.url, pg_url)
    with contextmanager(run_central)(settings, stations=STATIONS) as alone:
        relay = alone.service.relay
        assert relay.listening.wait(10)
        assert not relay.wanted
        other = ChangeRelay(pg_url, "other-replica", lambda items: None)
        other.start()
        try:
            assert other.listening.wait(10)
            wait_until(lambda: relay.wanted, 10, "the replica to hear another listen")
        finally:
            other.stop()
