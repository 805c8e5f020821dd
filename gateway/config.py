"""The gateway's configuration: its station, broker, board profile, door timings, policy."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import Field, field_validator, model_validator

from contract.payloads import MAX_COMMAND_TTL_S, SLUG_PATTERN
from contract.signing import load_public_key
from contract.station_rules import ALWAYS_OPEN, OpeningHours, OpeningInterval
from contract.tokens import MAX_STATION_NUMBER, StationLocation
from gateway.access_rules import (
    StationPolicy,
    ThrottlePolicy,
)
from gateway.commands import DEFAULT_MAX_TTL_S
from gateway.door_controller import DoorTiming
from hardware.profile import BoardProfile, ProfileError, load_profile, load_shipped_profile
from servicekit.settings import BrokerSettings, ConfigError, Section, TimeZoneName, load_settings


class DoorSettings(Section):
    """Timings of one door, in seconds; defaults follow commercial controllers."""

    unlock_s: float = Field(default=5.0, gt=0, le=60)
    held_open_s: float = Field(default=30.0, gt=0, le=3600)
    forced_debounce_s: float = Field(default=1.0, ge=0, le=10)

    def timing(self) -> DoorTiming:
        """As the door controller takes it."""
        return DoorTiming(
            unlock_s=self.unlock_s,
            held_open_s=self.held_open_s,
            forced_debounce_s=self.forced_debounce_s,
        )


class OutboxSettings(Section):
    """The durable outbox: where events wait until the central has stored them, and how
    it is drained."""

    path: Path | None = Field(
        default=None,
        description="SQLite file; without one, events wait in memory and a restart loses them.",
    )
    max_mb: float = Field(default=64.0, gt=0, description="Disk ceiling of waiting events.")
    batch_window_s: float = Field(
        default=0.05, ge=0, le=5, description="How long appends gather before one commit."
    )
    synchronous: Literal["full", "normal"] = Field(
        default="full", description="full survives power cuts; normal only process crashes."
    )
    replay_rate: float = Field(
        default=200.0, gt=0, description="Most events per second handed to the broker."
    )
    window: int = Field(default=100, ge=1, le=1000, description="Most unacknowledged events.")
    ack_timeout_s: float = Field(
        default=60.0, gt=0, description="Publish again what the broker has not acked by then."
    )
    confirm_wait_s: float = Field(
        default=30.0,
        gt=0,
        description="Publish again what the central has not confirmed storing once its mark "
        "has not moved for this long; the wait doubles after each pass that brings no progress.",
    )
    confirm_wait_max_s: float = Field(
        default=600.0, gt=0, description="The longest wait between two such passes."
    )


_INTERVAL = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")

ALL_DAY: Final = "24h"


def parse_hours(hours: str | list[str]) -> OpeningHours:
    """`"24h"`, or a list of daily `"HH:MM-HH:MM"` intervals in the station's local time.

    An interval whose end is not after its start runs past midnight: `"22:00-06:00"` is
    open from 22:00 to 06:00 the next morning. `"24:00"` may end an interval. Raises
    `ValueError` naming the bad entry.
    """
    if hours == ALL_DAY:
        return ALWAYS_OPEN
    if isinstance(hours, str):
        raise ValueError(f'hours must be "{ALL_DAY}" or a list like ["06:00-23:00"]')
    if not hours:
        raise ValueError(f'hours is empty; write "{ALL_DAY}" for a station that never closes')
    intervals = []
    for entry in hours:
        match = _INTERVAL.match(entry.strip())
        if match is None:
            raise ValueError(f'{entry!r} is not "HH:MM-HH:MM" (for example "06:00-23:00")')
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if h2 == 24 and m2 != 0:
            raise ValueError(f"{entry!r}: 24:00 is the latest end")
        opens, closes = time(h1, m1), time(0) if h2 == 24 else time(h2, m2)
        intervals.append(OpeningInterval(opens, closes))
    return OpeningHours(tuple(intervals))


class ThrottleSettings(Section):
    """How many refusals that point at a bad credential slow a door or a credential down."""

    enabled: bool = True
    window_s: float = Field(default=60.0, gt=0, le=3600)
    per_credential: int = Field(default=5, ge=1, le=1000)
    per_door: int = Field(default=20, ge=1, le=100_000)


class PolicySettings(Section):
    """What the station admits; see `gateway.access_rules.StationPolicy`."""

    station_number: int | None = Field(default=None, ge=1, le=MAX_STATION_NUMBER)
    """Must equal the central's `stations[].number` for this station."""
    region_code: int | None = Field(default=None, ge=100000, le=999999)
    """Must equal the central's `stations[].region_code` (GB/T 2260 district code)."""
    capacity: int | None = Field(default=None, ge=0)
    hours: str | list[str] = ALL_DAY
    time_zone: TimeZoneName = "Asia/Shanghai"
    allowed_groups: list[int] | None = None
    anti_passback: bool = False
    passback_reset_s: float = Field(default=6 * 3600, gt=0)
    throttle: ThrottleSettings = ThrottleSettings()

    @field_validator("hours")
    @classmethod
    def _check_hours(cls, value: str | list[str]) -> str | list[str]:
        parse_hours(value)
        return value

    @field_validator("allowed_groups")
    @classmethod
    def _group_numbers(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and not all(0 <= group <= 255 for group in value):
            raise ValueError("group numbers are 0-255, as the central numbers them")
        return value

    @model_validator(mode="after")
    def _both_or_neither(self) -> PolicySettings:
        if (self.station_number is None) != (self.region_code is None):
            raise ValueError(
                "set both station_number and region_code (as the central has them), "
                "or neither: then only tokens valid at any station are admitted"
            )
        return self

    def location(self) -> StationLocation | None:
        """Where the station stands, as token scopes name it."""
        if self.station_number is None or self.region_code is None:
            return None
        return StationLocation(self.station_number, self.region_code)

    def policy(self) -> StationPolicy:
        """As `gateway.access_rules.decide` takes it."""
        throttle = self.throttle
        return StationPolicy(
            location=self.location(),
            capacity=self.capacity,
            hours=parse_hours(self.hours),
            zone=ZoneInfo(self.time_zone),
            allowed_groups=None if self.allowed_groups is None else frozenset(self.allowed_groups),
            anti_passback=self.anti_passback,
            passback_reset_s=self.passback_reset_s,
            throttle=ThrottlePolicy(
                window_s=throttle.window_s,
                per_credential=throttle.per_credential,
                per_door=throttle.per_door,
                enabled=throttle.enabled,
            ),
        )


class MaintenanceSettings(Section):
    """Who may sign door-opening commands, how long a command may wait, how often health
    is reported."""

    operators: dict[str, str] = Field(
        default_factory=dict,
        description="Operator name → Ed25519 public key (base64) that signs door-opening "
        "commands and desired config; made by `yizhan operator-key new`.",
    )
    health_interval_s: float = Field(default=30.0, ge=1, le=3600)
    max_command_ttl_s: float = Field(
        default=DEFAULT_MAX_TTL_S,
        gt=0,
        le=MAX_COMMAND_TTL_S,
        description="A command's ttl_s is capped at this: an unlock that waited in a broker "
        "longer is refused as expired.",
    )

    @field_validator("operators")
    @classmethod
    def _keys_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for name, key in value.items():
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
                raise ValueError(f"operator name {name!r}: letters, digits, . _ - only")
            try:
                load_public_key(key)
            except ValueError as exc:
                raise ValueError(f"operator {name!r}: {exc}") from None
        return value

    def operator_keys(self) -> dict[str, Ed25519PublicKey]:
        """Name → public key, as `contract.signing.verify` takes them."""
        return {name: load_public_key(key) for name, key in self.operators.items()}


class HomeAssistantSettings(Section):
    """Home Assistant MQTT discovery: doors, occupancy and sensors as entities."""

    enabled: bool = False
    discovery_prefix: str = Field(default="homeassistant", pattern=r"^[A-Za-z0-9_-]{1,64}$")


class FaceTerminalSettings(Section):
    """A face terminal on the station LAN that verifies faces and hands the gateway the
    person it matched (see docs/face-terminals.md); the gateway decides and drives the
    door's relay.

    `zkteco_push`: the terminal polls the gateway's iclock server at `listen`:`port`
    and is known by its serial number. `hikvision_isapi`: the gateway holds the
    terminal's alert stream open at `url`, with HTTP digest credentials.
    """

    id: str = Field(pattern=SLUG_PATTERN, description="Names the terminal in health reports.")
    kind: Literal["zkteco_push", "hikvision_isapi"]
    door: str = Field(description="The door (as in the board profile) it stands at.")
    direction: Literal["in", "out"] = "in"
    serial_number: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9]{1,32}$", description="zkteco_push: its SN."
    )
    listen: str = Field(default="0.0.0.0", description="zkteco_push: address to serve on.")
    port: int = Field(default=8088, ge=1, le=65535, description="zkteco_push: port to serve.")
    poll_delay_s: int = Field(
        default=5, ge=1, le=60, description="zkteco_push: how often the terminal polls."
    )
    url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s]+$",
        description="hikvision_isapi: the terminal's base URL, e.g. http://192.168.1.64.",
    )
    username: str | None = None
    password: str | None = None
    down_after_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="No poll (zkteco) or no byte on the stream (hikvision) for this long: "
        "the terminal is reported faulty and, for hikvision, the stream is opened again.",
    )
    max_record_age_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="A verification older than this (a backlog after an outage) opens no door.",
    )

    @model_validator(mode="after")
    def _kind_fields(self) -> FaceTerminalSettings:
        if self.kind == "zkteco_push" and self.serial_number is None:
            raise ValueError(f"face terminal {self.id}: zkteco_push needs serial_number")
        if self.kind == "hikvision_isapi" and (
            self.url is None or self.username is None or self.password is None
        ):
            raise ValueError(
                f"face terminal {self.id}: hikvision_isapi needs url, username and password"
            )
        return self


