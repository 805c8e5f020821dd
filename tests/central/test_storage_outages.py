"""Storage outages show and lose nothing: a running central, fed through the broker, with
PostgreSQL killed (`kill -9`) and restarted mid-ingest, with its SQLite file on a full
disk, and with PostgreSQL hanging on a lock. While writes fail or hang, `/healthz` says
`degraded` (HTTP 503) with the reason and `/metrics` shows the backlog; afterwards every
event is stored once, `/healthz` says `ok` again and an alert records the outage. The
gateway, silent only because the central could not store what it sent, is never called
offline.
"""

from __future__ import annotations

import errno
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from contract.topics import gateway_topic
from dashboard.core.config import AlertSettings
from servicekit.settings import BrokerSettings
from tests.central.conftest import STATIONS, central_settings
from tests.central.support import Gateway, health_report
from tests.support.postgres import PostgresServer
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central
from tests.support.waiting import wait_until

OFFLINE_AFTER_S = 2.0
"""Short, so that every outage here lasts longer than a gateway may be silent."""

HEARTBEAT_S = 0.25
"""How often the test's gateway reports its health: well within OFFLINE_AFTER_S, as a
real gateway's 30 s are within the default 90 s."""

ALERTS = AlertSettings(check_interval_s=0.1, offline_after_s=OFFLINE_AFTER_S, stall_after_s=1.0)


def health(central: RunningCentral) -> tuple[int, dict[str, object]]:
    """`/healthz`: its HTTP status and body."""
    response = central.http.get("/healthz")
    body: dict[str, object] = response.json()
    return response.status_code, body


