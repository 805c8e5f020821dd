"""A station whose door a worker opens from the phone: the real central (HTTP API and
broker link), a private Mosquitto and the real gateway service on gpiozero mock pins,
trusting the central's operator key; a worker with a pass link and a door sticker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from gpiozero.pins.mock import MockFactory

from dashboard.core.config import DoorSettings as CentralDoorSettings
from dashboard.core.stations import StationInput
from gateway.config import DoorSettings, GatewaySettings, MaintenanceSettings
from gateway.service import Gateway
from servicekit.settings import BrokerSettings
from tests.central.conftest import central_settings
from tests.reliability.site import RELAY_PIN, one_door_board
from tests.support.events import Events
from tests.support.running_central import RunningCentral, run_central
from tests.support.waiting import wait_until

STATION, DOOR, GATEWAY = "cs-0001", "main", "gw-1"
SILENT = "cs-0002"
"""A station whose gateway is never started: nobody answers there."""
STATION_LAT, STATION_LON = 28.196, 112.977

STATIONS = [
    StationInput.model_validate(
        dict(
            id=STATION,
            name="五一广场驿站",
            lat=STATION_LAT,
            lon=STATION_LON,
            capacity=5,
            doors=[{"id": DOOR, "gateway_id": GATEWAY}],
            gateways=[GATEWAY],
        )
    ),
    StationInput.model_validate(
        dict(
            id=SILENT,
            name="岳麓山驿站",
            lat=28.183,
            lon=112.938,
            capacity=5,
            doors=[{"id": DOOR, "gateway_id": GATEWAY}],
            gateways=[GATEWAY],
        )
    ),
]


@dataclass
class PhoneSite:
    """The running parts, and what a test reads from them."""

    central: RunningCentral
    gateway: Gateway
    pins: MockFactory
    events: Events

    @property
    def relay_states(self) -> list[bool]:
        """Every state the lock relay's pin has had (fail-safe: high = secured)."""
        return [s.state for s in self.pins.pin(RELAY_PIN).states]

    def relay_released_after(self, seen: int) -> bool:
        """Whether the relay went low (released) after its first `seen` states."""
        return any(state is False for state in self.relay_states[seen:])

    def sticker(self, station: str = STATION, door: str = DOOR) -> str:
        """Make (or rotate) the door's sticker; its address."""
        made = self.central.http.post(f"/api/stations/{station}/doors/{door}/sticker")
        assert made.status_code == 201, made.text
        url: str = made.json()["url"]
        return url

    def worker(self, **fields: Any) -> tuple[str, str]:
        """Enroll a worker and make their pass link: (worker id, link secret)."""
        body = {"display_name": "李明", "platform": "meituan", **fields}
        made = self.central.http.post("/api/workers", json=body)
        assert made.status_code == 201, made.text
        worker_id: str = made.json()["worker_id"]
        link = self.central.http.post(f"/api/workers/{worker_id}/pass-links")
        assert link.status_code == 201, link.text
        secret: str = link.json()["secret"]
        return worker_id, secret

    def phone(self, pass_secret: str | None) -> httpx.Client:
        """A phone's HTTP client; with `pass_secret` it opened its pass link first."""
        client = httpx.Client(base_url=self.central.base_url, timeout=30)
        if pass_secret is not None:
            page = client.get(f"/pass/{pass_secret}", headers={"Accept": "text/html"})
            assert page.status_code == 200, page.text
        return client

    def set_count(self, count: int, station: str = STATION) -> None:
        """Correct the station's count by hand, as an operator does."""
        answer = self.central.http.put(
            f"/api/stations/{station}/occupancy",
            json={"zone": "rest", "count": count, "reason": "test"},
        )
        assert answer.status_code == 200, answer.text
        wait_until(
            lambda: self.central.http.get(f"/api/stations/{station}").json()["occupancy"] == count,
            what=f"the count of {station} to read {count}",
        )


def run_phone_site(
    tmp_path: Path,
    broker: BrokerSettings,
    database_url: str,
    doors: CentralDoorSettings | None = None,
    stations: list[StationInput] = STATIONS,
    unlock_s: float = 0.3,
) -> Iterator[PhoneSite]:
    """Start the central and the station's gateway (its door unlocks for `unlock_s`);
    stop both afterwards."""
    settings = central_settings(
        tmp_path, broker.url, database_url, doors=doors or CentralDoorSettings()
    )
    for central in run_central(settings, stations=stations):
        key = central.service.operator_key
        pins = MockFactory()
        gateway = Gateway(
            GatewaySettings(
                station_id=STATION,
                gateway_id=GATEWAY,
                broker=broker,
                doors={DOOR: DoorSettings(unlock_s=unlock_s)},
                state_dir=tmp_path / "gw",
                maintenance=MaintenanceSettings(operators={key.name: key.public_key}),
            ),
            one_door_board(),
            pin_factory=pins,
        )
        events = Events()
        gateway.add_listener(events)
        gateway.start()
        try:
            assert gateway.link.wait_connected(10)
            yield PhoneSite(central, gateway, pins, events)
        finally:
            gateway.stop()
