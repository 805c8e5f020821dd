"""The gateway's configuration: which station it serves, its broker, readers, lock and codes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from contract.payloads import SLUG_PATTERN, Direction
from yizhan.settings import BrokerSettings, Section, load_settings


class ReaderSettings(Section):
    """A QR scanner on a serial port, serving one door in one direction."""

    port: str = Field(min_length=1, description="Device path or pyserial URL.")
    baudrate: int = Field(default=9600, gt=0)
    door: str = Field(default="main", pattern=SLUG_PATTERN)
    direction: Direction = Direction.IN


class LockSettings(Section):
    """The lock relay of one door."""

    door: str = Field(default="main", pattern=SLUG_PATTERN)
    pin: int = Field(ge=2, le=27, description="BCM GPIO number of the relay input.")
    active_high: bool = True
    unlock_s: float = Field(default=5.0, gt=0, le=60)


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
    readers: list[ReaderSettings] = Field(default_factory=list)
    locks: list[LockSettings] = Field(default_factory=list)
    outbox: OutboxSettings = OutboxSettings()
    allowlist: dict[str, str] = Field(
        default_factory=dict,
        description="QR code text → pseudonymous worker id (until signed credentials).",
    )

    @model_validator(mode="after")
    def _every_reader_has_a_lock(self) -> GatewaySettings:
        doors_with_locks = {lock.door for lock in self.locks}
        if len(doors_with_locks) != len(self.locks):
            raise ValueError("two [[locks]] entries name the same door")
        for reader in self.readers:
            if reader.door not in doors_with_locks:
                raise ValueError(
                    f"reader on {reader.port} serves door {reader.door!r}, "
                    f"which has no [[locks]] entry"
                )
        return self


def load_gateway_settings(path: Path | None) -> GatewaySettings:
    """Load and validate the gateway's configuration; raises `ConfigError` with the key."""
    return load_settings(GatewaySettings, path)
