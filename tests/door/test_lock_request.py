"""The `lock` command's input: a running grant ends at once, exit and fire stay."""

from __future__ import annotations

from gateway.door_controller import (
    AccessGranted,
    DoorController,
    FireAlarmActivated,
    LockRequested,
    LockState,
    RelockCause,
    Relocked,
    RexPressed,
    SetLock,
)


def test_a_lock_request_ends_a_grant_at_once() -> None:
    door = DoorController(now=0.0)
    door.handle(AccessGranted(1.0))
    step = door.handle(LockRequested(2.0))
    assert step.effects == (SetLock(LockState.SECURED),)
    assert step.events == (Relocked(2.0, RelockCause.REMOTE),)
    assert door.next_deadline() is None
    # Nothing running: nothing to report.
    assert door.handle(LockRequested(3.0)).events == ()


def test_a_lock_request_never_cuts_an_exit_or_a_fire_release_short() -> None:
    door = DoorController(now=0.0)
    door.handle(RexPressed(1.0))
    assert door.handle(LockRequested(1.5)).effects == ()
    assert door.lock_state is LockState.RELEASED
    fire = DoorController(now=0.0)
    fire.handle(FireAlarmActivated(1.0))
    fire.handle(AccessGranted(1.5))
    assert fire.handle(LockRequested(2.0)).effects == ()
    assert fire.lock_state is LockState.RELEASED
