"""Shared fixtures: a private Mosquitto, mock pins, a running central service."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from dashboard.config import CentralSettings, DatabaseSettings, HttpSettings, StationSettings
from dashboard.service import Central, serve_in_thread
from tests.support.mosquitto import MosquittoBroker, free_port
from tests.support.operators import authorize
from tests.support.probe import MqttProbe, wait_retained_keys
from yizhan.settings import BrokerSettings


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """One private broker for the whole run, on a port nobody else uses."""
    broker = MosquittoBroker(tmp_path_factory.mktemp("mosquitto"), free_port())
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


@dataclass
class RunningCentral:
    """A central service with its HTTP API on a free port."""

    service: Central
    base_url: str
    http: httpx.Client


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
        stations=[
            StationSettings(id="cs-0001", name="五一广场驿站", lat=28.196, lon=112.977, capacity=12)
        ],
    )
    service = Central(settings)
    service.start()
    assert service.link.wait_connected(10), "central could not reach the private broker"
    publisher = service.credentials.publisher
    assert publisher is not None
    with publisher.published:
        assert publisher.published.wait_for(lambda: publisher.publications > 0, 10)
    # Other tests' centrals left their own keys retained on this shared broker, with
    # version numbers as low as this one's: a gateway of this test must be handed this
    # central's keys, so wait until the broker holds them.
    wait_retained_keys(broker_settings.url, service)
    server = service.http_server()
    serve_in_thread(server)
    base_url = f"http://127.0.0.1:{settings.http.port}"
    with httpx.Client(base_url=base_url, timeout=10) as http:
        authorize(http, service.operators)
        yield RunningCentral(service, base_url, http)
    server.should_exit = True
    service.stop()


@pytest.fixture()
def probe(mosquitto: MosquittoBroker) -> Iterator[MqttProbe]:
    """A test MQTT client subscribed to everything under the project's root."""
    client = MqttProbe(mosquitto.url, ["yz/#"])
    yield client
    client.close()
