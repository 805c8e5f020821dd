"""The gateway's configuration: its station, broker, board profile, door timings, codes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from contract.payloads import SLUG_PATTERN
from gateway.door_controller import DoorTiming
from hardware.profile import BoardProfile, ProfileError, load_profile, load_shipped_profile
from yizhan.settings import BrokerSettings, ConfigError, Section, load_settings


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
    """The durable outbox: where events wait for the broker, and how it is drained."""

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
    allowlist: dict[str, str] = Field(
        default_factory=dict,
        description="QR code text → pseudonymous worker id (until signed credentials).",
    )

    @model_validator(mode="after")
    def _door_ids_are_slugs(self) -> GatewaySettings:
        for door_id in self.doors:
            if not door_id or door_id != door_id.lower() or "/" in door_id:
                raise ValueError(f"door id {door_id!r} must be a lower-case slug")
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
