"""Door state machine rules, driven with explicit times (no clock, no sleeps)."""

from __future__ import annotations

import pytest

from gateway.door_controller import (
    AccessGranted,
    DoorClosed,
    DoorContactClosed,
    DoorContactOpened,
    DoorController,
    DoorOpened,
    DoorStep,
    DoorTiming,
    FireAlarmActivated,
    FireAlarmCleared,
    FireReleaseEnded,
    FireReleaseStarted,
    ForcedOpenCleared,
    ForcedOpenRaised,
    GrantRefused,
    HeldOpenCleared,
    HeldOpenRaised,
    LockdownEnded,
    LockdownOff,
    LockdownOn,
    LockdownStarted,
    LockPolarity,
    LockState,
    RelockCause,
    Relocked,
    RemoteUnlockRequested,
    RexPressed,
    SetLock,
    TamperActivated,
    TamperAlarmCleared,
    TamperAlarmRaised,
    TamperCleared,
    UnlockCause,
    Unlocked,
    relay_energised,
    relay_pin_level,
)

RELEASE = SetLock(LockState.RELEASED)
SECURE = SetLock(LockState.SECURED)


@pytest.fixture()
def door() -> DoorController:
    return DoorController()


def test_starts_secured_closed_and_quiet(door: DoorController) -> None:
    assert door.lock_state is LockState.SECURED
    assert not door.door_open
    assert door.next_deadline() is None
    assert door.tick(100.0) == DoorStep()


def test_grant_open_close_relocks_on_close(door: DoorController) -> None:
    step = door.handle(AccessGranted(10.0))
    assert step == DoorStep((RELEASE,), (Unlocked(10.0, UnlockCause.GRANT),))
    # Opening does not relock: the person must be able to pass.
    step = door.handle(DoorContactOpened(11.0))
    assert step == DoorStep((), (DoorOpened(11.0),))
    assert door.lock_state is LockState.RELEASED
    step = door.handle(DoorContactClosed(12.5))
    assert step == DoorStep((SECURE,), (DoorClosed(12.5), Relocked(12.5, RelockCause.DOOR_CLOSED)))
    # The window is over: nothing more happens at the old unlock deadline.
    assert door.tick(15.0) == DoorStep()


def test_grant_without_opening_relocks_after_unlock_time(door: DoorController) -> None:
    door.handle(AccessGranted(0.0))
    assert door.next_deadline() == 5.0
    assert door.tick(4.99) == DoorStep()
    assert door.lock_state is LockState.RELEASED
    step = door.tick(5.0)
    assert step == DoorStep((SECURE,), (Relocked(5.0, RelockCause.TIMEOUT),))


def test_unlock_time_runs_out_while_door_still_open(door: DoorController) -> None:
    door.handle(AccessGranted(0.0))
    door.handle(DoorContactOpened(4.0))
    step = door.tick(5.0)
    assert step.events == (Relocked(5.0, RelockCause.TIMEOUT),)
    # Opened during the release, so this is not a forced door.
    assert door.tick(7.0) == DoorStep()
    step = door.handle(DoorContactClosed(8.0))
    assert step == DoorStep((), (DoorClosed(8.0),))


def test_grant_with_custom_unlock_time_and_retrigger(door: DoorController) -> None:
    door.handle(AccessGranted(0.0, unlock_s=10.0))
    door.handle(AccessGranted(3.0))  # shorter: must not cut the running window
    assert door.next_deadline() == 10.0
    door.handle(AccessGranted(8.0))  # restarts to 13
    assert door.tick(12.9) == DoorStep()
    assert door.tick(13.0).effects == (SECURE,)


def test_late_input_fires_missed_timers_at_their_own_time(door: DoorController) -> None:
    door.handle(AccessGranted(0.0))
    door.handle(DoorContactOpened(1.0))
    step = door.handle(DoorContactClosed(40.0))
    assert step.events == (
        Relocked(5.0, RelockCause.TIMEOUT),
        HeldOpenRaised(31.0),
        DoorClosed(40.0),
        HeldOpenCleared(40.0),
    )


def test_held_open_raised_at_30s_from_open_and_cleared_on_close(door: DoorController) -> None:
    door.handle(AccessGranted(0.0))
    door.handle(DoorContactOpened(2.0))
    assert door.tick(31.9).events == (Relocked(5.0, RelockCause.TIMEOUT),)
    assert not door.held_open_alarm
    assert door.tick(32.0).events == (HeldOpenRaised(32.0),)
    assert door.held_open_alarm
    assert door.tick(100.0) == DoorStep()  # raised once, not every tick
    step = door.handle(DoorContactClosed(101.0))
    assert step.events == (DoorClosed(101.0), HeldOpenCleared(101.0))
    assert not door.held_open_alarm


