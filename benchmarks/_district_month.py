"""One district's figures for November over a year of generated rows: the shared harness.

The benchmarks of what `/api/reports` computes for a district's month (the report itself
in `benchmarks.reports`, the workers' reports and suggestions in
`benchmarks.feedback_figures`) measure the same way and differ only in the rows they
generate and what they time. This module holds the way: the registry, the database
generated once into a cache under the temporary directory (a SQLite file, a PostgreSQL
cluster kept between runs), the timing loop (one warm run then `RUNS`; wall time and CPU
time, this process's plus the PostgreSQL backend's), the same-run baseline of one
`count(*)` of the rows read, the command line and the results file; and the SQL
fragments both generators build their rows from. Each benchmark describes itself with a
`Benchmark` and hands it to `run`. (The leading underscore keeps `python -m benchmarks`,
which runs every other module's `main()`, from taking this one for a benchmark.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Generic, TypeVar

from benchmarks.ingest_writer import backend_pid, process_cpu_s
from benchmarks.report import machine, write_results
from contract.payloads import format_utc
from dashboard.core.reports import StationZone, local_bounds
from dashboard.storage import reports
from dashboard.storage.db import Connection, Database
from dashboard.storage.migrations import open_database
from tests.support.postgres import PostgresServer

STATIONS = 1_000
DISTRICTS = 10
DISTRICT = 430101
"""The district timed: a tenth of the stations by default."""
RUNS = 5
FIRST, LAST = date(2026, 11, 1), date(2026, 11, 30)
YEAR_START = 1767196800  # 2026-01-01T00:00:00Z
YEAR_S = 365 * 86400
CACHE = Path(tempfile.gettempdir()) / "yizhan-bench-reports"

Figures = TypeVar("Figures")


@dataclass(frozen=True)
class Benchmark(Generic[Figures]):
    """One benchmark of a district's month: what it generates, times and prints."""

    name: str
    """`python -m benchmarks.<name>`, and `benchmarks/results/<name>.json`."""
    what: str
    """What is timed, as printed: "monthly report"."""
    noun: str
    """What the generated rows are, as printed: "entries"."""
    rows: int
    """How many rows over the year by default."""
    floor_s: float
    """The median each database must stay under."""
    cache: str
    """The cache key's start, with the format number bumped when the generated data
    changes so that an old cache is not reused: "f1"."""
    generate: Callable[[Database, int, int, int], None]
    """Fill a fresh database: (database, rows, stations, districts)."""
    compute: Callable[[Database, list[StationZone]], Figures]
    """What is timed: the figures of the district's stations for `FIRST`..`LAST`."""
    summarise: Callable[[Figures], dict[str, Any]]
    """The figures' fields in the results, to see that they are real."""
    table: str
    """The table the baseline counts the district's month of rows in..."""
    at: str
    """...by this column, UTC text."""
    report: str = f"district {DISTRICT}, {FIRST} to {LAST}"
    """What is timed, in the results file."""


def register(db: Connection, stations: int, districts: int) -> None:
    """The registry: station s in district 430101 + s % districts, Asia/Shanghai."""
    db.executemany(
        "INSERT INTO stations (id, name, number, region_code, registered) VALUES (?, ?, ?, ?, 1)",
        [(f"bs-{s:04d}", f"驿站 {s}", s + 1, DISTRICT + s % districts) for s in range(stations)],
    )


def numbers(dialect: str, count: int) -> str:
    """A SELECT of `{columns}` (to fill with `str.format`) over n = 0..count-1."""
    if dialect == "sqlite":
        return (
            f"WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {count - 1})"
            " SELECT {columns} FROM s"
        )
    return f"SELECT {{columns}} FROM generate_series(0::bigint, {count - 1}) AS g(n)"


def padded(dialect: str, number: str, width: int) -> str:
    """The integer `number` as text, zero-padded to `width` digits."""
    if dialect == "sqlite":
        return f"printf('%0{width}d', {number})"
    return f"lpad(({number})::text, {width}, '0')"


def station_id(dialect: str, stations: int) -> str:
    """Row n's station, one of those `register` wrote: n % stations."""
    return f"'bs-' || {padded(dialect, f'n % {stations}', 4)}"


def utc_text(dialect: str, epoch: str) -> str:
    """The epoch seconds `epoch` as the UTC text the tables hold (`format_utc`)."""
    if dialect == "sqlite":
        return f"strftime('%Y-%m-%dT%H:%M:%S.000Z', {epoch}, 'unixepoch')"
    return f"to_char(to_timestamp({epoch}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"


