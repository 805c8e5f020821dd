"""Time from a face terminal's verification record to the lock relay moving.

Run with `python -m benchmarks.face_to_relay [RECORDS]`. The real gateway runs on a
simulated board (gpiozero mock pins) with two simulated network face terminals on
loopback HTTP: a ZKTeco in PUSH mode, whose real-time `rtlog` upload the gateway's
iclock server reads, and a Hikvision whose alert stream the gateway holds open with
digest auth. For each record the clock starts just before the terminal sends it (the
ZKTeco's POST, the Hikvision's multipart part) and stops at the relay pin's change, as
gpiozero's mock pin timestamps it. The baseline, measured in the same run, is each
adapter alone: the same server or stream client handing the person to a callback that
only records the time, so the difference is the decision, the door and the events.

The issue's floor: p99 under 50 ms for each terminal kind. Exit status 1 if missed.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gpiozero.pins.mock import MockFactory

from benchmarks.report import conclude, machine, percentiles
from benchmarks.scan_to_relay import _Broker
from contract.credential_payloads import CredentialEntry, CredentialMap
from contract.payloads import DoorEvent, DoorState, EventPayload
from gateway.config import DoorSettings, FaceTerminalSettings, GatewaySettings
from gateway.face_hikvision import IsapiTerminal
from gateway.face_zkteco import IclockServer, IclockTerminal
from gateway.service import Gateway
from hardware.sim.hikvision_isapi import IsapiTerminalSim
from hardware.sim.radar import VirtualRadar
from hardware.sim.scanner import VirtualScanner
from hardware.sim.zkteco_push import ZkPushTerminal
from servicekit.settings import BrokerSettings
from tests.support.mosquitto import free_port
from yizhan.simulated_station import DOOR, PINS, simulated_board

RECORDS = 500
WARMUP = 30
FLOOR_MS = 50.0
FACE = "4242001"
STATION = "bench"
SERIAL = "BENCH0000001"


def _face_map() -> CredentialMap:
    entry = CredentialEntry(kind="face", external_id=FACE, worker_number=4242)
    return CredentialMap(
        station_id=STATION, version=1, issued_at=datetime.now(UTC), entries=[entry]
    )


def measure_gateway(records: int, broker_url: str) -> dict[str, list[float]]:
    """Milliseconds from the terminal sending to the relay releasing, per terminal kind."""
    pins = MockFactory()
    entry, exit_, radar = VirtualScanner(), VirtualScanner(), VirtualRadar(period_s=1.0)
    state = tempfile.TemporaryDirectory()
    hik = IsapiTerminalSim(heartbeat_s=1.0)
    hik.start()
    port = free_port()
    settings = GatewaySettings(
        station_id=STATION,
        gateway_id="gw-1",
        broker=BrokerSettings(url=broker_url),
        doors={DOOR: DoorSettings(unlock_s=0.02)},
        state_dir=Path(state.name),
        face_terminals=[
            FaceTerminalSettings(
                id="zk",
                kind="zkteco_push",
                door=DOOR,
                serial_number=SERIAL,
                listen="127.0.0.1",
                port=port,
            ),
            FaceTerminalSettings(
                id="hik",
                kind="hikvision_isapi",
                door=DOOR,
                url=hik.url,
                username=hik.username,
                password=hik.password,
            ),
        ],
    )
    gateway = Gateway(settings, simulated_board(entry.port, exit_.port, radar.port), pins)
    gateway.access.trust_store.apply(_face_map())
    released, secured = threading.Event(), threading.Event()

    def watch(event: EventPayload) -> None:
        if isinstance(event, DoorEvent) and event.state is DoorState.UNLOCKED:
            released.set()
        elif isinstance(event, DoorEvent) and event.state is DoorState.LOCKED:
            secured.set()

    gateway.add_listener(watch)
    gateway.start()
    zk = ZkPushTerminal("127.0.0.1", port, SERIAL, delay_s=0.5)
    zk.start()
    relay = pins.pin(PINS["relay"])
    samples: dict[str, list[float]] = {"zkteco_push": [], "hikvision_isapi": []}
    senders: dict[str, Callable[[], object]] = {
        "zkteco_push": lambda: zk.verify(FACE),
        "hikvision_isapi": lambda: hik.verify_face(FACE),
    }
    try:
        if not gateway.link.wait_connected(10):
            raise RuntimeError("gateway did not connect")
        deadline = time.monotonic() + 10
        while not (gateway.faces.isapi["hik"].up and zk.polls > 0):
            if time.monotonic() > deadline:
                raise RuntimeError("the terminals did not connect")
            time.sleep(0.05)
        for kind, send in senders.items():
            for n in range(records + WARMUP):
                released.clear()
                secured.clear()
                started = time.monotonic()
                send()
                if not released.wait(5):
                    raise RuntimeError(f"{kind} record {n} did not release the door")
                if n >= WARMUP:
                    samples[kind].append((relay._last_change - started) * 1000)
                if not secured.wait(5):
                    raise RuntimeError(f"{kind} record {n}: the door did not relock")
    finally:
        zk.close()
        gateway.stop()
        hik.close()
        for device in (entry, exit_, radar):
            device.close()
        pins.reset()
        state.cleanup()
    return samples


def measure_adapters(records: int) -> dict[str, list[float]]:
    """Milliseconds from the terminal sending to the adapter handing over the person."""
    arrived = threading.Event()
    stamp: list[float] = []

    def on_face(*_: Any) -> None:
        stamp.append(time.monotonic())
        arrived.set()

    port = free_port()
    terminal = IclockTerminal(SERIAL, 5, 30.0, 3600.0)
    zone = ZoneInfo("Asia/Shanghai")  # the simulated terminal's clock

    def local_now() -> datetime:
        return datetime.now(zone).replace(tzinfo=None)

    server = IclockServer("127.0.0.1", port, [terminal], on_face, local_now)
    server.start()
    zk = ZkPushTerminal("127.0.0.1", port, SERIAL, delay_s=0.5)
    hik = IsapiTerminalSim(heartbeat_s=1.0)
    hik.start()
    client = IsapiTerminal("hik", hik.url, hik.username, hik.password, on_face, lambda *_: None)
    client.start()
    samples: dict[str, list[float]] = {"zkteco_push": [], "hikvision_isapi": []}
    senders: dict[str, Callable[[], object]] = {
        "zkteco_push": lambda: zk.verify(FACE),
        "hikvision_isapi": lambda: hik.verify_face(FACE),
    }
    try:
        deadline = time.monotonic() + 10
        while not client.up:
            if time.monotonic() > deadline:
                raise RuntimeError("baseline stream did not open")
            time.sleep(0.05)
        for kind, send in senders.items():
            for n in range(records + WARMUP):
                arrived.clear()
                stamp.clear()
                started = time.monotonic()
                send()
                if not arrived.wait(5):
                    raise RuntimeError(f"baseline {kind} record lost")
                if n >= WARMUP:
                    samples[kind].append((stamp[0] - started) * 1000)
    finally:
        client.stop()
        hik.close()
        server.stop()
    return samples


def run(records: int = RECORDS) -> dict[str, Any]:
    """Measure both paths and return the results as written to disk."""
    broker = _Broker()
    try:
        gateway_ms = measure_gateway(records, broker.url)
    finally:
        broker.stop()
    baseline_ms = measure_adapters(records)
    results: dict[str, Any] = {
        "benchmark": "face_to_relay",
        "records_per_terminal": records,
        "broker": broker.kind,
        "floor_p99_ms": FLOOR_MS,
        "machine": machine(),
    }
    for kind in gateway_ms:
        results[f"{kind}_to_relay_ms"] = percentiles(gateway_ms[kind])
        results[f"{kind}_adapter_baseline_ms"] = percentiles(baseline_ms[kind])
    results["p99_under_floor"] = all(
        results[f"{kind}_to_relay_ms"]["p99"] < FLOOR_MS for kind in gateway_ms
    )
    return results


def main(argv: list[str] | None = None) -> int:
    """Print the figures, write the results file, exit 1 if the floor was missed."""
    args = sys.argv[1:] if argv is None else argv
    records = int(args[0]) if args else RECORDS
    results = run(records)
    broker = results["broker"]
    print(f"face terminal record → relay, {records} records per terminal (broker: {broker})")
    for kind in ("zkteco_push", "hikvision_isapi"):
        g, b = results[f"{kind}_to_relay_ms"], results[f"{kind}_adapter_baseline_ms"]
        print(f"  {kind}: p50 {g['p50']:.3f} ms  p99 {g['p99']:.3f} ms  max {g['max']:.3f} ms")
        print(f"    adapter alone: p50 {b['p50']:.3f} ms  p99 {b['p99']:.3f} ms")
    return conclude("face_to_relay", results, f"p99 < {FLOOR_MS:g} ms for each kind")


if __name__ == "__main__":
    sys.exit(main())