def test_forced_open_after_debounce(door: DoorController) -> None:
    assert door.handle(DoorContactOpened(10.0)).events == (DoorOpened(10.0),)
    assert door.tick(10.9) == DoorStep()
    assert door.tick(11.0).events == (ForcedOpenRaised(11.0),)
    assert door.forced_open_alarm
    assert door.lock_state is LockState.SECURED
    step = door.handle(DoorContactClosed(12.0))
    assert step == DoorStep((), (DoorClosed(12.0), ForcedOpenCleared(12.0)))
    assert not door.forced_open_alarm


def test_contact_bounce_shorter_than_debounce_raises_nothing(door: DoorController) -> None:
    door.handle(DoorContactOpened(10.0))
    step = door.handle(DoorContactClosed(10.5))
    assert step.events == (DoorClosed(10.5),)
    assert door.tick(20.0) == DoorStep()
    assert not door.forced_open_alarm


def test_duplicate_edges_report_nothing(door: DoorController) -> None:
    door.handle(DoorContactOpened(1.0))
    assert door.handle(DoorContactOpened(1.1)) == DoorStep()
    door.handle(TamperActivated(2.0))
    assert door.handle(TamperActivated(2.1)) == DoorStep()


def test_rex_releases_and_suppresses_forced(door: DoorController) -> None:
    step = door.handle(RexPressed(0.0))
    assert step == DoorStep((RELEASE,), (Unlocked(0.0, UnlockCause.REX),))
    door.handle(DoorContactOpened(0.5))
    assert door.tick(3.0) == DoorStep()
    step = door.handle(DoorContactClosed(3.5))
    assert step.events == (DoorClosed(3.5), Relocked(3.5, RelockCause.DOOR_CLOSED))
    assert not door.forced_open_alarm


def test_rex_just_after_opening_shunts_pending_forced(door: DoorController) -> None:
    door.handle(DoorContactOpened(0.0))
    door.handle(RexPressed(0.3))
    assert door.tick(2.0) == DoorStep()
    assert not door.forced_open_alarm


def test_rex_uses_its_own_unlock_time() -> None:
    door = DoorController(DoorTiming(unlock_s=5.0, rex_unlock_s=2.0))
    door.handle(RexPressed(0.0))
    assert door.next_deadline() == 2.0


def test_remote_unlock_reports_cause(door: DoorController) -> None:
    step = door.handle(RemoteUnlockRequested(0.0, unlock_s=3.0))
    assert step.events == (Unlocked(0.0, UnlockCause.REMOTE),)
    assert door.tick(3.0).events == (Relocked(3.0, RelockCause.TIMEOUT),)


def test_reopening_after_relock_on_close_is_forced(door: DoorController) -> None:
    door.handle(AccessGranted(0.0))
    door.handle(DoorContactOpened(1.0))
    door.handle(DoorContactClosed(2.0))
    door.handle(DoorContactOpened(3.0))
    assert door.tick(4.0).events == (ForcedOpenRaised(4.0),)


def test_fire_releases_and_holds_through_everything(door: DoorController) -> None:
    step = door.handle(FireAlarmActivated(0.0))
    assert step == DoorStep((RELEASE,), (FireReleaseStarted(0.0), Unlocked(0.0, UnlockCause.FIRE)))
    assert door.fire_active
    for step in (
        door.handle(AccessGranted(1.0)),
        door.handle(DoorContactOpened(2.0)),
        door.handle(DoorContactClosed(3.0)),
        door.handle(LockdownOn(4.0)),
        door.handle(AccessGranted(5.0)),
        door.handle(RexPressed(6.0)),
        door.tick(100.0),
    ):
        assert SECURE not in step.effects
        assert door.lock_state is LockState.RELEASED
    step = door.handle(FireAlarmCleared(200.0))
    assert step == DoorStep(
        (SECURE,), (FireReleaseEnded(200.0), Relocked(200.0, RelockCause.FIRE_CLEARED))
    )


def test_fire_door_opening_is_not_forced(door: DoorController) -> None:
    door.handle(FireAlarmActivated(0.0))
    door.handle(DoorContactOpened(1.0))
    assert door.tick(5.0) == DoorStep()
    assert not door.forced_open_alarm


