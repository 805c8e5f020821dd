"""Direction from a pair of IR beams across the doorway, and PIR motion.

Beam A is on the outside, beam B on the inside, 10-20 cm apart, so a walker's body
breaks both for part of a crossing. `BeamPairDetector` turns timestamped break/restore
events into crossings, with these rules:

1. An *episode* starts at the first break while both beams are clear and ends once both
   have been clear for `settle_s`. Nothing is decided before then, so no event is ever
   taken back.
2. Bounce: a beam that is restored and broken again within `settle_s` was never
   restored; the two breaks merge into one.
3. Glitch: a break shorter than `min_break_s` (after merging) is noise. It is dropped
   from the episode and counted in `glitches`; an episode of glitches only reports
   nothing.
4. IN: the first beam broken was A, B was broken too, and the last beam to clear was B
   (the walker ended up inside). OUT is the mirror: B first, A last.
5. If the second beam broke less than `order_tolerance_s` after the first (both "at
   once": a cart, a wide bag, a person stepping in sideways), the order of the breaks
   says nothing; the beam that cleared last alone decides the direction.
6. Abandoned, counted in `abandoned` and reported but never counted as in or out:
   only one beam was broken (leaned in, backed out); both were broken but the walker
   cleared on the side they came from (turned back); the second beam broke more than
   `max_break_gap_s` after the first; or the episode lasted longer than
   `max_crossing_s` (somebody stood in the door; two people in one episode).

`BeamPair` binds the detector to two gpiozero inputs; `PirSensor` wraps a gpiozero
`MotionSensor` and reports motion/no-motion with timestamps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from gpiozero import DigitalInputDevice, MotionSensor

log = logging.getLogger(__name__)

SETTLE_TIMEOUT_S = 2.0
"""Longest a `PirSensor` waits at start for gpiozero's first sample."""


class Beam(Enum):
    """Which beam of the pair."""

    A = "A"
    """Outside."""
    B = "B"
    """Inside."""


class Direction(Enum):
    """Which way somebody walked through the door."""

    IN = "in"
    OUT = "out"


class AbandonReason(Enum):
    """Why an episode was not counted."""

    BACKED_OUT = "backed_out"
    TURNED_BACK = "turned_back"
    SECOND_BREAK_TOO_LATE = "second_break_too_late"
    TOO_SLOW = "too_slow"


@dataclass(frozen=True, slots=True)
class Crossing:
    """Somebody walked through."""

    direction: Direction
    started_at: float
    finished_at: float


@dataclass(frozen=True, slots=True)
class AbandonedCrossing:
    """The beams saw somebody who did not walk through."""

    reason: AbandonReason
    first_beam: Beam
    started_at: float
    finished_at: float


BeamResult = Crossing | AbandonedCrossing


@dataclass(slots=True)
class _Break:
    beam: Beam
    start: float
    end: float | None = None


class BeamPairDetector:
    """Pure state machine over beam events; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        max_break_gap_s: float = 1.5,
        max_crossing_s: float = 5.0,
        min_break_s: float = 0.025,
        settle_s: float = 0.05,
        order_tolerance_s: float = 0.015,
    ) -> None:
        self.max_break_gap_s = max_break_gap_s
        self.max_crossing_s = max_crossing_s
        self.min_break_s = min_break_s
        self.settle_s = settle_s
        self.order_tolerance_s = order_tolerance_s
        self._broken = {Beam.A: False, Beam.B: False}
        self._breaks: list[_Break] = []
        self._clear_at: float | None = None
        self.entries = 0
        self.exits = 0
        self.abandoned = 0
        self.glitches = 0

    def is_broken(self, beam: Beam) -> bool:
        """The beam's current state as last reported."""
        return self._broken[beam]

    @property
    def deadline(self) -> float | None:
        """When `poll` will finish the current episode; None if it is not settling."""
        return None if self._clear_at is None else self._clear_at + self.settle_s

    def update(self, beam: Beam, broken: bool, at: float) -> BeamResult | None:
        """A beam was broken (True) or restored (False) at time `at`.

        Returns the result of an earlier episode that this event proves finished.
        """
        if broken == self._broken[beam]:
            return None  # a repeated level, not an edge
        self._broken[beam] = broken
        last = self._last_break(beam)
        if not broken:
            if last is None:
                return None  # broken before we started watching
            last.end = at
            if not any(self._broken.values()):
                self._clear_at = at
            return None
        if last is not None and last.end is not None and at - last.end < self.settle_s:
            last.end = None  # bounce: the restore was not real
            self._clear_at = None
            return None
        result = self._finish() if self._clear_at is not None else None
        self._breaks.append(_Break(beam, at))
        return result

    def poll(self, now: float) -> BeamResult | None:
        """Finish the episode if both beams have been clear for `settle_s`."""
        deadline = self.deadline
        if deadline is None or now < deadline:
            return None
        return self._finish()

    def _last_break(self, beam: Beam) -> _Break | None:
        for brk in reversed(self._breaks):
            if brk.beam is beam:
                return brk
        return None

    def _finish(self) -> BeamResult | None:
        finished_at = self._clear_at
        breaks, self._breaks, self._clear_at = self._breaks, [], None
        assert finished_at is not None
        real = [b for b in breaks if b.end is not None and b.end - b.start >= self.min_break_s]
        self.glitches += len(breaks) - len(real)
        if not real:
            return None
        result = self._judge(real, finished_at)
        if isinstance(result, AbandonedCrossing):
            self.abandoned += 1
        elif result.direction is Direction.IN:
            self.entries += 1
        else:
            self.exits += 1
        return result

    def _judge(self, breaks: list[_Break], finished_at: float) -> BeamResult:
        first = breaks[0]
        started = first.start

        def abandon(reason: AbandonReason) -> AbandonedCrossing:
            return AbandonedCrossing(reason, first.beam, started, finished_at)

        other = next((b for b in breaks if b.beam is not first.beam), None)
        if other is None:
            return abandon(AbandonReason.BACKED_OUT)
        if other.start - started > self.max_break_gap_s:
            return abandon(AbandonReason.SECOND_BREAK_TOO_LATE)
        if finished_at - started > self.max_crossing_s:
            return abandon(AbandonReason.TOO_SLOW)
        last_clear = max(breaks, key=lambda b: b.end or 0.0).beam
        if other.start - started >= self.order_tolerance_s and last_clear is first.beam:
            return abandon(AbandonReason.TURNED_BACK)
        direction = Direction.IN if last_clear is Beam.B else Direction.OUT
        return Crossing(direction, started, finished_at)


