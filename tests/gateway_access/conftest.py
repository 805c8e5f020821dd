"""Each access test gets a broker of its own (so it may stop it, and retained state starts
empty) and the real central on it, with its HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dashboard.service import Central, serve_in_thread
from tests.conftest import RunningCentral
from tests.gateway_access.support import central_settings
from tests.support.mosquitto import MosquittoBroker, free_port
from tests.support.operators import authorize
from tests.support.probe import MqttProbe


@pytest.fixture()
def own_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker for this test alone, which the test may stop and start."""
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    broker = MosquittoBroker(directory, free_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture()
def central(tmp_path: Path, own_broker: MosquittoBroker) -> Iterator[RunningCentral]:
    """The real central on the test's broker; its retained keys are out when it is yielded."""
    service = Central(central_settings(tmp_path, own_broker.url))
    service.start()
    assert service.link.wait_connected(10), "central could not reach its broker"
    publisher = service.credentials.publisher
    assert publisher is not None
    with publisher.published:
        assert publisher.published.wait_for(lambda: publisher.publications > 0, 10)
    server = service.http_server()
    serve_in_thread(server)
    base_url = f"http://127.0.0.1:{service.settings.http.port}"
    with httpx.Client(base_url=base_url, timeout=10) as http:
        authorize(http, service.operators)
        yield RunningCentral(service, base_url, http)
    server.should_exit = True
    service.stop()


@pytest.fixture()
def probe(own_broker: MosquittoBroker) -> Iterator[MqttProbe]:
    """A client on the test's broker, to publish what the central would."""
    client = MqttProbe(own_broker.url)
    yield client
    client.close()
