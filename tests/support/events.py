"""Collecting what a gateway emits, and waiting for the event a test expects."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from contract.payloads import EventPayload

E = TypeVar("E", bound=EventPayload)


class Events:
    """Every event the gateway emits, with a way to wait for one that matches."""

    def __init__(self) -> None:
        self.seen: list[EventPayload] = []
        self._changed = threading.Condition()

    def __call__(self, event: EventPayload) -> None:
        with self._changed:
            self.seen.append(event)
            self._changed.notify_all()

    def of(self, kind: type[E]) -> list[E]:
        """Every event of one kind so far, in order."""
        return [e for e in self.seen if isinstance(e, kind)]

    def wait_for(
        self, kind: type[E], where: Callable[[E], bool] = lambda e: True, timeout: float = 5
    ) -> E:
        """The first event of `kind` that satisfies `where`, waiting for it if need be."""

        def found() -> list[E]:
            return [e for e in self.of(kind) if where(e)]

        with self._changed:
            assert self._changed.wait_for(found, timeout), (
                f"no matching {kind.__name__}; saw {[type(e).__name__ for e in self.seen]}"
            )
            return found()[0]
