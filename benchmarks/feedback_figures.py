"""How long a report's workers' reports and suggestions take over a year of them.

`python -m benchmarks.feedback_figures [--rows N] [--stations N] [--districts N] [--no-postgres]`

A year (2026) of reports for 1,000 stations in 10 districts, 1 million by default (far
more than workers are expected to send: a report for every 30 entries of the reports
benchmark), generated inside the database like `benchmarks.reports` does and kept under
the temporary directory keyed by the parameters. Half are problems, each with its own
`worker_report` alert, two in three resolved within two days; half suggestions, half of
them answered done or declined within a week.

Timed: the feedback figures of one district (a tenth of the stations) for November, as
`/api/reports` computes them (both statements and the folding), five times after one
warm run; the floor is a median under 0.5 s on each database, a quarter of the whole
report's floor. The same-run baseline is one `count(*)` of those rows. CPU seconds per
run (this process, plus the server's backend on PostgreSQL) are printed too: on a
shared machine the wall time follows the other load, the CPU time much less.

The cache, the timing, the command line and the results file are
`benchmarks._district_month`'s, shared with `benchmarks.reports`; this module holds what
is generated and what is timed.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from benchmarks._district_month import (
    FIRST,
    LAST,
    YEAR_S,
    YEAR_START,
    Benchmark,
    numbers,
    register,
    run,
    station_id,
    utc_text,
)
from dashboard.core.feedback_figures import CATEGORIES, FeedbackSection, section
from dashboard.core.reports import StationZone
from dashboard.storage import feedback_figures
from dashboard.storage.db import Database


def generate(database: Database, rows: int, stations: int, districts: int) -> None:
    """Fill a fresh database with the registry, the reports and their alerts."""
    dialect = database.dialect
    at = f"({YEAR_START} + (n * {YEAR_S}) / {rows})"
    made = utc_text(dialect, at)
    resolved = utc_text(dialect, f"{at} + (n * 7919) % 172800")
    answered = utc_text(dialect, f"{at} + (n * 104729) % 604800")
    category = "CASE n % 7 " + " ".join(f"WHEN {i} THEN '{c}'" for i, c in enumerate(CATEGORIES))
    station = station_id(dialect, stations)
    # The kind and the answer follow the pass over the stations, not `n` alone: every
    # station gets both kinds (district 430101's stations are all even).
    lap = f"(n / {stations})"
    alerts = numbers(dialect, rows).format(
        columns=", ".join(
            [
                "n + 1",
                "'worker_report'",
                station,
                made,
                f"CASE WHEN n % 3 = 0 THEN NULL ELSE {resolved} END",
                "'bench'",
                "CASE WHEN n % 3 = 0 THEN 'open' ELSE 'resolved' END",
                f"{category} END",
            ]
        )
    )
    feedback = numbers(dialect, rows).format(
        columns=", ".join(
            [
                "n + 1",
                f"CASE WHEN {lap} % 2 = 0 THEN 'problem' ELSE 'suggestion' END",
                station,
                f"{category} END",
                "'bench'",
                "'zh-CN'",
                made,
                f"CASE WHEN {lap} % 2 = 0 THEN n + 1 END",
                f"CASE ({lap} / 2) % 4 WHEN 0 THEN 'done' WHEN 1 THEN 'declined'"
                " WHEN 2 THEN 'in_progress' ELSE 'received' END",
                f"CASE WHEN {lap} % 2 = 1 AND ({lap} / 2) % 4 < 2 THEN {answered} END",
            ]
        )
    )
    with database.transaction() as db:
        register(db, stations, districts)
    started = time.perf_counter()
    with database.transaction() as db:
        statements = [
            "INSERT INTO alerts (id, kind, station_id, opened_at, resolved_at, detail, status,"
            f" subject) {alerts} WHERE {lap} % 2 = 0",
            "INSERT INTO worker_feedback (id, kind, station_id, category, body, lang,"
            f" created_at, alert_id, status, replied_at) {feedback}",
        ]
        for sql in statements:
            # psycopg reads `%` as the start of a placeholder.
            db.execute(sql if dialect == "sqlite" else sql.replace("%", "%%"))
        db.execute("ANALYZE")
    print(f"  {rows:,} reports in {time.perf_counter() - started:.0f} s", flush=True)


def _figures(database: Database, found: list[StationZone]) -> FeedbackSection:
    raw = feedback_figures.figures(database, found, FIRST, LAST)
    return section(raw, [(s.id, s.name, 0) for s in found], 0, district=True)


def _summary(made: FeedbackSection) -> dict[str, Any]:
    return {
        "problems": made.problems.made,
        "problems_resolved": made.problems.closed,
        "resolve_median_s": made.problems.median_s,
        "suggestions": made.suggestions.made,
        "answer_median_s": made.suggestions.median_s,
    }


BENCHMARK = Benchmark(
    name="feedback_figures",
    what="feedback figures",
    noun="reports",
    rows=1_000_000,
    floor_s=0.5,
    cache="feedback-f2",  # bumped when the generated data changes: an old cache is not reused
    generate=generate,
    compute=_figures,
    summarise=_summary,
    table="worker_feedback",
    at="created_at",
)


def main(argv: list[str] | None = None) -> int:
    """Print the figures and whether each database met the floor, write
    `benchmarks/results/feedback_figures.json`; 1 if a floor is missed."""
    return run(BENCHMARK, argv)


if __name__ == "__main__":
    sys.exit(main())
