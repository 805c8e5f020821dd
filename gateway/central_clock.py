"""The central's time as a gateway estimates it, for the decisions that must agree with it.

Tokens and commands are dated by the central's clock, so a gateway whose own clock is
hours off (a dead RTC battery, no NTP behind a firewall) would refuse every token. Each
central replica publishes a `clock/1` tick every 30 s at QoS 0, never retained, so a tick
reaches a gateway only live, moments after it was sent. On arrival a tick says:
central time ≥ `at`, and it goes on being a lower bound as the gateway's *monotonic*
clock advances, `at + (monotonic now - monotonic at arrival)`. The estimate is the best
such bound among the ticks of the last `WINDOW_S` (the one that travelled fastest), so a
tick held up in the broker never drags it back while a prompt one is at hand.

Anchored on the monotonic clock, the estimate does not move when the gateway's wall clock
is stepped (NTP catching up, someone setting the date). It is only as good as the ticks:
a broker that queues QoS 0 messages for an absent client could hand a reconnecting
gateway old ones, which can only say the central is earlier than it is, and a prompt
tick (within 30 s) supersedes them. Before the first tick the gateway uses its own clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

WINDOW_S: Final = 3600.0
"""A tick that arrived this long before the newest one is dropped (the newest is always
kept): long enough to ride out an outage, short enough that a crystal's drift (≈50 ppm,
0.2 s an hour) stays negligible and a central's clock set back is followed within the
hour."""

MAX_TICKS: Final = 512
"""At most this many ticks are kept (a few replicas, one tick each every 30 s)."""


@dataclass(frozen=True, slots=True)
class Tick:
    """One tick as it arrived: the central's time it carried, the gateway's monotonic time."""

    central_s: float
    received_monotonic_s: float


def central_time(ticks: tuple[Tick, ...], monotonic_s: float) -> datetime | None:
    """The central's time at `monotonic_s` as `ticks` bound it from below; None without."""
    if not ticks:
        return None
    base = max(tick.central_s - tick.received_monotonic_s for tick in ticks)
    return datetime.fromtimestamp(base + monotonic_s, UTC)


def with_tick(ticks: tuple[Tick, ...], tick: Tick) -> tuple[Tick, ...]:
    """`ticks` with `tick` added and those older than `WINDOW_S` (or past `MAX_TICKS`) gone."""
    fresh = tuple(
        kept for kept in ticks if tick.received_monotonic_s - kept.received_monotonic_s < WINDOW_S
    )
    return (*fresh, tick)[-MAX_TICKS:]


class CentralClock:
    """The ticks heard so far and the central's time they imply; safe across threads."""

    def __init__(self) -> None:
        self._ticks: tuple[Tick, ...] = ()
        self._lock = threading.Lock()

    def heard(self, at: datetime, monotonic_s: float) -> None:
        """A tick saying `at` arrived at `monotonic_s`."""
        with self._lock:
            self._ticks = with_tick(self._ticks, Tick(at.timestamp(), monotonic_s))

    def now(self, monotonic_s: float) -> datetime | None:
        """The central's time at `monotonic_s`; None before the first tick."""
        return central_time(self._ticks, monotonic_s)

    def offset_s(self, wall: datetime, monotonic_s: float) -> float | None:
        """The gateway's clock minus the central's, read at the same moment; None before
        the first tick."""
        central = self.now(monotonic_s)
        return None if central is None else round((wall - central).total_seconds(), 3)