def gauge(central: RunningCentral, name: str) -> float:
    """One unlabelled figure of `/metrics`."""
    for line in central.http.get("/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"/metrics has no {name}")


def stored_ids(central: RunningCentral) -> list[str] | None:
    """Every stored event's id, read from the database; None while it cannot be read."""
    try:
        with central.service.database.connection() as db:
            return [row[0] for row in db.execute("SELECT event_id FROM events")]
    except Exception:
        return None


def alerts_of(central: RunningCentral, kind: str) -> list[dict[str, object]]:
    """Every alert of `kind`, resolved ones too."""
    rows: list[dict[str, object]] = central.http.get(
        "/api/alerts", params={"kind": kind, "include_resolved": "true"}
    ).json()
    return rows


def degraded_by(central: RunningCentral, words: str) -> list[str] | None:
    """The reasons `/healthz` gives while it says degraded for `words`, else None."""
    status, body = health(central)
    reasons = body.get("reasons")
    if status != 503 or body["status"] != "degraded" or not isinstance(reasons, list):
        return None
    found = [str(reason) for reason in reasons]
    return found if any(words in reason for reason in found) else None


def wait_past_offline_after(central: RunningCentral) -> None:
    """Until the oldest message the central holds has waited a second longer than a
    gateway may be silent: ten rounds of the periodic checks past the point where the
    gateway would be called offline if its silence were judged by the clock alone."""
    wait_until(
        lambda: gauge(central, "yizhan_ingest_oldest_unstored_seconds") > OFFLINE_AFTER_S + 1,
        30,
        "the outage to outlast a gateway's allowed silence",
    )


class Heartbeat:
    """A gateway that says it is online, then reports its health every HEARTBEAT_S
    from a thread of its own until the block ends: it is never silent for long."""

    def __init__(self, central: RunningCentral, probe: MqttProbe) -> None:
        self.central = central
        self.probe = probe
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        Gateway(self.probe).availability(True)

        def online() -> bool:
            rows = self.central.http.get("/api/gateways").json()
            return any(r["gateway_id"] == "gw-1" and r["online"] for r in rows)

        # Beating before it is seen online: on a busy machine the wait could outlast the
        # allowed silence, and a silent gateway is called offline.
        self._thread.start()
        wait_until(online, 15, "the gateway online")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        topic = gateway_topic("cs-0001", "gw-1", "health")
        # Pacing a sender, as a gateway's timer does; nothing waits on it.
        while not self._stop.wait(HEARTBEAT_S):
            self.probe.publish(topic, health_report({}).to_json())


def assert_recovered(central: RunningCentral, sent: list[str], kind: str) -> None:
    """Every event sent is stored once, the health check is fine again, an alert of
    `kind` opened and resolved, no gateway was called offline, nothing was quarantined."""
    wait_until(lambda: sorted(stored_ids(central) or []) == sorted(sent), 60, "every event")
    wait_until(lambda: health(central)[0] == 200, 15, "/healthz ok again")
    assert health(central)[1]["status"] == "ok"
    wait_until(
        lambda: [a["status"] for a in alerts_of(central, kind)] == ["resolved"],
        15,
        f"the {kind} alert resolved",
    )
    assert alerts_of(central, "gateway_offline") == []
    assert central.http.get("/api/quarantine").json() == []


@pytest.fixture()
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for this test alone, which it may kill."""
    server = PostgresServer.throwaway(crash_safe=True)
    yield server
    server.stop()


def names_a_lost_connection(reason: str) -> bool:
    """Whether a degraded reason names psycopg's error for a connection that is gone: the
    client's own (`OperationalError`), or the server's last words as it went down
    (`AdminShutdown`, a subclass), which a batch whose statements are pipelined reads."""
    name = reason.partition(": ")[2].partition(":")[0]
    error = getattr(psycopg, name, None) or getattr(psycopg.errors, name, None)
    return isinstance(error, type) and issubclass(error, psycopg.OperationalError)


def test_postgresql_killed_and_restarted_mid_ingest_loses_nothing_and_shows(
    tmp_path: Path, broker_settings: BrokerSettings, own_postgres: PostgresServer, probe: MqttProbe
) -> None:
    url = own_postgres.create_database()
    settings = central_settings(tmp_path, broker_settings.url, url, alerts=ALERTS)
    lifetime = run_central(settings, stations=STATIONS)
    central = next(lifetime)
    gateway = Gateway(probe)
    try:
        with Heartbeat(central, probe):
            sent = [gateway.access().event_id for _ in range(1500)]
            wait_until(lambda: central.service.metrics.accepted >= 100, 30, "ingest under way")
            own_postgres.kill()
            sent += [gateway.access().event_id for _ in range(100)]

            reasons = wait_until(
                lambda: degraded_by(central, "storage unavailable"), 30, "degraded"
            )
            assert any(names_a_lost_connection(reason) for reason in reasons), reasons
            wait_past_offline_after(central)
            assert gauge(central, "yizhan_storage_unavailable") == 1
            assert gauge(central, "yizhan_ingest_backlog_messages") > 0
            assert gauge(central, "yizhan_write_failures_total") > 0

            own_postgres.start_again()
            assert_recovered(central, sent, "storage_unavailable")
    finally:
        lifetime.close()


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB file system of its own (tmpfs), for a disk that fills up: room for the
    database and its write-ahead log with every event of the test."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(
            "mounting a small tmpfs needs root (or CAP_SYS_ADMIN); this machine said: "
            + (made.stderr.strip() or f"exit code {made.returncode}")
        )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; the file."""
    filler = disk / "filler"
    # Unbuffered, so that closing the file has nothing left to write.
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
    return filler


def test_sqlite_on_a_full_disk_loses_nothing_and_shows(
    tmp_path: Path, broker_settings: BrokerSettings, small_disk: Path, probe: MqttProbe
) -> None:
    url = f"sqlite:///{small_disk / 'central.db'}"
    settings = central_settings(tmp_path, broker_settings.url, url, alerts=ALERTS)
    lifetime = run_central(settings, stations=STATIONS)
    central = next(lifetime)
    gateway = Gateway(probe)
    try:
        with Heartbeat(central, probe):
            sent = [gateway.access().event_id for _ in range(20)]
            wait_until(lambda: len(stored_ids(central) or []) == 20, 15, "the first events")
            filler = fill(small_disk)
            # More than the free pages of the write-ahead log can take.
            sent += [gateway.access().event_id for _ in range(2000)]

            reasons = wait_until(
                lambda: degraded_by(central, "storage unavailable"), 30, "degraded"
            )
            assert any("full" in reason for reason in reasons), reasons
            wait_past_offline_after(central)
            assert gauge(central, "yizhan_storage_unavailable") == 1

            filler.unlink()
            assert_recovered(central, sent, "storage_unavailable")
    finally:
        lifetime.close()


def test_a_write_hanging_on_a_lock_is_a_stall_that_blames_no_gateway(
    tmp_path: Path, broker_settings: BrokerSettings, postgres: PostgresServer, probe: MqttProbe
) -> None:
    url = postgres.create_database()
    settings = central_settings(tmp_path, broker_settings.url, url, alerts=ALERTS)
    lifetime = run_central(settings, stations=STATIONS)
    central = next(lifetime)
    gateway = Gateway(probe)
    try:
        with Heartbeat(central, probe):
            sent = [gateway.access().event_id for _ in range(20)]
            wait_until(lambda: len(stored_ids(central) or []) == 20, 15, "the first events")
            with psycopg.connect(url) as locker:
                # As an administrator's long maintenance would: writes wait, none fails.
                locker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
                sent += [gateway.access().event_id for _ in range(20)]
                wait_until(lambda: degraded_by(central, "ingest stalled"), 30, "degraded")
                wait_until(
                    lambda: [a["status"] for a in alerts_of(central, "ingest_stalled")] == ["open"],
                    15,
                    "the ingest_stalled alert",
                )
                wait_past_offline_after(central)
                assert alerts_of(central, "gateway_offline") == []
                assert gauge(central, "yizhan_ingest_stalled") == 1
                locker.rollback()
            assert_recovered(central, sent, "ingest_stalled")
            assert alerts_of(central, "storage_unavailable") == []
    finally:
        lifetime.close()
        postgres.drop_database(url)
