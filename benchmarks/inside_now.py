"""Who is inside a station now, on a province's day of entries: the query behind
`GET /api/stations/{id}/inside` and the station page's list.

`python -m benchmarks.inside_now` fills a SQLite database (the embedded default) with a
day of granted scans: 10,000 workers visiting 200 stations, 100,000 entries and exits,
each worker's visits in time order, some leaving through the exit button (no exit
scan). It then asks every station who is inside (24-hour look-back), once with the index
`entries_by_worker (worker_id, at)` the migration adds and once without it (dropped in
the same run, asking only the first few stations: without it each takes seconds), and
prints the latency percentiles of both.

The station page reads the list every 5 s while it is open; the aim is a p99 under
50 ms with the index. Writes `benchmarks/results/inside_now.json`.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from benchmarks.report import machine, percentiles, write_results
from contract.payloads import format_utc, utc_now
from dashboard.storage.db import Database
from dashboard.storage.inside import inside
from dashboard.storage.migrations import open_database

WORKERS = 10_000
STATIONS = 200
SCANS = 100_000
BASELINE_STATIONS = 3
"""Without the index each station takes seconds: the baseline asks only this many."""
FLOOR_P99_MS = 50.0


def fill(database: Database, rng: random.Random) -> int:
    """A day of visits; how many entries were written."""
    now = utc_now()
    start = now - timedelta(hours=23)
    rows = []
    per_worker = SCANS // WORKERS
    for worker in range(1, WORKERS + 1):
        at = start + timedelta(seconds=rng.uniform(0, 3600))
        for visit in range(per_worker // 2):
            station = f"st-{rng.randrange(STATIONS):04d}"
            rows.append((f"w{worker}", station, "in", at))
            at += timedelta(minutes=rng.uniform(10, 90))
            # One visit in five ends at the exit button (no scan names the worker); of
            # the day's last visits, three in ten are still going on.
            last = visit == per_worker // 2 - 1 or at >= now
            if rng.random() > (0.3 if last else 0.2):
                rows.append((f"w{worker}", station, "out", at))
            at += timedelta(minutes=rng.uniform(5, 60))
            if at >= now:
                break
    with database.transaction() as db:
        for number, (worker_id, station, direction, at) in enumerate(rows):
            event_id = f"e{number:08d}"
            stamp = format_utc(min(at, now))
            db.execute(
                "INSERT INTO events (event_id, kind, station_id, gateway_id, seq, at, "
                "received_at, payload) VALUES (?, 'access', ?, 'gw-1', ?, ?, ?, '{}')",
                (event_id, station, number, stamp, stamp),
            )
            db.execute(
                "INSERT INTO entries (event_id, station_id, gateway_id, seq, at, door_id, "
                "direction, credential, worker_id, decision, reason) "
                "VALUES (?, ?, 'gw-1', ?, ?, 'main', ?, 'qr', ?, 'granted', 'granted')",
                (event_id, station, number, stamp, direction, worker_id),
            )
    return len(rows)


def measure(database: Database, stations: int) -> tuple[list[float], int]:
    """Milliseconds per station asked (the first `stations`), and how many workers were
    inside them in all."""
    since = format_utc(utc_now() - timedelta(hours=24))
    samples, total = [], 0
    for station in range(stations):
        began = time.perf_counter()
        found = inside(database, f"st-{station:04d}", since, 200)
        samples.append((time.perf_counter() - began) * 1000)
        total += len(found)
    return samples, total


def main() -> int:
    """Fill, measure with and without the index, report."""
    rng = random.Random(15)
    with tempfile.TemporaryDirectory() as folder:
        database = open_database(f"sqlite:///{Path(folder) / 'inside.db'}")
        try:
            began = time.perf_counter()
            entries = fill(database, rng)
            with database.transaction() as db:
                db.execute("ANALYZE")
            print(f"filled in {time.perf_counter() - began:.1f} s", flush=True)
            indexed, inside_total = measure(database, STATIONS)
            _, sampled_total = measure(database, BASELINE_STATIONS)
            with database.transaction() as db:
                db.execute("DROP INDEX entries_by_worker")
            baseline, baseline_total = measure(database, BASELINE_STATIONS)
        finally:
            database.close()
    assert baseline_total == sampled_total, "the index changed the answer"
    with_index, without_index = percentiles(indexed), percentiles(baseline)
    met = with_index["p99"] < FLOOR_P99_MS
    print(
        f"{entries} entries, {WORKERS} workers, {STATIONS} stations; "
        f"{inside_total} workers inside in all"
    )
    for label, figures in (
        ("with entries_by_worker", with_index),
        ("without (baseline)", without_index),
    ):
        print(
            f"  {label:24} p50 {figures['p50']:8.2f} ms  p99 {figures['p99']:8.2f} ms  "
            f"max {figures['max']:8.2f} ms"
        )
    print(f"aim p99 < {FLOOR_P99_MS} ms with the index: {'met' if met else 'MISSED'}")
    write_results(
        "inside_now",
        {
            "machine": machine(),
            "entries": entries,
            "workers": WORKERS,
            "stations": STATIONS,
            "inside": inside_total,
            "with_index_ms": with_index,
            "without_index_ms": without_index,
            "floor_p99_ms": FLOOR_P99_MS,
            "floor_met": met,
        },
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
