"""The ingest's writer process: a dead writer is replaced and nothing it held is lost."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from dashboard.core.changes import AlertThresholds
from dashboard.ingest.writer import RawMessage, WriteFailedError, WriterProcess, write_batch
from dashboard.storage.migrations import open_database
from tests.central.conftest import STATIONS, central_settings
from tests.central.support import Gateway
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central
from tests.support.waiting import wait_until


def stored_ids(central: RunningCentral) -> set[str]:
    """Every entry's event id, through the API."""
    rows = central.http.get("/api/entries", params={"limit": 1000}).json()
    return {row["event_id"] for row in rows}


def test_a_killed_writer_is_replaced_and_every_event_is_stored_once(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    ingest = any_central.service.ingest
    gateway = Gateway(probe)
    before = [gateway.access().event_id for _ in range(20)]
    wait_until(lambda: set(before) <= stored_ids(any_central), 10, "first events stored")

    first_pid = ingest.writer_pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)
    after = [gateway.access().event_id for _ in range(20)]

    wait_until(lambda: set(after) <= stored_ids(any_central), 15, "events after the kill stored")
    assert ingest.writer_pid not in (None, first_pid)
    assert ingest.running
    entries = any_central.http.get("/api/entries", params={"limit": 1000}).json()
    assert sorted(row["event_id"] for row in entries) == sorted(before + after)


def test_the_writer_reports_a_database_it_cannot_open(tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("a file where a directory should be")
    writer = WriterProcess(
        f"sqlite:///{tmp_path / 'not-a-directory' / 'central.db'}", AlertThresholds()
    )
    try:
        writer.start()
    except WriteFailedError as error:
        assert "could not open the database" in str(error)
        assert "central.db" in str(error) or "unable to open" in str(error)
    else:
        writer.stop()
        raise AssertionError("a writer on an impossible path started")


def test_a_batch_keeps_each_payload_as_it_arrived(database_url: str) -> None:
    database = open_database(database_url)
    raw = (
        b'{"schema": "door/1", "station_id": "cs-0001", "gateway_id": "gw-1", "seq": 1, '
        b'"at": "2026-11-23T03:00:00.000Z", "door_id": "main", "state": "opened", '
        b'"event_id": "0190aaaa-0000-7000-8000-000000000001"}'
    )
    outcome = write_batch(
        database,
        AlertThresholds(),
        [
            RawMessage("yz/v1/st/cs-0001/gw/gw-1/event/door", raw),
            RawMessage("yz/v1/st/cs-0001/gw/gw-1/event/door", b"{not json"),
        ],
    )
    assert outcome.result is not None and outcome.result.stored == 1
    assert [(q.code, q.topic) for q in outcome.quarantined] == [
        ("bad_json", "yz/v1/st/cs-0001/gw/gw-1/event/door")
    ]
    with database.connection() as db:
        stored = db.execute("SELECT payload FROM events").fetchone()[0]
    assert stored == raw.decode()
    database.close()


def test_every_stored_message_is_acknowledged_so_none_comes_back(
    tmp_path: Path, own_broker: MosquittoBroker
) -> None:
    # Two lives of one central (same id, so the same persistent broker session), each on
    # a database of its own: whatever the first stored but did not acknowledge, the
    # broker would hand to the second before anything published after it started.
    probe = MqttProbe(own_broker.url)
    gateway = Gateway(probe)

    def life(name: str, publish: int) -> tuple[list[str], list[str]]:
        """Publish `publish` events to a central; what was sent and what it stored."""
        directory = tmp_path / name
        directory.mkdir()
        settings = central_settings(
            directory, own_broker.url, f"sqlite:///{directory / 'c.db'}", central_id="acks"
        )
        lifetime = run_central(settings, stations=STATIONS)
        running = next(lifetime)
        try:
            store = running.service.store
            sent = [gateway.access().event_id for _ in range(publish)]
            wait_until(lambda: store.event_count() == publish, 30, f"{publish} stored")
            assert running.service.ingest.wait_idle(10)
            with store.db.connection() as db:
                stored = [row[0] for row in db.execute("SELECT event_id FROM events")]
        finally:
            lifetime.close()
        return sent, stored

    try:
        first_sent, first_stored = life("first", 1500)
        marker, second_stored = life("second", 1)
    finally:
        probe.close()
    assert sorted(first_stored) == sorted(first_sent)
    assert second_stored == marker
