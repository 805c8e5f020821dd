"""Station-state rules of an access decision, shared by the gateway and the central.

A gateway decides every presentation at its door (`gateway.access_rules.decide`); the
central decides a phone open before it asks the door's gateway to release the door. Both
apply the same station-state rules in the same order, from this module, so a phone never
gets a different answer than a scanned code would: lockdown, then closed (opening hours
in the station's zone), then full, then passback. Pure: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Final

from contract.payloads import Reason

ALL_DAYS: Final = frozenset(range(7))


@dataclass(frozen=True, slots=True)
class OpeningInterval:
    """Open from `opens` to `closes` (local wall time) on `days` (0 = Monday).

    When `closes` is not after `opens` the interval wraps past midnight into the next
    day, and `days` names the day it starts: Friday 22:00-06:00 covers Saturday 03:00.
    `opens == closes` is therefore a full 24 hours.
    """

    opens: time
    closes: time
    days: frozenset[int] = ALL_DAYS

    def covers(self, clock: time, weekday: int) -> bool:
        """Whether local time `clock` on `weekday` falls inside this interval."""
        if self.opens < self.closes:
            return weekday in self.days and self.opens <= clock < self.closes
        return (weekday in self.days and clock >= self.opens) or (
            (weekday - 1) % 7 in self.days and clock < self.closes
        )


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """A station's opening hours; open when any interval covers the local time."""

    intervals: tuple[OpeningInterval, ...]

    @classmethod
    def daily(cls, opens: time, closes: time) -> OpeningHours:
        """The same hours every day (wrapping past midnight if `closes <= opens`)."""
        return cls((OpeningInterval(opens, closes),))

    @property
    def always_open(self) -> bool:
        """A 24-hour station: some interval spans every day completely."""
        return any(i.opens == i.closes and i.days == ALL_DAYS for i in self.intervals)

    def is_open(self, local: datetime) -> bool:
        """Whether the station is open at `local`, a time in the station's zone."""
        clock, weekday = local.time(), local.weekday()
        return any(interval.covers(clock, weekday) for interval in self.intervals)


ALWAYS_OPEN: Final = OpeningHours.daily(time(0), time(0))
"""A 24-hour station."""


def station_refusal(
    *,
    lockdown: bool,
    hours: OpeningHours,
    local_now: datetime,
    capacity: int | None,
    occupancy: int,
    inside: bool,
) -> Reason | None:
    """Why the station refuses an entry now, first match wins (lockdown → closed → full →
    passback), or None when it admits one. `local_now` is in the station's zone; `inside`
    says whether anti-passback holds the worker as inside already."""
    if lockdown:
        return Reason.LOCKDOWN
    if not hours.always_open and not hours.is_open(local_now):
        return Reason.CLOSED
    if capacity is not None and occupancy >= capacity:
        return Reason.FULL
    if inside:
        return Reason.PASSBACK
    return None
