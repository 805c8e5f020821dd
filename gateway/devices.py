"""Every device of one gateway, built from its board profile and started together.

Doors (lock relay, contact, exit button), the board's fire and tamper inputs, beams, PIR
sensors, Wiegand face terminals and card readers, and feedback LEDs and buzzers on GPIO;
QR scanners and presence radars on serial ports. Each device reports in its own terms to
a `DeviceListener`; the gateway service decides what that means.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from contract.payloads import Reason
from firmware_bridge.beams import Beam, BeamPair, BeamResult, MotionEvent, PirSensor
from firmware_bridge.grow_commands import GrowReply, ScannerStreamDecoder
from firmware_bridge.ld2410 import CommandAck, Ld2410Decoder, RadarReport
from firmware_bridge.qr_lines import ScannedCode
from firmware_bridge.serial_loop import SerialLoop
from firmware_bridge.wiegand import WiegandCard, WiegandParityError, WiegandReader, WiegandResult
from gateway.door_controller import DoorEvent, DoorTiming
from gateway.door_io import BinaryInput, DoorIO, DoorWiring, InputSpec
from gateway.feedback_io import DoorFeedback
from hardware.profile import BoardProfile, RadarPort, ScannerPort, WiegandInput

log = logging.getLogger(__name__)


class DeviceListener(Protocol):
    """What the devices tell the gateway. Called from device threads: return quickly."""

    def door_event(self, door_id: str, event: DoorEvent) -> None:
        """A door's controller changed state."""

    def code_scanned(self, scanner: ScannerPort, code: ScannedCode) -> None:
        """A QR scanner read a code."""

    def wiegand_read(self, door_id: str, reader: WiegandInput, card: WiegandCard) -> None:
        """A face terminal or card reader sent a frame with good parity."""

    def beam_result(self, door_id: str, result: BeamResult) -> None:
        """A door's beam pair saw someone pass (or turn back)."""

    def presence_changed(self, sensor_id: str, zone: str, present: bool) -> None:
        """A PIR or radar changed its mind about whether anyone is there."""


@dataclass
class _PresenceLatch:
    """Turns a sensor's stream of readings into changes only."""

    sensor_id: str
    zone: str
    report: Callable[[str, str, bool], None]
    present: bool | None = None

    def update(self, present: bool) -> None:
        if present != self.present:
            self.present = present
            self.report(self.sensor_id, self.zone, present)

    def motion(self, event: MotionEvent) -> None:
        self.update(event.motion)


