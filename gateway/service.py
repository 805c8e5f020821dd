"""The gateway service: devices in, decisions at the door, events out, commands answered.

This is the composition root of one gateway. The decisions live in pure modules
(`access_rules`, `door_controller`, `commands`, `wire_events`); `access` keeps what access
decisions need between scans; `incoming` routes what the broker brings; this module only
wires the station's devices and the broker link to them.
"""

from __future__ import annotations

import logging
import platform
import queue
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from contract.codec import Rejected
from contract.maintenance_payloads import ConfigDesired, ConfigReport, DeviceHealth, Health
from contract.payloads import (
    AccessEvent,
    Availability,
    CentralStatus,
    ClockTick,
    Command,
    CommandReply,
    CrossingEvent,
    CrossingSource,
    Direction,
    EventPayload,
    FaceAction,
    FacePairingEvent,
    Reason,
    ReplyStatus,
    StationOccupancy,
    StoredMark,
    utc_now,
)
from contract.signing import verify
from contract.tokens import worker_id_of
from contract.topics import gateway_topic, parse_topic
from firmware_bridge.beams import BeamResult
from firmware_bridge.qr_lines import ScannedCode
from firmware_bridge.wiegand import WiegandCard
from gateway import wire_events
from gateway.access import TRUST_MODELS, AccessDesk, TrustMessage, wiegand_credential
from gateway.access_memory import AccessMemory
from gateway.access_rules import (
    AccessDecision,
    FaceCredential,
    PhoneCredential,
    Presented,
    QrCredential,
)
from gateway.central_clock import CentralClock
from gateway.command_gate import CommandGate
from gateway.commands import refusal_of
from gateway.config import GatewaySettings, check_doors
from gateway.devices import StationDevices
from gateway.diagnostics import RecentErrors, host_figures, process_id
from gateway.door_controller import DoorEvent
from gateway.events import EventStamper
from gateway.face_hikvision import IsapiError
from gateway.face_pairing import EnrolmentDesk, EnrolmentWindow, Refused, confirm
from gateway.face_terminals import FaceTerminals
from gateway.ha_discovery import DISCOVERY_QOS, DISCOVERY_RETAIN, Discovery
from gateway.health import HealthReporter
from gateway.incoming import IncomingRouter
from gateway.live_config import LiveConfig
from gateway.maintenance import MaintenanceCommands
from gateway.outbox import Outbox
from gateway.trust_store import TrustStore
from gateway.uplink import Uplink
from gateway.wire_events import WireEvent
from hardware.profile import BoardProfile, ScannerPort, WiegandInput
from servicekit import __version__
from servicekit.mqtt_link import Retained

log = logging.getLogger(__name__)

EventListener = Callable[[EventPayload], None]

RESTART_EXIT_CODE = 75
"""What `yizhan gateway` exits with after a `restart` command (EX_TEMPFAIL); the unit's
`Restart=always` starts it again."""


