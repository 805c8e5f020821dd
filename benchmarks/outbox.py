"""What the gateway's outbox costs per event, and how fast a backlog drains after an outage.

Run with `python -m benchmarks.outbox`. It measures, in one run on this machine:

- the outbox's write cost per event with its batching (appends gathered into one
  transaction per window), against a baseline of one INSERT and COMMIT per event with the
  same durability (`synchronous=FULL`, WAL);
- the replay rate after an outage: a backlog of events stored while the broker was away,
  drained through a private Mosquitto at the default throttle (200 events/s) and with the
  throttle lifted, until the broker has acknowledged every one.

It prints the figures and writes `benchmarks/results/outbox.json`. Mosquitto must be
installed (`apt-get install mosquitto`).
"""

from __future__ import annotations

import json
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from contract.payloads import AccessEvent, utc_now
from gateway.config import GatewaySettings, OutboxSettings
from gateway.events import EventStamper
from gateway.outbox import Outbox, PendingEvent
from gateway.uplink import Uplink
from servicekit.mqtt_link import Retained
from servicekit.settings import BrokerSettings
from tests.support.mosquitto import free_port, wait_for_port

RESULTS = Path(__file__).resolve().parent / "results" / "outbox.json"
WRITE_EVENTS = 5000
BASELINE_EVENTS = 1000
BACKLOG = 2000
TOPIC = "yz/v1/st/bench/gw/gw-1/event/access"


def sample_payload(seq: int) -> bytes:
    return AccessEvent(
        station_id="bench",
        gateway_id="gw-1",
        seq=seq,
        at=utc_now(),
        door_id="main",
        direction="in",
        credential="qr",
        worker_id=f"w{seq}",
        decision="granted",
        reason="granted",
    ).to_json()


def baseline_per_event(directory: Path) -> float:
    """Seconds per event for one INSERT + COMMIT each, WAL, synchronous=FULL."""
    db = sqlite3.connect(directory / "baseline.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE outbox (id INTEGER PRIMARY KEY, topic TEXT, payload BLOB)")
    payloads = [sample_payload(n) for n in range(1, BASELINE_EVENTS + 1)]
    began = time.perf_counter()
    for payload in payloads:
        db.execute("BEGIN")
        db.execute("INSERT INTO outbox (topic, payload) VALUES (?, ?)", (TOPIC, payload))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - began
    db.close()
    return elapsed / BASELINE_EVENTS


def outbox_per_event(directory: Path, window_s: float) -> tuple[float, int]:
    """Seconds per event from first append to everything committed; and the batch count."""
    box = Outbox(OutboxSettings(path=directory / f"outbox-{window_s}.db", batch_window_s=window_s))
    box.start()
    payloads = [sample_payload(n) for n in range(1, WRITE_EVENTS + 1)]
    began = time.perf_counter()
    for seq, payload in enumerate(payloads, start=1):
        box.append(PendingEvent(seq, "access", TOPIC, payload))
    assert box.flush(120)
    elapsed = time.perf_counter() - began
    batches = box.stats().committed_batches
    box.close()
    return elapsed / WRITE_EVENTS, batches


def append_cost() -> float:
    """Seconds a caller (the door's thread) spends in `append`, per event."""
    box = Outbox(OutboxSettings(path=None, batch_window_s=0.05))
    box.start()
    payloads = [sample_payload(n) for n in range(1, WRITE_EVENTS + 1)]
    began = time.perf_counter()
    for seq, payload in enumerate(payloads, start=1):
        box.append(PendingEvent(seq, "access", TOPIC, payload))
    elapsed = time.perf_counter() - began
    box.flush(60)
    box.close()
    return elapsed / WRITE_EVENTS


def replay_rate(directory: Path, port: int, rate: float) -> float:
    """Events/s from reconnect to the broker's last acknowledgement of a stored backlog."""
    path = directory / f"replay-{rate:g}.db"
    settings = GatewaySettings(
        station_id="bench",
        gateway_id="gw-1",
        broker=BrokerSettings(url=f"mqtt://127.0.0.1:{port}", client_id=f"bench-{rate:g}"),
        outbox=OutboxSettings(path=path, replay_rate=rate),
    )
    # The outage: events were stored while no broker was reachable.
    box = Outbox(settings.outbox)
    box.start()
    for seq in range(1, BACKLOG + 1):
        box.append(PendingEvent(seq, "access", TOPIC, sample_payload(seq)))
    assert box.flush(60)
    box.close()

    outbox = Outbox(settings.outbox)
    stamper = EventStamper("bench", "gw-1", first_seq=outbox.next_seq)
    uplink = Uplink(
        settings,
        outbox,
        stamper,
        on_message=lambda message: None,
        will=Retained("yz/v1/st/bench/gw/gw-1/availability", b""),
        birth=lambda: Retained("yz/v1/st/bench/gw/gw-1/availability", b""),
        subscriptions=[],
    )
    began = time.perf_counter()
    uplink.start()
    deadline = began + 120
    # No central here to confirm storage: drained means the broker took every event.
    while (stats := outbox.stats()).pending > stats.unconfirmed or uplink.in_flight() > 0:
        if time.perf_counter() > deadline:
            raise RuntimeError("the backlog did not drain in 120 s")
        time.sleep(0.005)
    elapsed = time.perf_counter() - began
    uplink.stop()
    return BACKLOG / elapsed


def main() -> int:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        print("mosquitto is needed: apt-get install -y mosquitto", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        baseline = baseline_per_event(directory)
        batched = {window: outbox_per_event(directory, window) for window in (0.01, 0.05)}
        appending = append_cost()
        port = free_port()
        config = directory / "mosquitto.conf"
        config.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
            "max_inflight_messages 100\n"
        )
        broker = subprocess.Popen(
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            assert wait_for_port(port, 10), f"Mosquitto did not listen on {port}"
            throttled = replay_rate(directory, port, 200.0)
            unthrottled = replay_rate(directory, port, 1_000_000.0)
        finally:
            broker.terminate()
            broker.wait(10)
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version},
        "write": {
            "baseline_commit_per_event_us": round(baseline * 1e6, 1),
            "outbox_window_10ms_us_per_event": round(batched[0.01][0] * 1e6, 1),
            "outbox_window_10ms_commits": batched[0.01][1],
            "outbox_window_50ms_us_per_event": round(batched[0.05][0] * 1e6, 1),
            "outbox_window_50ms_commits": batched[0.05][1],
            "append_call_us_per_event": round(appending * 1e6, 2),
            "events": WRITE_EVENTS,
        },
        "replay": {
            "backlog": BACKLOG,
            "throttled_200_per_s": round(throttled, 1),
            "unthrottled_per_s": round(unthrottled, 1),
        },
    }
    print(json.dumps(results, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
