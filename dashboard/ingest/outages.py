"""Outages of ingest, kept until an alert records them.

An outage of storage usually takes the alerts table with it, so its alert can only be
written once the database is back, maybe after the outage has ended. Ingest notes each
outage here as it begins and ends; the periodic checks write the alerts (open, and
resolve once ended) and then hand the ended ones back with `recorded`. Safe to use from
any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace

from dashboard.core.alert_rules import AlertKind
from dashboard.core.ingest_health import Outage

MAX_UNRECORDED = 100
"""Ended outages kept while none can be recorded (a flapping database); older ones go."""


class OutageLog:
    """The outages going on, and the ended ones no alert records yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outages: list[Outage] = []
        self._ended_at: float | None = None

    def begin(self, kind: AlertKind, reason: str, at: float) -> None:
        """An outage of `kind` is going on (a no-op if one already is)."""
        with self._lock:
            if self._ongoing(kind) is None:
                self._outages.append(Outage(kind, at, reason))
                self._trim()

    def end(self, kind: AlertKind, at: float) -> None:
        """The outage of `kind` going on, if any, is over."""
        with self._lock:
            ongoing = self._ongoing(kind)
            if ongoing is not None:
                self._outages[self._outages.index(ongoing)] = replace(ongoing, until=at)
                self._ended_at = at

    @property
    def ended_at(self) -> float | None:
        """When the last outage ended; None if none has."""
        with self._lock:
            return self._ended_at

    def ongoing(self, kind: AlertKind) -> Outage | None:
        """The outage of `kind` going on, if any."""
        with self._lock:
            return self._ongoing(kind)

    def unrecorded(self) -> tuple[Outage, ...]:
        """Outages going on and those ended that no alert records yet, oldest first."""
        with self._lock:
            return tuple(self._outages)

    def recorded(self, outages: Iterable[Outage]) -> None:
        """Alerts now record these: forget the ones among them that have ended."""
        done = {outage for outage in outages if outage.until is not None}
        with self._lock:
            self._outages = [outage for outage in self._outages if outage not in done]

    def _ongoing(self, kind: AlertKind) -> Outage | None:
        return next((o for o in self._outages if o.kind is kind and o.until is None), None)

    def _trim(self) -> None:
        ended = [outage for outage in self._outages if outage.until is not None]
        for outage in ended[: max(0, len(ended) - MAX_UNRECORDED)]:
            self._outages.remove(outage)
