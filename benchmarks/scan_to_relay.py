"""Time from the last byte of a QR scan on the serial port to the lock relay moving.

Run with `python -m benchmarks.scan_to_relay [SCANS]`. The real gateway runs on a
simulated board: a virtual GM65 on a pseudo-terminal and gpiozero mock pins, connected
to a broker (a private Mosquitto when it is installed, else the embedded one) so events
are published as in the field. Every scan is a fresh signed token (the gateway refuses a
token it has already granted), so each one goes through the full offline verification
and decision. For each scan the clock starts when the code and its CR
have been written to the pty and stops at the relay pin's change, as gpiozero's mock pin
timestamps it. The baseline, measured in the same run, is the bare serial path: the same
pty, pyserial and line codec, with a callback that only records the time.

The issue's floor: p99 under 10 ms over at least 1,000 scans. Exit status 1 if missed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from benchmarks.report import against_baseline, conclude
from contract.payloads import DoorEvent, DoorState, EventPayload
from firmware_bridge.qr_lines import QrLineDecoder, ScannedCode
from firmware_bridge.serial_loop import SerialLoop
from gateway.config import DoorSettings, GatewaySettings
from gateway.service import Gateway
from hardware.sim.radar import VirtualRadar
from hardware.sim.scanner import VirtualScanner
from servicekit.settings import BrokerSettings
from tests.support.mosquitto import MosquittoBroker, free_port
from tests.support.tokens import TokenMint
from yizhan.embedded_broker import EmbeddedBroker
from yizhan.simulated_station import DOOR, PINS, simulated_board

SCANS = 1_000
WARMUP = 50
FLOOR_MS = 10.0


class _Broker:
    """A private Mosquitto if installed (as in the field), else the embedded broker."""

    def __init__(self) -> None:
        self.kind = "mosquitto" if shutil.which("mosquitto") else "amqtt"
        self._dir = tempfile.TemporaryDirectory()
        self._mosquitto: MosquittoBroker | None = None
        self._amqtt: EmbeddedBroker | None = None
        if self.kind == "mosquitto":
            self._mosquitto = MosquittoBroker(Path(self._dir.name), free_port())
            self._mosquitto.start()
            self.url = self._mosquitto.url
        else:
            self._amqtt = EmbeddedBroker(port=free_port())
            self._amqtt.start()
            self.url = self._amqtt.url

    def stop(self) -> None:
        if self._mosquitto is not None:
            self._mosquitto.stop()
        if self._amqtt is not None:
            self._amqtt.stop()
        self._dir.cleanup()


def measure_gateway(scans: int, broker_url: str) -> list[float]:
    """Milliseconds from the scan's last byte to the relay releasing, per scan."""
    pins = MockFactory()
    entry, exit_, radar = VirtualScanner(), VirtualScanner(), VirtualRadar(period_s=1.0)
    state = tempfile.TemporaryDirectory()
    settings = GatewaySettings(
        station_id="bench",
        gateway_id="gw-1",
        broker=BrokerSettings(url=broker_url),
        doors={DOOR: DoorSettings(unlock_s=0.02)},
        state_dir=Path(state.name),
    )
    gateway = Gateway(settings, simulated_board(entry.port, exit_.port, radar.port), pins)
    mint = TokenMint()
    gateway.access.trust_store.apply(mint.keys())
    released, secured = threading.Event(), threading.Event()

    def watch(event: EventPayload) -> None:
        if isinstance(event, DoorEvent) and event.state is DoorState.UNLOCKED:
            released.set()
        elif isinstance(event, DoorEvent) and event.state is DoorState.LOCKED:
            secured.set()

    gateway.add_listener(watch)
    gateway.start()
    relay = pins.pin(PINS["relay"])
    samples: list[float] = []
    try:
        if not (gateway.devices.wait_serial_open(10) and gateway.link.wait_connected(10)):
            raise RuntimeError("gateway did not start")
        for n in range(scans + WARMUP):
            released.clear()
            secured.clear()
            token = mint.token()  # signed before the clock starts
            entry.scan(token)
            last_byte = time.monotonic()
            if not released.wait(5):
                raise RuntimeError(f"scan {n} did not release the door")
            # The mock pin keeps the monotonic time of its last change.
            changed = relay._last_change
            if n >= WARMUP:
                samples.append((changed - last_byte) * 1000)
            if not secured.wait(5):
                raise RuntimeError(f"scan {n}: the door did not relock")
    finally:
        gateway.stop()
        for device in (entry, exit_, radar):
            device.close()
        pins.reset()
        state.cleanup()
    return samples


def measure_serial_baseline(scans: int) -> list[float]:
    """Milliseconds from the last byte on the pty to the line codec handing over the code."""
    scanner = VirtualScanner()
    code = TokenMint().token()  # as long as a real scan, so both paths carry the same bytes
    arrived = threading.Event()
    stamp: list[float] = []

    def on_code(code: ScannedCode) -> None:
        stamp.append(time.monotonic())
        arrived.set()

    loop = SerialLoop(scanner.port, 9600, QrLineDecoder(), on_code, name="baseline")
    loop.start()
    samples: list[float] = []
    try:
        if not loop.wait_open(10):
            raise RuntimeError("baseline port did not open")
        for n in range(scans + WARMUP):
            arrived.clear()
            stamp.clear()
            scanner.scan(code)
            last_byte = time.monotonic()
            if not arrived.wait(5):
                raise RuntimeError("baseline scan lost")
            if n >= WARMUP:
                samples.append((stamp[0] - last_byte) * 1000)
    finally:
        loop.stop()
        scanner.close()
    return samples


def run(scans: int = SCANS) -> dict[str, Any]:
    """Measure both paths and return the results as written to disk."""
    broker = _Broker()
    try:
        gateway_ms = measure_gateway(scans, broker.url)
    finally:
        broker.stop()
    baseline_ms = measure_serial_baseline(scans)
    return {
        "benchmark": "scan_to_relay",
        "scans": scans,
        "broker": broker.kind,
        **against_baseline(
            "scan_to_relay_ms", gateway_ms, "serial_baseline_ms", baseline_ms, FLOOR_MS
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures, write the results file, exit 1 if the floor was missed."""
    args = sys.argv[1:] if argv is None else argv
    scans = int(args[0]) if args else SCANS
    results = run(scans)
    g, b = results["scan_to_relay_ms"], results["serial_baseline_ms"]
    print(f"scan → relay over {scans} scans (broker: {results['broker']})")
    print(f"  gateway:  p50 {g['p50']:.3f} ms  p99 {g['p99']:.3f} ms  max {g['max']:.3f} ms")
    print(f"  baseline: p50 {b['p50']:.3f} ms  p99 {b['p99']:.3f} ms  (pty + pyserial + codec)")
    print(f"  gateway p50 is {results['p50_ratio_to_baseline']:.2f}× the bare serial path")
    return conclude("scan_to_relay", results, f"p99 < {FLOOR_MS:g} ms")


if __name__ == "__main__":
    sys.exit(main())
