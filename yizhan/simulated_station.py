"""A simulated station: the real gateway on virtual scanners, a virtual radar and mock pins.

Only the devices are simulated; the gateway is the production code. People follow a day
model: riders come in waves at lunch and dinner, drivers sleep over at night. They show
the signed token their phone displays (asked of the central through `TokenSource`) at the
entry scanner, open the door when the lock releases, walk through the beams and close it
behind them; they leave by the exit scanner or the exit button. A full station turns them
away. Now and then someone shows a forged code, a door is held open too long, or someone
forces it.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gpiozero.pins.mock import MockFactory

from contract.payloads import (
    AccessEvent,
    DoorEvent,
    DoorState,
    EventPayload,
    FaceAction,
    FacePairingEvent,
    utc_now,
)
from contract.tokens import SigningKey, issue_token
from gateway.config import (
    DoorSettings,
    FaceTerminalSettings,
    GatewaySettings,
    MaintenanceSettings,
    PolicySettings,
)
from gateway.face_pairing import NOTICE_VERSION, EnrolmentWindow
from gateway.service import Gateway
from hardware.profile import BoardProfile
from hardware.sim.hikvision_isapi import IsapiTerminalSim
from hardware.sim.radar import Presence, VirtualRadar
from hardware.sim.scanner import VirtualScanner
from servicekit.settings import BrokerSettings

DOOR = "main"
PINS = {"relay": 17, "contact": 27, "rex": 22, "beam_a": 5, "beam_b": 6, "pir": 13}
FIRE_PIN = 26
TAMPER_PIN = 16
WIEGAND_PINS = {"d0": 23, "d1": 24}
"""A face terminal at the entry, on pins the one-door simulated board leaves free."""
FEEDBACK_PINS = {"green": 20, "red": 21, "buzzer": 19}

TokenSource = Callable[[int], str | None]
"""Worker number → the token the worker's phone shows now; None when they have none."""

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
    The door also has a face terminal on Wiegand and feedback LEDs and a buzzer.
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
                    "wiegand": {**WIEGAND_PINS, "bits": 26, "direction": "in", "kind": "face"},
                    "feedback": FEEDBACK_PINS,
                }
            ],
            "scanners": [
                {"id": "in", "port": entry_port, "door": DOOR, "direction": "in"},
                {"id": "out", "port": exit_port, "door": DOOR, "direction": "out"},
            ],
            "radars": [{"id": "radar", "port": radar_port, "zone": "rest"}],
        }
    )


@dataclass(frozen=True, slots=True)
class Traffic:
    """How busy the simulated station is, and how often things go wrong."""

    mean_arrival_s: float = 6.0
    mean_stay_s: float = 40.0
    sleeper_share: float = 0.3
    """Share of night-time arrivals who stay for hours."""
    forged_code_share: float = 0.05
    """Share of steps in which someone shows a token the central never signed."""
    exit_button_share: float = 0.3
    held_open_share: float = 0.01
    forced_share: float = 0.005
    face_share: float = 0.3
    """Share of workers who consent to the door's face terminal and come in by face once
    their face is paired (the QR pass still works for them)."""
    time_zone: str = "Asia/Shanghai"


