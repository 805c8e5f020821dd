"""Counters of what ingest accepted, ignored and refused, safe to bump from any thread."""

from __future__ import annotations

import threading
from collections import Counter


class IngestMetrics:
    """Running totals since start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted = 0
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()

    def count_accepted(self, stored: int, duplicates: int) -> None:
        """Record a committed batch."""
        with self._lock:
            self.accepted += stored
            self.duplicates += duplicates

    def count_rejected(self, code: str) -> None:
        """Record one refused message by its rejection code."""
        with self._lock:
            self.rejected[code] += 1

    def snapshot(self) -> dict[str, object]:
        """A consistent copy for the API."""
        with self._lock:
            return {
                "accepted": self.accepted,
                "duplicates": self.duplicates,
                "rejected": dict(self.rejected),
                "rejected_total": sum(self.rejected.values()),
            }
