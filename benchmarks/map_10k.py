"""The operator map with 10,000 stations in headless Chromium: time to draw, updates absorbed.

`python -m benchmarks.map_10k` starts a real central (SQLite, HTTP, live stream) with
10,000 stations, logs a page in, and measures:

- navigation → drawn: from the navigation start to every marker being in the cluster
  layer and a frame painted after (`yzMap.drawnAt`, on the page's own clock);
- updates absorbed: occupancy changes pushed through the live stream (`/api/stream`) at
  increasing rates for a few seconds each, counting what the page applied while a
  `requestAnimationFrame` heartbeat and the Long Tasks API watch the main thread. A rate
  counts as absorbed when every change arrived and the 95th percentile frame gap stayed
  under 50 ms (the page stays smooth enough to pan and click).

Writes `benchmarks/results/map_10k.json`.
"""

from __future__ import annotations

import contextlib
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from benchmarks.report import machine, write_results
from dashboard.central import Central, serve_in_thread
from dashboard.core.changes import OccupancyChange
from dashboard.core.config import CentralSettings, DatabaseSettings, HttpSettings
from dashboard.core.stations import StationInput
from dashboard.storage.operators import Role

STATIONS = 10_000
RATES = (100, 500, 1000, 2000, 5000)
SECONDS_PER_RATE = 3.0
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
HEARTBEAT = """() => {
  window.yzBench = { gaps: [], long: [] };
  let last = performance.now();
  const beat = (now) => { window.yzBench.gaps.push(now - last); last = now;
                          window.yzBench.raf = requestAnimationFrame(beat); };
  window.yzBench.raf = requestAnimationFrame(beat);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.yzBench.long.push(entry.duration);
  }).observe({ type: "longtask", buffered: false });
}"""


def stations(count: int) -> list[StationInput]:
    """`count` stations over a 10° × 10° square of eastern China."""
    rng = random.Random(7)
    return [
        StationInput(
            id=f"st-{n:05d}",
            name=f"驿站 {n}",
            lat=round(25 + rng.random() * 10, 5),
            lon=round(110 + rng.random() * 10, 5),
            capacity=rng.choice((6, 8, 12, 20)),
        )
        for n in range(count)
    ]


def p95(values: list[float]) -> float:
    """The 95th percentile (0 if empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def push(central: Central, rate: int, seconds: float, ids: list[str]) -> int:
    """Publish `rate` occupancy changes per second into the live stream; how many."""
    sent = 0
    started = time.monotonic()
    rng = random.Random(rate)
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            station = ids[rng.randrange(len(ids))]
            central.live.publish(OccupancyChange(station, sent % 20, 20, {}))
            sent += 1
        time.sleep(0.002)
    return sent


def run(count: int = STATIONS) -> dict[str, Any]:
    """Measure; the results as a dict."""
    with tempfile.TemporaryDirectory() as tmp:
        listed = stations(count)
        settings = CentralSettings(
            http=HttpSettings(host="127.0.0.1", port=0),
            database=DatabaseSettings(path=Path(tmp) / "bench.db"),
        )
        central = Central(settings)
        central.store.put_stations(listed)
        central.operators.add("bench", "bench-password", Role.VIEWER)
        login = central.operators.login("bench", "bench-password")
        assert login is not None
        server = central.http_server(port=0)
        serve_in_thread(server)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        results: dict[str, Any] = {"machine": machine(), "stations": count}
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=ARGS
                )
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.add_cookies([{"name": "yz_session", "value": login[0], "url": base}])
                page = context.new_page()
                wall = time.monotonic()
                page.goto(f"{base}/ui/#map")
                page.wait_for_function("window.yzMap && window.yzMap.drawn", timeout=180_000)
                results["navigation_to_drawn_ms"] = round(page.evaluate("window.yzMap.drawnAt"), 1)
                results["navigation_to_drawn_wall_ms"] = round((time.monotonic() - wall) * 1000, 1)
                assert page.evaluate("window.yzMap.count()") == count
                page.wait_for_function(
                    "document.getElementById('live-state').dataset.i18n === 'map.live'"
                )
                # The stream's first event, the snapshot of every station, is in.
                page.wait_for_function(f"window.yzMap.received >= {count}", timeout=60_000)
                ids = [s.id for s in listed]
                rates = []
                for rate in RATES:
                    page.evaluate(HEARTBEAT)
                    before = page.evaluate("window.yzMap.received")
                    sent = push(central, rate, SECONDS_PER_RATE, ids)
                    # Let the last frame of changes land: wait on the count, bounded.
                    with contextlib.suppress(PlaywrightTimeout):
                        page.wait_for_function(
                            f"window.yzMap.received - {before} >= {sent}", timeout=5_000
                        )
                    applied = page.evaluate("window.yzMap.received") - before
                    bench = page.evaluate(
                        "(() => { cancelAnimationFrame(window.yzBench.raf);"
                        " return window.yzBench; })()"
                    )
                    gaps = bench["gaps"][1:]
                    row = {
                        "rate_per_s": rate,
                        "sent": sent,
                        "applied": applied,
                        "frame_gap_p95_ms": round(p95(gaps), 1),
                        "frame_gap_max_ms": round(max(gaps, default=0.0), 1),
                        "long_tasks": len(bench["long"]),
                        "long_task_max_ms": round(max(bench["long"], default=0.0), 1),
                    }
                    row["absorbed"] = applied >= sent and row["frame_gap_p95_ms"] < 50
                    rates.append(row)
                    print(row, flush=True)
                results["updates"] = rates
                absorbed = [r["rate_per_s"] for r in rates if r["absorbed"]]
                results["updates_per_s_absorbed"] = max(absorbed, default=0)
                browser.close()
        finally:
            server.should_exit = True
            central.store.close()
    return results


def main(argv: list[str] | None = None) -> int:
    """Print the figures and write `benchmarks/results/map_10k.json`."""
    count = int(argv[0]) if argv else STATIONS
    results = run(count)
    path = write_results("map_10k", results)
    print(
        f"{count} stations: navigation → drawn {results['navigation_to_drawn_ms']} ms; "
        f"absorbs {results['updates_per_s_absorbed']} updates/s; {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
