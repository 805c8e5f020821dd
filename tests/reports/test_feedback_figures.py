"""Workers' reports and suggestions in a report, on SQLite and on PostgreSQL, against the
hand-made figures of `tests.reports.feedback_data`: days in station time, several reports
in one alert each waiting their own time, nearest-rank medians, answers that close a
suggestion and one that does not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.core.feedback_figures import CATEGORIES, CategoryFigures, FeedbackSection, Handled
from dashboard.services.reports import Scope
from dashboard.storage.store import Store
from tests.reports.data import load, report
from tests.reports.feedback_data import load_feedback


@pytest.fixture()
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    load(opened)
    load_feedback(opened)
    yield opened
    opened.close()


def section(store: Store, scope: Scope, scope_id: str, first: str, last: str) -> FeedbackSection:
    made = report(store, scope, scope_id, first, last).feedback
    assert made is not None
    return made


def test_a_district_per_station_and_category(store: Store) -> None:
    made = section(store, "district", "430102", "2026-11-01", "2026-11-03")
    # Problems: cs-a's safety at 00:30 on Nov 1 (its 23:59 one is Oct 31), two door
    # reports in one alert (waits 7200 and 3600), water (36000); cs-b's door, open.
    assert made.problems == Handled(made=5, closed=3, median_s=7200)
    # Suggestions: done after 86400 and 3600, declined after 7200; one only in progress.
    assert made.suggestions == Handled(made=4, closed=3, median_s=7200)
    assert made.visits == 9
    by_category = {c.category: c for c in made.categories}
    assert list(by_category) == list(CATEGORIES)
    assert by_category["door"] == CategoryFigures("door", Handled(3, 2, 3600), Handled())
    assert by_category["water"].problems == Handled(1, 1, 36000)
    assert by_category["safety"].problems == Handled(1, 0, None)
    assert by_category["other"].suggestions == Handled(3, 2, 3600)
    assert by_category["power"] == CategoryFigures("power")  # Nov 4 local: after

    a, b = made.stations
    assert (a.station_id, a.visits, b.station_id, b.visits) == ("cs-a", 8, "cs-b", 1)
    assert a.problems == Handled(4, 3, 7200)
    assert a.suggestions == Handled(2, 2, 7200)
    assert [c.category for c in a.categories] == ["door", "water", "cleanliness", "safety", "other"]
    assert a.categories[0].problems == Handled(2, 2, 3600)
    assert b.problems == Handled(1, 0, None)
    assert b.suggestions == Handled(2, 1, 3600)
    assert b.categories == [
        CategoryFigures("door", Handled(1, 0, None)),
        CategoryFigures("other", Handled(), Handled(2, 1, 3600)),
    ]


def test_a_station_has_its_totals_and_no_station_list(store: Store) -> None:
    made = section(store, "station", "cs-b", "2026-11-02", "2026-11-02")
    # Local Nov 2: the door report of 00:30 and the suggestion answered within the hour.
    assert made.stations == []
    assert made.problems == Handled(1, 0, None)
    assert made.suggestions == Handled(1, 1, 3600)
    assert made.visits == 0


def test_a_range_without_reports_has_zeros(store: Store) -> None:
    made = section(store, "district", "430102", "2026-12-01", "2026-12-31")
    assert made.problems == made.suggestions == Handled()
    assert all(c == CategoryFigures(c.category) for c in made.categories)
    assert [s.categories for s in made.stations] == [[], []]
