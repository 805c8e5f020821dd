"""How long a monthly district report takes over a year of entries at a province's scale.

`python -m benchmarks.reports [--rows N] [--stations N] [--districts N] [--no-postgres]`

A year (2026) of entries for 1,000 stations in 10 districts, 30 million rows by default,
is generated inside the database itself (a recursive CTE on SQLite, `generate_series` on
PostgreSQL), with the indexes built after the rows, and kept under the temporary
directory keyed by the parameters, so a second run starts at once. Every pair of rows is
a worker's entry and their exit 10 minutes to 10 hours later; one entry in 20 is refused.
Only `entries` is filled: reports read nothing else (on PostgreSQL the foreign key to
`events` is dropped in this database alone).

Timed: the report of one district (a tenth of the stations) for November, by day, as
`/api/reports` computes it (every statement and the folding), five times after one warm
run; the floor is a median under 2 s on each database. The same-run baseline is the
cheapest possible read of those rows, one `count(*)`. CPU seconds per report (this
process, plus the server's backend on PostgreSQL) are printed too: on a shared machine
the wall time follows the other load, the CPU time much less.

What a report costs follows the rows it reads, not the table's size (every statement
is a range scan of `entries_for_reports` per station): `--rows 3000000 --stations 100
--districts 1` reads as many rows per report (about 250,000) as the full year of 1,000
stations, and generates in a tenth of the time.

The cache, the timing, the command line and the results file are
`benchmarks._district_month`'s, shared with `benchmarks.feedback_figures`; this module
holds what is generated and what is timed.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from typing import Any

from benchmarks._district_month import (
    DISTRICT,
    FIRST,
    LAST,
    YEAR_S,
    YEAR_START,
    Benchmark,
    numbers,
    padded,
    register,
    run,
    station_id,
    utc_text,
)
from dashboard.core.reports import Report, StationZone, fold
from dashboard.storage import events, reports
from dashboard.storage.db import Database


def _insert(dialect: str, direction: str, stations: int, pairs: int) -> str:
    """Pair n's entry (`direction` "in") or exit: its station, worker, time (an entry
    through the year, an exit 10 minutes to 10 hours later), and one entry in 20 refused."""
    at = f"({YEAR_START} + (n * {YEAR_S}) / {pairs})"
    moment = at if direction == "in" else f"({at} + 600 + (n * 104729) % 35400)"
    if direction == "in":
        reasons = "CASE n % 3 WHEN 0 THEN 'full' WHEN 1 THEN 'expired' ELSE 'passback' END"
        decision = "CASE WHEN n % 20 = 0 THEN 'denied' ELSE 'granted' END"
        reason = f"CASE WHEN n % 20 = 0 THEN {reasons} ELSE 'granted' END"
    else:
        decision, reason = "'granted'", "'granted'"
    columns = ", ".join(
        [
            f"'{direction}' || {padded(dialect, 'n', 12)}",
            station_id(dialect, stations),
            "'gw-1'",
            "n",
            utc_text(dialect, moment),
            "'main'",
            f"'{direction}'",
            "'qr'",
            "'w' || (((n * 7919) % 60000) + 1)",
            decision,
            reason,
        ]
    )
    sql = (
        "INSERT INTO entries (event_id, station_id, gateway_id, seq, at, door_id, direction,"
        " credential, worker_id, decision, reason) "
        + numbers(dialect, pairs).format(columns=columns)
    )
    # psycopg reads `%` as the start of a placeholder.
    return sql if dialect == "sqlite" else sql.replace("%", "%%")


def generate(database: Database, rows: int, stations: int, districts: int) -> None:
    """Fill a fresh database with the registry and `rows` entries, indexes built last."""
    pairs = rows // 2
    with database.transaction() as db:
        register(db, stations, districts)
        if db.dialect == "sqlite":
            query = "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            query += " AND tbl_name = 'entries' AND sql IS NOT NULL"
        else:
            query = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'entries'"
            query += " AND indexname <> 'entries_pkey'"
            db.execute("ALTER TABLE entries DROP CONSTRAINT IF EXISTS entries_event_id_fkey")
        indexes = [(r[0], r[1]) for r in db.execute(query).fetchall()]
        for name, _ in indexes:
            db.execute(f"DROP INDEX {name}")
    with database.connection() as db:
        # PostgreSQL keeps entries in monthly partitions: the year's, and the months on
        # either side (local midnight of 1 January is still December in UTC).
        year = [date(2026, m, 1) for m in range(1, 13)]
        events.prepare_months(db, [date(2025, 12, 1), *year, date(2027, 1, 1)])
    for direction in ("in", "out"):
        started = time.perf_counter()
        with database.connection() as db:
            # One statement, its own transaction; SQLite checks foreign keys per
            # connection, and these rows have no events to point at.
            if db.dialect == "sqlite":
                db.execute("PRAGMA foreign_keys=OFF")
            db.execute(_insert(database.dialect, direction, stations, pairs))
            if db.dialect == "sqlite":
                db.execute("PRAGMA foreign_keys=ON")
        print(f"  {pairs:,} {direction} rows in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    with database.connection() as db:
        if db.dialect == "postgresql":
            db.execute("SET maintenance_work_mem = '512MB'")
        for _, sql in indexes:
            db.execute(sql)
        db.execute("ANALYZE")
    print(f"  indexes in {time.perf_counter() - started:.0f} s", flush=True)


def _report(database: Database, found: list[StationZone]) -> Report:
    figures = reports.figures(database, found, FIRST, LAST, "day")
    return fold(figures, "district", str(DISTRICT), "day", FIRST, LAST, ["Asia/Shanghai"])


def _summary(report: Report) -> dict[str, Any]:
    return {
        "visits": report.total.visits,
        "unique_workers": report.total.unique_workers,
        "stay_median_s": report.total.stay_median_s,
    }


BENCHMARK = Benchmark(
    name="reports",
    what="monthly report",
    noun="entries",
    rows=30_000_000,
    floor_s=2.0,
    cache="f1",  # bumped when the generated data changes, so an old cache is not reused
    generate=generate,
    compute=_report,
    summarise=_summary,
    table="entries",
    at="at",
    report=f"district {DISTRICT}, {FIRST} to {LAST}, by day",
)


def main(argv: list[str] | None = None) -> int:
    """Print the figures and whether each database met the floor, write
    `benchmarks/results/reports.json`; 1 if a floor is missed."""
    return run(BENCHMARK, argv)


if __name__ == "__main__":
    sys.exit(main())
