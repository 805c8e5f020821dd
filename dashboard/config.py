"""The central service's configuration: broker, HTTP listener, database, known stations."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from contract.payloads import SLUG_PATTERN
from yizhan.settings import BrokerSettings, Section, TimeZoneName, load_settings


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
    number: int | None = Field(default=None, ge=1, le=(1 << 22) - 1)
    """The station number tokens name it by (`contract.tokens.Scope.station`)."""
    region_code: int | None = Field(default=None, ge=100000, le=999999)
    """GB/T 2260 six-digit code of the district the station is in, for region scopes."""


class CredentialSettings(Section):
    """Signing keys, token lifetimes and pass links."""

    key_dir: Path | None = None
    """Where private signing keys are kept (0600 files); next to the database when unset."""
    rotation_lead_s: int = Field(default=3600, ge=0, le=30 * 86400)
    """After `keys rotate`, how long the old key still signs, so gateways that are offline
    for a while receive the new public key before they see tokens signed by it."""
    rotation_overlap_s: int = Field(default=900, ge=300, le=30 * 86400)
    """After the new key starts signing, how long the old key stays trusted: covers tokens
    already issued and pre-fetched by pass pages."""
    token_lifetime_s: int = Field(default=60, ge=30, le=255)
    prefetch: int = Field(default=10, ge=1, le=20)
    """How many tokens a pass page fetches ahead: this many rotation steps offline."""
    time_zone: TimeZoneName = "Asia/Shanghai"
    """Zone of dates without a time or offset in enrollment (CSV and API)."""
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    """Base URL of pass links as workers reach it; `http://host:port` when unset."""


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
    credentials: CredentialSettings = CredentialSettings()

    @model_validator(mode="after")
    def _unique_station_ids(self) -> CentralSettings:
        seen: set[str] = set()
        for station in self.stations:
            if station.id in seen:
                raise ValueError(f"station id {station.id!r} appears twice in [[stations]]")
            seen.add(station.id)
        numbers = [station.number for station in self.stations if station.number is not None]
        if len(numbers) != len(set(numbers)):
            raise ValueError("a station number appears twice in [[stations]]")
        return self

    @property
    def key_dir(self) -> Path:
        """The directory of private signing keys."""
        configured = self.credentials.key_dir
        return configured if configured is not None else self.database.path.parent / "keys"


def load_central_settings(path: Path | None) -> CentralSettings:
    """Load and validate the central's configuration; raises `ConfigError` with the key."""
    return load_settings(CentralSettings, path)