DEFAULT_STATE_DIR: Final = Path("/var/lib/yizhan")


class GatewaySettings(Section):
    """Everything a gateway needs to start."""

    station_id: str = Field(pattern=SLUG_PATTERN)
    gateway_id: str = Field(pattern=SLUG_PATTERN)
    broker: BrokerSettings = BrokerSettings()
    profile: str = Field(
        default="raspberry-pi-4",
        description="A shipped board profile's name, or the path of a profile TOML file.",
    )
    doors: dict[str, DoorSettings] = Field(
        default_factory=dict, description="Door id (as in the profile) → its timings."
    )
    outbox: OutboxSettings = OutboxSettings()
    policy: PolicySettings = PolicySettings()
    maintenance: MaintenanceSettings = MaintenanceSettings()
    home_assistant: HomeAssistantSettings = HomeAssistantSettings()
    face_terminals: list[FaceTerminalSettings] = Field(
        default_factory=list, description="Face terminals on the network ([[face_terminals]])."
    )
    state_dir: Path = Field(
        default=DEFAULT_STATE_DIR,
        description="Where the gateway keeps the central's keys, revocations and map.",
    )

    @model_validator(mode="after")
    def _door_ids_are_slugs(self) -> GatewaySettings:
        for door_id in self.doors:
            if not door_id or door_id != door_id.lower() or "/" in door_id:
                raise ValueError(f"door id {door_id!r} must be a lower-case slug")
        ids = [terminal.id for terminal in self.face_terminals]
        if len(set(ids)) != len(ids):
            raise ValueError("face_terminals: two terminals have the same id")
        serials = [t.serial_number for t in self.face_terminals if t.serial_number]
        if len(set(serials)) != len(serials):
            raise ValueError("face_terminals: two terminals have the same serial_number")
        return self

    def timings(self) -> dict[str, DoorTiming]:
        """Door id → timing, for every door with settings."""
        return {door_id: door.timing() for door_id, door in self.doors.items()}


