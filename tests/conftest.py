"""Shared fixtures: a private Mosquitto, mock pins, a running central service, a browser."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from playwright.sync_api import Browser

from dashboard.core.config import CentralSettings, DatabaseSettings, HttpSettings
from dashboard.core.stations import StationInput
from servicekit.settings import BrokerSettings
from tests.support.browser import chromium
from tests.support.mosquitto import MosquittoBroker, free_port
from tests.support.postgres import PostgresServer
from tests.support.probe import MqttProbe, wait_retained_keys
from tests.support.running_central import RunningCentral, run_central


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """One private broker for the whole run, on a port nobody else uses."""
    broker = MosquittoBroker(tmp_path_factory.mktemp("mosquitto"), free_port())
    broker.start()
    yield broker
    broker.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the route coverage check last: it reads what every other test's requests reached."""
    last = [item for item in items if item.name.startswith("test_every_route_is_reached")]
    items[:] = [item for item in items if item not in last] + last


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the run (a throwaway cluster unless one is configured)."""
    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind: a test that takes it runs once on SQLite and
    once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'central.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.create_database()
    yield url
    server.drop_database(url)


@pytest.fixture()
def own_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker for this test alone: no retained state or queued sessions left by other
    tests, and the test may stop and start it."""
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    broker = MosquittoBroker(directory, free_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture()
def broker_settings(mosquitto: MosquittoBroker) -> BrokerSettings:
    """Settings that point a gateway or the central at the private broker."""
    return BrokerSettings(url=mosquitto.url)


@pytest.fixture()
def mock_pins() -> Iterator[MockFactory]:
    """A fresh gpiozero mock pin factory, reset afterwards so pins are free again."""
    saved = Device.pin_factory
    factory = MockFactory()
    Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        Device.pin_factory = saved


@pytest.fixture()
def central(tmp_path: Path, broker_settings: BrokerSettings) -> Iterator[RunningCentral]:
    """The real central service on a fresh SQLite file, connected to the private broker."""
    settings = CentralSettings(
        # Its own replica id: the broker keeps each replica's session (and what it has
        # not stored) for it, and the next test's central must not inherit this one's.
        central_id=f"test-{uuid.uuid4().hex[:8]}",
        broker=broker_settings,
        http=HttpSettings(host="127.0.0.1", port=free_port()),
        database=DatabaseSettings(path=tmp_path / "central.db"),
    )
    # Other tests' centrals left their own keys retained on this shared broker, with
    # version numbers as low as this one's: a gateway of this test must be handed this
    # central's keys, so wait until the broker holds them.
    yield from run_central(
        settings,
        retained_out=True,
        ready=lambda service: wait_retained_keys(broker_settings.url, service),
        stations=[
            StationInput(id="cs-0001", name="五一广场驿站", lat=28.196, lon=112.977, capacity=12)
        ],
    )


@pytest.fixture()
def probe(mosquitto: MosquittoBroker) -> Iterator[MqttProbe]:
    """A test MQTT client subscribed to everything under the project's root."""
    client = MqttProbe(mosquitto.url, ["yz/#"])
    yield client
    client.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for the tests of one module."""
    with chromium() as launched:
        yield launched
