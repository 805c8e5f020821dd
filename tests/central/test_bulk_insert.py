"""Many rows in one statement (`BulkInsert`) store exactly what one statement per row
would, on both databases: NULLs, flags, numbers past 32 bits, rows already stored and
keys repeated within the rows; the database itself skips event ids another writer
stores at the same moment; a batch with several changes of one door keeps the newest."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date

import pytest

from contract.payloads import AccessEvent, DoorEvent, EventPayload, utc_now
from dashboard.core.changes import AlertThresholds
from dashboard.ingest import batch
from dashboard.storage import door_states, events
from dashboard.storage.db import BulkInsert, Database
from dashboard.storage.migrations import open_database
from tests.support.postgres import PostgresServer
from tests.support.waiting import wait_until

GATEWAYS = BulkInsert(
    "gateways",
    (
        ("station_id", "text"),
        ("gateway_id", "text"),
        ("online", "bigint"),
        ("clock_offset_s", "double precision"),
        ("version", "text"),
    ),
    "ON CONFLICT (station_id, gateway_id) DO UPDATE SET online = excluded.online",
)
EVENT_IDS = BulkInsert(
    "events",
    (
        ("event_id", "text"),
        ("kind", "text"),
        ("station_id", "text"),
        ("gateway_id", "text"),
        ("seq", "bigint"),
        ("at", "text"),
        ("received_at", "text"),
        ("payload", "text"),
    ),
    "ON CONFLICT DO NOTHING",
)


@pytest.fixture()
def database(database_url: str) -> Iterator[Database]:
    opened = open_database(database_url)
    prepare_event_month(opened)
    yield opened
    opened.close()


def prepare_event_month(database: Database) -> None:
    """The partition `event_row`'s events go to on PostgreSQL (ingest makes it on demand;
    these tests insert below ingest)."""
    with database.connection() as db:
        events.prepare_months(db, [date(2026, 1, 1)])


def event_row(event_id: str, seq: int = 1) -> tuple[object, ...]:
    return (event_id, "access", "cs-1", "gw-1", seq, "2026-01-01T00:00:00Z", "now", "{}")


def test_rows_go_in_as_given(database: Database) -> None:
    rows = [
        ("cs-1", "gw-1", True, 0.25, None),
        ("cs-1", "gw-2", False, None, "1.2.3"),
    ]
    with database.transaction() as db:
        db.insert_rows(GATEWAYS, rows)
        db.insert_rows(GATEWAYS, [])
        db.insert_rows(GATEWAYS, [("cs-1", "gw-2", True, None, None)])
    with database.connection() as db:
        stored = db.execute(
            "SELECT station_id, gateway_id, online, clock_offset_s, version FROM gateways "
            "ORDER BY gateway_id"
        ).fetchall()
    assert [tuple(r) for r in stored] == [
        ("cs-1", "gw-1", 1, 0.25, None),
        ("cs-1", "gw-2", 1, None, "1.2.3"),
    ]


def test_only_rows_not_stored_yet_are_inserted_and_named(database: Database) -> None:
    with database.transaction() as db:
        assert db.insert_new(EVENT_IDS, [event_row("a"), event_row("b")]) == {"a", "b"}
    with database.transaction() as db:
        inserted = db.insert_new(
            EVENT_IDS,
            [event_row("b", 9), event_row("c", 2**40), event_row("c", 7), event_row("d")],
        )
        assert db.insert_new(EVENT_IDS, []) == set()
    assert inserted == {"c", "d"}
    with database.connection() as db:
        seqs = dict(db.execute("SELECT event_id, seq FROM events").fetchall())
    assert seqs == {"a": 1, "b": 1, "c": 2**40, "d": 1}, "a stored row is left alone"


def test_an_id_stored_meanwhile_by_another_writer_is_skipped(postgres_database: Database) -> None:
    # Two replicas may hold the same event (round-robin delivery, a redelivery): the
    # first to commit stores it, the other is told it inserted nothing, and neither fails.
    first_done = threading.Event()
    second: dict[str, set[object]] = {}
    with postgres_database.transaction() as first:
        assert first.insert_new(EVENT_IDS, [event_row("x")]) == {"x"}

        def other_replica() -> None:
            with postgres_database.transaction() as db:
                second["inserted"] = db.insert_new(EVENT_IDS, [event_row("x"), event_row("y")])
            first_done.set()

        thread = threading.Thread(target=other_replica)
        thread.start()
        with postgres_database.connection() as db:
            wait_until(
                lambda: db.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND starts_with(query, 'INSERT INTO events')"
                ).fetchone(),
                10,
                "the second insert to wait for the first transaction",
            )
    assert first_done.wait(10)
    thread.join(10)
    assert second["inserted"] == {"y"}


@pytest.fixture()
def postgres_database(postgres: PostgresServer) -> Iterator[Database]:
    """PostgreSQL alone: on SQLite one writer at a time is the design."""
    url = postgres.create_database()
    opened = open_database(url)
    prepare_event_month(opened)
    yield opened
    opened.close()
    postgres.drop_database(url)


def door(state: str, seconds: int) -> DoorEvent:
    at = utc_now().replace(microsecond=0, second=seconds)
    return DoorEvent(
        station_id="cs-1", gateway_id="gw-1", seq=seconds + 1, at=at, door_id="main", state=state
    )


def test_a_batch_keeps_the_newest_state_of_each_door(database: Database) -> None:
    events: list[EventPayload] = [door("opened", 1), door("closed", 3), door("locked", 2)]
    batch.record(database, AlertThresholds(), events)
    (stored,) = door_states.current(database)
    assert stored["state"] == "closed", "the newest by the gateway's clock, not the last sent"
    same_time = [door("opened", 5), door("closed", 5)]
    batch.record(database, AlertThresholds(), same_time)
    (stored,) = door_states.current(database)
    assert stored["state"] == "closed", "at the same time, the last one sent"


def test_a_batch_stores_each_event_once_and_counts_the_rest(database: Database) -> None:
    entry = AccessEvent(
        station_id="cs-1",
        gateway_id="gw-1",
        seq=1,
        at=utc_now(),
        door_id="main",
        direction="in",
        credential="qr",
        worker_id="w1",
        decision="granted",
        reason="granted",
    )
    first = batch.record(database, AlertThresholds(), [entry, entry])
    again = batch.record(database, AlertThresholds(), [entry])
    assert (first.stored, first.duplicates, again.stored, again.duplicates) == (1, 1, 0, 1)
    with database.connection() as db:
        assert db.execute("SELECT count(*) FROM entries").fetchone()[0] == 1
