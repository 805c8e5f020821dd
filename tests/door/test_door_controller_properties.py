"""Random input sequences: the door never crashes and its safety invariants hold."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.door_controller import (
    AccessGranted,
    DoorContactClosed,
    DoorContactOpened,
    DoorController,
    DoorInput,
    DoorTiming,
    FireAlarmActivated,
    FireAlarmCleared,
    LockdownOff,
    LockdownOn,
    LockState,
    Relocked,
    RemoteUnlockRequested,
    RexPressed,
    TamperActivated,
    TamperCleared,
    Tick,
    Unlocked,
)

KINDS: tuple[type[DoorInput], ...] = (
    AccessGranted,
    RemoteUnlockRequested,
    RexPressed,
    DoorContactOpened,
    DoorContactClosed,
    FireAlarmActivated,
    FireAlarmCleared,
    TamperActivated,
    TamperCleared,
    LockdownOn,
    LockdownOff,
    Tick,
)

steps = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=40.0), st.sampled_from(KINDS)),
    max_size=60,
)


@settings(max_examples=400, deadline=None)
@given(steps=steps)
def test_random_sequences_keep_invariants(steps: list[tuple[float, type[DoorInput]]]) -> None:
    door = DoorController(DoorTiming(unlock_s=5.0, held_open_s=30.0, forced_debounce_s=1.0))
    now = 0.0
    lock = door.lock_state
    last_event_at = 0.0
    rex_until: float | None = None  # the exit request window, tracked independently
    for dt, kind in steps:
        now += dt
        was_open = door.door_open
        step = door.handle(kind(now))
        if rex_until is not None and rex_until <= now:
            rex_until = None
        if kind is RexPressed:
            rex_until = now + 5.0
        if kind is DoorContactClosed and was_open:
            rex_until = None

        # Every lock change is an effect paired with exactly one Unlocked/Relocked event.
        lock_events = [e for e in step.events if isinstance(e, Unlocked | Relocked)]
        assert len(lock_events) == len(step.effects)
        for effect, event in zip(step.effects, lock_events, strict=True):
            assert effect.state is not lock
            expected = LockState.RELEASED if isinstance(event, Unlocked) else LockState.SECURED
            assert effect.state is expected
            lock = effect.state
        assert lock is door.lock_state

        # Events come out in time order and never from the future.
        for ev in step.events:
            assert last_event_at <= ev.at <= now
            last_event_at = ev.at

        if door.fire_active:
            assert door.lock_state is LockState.RELEASED
        if door.lockdown and door.lock_state is LockState.RELEASED:
            # Only fire or a running exit request may hold a door released in lockdown.
            assert door.fire_active or rex_until is not None
        if kind is RexPressed:
            # Leaving is always allowed, lockdown or not.
            assert door.lock_state is LockState.RELEASED
        if not door.door_open:
            assert not door.held_open_alarm
            assert not door.forced_open_alarm
