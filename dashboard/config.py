"""The central service's configuration: broker, HTTP listener, database, known stations."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from contract.payloads import SLUG_PATTERN
from yizhan.settings import BrokerSettings, Section, load_settings


class HttpSettings(Section):
    """Where the API and the operator pages are served."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)


class DatabaseSettings(Section):
    """Where events are kept."""

    path: Path = Path("yizhan.db")


class StationSettings(Section):
    """A station known to the central before any of its gateways speaks."""

    id: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    capacity: int | None = Field(default=None, ge=0)


class AlertSettings(Section):
    """When the central raises alerts."""

    gap_after_s: float = Field(
        default=300.0,
        gt=0,
        description="How long a gap in a gateway's sequence numbers may stay open.",
    )


class CentralSettings(Section):
    """Everything the central service needs to start."""

    central_id: str = Field(
        default="central-1",
        pattern=SLUG_PATTERN,
        description="This replica's id: its availability topic and default MQTT client id. "
        "Each replica needs its own, since its broker session keeps what it has not stored.",
    )
    broker: BrokerSettings = BrokerSettings()
    alerts: AlertSettings = AlertSettings()
    http: HttpSettings = HttpSettings()
    database: DatabaseSettings = DatabaseSettings()
    stations: list[StationSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_station_ids(self) -> CentralSettings:
        seen: set[str] = set()
        for station in self.stations:
            if station.id in seen:
                raise ValueError(f"station id {station.id!r} appears twice in [[stations]]")
            seen.add(station.id)
        return self


def load_central_settings(path: Path | None) -> CentralSettings:
    """Load and validate the central's configuration; raises `ConfigError` with the key."""
    return load_settings(CentralSettings, path)
