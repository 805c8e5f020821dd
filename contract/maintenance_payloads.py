"""Payloads of a gateway's maintenance topics: desired and reported config, health.

Desired config is what the central or a maintainer wants (retained, signed by an
operator key because it can widen who gets in); the gateway answers with what it applied
and why it refused the rest (retained), and publishes its health every interval.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.payloads import Payload, Slug, UtcTime, Version, WireInt


class ConfigDesired(Payload):
    """Settings a gateway should run with, keyed as in the gateway's TOML file.

    `settings` is flat: `{"policy.capacity": 20, "doors.main.unlock_s": 4}`. Each key is
    checked on its own; valid ones are applied even when others are refused. A gateway
    applies a `version` only if it is newer than the last one it applied.
    """

    SCHEMA: ClassVar[str] = "config/1"
    schema_: Literal["config/1"] = Field(default="config/1", alias="schema")
    station_id: Slug
    gateway_id: Slug
    version: Version = Field(description="Counts up; older or equal versions are ignored.")
    issued_at: UtcTime
    settings: dict[str, Any] = Field(max_length=100)
    sender: str | None = Field(default=None, max_length=64)
    signature: str | None = Field(default=None, max_length=128)


class ConfigReport(Payload):
    """What a gateway runs with now, and which desired keys it refused and why."""

    SCHEMA: ClassVar[str] = "config_report/1"
    schema_: Literal["config_report/1"] = Field(default="config_report/1", alias="schema")
    station_id: Slug
    gateway_id: Slug
    at: UtcTime
    version: Version | None = Field(
        default=None,
        description="The desired version last applied; none before the first.",
    )
    applied: dict[str, Any] = Field(description="Every live-settable key and its value now.")
    refused: dict[str, str] = Field(
        default_factory=dict, description="Key → why it was not applied, from the last change."
    )


class DeviceHealth(BaseModel):
    """Whether one device answers, and what it reports."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["scanner", "radar", "door", "beams", "pir", "wiegand", "face_terminal"]
    ok: bool
    detail: str = Field(default="", max_length=256)
    last_frame_age_s: float | None = None
    state: dict[str, Any] = Field(default_factory=dict)


class Health(Payload):
    """A gateway's periodic health report (every 30 s by default), retained."""

    SCHEMA: ClassVar[str] = "health/1"
    schema_: Literal["health/1"] = Field(default="health/1", alias="schema")
    station_id: Slug
    gateway_id: Slug
    at: UtcTime
    version: str = Field(max_length=64, description="The gateway software's version.")
    config_version: WireInt | None = None
    uptime_s: float = Field(ge=0)
    host_uptime_s: float | None = None
    cpu_temp_c: float | None = None
    load_1m: float | None = None
    memory_available_mb: float | None = None
    disk_free_mb: float | None = None
    outbox_depth: WireInt = Field(
        description="Events in the outbox: waiting for the broker, or for the central to "
        "say it stored them."
    )
    last_seq: WireInt | None = Field(
        default=None,
        description="The sequence number of the gateway's latest event (0 before the first), "
        "so the central sees a hole at the tail of the sequence without waiting for the next "
        "event. Added in revision 1.1 of health/1: a central older than that quarantines a "
        "report carrying it, so upgrade the central before its gateways.",
    )
    clock_offset_s: float | None = Field(
        default=None, description="Gateway clock minus the central's, when known."
    )
    broker_rtt_ms: float | None = Field(
        default=None, description="Publish-to-acknowledgement time of the last health report."
    )
    occupancy: WireInt = Field(description="The gateway's head count.")
    devices: dict[str, DeviceHealth] = Field(default_factory=dict)


MAINTENANCE_MODELS: tuple[type[Payload], ...] = (ConfigDesired, ConfigReport, Health)
