"""A batch costs a handful of statements however many events it holds: the ingest writes
rows with `executemany`, never a round trip per event (the writer's throughput rests on
it). Counted on a real database by a connection that notes each statement it is given."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from contract.maintenance_payloads import Health
from contract.payloads import AccessEvent, CrossingEvent, DoorEvent, EventPayload, utc_now
from dashboard.core.changes import AlertThresholds
from dashboard.ingest import batch
from dashboard.storage.db import Connection, Cursor, Database
from dashboard.storage.migrations import upgrade

GATEWAYS = 25


class CountingConnection(Connection):
    """A real connection that also notes every statement it runs."""

    def __init__(self, raw: Any, dialect: str, statements: list[str]) -> None:
        super().__init__(raw, dialect)
        self.statements = statements

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        self.statements.append(sql)
        return super().execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.statements.append(sql)
        super().executemany(sql, rows)


class CountingDatabase(Database):
    """A database whose connections count statements into `statements`."""

    def __init__(self, url: str) -> None:
        self.statements: list[str] = []
        super().__init__(url)

    def _open(self) -> Connection:
        opened = super()._open()
        return CountingConnection(opened.raw, opened.dialect, self.statements)


def traffic(per_gateway: int, first_seq: int) -> list[EventPayload]:
    """In-order events from every gateway, one station each: entries, exits, doors."""
    events: list[EventPayload] = []
    for n in range(per_gateway):
        for g in range(GATEWAYS):
            base = {
                "station_id": f"st-{g:03d}",
                "gateway_id": "gw-1",
                "seq": first_seq + n,
                "at": utc_now(),
                "door_id": "main",
            }
            kind = n % 3
            if kind == 0:
                events.append(
                    AccessEvent.model_validate(
                        {
                            **base,
                            "direction": "in",
                            "credential": "qr",
                            "decision": "granted",
                            "reason": "granted",
                        }
                    )
                )
            elif kind == 1:
                events.append(DoorEvent.model_validate({**base, "state": "opened"}))
            else:
                events.append(
                    CrossingEvent.model_validate({**base, "direction": "out", "source": "rex"})
                )
    return events


def statements_for(database: CountingDatabase, events: list[EventPayload]) -> list[str]:
    database.statements.clear()
    result = batch.record(database, AlertThresholds(), events)
    assert result.stored == len(events)
    return list(database.statements)


def test_statements_per_batch_do_not_grow_with_the_events(database_url: str) -> None:
    database = CountingDatabase(database_url)
    upgrade(database)
    # The stations and gateways are known and their numbering has begun, as in steady
    # ingest.
    batch.record(database, AlertThresholds(), traffic(1, first_seq=1))
    small = statements_for(database, traffic(2, first_seq=2))
    large = statements_for(database, traffic(20, first_seq=4))
    assert len(small) == len(large), "a statement per event crept in"
    assert len(large) < 30
    database.close()


def health(station_id: str, last_seq: int) -> Health:
    return Health(
        station_id=station_id,
        gateway_id="gw-1",
        at=utc_now(),
        version="0.1.0",
        uptime_s=1.0,
        outbox_depth=0,
        occupancy=0,
        last_seq=last_seq,
    )


def test_events_filling_a_reported_tail_cost_no_statement_each(database_url: str) -> None:
    database = CountingDatabase(database_url)
    upgrade(database)
    batch.record(database, AlertThresholds(), traffic(1, first_seq=1))
    # Every gateway's health report says it has numbered 100 events: 2..100 are missing,
    # and every event from now on arrives late, filling that range.
    reports = [health(f"st-{g:03d}", 100) for g in range(GATEWAYS)]
    batch.record(database, AlertThresholds(), reports)
    small = statements_for(database, traffic(2, first_seq=2))
    large = statements_for(database, traffic(20, first_seq=4))
    assert len(small) == len(large), "a statement per late event crept in"
    assert len(large) < 30, "a statement per gateway crept in"
    database.close()
