"""A central with worker credentials on its own private broker, so that the retained
keys, revocations and maps a test reads are that central's and no earlier test's; every
test here runs once on SQLite and once on PostgreSQL (`database_url`, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.core.config import (
    CentralSettings,
    CredentialSettings,
    DatabaseSettings,
    HttpSettings,
)
from dashboard.core.stations import StationInput
from dashboard.storage.store import Store
from servicekit.settings import BrokerSettings
from tests.support.mosquitto import MosquittoBroker, free_port
from tests.support.running_central import RunningCentral, run_central

STATIONS = [
    # Changsha: Furong and Yuelu districts; Shenzhen far away in another province.
    StationInput(
        id="cs-0001",
        name="五一广场驿站",
        lat=28.196,
        lon=112.977,
        capacity=12,
        number=4242,
        region_code=430102,
    ),
    StationInput(
        id="cs-0002",
        name="岳麓山驿站",
        lat=28.183,
        lon=112.938,
        capacity=8,
        number=4243,
        region_code=430104,
    ),
    StationInput(
        id="sz-0001",
        name="深圳湾驿站",
        lat=22.512,
        lon=113.951,
        capacity=10,
        number=9001,
        region_code=440305,
    ),
]


def central_settings(tmp_path: Path, broker_url: str, database_url: str) -> CentralSettings:
    """Settings of the test central: three stations, keys rotate without a lead."""
    return CentralSettings(
        broker=BrokerSettings(url=broker_url),
        http=HttpSettings(host="127.0.0.1", port=free_port()),
        # The path also places the key directory (next to it) when the URL is PostgreSQL.
        database=DatabaseSettings(path=tmp_path / "central.db", url=database_url),
        credentials=CredentialSettings(rotation_lead_s=0, rotation_overlap_s=600),
    )


@pytest.fixture()
def settings(tmp_path: Path, own_broker: MosquittoBroker, database_url: str) -> CentralSettings:
    """The test central's settings, on each kind of database."""
    return central_settings(tmp_path, own_broker.url, database_url)


@pytest.fixture()
def config_file(tmp_path: Path, settings: CentralSettings) -> Path:
    """The same settings as a TOML file, for the CLI."""
    lines = [
        "[broker]",
        f'url = "{settings.broker.url}"',
        "[http]",
        f'host = "{settings.http.host}"',
        f"port = {settings.http.port}",
        "[database]",
        f'path = "{settings.database.path}"',
        f'url = "{settings.database.resolved_url}"',
        "[credentials]",
        "rotation_lead_s = 0",
        "rotation_overlap_s = 600",
    ]
    # The registry the commands find, as `yizhan central` and `yizhan stations import`
    # leave it: the CLI never creates a database of its own.
    store = Store.open(settings.database.resolved_url)
    try:
        store.put_stations(STATIONS)
    finally:
        store.close()
    path = tmp_path / "central.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def central(settings: CentralSettings) -> Iterator[RunningCentral]:
    """The real central on its own broker and database, with its HTTP API."""
    # Tests start once the retained documents are on the broker.
    yield from run_central(settings, retained_out=True, stations=STATIONS)
