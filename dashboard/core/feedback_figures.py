"""Workers' fault reports and suggestions in a union report, the pure part: how many were
made per station and category, how many were closed, and the median time to close them,
beside the visits each station served.

A report counts the problems and suggestions *made* on the report's local days (the
same days, stations and time zones as its visits). A problem is closed when its
`worker_report` alert is resolved, and its time to resolve runs from the report to that
resolution (several reports joined in one alert each count their own wait); a suggestion
is closed when an operator answers it done or declined, from its arrival to that answer.
Medians are nearest-rank, as the report's stays: the smallest time whose rank r (1 =
quickest) of n has r >= n / 2, the same on SQLite and PostgreSQL.

The database returns counts per station, kind and category, and for every
station, kind and category the smallest time at or past the median rank of four
groupings (the station's category, the station, the category over all the report's
stations, everything of that kind); the smallest of those is the grouping's median.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dashboard.core.worker_voice import Category, FeedbackKind

if TYPE_CHECKING:
    from dashboard.core.reports import Report

CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
"""Categories in the order the worker's form offers them."""


@dataclass(frozen=True, slots=True)
class FeedbackCount:
    """Reports of one station, kind and category made in the report's range."""

    station_id: str
    kind: str
    category: str
    made: int
    closed: int


@dataclass(frozen=True, slots=True)
class FeedbackMedians:
    """For one station, kind and category: the smallest time to close (seconds) at or
    past the median rank of each grouping it belongs to; None when it has none there."""

    station_id: str
    kind: str
    category: str
    station_category_s: int | None
    station_s: int | None
    category_s: int | None
    kind_s: int | None


@dataclass(frozen=True, slots=True)
class FeedbackRaw:
    """What the database returns for a report's feedback figures."""

    counts: list[FeedbackCount]
    medians: list[FeedbackMedians]


@dataclass(frozen=True, slots=True)
class Handled:
    """Reports of one kind: made in the range, closed since, and the median time to
    close the closed ones (seconds)."""

    made: int = 0
    closed: int = 0
    median_s: int | None = None


@dataclass(frozen=True, slots=True)
class CategoryFigures:
    """Problems and suggestions of one category."""

    category: str
    problems: Handled = Handled()
    suggestions: Handled = Handled()


@dataclass(frozen=True, slots=True)
class StationFeedback:
    """One station: the visits it served beside the problems and suggestions its workers
    made, and those per category (only the categories with any)."""

    station_id: str
    name: str
    visits: int
    problems: Handled
    suggestions: Handled
    categories: list[CategoryFigures] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FeedbackSection:
    """Workers' reports and suggestions over the report's range and stations."""

    visits: int
    problems: Handled
    suggestions: Handled
    categories: list[CategoryFigures]
    """Every category, over all the report's stations."""
    stations: list[StationFeedback]
    """Each station of a district report, by id; empty for a station's report (its
    figures are the totals)."""


def _handled(made: int, closed: int, median_s: int | None) -> Handled:
    return Handled(made, closed, median_s if closed else None)


class _Tally:
    """Counts and median candidates folded up to one grouping's key."""

    def __init__(self) -> None:
        self.made: dict[tuple[str, ...], int] = defaultdict(int)
        self.closed: dict[tuple[str, ...], int] = defaultdict(int)
        self.median: dict[tuple[str, ...], int] = {}

    def count(self, key: tuple[str, ...], made: int, closed: int) -> None:
        self.made[key] += made
        self.closed[key] += closed

    def candidate(self, key: tuple[str, ...], seconds: int | None) -> None:
        if seconds is not None:
            self.median[key] = min(seconds, self.median.get(key, seconds))

    def handled(self, key: tuple[str, ...]) -> Handled:
        return _handled(self.made.get(key, 0), self.closed.get(key, 0), self.median.get(key))


def _categories(tally: _Tally, prefix: tuple[str, ...], every: bool) -> list[CategoryFigures]:
    found = []
    for category in CATEGORIES:
        problems = tally.handled((*prefix, FeedbackKind.PROBLEM.value, category))
        suggestions = tally.handled((*prefix, FeedbackKind.SUGGESTION.value, category))
        if every or problems.made or suggestions.made:
            found.append(CategoryFigures(category, problems, suggestions))
    return found


def section(
    raw: FeedbackRaw, stations: Iterable[tuple[str, str, int]], visits: int, district: bool
) -> FeedbackSection:
    """The section of a report made of what the database counted; `stations` are the
    report's (id, name, visits), `visits` the report's total."""
    tally = _Tally()
    for c in raw.counts:
        for key in (
            (c.station_id, c.kind, c.category),
            (c.station_id, c.kind),
            ("", c.kind, c.category),
            ("", c.kind),
        ):
            tally.count(key, c.made, c.closed)
    for m in raw.medians:
        tally.candidate((m.station_id, m.kind, m.category), m.station_category_s)
        tally.candidate((m.station_id, m.kind), m.station_s)
        tally.candidate(("", m.kind, m.category), m.category_s)
        tally.candidate(("", m.kind), m.kind_s)
    problem, suggestion = FeedbackKind.PROBLEM.value, FeedbackKind.SUGGESTION.value
    per_station = [
        StationFeedback(
            station_id=station_id,
            name=name,
            visits=station_visits,
            problems=tally.handled((station_id, problem)),
            suggestions=tally.handled((station_id, suggestion)),
            categories=_categories(tally, (station_id,), every=False),
        )
        for station_id, name, station_visits in sorted(stations)
    ]
    return FeedbackSection(
        visits=visits,
        problems=tally.handled(("", problem)),
        suggestions=tally.handled(("", suggestion)),
        categories=_categories(tally, ("",), every=True),
        stations=per_station if district else [],
    )


def with_feedback(report: Report, raw: FeedbackRaw) -> Report:
    """`report` with its feedback section, each station's beside its visits."""
    stations = [(s.station_id, s.name, s.visits) for s in report.stations]
    made = section(raw, stations, report.total.visits, report.scope == "district")
    return replace(report, feedback=made)
