"""Each gateway's events applied in its own order, as pure rules.

Counts stop at zero and alarms open and close, so what a gateway's events do depends on
their order: an exit counted before the entry it follows, or an alarm's end before its
start, leaves a different station behind. One central receives a gateway's events in
the order they were published. Replicas sharing the gateways' messages (MQTT shared
subscriptions, round robin) do not: event 7 may be stored by one replica a moment
before event 6 by another.

So, where replicas share, an event is applied (to counts and alarms) only once every
earlier number of its gateway has been: the gateway's applied mark (`through`) moves over
each number as it arrives, and an event above a hole waits until the hole fills. A hole
that does not fill within `hold_s` (an event lost for good, or the numbers before the
first one a new database sees) is given up: what waits is applied in order, and an
event that fills the hole later is applied on arrival, as every late event is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Release:
    """What one gateway's arrived events do to its applied mark."""

    through: int
    """The applied mark after them: every number up to it is applied or given up."""
    ready: list[int]
    """Numbers to apply now, in this order: late ones (at or below the old mark) first."""
    waiting: list[int]
    """Numbers that wait for a hole below them."""


def release(
    through: int, arrived: Iterable[int], waiting_since: float | None, now: float, hold_s: float
) -> Release:
    """The applied mark `through` meets the numbers `arrived` (new ones and those already
    waiting, which have waited since `waiting_since`)."""
    numbers = sorted(set(arrived))
    late = [n for n in numbers if n <= through]
    ahead = [n for n in numbers if n > through]
    if ahead and waiting_since is not None and now - waiting_since >= hold_s:
        return Release(ahead[-1], late + ahead, [])
    run = 0
    while run < len(ahead) and ahead[run] == through + run + 1:
        run += 1
    return Release(through + run, late + ahead[:run], ahead[run:])
