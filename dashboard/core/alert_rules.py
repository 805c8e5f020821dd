"""What alerts there are, where each is in its lifecycle, and the pure rules that say
when a condition is an alert (a faulty device in a gateway's health report)."""

from __future__ import annotations

from dataclasses import dataclass
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
