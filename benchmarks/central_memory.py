"""The central's memory with 10,000 stations loaded: resident set size after describing
them, counting in each (through the ingest and its writer process), and serving the
station list, the compact list and the feed; and the proportional set size of all the
central's processes together.

`python -m benchmarks.central_memory [--stations N]`
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from benchmarks.report import machine, write_results
from contract.payloads import AccessEvent, utc_now
from contract.topics import event_topic
from dashboard.central import Central
from dashboard.core.config import CentralSettings, CredentialSettings, DatabaseSettings
from dashboard.core.stations import StationInput
from servicekit.mqtt_link import Message
from tests.support.operators import authorize

STATIONS = 10_000
CEILING_MB = 500.0


def rss_mb() -> float:
    """Current resident set size in MiB (from /proc, falling back to the peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the ingest's fork server and its writer)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def pss_mb(pid: int) -> float:
    """A process's proportional set size in MiB: pages shared with the other processes
    (a forked writer shares the fork server's modules) are counted once overall."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(count: int) -> dict[str, Any]:
    """Load `count` stations into a central on SQLite and measure."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        central = Central(
            CentralSettings(
                database=DatabaseSettings(path=directory / "c.db"),
                credentials=CredentialSettings(key_dir=directory / "keys"),
            )
        )
        before = rss_mb()
        stations = [
            StationInput(
                id=f"st-{i:05d}",
                name=f"驿站 {i}",
                lat=22 + (i % 1000) / 100,
                lon=108 + (i // 1000) / 2,
                capacity=12,
                zones={"rest": 8, "sleeping": 4},
                amenities=["water", "charging"],
                doors=[{"id": "main", "gateway_id": "gw-1"}],
            )
            for i in range(count)
        ]
        start = time.perf_counter()
        central.store.put_stations(stations)
        load_s = time.perf_counter() - start
        now = utc_now()
        events = [
            AccessEvent(
                station_id=f"st-{i:05d}",
                gateway_id="gw-1",
                seq=1,
                at=now,
                door_id="main",
                direction="in",
                credential="qr",
                decision="granted",
                reason="granted",
            )
            for i in range(count)
        ]
        # Through the ingest, as in production: its writer process holds memory too.
        central.ingest.start()
        for event in events:
            central.ingest.submit(
                Message(
                    event_topic(event.station_id, event.gateway_id, "access"),
                    event.to_json(),
                    retain=False,
                    qos=1,
                )
            )
        if not central.ingest.wait_idle(120):
            raise RuntimeError("the ingest did not store the events in 120 s")
        timings = {}
        with TestClient(central.app) as http:
            authorize(http, central.operators, role="viewer")
            for path in ("/api/stations", "/api/stations/compact", "/feed/station_status.json"):
                start = time.perf_counter()
                response = http.get(path)
                response.raise_for_status()
                timings[path] = {
                    "ms": (time.perf_counter() - start) * 1000,
                    "bytes": len(response.content),
                }
        after = rss_mb()
        processes = [os.getpid(), *descendants(os.getpid())]
        total_pss = sum(pss_mb(pid) for pid in processes)
        central.ingest.stop()
        central.store.close()
    return {
        "machine": machine(),
        "stations": count,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "processes": len(processes),
        "pss_all_processes_mb": total_pss,
        "load_s": load_s,
        "responses": timings,
        "ceiling_mb": CEILING_MB,
        "met": total_pss <= CEILING_MB,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures and write `benchmarks/results/central_memory.json`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.central_memory")
    parser.add_argument("--stations", type=int, default=STATIONS)
    args = parser.parse_args(argv)
    results = run(args.stations)
    print(
        f"{results['stations']} stations: RSS {results['rss_after_mb']:.0f} MiB "
        f"(was {results['rss_before_mb']:.0f} MiB before loading; loaded in "
        f"{results['load_s']:.1f} s); with its {results['processes'] - 1} helper processes "
        "(the ingest's fork server, its writer and multiprocessing's resource tracker) "
        f"{results['pss_all_processes_mb']:.0f} MiB PSS"
    )
    for path, t in results["responses"].items():
        print(f"  GET {path}: {t['ms']:.0f} ms, {t['bytes'] / 1024:.0f} KiB")
    print(f"results: {write_results('central_memory', results)}")
    return 0 if results["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
