"""Fault drills with three central replicas on one PostgreSQL database, all real processes,
sharing the gateways' events through a shared subscription (round robin): the leader
killed with `kill -9` mid-burst (and started again, as its service manager would: the
broker keeps its share of the events for it), the database stopped mid-burst, the broker
restarted mid-burst. Each time nothing is missing, nothing is stored or counted twice,
the station's count equals the people who came in (`Site.check_exact`), and a replica
leads again.

The database outage lasts a few seconds in every run and 30 s in the soak run
(`./scripts/test -m soak`), through the same code; the broker restart, which the single
central's fault tests already cover in every run, is in the soak run only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.reliability.site import Site, SiteGateway
from tests.support.postgres import PostgresServer
from tests.support.waiting import wait_until

REPLICAS = 3
DB_OUTAGE_S = 5.0
SOAK_DB_OUTAGE_S = 30.0
LEASE_MOVES_WITHIN_S = 10.0


def leaders(site: Site) -> list[int]:
    """The replicas (by index) that say they hold the leader lease; a dead one says nothing."""
    found = []
    for index, (central, port) in enumerate(zip(site.centrals, site.http_ports, strict=True)):
        if central.process is None:
            continue
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
        except httpx.HTTPError:
            continue
        if health.get("leader"):
            found.append(index)
    return found


class Scanning:
    """Workers scanning at every gateway of a site until `stop()`, so every fault lands
    mid-burst however long it takes to cause."""

    def __init__(self, site: Site) -> None:
        self._done = threading.Event()
        self._threads = [
            threading.Thread(target=self._scan, args=(gateway,), daemon=True)
            for gateway in site.gateways
        ]
        for thread in self._threads:
            thread.start()

    def _scan(self, gateway: SiteGateway) -> None:
        while not self._done.is_set():
            gateway.scan(20, 0.005)

    def stop(self) -> None:
        self._done.set()
        for thread in self._threads:
            thread.join(30)


@pytest.fixture()
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


def shares(site: Site) -> list[float]:
    """Events each running replica has stored since it started (its `/metrics`)."""
    found = []
    for central, port in zip(site.centrals, site.http_ports, strict=True):
        if central.process is None:
            continue
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        (line,) = [x for x in text.splitlines() if x.startswith("yizhan_events_stored_total ")]
        found.append(float(line.split()[1]))
    return found


def stored(site: Site) -> int:
    return sum(site.stored_access(g.gateway_id) for g in site.gateways)


@contextmanager
def scanned_through(directory: Path, database_url: str) -> Iterator[tuple[Site, int]]:
    """Three replicas on the database and two gateways, started; yields the site and the
    leader's index once the replicas have stored a first part of a burst that goes on
    until the block ends. Then: every scan delivered, one leader, no alert left open,
    and the database exactly what was scanned."""
    site = Site.build(
        directory,
        ["gw-1", "gw-2"],
        replay_rate=2000,
        database_url=database_url,
        replicas=REPLICAS,
        share_group="centrals",
    )
    try:
        site.start()
        (leader,) = wait_until(lambda: leaders(site), 15, "one replica to lead")
        scanning = Scanning(site)
        try:
            wait_until(lambda: stored(site) >= 300, 30, "the replicas storing the burst")
            # Shared, not copied: every replica stores a part of the gateways' events.
            wait_until(lambda: min(shares(site)) > 0, 30, "every replica to store a share")
            yield site, leader
            before = stored(site)
            wait_until(lambda: stored(site) >= before + 200, 60, "storing after the fault")
        finally:
            scanning.stop()
        site.wait_delivered(120)
        wait_until(lambda: len(leaders(site)) == 1, 15, "one replica to lead")
        site.wait_alerts_resolved(30)
        site.check_exact()
    finally:
        site.close()


def test_kill_9_of_the_leader_of_three_replicas_mid_burst(tmp_path: Path, pg_url: str) -> None:
    with scanned_through(tmp_path / "site", pg_url) as (site, leader):
        site.centrals[leader].kill()
        killed = time.monotonic()
        (successor,) = wait_until(
            lambda: leaders(site), LEASE_MOVES_WITHIN_S + 5, "another replica to lead"
        )
        moved_s = time.monotonic() - killed
        assert successor != leader
        assert moved_s < LEASE_MOVES_WITHIN_S, f"the lease took {moved_s:.1f} s to move"
        site.centrals[leader].start()


def database_outage(directory: Path, outage_s: float) -> None:
    """Stop PostgreSQL for `outage_s` while people scan at two gateways under three
    replicas; start it again."""
    server = PostgresServer.throwaway(crash_safe=True)
    try:
        with scanned_through(directory, server.create_database()):
            server.stop(keep=True)
            # The outage is a length of time: people go on scanning through it.
            threading.Event().wait(outage_s)
            server.start_again()
    finally:
        server.stop()


@pytest.mark.timeout(DB_OUTAGE_S + 240)
def test_the_database_stopped_mid_burst_under_three_replicas(tmp_path: Path) -> None:
    database_outage(tmp_path / "site", DB_OUTAGE_S)


@pytest.mark.soak
@pytest.mark.timeout(SOAK_DB_OUTAGE_S + 240)
def test_the_database_stopped_for_30_s_mid_burst_under_three_replicas(tmp_path: Path) -> None:
    database_outage(tmp_path / "site", SOAK_DB_OUTAGE_S)


@pytest.mark.soak
def test_the_broker_restarted_mid_burst_under_three_replicas(tmp_path: Path, pg_url: str) -> None:
    with scanned_through(tmp_path / "site", pg_url) as (site, _):
        site.broker.stop()
        site.broker.start()
