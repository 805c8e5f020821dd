"""Stamping gateway events with identity, sequence number and the gateway's clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from contract.payloads import EventPayload, utc_now
from gateway.wire_events import WireEvent


class EventStamper:
    """Builds event payloads for one gateway, numbering them 1, 2, 3, … without gaps."""

    def __init__(
        self,
        station_id: str,
        gateway_id: str,
        clock: Callable[[], datetime] = utc_now,
        first_seq: int = 1,
    ) -> None:
        self.station_id = station_id
        self.gateway_id = gateway_id
        self._clock = clock
        self._next_seq = first_seq
        self._lock = threading.Lock()

    @property
    def last_seq(self) -> int:
        """The highest sequence number given out so far (0 before the first)."""
        with self._lock:
            return self._next_seq - 1

    def stamp(self, wire: WireEvent) -> EventPayload:
        """The payload of `wire` with the next sequence number and the current time."""
        with self._lock:
            seq = self._next_seq
            self._next_seq += 1
        return wire.model(
            station_id=self.station_id,
            gateway_id=self.gateway_id,
            seq=seq,
            at=self._clock(),
            **wire.fields,
        )