def test_fire_clearing_during_grant_keeps_lock_released_until_window_ends(
    door: DoorController,
) -> None:
    door.handle(FireAlarmActivated(0.0))
    door.handle(AccessGranted(10.0))
    step = door.handle(FireAlarmCleared(12.0))
    assert step == DoorStep((), (FireReleaseEnded(12.0),))
    assert door.lock_state is LockState.RELEASED
    assert door.tick(15.0) == DoorStep((SECURE,), (Relocked(15.0, RelockCause.TIMEOUT),))


def test_fire_while_already_released_reports_fire_without_second_unlock(
    door: DoorController,
) -> None:
    door.handle(AccessGranted(0.0))
    step = door.handle(FireAlarmActivated(1.0))
    assert step == DoorStep((), (FireReleaseStarted(1.0),))
    assert door.tick(10.0) == DoorStep()  # window ends silently, fire holds the lock
    assert door.lock_state is LockState.RELEASED


def test_lockdown_refuses_grants_and_remote(door: DoorController) -> None:
    assert door.accepts_grants()
    assert door.handle(LockdownOn(0.0)).events == (LockdownStarted(0.0),)
    assert not door.accepts_grants()
    step = door.handle(AccessGranted(1.0))
    assert step == DoorStep((), (GrantRefused(1.0, UnlockCause.GRANT, "lockdown"),))
    step = door.handle(RemoteUnlockRequested(2.0))
    assert step == DoorStep((), (GrantRefused(2.0, UnlockCause.REMOTE, "lockdown"),))
    assert door.lock_state is LockState.SECURED
    assert door.handle(LockdownOff(3.0)).events == (LockdownEnded(3.0),)
    assert door.accepts_grants()
    assert door.handle(AccessGranted(4.0)).effects == (RELEASE,)


def test_lockdown_secures_a_running_grant(door: DoorController) -> None:
    door.handle(AccessGranted(0.0))
    step = door.handle(LockdownOn(1.0))
    assert step == DoorStep((SECURE,), (LockdownStarted(1.0), Relocked(1.0, RelockCause.LOCKDOWN)))


def test_rex_still_releases_in_lockdown(door: DoorController) -> None:
    door.handle(LockdownOn(0.0))
    step = door.handle(RexPressed(1.0))
    assert step == DoorStep((RELEASE,), (Unlocked(1.0, UnlockCause.REX),))
    door.handle(DoorContactOpened(1.5))
    assert door.handle(DoorContactClosed(2.0)).effects == (SECURE,)
    assert not door.forced_open_alarm


def test_lockdown_keeps_a_running_rex_window(door: DoorController) -> None:
    door.handle(RexPressed(0.0))
    step = door.handle(LockdownOn(1.0))
    assert step == DoorStep((), (LockdownStarted(1.0),))
    assert door.lock_state is LockState.RELEASED


def test_tamper_raised_and_cleared(door: DoorController) -> None:
    assert door.handle(TamperActivated(1.0)) == DoorStep((), (TamperAlarmRaised(1.0),))
    assert door.tamper_active
    assert door.handle(TamperCleared(2.0)) == DoorStep((), (TamperAlarmCleared(2.0),))
    assert not door.tamper_active
    assert door.handle(TamperCleared(3.0)) == DoorStep()


def test_time_going_backwards_is_clamped(door: DoorController) -> None:
    door.handle(AccessGranted(10.0))
    step = door.handle(DoorContactOpened(9.0))
    assert step.events == (DoorOpened(10.0),)


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_bad_timings_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="unlock_s"):
        DoorTiming(unlock_s=bad)
    with pytest.raises(ValueError, match="unlock_s"):
        AccessGranted(0.0, unlock_s=bad)


@pytest.mark.parametrize(
    ("polarity", "state", "energised"),
    [
        (LockPolarity.FAIL_SAFE, LockState.SECURED, True),
        (LockPolarity.FAIL_SAFE, LockState.RELEASED, False),
        (LockPolarity.FAIL_SECURE, LockState.SECURED, False),
        (LockPolarity.FAIL_SECURE, LockState.RELEASED, True),
    ],
)
def test_polarity_maps_lock_state_to_relay(
    polarity: LockPolarity, state: LockState, energised: bool
) -> None:
    assert relay_energised(state, polarity) is energised
    assert relay_pin_level(state, polarity, active_high=True) is energised
    # An active-low relay module inverts only the pin level, never the lock semantics.
    assert relay_pin_level(state, polarity, active_high=False) is (not energised)
