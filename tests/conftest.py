"""Shared fixtures: a private Mosquitto, mock pins, a running central service, a browser."""

from __future__ import annotations

import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from tests.support.route_coverage import (
    central_routes,
    dumped,
    gaps,
    merge,
    missing_route_tests,
)
from tests.support.running_central import RunningCentral, run_central


class RoutesAcrossWorkers:
    """With the tests spread over pytest-xdist workers no worker sees every request: each
    hands over the routes it noted, and once all are done the controlling process checks
    them together, as `test_every_route_is_reached_on_both_backends` does in one process."""

    def __init__(self) -> None:
        self.noted: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.selected: set[Path] = set()

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {})
        if "routes_reached" in output:
            merge(self.noted, output["routes_reached"])
            self.selected.update(Path(path) for path in output["selected"])

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # Nothing heard from any worker: nothing selected, every route module missing.
        if missing_route_tests(self.selected):
            return
        with tempfile.TemporaryDirectory() as directory:
            routes = central_routes(Path(directory))
        found = gaps(routes, self.noted)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
        if found:
            if reporter is not None:
                reporter.write_line(
                    "routes no test reached successfully on both backends:\n" + "\n".join(found),
                    red=True,
                )
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif reporter is not None:
            reporter.write_line(f"every one of {len(routes)} routes reached on both backends")


def pytest_configure(config: pytest.Config) -> None:
    """On the controlling process of a pytest-xdist run, check routes across workers."""
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(RoutesAcrossWorkers(), "routes-across-workers")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker, hand the routes it noted to the controlling process."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["routes_reached"] = dumped()
        output["selected"] = sorted({str(item.path) for item in session.items})


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
def mosquitto(own_broker: MosquittoBroker) -> MosquittoBroker:
    """The test's broker, of its own (it starts in about 20 ms): no retained message, last
    will or queued session of another test reaches it, whatever order the tests run in and
    however many processes run them."""
    return own_broker


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
    # The central publishes its keys once it has started: wait until the broker holds
    # them, so that a gateway of this test is handed them as it connects.
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
