"""A central over each database: every API test runs on SQLite and on PostgreSQL (the
`database_url` fixture, shared by every test directory, is in `tests/conftest.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.core.config import (
    AlertSettings,
    CentralSettings,
    DatabaseSettings,
    HttpSettings,
    OccupancySettings,
    RetentionSettings,
)
from dashboard.core.stations import StationInput
from servicekit.settings import BrokerSettings
from tests.support.mosquitto import free_port
from tests.support.running_central import RunningCentral, run_central
from tests.support.victoria import VictoriaMetrics

STATIONS = [
    StationInput(
        id="cs-0001",
        name="五一广场驿站",
        lat=28.196,
        lon=112.977,
        capacity=12,
        address="长沙市芙蓉区五一大道 1 号",
        zones={"rest": None, "sleeping": 4},
        amenities=["water", "charging"],
        doors=[{"id": "main", "gateway_id": "gw-1"}, {"id": "dorm", "zone": "sleeping"}],
    ),
    StationInput(id="cs-0002", name="岳麓山驿站", lat=28.183, lon=112.938, capacity=2),
]


def central_settings(
    tmp_path: Path, broker_url: str, database_url: str, **overrides: object
) -> CentralSettings:
    """Settings of a test central on the given broker and database."""
    fields: dict[str, object] = dict(
        central_id=f"test-{uuid.uuid4().hex[:8]}",
        broker=BrokerSettings(url=broker_url),
        http=HttpSettings(host="127.0.0.1", port=free_port()),
        database=DatabaseSettings(path=tmp_path / "unused.db", url=database_url),
        alerts=AlertSettings(check_interval_s=0.1),
        occupancy=OccupancySettings(),
        # Tests load months long past (report data, late deliveries): the purge the
        # central runs as it starts must not take them while the test reads them.
        retention=RetentionSettings(entries_days=3650),
    )
    fields.update(overrides)
    return CentralSettings.model_validate(fields)


@pytest.fixture()
def any_central(
    tmp_path: Path, broker_settings: BrokerSettings, database_url: str
) -> Iterator[RunningCentral]:
    """The real central on SQLite, then on PostgreSQL, with two described stations."""
    settings = central_settings(tmp_path, broker_settings.url, database_url)
    yield from run_central(settings, stations=STATIONS)


@pytest.fixture()
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A private victoria-metrics, standing in for an InfluxDB 2 server."""
    server = VictoriaMetrics(tmp_path / "vm", free_port())
    server.directory.mkdir()
    server.start()
    yield server
    server.stop()