@dataclass
class Person:
    """A worker the station knows, and when they mean to leave."""

    worker_number: int
    leaves_at: float = 0.0
    last_entry_token: str | None = None
    """The token last used to come in: a phone shows one token for 30 s, and a gateway
    refuses it a second time, so the worker waits for the next one."""
    wants_face: bool = False
    """Consents to the face terminal: enrols at the door on their next arrival."""
    face_paired: bool = False


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
    """A station id, its gateway, its devices and the people it knows.

    `workers` are the worker numbers the central enrolled for this station and
    `token_for` asks the central for a worker's current token, as their phone would.
    """

    station_id: str
    broker: BrokerSettings
    workers: Sequence[int] = ()
    token_for: TokenSource | None = None
    policy: PolicySettings = field(default_factory=PolicySettings)
    traffic: Traffic = field(default_factory=Traffic)
    seed: int | None = None
    door: DoorSettings = field(default_factory=lambda: DoorSettings(unlock_s=3.0))
    state_dir: Path | None = None
    """Where the gateway keeps its trust data; a temporary directory when None."""
    maintenance: MaintenanceSettings = field(default_factory=MaintenanceSettings)
    """Operator keys that may sign door-opening commands, health interval."""

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self.entry_scanner = VirtualScanner()
        self.exit_scanner = VirtualScanner()
        self.radar = VirtualRadar(period_s=0.5)
        self.people = [
            Person(number, wants_face=self._random.random() < self.traffic.face_share)
            for number in self.workers
        ]
        # The door's face terminal (a simulated Hikvision): it only verifies; the gateway
        # decides. It holds the faces the workers enrol at the door, and nothing leaves it.
        self.face_terminal = IsapiTerminalSim(heartbeat_s=2.0)
        self.face_terminal.start()
        self.inside: list[Person] = []
        self.pin_factory = MockFactory()
        self._own_state_dir: str | None = None
        state_dir = self.state_dir
        if state_dir is None:
            self._own_state_dir = tempfile.mkdtemp(prefix=f"yizhan-{self.station_id}-")
            state_dir = Path(self._own_state_dir)
        # A key the central never had: what a forger would sign with.
        self._forger = SigningKey.generate(1)
        settings = GatewaySettings(
            station_id=self.station_id,
            gateway_id="gw-1",
            broker=self.broker,
            doors={DOOR: self.door},
            policy=self.policy,
            state_dir=state_dir,
            maintenance=self.maintenance,
            face_terminals=[
                FaceTerminalSettings(
                    id="face-main",
                    kind="hikvision_isapi",
                    door=DOOR,
                    url=self.face_terminal.url,
                    username=self.face_terminal.username,
                    password=self.face_terminal.password,
                )
            ],
        )
        self._settings = settings
        self._board = simulated_board(
            self.entry_scanner.port, self.exit_scanner.port, self.radar.port
        )
        self._unlocked = threading.Event()
        self._answered = threading.Event()
        self._granted = False
        self._lifecycle = threading.Lock()
        self._stop = threading.Event()
        self._started = False
        self.gateway = self._new_gateway()
        self.hands = DoorHands(self.pin_factory, self._unlocked, pace=1.0)
        self._thread = threading.Thread(
            target=self._play, name=f"sim-{self.station_id}", daemon=True
        )

    def _new_gateway(self) -> Gateway:
        gateway = Gateway(self._settings, self._board, pin_factory=self.pin_factory)
        gateway.add_listener(self._watch)
        # A `restart` command restarts the gateway in this process, as systemd would.
        gateway.on_restart = lambda: threading.Thread(target=self.restart_gateway).start()
        gateway.restart_how = (
            "restarting: the simulated gateway stops cleanly and starts again in the demo"
        )
        return gateway

    def restart_gateway(self) -> None:
        """Stop the gateway and start a fresh one on the same devices and state."""
        # One at a time with `stop`: a restart racing the end of the demo must neither
        # stop a gateway twice nor start one after the station stopped.
        with self._lifecycle:
            if self._stop.is_set():
                return
            self.gateway.stop()
            self.gateway = self._new_gateway()
            self.gateway.start()

    def _watch(self, event: EventPayload) -> None:
        if isinstance(event, DoorEvent) and event.state is DoorState.UNLOCKED:
            self._unlocked.set()
        elif isinstance(event, AccessEvent):
            self._granted = event.decision == "granted"
            self._answered.set()
        elif isinstance(event, FacePairingEvent) and event.action is FaceAction.PAIRED:
            for person in self.people:
                if str(person.worker_number) == event.person_id:
                    person.face_paired = True

    def _scan(self, scanner: VirtualScanner, token: str) -> bool:
        """Show a token; True if the gateway granted it (the person then hears the lock)."""
        self._answered.clear()
        scanner.scan(token)
        return self._answered.wait(5.0) and self._granted

    def start(self) -> None:
        """Start the gateway and the people."""
        self.gateway.start()
        self._started = True
        self._thread.start()

    def halt(self) -> None:
        """Tell the people to stop: none starts anything new, and a pause ends at once.
        Returns at once; `stop()` waits for them."""
        self._stop.set()
        self.hands.stop()

    def stop(self) -> None:
        """Stop the people, then the gateway, then unplug the devices. Also for a station
        never started (a demo stopped while starting), whose devices are open all the same."""
        self.halt()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        with self._lifecycle:
            if self._started:
                self.gateway.stop()
        for device in (self.entry_scanner, self.exit_scanner, self.radar):
            device.close()
        self.face_terminal.close()
        self.pin_factory.reset()
        if self._own_state_dir is not None:
            shutil.rmtree(self._own_state_dir, ignore_errors=True)

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
        elif rng.random() < traffic.forged_code_share:
            self._scan(self.entry_scanner, self._forged_token())
        else:
            outside = [p for p in self.people if p not in self.inside]
            if outside:
                self._arrive(rng.choice(outside))
        self.radar.set_presence(
            Presence(stationary_cm=150, stationary_energy=60) if self.inside else Presence()
        )

    def _forged_token(self) -> str:
        """A well-formed token for a made-up worker, signed with the wrong key."""
        number = self._random.randrange(1, 2**32)
        return issue_token(self._forger, worker_number=number, not_before=utc_now())

    def _token(self, person: Person) -> str | None:
        if self.token_for is None:
            return None
        return self.token_for(person.worker_number)

    def _enrol_face(self, person: Person, token: str) -> None:
        """Staff start enrolment at the door's terminal, which captures the worker's face;
        the worker confirms with their pass. No door opens; they come in next time."""
        closes = time.monotonic() + 30.0
        self.gateway.enrolments.open(EnrolmentWindow("face-main", DOOR, NOTICE_VERSION, closes))
        # Stands for the picture the terminal takes; it never leaves the terminal.
        self.face_terminal.capture_face(b"\xff\xd8 face of worker %d" % person.worker_number)
        self.entry_scanner.scan(token)
        person.last_entry_token = token

    def _face_known(self, person: Person) -> bool:
        faces = self.gateway.access.trust.credentials.faces
        return person.face_paired and str(person.worker_number) in faces

    def _arrive(self, person: Person) -> None:
        token = self._token(person)
        if token is None or token == person.last_entry_token:
            return  # no pass yet, or the phone still shows the code used to come in
        if person.wants_face and not person.face_paired:
            self._enrol_face(person, token)
            return
        rng = self._random
        sleeper = self._hour() < 6 and rng.random() < self.traffic.sleeper_share
        stay = self.traffic.mean_stay_s * (8 if sleeper else 1)
        person.leaves_at = time.monotonic() + rng.expovariate(1 / stay)
        self._unlocked.clear()
        if self._face_known(person) and self.gateway.faces.isapi["face-main"].up:
            self._answered.clear()
            self.face_terminal.verify_face(str(person.worker_number))
            granted = self._answered.wait(5.0) and self._granted
        else:
            granted = self._scan(self.entry_scanner, token)
        if not granted:
            return  # refused (full, say): they go on to another station
        person.last_entry_token = token
        if self.hands.wait_unlocked():
            held = 35.0 if rng.random() < self.traffic.held_open_share else 0.0
            self.hands.pass_through(inwards=True, hold_open_s=held)
            self.inside.append(person)

    def _leave(self, person: Person) -> None:
        token = self._token(person)
        self._unlocked.clear()
        if token is None or self._random.random() < self.traffic.exit_button_share:
            self.hands.press_exit_button()
        elif not self._scan(self.exit_scanner, token):
            return
        if self.hands.wait_unlocked():
            self.hands.pass_through(inwards=False)
            self.inside.remove(person)
