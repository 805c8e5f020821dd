"""Settings a maintainer or the central may change while the gateway runs.

Capacity, opening hours, each door's unlock and held-open times, and the health
interval. Each key is checked on its own (`check_setting` is pure): valid ones are
applied, the rest refused with a reason a person can act on. What was changed is kept in
the state directory, so a reboot comes back with it on top of the TOML file.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from typing import Any

from gateway.access_rules import StationPolicy
from gateway.config import ALL_DAY, DoorSettings, GatewaySettings, parse_hours
from gateway.door_controller import DoorTiming
from gateway.state_files import read_json, write_json

log = logging.getLogger(__name__)

FILE_NAME = "config.json"

_LIMITS = {
    "unlock_s": (0.0, 60.0),
    "held_open_s": (0.0, 3600.0),
}


def live_keys(door_ids: list[str]) -> list[str]:
    """Every key that can change live, for a gateway with these doors."""
    keys = ["policy.capacity", "policy.hours", "maintenance.health_interval_s"]
    for door in door_ids:
        keys += [f"doors.{door}.unlock_s", f"doors.{door}.held_open_s"]
    return keys


def _seconds(value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"must be a number of seconds, not {value!r}")
    if not low < value <= high:
        raise ValueError(f"must be above {low:g} and at most {high:g} seconds, not {value!r}")
    return float(value)


def check_setting(key: str, value: Any, door_ids: list[str]) -> Any:
    """The value to apply for `key`, or `ValueError` saying what is wrong."""
    if key == "policy.capacity":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"must be a whole number of people (0 or more) or null, not {value!r}")
        return value
    if key == "policy.hours":
        if not (
            value == ALL_DAY or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            raise ValueError(f'must be "{ALL_DAY}" or a list like ["06:00-23:00"], not {value!r}')
        parse_hours(value)
        return value
    if key == "maintenance.health_interval_s":
        return _seconds(value, 0.999, 3600.0)
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "doors" and parts[2] in _LIMITS:
        if parts[1] not in door_ids:
            raise ValueError(f"no door {parts[1]!r}; doors: {', '.join(door_ids) or 'none'}")
        return _seconds(value, *_LIMITS[parts[2]])
    raise ValueError(
        "not a setting that can change while running; these can: " + ", ".join(live_keys(door_ids))
    )


class LiveConfig:
    """The live settings in force, the desired version applied, and where they are kept."""

    def __init__(self, settings: GatewaySettings, door_ids: list[str]) -> None:
        self._settings = settings
        self._doors = list(door_ids)
        self._path = settings.state_dir / FILE_NAME
        self._lock = threading.Lock()
        self.version: int | None = None
        """The desired-config version last applied; None before the first."""
        self.refused: dict[str, str] = {}
        """Key → reason, from the last change."""
        self._overrides: dict[str, Any] = {}
        self._load()

    # -- reading --

    def values(self) -> dict[str, Any]:
        """Every live key and its value now (TOML file, then what was changed on top)."""
        base: dict[str, Any] = {
            "policy.capacity": self._settings.policy.capacity,
            "policy.hours": self._settings.policy.hours,
            "maintenance.health_interval_s": self._settings.maintenance.health_interval_s,
        }
        for door in self._doors:
            settings = self._settings.doors.get(door, DoorSettings())
            base[f"doors.{door}.unlock_s"] = settings.unlock_s
            base[f"doors.{door}.held_open_s"] = settings.held_open_s
        with self._lock:
            return {**base, **self._overrides}

    def policy(self) -> StationPolicy:
        """The station policy with the live capacity and hours."""
        values = self.values()
        policy = self._settings.policy.model_copy(
            update={"capacity": values["policy.capacity"], "hours": values["policy.hours"]}
        )
        return policy.policy()

    def timing(self, door: str) -> DoorTiming:
        """A door's timings with the live unlock and held-open times."""
        values = self.values()
        base = self._settings.doors.get(door, DoorSettings()).timing()
        return DoorTiming(
            unlock_s=values[f"doors.{door}.unlock_s"],
            held_open_s=values[f"doors.{door}.held_open_s"],
            forced_debounce_s=base.forced_debounce_s,
        )

    def health_interval_s(self) -> float:
        """Seconds between health reports."""
        return float(self.values()["maintenance.health_interval_s"])

    # -- changing --

    def apply(
        self, changes: Mapping[str, Any], version: int | None = None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Check each key; keep the valid ones (and `version`), persist, return both sides."""
        applied: dict[str, Any] = {}
        refused: dict[str, str] = {}
        for key, value in changes.items():
            try:
                applied[key] = check_setting(key, value, self._doors)
            except ValueError as exc:
                refused[key] = str(exc)
        with self._lock:
            self._overrides.update(applied)
            if version is not None:
                self.version = version
            self.refused = refused
            document = {"format": 1, "version": self.version, "values": dict(self._overrides)}
        self._save(document)
        return applied, refused

    def _save(self, document: dict[str, Any]) -> None:
        try:
            write_json(self._path, document)
        except OSError as exc:
            # The change is in force; only the next boot would miss it.
            log.error("cannot save live config to %s: %s", self._path, exc)

    def _load(self) -> None:
        document = read_json(self._path, "live config")
        if document is None:
            return
        try:
            values = document["values"]
            version = document.get("version")
        except (KeyError, TypeError, AttributeError) as exc:
            log.error("ignored %s: %s", self._path, exc)
            return
        for key, value in dict(values).items():
            try:
                self._overrides[key] = check_setting(key, value, self._doors)
            except ValueError as exc:
                log.warning("ignored saved setting %s: %s", key, exc)
        self.version = version if isinstance(version, int) else None
