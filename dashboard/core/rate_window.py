"""How many times a key (an address, a device) may do something within a sliding window.

Pure and in memory, with the clock passed in. Keys are forgotten oldest-first past
`max_keys`, so a run of made-up keys cannot grow the central's memory without end; each
replica counts its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque


class RateWindow:
    """At most `limit` uses per key within `window_s` seconds."""

    def __init__(self, limit: int, window_s: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._uses: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now: float) -> float:
        """Count a use of `key` and return 0; or, when its window is full, count nothing
        and return how many seconds until a use is allowed again."""
        with self._lock:
            uses = self._uses.pop(key, None) or deque()
            while uses and uses[0] <= now - self.window_s:
                uses.popleft()
            wait = 0.0
            if len(uses) >= self.limit:
                wait = max(uses[0] + self.window_s - now, 0.001)
            else:
                uses.append(now)
            self._uses[key] = uses
            while len(self._uses) > self.max_keys:
                self._uses.popitem(last=False)
            return wait
