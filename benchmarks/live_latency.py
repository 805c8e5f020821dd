"""Time from publishing an event to the broker to its change arriving on the live stream.

`python -m benchmarks.live_latency [--rate 500] [--seconds 10]`

A private Mosquitto, the real central on SQLite with its HTTP API on loopback, and one
SSE client on `/api/stream?kinds=door`, as a dashboard would hold it open. A publisher
sends door events at a steady rate from 50 stations; each carries a unique door id, so the
client can match the change it receives to the moment it was published. Reported: p50,
p99 and max in milliseconds, and how many changes arrived. The issue asks for the figure
at 500 events/s; there is no floor.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks.ingest import central_settings
from benchmarks.report import machine, percentiles, write_results
from contract.payloads import DoorEvent, utc_now
from contract.topics import event_topic
from dashboard.central import Central, serve_in_thread
from servicekit.mqtt_link import MqttLink
from servicekit.settings import BrokerSettings
from tests.support.mosquitto import MosquittoBroker, free_port
from tests.support.operators import add_operator, bearer

STATIONS = 50


class StreamReader:
    """Reads the SSE stream in a thread and stamps each door change as it arrives."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.headers = headers
        self.arrived: dict[str, float] = {}
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()

    def _read(self, url: str) -> None:
        with (
            httpx.Client(timeout=None, headers=self.headers) as client,
            client.stream("GET", url) as response,
        ):
            kind = ""
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("event: "):
                    kind = line[7:]
                    if kind == "snapshot":
                        self.ready.set()
                elif line.startswith("data: ") and kind == "door":
                    door_id = json.loads(line[6:])["door_id"]
                    self.arrived[door_id] = time.perf_counter()

    def stop(self) -> None:
        """Stop after the next line."""
        self._stop.set()


def run(rate: float, seconds: float) -> dict[str, Any]:
    """Publish `rate` events/s for `seconds` and match each to its live-stream arrival."""
    count = int(rate * seconds)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        broker = MosquittoBroker(directory, free_port())
        broker.start()
        settings = central_settings(broker.url, f"sqlite:///{directory / 'c.db'}", directory)
        central = Central(settings)
        server = central.http_server()
        publisher = MqttLink(
            client_id=f"bench-live-{uuid.uuid4().hex[:6]}", broker=BrokerSettings(url=broker.url)
        )
        try:
            central.start()
            assert central.link.wait_connected(10)
            serve_in_thread(server)
            port = settings.http.port
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                # The live stream needs a login like every operator route.
                name, password = add_operator(central.operators, "viewer")
                headers = bearer(http, name, password)
            reader = StreamReader(f"http://127.0.0.1:{port}/api/stream?kinds=door", headers)
            if not reader.ready.wait(10):
                raise RuntimeError("live stream did not open")
            publisher.start()
            assert publisher.wait_connected(10)
            sent: dict[str, float] = {}
            seqs = [0] * STATIONS
            start = time.perf_counter()
            for n in range(count):
                # Pace to the target rate: each publish has its slot in time.
                delay = start + n / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                station = n % STATIONS
                seqs[station] += 1
                door_id = f"d{n}"
                event = DoorEvent(
                    station_id=f"st-{station:03d}",
                    gateway_id="gw-1",
                    seq=seqs[station],
                    at=utc_now(),
                    door_id=door_id,
                    state="opened" if n % 2 else "closed",
                )
                sent[door_id] = time.perf_counter()
                publisher.publish(event_topic(event.station_id, "gw-1", "door"), event.to_json())
            deadline = time.monotonic() + 30
            while len(reader.arrived) < count and time.monotonic() < deadline:
                time.sleep(0.05)  # waiting for stragglers; the measurement is already taken
            reader.stop()
            latencies = [
                (reader.arrived[d] - t) * 1000 for d, t in sent.items() if d in reader.arrived
            ]
        finally:
            publisher.stop()
            server.should_exit = True
            central.stop()
            broker.stop()
    return {
        "benchmark": "live_latency",
        "rate_per_s": rate,
        "seconds": seconds,
        "published": count,
        "delivered": len(latencies),
        "publish_to_stream_ms": percentiles(latencies) if len(latencies) > 1 else None,
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures and write `benchmarks/results/live_latency.json`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.live_latency")
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    results = run(args.rate, args.seconds)
    path = write_results("live_latency", results)
    figures = results["publish_to_stream_ms"]
    print(f"publish → live stream at {args.rate:g} events/s for {args.seconds:g} s")
    print(f"  delivered {results['delivered']} of {results['published']}")
    if figures:
        print(
            f"  p50 {figures['p50']:.1f} ms  p99 {figures['p99']:.1f} ms  "
            f"max {figures['max']:.1f} ms"
        )
    print(f"  written to {path}")
    return 0 if results["delivered"] == results["published"] else 1


if __name__ == "__main__":
    sys.exit(main())
