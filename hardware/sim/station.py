"""A simulated station: the real gateway on virtual scanners, a virtual radar and mock pins.

Only the devices are simulated; the gateway is the production code. People follow a day
model: riders come in waves at lunch and dinner, drivers sleep over at night. They scan
at the entry scanner, open the door when the lock releases, walk through the beams and
close it behind them; they leave by the exit scanner or the exit button. Now and then a
door is held open too long, or someone forces it.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gpiozero.pins.mock import MockFactory

from contract.payloads import DoorEvent, DoorState, EventPayload
from gateway.config import DoorSettings, GatewaySettings
from gateway.service import Gateway
from hardware.profile import BoardProfile
from hardware.sim.radar import Presence, VirtualRadar
from hardware.sim.scanner import VirtualScanner
from yizhan.settings import BrokerSettings

DOOR = "main"
PINS = {"relay": 17, "contact": 27, "rex": 22, "beam_a": 5, "beam_b": 6, "pir": 13}
FIRE_PIN = 26
TAMPER_PIN = 16

# Relative arrival rate by hour of day (station time): lunch and dinner peaks for riders,
# a trickle of drivers who sleep over at night.
HOURLY_RATE = (
    0.4, 0.3, 0.2, 0.2, 0.2, 0.3, 0.5, 0.7, 0.8, 0.8, 1.0, 2.0,
    2.2, 1.6, 0.8, 0.7, 0.9, 1.8, 2.0, 1.4, 1.0, 0.8, 0.6, 0.5,
)  # fmt: skip


def simulated_board(entry_port: str, exit_port: str, radar_port: str) -> BoardProfile:
    """One door with every sensor, on the shipped Raspberry Pi profile's pins.

    Contact and tamper use pull-downs here (switches to 3.3 V) so that a mock pin's idle
    level is the normal state: a mock pin follows its pull until something drives it.
    """
    return BoardProfile.model_validate(
        {
            "board": {"model": "simulated station"},
            "fire": {"pin": FIRE_PIN, "active_high": False, "pull": "up"},
            "tamper": {"pin": TAMPER_PIN, "active_high": True, "pull": "down"},
            "doors": [
                {
                    "id": DOOR,
                    "relay": {"pin": PINS["relay"], "polarity": "fail_safe"},
                    "contact": {"pin": PINS["contact"], "active_high": True, "pull": "down"},
                    "rex": {"pin": PINS["rex"], "active_high": False, "pull": "up"},
                    "beams": {"a": PINS["beam_a"], "b": PINS["beam_b"], "active_high": False},
                    "pir": {"pin": PINS["pir"], "pull": "down"},
                }
            ],
            "scanners": [
                {"id": "in", "port": entry_port, "door": DOOR, "direction": "in"},
                {"id": "out", "port": exit_port, "door": DOOR, "direction": "out"},
            ],
            "radars": [{"id": "radar", "port": radar_port, "zone": "rest"}],
        }
    )


def worker_id(code: str) -> str:
    """The pseudonymous worker id behind a demo code (`YZDEMO-demo-01-007` → `w-demo-01-007`)."""
    return "w-" + code.removeprefix("YZDEMO-")


@dataclass(frozen=True, slots=True)
class Traffic:
    """How busy the simulated station is, and how often things go wrong."""

    mean_arrival_s: float = 6.0
    mean_stay_s: float = 40.0
    sleeper_share: float = 0.3
    """Share of night-time arrivals who stay for hours."""
    unknown_code_share: float = 0.05
    exit_button_share: float = 0.3
    held_open_share: float = 0.01
    forced_share: float = 0.005
    workers: int = 30
    time_zone: str = "Asia/Shanghai"


@dataclass
class Person:
    """A worker the station knows, and when they mean to leave."""

    code: str
    leaves_at: float = 0.0


class DoorHands:
    """What people do to the door: the pins a real door, button and beams would move."""

    def __init__(self, pins: MockFactory, unlocked: threading.Event, pace: float) -> None:
        self._pins = pins
        self._unlocked = unlocked
        self._pace = pace
        self._idle = threading.Event()

    def pause(self, seconds: float) -> bool:
        """Human reaction time; True if the simulation is stopping meanwhile."""
        return self._idle.wait(seconds * self._pace)

    def stop(self) -> None:
        """Interrupt any pause."""
        self._idle.set()

    def pin(self, name: str) -> Any:
        """The mock pin of a door signal."""
        return self._pins.pin(PINS[name])

    def wait_unlocked(self, timeout: float = 5.0) -> bool:
        """Wait for the lock to release (the person hears the click)."""
        released = self._unlocked.wait(timeout)
        self._unlocked.clear()
        return released

    def pass_through(self, inwards: bool, hold_open_s: float = 0.0) -> None:
        """Open the door, walk through both beams in order, close it again."""
        self.pin("contact").drive_high()
        self.pause(0.3)
        self.walk_through_beams(inwards)
        self.pause(0.4 + hold_open_s)
        self.pin("contact").drive_low()

    def walk_through_beams(self, inwards: bool) -> None:
        """Break the outer beam, then the inner one, then clear them (mirrored outwards)."""
        first, second = ("beam_a", "beam_b") if inwards else ("beam_b", "beam_a")
        self.pin(first).drive_low()
        self.pause(0.15)
        self.pin(second).drive_low()
        self.pause(0.1)
        self.pin(first).drive_high()
        self.pause(0.15)
        self.pin(second).drive_high()

    def press_exit_button(self) -> None:
        """Press and release the request-to-exit button."""
        self.pin("rex").drive_low()
        self.pause(0.1)
        self.pin("rex").drive_high()


@dataclass
class SimulatedStation:
    """A station id, its gateway, its devices and the people it knows."""

    station_id: str
    broker: BrokerSettings
    traffic: Traffic = field(default_factory=Traffic)
    seed: int | None = None
    door: DoorSettings = field(default_factory=lambda: DoorSettings(unlock_s=3.0))

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self.entry_scanner = VirtualScanner()
        self.exit_scanner = VirtualScanner()
        self.radar = VirtualRadar(period_s=0.5)
        self.people = [
            Person(f"YZDEMO-{self.station_id}-{n:03d}") for n in range(self.traffic.workers)
        ]
        self.inside: list[Person] = []
        self.pin_factory = MockFactory()
        settings = GatewaySettings(
            station_id=self.station_id,
            gateway_id="gw-1",
            broker=self.broker,
            doors={DOOR: self.door},
            allowlist={person.code: worker_id(person.code) for person in self.people},
        )
        board = simulated_board(self.entry_scanner.port, self.exit_scanner.port, self.radar.port)
        self.gateway = Gateway(settings, board, pin_factory=self.pin_factory)
        self._unlocked = threading.Event()
        self.gateway.add_listener(self._watch)
        self.hands = DoorHands(self.pin_factory, self._unlocked, pace=1.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._play, name=f"sim-{self.station_id}", daemon=True
        )

    def _watch(self, event: EventPayload) -> None:
        if isinstance(event, DoorEvent) and event.state is DoorState.UNLOCKED:
            self._unlocked.set()

    def start(self) -> None:
        """Start the gateway and the people."""
        self.gateway.start()
        self._thread.start()

    def stop(self) -> None:
        """Stop the people, then the gateway, then unplug the devices."""
        self._stop.set()
        self.hands.stop()
        self._thread.join(timeout=10)
        self.gateway.stop()
        for device in (self.entry_scanner, self.exit_scanner, self.radar):
            device.close()
        self.pin_factory.reset()

    def _play(self) -> None:
        self.gateway.devices.wait_serial_open(timeout=5)
        while not self._stop.is_set():
            rate = HOURLY_RATE[self._hour()] / self.traffic.mean_arrival_s
            if self._stop.wait(self._random.expovariate(rate)):
                return
            self.step()

    def _hour(self) -> int:
        return datetime.now(ZoneInfo(self.traffic.time_zone)).hour

    def step(self) -> None:
        """One thing happens: someone leaves, arrives, or the door is mistreated."""
        rng = self._random
        traffic = self.traffic
        due = [p for p in self.inside if p.leaves_at <= time.monotonic()]
        if due:
            self._leave(due[0])
        elif rng.random() < traffic.forced_share:
            self.hands.pin("contact").drive_high()  # forced: opened with no grant
            self.hands.pause(2.0)
            self.hands.pin("contact").drive_low()
        elif rng.random() < traffic.unknown_code_share:
            self.entry_scanner.scan(f"UNKNOWN-{rng.randrange(10**6):06d}")
        else:
            outside = [p for p in self.people if p not in self.inside]
            if outside:
                self._arrive(rng.choice(outside))
        self.radar.set_presence(
            Presence(stationary_cm=150, stationary_energy=60) if self.inside else Presence()
        )

    def _arrive(self, person: Person) -> None:
        rng = self._random
        sleeper = self._hour() < 6 and rng.random() < self.traffic.sleeper_share
        stay = self.traffic.mean_stay_s * (8 if sleeper else 1)
        person.leaves_at = time.monotonic() + rng.expovariate(1 / stay)
        self.entry_scanner.scan(person.code)
        if self.hands.wait_unlocked():
            held = 35.0 if rng.random() < self.traffic.held_open_share else 0.0
            self.hands.pass_through(inwards=True, hold_open_s=held)
            self.inside.append(person)

    def _leave(self, person: Person) -> None:
        if self._random.random() < self.traffic.exit_button_share:
            self.hands.press_exit_button()
        else:
            self.exit_scanner.scan(person.code)
        if self.hands.wait_unlocked():
            self.hands.pass_through(inwards=False)
            self.inside.remove(person)
