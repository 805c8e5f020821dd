"""GPIO edge for one door: binds a :class:`DoorController` to gpiozero devices.

Input edges are stamped with ``time.monotonic()`` and fed to the controller; lock effects
drive the relay; controller events go to ``on_event``. A small timer thread sleeps until
the controller's next deadline (or until an input changes it), so timers fire on time
without polling.

Every device takes the ``pin_factory`` given to the constructor, so several doors, or
several simulated gateways each with its own ``MockFactory``, can share one process.

Threads: gpiozero calls edge handlers from its own thread (a ``MockFactory`` calls them
synchronously from whoever drives the pin), the timer runs in another, and the public
methods may be called from any thread. One re-entrant lock serialises all of them, and
``on_event`` is called while it is held so events arrive in order: keep the callback
short (queue the event for the MQTT outbox; never block on the network there).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from gpiozero import DigitalInputDevice, DigitalOutputDevice

from gateway.door_controller import (
    AccessGranted,
    DoorContactClosed,
    DoorContactOpened,
    DoorController,
    DoorEvent,
    DoorInput,
    DoorStep,
    DoorTiming,
    FireAlarmActivated,
    FireAlarmCleared,
    GrantRefused,
    LockdownOff,
    LockdownOn,
    LockPolarity,
    LockRequested,
    LockState,
    RemoteUnlockRequested,
    RexPressed,
    TamperActivated,
    TamperCleared,
    relay_pin_level,
)
from hardware.profile import BoardProfile, ContactInput, FireInput, RexInput, TamperInput

__all__ = ["BinaryInput", "DoorIO", "DoorWiring", "InputSpec", "RelaySpec"]

log = logging.getLogger(__name__)

Pull = Literal["up", "down", "floating"]
ProfileInput = ContactInput | RexInput | FireInput | TamperInput


@dataclass(frozen=True)
class InputSpec:
    """One digital input.

    ``active_high`` says which level means "asserted" (door open, button pressed, fire
    active, tamper tripped); ``pull`` is the internal resistor. They are independent, so
    a normally-closed door contact to ground with a pull-up (closed reads low, open
    reads high) is ``InputSpec(pin, active_high=True, pull="up")``.
    """

    pin: int | str
    active_high: bool = True
    pull: Pull = "up"
    bounce_s: float | None = None


@dataclass(frozen=True)
class RelaySpec:
    """The lock relay: its pin, the lock's fail mode, and the relay module's input logic."""

    pin: int | str
    polarity: LockPolarity = LockPolarity.FAIL_SAFE
    active_high: bool = True


@dataclass(frozen=True)
class DoorWiring:
    """Which pins one door uses. ``contact`` asserted means the door is open."""

    relay: RelaySpec
    contact: InputSpec
    rex: InputSpec | None = None
    fire: InputSpec | None = None
    tamper: InputSpec | None = None

    @classmethod
    def from_profile(
        cls, profile: BoardProfile, door_id: str, *, board_inputs: bool = False
    ) -> DoorWiring:
        """Wiring of one door from a validated board profile.

        Board-wide fire and tamper inputs can be bound by one door only (a pin has one
        owner), so by default they are left out: bind them once with :class:`BinaryInput`
        and fan them out with :meth:`DoorIO.set_fire` / :meth:`DoorIO.set_tamper`. A
        single-door board can pass ``board_inputs=True`` to let the door own them.
        """
        door = profile.door(door_id)

        def spec(signal: ProfileInput) -> InputSpec:
            bounce = None if signal.bounce_ms is None else signal.bounce_ms / 1000
            return InputSpec(signal.pin, signal.active_high, signal.pull, bounce)

        def maybe(signal: ProfileInput | None) -> InputSpec | None:
            return None if signal is None else spec(signal)

        return cls(
            relay=RelaySpec(
                door.relay.pin, LockPolarity(door.relay.polarity), door.relay.active_high
            ),
            contact=spec(door.contact),
            rex=maybe(door.rex),
            fire=maybe(door.fire or (profile.fire if board_inputs else None)),
            tamper=maybe(door.tamper or (profile.tamper if board_inputs else None)),
        )


class BinaryInput:
    """A digital input reporting "asserted"/"not asserted" whatever its wiring.

    gpiozero ties the active level to the pull resistor when a pull is set; this wrapper
    keeps the two independent and calls ``on_change(asserted)`` on every edge. With
    ``report_initial`` it also reports an asserted level at start, which is how a
    board-wide input (one fire relay for every door) is fanned out to several doors.
    """

    def __init__(
        self,
        spec: InputSpec,
        on_change: Callable[[bool], None],
        *,
        pin_factory: Any = None,
        report_initial: bool = False,
    ) -> None:
        pull_up = {"up": True, "down": False, "floating": None}[spec.pull]
        self._device = DigitalInputDevice(
            spec.pin,
            pull_up=pull_up,
            active_state=spec.active_high if pull_up is None else None,
            bounce_time=spec.bounce_s,
            pin_factory=pin_factory,
        )
        device_active_high = spec.active_high if pull_up is None else not pull_up
        self._inverted = device_active_high != spec.active_high
        self._on_change = on_change
        self._device.when_activated = self._activated
        self._device.when_deactivated = self._deactivated
        if report_initial and self.asserted:
            on_change(True)

    @property
    def asserted(self) -> bool:
        """Current level, in asserted terms."""
        return bool(self._device.is_active) != self._inverted

    def close(self) -> None:
        """Release the pin."""
        self._device.close()

    def _activated(self) -> None:
        self._on_change(not self._inverted)

    def _deactivated(self) -> None:
        self._on_change(self._inverted)


class DoorIO:
    """One door on real or mock GPIO.

    Construction reads the current inputs (a door already open at boot counts as opened,
    a fire alarm already active releases the lock) and starts the timer thread. Call
    :meth:`close` (or use it as a context manager) to stop the thread and release pins.
    When the relay pin is released its module de-energises: a fail-safe lock then opens,
    exactly as it would on a power cut.
    """

    def __init__(
        self,
        wiring: DoorWiring,
        *,
        timing: DoorTiming | None = None,
        pin_factory: Any = None,
        on_event: Callable[[DoorEvent], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        name: str = "door",
    ) -> None:
        self.name = name
        self.wiring = wiring
        self._clock = clock
        self._on_event = on_event
        self._cond = threading.Condition(threading.RLock())
        self._closed = False
        self._controller = DoorController(timing, now=clock())
        self._devices: list[BinaryInput | DigitalOutputDevice] = []
        try:
            self._relay = DigitalOutputDevice(
                wiring.relay.pin,
                active_high=True,  # levels come from relay_pin_level, one place for polarity
                initial_value=self._relay_level(LockState.SECURED),
                pin_factory=pin_factory,
            )
            self._devices.append(self._relay)
            self._contact = self._bind(wiring.contact, pin_factory, self._contact_changed)
            if wiring.rex is not None:
                self._bind(wiring.rex, pin_factory, self._rex_changed)
            self._fire = (
                None if wiring.fire is None else self._bind(wiring.fire, pin_factory, self.set_fire)
            )
            self._tamper = (
                None
                if wiring.tamper is None
                else self._bind(wiring.tamper, pin_factory, self.set_tamper)
            )
        except BaseException:
            self._close_devices()
            raise
        with self._cond:
            if self._contact.asserted:
                self._feed(DoorContactOpened(self._clock()))
            if self._fire is not None and self._fire.asserted:
                self._feed(FireAlarmActivated(self._clock()))
            if self._tamper is not None and self._tamper.asserted:
                self._feed(TamperActivated(self._clock()))
        self._thread = threading.Thread(target=self._run_timers, name=f"door-{name}", daemon=True)
        self._thread.start()

    # -- commands from the gateway --

    def grant(self, unlock_s: float | None = None) -> bool:
        """Unlock for an access grant. False if refused (lockdown) or the door is closed."""
        return self._accepted(self._feed(AccessGranted(self._clock(), unlock_s)))

    def remote_unlock(self, unlock_s: float | None = None) -> bool:
        """Unlock on an operator's command. False if refused (lockdown) or closed."""
        return self._accepted(self._feed(RemoteUnlockRequested(self._clock(), unlock_s)))

    def set_lockdown(self, on: bool) -> None:
        """Enter or leave lockdown."""
        self._feed(LockdownOn(self._clock()) if on else LockdownOff(self._clock()))

    def lock_now(self) -> None:
        """End a running grant or remote unlock at once (an exit-button window stays)."""
        self._feed(LockRequested(self._clock()))

    def set_timing(self, timing: DoorTiming) -> None:
        """Use new timings from the next grant or door opening on (set live by a maintainer)."""
        with self._cond:
            self._controller.timing = timing
            self._cond.notify_all()

    @property
    def timing(self) -> DoorTiming:
        """The timings in force."""
        with self._cond:
            return self._controller.timing

    def status(self) -> dict[str, bool | str]:
        """A snapshot for health reports and self-tests."""
        with self._cond:
            c = self._controller
            return {
                "lock": c.lock_state.value,
                "open": c.door_open,
                "lockdown": c.lockdown,
                "fire": c.fire_active,
                "tamper": c.tamper_active,
                "held_open": c.held_open_alarm,
                "forced_open": c.forced_open_alarm,
            }

    def pulse_relay(self, seconds: float) -> bool:
        """Release the lock for `seconds` as a self-test, only when the door is closed,
        secured, not in lockdown and no fire is active; False (nothing moved) otherwise."""
        with self._cond:
            c = self._controller
            if c.door_open or c.lockdown or c.fire_active or c.lock_state is not LockState.SECURED:
                return False
            step = c.handle(RemoteUnlockRequested(self._clock(), seconds))
            self._apply(step)
            self._cond.notify_all()
            return True

    def wait_secured(self, timeout: float) -> bool:
        """Block until the lock is secured (True) or `timeout` passes (False)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._closed or self._controller.lock_state is LockState.SECURED, timeout
            )

    def set_fire(self, active: bool) -> None:
        """Report the fire input; used directly when the fire input is board-wide."""
        self._feed(FireAlarmActivated(self._clock()) if active else FireAlarmCleared(self._clock()))

    def set_tamper(self, active: bool) -> None:
        """Report the tamper input; used directly when the tamper input is board-wide."""
        self._feed(TamperActivated(self._clock()) if active else TamperCleared(self._clock()))

    # -- state --

    @property
    def running(self) -> bool:
        """True while the door's timer thread is alive, so its alarms and relocks fire."""
        return self._thread.is_alive() and not self._closed

    @property
    def lock_state(self) -> LockState:
        """Current lock state."""
        with self._cond:
            return self._controller.lock_state

    @property
    def door_open(self) -> bool:
        """Whether the door contact reports open."""
        with self._cond:
            return self._controller.door_open

    def accepts_grants(self) -> bool:
        """False while in lockdown."""
        with self._cond:
            return self._controller.accepts_grants()

    # -- lifecycle --

    def close(self) -> None:
        """Stop the timer thread and release every pin. Safe to call twice."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()
        self._close_devices()

    def __enter__(self) -> DoorIO:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --

    def _bind(
        self, spec: InputSpec, pin_factory: Any, on_change: Callable[[bool], None]
    ) -> BinaryInput:
        device = BinaryInput(spec, on_change, pin_factory=pin_factory)
        self._devices.append(device)
        return device

    def _close_devices(self) -> None:
        for device in reversed(self._devices):
            try:
                device.close()
            except Exception:  # closing the rest matters more than one failure
                log.exception("door %s: closing %r failed", self.name, device)
        self._devices.clear()

    def _relay_level(self, state: LockState) -> bool:
        relay = self.wiring.relay
        return relay_pin_level(state, relay.polarity, relay.active_high)

    def _contact_changed(self, is_open: bool) -> None:
        now = self._clock()
        self._feed(DoorContactOpened(now) if is_open else DoorContactClosed(now))

    def _rex_changed(self, pressed: bool) -> None:
        if pressed:  # the press is the request; the release means nothing
            self._feed(RexPressed(self._clock()))

    @staticmethod
    def _accepted(step: DoorStep | None) -> bool:
        return step is not None and not any(isinstance(e, GrantRefused) for e in step.events)

    def _feed(self, event: DoorInput) -> DoorStep | None:
        """Hand one input to the controller; None once closed (the pins are gone)."""
        with self._cond:
            if self._closed:
                return None
            step = self._controller.handle(event)
            self._apply(step)
            self._cond.notify_all()  # the next deadline may have moved
            return step

    def _apply(self, step: DoorStep) -> None:
        for effect in step.effects:
            self._relay.value = self._relay_level(effect.state)
        if step.effects:
            self._cond.notify_all()  # for wait_secured
        if self._on_event is None:
            return
        for event in step.events:
            try:
                self._on_event(event)
            except Exception:  # a failing reporter must never stop the door
                log.exception("door %s: on_event failed for %r", self.name, event)

    def _run_timers(self) -> None:
        with self._cond:
            while not self._closed:
                deadline = self._controller.next_deadline()
                if deadline is None:
                    self._cond.wait()
                    continue
                delay = deadline - self._clock()
                if delay > 0:
                    self._cond.wait(delay)
                    continue  # woken early or on time: re-read the deadline either way
                self._apply(self._controller.tick(self._clock()))