class Gateway:
    """One gateway: its devices and its broker link. `start()`, then `stop()`."""

    def __init__(
        self,
        settings: GatewaySettings,
        board: BoardProfile,
        pin_factory: Any = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        check_doors(settings, board)
        self.settings = settings
        self._clock = clock
        self._listeners: list[EventListener] = []
        self._gate = CommandGate(settings.state_dir, settings.maintenance.max_command_ttl_s)
        # Sequence numbers go on from the outbox's last commit, across restarts.
        self.outbox = Outbox(settings.outbox)
        self.stamper = EventStamper(
            settings.station_id, settings.gateway_id, clock, first_seq=self.outbox.next_seq
        )
        self._availability_topic = self._topic("availability")
        self._reported_topic = self._topic("config/reported")
        self._started = time.monotonic()
        self.central_clock = CentralClock()
        """The central's time, from its clock ticks: what tokens and commands are judged by."""
        self.recent_errors = RecentErrors()
        self.live = LiveConfig(settings, [door.id for door in board.doors])
        self.access = AccessDesk(
            settings.station_id,
            self.live.policy(),
            TrustStore(settings.state_dir, settings.station_id),
            AccessMemory(settings.state_dir),
        )
        self.discovery = Discovery(
            settings.home_assistant.discovery_prefix,
            settings.station_id,
            settings.gateway_id,
            self._topic("health"),
            self._availability_topic,
        )
        self._board = board
        self.incoming = self._routes()
        """Where each message from the broker goes, and so what the link subscribes to."""
        self.uplink = Uplink(
            settings,
            self.outbox,
            self.stamper,
            subscriptions=self.incoming.subscriptions,
            on_message=self.incoming.route,
            will=Retained(self._availability_topic, self._availability(online=False)),
            birth=lambda: Retained(self._availability_topic, self._availability(online=True)),
        )
        self.link = self.uplink.link
        # Before the devices: a door open at boot reports at once, and pokes the reporter.
        self.health = HealthReporter(
            self.link, self._topic("health"), self.health_report, self.live.health_interval_s
        )
        timings = {door.id: self.live.timing(door.id) for door in board.doors}
        self.devices = StationDevices(board, self, timings, pin_factory)
        self.faces = FaceTerminals(
            settings.face_terminals, self, settings.policy.time_zone, self.decision_time
        )
        self.enrolments = EnrolmentDesk()
        """Face enrolments waiting for the worker's confirming scan, by door."""
        self.commands = MaintenanceCommands(self, settings.maintenance.operator_keys())
        self._operators = settings.maintenance.operator_keys()
        self._work: queue.Queue[Command | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work_loop, name="commands", daemon=True)
        self.restart_requested = threading.Event()
        self.on_restart: Callable[[], None] | None = None
        """Called after a `restart` command was answered; `yizhan gateway` stops then."""
        self.restart_how = (
            f"restarting: the gateway stops cleanly and exits with code {RESTART_EXIT_CODE}; "
            "systemd starts it again within seconds"
        )
        """What the reply to `restart` says happens, where this gateway runs."""

    def add_listener(self, listener: EventListener) -> None:
        """Be told of every event this gateway emits (for the simulator and tests)."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Open the serial devices and connect; the doors work even while the broker is away."""
        logging.getLogger().addHandler(self.recent_errors)
        self.devices.start()
        self.faces.start()
        self.faces.trust_changed(self.access.trust)  # what the last run knew
        self._worker.start()
        self.uplink.start()
        # Queued until connected; retained, so they are current for anyone who looks.
        self._report_config()
        if self.settings.home_assistant.enabled:
            self.announce_to_home_assistant()
        self.health.start()

    def stop(self) -> None:
        """Close the devices, say offline and disconnect."""
        self.health.stop()
        self._work.put(None)
        if self._worker.is_alive() and self._worker is not threading.current_thread():
            self._worker.join(timeout=10)
        self.faces.stop()
        self.devices.close()
        self.uplink.stop(goodbye=Retained(self._availability_topic, self._availability(False)))
        # No decision and no peer's grant can come now: what they changed goes to disk.
        self.access.flush()
        logging.getLogger().removeHandler(self.recent_errors)

    def emit(self, wire: WireEvent) -> EventPayload:
        """Stamp an event, store it in the outbox (published from there), tell local
        listeners."""
        event = self.stamper.stamp(wire)
        self.uplink.send(event)
        for listener in self._listeners:
            listener(event)
        return event

    # -- what the devices report (DeviceListener) --

    def code_scanned(self, scanner: ScannerPort, code: ScannedCode) -> None:
        """Decide on a scanned QR code, or take it as the confirmation of a face enrolment
        waiting at this door."""
        window, late_s = self.enrolments.take(scanner.door, time.monotonic())
        if window is not None and late_s == 0:
            self._pair(window, code.text)
            return
        if window is not None:
            # The face the terminal captured stays unpaired: no person, so it opens nothing.
            log.warning(
                "face enrolment on terminal %s refused: the confirming scan came %.0f s after "
                "the window closed; no person created (the scan is taken as an entry)",
                window.terminal_id,
                late_s,
            )
        self._present(QrCredential(code.text), scanner.door, Direction(scanner.direction))

    def _pair(self, window: EnrolmentWindow, text: str) -> None:
        """Create the worker who confirmed on the terminal and report the pairing."""
        result = confirm(text, self.access.trust, self.access.policy, self.decision_time())
        if isinstance(result, Refused):
            log.warning(
                "face enrolment on terminal %s refused: %s; no person created",
                window.terminal_id,
                result.reason,
            )
            self.devices.show(window.door_id, Reason.UNKNOWN_CREDENTIAL)
            return
        worker_id = worker_id_of(result.worker_number)
        try:
            self.faces.add_person(window.terminal_id, result.person_id, worker_id)
        except (IsapiError, OSError) as exc:
            log.error(
                "face enrolment of %s on terminal %s failed: %s",
                worker_id,
                window.terminal_id,
                exc,
            )
            self.devices.show(window.door_id, Reason.UNKNOWN_CREDENTIAL)
            return
        log.info("face of %s paired on terminal %s", worker_id, window.terminal_id)
        self.devices.show(window.door_id, Reason.GRANTED)
        self.emit(
            WireEvent(
                FacePairingEvent,
                {
                    "action": FaceAction.PAIRED,
                    "terminal_id": window.terminal_id,
                    "door_id": window.door_id,
                    "person_id": result.person_id,
                    "worker_id": worker_id,
                    "notice_version": window.notice_version,
                    "token_not_before": datetime.fromtimestamp(result.token_not_before, UTC),
                },
            )
        )

    def face_removed(self, terminal_id: str, person_id: str, cause: str) -> None:
        """A terminal confirmed it deleted a person and their face: report it."""
        # Whose it was, as the central's map said (it may have dropped the face since).
        number = self.faces.worker_of(person_id)
        self.emit(
            WireEvent(
                FacePairingEvent,
                {
                    "action": FaceAction.REMOVED,
                    "terminal_id": terminal_id,
                    "door_id": self.faces.door_of(terminal_id),
                    "person_id": person_id,
                    "worker_id": None if number is None else worker_id_of(number),
                    "cause": cause,
                },
            )
        )

    def wiegand_read(self, door_id: str, reader: WiegandInput, card: WiegandCard) -> None:
        """Decide on the person id a face terminal sent, or a card number."""
        credential = wiegand_credential(reader.kind, card)
        self._present(credential, door_id, Direction(reader.direction))

    def face_verified(self, door_id: str, direction: str, person_id: str) -> None:
        """Decide on the person a network face terminal verified."""
        decision = self._present(FaceCredential(person_id), door_id, Direction(direction))
        if not decision.granted:
            # The terminal's own screen may have said "verified"; the log says why not.
            log.info(
                "door %s: face terminal's person %s refused: %s",
                door_id,
                person_id,
                decision.reason.value,
            )

    def face_terminal_changed(self, terminal_id: str, up: bool) -> None:
        """A face terminal went down or came back: report it at once."""
        self.health.poke()

    def decision_time(self) -> datetime:
        """The central's time as this gateway estimates it, or its own clock before the
        first clock tick: the time tokens and commands (which the central dates) are
        judged by."""
        return self.central_clock.now(time.monotonic()) or self._clock()

    def phone_open(self, door_id: str, worker_number: int, group: int) -> AccessDecision:
        """A worker opens the door from their phone (a signed `phone_open`): decided by the
        same rules as a scan, reported as their entry."""
        return self._present(PhoneCredential(worker_number, group), door_id, Direction.IN)

    def _present(self, credential: Presented, door_id: str, direction: Direction) -> AccessDecision:
        """Decide, release the door on a grant, show the outcome at the door, report it."""
        door = self.devices.doors[door_id]
        decision: AccessDecision = self.access.present(
            credential, door_id, direction, self.decision_time(), time.monotonic(), door.grant
        )
        self.devices.show(door_id, decision.reason)
        self.emit(wire_events.from_access(decision))
        return decision

    def door_event(self, door_id: str, event: DoorEvent) -> None:
        """Report a door's state change and alarms."""
        self.health.poke()
        for wire in wire_events.from_door(door_id, event):
            if wire.model is CrossingEvent and wire.fields["source"] is CrossingSource.REX:
                self.access.someone_left()
            self.emit(wire)

    def beam_result(self, door_id: str, result: BeamResult) -> None:
        """Report a person crossing the beams."""
        wire = wire_events.from_beams(door_id, result)
        if wire is not None:
            self.emit(wire)

    def presence_changed(self, sensor_id: str, zone: str, present: bool) -> None:
        """Report a presence sensor's change of mind."""
        self.emit(wire_events.presence(sensor_id, zone, present))
        # After the event is numbered, so the early report it asks for counts it too.
        self.health.poke()

    # -- what the broker brings --

    def _routes(self) -> IncomingRouter:
        """Which handler takes each topic this gateway subscribes to."""
        router = IncomingRouter(self.settings.station_id, self.settings.gateway_id)
        router.on(Command, self._command)
        router.on_refused(Command, self._command_refused)
        router.on(ConfigDesired, self._desired_config)
        for model in TRUST_MODELS:
            router.on(model, self._trust)
        router.on(StationOccupancy, self._central_occupancy)
        router.on(CentralStatus, self._central_status)
        router.on(StoredMark, self._stored)
        router.on(ClockTick, self._clock_tick)
        # The station's other gateways' grants: a token used there is used here too.
        router.on(AccessEvent, self._station_access, every_gateway=True)
        if self.settings.home_assistant.enabled:
            router.on_foreign(self.discovery.status_topic, self._home_assistant_status)
        return router

    def _command(self, command: Command, retained: bool) -> None:
        # Commands run in order on their own thread: a self-test waits on serial replies
        # and must not hold up the link's network thread.
        self._work.put(command)

    def _command_refused(self, rejected: Rejected, raw: bytes) -> None:
        # Answered, not only logged: a maintainer who sent it is waiting for a reply.
        refusal = refusal_of(rejected, raw)
        if refusal is not None:
            self._reply(refusal.request_id, refusal.reply_to, refusal.status, refusal.message)

    def _trust(self, message: TrustMessage, retained: bool) -> None:
        if self.access.trust_store.apply(message):
            self.faces.trust_changed(self.access.trust)

    def _central_occupancy(self, message: StationOccupancy, retained: bool) -> None:
        self.access.central_count(message.occupancy)

    def _stored(self, mark: StoredMark, retained: bool) -> None:
        self.uplink.confirmed(mark.seq)

    def _station_access(self, event: AccessEvent, retained: bool) -> None:
        if event.gateway_id == self.settings.gateway_id:
            return  # its own, which it remembered when it decided
        token_id = wire_events.token_granted(event)
        if token_id is not None:
            self.access.used_elsewhere(token_id, self.decision_time())

    def _clock_tick(self, tick: ClockTick, retained: bool) -> None:
        # Ticks are never retained; a retained one was put there by hand and is stale.
        if not retained:
            self.central_clock.heard(tick.at, time.monotonic())

    def _central_status(self, status: CentralStatus, retained: bool) -> None:
        self.uplink.central_seen(status.central_id, status.online, live=not retained)
        if status.online and not retained:
            # A central (re)started: it may have lost what it knew; say we are here.
            log.info("central %s is online; announcing again", status.central_id)
            self.link.announce()

    def _home_assistant_status(self, payload: bytes) -> None:
        if payload.strip().lower() == b"online":
            log.info("Home Assistant is online; announcing entities again")
            self.announce_to_home_assistant()

    # -- commands --

    def _work_loop(self) -> None:
        while (command := self._work.get()) is not None:
            try:
                self._run_command(command)
            except Exception as exc:  # a bug in one command must not end command handling
                log.exception("command %s failed", command.request_id)
                self._answer(command, ReplyStatus.ERROR, f"the gateway failed: {exc}")

    def _run_command(self, command: Command) -> None:
        now = self.decision_time()
        verdict = self._gate.check(command, now)
        if not verdict.accepted:
            log.warning("refused command %s: %s", command.request_id, verdict.message)
            self._answer(command, verdict.status, verdict.message)
            return
        refusal = self.commands.refusal(command)
        if refusal is not None:
            log.warning("refused command %s: %s", command.request_id, refusal.message)
            self._answer(command, refusal.status, refusal.message)
            return
        # Remembered before it acts: a restart right after an unlock must not let the
        # same signed unlock in again.
        self._gate.handled(command, now, durable=self.commands.needs_signature(command))
        outcome = self.commands.carry_out(command)
        if outcome.status is ReplyStatus.WRONG_TARGET:
            log.warning("refused command %s: %s", command.request_id, outcome.message)
        self._answer(command, outcome.status, outcome.message, outcome.data)
        if outcome.after is not None:
            outcome.after()

    # -- maintenance (GatewayControl) --

    def apply_config(
        self, changes: Mapping[str, Any], version: int | None = None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Apply live settings key by key, put them in force, report them (retained)."""
        applied, refused = self.live.apply(changes, version)
        if applied:
            self.access.policy = self.live.policy()
            for door_id, door in self.devices.doors.items():
                door.set_timing(self.live.timing(door_id))
            log.info("live settings changed: %s", applied)
        self._report_config()
        self.health.poke()
        return applied, refused

    def _desired_config(self, desired: ConfigDesired, retained: bool) -> None:
        if self.live.version is not None and desired.version <= self.live.version:
            log.info("desired config v%d already applied (or older)", desired.version)
            return
        problem = verify(desired, self._operators)
        if problem is not None:
            log.warning("refused desired config v%d: %s", desired.version, problem)
            self.live.refused = {key: f"not applied: {problem}" for key in desired.settings}
            self._report_config()
            return
        self.apply_config(desired.settings, desired.version)

    def _report_config(self) -> None:
        report = ConfigReport(
            station_id=self.settings.station_id,
            gateway_id=self.settings.gateway_id,
            at=self._clock(),
            version=self.live.version,
            applied=self.live.values(),
            refused=self.live.refused,
        )
        self.link.publish(self._reported_topic, report.to_json())

    def diagnostics(self) -> dict[str, Any]:
        """Versions, uptime, outbox depth and the last warnings and errors."""
        stats = self.outbox.stats()
        return {
            "version": __version__,
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "pid": process_id(),
            "uptime_s": round(time.monotonic() - self._started, 1),
            "connected": self.link.connected,
            "outbox_depth": stats.pending,
            "outbox_unconfirmed": stats.unconfirmed,
            "outbox_confirmed_seq": stats.confirmed_seq,
            "outbox_dropped": stats.dropped,
            "config_version": self.live.version,
            "trust_versions": self.access.trust_store.versions(),
            "log_level": logging.getLevelName(logging.getLogger().getEffectiveLevel()),
            "recent_errors": self.recent_errors.recent(),
        }

    def reload_trust(self) -> dict[str, int]:
        """Subscribe again to keys, revocations and map, so the broker resends them."""
        self.link.subscribe_again(
            self.incoming.subscriptions_for([*TRUST_MODELS, StationOccupancy])
        )
        return self.access.trust_store.versions()

    def request_restart(self) -> None:
        """Stop so that the supervisor (systemd, or the demo) starts the gateway again."""
        log.warning("restart requested by a maintenance command")
        self.restart_requested.set()
        if self.on_restart is not None:
            self.on_restart()

    def restart_note(self) -> str:
        """What a restart does here."""
        if self.on_restart is None:
            return "restart requested, but nothing here restarts this gateway; not restarting"
        return self.restart_how

    def health_report(self, broker_rtt_ms: float | None) -> Health:
        """The `health/1` payload as of now."""
        now_mono = time.monotonic()
        devices: dict[str, DeviceHealth] = {}
        for name, loop in self.devices.loops.items():
            last = self.devices.last_frame.get(name)
            age = None if last is None else round(now_mono - last, 1)
            is_open = loop.wait_open(0)
            kind = "scanner" if name.startswith("scanner-") else "radar"
            # A radar reports ten times a second; a scanner speaks only when scanning.
            answering = is_open and (kind == "scanner" or (age is not None and age < 5))
            state: dict[str, Any] = {}
            if name in self.devices.presence:
                state["present"] = self.devices.presence[name].present
            devices[name] = DeviceHealth(
                kind=kind,
                ok=answering,
                detail="port open" if is_open else "port not open",
                last_frame_age_s=age,
                state=state,
            )
        for reading, levels in self.devices.inputs().items():
            kind = reading.split("-", 1)[0]
            state = dict(levels)
            if reading.endswith("-pir"):
                kind = "pir"
                latch = self.devices.presence.get(reading)
                state["present"] = None if latch is None else latch.present
            ok = True
            if kind == "door":
                ok = self.devices.doors[reading.removeprefix("door-")].running
            devices[reading] = DeviceHealth(kind=kind, ok=ok, state=state)
        devices.update(self.faces.health())
        figures = host_figures(self.settings.state_dir)
        return Health(
            station_id=self.settings.station_id,
            gateway_id=self.settings.gateway_id,
            at=self._clock(),
            version=__version__,
            config_version=self.live.version,
            uptime_s=round(now_mono - self._started, 1),
            outbox_depth=self.outbox.stats().pending,
            # Numbered, not yet committed: the report a change asks for counts that change.
            last_seq=self.stamper.last_seq,
            clock_offset_s=self.central_clock.offset_s(self._clock(), now_mono),
            broker_rtt_ms=broker_rtt_ms,
            occupancy=self.access.occupancy,
            devices=devices,
            **figures,
        )

    def announce_to_home_assistant(self) -> None:
        """Publish every discovery config (retained), then a fresh health report."""
        for topic, payload in self.discovery.messages(self._board):
            self.link.publish_as(topic, payload, qos=DISCOVERY_QOS, retain=DISCOVERY_RETAIN)
        if self.link.connected:
            self.health.poke()

    def _answer(
        self,
        command: Command,
        status: ReplyStatus,
        message: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        self._reply(command.request_id, command.reply_to, status, message, data)

    def _reply(
        self,
        request_id: str,
        reply_to: str | None,
        status: ReplyStatus,
        message: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        reply = CommandReply(
            request_id=request_id,
            station_id=self.settings.station_id,
            gateway_id=self.settings.gateway_id,
            at=self._clock(),
            status=status,
            message=message,
            data=data or {},
        )
        self.link.publish(self._reply_topic(reply_to), reply.to_json())

    def _reply_topic(self, wanted: str | None) -> str:
        # Replies stay on this gateway's own reply topic or below it, so a command cannot
        # make the gateway speak on someone else's topic (or publish to a wildcard).
        own = self._topic("reply")
        if wanted is not None and parse_topic(wanted) == parse_topic(own):
            return wanted
        return own

    def _availability(self, online: bool) -> bytes:
        return Availability(
            station_id=self.settings.station_id,
            gateway_id=self.settings.gateway_id,
            online=online,
            at=self._clock() if online else None,
            version=__version__,
        ).to_json()

    def _topic(self, leaf: str) -> str:
        return gateway_topic(self.settings.station_id, self.settings.gateway_id, leaf)
