"""The real central service with its HTTP API, started and stopped for one test."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import httpx

from dashboard.central import Central, serve_in_thread
from dashboard.core.config import CentralSettings
from dashboard.core.stations import StationInput
from tests.support.operators import QUICK_HASHER, authorize
from tests.support.route_coverage import record_routes


@dataclass
class RunningCentral:
    """A central service with its HTTP API on a free port, and a logged-in client."""

    service: Central
    base_url: str
    http: httpx.Client
    operator: str
    """The name `http` is logged in as (an admin)."""


def run_central(
    settings: CentralSettings,
    retained_out: bool = False,
    ready: Callable[[Central], None] | None = None,
    stations: Sequence[StationInput] = (),
) -> Generator[RunningCentral, None, None]:
    """Start a central, serve its API, yield it with an admin client, stop it afterwards.

    `stations` are put into its registry before it starts, as `yizhan stations import`
    would (again on a restart: putting the same stations changes nothing).

    `retained_out` waits until the central has published its retained credential
    documents; `ready` runs once more before the API is served (a test's own readiness).
    """
    service = Central(settings)
    service.operators.hasher = QUICK_HASHER
    if stations:
        service.store.put_stations(stations)
    service.start()
    try:
        assert service.link.wait_connected(10), "central could not reach its broker"
        if retained_out:
            publisher = service.credentials.publisher
            assert publisher is not None
            with publisher.published:
                assert publisher.published.wait_for(lambda: publisher.publications > 0, 10)
        if ready is not None:
            ready(service)
        record_routes(service.app, settings.database.resolved_url)
        server = service.http_server()
        serve_in_thread(server)
        base_url = f"http://127.0.0.1:{settings.http.port}"
        try:
            with httpx.Client(base_url=base_url, timeout=10) as http:
                operator = authorize(http, service.operators)
                yield RunningCentral(service, base_url, http, operator)
        finally:
            server.should_exit = True
    finally:
        service.stop()
