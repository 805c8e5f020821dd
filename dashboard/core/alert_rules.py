"""What alerts there are, where each is in its lifecycle, and the pure rules that say
when a condition is an alert and what its detail reads: a faulty device in a gateway's
health report, a full station, a gateway offline or with a wrong clock, a silent sensor,
an alarm, a QR token granted at two stations. Sequence gaps have rules of their own
(`dashboard.core.sequence_gaps`), and so has the central's own ingest
(`dashboard.core.ingest_health`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from contract.maintenance_payloads import DeviceHealth


class AlertKind(StrEnum):
    """What an alert is about."""

    HELD_OPEN = "held_open"
    FORCED = "forced"
    TAMPER = "tamper"
    FIRE = "fire"
    GATEWAY_OFFLINE = "gateway_offline"
    STATION_FULL = "station_full"
    SENSOR_SILENT = "sensor_silent"
    SENSOR_FAULTY = "sensor_faulty"
    SEQ_GAP = "seq_gap"
    CLOCK_SKEW = "clock_skew"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    """The central's database takes no writes (down, unreachable, full, read-only)."""
    INGEST_STALLED = "ingest_stalled"
    """Received messages wait to be stored with no write failing (a lock, a hang)."""
    TOKEN_SHARED = "token_shared"
    """One QR token granted at two stations: a screenshot passed on."""
    WORKER_REPORT = "worker_report"
    """Workers reported a problem at a station (one alert per category while open)."""


class AlertStatus(StrEnum):
    """Where an alert is in its lifecycle."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


SYSTEM = "system"
"""Who resolved an alert whose condition cleared by itself."""


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert that was opened or changed state, for the live stream."""

    id: int
    kind: str
    status: str
    station_id: str | None
    gateway_id: str | None
    subject: str | None
    detail: str


def fault_of(name: str, device: DeviceHealth) -> str | None:
    """Why a device in a gateway's health report is faulty, or None when it is healthy.

    Faulty is what the gateway itself says: `ok: false`. It says so when a serial device's
    port is not open (unplugged, renamed, permissions), when a radar has sent no frame for
    5 s although its port is open, and when a door's controller has stopped. A presence
    sensor that states neither present nor absent (`present` other than true, false or
    null) is faulty too: no firmware the gateway drives reports that.
    """
    present = device.state.get("present", None)
    if present is not None and not isinstance(present, bool):
        return f"{device.kind} {name} reports an impossible presence {present!r}"
    if device.ok:
        return None
    why = device.detail or "not working"
    if device.last_frame_age_s is not None:
        why += f", last frame {device.last_frame_age_s:g} s ago"
    return f"{device.kind} {name} faulty: {why}"


FULL_CLEARS_BELOW = 0.9
"""A `station_full` alert, once open, clears only when the count falls below this share
of the capacity: a station hovering at its limit (one out, one in) would otherwise open
and resolve an alert with every person."""

FLAP_WINDOW_S = 300.0
"""A condition that opens again within this many seconds of clearing by itself joins its
previous alert (reopened, its `repeats` counted up) instead of opening a new one."""


def station_full(
    station_id: str, total: int, capacity: int | None, already_open: bool = False
) -> str | None:
    """Why a station is full (the alert's detail), or None while it has room or no limit.

    Full from the count that reaches the capacity; an alert `already_open` holds on
    until the count falls below `FULL_CLEARS_BELOW` of the capacity (hysteresis)."""
    if capacity is None:
        return None
    if total >= capacity:
        return f"station {station_id} is full: {total} of {capacity} places taken"
    if already_open and total >= FULL_CLEARS_BELOW * capacity:
        return (
            f"station {station_id} is nearly full: {total} of {capacity} places taken "
            f"(clears below {FULL_CLEARS_BELOW:.0%})"
        )
    return None


def joins_previous(
    resolved_at: datetime, resolved_by: str | None, now: datetime, window_s: float
) -> bool:
    """Whether a condition opening `now` joins the alert that was resolved at
    `resolved_at`: only one that cleared by itself (an operator's resolution is a
    decision, not noise), no longer than `window_s` ago."""
    return resolved_by == SYSTEM and timedelta(0) <= now - resolved_at <= timedelta(
        seconds=window_s
    )


def gateway_offline(station_id: str, gateway_id: str, by_will: bool, offline_after_s: float) -> str:
    """Why a gateway counts as offline: its last will, or silence longer than allowed."""
    why = (
        "its last will (connection lost)"
        if by_will
        else f"nothing heard for over {offline_after_s:g} s"
    )
    return f"gateway {station_id}/{gateway_id} is offline: {why}"


def clock_skew(station_id: str, gateway_id: str, offset_s: float, limit_s: float) -> str | None:
    """Why a gateway's clock is wrong (it is `offset_s` ahead of ours), or None within
    `limit_s`."""
    if abs(offset_s) <= limit_s:
        return None
    return (
        f"gateway {station_id}/{gateway_id} clock is {offset_s:+.1f} s off "
        f"(more than {limit_s:g} s)"
    )


def sensor_silent(station_id: str, sensor_id: str, silent_after_s: float) -> str:
    """The detail of a presence sensor that stopped reporting."""
    return f"presence sensor {sensor_id} at {station_id} silent for over {silent_after_s:g} s"


def alarm(station_id: str, alarm_kind: str, door_id: str | None) -> str:
    """The detail of an alarm a gateway raised at a door or at the station."""
    where = f"door {door_id}" if door_id else "the station"
    return f"{alarm_kind.replace('_', ' ')} at {where} of {station_id}"


def token_shared(
    worker_id: str,
    not_before: str,
    first: tuple[str, str],
    other: tuple[str, str],
) -> str:
    """The detail of a token granted at two stations: `first` and `other` are each a
    station and the gateway that granted it there."""
    return (
        f"worker {worker_id}'s QR token valid from {not_before} was granted at station "
        f"{first[0]} (gateway {first[1]}) and at station {other[0]} (gateway {other[1]}): "
        "a code passed on, most likely as a screenshot"
    )
