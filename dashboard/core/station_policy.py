"""A station's policy as its gateways should run it, and what they say they run.

An operator edits the policy (capacity, opening hours, the doors' unlock and held-open
times) once per station; each of its gateways receives it as signed desired config (flat
keys as in the gateway's TOML file, `desired_settings`) and answers with its reported
config. `config_state` compares the two, so a gateway that has not applied the policy
yet, refused some of it, or was changed on the spot by a maintainer is shown, never
silent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from dashboard.core.stations import HOURS_PATTERN

ALL_DAY = "24h"
"""The gateway's word for "open 24 hours" (`policy.hours`; `gateway.config.ALL_DAY`,
which the central may not import: a test holds the two equal)."""


class PolicyInput(BaseModel):
    """What an admin sets for a station; a field left out is not sent to its gateways.
    Numbers are read as JSON types them: `false` and `"12"` are not numbers, and `12.0`
    is the whole number 12 (JSON Schema's `integer` allows it)."""

    model_config = ConfigDict(extra="forbid")

    capacity: int | None = Field(
        default=None, ge=0, le=100_000, description="People at once; also the map's capacity."
    )
    opening_hours: str | None = Field(
        default=None,
        pattern=HOURS_PATTERN,
        description="Daily window HH:MM-HH:MM in the station's time zone; absent: 24 hours.",
    )
    unlock_s: float | None = Field(
        default=None, gt=0, le=60, description="Every door's unlock time."
    )
    held_open_s: float | None = Field(
        default=None, gt=0, le=3600, description="Every door's held-open alarm time."
    )

    @field_validator("capacity", "unlock_s", "held_open_s", mode="before")
    @classmethod
    def _json_number(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, not {value!r}")
        if info.field_name == "capacity":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"must be a whole number of people, not {value!r}")
            return int(value)
        return value


def desired_settings(policy: PolicyInput, door_ids: list[str]) -> dict[str, Any]:
    """The policy as a gateway's live keys (`gateway.live_config`)."""
    settings: dict[str, Any] = {
        "policy.capacity": policy.capacity,
        "policy.hours": ALL_DAY if policy.opening_hours is None else [policy.opening_hours],
    }
    for door in door_ids:
        if policy.unlock_s is not None:
            settings[f"doors.{door}.unlock_s"] = policy.unlock_s
        if policy.held_open_s is not None:
            settings[f"doors.{door}.held_open_s"] = policy.held_open_s
    return settings


class ConfigStatus(StrEnum):
    """Where a gateway stands with its station's policy."""

    APPLIED = "applied"
    PENDING = "pending"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class ReportedConfig:
    """A gateway's last `config_report/1`."""

    gateway_id: str
    version: int | None
    applied: dict[str, Any]
    refused: dict[str, str]
    at: str


@dataclass(frozen=True, slots=True)
class GatewayConfigState:
    """One gateway against its station's policy."""

    gateway_id: str
    status: ConfigStatus
    since: str | None
    """Pending: when the policy was set. Applied or refused: the gateway's report."""
    refused: dict[str, str] = field(default_factory=dict)
    """Key → the gateway's reason."""
    drift: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Key → `{"registry": ..., "gateway": ...}` where the gateway runs something else
    than the policy it applied (a maintainer's local `set_config`, say)."""


def config_state(
    gateway_id: str,
    version: int,
    settings: dict[str, Any],
    set_at: str,
    report: ReportedConfig | None,
) -> GatewayConfigState:
    """How a gateway stands with policy `version` (`settings`, set at `set_at`)."""
    if report is None or report.version is None or report.version < version:
        if (
            report is not None
            and report.refused
            and set(report.refused) <= set(settings)
            and report.at >= set_at
        ):
            # The gateway answered this policy by refusing all of it (say, a signature
            # by a key it does not trust), keeping the version it had.
            return GatewayConfigState(
                gateway_id, ConfigStatus.REFUSED, report.at, dict(report.refused)
            )
        return GatewayConfigState(gateway_id, ConfigStatus.PENDING, set_at)
    drift = {
        key: {"registry": wanted, "gateway": report.applied.get(key)}
        for key, wanted in settings.items()
        if key not in report.refused and not _same(report.applied.get(key), wanted)
    }
    status = ConfigStatus.REFUSED if report.refused else ConfigStatus.APPLIED
    return GatewayConfigState(gateway_id, status, report.at, dict(report.refused), drift)


def _same(reported: Any, wanted: Any) -> bool:
    if isinstance(reported, int | float) and isinstance(wanted, int | float):
        return float(reported) == float(wanted) and not isinstance(reported, bool)
    return bool(reported == wanted)
