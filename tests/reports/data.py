"""A small hand-made month of entries whose every report figure is worked out by hand.

Stations `cs-a` and `cs-b` are in district 430102 (Asia/Shanghai, UTC+8), `cs-c` in
430103, and `de-1` in Berlin, whose clocks went forward on 2026-03-29. Times are UTC;
the comments give the local time the report counts them at.
"""

from __future__ import annotations

from datetime import date

from contract.payloads import AccessEvent
from dashboard.core.changes import AlertThresholds
from dashboard.core.reports import Period, Report
from dashboard.core.stations import StationInput
from dashboard.ingest import batch
from dashboard.services.reports import Scope, make_report, scope_stations
from dashboard.storage.store import Store

STATIONS = [
    StationInput(id="cs-a", name="五一广场驿站", region_code=430102),
    StationInput(id="cs-b", name="橘子洲驿站", region_code=430102),
    StationInput(id="cs-c", name="天心驿站", region_code=430103),
    StationInput(id="de-1", name="Berlin Mitte", region_code=110101, time_zone="Europe/Berlin"),
]

# (station, worker, direction, decision/reason, UTC time)
MOVES = [
    ("cs-a", "w7", "in", "granted", "2026-10-31T15:59:00.000Z"),  # Oct 31 23:59: before
    ("cs-a", "w6", "in", "granted", "2026-10-31T16:30:00.000Z"),  # Nov 1 00:30 (UTC: Oct 31)
    ("cs-a", "w6", "out", "granted", "2026-10-31T17:00:00.000Z"),  # stay 1800
    ("cs-a", "w1", "in", "granted", "2026-11-01T01:00:00.000Z"),  # Nov 1 09:00
    ("cs-a", "w1", "out", "granted", "2026-11-01T02:00:00.000Z"),  # stay 3600
    ("cs-a", "w2", "in", "granted", "2026-11-01T15:30:00.000Z"),  # Nov 1 23:30
    ("cs-a", "w2", "out", "granted", "2026-11-01T17:30:00.000Z"),  # Nov 2 01:30: stay 7200
    ("cs-a", "w3", "in", "granted", "2026-11-01T17:00:00.000Z"),  # Nov 2 01:00 (UTC: Nov 1)
    ("cs-a", "w3", "out", "granted", "2026-11-01T17:10:00.000Z"),  # stay 600
    ("cs-a", "w1", "in", "granted", "2026-11-02T02:00:00.000Z"),  # Nov 2 10:00
    ("cs-a", "w1", "out", "granted", "2026-11-02T06:00:00.000Z"),  # stay 14400
    ("cs-a", "w4", "in", "full", "2026-11-02T03:00:00.000Z"),  # Nov 2 11:00 refused
    ("cs-a", "w4", "in", "expired", "2026-11-02T03:05:00.000Z"),  # refused
    ("cs-a", "w5", "in", "full", "2026-11-02T04:00:00.000Z"),  # refused
    ("cs-a", "w2", "in", "granted", "2026-11-02T08:00:00.000Z"),  # Nov 2 16:00, no exit
    ("cs-a", "w2", "in", "granted", "2026-11-02T09:00:00.000Z"),  # Nov 2 17:00
    ("cs-a", "w2", "out", "granted", "2026-11-02T09:30:00.000Z"),  # stay 1800
    ("cs-a", "w8", "in", "granted", "2026-11-03T15:50:00.000Z"),  # Nov 3 23:50
    ("cs-a", "w8", "out", "granted", "2026-11-03T16:20:00.000Z"),  # Nov 4 00:20: stay 1800
    ("cs-a", "w9", "in", "granted", "2026-11-03T16:00:00.000Z"),  # Nov 4 00:00: after
    ("cs-b", "w1", "in", "granted", "2026-11-01T05:00:00.000Z"),  # Nov 1 13:00
    ("cs-b", "w1", "out", "granted", "2026-11-01T05:20:00.000Z"),  # stay 1200
    ("cs-c", "w10", "in", "granted", "2026-11-01T05:00:00.000Z"),  # another district
    ("de-1", "w21", "in", "granted", "2026-03-28T23:30:00.000Z"),  # Mar 29 00:30 CET
    ("de-1", "w22", "in", "granted", "2026-03-29T00:30:00.000Z"),  # Mar 29 01:30 CET
    ("de-1", "w23", "in", "granted", "2026-03-29T22:30:00.000Z"),  # Mar 30 00:30 CEST
]


def load(store: Store) -> None:
    """Put the stations in the registry and store the moves as the ingest would."""
    store.put_stations(STATIONS)
    events = [
        AccessEvent.model_validate(
            dict(
                station_id=station,
                gateway_id="gw-1",
                seq=seq,
                at=at,
                door_id="main",
                direction=direction,
                credential="qr",
                worker_id=worker,
                decision="granted" if outcome == "granted" else "denied",
                reason=outcome,
            )
        )
        for seq, (station, worker, direction, outcome, at) in enumerate(MOVES, start=1)
    ]
    batch.record(store.db, AlertThresholds(), events)


def report(
    store: Store, scope: Scope, scope_id: str, first: str, last: str, period: Period = "day"
) -> Report:
    """The report the API makes of these entries, for local days `first` to `last`."""
    _, stations = scope_stations(store.db, scope, scope_id)
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return make_report(store.db, scope, scope_id, stations, period, start, end)
