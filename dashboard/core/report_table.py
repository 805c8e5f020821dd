"""A report as one table of cells, for the CSV and XLSX exports: translated headers, the
local dates periods start on, stays in minutes, one column per refusal reason.

The rows are the periods, then the total, then (for a district) each station's total by
its name. The exports and the API show the same figures: the table is made from the
API's `Report`, never counted again.
"""

from __future__ import annotations

from collections.abc import Callable

from dashboard.core.reports import Report, ReportRow

Translate = Callable[[str], str]

FIGURE_KEYS = (
    "reports.col.visits",
    "reports.col.unique",
    "reports.col.stays",
    "reports.col.median",
    "reports.col.p90",
    "reports.col.refused",
)
"""The headers of the figures every row has, in order, after the name and the period."""


def minutes(seconds: int | None) -> float | None:
    """A stay in minutes, to a tenth."""
    return None if seconds is None else round(seconds / 60, 1)


def header(report: Report, t: Translate) -> list[object]:
    """The table's header row."""
    return [
        t("reports.col.name"),
        t("reports.col.period"),
        *(t(key) for key in FIGURE_KEYS),
        *(t("reason." + reason) for reason in report.reasons),
    ]


def _row(report: Report, name: str, period: str, row: ReportRow) -> list[object]:
    return [
        name,
        period,
        row.visits,
        row.unique_workers,
        row.stays,
        minutes(row.stay_median_s),
        minutes(row.stay_p90_s),
        row.refused,
        *(row.refused_by_reason.get(reason, 0) for reason in report.reasons),
    ]


def table(report: Report, name: str, t: Translate) -> list[list[object]]:
    """The header and every row; `name` is the station's name or the district's code."""
    total = t("reports.total")
    rows: list[list[object]] = [header(report, t)]
    rows += [_row(report, name, row.period, row) for row in report.rows]
    rows.append(_row(report, name, total, report.total))
    if report.scope == "district":
        for station in report.stations:
            cells: list[object] = [station.name, total, station.visits, station.unique_workers]
            cells += [None, None, None, station.refused]
            rows.append(cells + [None] * len(report.reasons))
    return rows


def heat_table(report: Report, t: Translate) -> list[list[object]]:
    """Visits by weekday (rows, Monday first) and hour (columns)."""
    rows: list[list[object]] = [[t("reports.weekday"), *(f"{hour:02d}" for hour in range(24))]]
    for day, hours in enumerate(report.heat_map):
        rows.append([t(f"reports.weekday.{day}"), *hours])
    return rows


def title(report: Report, name: str, t: Translate) -> str:
    """What the report covers, in one line."""
    scope = t("reports.scope." + report.scope)
    period = t("reports.period." + report.period)
    zones = ", ".join(report.time_zones)
    return f"{scope} {name} · {report.first} – {report.last} · {period} · {zones}"
