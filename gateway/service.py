"""The gateway service: devices in, decisions at the door, events out, commands answered.

This is the composition root of one gateway. The decisions live in pure modules
(`access_rules`, `door_controller`, `commands`, `wire_events`); `access` keeps what access
decisions need between scans; this module only wires the station's devices and the
broker link to them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from contract.codec import Decoded, decode
from contract.payloads import (
    AccessEvent,
    Availability,
    Command,
    CommandReply,
    CrossingEvent,
    CrossingSource,
    Direction,
    EventPayload,
    ReplyStatus,
    utc_now,
)
from contract.topics import gateway_topic
from firmware_bridge.beams import BeamResult
from firmware_bridge.qr_lines import ScannedCode
from firmware_bridge.wiegand import WiegandCard
from gateway import wire_events
from gateway.access import AccessDesk, wiegand_credential
from gateway.access_rules import AccessDecision, Presented, QrCredential
from gateway.commands import CommandGate
from gateway.config import GatewaySettings, check_doors
from gateway.devices import StationDevices
from gateway.door_controller import DoorEvent
from gateway.events import EventStamper
from gateway.maintenance import MaintenanceCommands
from gateway.outbox import Outbox
from gateway.trust_store import TrustStore
from gateway.uplink import Uplink
from hardware.profile import BoardProfile, ScannerPort, WiegandInput
from yizhan import __version__
from yizhan.mqtt_link import Message, Retained

log = logging.getLogger(__name__)

EventListener = Callable[[EventPayload], None]


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
        self._gate = CommandGate()
        # Sequence numbers go on from the outbox's last commit, across restarts.
        self.outbox = Outbox(settings.outbox)
        self.stamper = EventStamper(
            settings.station_id, settings.gateway_id, clock, first_seq=self.outbox.next_seq
        )
        self._availability_topic = self._topic("availability")
        self._command_topic = self._topic("command")
        self.access = AccessDesk(
            settings.station_id,
            settings.policy.policy(),
            TrustStore(settings.state_dir, settings.station_id),
        )
        self.uplink = Uplink(
            settings,
            self.outbox,
            self.stamper,
            subscriptions=[(self._command_topic, 1), *((t, 1) for t in self.access.topics)],
            on_message=self._on_message,
            will=Retained(self._availability_topic, self._availability(online=False)),
            birth=lambda: Retained(self._availability_topic, self._availability(online=True)),
        )
        self.link = self.uplink.link
        self.devices = StationDevices(board, self, settings.timings(), pin_factory)
        self.commands = MaintenanceCommands(self.devices.doors)

    def add_listener(self, listener: EventListener) -> None:
        """Be told of every event this gateway emits (for the simulator and tests)."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Open the serial devices and connect; the doors work even while the broker is away."""
        self.devices.start()
        self.uplink.start()

    def stop(self) -> None:
        """Close the devices, say offline and disconnect."""
        self.devices.close()
        self.uplink.stop(goodbye=Retained(self._availability_topic, self._availability(False)))

    def emit(self, model: type[EventPayload], **fields: Any) -> EventPayload:
        """Stamp an event, store it in the outbox (published at QoS 1 from there), tell
        local listeners."""
        event = self.stamper.stamp(model, **fields)
        self.uplink.send(event)
        for listener in self._listeners:
            listener(event)
        return event

    # -- what the devices report (DeviceListener) --

    def code_scanned(self, scanner: ScannerPort, code: ScannedCode) -> None:
        """Decide on a scanned QR code."""
        self._present(QrCredential(code.text), scanner.door, Direction(scanner.direction))

    def wiegand_read(self, door_id: str, reader: WiegandInput, card: WiegandCard) -> None:
        """Decide on the person id a face terminal sent, or a card number."""
        credential = wiegand_credential(reader.kind, card)
        self._present(credential, door_id, Direction(reader.direction))

    def _present(self, credential: Presented, door_id: str, direction: Direction) -> None:
        """Decide, release the door on a grant, show the outcome at the door, report it."""
        door = self.devices.doors[door_id]
        decision: AccessDecision = self.access.present(
            credential, door_id, direction, self._clock(), door.grant
        )
        self.devices.show(door_id, decision.reason)
        self.emit(
            AccessEvent,
            door_id=door_id,
            direction=direction,
            credential=decision.credential,
            worker_id=decision.worker_id,
            decision=decision.decision,
            reason=decision.reason,
        )

    def door_event(self, door_id: str, event: DoorEvent) -> None:
        """Report a door's state change and alarms."""
        for wire in wire_events.from_door(door_id, event):
            if wire.model is CrossingEvent and wire.fields["source"] is CrossingSource.REX:
                self.access.someone_left()
            self.emit(wire.model, **wire.fields)

    def beam_result(self, door_id: str, result: BeamResult) -> None:
        """Report a person crossing the beams."""
        wire = wire_events.from_beams(door_id, result)
        if wire is not None:
            self.emit(wire.model, **wire.fields)

    def presence_changed(self, sensor_id: str, zone: str, present: bool) -> None:
        """Report a presence sensor's change of mind."""
        wire = wire_events.presence(sensor_id, zone, present)
        self.emit(wire.model, **wire.fields)

    # -- commands --

    def _on_message(self, message: Message) -> None:
        if self.access.handle(message.topic, message.payload):
            return
        if message.topic != self._command_topic:
            return
        result = decode(message.topic, message.payload)
        if not isinstance(result, Decoded) or not isinstance(result.payload, Command):
            # Without a parsed request id there is no one to answer; say why in the log.
            reason = getattr(result, "reason", "not a command")
            log.warning("ignored a command that failed validation: %s", reason)
            return
        # Runs on the link's thread: every step below returns at once (door timers run
        # in their own threads, publishes are queued).
        self._run_command(result.payload)

    def _run_command(self, command: Command) -> None:
        verdict = self._gate.admit(command, self._clock())
        if not verdict.accepted:
            log.warning("refused command %s: %s", command.request_id, verdict.message)
            self._reply(command, verdict.status, verdict.message)
            return
        outcome = self.commands.run(command.command, command.args)
        self._reply(command, outcome.status, outcome.message, outcome.data)

    def _reply(
        self,
        command: Command,
        status: ReplyStatus,
        message: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        reply = CommandReply(
            request_id=command.request_id,
            station_id=self.settings.station_id,
            gateway_id=self.settings.gateway_id,
            at=self._clock(),
            status=status,
            message=message,
            data=data or {},
        )
        self.link.publish(self._reply_topic(command), reply.to_json(), qos=1)

    def _reply_topic(self, command: Command) -> str:
        # Replies stay under this gateway's own reply topic, so a command cannot make the
        # gateway speak on someone else's topic.
        own = self._topic("reply")
        wanted = command.reply_to
        if wanted and (wanted == own or wanted.startswith(own + "/")):
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
