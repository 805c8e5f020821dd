"""The central's store on SQLite and on PostgreSQL, and the occupancy rules it applies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contract.payloads import AccessEvent, CrossingEvent, DoorEvent, utc_now
from dashboard.core.changes import AlertThresholds, BatchResult
from dashboard.core.occupancy import apply_delta, occupancy_delta
from dashboard.ingest import batch
from dashboard.storage.migrations import upgrade
from dashboard.storage.store import Store


@pytest.fixture()
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    yield opened
    opened.close()


def record(store: Store, *events: AccessEvent) -> BatchResult:
    """Store a batch the way the ingest writer does."""
    return batch.record(store.db, AlertThresholds(), events)


def access(
    seq: int, direction: str = "in", decision: str = "granted", station: str = "cs-1"
) -> AccessEvent:
    return AccessEvent.model_validate(
        dict(
            station_id=station,
            gateway_id="gw-1",
            seq=seq,
            at=utc_now(),
            door_id="main",
            direction=direction,
            credential="qr",
            decision=decision,
            reason="granted" if decision == "granted" else "unknown_credential",
        )
    )


def test_occupancy_rules() -> None:
    assert occupancy_delta(access(1)) == 1
    assert occupancy_delta(access(1, "out")) == -1
    assert occupancy_delta(access(1, decision="denied")) == 0
    rex = CrossingEvent(
        station_id="a",
        gateway_id="b",
        seq=1,
        at=utc_now(),
        door_id="main",
        direction="out",
        source="rex",
    )
    assert occupancy_delta(rex) == -1
    door = DoorEvent(
        station_id="a", gateway_id="b", seq=1, at=utc_now(), door_id="main", state="opened"
    )
    assert occupancy_delta(door) == 0
    assert apply_delta(0, -1) == 0
    assert apply_delta(3, 1) == 4


def test_events_are_stored_once_and_move_the_count(store: Store) -> None:
    store.upsert_station("cs-1", "One", 28.1, 112.9, 2)
    first = access(1)
    result = record(store, first, access(2), first)
    assert (result.stored, result.duplicates) == (2, 1)
    assert result.occupancy == {"cs-1": (2, 2)}
    assert store.stations()[0].occupancy == 2
    again = record(store, first)
    assert (again.stored, again.duplicates, again.occupancy) == (0, 1, {})


def test_the_count_never_goes_negative(store: Store) -> None:
    result = record(store, access(1, "out"), access(2, "out"))
    assert result.stored == 2
    assert result.occupancy == {}
    assert store.stations()[0].occupancy == 0


def test_an_unregistered_station_is_kept_not_dropped(store: Store) -> None:
    record(store, access(1, station="new-place"))
    (station,) = store.stations()
    assert (station.id, station.name, station.occupancy, station.online) == (
        "new-place",
        "new-place",
        1,
        True,
    )


def test_reopening_keeps_data_and_does_not_migrate_twice(database_url: str) -> None:
    first = Store.open(database_url)
    record(first, access(1))
    first.close()
    reopened = Store.open(database_url)
    assert upgrade(reopened.db) == 0
    assert reopened.event_count() == 1
    assert [e.seq for e in reopened.entries(10)] == [1]
    reopened.close()
