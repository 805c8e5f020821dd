"""A simulated station: a real gateway on virtual scanners and mock pins, with workers.

The gateway code is the production code; only its devices are simulated. Workers arrive
at random (more at meal times would come with a day model), scan in, stay a while and
scan out; now and then someone shows a code the station does not know.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from gpiozero.pins.mock import MockFactory

from contract.payloads import Direction
from gateway.config import GatewaySettings, LockSettings, ReaderSettings
from gateway.service import Gateway
from hardware.sim.scanner import VirtualScanner
from yizhan.settings import BrokerSettings

LOCK_PIN = 17


@dataclass(frozen=True, slots=True)
class Traffic:
    """How busy the simulated station is."""

    mean_arrival_s: float = 6.0
    mean_stay_s: float = 40.0
    unknown_code_share: float = 0.05
    workers: int = 30


@dataclass
class SimulatedStation:
    """A station id, its gateway, its scanners and the people it knows."""

    station_id: str
    broker: BrokerSettings
    traffic: Traffic = field(default_factory=Traffic)
    seed: int | None = None

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self.entry_scanner = VirtualScanner()
        self.exit_scanner = VirtualScanner()
        self.codes = {
            f"YZDEMO-{self.station_id}-{n:03d}": f"w-{self.station_id}-{n:03d}"
            for n in range(self.traffic.workers)
        }
        self.pin_factory = MockFactory()
        settings = GatewaySettings(
            station_id=self.station_id,
            gateway_id="gw-1",
            broker=self.broker,
            readers=[
                ReaderSettings(port=self.entry_scanner.port, direction=Direction.IN),
                ReaderSettings(port=self.exit_scanner.port, direction=Direction.OUT),
            ],
            locks=[LockSettings(pin=LOCK_PIN, unlock_s=3.0)],
            allowlist=self.codes,
        )
        self.gateway = Gateway(settings, pin_factory=self.pin_factory)
        self._inside: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._play, name=f"sim-{self.station_id}", daemon=True
        )

    def start(self) -> None:
        """Start the gateway and the people."""
        self.gateway.start()
        self._thread.start()

    def stop(self) -> None:
        """Stop the people, then the gateway, then unplug the devices."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.gateway.stop()
        self.entry_scanner.close()
        self.exit_scanner.close()
        self.pin_factory.reset()

    def _play(self) -> None:
        for reader in self.gateway.readers:
            reader.wait_open(timeout=5)
        while not self._stop.wait(self._random.expovariate(1 / self.traffic.mean_arrival_s)):
            self.step()

    def step(self) -> None:
        """One thing happens: someone arrives, or someone inside leaves."""
        rng = self._random
        outside = [code for code in self.codes if code not in self._inside]
        leave_chance = len(self._inside) * self.traffic.mean_arrival_s / self.traffic.mean_stay_s
        if self._inside and (not outside or rng.random() < leave_chance / (1 + leave_chance)):
            code = self._inside.pop(rng.randrange(len(self._inside)))
            self.exit_scanner.scan(code)
        elif rng.random() < self.traffic.unknown_code_share:
            self.entry_scanner.scan(f"UNKNOWN-{rng.randrange(10**6):06d}")
        elif outside:
            code = rng.choice(outside)
            self._inside.append(code)
            self.entry_scanner.scan(code)
