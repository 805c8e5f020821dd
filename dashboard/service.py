"""The central service: broker link → ingest → store, occupancy published back, HTTP served.

The composition root of the central; the logic lives in `ingest`, `store`, `occupancy`
and `api`.
"""

from __future__ import annotations

import logging
import threading

import uvicorn

from contract.payloads import CentralStatus, StationOccupancy, utc_now
from contract.topics import ROOT, TOPIC_BY_NAME, central_topic, occupancy_topic
from dashboard.api import create_app
from dashboard.config import CentralSettings
from dashboard.credentials import Credentials
from dashboard.ingest import Ingest
from dashboard.metrics import IngestMetrics
from dashboard.store import BatchResult, Store
from dashboard.workers_api import install_error_handler, workers_router
from yizhan import __version__
from yizhan.mqtt_link import Message, MqttLink, Retained

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
        status_topic = central_topic(settings.central_id)
        self.link = MqttLink(
            # A stable id and a persistent session: while this replica is down the broker
            # keeps what it has not acknowledged, and delivers it when it is back.
            client_id=f"yz-central-{settings.central_id}",
            broker=settings.broker,
            subscriptions=SUBSCRIPTIONS,
            on_message=self._submit,
            will=Retained(status_topic, self._status(online=False)),
            birth=lambda: Retained(status_topic, self._status(online=True)),
            clean_session=False,
            manual_ack=True,
        )
        self.ingest = Ingest(
            self.store, self.metrics, self._publish_occupancy, acknowledge=self.link.ack
        )
        self.app = create_app(self.store, self.metrics, lambda: self.link.connected)
        self._stopping = threading.Event()
        self._alerts = threading.Thread(target=self._watch_gaps, name="gap-alerts", daemon=True)
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
        self._alerts.start()
        self.link.start()
        self.credentials.start()

    def running(self) -> bool:
        """True while the ingest writer is alive."""
        return self.ingest.running

    def stop(self) -> None:
        """Write what was received, acknowledge it, say offline, disconnect, close."""
        self._stopping.set()
        self.credentials.stop()
        self.ingest.stop()
        status = Retained(central_topic(self.settings.central_id), self._status(online=False))
        self.link.stop(goodbye=status)
        if self._alerts.is_alive():
            self._alerts.join(timeout=5)
        self.store.close()

    def _submit(self, message: Message) -> None:
        if self._stopping.is_set():
            # Not acknowledged: the broker keeps it for this replica's next start.
            return
        self.ingest.submit(message)

    def _status(self, online: bool) -> bytes:
        return CentralStatus(
            central_id=self.settings.central_id,
            online=online,
            at=utc_now() if online else None,
            version=__version__,
        ).to_json()

    def _watch_gaps(self) -> None:
        after = self.settings.alerts.gap_after_s
        # Check a few times per threshold, so an alert is at most a quarter late.
        interval = min(max(after / 4, 0.2), 10.0)
        while not self._stopping.wait(interval):
            try:
                for alert_id in self.store.raise_gap_alerts(after):
                    log.warning("sequence gap alert %d opened", alert_id)
            except Exception:
                log.exception("checking sequence gaps failed")

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