def load_gateway_settings(path: Path | None) -> GatewaySettings:
    """Load and validate the gateway's configuration; raises `ConfigError` with the key."""
    return load_settings(GatewaySettings, path)


def load_board(settings: GatewaySettings, config_dir: Path | None = None) -> BoardProfile:
    """The board profile the settings name, checked against the settings' door ids."""
    candidate = Path(settings.profile)
    if config_dir is not None and not candidate.is_absolute():
        candidate = config_dir / candidate
    try:
        if candidate.suffix == ".toml" or candidate.exists():
            board = load_profile(candidate)
        else:
            board = load_shipped_profile(settings.profile)
    except ProfileError as exc:
        raise ConfigError(f"board profile: {exc}") from exc
    check_doors(settings, board)
    return board


def check_doors(settings: GatewaySettings, board: BoardProfile) -> None:
    """Every door with settings must exist on the board; raises `ConfigError` if not."""
    known = [door.id for door in board.doors]
    for door_id in settings.doors:
        if door_id not in known:
            raise ConfigError(
                f"doors.{door_id}: the board profile has no door {door_id!r}; "
                f"its doors are {', '.join(known)}"
            )
    for terminal in settings.face_terminals:
        if terminal.door not in known:
            raise ConfigError(
                f"face_terminals.{terminal.id}: the board profile has no door "
                f"{terminal.door!r}; its doors are {', '.join(known)}"
            )
