"""One lock per key, made on first use: callers with the same key take turns, callers with
different keys never wait for each other."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager


class KeyedLock:
    """Serialises work per key (a worker, a gateway) within one process.

    A key's lock lives only while somebody holds or waits for it, so a million keys seen
    once leave nothing behind.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: dict[Hashable, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        """Hold `key`'s lock for the body of a `with` block."""
        with self._guard:
            lock, users = self._held.get(key, (None, 0))
            if lock is None:
                lock = threading.Lock()
            self._held[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                _, users = self._held[key]
                if users == 1:
                    del self._held[key]
                else:
                    self._held[key] = (lock, users - 1)

    def __len__(self) -> int:
        """Keys held or waited for right now."""
        with self._guard:
            return len(self._held)
