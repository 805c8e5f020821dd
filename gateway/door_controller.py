"""Door state machine: one instance per door, pure and clock-free.

The controller never touches hardware, threads or the wall clock. Every input carries
``now`` (monotonic seconds) and every call returns the effects to apply to the lock and
the events to report, so the whole door policy can be tested as plain function calls.

Policy, in line with commercial access controllers:

* A grant (or remote unlock, or REX) releases the lock for ``DoorTiming.unlock_s``. The
  lock secures again at whichever comes first: the unlock time running out, or the door
  closing after it was opened (relock on close, so the person has the whole unlock time
  to get through and the door is secured the moment it shuts behind them).
* Door held open longer than ``held_open_s`` (measured from the moment it opened) raises
  a held-open alarm, cleared when it closes.
* The door opening while the lock is secured raises a forced-open alarm, but only if the
  door is still open ``forced_debounce_s`` later and no grant, REX or fire release came
  in the meantime: a bounce of the contact raises nothing. Cleared when it closes.
* Fire releases the lock and holds it released while the alarm lasts, whatever else
  happens. The hardware fire release is wired in series with the relay; the controller
  follows and reports it, it never fights it.
* Lockdown refuses grants and remote unlocks and secures the lock, except for fire.
  REX still releases during lockdown: leaving is always allowed, and a locked-in person
  in an emergency is worse than any intrusion lockdown is meant to stop.
* Held-open is reported during a fire too; whoever reads the events knows fire is active
  and can decide whether a propped door matters then.
* Every change of the lock comes with exactly one ``Unlocked`` or ``Relocked`` event,
  and inputs that change nothing (a second "opened" from a bouncing contact) report
  nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

__all__ = [
    "AccessGranted",
    "DoorClosed",
    "DoorContactClosed",
    "DoorContactOpened",
    "DoorController",
    "DoorEvent",
    "DoorInput",
    "DoorOpened",
    "DoorStep",
    "DoorTiming",
    "FireAlarmActivated",
    "FireAlarmCleared",
    "FireReleaseEnded",
    "FireReleaseStarted",
    "ForcedOpenCleared",
    "ForcedOpenRaised",
    "GrantRefused",
    "HeldOpenCleared",
    "HeldOpenRaised",
    "LockPolarity",
    "LockRequested",
    "LockState",
    "LockdownEnded",
    "LockdownOff",
    "LockdownOn",
    "LockdownStarted",
    "RelockCause",
    "Relocked",
    "RemoteUnlockRequested",
    "RexPressed",
    "SetLock",
    "TamperActivated",
    "TamperAlarmCleared",
    "TamperAlarmRaised",
    "TamperCleared",
    "Tick",
    "UnlockCause",
    "Unlocked",
    "relay_energised",
    "relay_pin_level",
]


# --- configuration and lock polarity ------------------------------------------------------


@dataclass(frozen=True)
class DoorTiming:
    """Door timings in seconds. Defaults follow common commercial controller settings."""

    unlock_s: float = 5.0
    held_open_s: float = 30.0
    forced_debounce_s: float = 1.0
    rex_unlock_s: float | None = None
    """How long REX releases the lock; ``None`` means the same as ``unlock_s``."""

    def __post_init__(self) -> None:
        for name in ("unlock_s", "held_open_s", "forced_debounce_s"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"DoorTiming.{name} must be > 0 seconds, got {value!r}")
        if self.rex_unlock_s is not None and not self.rex_unlock_s > 0:
            raise ValueError(
                f"DoorTiming.rex_unlock_s must be > 0 or None, got {self.rex_unlock_s}"
            )

    @property
    def rex_s(self) -> float:
        """Effective REX unlock time."""
        return self.unlock_s if self.rex_unlock_s is None else self.rex_unlock_s


class LockState(StrEnum):
    """What the lock does to the door, independent of how the relay is wired."""

    RELEASED = "released"
    SECURED = "secured"


class LockPolarity(StrEnum):
    """How the lock behaves without power.

    ``fail_safe`` (maglocks): power locks it, so the relay is energised to secure and a
    power cut releases the door. ``fail_secure`` (most strikes): power releases it, so
    the relay is energised to release and a power cut leaves the door locked.
    """

    FAIL_SAFE = "fail_safe"
    FAIL_SECURE = "fail_secure"


def relay_energised(state: LockState, polarity: LockPolarity) -> bool:
    """Whether the relay coil must be energised to put the lock in ``state``."""
    if polarity is LockPolarity.FAIL_SAFE:
        return state is LockState.SECURED
    return state is LockState.RELEASED


def relay_pin_level(state: LockState, polarity: LockPolarity, active_high: bool) -> bool:
    """GPIO level (True = high) that puts the lock in ``state``.

    ``active_high`` describes the relay module: True if a high input energises the coil.
    Many cheap opto-isolated modules are active low.
    """
    return relay_energised(state, polarity) == active_high


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessGranted:
    """An access decision granted entry; ``unlock_s`` overrides the default unlock time."""

    now: float
    unlock_s: float | None = None

    def __post_init__(self) -> None:
        if self.unlock_s is not None and not self.unlock_s > 0:
            raise ValueError(f"unlock_s must be > 0 seconds or None, got {self.unlock_s!r}")


@dataclass(frozen=True)
class RemoteUnlockRequested:
    """An operator or maintainer asked to unlock the door remotely."""

    now: float
    unlock_s: float | None = None

    def __post_init__(self) -> None:
        if self.unlock_s is not None and not self.unlock_s > 0:
            raise ValueError(f"unlock_s must be > 0 seconds or None, got {self.unlock_s!r}")


@dataclass(frozen=True)
class RexPressed:
    """The request-to-exit button (or exit sensor) fired."""

    now: float


@dataclass(frozen=True)
class DoorContactOpened:
    """The door position switch reports the door open."""

    now: float


@dataclass(frozen=True)
class DoorContactClosed:
    """The door position switch reports the door closed."""

    now: float


@dataclass(frozen=True)
class FireAlarmActivated:
    """The fire alarm input became active."""

    now: float


@dataclass(frozen=True)
class FireAlarmCleared:
    """The fire alarm input returned to normal."""

    now: float


@dataclass(frozen=True)
class TamperActivated:
    """The tamper switch opened (enclosure or reader pried off)."""

    now: float


@dataclass(frozen=True)
class TamperCleared:
    """The tamper switch returned to normal."""

    now: float


@dataclass(frozen=True)
class LockdownOn:
    """Put the door in lockdown: no grants, lock secured except for fire and REX."""

    now: float


@dataclass(frozen=True)
class LockdownOff:
    """Lift lockdown."""

    now: float


@dataclass(frozen=True)
class LockRequested:
    """An operator asked to secure the door now: a running grant or remote unlock ends.

    An exit-button window stays open, as in lockdown: leaving is never cut short, and
    fire keeps the lock released.
    """

    now: float


@dataclass(frozen=True)
class Tick:
    """Time passed; lets timers fire. Nothing else happened."""

    now: float


DoorInput = (
    AccessGranted
    | RemoteUnlockRequested
    | RexPressed
    | DoorContactOpened
    | DoorContactClosed
    | FireAlarmActivated
    | FireAlarmCleared
    | TamperActivated
    | TamperCleared
    | LockdownOn
    | LockdownOff
    | LockRequested
    | Tick
)


# --- outputs ------------------------------------------------------------------------------


class UnlockCause(StrEnum):
    """Why the lock was released."""

    GRANT = "grant"
    REX = "rex"
    FIRE = "fire"
    REMOTE = "remote"


class RelockCause(StrEnum):
    """Why the lock was secured again."""

    TIMEOUT = "timeout"
    DOOR_CLOSED = "door_closed"
    LOCKDOWN = "lockdown"
    FIRE_CLEARED = "fire_cleared"
    REMOTE = "remote"


@dataclass(frozen=True)
class SetLock:
    """Effect: drive the lock to ``state``. Emitted only when the state changes."""

    state: LockState


@dataclass(frozen=True)
class Unlocked:
    """The lock was released."""

    kind: ClassVar[str] = "door.unlocked"
    at: float
    cause: UnlockCause


@dataclass(frozen=True)
class Relocked:
    """The lock was secured again."""

    kind: ClassVar[str] = "door.relocked"
    at: float
    cause: RelockCause


@dataclass(frozen=True)
class DoorOpened:
    """The door opened."""

    kind: ClassVar[str] = "door.opened"
    at: float


@dataclass(frozen=True)
class DoorClosed:
    """The door closed."""

    kind: ClassVar[str] = "door.closed"
    at: float


@dataclass(frozen=True)
class HeldOpenRaised:
    """The door has stayed open past the held-open time."""

    kind: ClassVar[str] = "door.held_open.raised"
    at: float


@dataclass(frozen=True)
class HeldOpenCleared:
    """A held-open door closed."""

    kind: ClassVar[str] = "door.held_open.cleared"
    at: float


@dataclass(frozen=True)
class ForcedOpenRaised:
    """The door was opened while secured, with no grant, REX or fire release."""

    kind: ClassVar[str] = "door.forced_open.raised"
    at: float


@dataclass(frozen=True)
class ForcedOpenCleared:
    """A forced door closed."""

    kind: ClassVar[str] = "door.forced_open.cleared"
    at: float


@dataclass(frozen=True)
class TamperAlarmRaised:
    """The tamper switch tripped."""

    kind: ClassVar[str] = "door.tamper.raised"
    at: float


@dataclass(frozen=True)
class TamperAlarmCleared:
    """The tamper switch returned to normal."""

    kind: ClassVar[str] = "door.tamper.cleared"
    at: float


@dataclass(frozen=True)
class FireReleaseStarted:
    """The fire alarm became active; the door is held released."""

    kind: ClassVar[str] = "door.fire.active"
    at: float


@dataclass(frozen=True)
class FireReleaseEnded:
    """The fire alarm cleared."""

    kind: ClassVar[str] = "door.fire.cleared"
    at: float


@dataclass(frozen=True)
class LockdownStarted:
    """Lockdown began."""

    kind: ClassVar[str] = "door.lockdown.on"
    at: float


@dataclass(frozen=True)
class LockdownEnded:
    """Lockdown was lifted."""

    kind: ClassVar[str] = "door.lockdown.off"
    at: float


@dataclass(frozen=True)
class GrantRefused:
    """A grant or remote unlock was refused by the door itself (for now only lockdown)."""

    kind: ClassVar[str] = "door.grant.refused"
    at: float
    cause: UnlockCause
    reason: str


DoorEvent = (
    Unlocked
    | Relocked
    | DoorOpened
    | DoorClosed
    | HeldOpenRaised
    | HeldOpenCleared
    | ForcedOpenRaised
    | ForcedOpenCleared
    | TamperAlarmRaised
    | TamperAlarmCleared
    | FireReleaseStarted
    | FireReleaseEnded
    | LockdownStarted
    | LockdownEnded
    | GrantRefused
)


@dataclass(frozen=True)
class DoorStep:
    """What one input produced: lock effects to apply, then events to report, in order."""

    effects: tuple[SetLock, ...] = ()
    events: tuple[DoorEvent, ...] = ()


# --- the state machine --------------------------------------------------------------------


class DoorController:
    """State machine for one door. Not thread-safe: the caller serialises inputs.

    Times must not go backwards; a late input (``now`` earlier than one already seen) is
    treated as happening at the latest time seen, because a door must keep working even
    if two threads race to deliver edges.
    """

    def __init__(self, timing: DoorTiming | None = None, *, now: float = 0.0) -> None:
        self.timing = timing or DoorTiming()
        self._now = now
        self._lock = LockState.SECURED
        self._door_open = False
        self._fire = False
        self._tamper = False
        self._lockdown = False
        # Two release windows, because lockdown withdraws grants but never an exit request.
        self._grant_until: float | None = None
        self._rex_until: float | None = None
        self._opened_at: float | None = None
        self._held_open = False
        self._forced_due: float | None = None
        self._forced_open = False
        self._effects: list[SetLock] = []
        self._events: list[DoorEvent] = []

    # -- read-only state --

    @property
    def lock_state(self) -> LockState:
        """Current lock state."""
        return self._lock

    @property
    def door_open(self) -> bool:
        """Whether the door contact reports open."""
        return self._door_open

    @property
    def fire_active(self) -> bool:
        """Whether the fire alarm is active."""
        return self._fire

    @property
    def tamper_active(self) -> bool:
        """Whether the tamper switch is tripped."""
        return self._tamper

    @property
    def lockdown(self) -> bool:
        """Whether the door is in lockdown."""
        return self._lockdown

    @property
    def held_open_alarm(self) -> bool:
        """Whether the held-open alarm is raised."""
        return self._held_open

    @property
    def forced_open_alarm(self) -> bool:
        """Whether the forced-open alarm is raised."""
        return self._forced_open

    @property
    def now(self) -> float:
        """Latest time seen."""
        return self._now

    def accepts_grants(self) -> bool:
        """False while in lockdown: a grant would be refused."""
        return not self._lockdown

    def next_deadline(self) -> float | None:
        """Earliest time at which a timer fires, so a driver can sleep until then."""
        deadlines = [d for d in self._deadlines() if d is not None]
        return min(deadlines) if deadlines else None

    # -- inputs --

    def tick(self, now: float) -> DoorStep:
        """Let timers fire up to ``now``."""
        return self.handle(Tick(now))

    def handle(self, event: DoorInput) -> DoorStep:
        """Apply one input and return what it caused."""
        now = max(event.now, self._now)
        self._run_timers(now)
        self._now = now
        match event:
            case AccessGranted(unlock_s=unlock_s):
                self._open_window(now, UnlockCause.GRANT, unlock_s or self.timing.unlock_s)
            case RemoteUnlockRequested(unlock_s=unlock_s):
                self._open_window(now, UnlockCause.REMOTE, unlock_s or self.timing.unlock_s)
            case RexPressed():
                self._open_window(now, UnlockCause.REX, self.timing.rex_s)
            case DoorContactOpened():
                self._on_door_opened(now)
            case DoorContactClosed():
                self._on_door_closed(now)
            case FireAlarmActivated():
                if not self._fire:
                    self._fire = True
                    self._forced_due = None
                    self._events.append(FireReleaseStarted(now))
                    self._reconcile(now, UnlockCause.FIRE, RelockCause.FIRE_CLEARED)
            case FireAlarmCleared():
                if self._fire:
                    self._fire = False
                    self._events.append(FireReleaseEnded(now))
                    self._reconcile(now, UnlockCause.FIRE, RelockCause.FIRE_CLEARED)
            case TamperActivated():
                if not self._tamper:
                    self._tamper = True
                    self._events.append(TamperAlarmRaised(now))
            case TamperCleared():
                if self._tamper:
                    self._tamper = False
                    self._events.append(TamperAlarmCleared(now))
            case LockdownOn():
                self._on_lockdown_on(now)
            case LockdownOff():
                if self._lockdown:
                    self._lockdown = False
                    self._events.append(LockdownEnded(now))
            case LockRequested():
                if self._grant_until is not None:
                    self._grant_until = None
                    self._reconcile(now, UnlockCause.GRANT, RelockCause.REMOTE)
            case Tick():
                pass
        return self._flush()

    # -- internals --

    def _deadlines(self) -> tuple[float | None, float | None, float | None]:
        held_due = (
            self._opened_at + self.timing.held_open_s
            if self._opened_at is not None and not self._held_open
            else None
        )
        return self._window_end(), self._forced_due, held_due

    def _window_end(self) -> float | None:
        ends = [t for t in (self._grant_until, self._rex_until) if t is not None]
        return max(ends) if ends else None

    def _run_timers(self, now: float) -> None:
        # Fire due timers in time order, each at its own deadline, so a late input still
        # yields the events a timely tick would have given, with their true times.
        while True:
            window, forced, held = self._deadlines()
            due = [d for d in (window, forced, held) if d is not None and d <= now]
            if not due:
                return
            at = min(due)
            self._now = max(self._now, at)
            if window is not None and window == at:
                self._grant_until = self._rex_until = None
                self._reconcile(at, UnlockCause.GRANT, RelockCause.TIMEOUT)
            elif forced is not None and forced == at:
                self._forced_due = None
                self._forced_open = True
                self._events.append(ForcedOpenRaised(at))
            else:
                self._held_open = True
                self._events.append(HeldOpenRaised(at))

    def _open_window(self, now: float, cause: UnlockCause, duration: float) -> None:
        if cause is not UnlockCause.REX and self._lockdown:
            self._events.append(GrantRefused(now, cause, "lockdown"))
            return
        until = now + duration
        # Re-triggering restarts the timer but never shortens a running window.
        if cause is UnlockCause.REX:
            self._rex_until = until if self._rex_until is None else max(until, self._rex_until)
        elif self._grant_until is None or until > self._grant_until:
            self._grant_until = until
        # A grant or REX arriving just after the door opened authorises that opening.
        self._forced_due = None
        self._reconcile(now, cause, RelockCause.TIMEOUT)

    def _on_door_opened(self, now: float) -> None:
        if self._door_open:
            return
        self._door_open = True
        self._opened_at = now
        self._events.append(DoorOpened(now))
        if self._lock is LockState.SECURED:
            self._forced_due = now + self.timing.forced_debounce_s

    def _on_door_closed(self, now: float) -> None:
        if not self._door_open:
            return
        self._door_open = False
        self._opened_at = None
        self._forced_due = None
        self._events.append(DoorClosed(now))
        if self._held_open:
            self._held_open = False
            self._events.append(HeldOpenCleared(now))
        if self._forced_open:
            self._forced_open = False
            self._events.append(ForcedOpenCleared(now))
        if self._window_end() is not None:
            # Relock on close: the person got through, the door is shut behind them.
            self._grant_until = self._rex_until = None
            self._reconcile(now, UnlockCause.GRANT, RelockCause.DOOR_CLOSED)

    def _on_lockdown_on(self, now: float) -> None:
        if self._lockdown:
            return
        self._lockdown = True
        self._events.append(LockdownStarted(now))
        # Grants already running are withdrawn; a REX window stays, egress is never cut.
        self._grant_until = None
        self._reconcile(now, UnlockCause.GRANT, RelockCause.LOCKDOWN)

    def _reconcile(self, at: float, unlock_cause: UnlockCause, relock_cause: RelockCause) -> None:
        wanted = (
            LockState.RELEASED
            if self._fire or self._window_end() is not None
            else LockState.SECURED
        )
        if wanted is self._lock:
            return
        self._lock = wanted
        self._effects.append(SetLock(wanted))
        if wanted is LockState.RELEASED:
            self._events.append(Unlocked(at, unlock_cause))
        else:
            self._events.append(Relocked(at, relock_cause))

    def _flush(self) -> DoorStep:
        step = DoorStep(tuple(self._effects), tuple(self._events))
        self._effects.clear()
        self._events.clear()
        return step