class StationDevices:
    """Opens every device of a board profile; `start()` the serial ports, `close()` all."""

    def __init__(
        self,
        board: BoardProfile,
        listener: DeviceListener,
        timings: dict[str, DoorTiming],
        pin_factory: Any = None,
    ) -> None:
        self.board = board
        self._listener = listener
        self._closers: list[Callable[[], None]] = []
        self.doors: dict[str, DoorIO] = {}
        self.feedback: dict[str, DoorFeedback] = {}
        self.serial: list[SerialLoop[Any]] = []
        self.loops: dict[str, SerialLoop[Any]] = {}
        """Serial device name (`scanner-in`, `radar-radar`) → its reader."""
        self.beams: dict[str, BeamPair] = {}
        self.pirs: dict[str, PirSensor] = {}
        self.presence: dict[str, _PresenceLatch] = {}
        """Presence sensor device name (`main-pir`, `radar-radar`) → its latest state."""
        self.last_frame: dict[str, float] = {}
        """Serial device name → monotonic time of its last frame (health reports)."""
        self._replies: dict[str, queue.Queue[object]] = {}
        self._ask_lock = threading.Lock()
        try:
            self._open_gpio(timings, pin_factory)
            self._open_serial()
        except BaseException:
            self.close()
            raise

    def _open_gpio(self, timings: dict[str, DoorTiming], pin_factory: Any) -> None:
        board = self.board
        for door in board.doors:
            io = DoorIO(
                DoorWiring.from_profile(board, door.id),
                timing=timings.get(door.id),
                pin_factory=pin_factory,
                on_event=partial(self._listener.door_event, door.id),
                name=door.id,
            )
            self.doors[door.id] = io
            self._closers.append(io.close)
            if door.beams is not None:
                pair = BeamPair(
                    door.beams.a,
                    door.beams.b,
                    partial(self._listener.beam_result, door.id),
                    broken_when_low=not door.beams.active_high,
                    pin_factory=pin_factory,
                )
                self._closers.append(pair.close)
                self.beams[door.id] = pair
            if door.pir is not None:
                latch = _PresenceLatch(f"{door.id}-pir", door.id, self._listener.presence_changed)
                self.presence[f"{door.id}-pir"] = latch
                pir = PirSensor(door.pir.pin, latch.motion, pin_factory=pin_factory)
                self._closers.append(pir.close)
                self.pirs[f"{door.id}-pir"] = pir
            if door.wiegand is not None:
                reader = WiegandReader(
                    door.wiegand.d0,
                    door.wiegand.d1,
                    partial(self._wiegand_frame, door.id, door.wiegand),
                    on_rejected=partial(self._wiegand_rejected, door.id),
                    lengths=(door.wiegand.bits,),
                    pin_factory=pin_factory,
                )
                self._closers.append(reader.close)
            if door.feedback is not None:
                feedback = DoorFeedback(door.feedback, pin_factory=pin_factory)
                self.feedback[door.id] = feedback
                self._closers.append(feedback.close)
        # Board-wide inputs have one owner each and are fanned out to every door.
        for signal, name in ((board.fire, "fire"), (board.tamper, "tamper")):
            if signal is None:
                continue
            spec = InputSpec(signal.pin, signal.active_high, signal.pull)
            fan_out = partial(self._fan_out, name)
            board_input = BinaryInput(spec, fan_out, pin_factory=pin_factory, report_initial=True)
            self._closers.append(board_input.close)

    def _fan_out(self, name: str, active: bool) -> None:
        for io in self.doors.values():
            if name == "fire":
                io.set_fire(active)
            else:
                io.set_tamper(active)

    def _open_serial(self) -> None:
        for scanner in self.board.scanners:
            name = f"scanner-{scanner.id}"
            self._add_loop(
                name,
                SerialLoop(
                    scanner.port,
                    scanner.baud,
                    ScannerStreamDecoder(clock=time.monotonic),
                    partial(self._scanner_frame, scanner),
                    name=name,
                ),
            )
        for radar in self.board.radars:
            latch = _PresenceLatch(radar.id, radar.zone or "rest", self._listener.presence_changed)
            self.presence[f"radar-{radar.id}"] = latch
            self._add_loop(
                f"radar-{radar.id}",
                SerialLoop(
                    radar.port,
                    radar.baud,
                    Ld2410Decoder(),
                    partial(self._radar_frame, radar, latch),
                    name=f"radar-{radar.id}",
                ),
            )

    def _add_loop(self, name: str, loop: SerialLoop[Any]) -> None:
        self.serial.append(loop)
        self.loops[name] = loop
        self._replies[name] = queue.Queue()

    def ask(self, name: str, command: bytes, timeout: float) -> object | None:
        """Send a command frame to serial device `name` and return its first reply frame
        (a scanner's `GrowReply`, a radar's `CommandAck`), or None after `timeout`.

        One question at a time per gateway: replies carry no request id, so two callers
        must not wait on one port together.
        """
        with self._ask_lock:
            replies = self._replies[name]
            while not replies.empty():  # an old answer nobody waited for
                replies.get_nowait()
            try:
                self.loops[name].write(command)
            except OSError as exc:
                log.warning("%s: cannot send a command: %s", name, exc)
                return None
            try:
                return replies.get(timeout=timeout)
            except queue.Empty:
                return None

    def _reply(self, name: str, frame: object) -> None:
        replies = self._replies.get(name)
        if replies is not None:
            replies.put(frame)

    def _scanner_frame(self, scanner: ScannerPort, frame: object) -> None:
        name = f"scanner-{scanner.id}"
        self.last_frame[name] = time.monotonic()
        if isinstance(frame, ScannedCode):
            self._listener.code_scanned(scanner, frame)
        elif isinstance(frame, GrowReply):
            self._reply(name, frame)

    def _wiegand_frame(self, door_id: str, reader: WiegandInput, frame: WiegandResult) -> None:
        if isinstance(frame, WiegandParityError):
            # A misread is not a person: say nothing at the door, note it for the technician.
            log.warning("door %s: Wiegand frame with bad parity ignored", door_id)
            return
        self._listener.wiegand_read(door_id, reader, frame)

    def _wiegand_rejected(self, door_id: str, bit_count: int) -> None:
        log.warning(
            "door %s: Wiegand frame of %d bits ignored (reader format?)", door_id, bit_count
        )

    def _radar_frame(self, radar: RadarPort, latch: _PresenceLatch, frame: object) -> None:
        name = f"radar-{radar.id}"
        self.last_frame[name] = time.monotonic()
        if isinstance(frame, RadarReport):
            latch.update(frame.presence)
        elif isinstance(frame, CommandAck):
            self._reply(name, frame)

    def inputs(self) -> dict[str, dict[str, Any]]:
        """Every input read now: door contacts, exit buttons, fire, tamper, beams, PIRs."""
        readings: dict[str, dict[str, Any]] = {}
        for door_id, io in self.doors.items():
            readings[f"door-{door_id}"] = io.status()
        for door_id, pair in self.beams.items():
            readings[f"beams-{door_id}"] = {
                "a_broken": pair.detector.is_broken(Beam.A),
                "b_broken": pair.detector.is_broken(Beam.B),
            }
        for name, pir in self.pirs.items():
            readings[name] = {"motion": bool(pir.motion_detected)}
        return readings

    def show(self, door_id: str, reason: Reason) -> None:
        """Show a decision on the door's LEDs and buzzer, if it has any."""
        feedback = self.feedback.get(door_id)
        if feedback is not None:
            feedback.show(reason)

    def start(self) -> None:
        """Open the serial ports (GPIO devices are live from construction)."""
        for loop in self.serial:
            loop.start()

    def wait_serial_open(self, timeout: float) -> bool:
        """True once every serial port is open."""
        deadline = time.monotonic() + timeout
        return all(loop.wait_open(max(0.0, deadline - time.monotonic())) for loop in self.serial)

    def running(self) -> bool:
        """True while every door's timers and every serial reader are alive."""
        loops_alive = all(loop.running for loop in self.serial)
        return loops_alive and all(io.running for io in self.doors.values())

    def close(self) -> None:
        """Stop the serial loops and release every pin (a fail-safe lock then releases)."""
        for loop in self.serial:
            loop.stop()
        for close in reversed(self._closers):
            try:
                close()
            except Exception:
                log.exception("closing a device failed")
        self._closers.clear()
