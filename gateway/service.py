"""The gateway service: scanners in, lock relays and MQTT events out, commands answered.

This is the composition root of one gateway. The decisions themselves live in pure
modules (`decision`, `commands`); this module only wires devices and the link to them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from gpiozero.pins import Factory

from contract.codec import Decoded, decode
from contract.payloads import (
    AccessEvent,
    Availability,
    Command,
    CommandReply,
    CredentialKind,
    EventPayload,
    ReplyStatus,
    utc_now,
)
from contract.topics import gateway_topic
from firmware_bridge.qr_lines import QrLineDecoder, ScannedCode
from firmware_bridge.serial_loop import SerialLoop
from gateway.commands import CommandGate
from gateway.config import GatewaySettings, ReaderSettings
from gateway.decision import decide_allowlist
from gateway.events import EventStamper
from gateway.lock import LockRelay
from gateway.outbox import Outbox
from gateway.uplink import Uplink
from yizhan import __version__
from yizhan.mqtt_link import Message, Retained

log = logging.getLogger(__name__)

EventListener = Callable[[EventPayload], None]


@dataclass(frozen=True, slots=True)
class Door:
    """A door's lock relay and how long a grant releases it."""

    lock: LockRelay
    unlock_s: float


class Gateway:
    """One gateway: its readers, doors and broker link. `start()`, then `stop()`."""

    def __init__(
        self,
        settings: GatewaySettings,
        pin_factory: Factory | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._listeners: list[EventListener] = []
        self._gate = CommandGate()
        # Sequence numbers go on from the outbox's last commit, across restarts.
        self.outbox = Outbox(settings.outbox)
        self.stamper = EventStamper(
            settings.station_id, settings.gateway_id, clock, first_seq=self.outbox.next_seq
        )
        self.doors = {
            lock.door: Door(LockRelay(lock.pin, lock.active_high, pin_factory), lock.unlock_s)
            for lock in settings.locks
        }
        self.readers = [
            SerialLoop(
                reader.port,
                reader.baudrate,
                QrLineDecoder(),
                partial(self._on_code, reader),
                name=f"scanner-{reader.door}-{reader.direction}",
            )
            for reader in settings.readers
        ]
        self._availability_topic = self._topic("availability")
        self._command_topic = self._topic("command")
        self.uplink = Uplink(
            settings,
            self.outbox,
            self.stamper,
            subscriptions=[(self._command_topic, 1)],
            on_message=self._on_message,
            will=Retained(self._availability_topic, self._availability(online=False)),
            birth=lambda: Retained(self._availability_topic, self._availability(online=True)),
        )
        self.link = self.uplink.link

    def add_listener(self, listener: EventListener) -> None:
        """Be told of every event this gateway emits (for the simulator and tests)."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Open the readers and connect; the door works even while the broker is away."""
        for reader in self.readers:
            reader.start()
        self.uplink.start()

    def stop(self) -> None:
        """Close readers, say offline, disconnect and secure every lock."""
        for reader in self.readers:
            reader.stop()
        self.uplink.stop(goodbye=Retained(self._availability_topic, self._availability(False)))
        for door in self.doors.values():
            door.lock.close()

    def emit(self, event: EventPayload) -> None:
        """Store an event in the outbox (published at QoS 1 from there); tell listeners."""
        self.uplink.send(event)
        for listener in self._listeners:
            listener(event)

    def _on_code(self, reader: ReaderSettings, code: ScannedCode) -> None:
        decision = decide_allowlist(code.text, reader.direction, self.settings.allowlist)
        if decision.granted:
            self._release(reader.door)
        self.emit(
            self.stamper.stamp(
                AccessEvent,
                door_id=reader.door,
                direction=reader.direction,
                credential=CredentialKind.QR,
                worker_id=decision.worker_id,
                decision=decision.decision,
                reason=decision.reason,
            )
        )

    def _release(self, door_id: str) -> None:
        door = self.doors[door_id]
        door.lock.pulse(door.unlock_s)

    def _on_message(self, message: Message) -> None:
        if message.topic != self._command_topic:
            return
        result = decode(message.topic, message.payload)
        if not isinstance(result, Decoded) or not isinstance(result.payload, Command):
            # Without a parsed request id there is no one to answer; say why in the log.
            reason = getattr(result, "reason", "not a command")
            log.warning("ignored a command that failed validation: %s", reason)
            return
        # Runs on the link's thread: every step below returns at once (pulses run in
        # gpiozero's own thread, publishes are queued).
        self._run_command(result.payload)

    def _run_command(self, command: Command) -> None:
        verdict = self._gate.admit(command, self._clock())
        if not verdict.accepted:
            log.warning("refused command %s: %s", command.request_id, verdict.message)
            self._reply(command, verdict.status, verdict.message)
            return
        if command.command == "ping":
            self._reply(command, ReplyStatus.OK, "pong", {"version": __version__})
        elif command.command == "unlock":
            door_id = str(command.args.get("door", next(iter(self.doors), "")))
            if door_id not in self.doors:
                known = ", ".join(self.doors) or "none"
                self._reply(command, ReplyStatus.BAD_ARGS, f"no door {door_id!r}; doors: {known}")
                return
            self._release(door_id)
            self._reply(command, ReplyStatus.OK, f"door {door_id!r} released")
        else:
            self._reply(
                command,
                ReplyStatus.UNKNOWN_COMMAND,
                f"unknown command {command.command!r}; this gateway knows: ping, unlock",
            )

    def _reply(
        self,
        command: Command,
        status: ReplyStatus,
        message: str,
        data: dict[str, object] | None = None,
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
