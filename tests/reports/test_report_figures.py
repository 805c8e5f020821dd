"""Every figure of a report, on SQLite and on PostgreSQL, against the hand-made month in
`tests.reports.data`: stays crossing midnight, days that begin in station time, not UTC,
a district of two stations, and a time zone whose offset changes inside the range."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.core.reports import Report, StationTotals
from dashboard.storage import reports
from dashboard.storage.store import Store
from tests.reports.data import load, report


@pytest.fixture()
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    load(opened)
    yield opened
    opened.close()


def columns(r: Report, *names: str) -> dict[str, tuple[object, ...]]:
    return {row.period: tuple(getattr(row, n) for n in names) for row in [*r.rows, r.total]}


def test_a_station_by_day(store: Store) -> None:
    r = report(store, "station", "cs-a", "2026-11-01", "2026-11-03", "day")
    assert columns(r, "visits", "unique_workers", "refused") == {
        # Nov 1 starts at 16:00 UTC on Oct 31: w6 at 00:30 local is in, w7 at 23:59 is not.
        "2026-11-01": (3, 3, 0),
        # w3 came at 01:00 local on Nov 2, still Nov 1 in UTC; w2 came twice.
        "2026-11-02": (4, 3, 3),
        # w9 came at 00:00 local on Nov 4: after the range.
        "2026-11-03": (1, 1, 0),
        "total": (8, 5, 3),
    }
    assert columns(r, "stays", "stay_median_s", "stay_p90_s") == {
        # w2's stay from 23:30 to 01:30 counts for the day it began.
        "2026-11-01": (3, 3600, 7200),
        # w2's first entry of the day had no exit before the next entry: no stay.
        "2026-11-02": (3, 1800, 14400),
        # w8's exit is after the range ends, and still found.
        "2026-11-03": (1, 1800, 1800),
        "total": (7, 1800, 14400),
    }
    assert r.rows[1].refused_by_reason == {"full": 2, "expired": 1}
    assert r.total.refused_by_reason == {"full": 2, "expired": 1}
    assert r.reasons == ["full", "expired"]
    assert r.time_zones == ["Asia/Shanghai"]


def test_the_heat_map_is_in_station_time(store: Store) -> None:
    r = report(store, "station", "cs-a", "2026-11-01", "2026-11-03", "day")
    # 2026-11-01 is a Sunday (6), Nov 2 a Monday (0), Nov 3 a Tuesday (1).
    expected = {
        (6, 0): 1,
        (6, 9): 1,
        (6, 23): 1,
        (0, 1): 1,
        (0, 10): 1,
        (0, 16): 1,
        (0, 17): 1,
        (1, 23): 1,
    }
    found = {(d, h): n for d, hours in enumerate(r.heat_map) for h, n in enumerate(hours) if n}
    assert found == expected
    assert sum(map(sum, r.heat_map)) == r.total.visits


def test_weeks_start_on_monday_and_months_on_the_first(store: Store) -> None:
    weeks = report(store, "station", "cs-a", "2026-11-01", "2026-11-03", "week")
    assert columns(weeks, "visits", "unique_workers", "stays", "stay_median_s") == {
        "2026-10-26": (3, 3, 3, 3600),  # only Sunday Nov 1 of that week is in the range
        "2026-11-02": (5, 4, 4, 1800),
        "total": (8, 5, 7, 1800),
    }
    months = report(store, "station", "cs-a", "2026-10-01", "2026-11-30", "month")
    assert columns(months, "visits", "unique_workers", "refused") == {
        "2026-10-01": (1, 1, 0),  # w7 at 23:59 on Oct 31
        "2026-11-01": (9, 6, 3),  # and w9 on Nov 4
        "total": (10, 7, 3),
    }


def test_a_district_counts_a_worker_once_across_its_stations(store: Store) -> None:
    r = report(store, "district", "430102", "2026-11-01", "2026-11-03", "day")
    assert columns(r, "visits", "unique_workers", "stays", "stay_median_s", "stay_p90_s")[
        "2026-11-01"
    ] == (4, 3, 4, 1800, 7200)
    assert (r.total.visits, r.total.unique_workers) == (9, 5)
    assert r.stations == [
        StationTotals("cs-a", "五一广场驿站", visits=8, unique_workers=5, refused=3),
        StationTotals("cs-b", "橘子洲驿站", visits=1, unique_workers=1, refused=0),
    ]
    # A city code covers its districts: cs-c (430103) too.
    city = report(store, "district", "430100", "2026-11-01", "2026-11-03", "day")
    assert city.total.visits == 10
    assert [s.station_id for s in city.stations] == ["cs-a", "cs-b", "cs-c"]
    assert reports.district_stations(store.db, 430199) == []


def test_days_follow_the_offset_in_force_when_it_changes(store: Store) -> None:
    r = report(store, "station", "de-1", "2026-03-29", "2026-03-30", "day")
    assert columns(r, "visits") == {"2026-03-29": (2,), "2026-03-30": (1,), "total": (3,)}
    # Sunday 00:30 and 01:30 at UTC+1, Monday 00:30 at UTC+2.
    found = {(d, h): n for d, hours in enumerate(r.heat_map) for h, n in enumerate(hours) if n}
    assert found == {(6, 0): 1, (6, 1): 1, (0, 0): 1}


def test_a_range_without_entries_has_empty_rows(store: Store) -> None:
    r = report(store, "station", "cs-b", "2025-01-01", "2025-01-02", "day")
    assert columns(r, "visits", "unique_workers", "stays", "stay_median_s") == {
        "2025-01-01": (0, 0, 0, None),
        "2025-01-02": (0, 0, 0, None),
        "total": (0, 0, 0, None),
    }
