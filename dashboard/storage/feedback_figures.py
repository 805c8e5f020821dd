"""Workers' reports and suggestions in a union report: counted by the database from
`worker_feedback` and the alerts its problems opened.

Reads only. Two statements, both SQL aggregates that SQLite and PostgreSQL compute
alike: reports made and closed per station, kind and category; and the medians of the
time to close them, ranked with `row_number()` and `count(*)` windows as the report's
stays are (SQLite has no `percentile_cont`; the rule is in
`dashboard.core.feedback_figures`). The report's stations, local days and time zones
come from `dashboard.storage.reports.range_sql`, so both parts cover the same range.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from dashboard.core.feedback_figures import FeedbackCount, FeedbackMedians, FeedbackRaw
from dashboard.core.reports import StationZone
from dashboard.core.worker_voice import FeedbackKind, FeedbackStatus
from dashboard.storage.db import Database
from dashboard.storage.reports import range_sql

# A report's creation time as `at`, for the range's SQL, and when it was closed: its
# alert's resolution for a problem, the answer for a suggestion answered done or declined.
_FEEDBACK = f"""
    feedback AS (
        SELECT f.station_id, f.created_at AS at, f.kind, f.category,
            CASE WHEN f.kind = '{FeedbackKind.PROBLEM.value}' THEN a.resolved_at
                WHEN f.status IN ('{FeedbackStatus.DONE.value}',
                    '{FeedbackStatus.DECLINED.value}') THEN f.replied_at
            END AS closed_at
        FROM worker_feedback f LEFT JOIN alerts a ON a.id = f.alert_id
    )"""

_GROUPINGS = (
    "station_id, kind, category",
    "station_id, kind",
    "kind, category",
    "kind",
)
"""The groupings a median is taken over, in `FeedbackMedians`' order."""


def figures(
    database: Database, stations: Sequence[StationZone], first: date, last: date
) -> FeedbackRaw:
    """Reports and suggestions made at `stations` on the local days `first`..`last`."""
    with database.connection() as db:
        scope = range_sql(db, stations, first, last, "day")
        counts = db.execute(
            f"WITH {_FEEDBACK} SELECT station_id, kind, category, count(*), count(closed_at)"
            f" FROM feedback WHERE {scope.where} GROUP BY station_id, kind, category",
            scope.where_params,
        ).fetchall()
        if db.dialect == "sqlite":
            seconds = "CAST(round((julianday(closed_at) - julianday(at)) * 86400) AS INTEGER)"
        else:
            seconds = (
                "CAST(round(extract(epoch FROM closed_at::timestamptz - at::timestamptz))"
                " AS BIGINT)"
            )
        windows = ",\n".join(
            f"row_number() OVER (PARTITION BY {g} ORDER BY wait) AS r{i},"
            f" count(*) OVER (PARTITION BY {g}) AS n{i}"
            for i, g in enumerate(_GROUPINGS)
        )
        medians_at = ", ".join(
            f"min(CASE WHEN r{i} >= 0.5 * n{i} THEN wait END)" for i in range(len(_GROUPINGS))
        )
        medians = db.execute(
            f"""
            WITH {_FEEDBACK}, waits AS (
                SELECT station_id, kind, category, {seconds} AS wait FROM feedback
                WHERE closed_at IS NOT NULL AND {scope.where}
            ), ranked AS (
                SELECT station_id, kind, category, wait, {windows} FROM waits
            )
            SELECT station_id, kind, category, {medians_at}
            FROM ranked GROUP BY station_id, kind, category
            """,
            scope.where_params,
        ).fetchall()
    return FeedbackRaw(
        counts=[
            FeedbackCount(str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4])) for r in counts
        ],
        medians=[
            FeedbackMedians(
                str(r[0]),
                str(r[1]),
                str(r[2]),
                _maybe(r[3]),
                _maybe(r[4]),
                _maybe(r[5]),
                _maybe(r[6]),
            )
            for r in medians
        ],
    )


def _maybe(value: int | None) -> int | None:
    return None if value is None else int(value)