class BeamPair:
    """Two beam receivers on GPIO, feeding a `BeamPairDetector`.

    Receivers are open-collector with pull-ups; `broken_when_low` says which level means
    the beam is interrupted (it differs between receiver models). A timer finishes each
    episode `settle_s` after both beams clear, so results arrive without further edges.
    """

    def __init__(
        self,
        pin_a: int | str,
        pin_b: int | str,
        on_result: Callable[[BeamResult], None],
        *,
        detector: BeamPairDetector | None = None,
        broken_when_low: bool = True,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.detector = detector if detector is not None else BeamPairDetector()
        self._on_result = on_result
        self._clock = clock
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._closed = False
        self._inputs = []
        for beam, pin in ((Beam.A, pin_a), (Beam.B, pin_b)):
            dev = DigitalInputDevice(pin, pull_up=True, pin_factory=pin_factory)
            # pull_up=True makes "active" mean "low".
            dev.when_activated = self._handler(beam, broken_when_low)
            dev.when_deactivated = self._handler(beam, not broken_when_low)
            self._inputs.append(dev)
            if bool(dev.is_active) == broken_when_low:
                self._update(beam, True)

    def _handler(self, beam: Beam, broken: bool) -> Callable[[], None]:
        return lambda: self._update(beam, broken)

    def _update(self, beam: Beam, broken: bool) -> None:
        with self._lock:
            result = self.detector.update(beam, broken, self._clock())
            self._arm_timer()
        if result is not None:
            self._deliver(result)

    def _arm_timer(self) -> None:
        # Called with the lock held.
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.detector.deadline
        if deadline is not None and not self._closed:
            delay = max(0.0, deadline - self._clock()) + 0.001
            self._timer = threading.Timer(delay, self._poll)
            self._timer.daemon = True
            self._timer.start()

    def _poll(self) -> None:
        with self._lock:
            result = self.detector.poll(self._clock())
            # A timer may fire a hair early by `clock`'s measure: try again then.
            self._timer = None
            self._arm_timer()
        if result is not None:
            self._deliver(result)

    def _deliver(self, result: BeamResult) -> None:
        try:
            self._on_result(result)
        except Exception:  # one bad handler call must not stop the counting
            log.exception("beam result handler failed")

    def close(self) -> None:
        """Cancel the pending timer and release both pins."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
        for dev in self._inputs:
            dev.close()


@dataclass(frozen=True, slots=True)
class MotionEvent:
    """PIR output changed."""

    motion: bool
    at: float


class PirSensor:
    """An HC-SR501-style PIR on GPIO (high = motion), reporting each change.

    Use the sensor's repeatable-trigger (H) jumper; any hold-off for occupancy belongs
    to the caller, which sees every edge with its time.
    """

    def __init__(
        self,
        pin: int | str,
        on_change: Callable[[MotionEvent], None],
        *,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
        queue_len: int = 1,
        sample_rate: float = 10,
        threshold: float = 0.5,
    ) -> None:
        self._on_change = on_change
        self._clock = clock
        self._sensor = MotionSensor(
            pin,
            queue_len=queue_len,
            sample_rate=sample_rate,
            threshold=threshold,
            pin_factory=pin_factory,
        )
        self._sensor.when_motion = lambda: self._report(True)
        self._sensor.when_no_motion = lambda: self._report(False)
        # gpiozero fires no callback for the first reading, so an edge that lands before
        # the sampling thread has taken it would be lost: wait until it has.
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline and not (
            self._sensor.wait_for_motion(0.005) or self._sensor.wait_for_no_motion(0.005)
        ):
            pass

    @property
    def motion_detected(self) -> bool:
        """The current smoothed state."""
        return bool(self._sensor.motion_detected)

    def _report(self, motion: bool) -> None:
        try:
            self._on_change(MotionEvent(motion, self._clock()))
        except Exception:
            log.exception("motion handler failed")

    def close(self) -> None:
        """Stop sampling and release the pin."""
        self._sensor.close()
