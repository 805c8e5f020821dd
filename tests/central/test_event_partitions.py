"""Events and entries by month on PostgreSQL, one table each on SQLite: ingest makes the
partition of any month it meets, the central makes this month's and the next one's
ahead, retention drops whole months that are older than its cut-off (never one holding
a newer row) and deletes the older rows of the month it cuts through, and a redelivered
event is stored once however many months there are; the results read the same on both
databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from contract.payloads import AccessEvent, DoorEvent, EventPayload
from dashboard.core.changes import AlertThresholds
from dashboard.ingest import batch
from dashboard.storage import events
from dashboard.storage.db import Database
from dashboard.storage.migrations import open_database
from dashboard.storage.store import Store
from tests.support.waiting import wait_until

STATION = "cs-0001"
GATEWAY = "gw-1"


@pytest.fixture()
def database(database_url: str) -> Iterator[Database]:
    opened = open_database(database_url)
    yield opened
    opened.close()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def access(seq: int, at: str) -> AccessEvent:
    return AccessEvent.model_validate(
        {
            "station_id": STATION,
            "gateway_id": GATEWAY,
            "seq": seq,
            "at": at,
            "door_id": "main",
            "direction": "in",
            "credential": "qr",
            "worker_id": f"w{1000 + seq}",
            "decision": "granted",
            "reason": "granted",
        }
    )


def door(seq: int, at: str) -> DoorEvent:
    return DoorEvent.model_validate(
        {
            "station_id": STATION,
            "gateway_id": GATEWAY,
            "seq": seq,
            "at": at,
            "door_id": "main",
            "state": "opened",
        }
    )


def store_batch(database: Database, *messages: EventPayload) -> tuple[int, int]:
    """Store one batch as ingest does; how many were new and how many duplicates."""
    result = batch.record(database, AlertThresholds(), list(messages))
    return result.stored, result.duplicates


def stored_times(database: Database) -> tuple[list[str], list[str]]:
    """The `at` of every stored event and of every entry, in order."""
    with database.connection() as db:
        ats = [r[0] for r in db.execute("SELECT at FROM events ORDER BY at")]
        entry_ats = [r[0] for r in db.execute("SELECT at FROM entries ORDER BY at")]
    return ats, entry_ats


def partitions(database: Database) -> list[str]:
    """The monthly partitions of events and entries (none on SQLite)."""
    with database.connection() as db:
        if database.dialect == "sqlite":
            names = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            return sorted(r[0] for r in names if r[0].startswith(("events_", "entries_")))
        return sorted(
            r[0]
            for r in db.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent "
                "WHERE p.relname IN ('events', 'entries')"
            )
        )


def months(database: Database, *names: str) -> list[str]:
    """What `partitions` should hold: each month's two partitions on PostgreSQL."""
    if database.dialect == "sqlite":
        return []
    return sorted(f"{table}_{name}" for name in names for table in ("events", "entries"))


def test_ingest_makes_the_partition_of_every_month_it_meets(database: Database) -> None:
    # A gateway back after a long outage delivers months-old events with today's.
    assert store_batch(
        database,
        access(1, "2026-03-31T23:59:59.999Z"),
        door(2, "2026-04-01T00:00:00.000Z"),
        access(3, "2026-07-14T08:00:00.000Z"),
    ) == (3, 0)
    assert partitions(database) == months(database, "2026_03", "2026_04", "2026_07")
    assert stored_times(database) == (
        ["2026-03-31T23:59:59.999Z", "2026-04-01T00:00:00.000Z", "2026-07-14T08:00:00.000Z"],
        ["2026-03-31T23:59:59.999Z", "2026-07-14T08:00:00.000Z"],
    )


def test_the_central_makes_this_month_and_the_next_ahead(database: Database) -> None:
    Store(database).prepare_months(utc("2026-12-31T23:00:00.000Z"))
    Store(database).prepare_months(utc("2026-12-01T00:00:00.000Z"))
    assert partitions(database) == months(database, "2026_12", "2027_01")


def test_retention_drops_whole_months_and_deletes_the_older_rows_of_the_last(
    database: Database,
) -> None:
    store_batch(
        database,
        access(1, "2026-01-10T00:00:00.000Z"),
        access(2, "2026-02-10T00:00:00.000Z"),
        access(3, "2026-02-20T00:00:00.000Z"),
        door(4, "2026-03-05T00:00:00.000Z"),
    )
    purged = Store(database).purge(utc("2026-02-15T00:00:00.000Z"))
    # January's rows are all older: its partitions go whole. February holds a newer row,
    # so it stays and loses only its older one.
    assert sorted(purged.partitions) == months(database, "2026_01")
    assert purged.events == (1 if database.dialect == "postgresql" else 2)
    assert partitions(database) == months(database, "2026_02", "2026_03")
    assert stored_times(database) == (
        ["2026-02-20T00:00:00.000Z", "2026-03-05T00:00:00.000Z"],
        ["2026-02-20T00:00:00.000Z"],
    )