def timed(
    benchmark: Benchmark[Figures], database: Database, stations: int, districts: int
) -> dict[str, Any]:
    """Time the benchmark's figures of district 430101 for November, and the baseline."""
    found = reports.district_stations(database, DISTRICT)
    assert len(found) == stations // districts + (1 if stations % districts else 0)
    times: list[float] = []
    cpus: list[float] = []
    computed: Figures | None = None
    server = backend_pid(database)
    for _ in range(RUNS + 1):
        server_before = process_cpu_s(server) if server is not None else 0.0
        cpu_before, started = time.process_time(), time.perf_counter()
        computed = benchmark.compute(database, found)
        times.append(time.perf_counter() - started)
        server_cpu = process_cpu_s(server) - server_before if server is not None else 0.0
        cpus.append(time.process_time() - cpu_before + server_cpu)
    assert computed is not None
    since, until = local_bounds("Asia/Shanghai", FIRST, LAST)
    with database.connection() as db:
        among, values = db.among(s.id for s in found)
        started = time.perf_counter()
        scanned = db.execute(
            f"SELECT count(*) FROM {benchmark.table} WHERE station_id {among}"
            f" AND {benchmark.at} >= ? AND {benchmark.at} < ?",
            [*values, format_utc(since), format_utc(until)],
        ).fetchone()[0]
        baseline = time.perf_counter() - started
    median = statistics.median(times[1:])
    return {
        "stations": len(found),
        "rows_in_report": int(scanned),
        **benchmark.summarise(computed),
        "cpu_median_s": statistics.median(cpus[1:]),
        "load_average": os.getloadavg()[0],
        "first_run_s": times[0],
        "median_s": median,
        "max_s": max(times[1:]),
        "baseline_count_s": baseline,
        "floor_s": benchmark.floor_s,
        "floor_met": median < benchmark.floor_s,
    }


def _key(benchmark: Benchmark[Any], rows: int, stations: int, districts: int) -> str:
    return f"{benchmark.cache}-r{rows}-s{stations}-d{districts}"


def on_sqlite(
    benchmark: Benchmark[Any], rows: int, stations: int, districts: int
) -> dict[str, Any]:
    """Generate (or reuse) the SQLite file, then time the figures."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{_key(benchmark, rows, stations, districts)}.db"
    if not path.exists():
        print(f"generating {path} (once)", flush=True)
        partial = path.with_suffix(".partial")
        for leftover in CACHE.glob(partial.name + "*"):
            leftover.unlink()
        database = open_database(f"sqlite:///{partial}")
        benchmark.generate(database, rows, stations, districts)
        database.close()
        partial.rename(path)
    database = open_database(f"sqlite:///{path}")
    try:
        return timed(benchmark, database, stations, districts)
    finally:
        database.close()


def on_postgresql(
    benchmark: Benchmark[Any], rows: int, stations: int, districts: int
) -> dict[str, Any]:
    """Generate (or reuse) the database in a cached cluster, then time the figures."""
    directory = CACHE / f"pg-{_key(benchmark, rows, stations, districts)}"
    marker = directory / "generated"
    if directory.exists() and not marker.exists():
        shutil.rmtree(directory)  # an interrupted generation
    cluster = PostgresServer.in_directory(directory, settings="-c shared_buffers=512MB")
    try:
        database = open_database(cluster.admin_url)
        try:
            if not marker.exists():
                print(f"generating PostgreSQL database in {directory} (once)", flush=True)
                benchmark.generate(database, rows, stations, districts)
                marker.write_text("ok\n")
            result = timed(benchmark, database, stations, districts)
            result["server"] = "local cluster (fsync off, shared_buffers 512MB)"
            return result
        finally:
            database.close()
    finally:
        cluster.stop(keep=True)


def run(benchmark: Benchmark[Any], argv: list[str] | None = None) -> int:
    """Print the figures and whether each database met the floor, write
    `benchmarks/results/<name>.json`; 1 if a floor is missed."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{benchmark.name}")
    parser.add_argument(
        "--rows", type=int, default=benchmark.rows, help=f"{benchmark.noun} over the year"
    )
    parser.add_argument("--stations", type=int, default=STATIONS)
    parser.add_argument("--districts", type=int, default=DISTRICTS)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "machine": machine(),
        "rows": args.rows,
        "stations": args.stations,
        "districts": args.districts,
        "report": benchmark.report,
    }
    results["sqlite"] = on_sqlite(benchmark, args.rows, args.stations, args.districts)
    if not args.no_postgres:
        results["postgresql"] = on_postgresql(benchmark, args.rows, args.stations, args.districts)
    met = True
    print(f"{args.rows:,} {benchmark.noun}, {args.stations:,} stations, {args.districts} districts")
    for name in ("sqlite", "postgresql"):
        if name not in results:
            continue
        r = results[name]
        met &= r["floor_met"]
        print(
            f"{name}: {benchmark.what} of {r['stations']} stations ({r['rows_in_report']:,} rows):"
            f" median {r['median_s']:.3f} s, max {r['max_s']:.3f} s, first {r['first_run_s']:.3f} s"
            f" (baseline count(*) {r['baseline_count_s']:.3f} s);"
            f" CPU {r['cpu_median_s']:.3f} s (load average {r['load_average']:.1f});"
            f" floor < {benchmark.floor_s} s {'met' if r['floor_met'] else 'MISSED'}"
        )
    path = write_results(benchmark.name, results)
    print(f"written to {path}")
    return 0 if met else 1
