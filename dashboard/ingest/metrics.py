"""Counters of what ingest accepted, ignored and quarantined, safe to bump from any thread."""

from __future__ import annotations

import threading
from collections import Counter


class IngestMetrics:
    """Running totals since start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted = 0
        self.duplicates = 0
        self.quarantined: Counter[str] = Counter()
        self.write_failures = 0

    def count_accepted(self, stored: int, duplicates: int) -> None:
        """Record a committed batch."""
        with self._lock:
            self.accepted += stored
            self.duplicates += duplicates

    def count_quarantined(self, code: str) -> None:
        """Record one quarantined message by its rejection code."""
        with self._lock:
            self.quarantined[code] += 1

    def count_write_failure(self) -> None:
        """Record a batch that could not be committed (it is retried, not acknowledged)."""
        with self._lock:
            self.write_failures += 1

    def snapshot(self) -> dict[str, object]:
        """A consistent copy for the API."""
        with self._lock:
            return {
                "accepted": self.accepted,
                "duplicates": self.duplicates,
                "quarantined": dict(self.quarantined),
                "quarantined_total": sum(self.quarantined.values()),
                "write_failures": self.write_failures,
            }
