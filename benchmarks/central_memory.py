"""The central's memory with 10,000 stations loaded: resident set size after describing
them, counting in each, and serving the station list, the compact list and the feed.

`python -m benchmarks.central_memory [--stations N]`
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from benchmarks.report import machine, write_results
from contract.payloads import AccessEvent, utc_now
from dashboard.config import CentralSettings, CredentialSettings, DatabaseSettings
from dashboard.service import Central
from dashboard.stations import StationInput

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
        for first in range(0, count, 1000):
            central.store.record(events[first : first + 1000])
        timings = {}
        with TestClient(central.app) as http:
            for path in ("/api/stations", "/api/stations/compact", "/feed/station_status.json"):
                start = time.perf_counter()
                response = http.get(path)
                timings[path] = {
                    "ms": (time.perf_counter() - start) * 1000,
                    "bytes": len(response.content),
                }
        after = rss_mb()
        central.store.close()
    return {
        "machine": machine(),
        "stations": count,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "load_s": load_s,
        "responses": timings,
        "ceiling_mb": CEILING_MB,
        "met": after <= CEILING_MB,
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
        f"{results['load_s']:.1f} s)"
    )
    for path, t in results["responses"].items():
        print(f"  GET {path}: {t['ms']:.0f} ms, {t['bytes'] / 1024:.0f} KiB")
    print(f"results: {write_results('central_memory', results)}")
    return 0 if results["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
