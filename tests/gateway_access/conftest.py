"""Each access test gets a broker of its own (so it may stop it, and retained state starts
empty) and the real central on it, with its HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway_access.support import STATIONS, central_settings
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central


@pytest.fixture()
def central(tmp_path: Path, own_broker: MosquittoBroker) -> Iterator[RunningCentral]:
    """The real central on the test's broker; its retained keys are out when it is yielded."""
    yield from run_central(
        central_settings(tmp_path, own_broker.url), retained_out=True, stations=STATIONS
    )


@pytest.fixture()
def probe(own_broker: MosquittoBroker) -> Iterator[MqttProbe]:
    """A client on the test's broker, to publish what the central would."""
    client = MqttProbe(own_broker.url)
    yield client
    client.close()
