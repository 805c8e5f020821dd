"""The central service: broker link → ingest → store, changes published back, HTTP served.

The composition root of the central; the logic lives in `ingest`, `store`, `occupancy`,
`alerts` and the API modules. Every committed change (an ingest batch, a time-driven
check, an operator's correction) goes to one place, `_changed`, which publishes the
retained occupancy and each gateway's stored mark, feeds the live stream and hands
points to the InfluxDB export.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import uvicorn

from contract.payloads import CentralStatus, Command, utc_now
from contract.signing import sign
from contract.topics import ROOT, TOPIC_BY_NAME, central_topic
from dashboard.core.alert_rules import AlertKind
from dashboard.core.changes import AlertThresholds, BatchResult
from dashboard.core.config import CentralSettings
from dashboard.core.ingest_health import problems
from dashboard.ingest.checks import record_outages, run_checks
from dashboard.ingest.metrics import IngestMetrics
from dashboard.ingest.pipeline import Ingest
from dashboard.ingest.stored_marks import StoredMarks
from dashboard.services.change_relay import ChangeRelay
from dashboard.services.clock_ticks import ClockTicker
from dashboard.services.credentials import Credentials
from dashboard.services.face_removals import FaceRemovals
from dashboard.services.gateway_accounts import gateway_accounts
from dashboard.services.gateway_provisioning import GatewayProvisioning
from dashboard.services.influx import InfluxExport
from dashboard.services.leader_lease import LeaderLease
from dashboard.services.occupancy_publisher import OccupancyPublisher, publish_counts
from dashboard.services.worker_voice import WorkerVoice
from dashboard.storage.enrollments import EnrollmentStore
from dashboard.storage.failures import classify, describe
from dashboard.storage.history import OccupancyHistory
from dashboard.storage.migrations import open_database
from dashboard.storage.operators import OperatorStore
from dashboard.storage.store import Store
from dashboard.web.app import WebParts, build_app
from dashboard.web.live import LiveHub
from dashboard.web.live_messages import occupancy_of_text
from dashboard.web.map_state import REREAD_S, StationMapState
from servicekit import __version__
from servicekit.mqtt_link import Message, MqttLink, Retained
from servicekit.operator_keys import OperatorKey

log = logging.getLogger(__name__)

FACE_SWEEP_S = 60.0
"""How often the periodic checks look for expired workers whose faces are still paired."""

SHARED = ((f"{ROOT}/st/+/gw/+/event/+", 1), (TOPIC_BY_NAME["health"].wildcard, 1))
"""Every gateway's events and health reports: the bulk of the traffic, which replicas
with a `replicas.share_group` split between them."""
SUBSCRIPTIONS = (
    *SHARED,
    (TOPIC_BY_NAME["availability"].wildcard, 1),
    (TOPIC_BY_NAME["reply"].wildcard, 1),
    (TOPIC_BY_NAME["config/reported"].wildcard, 1),
)
"""What the central listens to: every gateway's events, availability, health, reported
config, and its answers to commands (the central's own, matched by request id; others are
logged)."""


def subscriptions(share_group: str | None) -> tuple[tuple[str, int], ...]:
    """`SUBSCRIPTIONS`, with the events and health reports through the shared
    subscription `$share/<share_group>/...` when replicas share them (availability,
    replies and reported configs are few, and every replica hears them all)."""
    if share_group is None:
        return SUBSCRIPTIONS
    return tuple(
        (f"$share/{share_group}/{topic}" if (topic, qos) in SHARED else topic, qos)
        for topic, qos in SUBSCRIPTIONS
    )


class Central:
    """The central service. `start()` connects and ingests; `http_server()` serves the API."""

    def __init__(self, settings: CentralSettings) -> None:
        self.settings = settings
        self.sharing = settings.replicas.share_group is not None
        """Whether this replica shares the gateways' messages with others (docs/scale.md)."""
        self.database = open_database(settings.database.resolved_url)
        alerts = settings.alerts
        self.thresholds = AlertThresholds(
            gap_after_s=alerts.gap_after_s,
            offline_after_s=alerts.offline_after_s,
            sensor_silent_after_s=alerts.sensor_silent_after_s,
            clock_skew_s=alerts.clock_skew_s,
            empty_reset_s=settings.occupancy.empty_reset_s,
            stall_after_s=alerts.stall_after_s,
            # One central receives each gateway's messages in order; replicas that share
            # them may not, and apply each gateway's events in its order.
            reorder_hold_s=settings.replicas.reorder_hold_s if self.sharing else 0.0,
        )
        self.store = Store(self.database)
        self.metrics = IngestMetrics()
        self.live = LiveHub()
        # The map's station load, read once and kept current from every change.
        self.map_state = StationMapState(self.store)
        self.influx = InfluxExport(settings.influx) if settings.influx.url else None
        status_topic = central_topic(settings.central_id)
        self.link = MqttLink(
            # A stable id and a persistent session: while this replica is down the broker
            # keeps what it has not acknowledged, and delivers it when it is back.
            client_id=f"yz-central-{settings.central_id}",
            broker=settings.broker,
            subscriptions=subscriptions(settings.replicas.share_group),
            on_message=self._submit,
            will=Retained(status_topic, self._status(online=False)),
            birth=lambda: Retained(status_topic, self._status(online=True)),
            clean_session=False,
            manual_ack=True,
            on_connected=self._listening,
        )
        # Each gateway keeps its events until its mark here says they are stored.
        self.stored_marks = StoredMarks(self.link.publish)
        self._listening_since: float | None = None
        """When the link last came up (epoch seconds): a gateway's silence counts only
        from then."""
        self.ingest = Ingest(
            self.database, self.thresholds, self.metrics, self._changed, acknowledge=self.link.ack
        )
        # Station pages' counts per minute: noted in memory from every change and written
        # by the periodic checks, never by the ingest writer per event.
        self.history = OccupancyHistory(self.database, settings.occupancy.history_step_s)
        self.operators = OperatorStore(self.database)
        self._stopping = threading.Event()
        # Replicas on one PostgreSQL database: only the lease holder runs the work that
        # must be done once (time-driven checks, retention, sweeps, the gateway export).
        self.lease = LeaderLease(settings.database.resolved_url)
        # ... and every replica's live stream shows what the others committed.
        self.relay = ChangeRelay(settings.database.resolved_url, settings.central_id, self._relayed)
        # Replicas that share: the leader alone publishes counts, as stored.
        self.occupancy_out = (
            OccupancyPublisher(
                self.store.occupancy_of,
                self._station_ids,
                self.link.publish,
                leading=lambda: self.lease.held,
            )
            if self.sharing
            else None
        )
        self._alerts = threading.Thread(target=self._watch, name="checks", daemon=True)
        # Worker credentials: keys, revocations and face/card maps go out retained, from
        # the leader alone: a replica that becomes leader publishes them all, as after a
        # reconnection, and a change made on another replica reaches it through the
        # database's revision counter within a second.
        self.credentials = Credentials(
            settings,
            publish=self.link.publish,
            station_ids=self._station_ids,
            connected=lambda: self.link.connected and self.lease.held,
            database=self.database,
        )
        # Gateways judge tokens by the central's time, which these ticks tell them.
        self.clock = ClockTicker(
            settings.central_id,
            settings.clock.tick_s,
            publish=self.link.publish,
            connected=lambda: self.link.connected,
        )
        sign_command = self._command_signer()
        # Gateways added from the dashboard: their broker accounts and enrollment codes.
        self.gateway_accounts = gateway_accounts(
            settings.provisioning, settings.broker, settings.central_id
        )
        self.provisioning = GatewayProvisioning(
            settings.provisioning,
            self.gateway_accounts,
            EnrollmentStore(self.database),
            self.store,
            broker_url=settings.broker.url,
            central_url=f"http://{settings.http.host}:{settings.http.port}",
            operator_keys=lambda: {self.operator_key.name: self.operator_key.public_key},
        )
        # Workers' fault reports and suggestions, and their photos' directory.
        self.voice = WorkerVoice(
            settings,
            self.database,
            worker_of_secret=self.credentials.active_worker_of_secret,
        )
        # Faces of workers whose validity ended are deleted from the terminals.
        self.face_removals = FaceRemovals(
            self.credentials,
            self.link.publish,
            sign_command,
            settings.commands.answer_timeout_s,
        )
        self.app = build_app(
            WebParts(
                settings=settings,
                store=self.store,
                operators=self.operators,
                credentials=self.credentials,
                history=self.history,
                metrics=self.metrics,
                live=self.live,
                map_state=self.map_state,
                changed=self._changed,
                broker_connected=lambda: self.link.connected,
                publish_command=self.link.publish,
                sign_command=sign_command,
                sign_config=lambda desired: sign(
                    desired, self.operator_key.name, self.operator_key.private_key
                ),
                extra_metrics=self._extra_metrics,
                problems=lambda: problems(self.ingest.state()),
                leader=lambda: self.lease.held,
                provisioning=self.provisioning,
                voice=self.voice,
            )
        )

    def start(self) -> None:
        """Start ingest and connect to the broker (in the background)."""
        # This month's and next month's partitions (PostgreSQL) exist before the first
        # event does; the periodic checks keep making them ahead.
        try:
            self.store.prepare_months(utc_now())
        except Exception as error:
            if not classify(error).unavailable:
                raise
            log.warning("event partitions wait for the database: %s", describe(error))
        if self.influx is not None:
            self.influx.start()
        self.stored_marks.start()
        self.ingest.start()
        self.lease.start()
        self.relay.start()
        if self.occupancy_out is not None:
            self.occupancy_out.start()
        self._alerts.start()
        self.link.start()
        self.credentials.start()
        self.clock.start()
        if self.gateway_accounts is not None:
            self.gateway_accounts.start()

    def _command_signer(self) -> Callable[[Command], Command]:
        """Signs door commands with the central's operator key, made on first start."""
        path = self.settings.commands.operator_key or self.settings.key_dir / "operator.key"
        if path.exists():
            key = OperatorKey.load(path)
        else:
            key = OperatorKey.generate(f"central-{self.settings.central_id}")
            key.save(path)
        self.operator_key = key
        log.info(
            "remote unlocks are signed with operator key %s, public key %s; gateways list it "
            "under [maintenance.operators]",
            key.name,
            key.public_key,
        )
        return lambda command: sign(command, key.name, key.private_key)

    def running(self) -> bool:
        """True while the ingest writer is alive."""
        return self.ingest.running

    def stop(self) -> None:
        """Write what was received, acknowledge it, say offline, disconnect, close."""
        self._stopping.set()
        self.clock.stop()
        if self.gateway_accounts is not None:
            self.gateway_accounts.stop()
        self.credentials.stop()
        self.ingest.stop()
        self.stored_marks.stop()
        with contextlib.suppress(Exception):
            # What the minute in progress saw, so a restart leaves no hole in the chart.
            self.history.flush(everything=True)
        if self.occupancy_out is not None:
            self.occupancy_out.stop()
        status = Retained(central_topic(self.settings.central_id), self._status(online=False))
        self.link.stop(goodbye=status)
        if self._alerts.is_alive():
            self._alerts.join(timeout=5)
        self.lease.stop()
        self.relay.stop()
        if self.influx is not None:
            self.influx.stop()
        self.store.close()

    def _station_ids(self) -> list[str]:
        return [station.id for station in self.store.stations()]

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

    def _watch(self) -> None:
        interval = self.settings.alerts.check_interval_s
        # Gap alerts are checked a few times per threshold, so one is at most a quarter late.
        interval = min(interval, max(self.settings.alerts.gap_after_s / 4, 0.2))
        # So is a command's deadline: "no answer" shows at most a quarter of it late.
        interval = min(interval, max(self.settings.commands.answer_timeout_s / 4, 0.2))
        next_purge = time.monotonic()
        next_health = time.monotonic()
        next_face_sweep = time.monotonic()
        next_reread = time.monotonic() + REREAD_S
        while not self._stopping.wait(interval):
            try:
                ingest = self.ingest.state()
                if self.lease.held:
                    listening = self._listening_since if self.link.connected else None
                    checked = run_checks(
                        self.database, self.thresholds, ingest=ingest, listening_since=listening
                    )
                else:
                    # A follower's own ingest can still fail or stall: that it records.
                    checked = record_outages(self.database, ingest)
                self._changed(checked)
                self.ingest.outages.recorded(ingest.outages)
                self.history.flush()
                if time.monotonic() >= next_reread:
                    next_reread = time.monotonic() + REREAD_S
                    self.map_state.reread()
                if not self.lease.held:
                    continue
                if time.monotonic() >= next_face_sweep:
                    next_face_sweep = time.monotonic() + FACE_SWEEP_S
                    expired = self.face_removals.remove_expired()
                    if expired:
                        log.info("faces of %d expired workers to be deleted", expired)
                    again = self.face_removals.ask_again()
                    if again:
                        log.info("face removals sent again, unconfirmed: %d", again)
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + self.settings.retention.purge_interval_s
                    self._retention()
                if self.influx is not None and time.monotonic() >= next_health:
                    next_health = time.monotonic() + self.settings.influx.health_interval_s
                    self.influx.gateways(self.store.gateways())
            except Exception as error:
                if classify(error).unavailable:
                    # Ingest reports the outage; a traceback every few seconds adds nothing.
                    log.warning("time-driven checks wait for the database: %s", describe(error))
                else:
                    log.exception("time-driven checks failed")

    def _retention(self) -> None:
        """Drop or delete what is past retention; make the coming months' partitions."""
        retention = self.settings.retention
        cutoff = utc_now() - timedelta(days=retention.entries_days)
        self.store.prepare_months(utc_now())
        purged = self.store.purge(cutoff)
        if purged.partitions:
            log.info(
                "retention: dropped %s, every row older than %s",
                ", ".join(purged.partitions),
                cutoff,
            )
        if purged.events:
            log.info("retention: deleted %d events older than %s", purged.events, cutoff)
        photos = self.voice.expire_photos()
        if photos:
            log.info("retention: deleted %d report photos", photos)

    def _relayed(self, messages: list[tuple[str, str | None, str]]) -> None:
        """What another replica committed: to this replica's stream, map and chart."""
        self.live.publish_texts(messages)
        self.map_state.mark({sid for _, sid, _ in messages if sid is not None})
        counts = BatchResult()
        for kind, _, text in messages:
            change = occupancy_of_text(text) if kind == "occupancy" else None
            if change is not None:
                counts.occupancy[change.station_id] = (change.occupancy, change.capacity)
        # Every replica's chart notes every count, whichever replica's batch moved it.
        self.history.note(counts)
        if self.occupancy_out is not None:
            self.occupancy_out.mark(counts.occupancy)

    def _listening(self) -> None:
        self._listening_since = time.time()

    def _extra_metrics(self) -> dict[str, float]:
        ingest = self.ingest.state()
        oldest = ingest.oldest_unstored_at
        gauges = {
            "ingest_backlog_messages": float(ingest.backlog),
            "ingest_oldest_unstored_seconds": 0.0 if oldest is None else time.time() - oldest,
            "storage_unavailable": float(
                any(o.kind is AlertKind.STORAGE_UNAVAILABLE for o in ingest.ongoing)
            ),
            "ingest_stalled": float(
                any(o.kind is AlertKind.INGEST_STALLED for o in ingest.ongoing)
            ),
            "central_leader": float(self.lease.held),
        }
        if self.influx is None:
            return gauges
        counters = self.influx.counters
        return {
            **gauges,
            "influx_points_written": counters.written,
            "influx_points_dropped": counters.dropped,
            "influx_points_queued": self.influx.queued,
        }

    def http_server(self, host: str | None = None, port: int | None = None) -> uvicorn.Server:
        """A uvicorn server for the API; `run()` it in the main thread or `serve_in_thread`."""
        # The map's stations are read now, not by the first page that asks for them.
        self.map_state.warm()
        config = uvicorn.Config(
            self.app,
            host=host or self.settings.http.host,
            port=self.settings.http.port if port is None else port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        return uvicorn.Server(config)

    def _changed(self, batch: BatchResult) -> None:
        """Publish what a committed batch, check or correction changed."""
        now = utc_now()
        self.history.note(batch, now.timestamp())
        if self.occupancy_out is not None:
            self.occupancy_out.mark(batch.occupancy)
        else:
            publish_counts(self.link.publish, batch.occupancy_changes(), now)
        # Marked before it is published: a page that hears of a change and loads the
        # map then finds it.
        self.map_state.note(batch)
        if self.live.subscribers or self.relay.wanted:
            # Written out only for someone: encoding every entry of a burst for nobody
            # takes the GIL from the thread that receives the next messages.
            self.relay.send(self.live.publish_changes(batch))
        self.stored_marks.note(batch.stored_marks)
        if self.influx is not None:
            self.influx.batch(batch)


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
