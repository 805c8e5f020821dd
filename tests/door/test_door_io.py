"""The GPIO edge on gpiozero mock pins: pins in, relay levels and events out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from gateway.door_controller import (
    DoorClosed,
    DoorEvent,
    DoorOpened,
    DoorTiming,
    FireReleaseEnded,
    FireReleaseStarted,
    ForcedOpenCleared,
    ForcedOpenRaised,
    GrantRefused,
    LockPolarity,
    LockState,
    RelockCause,
    Relocked,
    TamperAlarmRaised,
    UnlockCause,
    Unlocked,
)
from gateway.door_io import BinaryInput, DoorIO, DoorWiring, InputSpec, RelaySpec
from hardware.profile import load_shipped_profile

RELAY, CONTACT, REX, FIRE, TAMPER = 17, 27, 22, 26, 16
WAIT_S = 5.0  # generous upper bound; the waits return as soon as the event arrives
# Timers that a test waits for are short; an unlock the test does not wait out is long, so
# a slow machine cannot let it expire between an action and the assertion that follows.
FAST = DoorTiming(unlock_s=0.2, held_open_s=5.0, forced_debounce_s=0.1)
STEADY = DoorTiming(unlock_s=60.0, held_open_s=120.0, forced_debounce_s=0.1)


def wiring(
    polarity: LockPolarity = LockPolarity.FAIL_SAFE,
    relay_active_high: bool = True,
    contact_pull: str = "floating",
) -> DoorWiring:
    return DoorWiring(
        relay=RelaySpec(RELAY, polarity=polarity, active_high=relay_active_high),
        # Floating contact (external pull-down): a mock pin starts low, i.e. door closed.
        contact=InputSpec(CONTACT, active_high=True, pull=contact_pull),  # type: ignore[arg-type]
        rex=InputSpec(REX, active_high=False, pull="up"),
        fire=InputSpec(FIRE, active_high=False, pull="up"),
        tamper=InputSpec(TAMPER, active_high=True, pull="down"),
    )


class Recorder:
    """Collects events and lets a test wait for a given kind without sleeping."""

    def __init__(self) -> None:
        self.events: list[DoorEvent] = []
        self._lock = threading.Lock()
        self._waiters: list[tuple[Callable[[DoorEvent], bool], threading.Event]] = []

    def __call__(self, event: DoorEvent) -> None:
        with self._lock:
            self.events.append(event)
            for match, flag in self._waiters:
                if match(event):
                    flag.set()

    def wait_for(self, match: Callable[[DoorEvent], bool]) -> DoorEvent:
        flag = threading.Event()
        with self._lock:
            self._waiters.append((match, flag))
            if any(match(e) for e in self.events):
                flag.set()
        assert flag.wait(WAIT_S), f"no matching event within {WAIT_S}s; saw {self.events}"
        with self._lock:
            return next(e for e in self.events if match(e))


@pytest.fixture()
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    try:
        yield f
    finally:
        f.reset()


@pytest.fixture()
def make_door(factory: MockFactory) -> Iterator[Callable[..., tuple[DoorIO, Recorder]]]:
    doors: list[DoorIO] = []

    def make(**kwargs: Any) -> tuple[DoorIO, Recorder]:
        rec = Recorder()
        door = DoorIO(
            kwargs.pop("wiring", wiring()),
            timing=kwargs.pop("timing", STEADY),
            pin_factory=factory,
            on_event=rec,
            **kwargs,
        )
        doors.append(door)
        return door, rec

    yield make
    for door in doors:
        door.close()


def test_boots_secured_with_fail_safe_relay_energised(
    factory: MockFactory, make_door: Callable[..., tuple[DoorIO, Recorder]]
) -> None:
    door, rec = make_door()
    assert door.lock_state is LockState.SECURED
    assert factory.pin(RELAY).state is True  # maglock powered = locked
    assert rec.events == []


def test_grant_then_pass_through_relocks_on_close(
    factory: MockFactory, make_door: Callable[..., tuple[DoorIO, Recorder]]
) -> None:
    door, rec = make_door(timing=DoorTiming(unlock_s=30.0, forced_debounce_s=0.1))
    relay, contact = factory.pin(RELAY), factory.pin(CONTACT)
    relay.clear_states()
    assert door.grant() is True
    assert relay.state is False
    contact.drive_high()
    assert door.door_open
    assert relay.state is False  # no relock on open
    contact.drive_low()
    assert relay.state is True
    assert [s.state for s in relay.states] == [True, False, True]
    assert [type(e) for e in rec.events] == [Unlocked, DoorOpened, DoorClosed, Relocked]
    assert rec.events[-1] == Relocked(rec.events[-1].at, RelockCause.DOOR_CLOSED)


def test_rex_pin_releases_and_timer_relocks(
    factory: MockFactory, make_door: Callable[..., tuple[DoorIO, Recorder]]
) -> None:
    _door, rec = make_door(timing=FAST)
    relay, rex = factory.pin(RELAY), factory.pin(REX)
    relay.clear_states()
    rex.drive_low()  # button to ground, pull-up: pressed reads low
    rex.drive_high()  # releasing the button is not a second request
    relocked = rec.wait_for(lambda e: isinstance(e, Relocked))
    unlocked = rec.events[0]
    assert isinstance(unlocked, Unlocked)
    assert unlocked.cause is UnlockCause.REX
    assert isinstance(relocked, Relocked)
    assert relocked.cause is RelockCause.TIMEOUT
    assert relocked.at - unlocked.at == pytest.approx(FAST.unlock_s)
    assert [s.state for s in relay.states] == [True, False, True]
    assert len(rec.events) == 2


def test_forced_open_raised_by_timer_and_cleared_on_close(
    factory: MockFactory, make_door: Callable[..., tuple[DoorIO, Recorder]]
) -> None:
    _door, rec = make_door()
    contact = factory.pin(CONTACT)
    contact.drive_high()
    forced = rec.wait_for(lambda e: isinstance(e, ForcedOpenRaised))
    opened = rec.events[0]
    assert isinstance(opened, DoorOpened)
    assert forced.at - opened.at == pytest.approx(STEADY.forced_debounce_s)
    assert factory.pin(RELAY).state is True  # still secured
    contact.drive_low()
    assert isinstance(rec.events[-1], ForcedOpenCleared)


def test_rex_before_opening_suppresses_forced(
    factory: MockFactory, make_door: Callable[..., tuple[DoorIO, Recorder]]
) -> None:
    _door, rec = make_door(timing=DoorTiming(unlock_s=1.0, forced_debounce_s=0.05))
    factory.pin(REX).drive_low()
    factory.pin(CONTACT).drive_high()
    # The unlock time runs out with the door still open: that must not count as forced.
    rec.wait_for(lambda e: isinstance(e, Relocked))
    factory.pin(CONTACT).drive_low()
    assert not any(isinstance(e, ForcedOpenRaised) for e in rec.events)


def test_fire_pin_holds_lock_released_and_lockdown_refuses_grants(
    factory: MockFactory, make_door: Callable[..., tuple[DoorIO, Recorder]]
) -> None:
    door, rec = make_door()
    relay, fire = factory.pin(RELAY), factory.pin(FIRE)
    fire.drive_low()  # fire relay closes through the optocoupler: active low
    assert relay.state is False
    assert rec.events[:2] == [
        FireReleaseStarted(rec.events[0].at),
        Unlocked(rec.events[0].at, UnlockCause.FIRE),
    ]
    door.set_lockdown(True)
    assert door.grant() is False
    assert isinstance(rec.events[-1], GrantRefused)
    assert relay.state is False
    fire.drive_high()
    ended, relocked = rec.events[-2:]
    assert isinstance(ended, FireReleaseEnded)
    assert relocked == Relocked(relocked.at, RelockCause.FIRE_CLEARED)
    assert relay.state is True


def test_fail_secure_strike_on_active_low_relay_module(
    factory: MockFactory, make_door: Callable[..., tuple[DoorIO, Recorder]]
) -> None:
    door, _rec = make_door(
        wiring=wiring(polarity=LockPolarity.FAIL_SECURE, relay_active_high=False)
    )
    relay = factory.pin(RELAY)
    assert relay.state is True  # de-energised (active-low module) = strike locked
    door.remote_unlock()
    assert relay.state is False  # energised = strike released


def test_door_open_and_tamper_at_boot_are_reported(
    factory: MockFactory, make_door: Callable[..., tuple[DoorIO, Recorder]]
) -> None:
    # A pulled-up contact reads high before anything drives it: the door counts as open.
    _door, rec = make_door(wiring=wiring(contact_pull="up"))
    assert isinstance(rec.events[0], DoorOpened)
    rec.wait_for(lambda e: isinstance(e, ForcedOpenRaised))
    factory.pin(TAMPER).drive_high()
    assert isinstance(rec.events[-1], TamperAlarmRaised)


def test_board_wide_fire_input_fans_out_to_every_door(factory: MockFactory) -> None:
    doors: list[DoorIO] = []
    recs = [Recorder(), Recorder()]
    for relay, contact, rec in ((5, 6, recs[0]), (20, 21, recs[1])):
        doors.append(
            DoorIO(
                DoorWiring(relay=RelaySpec(relay), contact=InputSpec(contact, pull="floating")),
                timing=FAST,
                pin_factory=factory,
                on_event=rec,
            )
        )

    def fan_out(active: bool) -> None:
        for door in doors:
            door.set_fire(active)

    fire = BinaryInput(InputSpec(FIRE, active_high=False, pull="up"), fan_out, pin_factory=factory)
    try:
        factory.pin(FIRE).drive_low()
        assert fire.asserted
        assert factory.pin(5).state is False
        assert factory.pin(20).state is False
        assert all(isinstance(r.events[0], FireReleaseStarted) for r in recs)
    finally:
        fire.close()
        for door in doors:
            door.close()


def test_separate_factories_do_not_share_pins() -> None:
    a, b = MockFactory(), MockFactory()
    with (
        DoorIO(wiring(), timing=STEADY, pin_factory=a) as door_a,
        DoorIO(wiring(), timing=STEADY, pin_factory=b) as door_b,
    ):
        door_a.grant()
        assert a.pin(RELAY).state is False
        assert b.pin(RELAY).state is True
        assert door_b.lock_state is LockState.SECURED
    a.reset()
    b.reset()


def test_close_stops_timer_and_releases_pins(factory: MockFactory) -> None:
    door = DoorIO(wiring(), timing=FAST, pin_factory=factory)
    door.grant()
    thread = door._thread
    door.close()
    door.close()  # idempotent
    assert not thread.is_alive()
    assert door.grant() is False  # a closed door cannot open
    # Pins are free again: a second door can bind the same wiring.
    with DoorIO(wiring(), timing=FAST, pin_factory=factory) as again:
        assert again.lock_state is LockState.SECURED


def test_failing_event_callback_does_not_stop_the_door(factory: MockFactory) -> None:
    def explode(event: DoorEvent) -> None:
        raise RuntimeError("reporter down")

    with DoorIO(wiring(), timing=STEADY, pin_factory=factory, on_event=explode) as door:
        assert door.grant() is True
        assert factory.pin(RELAY).state is False


def test_wiring_from_shipped_profile_drives_the_right_pins(factory: MockFactory) -> None:
    profile = load_shipped_profile("raspberry-pi-4")
    yard = DoorWiring.from_profile(profile, "yard")
    assert yard.relay == RelaySpec(23, LockPolarity.FAIL_SECURE, active_high=False)
    assert yard.fire is None  # board-wide: bound once, fanned out
    solo = DoorWiring.from_profile(profile, "front", board_inputs=True)
    assert solo.fire == InputSpec(26, active_high=False, pull="up")
    rec = Recorder()
    with DoorIO(yard, timing=STEADY, pin_factory=factory, on_event=rec) as door:
        assert factory.pin(23).state is True  # active-low module, strike de-energised
        factory.pin(25).drive_low()  # REX
        assert factory.pin(23).state is False
        assert door.lock_state is LockState.RELEASED
