"""What the ingest writer costs per event, without the broker: CPU of the writer itself and,
on PostgreSQL, of the server process that serves it.

`python -m benchmarks.ingest_writer [--events N] [--no-postgres]`

The same traffic as `benchmarks.ingest` (200 stations, mostly access decisions) goes in
batches of `MAX_BATCH` through `write_batch`, the writer process's whole job, on a fresh
database. Wall-clock rates follow whatever else the machine runs; CPU time per event
much less so, which makes this the figure to compare changes to the storage layer by
(`benchmarks.ingest` holds the floors). On PostgreSQL the server's CPU is read from
/proc for the backend that served the writer's connection.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.ingest import sample_events
from benchmarks.report import machine, write_results
from dashboard.core.changes import AlertThresholds
from dashboard.ingest.pipeline import MAX_BATCH
from dashboard.ingest.writer import RawMessage, write_batch
from dashboard.storage.db import Database
from dashboard.storage.migrations import open_database

EVENTS = 30_000


def process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pid(database: Database) -> int | None:
    """The server process behind the pooled connection the writer will use (PostgreSQL)."""
    if database.dialect != "postgresql":
        return None
    with database.connection() as db:
        return int(db.execute("SELECT pg_backend_pid()").fetchone()[0])


def measure(url: str, messages: list[RawMessage]) -> dict[str, Any]:
    """Write `messages` in batches into the database at `url`; rate and CPU per event."""
    database = open_database(url, autocheckpoint=False)
    try:
        server = backend_pid(database)
        batches = [messages[i : i + MAX_BATCH] for i in range(0, len(messages), MAX_BATCH)]
        thresholds = AlertThresholds()
        server_before = process_cpu_s(server) if server is not None else 0.0
        cpu_before, start = time.process_time(), time.perf_counter()
        for batch in batches:
            write_batch(database, thresholds, batch)
        elapsed = time.perf_counter() - start
        writer_cpu = time.process_time() - cpu_before
        server_cpu = process_cpu_s(server) - server_before if server is not None else 0.0
    finally:
        database.close()
    count = len(messages)
    return {
        "events": count,
        "rate": count / elapsed,
        "writer_cpu_us": 1e6 * writer_cpu / count,
        "server_cpu_us": 1e6 * server_cpu / count if server is not None else None,
    }


def run(events: int, postgres: bool) -> dict[str, Any]:
    """SQLite, and PostgreSQL when asked."""
    messages = [RawMessage(topic, payload) for topic, payload in sample_events(events)]
    results: dict[str, Any] = {"machine": machine(), "batch": MAX_BATCH}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(f"sqlite:///{Path(tmp) / 'central.db'}", messages)
    if postgres:
        from tests.support.postgres import PostgresServer

        server = PostgresServer.start()
        try:
            results["postgresql"] = measure(server.create_database(), messages)
        finally:
            server.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    """Print the figures and write `benchmarks/results/ingest_writer.json`. No floor: the
    floors are `benchmarks.ingest`'s, end to end."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest_writer")
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.events, not args.no_postgres)
    for name in ("sqlite", "postgresql"):
        if name in results:
            r = results[name]
            server = "" if r["server_cpu_us"] is None else f", server {r['server_cpu_us']:.1f}"
            print(
                f"{name:10s} {r['rate']:8.0f} events/s   CPU per event: writer "
                f"{r['writer_cpu_us']:.1f}{server} µs"
            )
    print(f"results: {write_results('ingest_writer', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
