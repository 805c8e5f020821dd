"""The central service: broker link → ingest → store, occupancy published back, HTTP served.

The composition root of the central; the logic lives in `ingest`, `store`, `occupancy`
and `api`.
"""

from __future__ import annotations

import logging
import threading
import uuid

import uvicorn

from contract.payloads import StationOccupancy, utc_now
from contract.topics import ROOT, TOPIC_BY_NAME, occupancy_topic
from dashboard.api import create_app
from dashboard.config import CentralSettings
from dashboard.credentials import Credentials
from dashboard.ingest import Ingest
from dashboard.metrics import IngestMetrics
from dashboard.store import BatchResult, Store
from dashboard.workers_api import install_error_handler, workers_router
from yizhan.mqtt_link import MqttLink

log = logging.getLogger(__name__)

SUBSCRIPTIONS = (
    (f"{ROOT}/st/+/gw/+/event/+", 1),
    (TOPIC_BY_NAME["availability"].wildcard, 1),
)
"""What the central listens to: every gateway's events and availability."""


class Central:
    """The central service. `start()` connects and ingests; `http_server()` serves the API."""

    def __init__(self, settings: CentralSettings) -> None:
        self.settings = settings
        self.store = Store(settings.database.path)
        for station in settings.stations:
            self.store.upsert_station(
                station.id, station.name, station.lat, station.lon, station.capacity
            )
        self.metrics = IngestMetrics()
        self.ingest = Ingest(self.store, self.metrics, self._publish_occupancy)
        self.link = MqttLink(
            # A fresh id per process: two centrals must not knock each other off the broker.
            client_id=f"yz-central-{uuid.uuid4().hex[:12]}",
            broker=settings.broker,
            subscriptions=SUBSCRIPTIONS,
            on_message=self.ingest.submit,
            clean_session=True,
        )
        self.app = create_app(self.store, self.metrics, lambda: self.link.connected)
        # Worker credentials: keys, revocations and face/card maps go out retained.
        self.credentials = Credentials(
            settings,
            publish=lambda topic, raw: self.link.publish(topic, raw, qos=1, retain=True),
            station_ids=lambda: [station.id for station in self.store.stations()],
            connected=lambda: self.link.connected,
        )
        install_error_handler(self.app)
        self.app.include_router(workers_router(self.credentials, self.store))

    def start(self) -> None:
        """Start ingest and connect to the broker (in the background)."""
        self.ingest.start()
        self.link.start()
        self.credentials.start()

    def running(self) -> bool:
        """True while the ingest writer is alive."""
        return self.ingest.running

    def stop(self) -> None:
        """Disconnect, write what was received, close the store."""
        self.credentials.stop()
        self.link.stop()
        self.ingest.stop()
        self.store.close()

    def http_server(self, host: str | None = None, port: int | None = None) -> uvicorn.Server:
        """A uvicorn server for the API; `run()` it in the main thread or `serve_in_thread`."""
        config = uvicorn.Config(
            self.app,
            host=host or self.settings.http.host,
            port=self.settings.http.port if port is None else port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        return uvicorn.Server(config)

    def _publish_occupancy(self, batch: BatchResult) -> None:
        now = utc_now()
        for station_id, (occupancy, capacity) in batch.occupancy.items():
            message = StationOccupancy(
                station_id=station_id, occupancy=occupancy, capacity=capacity, at=now
            )
            self.link.publish(occupancy_topic(station_id), message.to_json(), qos=1, retain=True)


def serve_in_thread(server: uvicorn.Server, timeout: float = 10.0) -> threading.Thread:
    """Run a uvicorn server in a background thread and return once it accepts requests."""
    thread = threading.Thread(target=server.run, name="http", daemon=True)
    thread.start()
    deadline = threading.Event()
    waited = 0.0
    while not server.started and thread.is_alive() and waited < timeout:
        deadline.wait(0.02)
        waited += 0.02
    if not server.started:
        raise RuntimeError("HTTP server did not start; is the port already in use?")
    return thread
