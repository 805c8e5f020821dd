"""The pure rules of the central's own health: when its ingest counts as stalled, what
`/healthz` says while storage fails, what the alerts about it read, and for how long the
silence of a gateway can be judged at all when the central itself is behind.

Times are epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from contract.payloads import format_utc
from dashboard.core.alert_rules import AlertKind


@dataclass(frozen=True, slots=True)
class Outage:
    """A stretch of time during which ingest could not store what it received."""

    kind: AlertKind
    """`storage_unavailable` (writes fail) or `ingest_stalled` (writes hang)."""
    since: float
    reason: str
    until: float | None = None
    """When it ended; None while it lasts."""


@dataclass(frozen=True, slots=True)
class IngestState:
    """Where ingest stands: what it holds unacknowledged and what kept it from storing."""

    backlog: int = 0
    """Messages received and not yet acknowledged."""
    oldest_unstored_at: float | None = None
    """When the oldest of them arrived; None when everything received is stored."""
    outages: tuple[Outage, ...] = ()
    """Outages going on, and those ended that no alert records yet, oldest first."""
    recovered_at: float | None = None
    """When the last outage ended; None if there was none."""

    @property
    def ongoing(self) -> list[Outage]:
        """The outages that still last."""
        return [outage for outage in self.outages if outage.until is None]


def stall_reason(oldest_unstored_at: float, stall_after_s: float) -> str:
    """Why ingest counts as stalled (a message waits past `stall_after_s` without any
    write failing: a lock, a hung database, a writer that does not answer)."""
    return (
        f"a message received at {_clock(oldest_unstored_at)} is not stored after "
        f"more than {stall_after_s:g} s"
    )


def is_stalled(oldest_unstored_at: float | None, now: float, stall_after_s: float) -> bool:
    """True when a message has waited to be stored for longer than `stall_after_s`."""
    return oldest_unstored_at is not None and now - oldest_unstored_at > stall_after_s


def problems(state: IngestState) -> list[str]:
    """Why the central is degraded (what `/healthz` says), one line per ongoing outage;
    empty when ingest stores what it receives."""
    return [outage_detail(outage) for outage in state.ongoing]


def outage_detail(outage: Outage) -> str:
    """What an outage's alert and the health check say about it."""
    what = {
        AlertKind.STORAGE_UNAVAILABLE: "storage unavailable",
        AlertKind.INGEST_STALLED: "ingest stalled",
    }.get(outage.kind, outage.kind.value)
    span = f"since {_clock(outage.since)}"
    if outage.until is not None:
        span = f"from {_clock(outage.since)} to {_clock(outage.until)}"
    return f"{what} {span}: {outage.reason}"


def silence_cutoff(
    now: float, offline_after_s: float, listening_since: float | None, state: IngestState
) -> float | None:
    """A gateway last heard before the returned time has been silent for too long; None
    when nobody's silence can be judged now.

    The central only knows a gateway was silent over a time it was listening (connected
    to the broker since `listening_since`, None while it is not), storing (no outage
    since), and had stored everything it received (up to when its oldest unstored message
    arrived). Messages that sit in the central's own backlog, or in the broker while the
    central is away or cannot take them, are not a gateway's silence.
    """
    if listening_since is None or state.ongoing:
        return None
    since = max(listening_since, state.recovered_at or listening_since)
    heard_until = now if state.oldest_unstored_at is None else min(now, state.oldest_unstored_at)
    cutoff = heard_until - offline_after_s
    return cutoff if cutoff >= since else None


def _clock(epoch_s: float) -> str:
    return format_utc(datetime.fromtimestamp(epoch_s, UTC))
