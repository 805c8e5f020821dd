"""Reconnection delays that grow exponentially and are spread at random.

A broker restart disconnects every gateway of a city at the same instant. With fixed
delays they would all come back at the same instant too, again and again (a thundering
herd); "full jitter" draws each delay uniformly between the minimum and an exponentially
growing cap, so the fleet's reconnects spread over the whole window.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class Backoff:
    """Delays for successive reconnection attempts; `reset()` once a connection has held.

    The n-th delay (n from 0) is uniform in [min_s, min(max_s, min_s * 2**n)]; the cap
    stops growing at `max_s`.
    """

    def __init__(
        self,
        min_s: float,
        max_s: float,
        rng: random.Random | None = None,
        stable_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < min_s <= max_s:
            raise ValueError("need 0 < min_s <= max_s")
        self.min_s = min_s
        self.max_s = max_s
        self.stable_s = stable_s
        self._rng = rng or random.Random()
        self._clock = clock
        self._attempt = 0
        self._connected_at: float | None = None

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one failed attempt."""
        cap = min(self.max_s, self.min_s * 2 ** min(self._attempt, 32))
        self._attempt += 1
        return self._rng.uniform(self.min_s, cap)

    def connected(self) -> None:
        """The broker accepted us; the count restarts only if this connection holds."""
        self._connected_at = self._clock()

    def disconnected(self) -> None:
        """The link dropped: a connection that held `stable_s` restarts the growth.

        A broker that accepts and then drops us at once (a flapping link, a duplicate
        client id) keeps the delays long instead of hammering it every `min_s`.
        """
        if self._connected_at is not None and self._clock() - self._connected_at >= self.stable_s:
            self.reset()
        self._connected_at = None

    def reset(self) -> None:
        """Start again from the shortest delay."""
        self._attempt = 0