def test_retention_never_drops_a_month_with_a_row_at_or_after_the_cut_off(
    database: Database,
) -> None:
    last = "2026-01-31T23:59:59.999Z"
    store_batch(database, access(1, "2026-01-01T00:00:00.000Z"), access(2, last))
    purged = Store(database).purge(utc(last))
    assert purged.partitions == []
    assert stored_times(database) == ([last], [last])
    # A cut-off at the month's end (its upper bound) leaves nothing of it to keep.
    purged = Store(database).purge(utc("2026-02-01T00:00:00.000Z"))
    assert sorted(purged.partitions) == months(database, "2026_01")
    assert purged.events == (0 if database.dialect == "postgresql" else 1)
    assert stored_times(database) == ([], [])


def test_a_late_event_of_a_month_retention_dropped_is_stored(database: Database) -> None:
    store_batch(database, access(1, "2026-01-10T00:00:00.000Z"))
    Store(database).purge(utc("2026-02-01T00:00:00.000Z"))
    assert partitions(database) == []
    # The ingest had made January's partitions and knows it; the insert finds them gone,
    # makes them again and stores the event (the next purge removes it).
    assert store_batch(database, door(2, "2026-01-20T00:00:00.000Z")) == (1, 0)
    assert stored_times(database) == (["2026-01-20T00:00:00.000Z"], [])


def test_a_redelivered_event_is_stored_once_whatever_the_months(database: Database) -> None:
    january, june = access(1, "2026-01-10T00:00:00.000Z"), door(2, "2026-06-10T00:00:00.000Z")
    Store(database).prepare_months(utc("2026-12-01T00:00:00.000Z"))
    assert store_batch(database, january, june, january) == (2, 1)
    # Redelivered after more months exist, alone and beside a new event of another month:
    # each copy meets its first one in its own month and is refused there.
    assert store_batch(database, june, january, access(3, "2026-03-01T00:00:00.000Z")) == (1, 2)
    assert store_batch(database, january) == (0, 1)
    with database.connection() as db:
        assert events.count(db) == 3
        assert events.payload(db, january.event_id) is not None
    assert stored_times(database) == (
        ["2026-01-10T00:00:00.000Z", "2026-03-01T00:00:00.000Z", "2026-06-10T00:00:00.000Z"],
        ["2026-01-10T00:00:00.000Z", "2026-03-01T00:00:00.000Z"],
    )


def test_a_month_is_made_while_another_transaction_writes_and_reads(
    database: Database,
) -> None:
    if database.dialect != "postgresql":
        pytest.skip("SQLite keeps one table: there is no month to make")
    store_batch(database, access(1, "2026-03-10T08:00:00.000Z"))
    with database.transaction() as busy:
        # Open, as the ingest's batch or a report is: rows written to one table, the other
        # read, nothing committed yet.
        busy.execute(
            "INSERT INTO events SELECT event_id || '-copy', kind, station_id, gateway_id, seq,"
            " at, received_at, payload FROM events"
        )
        busy.execute("SELECT count(*) FROM entries").fetchone()
        with database.connection() as other:
            # Making a month must not wait for `busy` (it deadlocked with it before).
            other.execute("SET lock_timeout = '5s'")
            events.prepare_months(other, [datetime(2026, 9, 1).date()])
    assert partitions(database) == months(database, "2026_03", "2026_09")
    assert store_batch(database, door(2, "2026-09-01T00:00:00.000Z")) == (1, 0)


def test_retention_drops_a_month_while_a_batch_writes_without_a_deadlock(
    database: Database,
) -> None:
    if database.dialect != "postgresql":
        pytest.skip("SQLite keeps one table: there is no month to drop")
    store_batch(database, access(1, "2026-01-10T08:00:00.000Z"))
    store_batch(database, access(2, "2026-03-10T08:00:00.000Z"))
    dropped: list[list[str]] = []
    failures: list[BaseException] = []

    def purge() -> None:
        try:
            dropped.append(Store(database).purge(utc("2026-02-15T00:00:00.000Z")).partitions)
        except BaseException as error:
            failures.append(error)

    with database.transaction() as batch:
        # A batch has written its events and is about to write its entries when the
        # retention comes to drop the oldest month.
        batch.execute("UPDATE events SET received_at = received_at")
        dropping = threading.Thread(target=purge)
        dropping.start()
        wait_until(lambda: waiting_on_a_lock(database), 10, "the retention to wait for the batch")
        batch.execute("UPDATE entries SET reason = reason")
    dropping.join(30)
    assert not failures, failures
    assert [sorted(d) for d in dropped] == [months(database, "2026_01")]
    assert partitions(database) == months(database, "2026_03")


def waiting_on_a_lock(database: Database) -> bool:
    with database.connection() as db:
        row = db.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()
    return bool(row[0])
