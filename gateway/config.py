"""The gateway's configuration: its station, broker, board profile, door timings, codes."""

from __future__ import annotations

from pathlib import Path

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
