"""A report's workers' reports and suggestions as one table of cells, for the CSV and XLSX
exports: translated headers, times to close in hours.

For a district, each station's row (all categories, beside its visits) and then its
categories that had any; last the whole report's row and every category. The table is
made from the API's `Report`, never counted again.
"""

from __future__ import annotations

from dashboard.core.feedback_figures import CategoryFigures, FeedbackSection, Handled
from dashboard.core.report_table import Translate
from dashboard.core.reports import Report

HEADER_KEYS = (
    "reports.col.name",
    "reports.station_id",
    "feedback.category",
    "reports.col.visits",
    "reports.fb.problems",
    "reports.fb.resolved",
    "reports.fb.resolve_median",
    "reports.fb.suggestions",
    "reports.fb.answered",
    "reports.fb.answer_median",
)


def hours(seconds: int | None) -> float | None:
    """A time to close in hours, to a tenth."""
    return None if seconds is None else round(seconds / 3600, 1)


def _line(
    name: str,
    station_id: str | None,
    category: str,
    visits: int | None,
    problems: Handled,
    suggestions: Handled,
) -> list[object]:
    return [
        name,
        station_id,
        category,
        visits,
        problems.made,
        problems.closed,
        hours(problems.median_s),
        suggestions.made,
        suggestions.closed,
        hours(suggestions.median_s),
    ]


def _categories(
    name: str, station_id: str | None, found: list[CategoryFigures], t: Translate
) -> list[list[object]]:
    def label(c: CategoryFigures) -> str:
        return t("feedback.category." + c.category)

    return [_line(name, station_id, label(c), None, c.problems, c.suggestions) for c in found]


def feedback_table(report: Report, name: str, t: Translate) -> list[list[object]]:
    """The header and every row; `name` is the station's name or the district's code.
    Only the header when the report has no feedback section."""
    rows: list[list[object]] = [[t(key) for key in HEADER_KEYS]]
    made: FeedbackSection | None = report.feedback
    if made is None:
        return rows
    every = t("reports.fb.all")
    for s in made.stations:
        rows.append(_line(s.name, s.station_id, every, s.visits, s.problems, s.suggestions))
        rows += _categories(s.name, s.station_id, s.categories, t)
    scope_id = report.id if report.scope == "station" else None
    rows.append(_line(name, scope_id, every, made.visits, made.problems, made.suggestions))
    rows += _categories(name, scope_id, made.categories, t)
    return rows
