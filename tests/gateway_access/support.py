"""A site for access tests: a broker of its own, the real central on it, and gateways on
simulated boards that a test can start, stop and start again on the same state directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from contract.payloads import AccessEvent, DoorEvent, utc_now
from contract.tokens import decode_token, issue_token
from dashboard.core.config import (
    CentralSettings,
    ClockSettings,
    CredentialSettings,
    DatabaseSettings,
    HttpSettings,
)
from dashboard.core.stations import StationInput
from gateway.config import (
    DoorSettings,
    FaceTerminalSettings,
    GatewaySettings,
    MaintenanceSettings,
    PolicySettings,
)
from gateway.service import Gateway
from hardware.sim.radar import VirtualRadar
from hardware.sim.scanner import VirtualScanner
from servicekit.settings import BrokerSettings
from tests.support.events import Events
from tests.support.mosquitto import free_port
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until
from yizhan.simulated_station import DOOR, simulated_board

STATION = "cs-0001"
NUMBER, REGION = 4242, 430102
"""Where cs-0001 stands, for the central and the gateway alike."""

STATIONS = [
    StationInput(id=STATION, name="五一广场驿站", capacity=12, number=NUMBER, region_code=REGION),
    StationInput(id="cs-0002", name="岳麓山驿站", capacity=8, number=4243, region_code=430104),
]


def central_settings(tmp_path: Path, broker_url: str) -> CentralSettings:
    """The test central: two Changsha stations, on the given broker."""
    return CentralSettings(
        broker=BrokerSettings(url=broker_url),
        http=HttpSettings(host="127.0.0.1", port=free_port()),
        database=DatabaseSettings(path=tmp_path / "central.db"),
        credentials=CredentialSettings(rotation_lead_s=0, rotation_overlap_s=600),
        # Gateways hear the central's time within moments of connecting.
        clock=ClockSettings(tick_s=0.5),
    )


def enroll(central: RunningCentral, **fields: Any) -> str:
    """Enroll a worker through the API and return their pass link's secret."""
    body = {"display_name": "李明", "platform": "meituan", **fields}
    response = central.http.post("/api/workers", json=body)
    assert response.status_code == 201, response.text
    worker_id = response.json()["worker_id"]
    link = central.http.post(f"/api/workers/{worker_id}/pass-links")
    assert link.status_code == 201, link.text
    secret: str = link.json()["secret"]
    return secret


def current_token(central: RunningCentral, secret: str) -> str:
    """The token the worker's pass page shows now, fetched over HTTP."""
    response = central.http.get(f"/api/pass/{secret}/tokens", params={"count": 0})
    assert response.status_code == 200, response.text
    token: str = response.json()["tokens"][0]["token"]
    return token


def token_issued_at(central: RunningCentral, secret: str, not_before: datetime | int) -> str:
    """A token of the worker of `secret`, signed with the central's own key as if the
    central had issued it at `not_before` (one the pass page showed earlier, or will)."""
    claims = decode_token(current_token(central, secret)).claims
    key = central.service.credentials.keys.signer_at(utc_now())
    assert key is not None, "the central has no signing key"
    return issue_token(
        key,
        worker_number=claims.worker_number,
        not_before=not_before,
        scope=claims.scope,
        group=claims.group,
    )


def worker_id_of_secret(central: RunningCentral, secret: str) -> str:
    """The worker a pass link belongs to, as the access events name them."""
    return decode_token(current_token(central, secret)).claims.worker_id


@dataclass
class Clock:
    """The gateway's wall clock: real time plus an offset a test may move (its monotonic
    clock, as on a real host, does not move with it)."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return utc_now() + self.offset


@dataclass
class Door:
    """A running gateway on a simulated board, and what it has emitted."""

    gateway: Gateway
    events: Events
    entry: VirtualScanner
    exit: VirtualScanner
    pins: MockFactory

    def scan_in(self, token: str) -> AccessEvent:
        """Show a token at the entry scanner; the gateway's decision."""
        return self._scan(self.entry, token)

    def scan_out(self, token: str) -> AccessEvent:
        """Show a token at the exit scanner; the gateway's decision."""
        return self._scan(self.exit, token)

    def _scan(self, scanner: VirtualScanner, token: str) -> AccessEvent:
        before = len(self.events.of(AccessEvent))
        scanner.scan(token)
        return self.next_access(before)

    def next_access(self, before: int) -> AccessEvent:
        """The access event after the first `before` ones, waiting for it."""
        self.events.wait_for(AccessEvent, lambda e: len(self.events.of(AccessEvent)) > before)
        return self.events.of(AccessEvent)[before]

    def unlocks(self) -> list[DoorEvent]:
        """Every time the lock was released, in order."""
        return [e for e in self.events.of(DoorEvent) if e.state == "unlocked"]


@contextmanager
def running_door(
    broker_url: str,
    state_dir: Path,
    pins: MockFactory,
    policy: PolicySettings | None = None,
    clock: Clock | None = None,
    gateway_id: str = "gw-1",
    face_terminals: list[FaceTerminalSettings] | None = None,
    maintenance: MaintenanceSettings | None = None,
) -> Iterator[Door]:
    """Start a gateway of cs-0001 on the simulated board; stop it and its devices after."""
    entry, exit_, radar = VirtualScanner(), VirtualScanner(), VirtualRadar(period_s=1.0)
    settings = GatewaySettings(
        station_id=STATION,
        gateway_id=gateway_id,
        broker=BrokerSettings(url=broker_url),
        doors={DOOR: DoorSettings(unlock_s=0.5)},
        policy=policy or PolicySettings(station_number=NUMBER, region_code=REGION),
        state_dir=state_dir,
        face_terminals=face_terminals or [],
        maintenance=maintenance or MaintenanceSettings(),
    )
    board = simulated_board(entry.port, exit_.port, radar.port)
    gateway = Gateway(settings, board, pin_factory=pins, clock=clock or Clock())
    events = Events()
    gateway.add_listener(events)
    gateway.start()
    try:
        assert gateway.devices.wait_serial_open(5)
        yield Door(gateway, events, entry, exit_, pins)
    finally:
        gateway.stop()
        for device in (entry, exit_, radar):
            device.close()


def wait_trust(gateway: Gateway, what: str, condition: Any, timeout: float = 10) -> None:
    """Wait until the gateway's trust data satisfies `condition` (a message arrived)."""
    wait_until(lambda: condition(gateway.access.trust), timeout, what)
