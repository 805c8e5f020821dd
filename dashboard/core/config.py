"""The central service's configuration: broker, HTTP listener, database, keys, rules.

Stations are not configuration: the central's database is their one registry, seeded by
`yizhan stations import` or the API. A file that still lists `[[stations]]` is refused
with an error that says so, rather than silently overriding what the registry holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from contract.payloads import SLUG_PATTERN
from dashboard.core.import_limits import STATION_FILE_BYTES, WORKER_FILE_BYTES
from dashboard.core.tile_presets import Datum, TilePreset
from servicekit.settings import BrokerSettings, Section, TimeZoneName, load_settings, retired_key

STATIONS_MOVED = (
    "stations are kept in the central's database now, not in its configuration: move the "
    "[[stations]] tables to a file of their own (stations.toml), import it once with "
    "`yizhan stations import stations.toml --config central.toml`, and remove them here"
)


class HttpSettings(Section):
    """Where the API and the operator pages are served."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    secure_cookies: bool = False
    """Mark the session cookies `Secure`: set it when the UI is served over HTTPS."""
    tiles: TilePreset | None = None
    """The map's base layer: `osm`, `tianditu` (needs `tianditu_key`), `amap` (GCJ-02,
    stations are shifted for display), `mbtiles` (served from `mbtiles_path`), `custom`
    (`tile_url`) or `none`; unset: `custom` when `tile_url` is set, else `none`."""
    tile_url: str = ""
    """A custom base tile URL (`https://tile.example/{z}/{x}/{y}.png`); empty: no tiles."""
    tile_attribution: str = ""
    """The credit line shown under custom or MBTiles tiles (`© …`)."""
    tile_datum: Datum = "wgs84"
    """The datum a custom tile server draws in: `gcj02` for a Chinese service."""
    tianditu_key: str = Field(default="", pattern=r"^[0-9A-Za-z]*$")
    """The Tianditu browser key (`tk`) of the `tianditu` preset."""
    mbtiles_path: Path | None = None
    """The MBTiles file the `mbtiles` preset serves at `/tiles/{z}/{x}/{y}.<format>`."""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=STATION_FILE_BYTES)
    """The largest request body of a route without a limit of its own (JSON bodies)."""
    max_worker_import_bytes: int = Field(default=WORKER_FILE_BYTES, ge=1024, le=WORKER_FILE_BYTES)
    """The largest enrollment CSV `POST /api/workers/import` accepts."""
    max_station_import_bytes: int = Field(
        default=STATION_FILE_BYTES, ge=1024, le=STATION_FILE_BYTES
    )
    """The largest CSV or GeoJSON file `POST /api/stations/import` accepts."""
    login_account_lock_at: int = Field(default=5, ge=1, le=1000)
    """The failed login of one account name that locks it (`docs/security.md`)."""
    login_address_lock_at: int = Field(default=20, ge=1, le=100_000)
    """The failed login from one client address that locks it: raise it when many
    operators reach the central through one address (a proxy, an office NAT)."""

    @model_validator(mode="after")
    def _tiles_complete(self) -> HttpSettings:
        preset = self.base_preset
        if self.tiles not in (None, "custom") and self.tile_url:
            raise ValueError(f"http.tiles = {self.tiles!r} and http.tile_url: choose one")
        if preset == "custom" and not self.tile_url:
            raise ValueError("http.tiles = 'custom' needs http.tile_url")
        if preset == "tianditu" and not self.tianditu_key:
            raise ValueError("http.tiles = 'tianditu' needs http.tianditu_key (a browser key)")
        if preset == "mbtiles" and self.mbtiles_path is None:
            raise ValueError("http.tiles = 'mbtiles' needs http.mbtiles_path")
        return self

    @property
    def base_preset(self) -> TilePreset:
        """The preset in effect: `tiles`, else `custom` with a `tile_url`, else `none`."""
        if self.tiles is not None:
            return self.tiles
        return "custom" if self.tile_url else "none"


class DatabaseSettings(Section):
    """Where events are kept: a SQLite file (the default) or a PostgreSQL server."""

    path: Path = Path("yizhan.db")
    """The SQLite file, when `url` is not set."""
    url: str | None = Field(
        default=None,
        pattern=r"^(sqlite:///.+|postgres(ql)?://.*)$",
        description="`sqlite:///PATH` or `postgresql://user@host:port/db`; wins over `path`.",
    )

    @property
    def resolved_url(self) -> str:
        """The database URL to open."""
        return self.url if self.url is not None else f"sqlite:///{self.path}"


class RetentionSettings(Section):
    """How long entry logs are kept."""

    entries_days: float = Field(default=180, gt=0, description="Entries and events older go.")
    purge_interval_s: float = Field(default=3600, gt=0)


class FeedbackSettings(Section):
    """Workers' fault reports and suggestions (`docs/dashboard.md`)."""

    photo_dir: Path | None = Field(
        default=None,
        description="Where report photos are kept; default `feedback-photos` beside the "
        "SQLite database (or the working directory on PostgreSQL).",
    )
    photo_retention_days: float = Field(
        default=90, gt=0, description="Photos older are deleted; the report stays."
    )
    max_photo_bytes: int = Field(default=2 * 1024 * 1024, ge=10_000, le=20 * 1024 * 1024)
    worker_per_hour: int = Field(
        default=10, ge=1, description="Reports one pass holder may make in an hour."
    )
    address_per_hour: int = Field(
        default=5, ge=1, description="Anonymous reports from one address in an hour."
    )
    anonymous_per_station_hour: int = Field(
        default=30,
        ge=1,
        description="Anonymous reports one station takes in an hour, from everywhere "
        "together, so that many addresses cannot flood one station's alerts.",
    )
    proof_of_work_bits: int = Field(
        default=16,
        ge=0,
        le=28,
        description="Leading zero bits an anonymous report's proof of work needs (each "
        "bit doubles a phone's work: 16 is a fraction of a second).",
    )


class OccupancySettings(Section):
    """How counts are corrected by presence."""

    empty_reset_s: float = Field(
        default=600,
        gt=0,
        description="Every presence sensor of a zone seeing nobody this long resets it to 0.",
    )
    history_step_s: float = Field(
        default=60,
        ge=0.1,
        description="Occupancy history keeps one sample per station and this many seconds.",
    )


class InfluxSettings(Section):
    """Optional export of time series to an InfluxDB 2 write API."""

    url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    token: str = ""
    org: str = "yizhan"
    bucket: str = "yizhan"
    batch_size: int = Field(default=500, ge=1, le=10_000)
    flush_interval_ms: int = Field(default=1000, ge=10, le=60_000)
    buffer_points: int = Field(
        default=100_000, ge=100, description="Points kept while the server is down."
    )
    health_interval_s: float = Field(default=30, gt=0)


class FeedSettings(Section):
    """The public availability feed."""

    ttl_s: int = Field(default=30, ge=0, le=3600)
    language: str = Field(default="zh", pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")
    """The language of the feed's text (`zh`, `zh-CN`, `en`): GBFS's language key."""
    system_id: str = Field(default="yizhan", min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    """GBFS `system_id`: globally unique, for example `yizhan-changsha`."""
    system_name: str = Field(default="驿站", min_length=1)
    """GBFS `name`: the network of stations as its readers know it."""
    operator: str | None = Field(default=None, min_length=1)
    """GBFS `operator`: who runs the stations (a trade union, a city office)."""
    timezone: TimeZoneName = "Asia/Shanghai"
    """GBFS `timezone` of the system (each station keeps its own for opening hours)."""
    contact_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    """GBFS `feed_contact_email`: where the feed's readers report problems with it."""
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    """Base URL of the feed's links as its readers reach the central; when unset,
    `credentials.public_url`, and when that is unset too, links are relative (`/feed/...`).
    Never taken from a request's Host header, which any client can forge and a cache
    would then hand to everyone."""


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
    offline_after_s: float = Field(
        default=90.0, gt=0, description="A gateway heard nothing from this long is offline."
    )
    sensor_silent_after_s: float = Field(
        default=3600.0, gt=0, description="A presence sensor silent this long raises an alert."
    )
    clock_skew_s: float = Field(
        default=30.0, gt=0, description="A gateway clock further off than this raises an alert."
    )
    check_interval_s: float = Field(
        default=5.0, gt=0, le=60, description="How often time-driven rules are checked."
    )
    stall_after_s: float = Field(
        default=30.0,
        gt=0,
        description="A received message not stored after this long, with no write failing, "
        "means ingest is stalled: `/healthz` says degraded and an `ingest_stalled` alert opens.",
    )


class CommandSettings(Section):
    """How the central signs the commands it sends gateways from the dashboard, and how
    long it waits for their answers."""

    operator_key: Path | None = None
    """Operator key file (`yizhan operator-key new`); default `operator.key` in the key
    directory, made on first start. Gateways must list its public key under
    `[maintenance.operators]` to accept the central's unlocks."""

    answer_timeout_s: float = Field(
        default=15.0,
        gt=0,
        le=60,
        description="Seconds a gateway has to answer a command sent from the dashboard "
        "before its outcome is `no answer`. It is also the command's time-to-live, so a "
        "command nobody answered in time is not carried out later either.",
    )


class DoorSettings(Section):
    """Opening a door from a phone (the door's sticker QR and the worker's pass)."""

    geofence_m: float | None = Field(
        default=None,
        gt=0,
        le=100_000,
        description="When set, a phone that shares its position must be within this many "
        "metres of the station to open its door; a phone that shares none is not refused.",
    )
    phone_opens_per_minute: int = Field(
        default=6, ge=1, le=600, description="Phone opens one worker may try per minute."
    )
    phone_answer_s: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="Seconds the door's gateway has to answer a phone open; also the "
        "command's time-to-live, so a late one never opens the door.",
    )


class ClockSettings(Section):
    """How often the central tells gateways its time (`clock/1`)."""

    tick_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds between clock ticks; gateways judge tokens by the central's "
        "time they measure from them.",
    )


class ProvisioningSettings(Section):
    """How "Add gateway" makes a gateway's broker account and what enrollment hands out."""

    mode: Literal["off", "dynsec", "password_file"] = "off"
    """`dynsec`: accounts made at once through Mosquitto's dynamic security plugin (with
    the admin account below); `password_file`: written to Mosquitto's password and ACL
    files in `password_dir`, which Mosquitto reads on reload; `off`: no provisioning."""
    admin_username: str | None = None
    """The broker account allowed on `$CONTROL/dynamic-security/#` (dynsec mode)."""
    admin_password: str | None = None
    """Its password; better `YIZHAN_PROVISIONING__ADMIN_PASSWORD` than the file."""
    password_dir: Path = Path("/etc/mosquitto/yizhan")
    """Where Mosquitto's `passwd` and `acl` files are (password_file mode)."""
    reload_command: list[str] = Field(default_factory=list)
    """Run after the files change, e.g. `["sudo", "systemctl", "reload", "mosquitto"]`;
    until Mosquitto reloads, a new account cannot log in and a removed one stays in."""
    gateway_broker_url: str | None = Field(
        default=None,
        pattern=r"^mqtts?://\S+$",
        description="The broker URL handed to gateways; the central's own when unset.",
    )
    ca_file: Path | None = None
    """CA certificate handed to gateways with their credentials (for `mqtts://`)."""
    central_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    """The central's address as gateways reach it, printed in the enroll command line;
    `http://host:port` of the HTTP listener when unset."""
    code_ttl_s: int = Field(default=86400, ge=60, le=7 * 86400)
    """How long an enrollment code works (24 hours)."""
    operator_keys: dict[str, str] = Field(default_factory=dict)
    """Operators (name → Ed25519 public key) handed to every enrolling gateway, besides
    the central's own key for dashboard unlocks."""

    @model_validator(mode="after")
    def _complete(self) -> ProvisioningSettings:
        if self.mode == "dynsec" and not (self.admin_username and self.admin_password):
            raise ValueError("dynsec mode needs admin_username and admin_password")
        return self


class ReplicaSettings(Section):
    """Several central replicas on one PostgreSQL database and one broker (docs/scale.md)."""

    share_group: str | None = Field(
        default=None,
        pattern=SLUG_PATTERN,
        description="Replicas with the same group split the gateways' events and health "
        "reports through an MQTT shared subscription ($share/GROUP/...); unset, every "
        "replica receives everything (copies for fail-over).",
    )
    reorder_hold_s: float = Field(
        default=2.0,
        gt=0,
        le=300,
        description="With share_group: how long an event waits for an earlier one of its "
        "gateway, stored by another replica, before counts and alarms take it without it.",
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
    retention: RetentionSettings = RetentionSettings()
    occupancy: OccupancySettings = OccupancySettings()
    influx: InfluxSettings = InfluxSettings()
    feed: FeedSettings = FeedSettings()
    stations: None = Field(default=None, exclude=True)
    """Retired: refused when present (see `_no_stations`)."""
    credentials: CredentialSettings = CredentialSettings()
    commands: CommandSettings = CommandSettings()
    doors: DoorSettings = DoorSettings()
    clock: ClockSettings = ClockSettings()
    provisioning: ProvisioningSettings = ProvisioningSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    replicas: ReplicaSettings = ReplicaSettings()

    @field_validator("stations", mode="before")
    @classmethod
    def _no_stations(cls, value: object) -> None:
        if value is not None:
            raise retired_key(STATIONS_MOVED)

    @model_validator(mode="after")
    def _shared_on_postgresql(self) -> CentralSettings:
        postgresql = self.database.resolved_url.startswith(("postgresql://", "postgres://"))
        if self.replicas.share_group is not None and not postgresql:
            raise ValueError(
                "replicas.share_group needs PostgreSQL (database.url = "
                "'postgresql://...'): replicas that share the gateways' messages share "
                "one database, and a SQLite file has one replica"
            )
        return self

    @property
    def feed_url(self) -> str:
        """The base of the public feed's links: `feed.public_url`, else
        `credentials.public_url`, else empty (relative links)."""
        return (self.feed.public_url or self.credentials.public_url or "").rstrip("/")

    @property
    def key_dir(self) -> Path:
        """The directory of private signing keys."""
        configured = self.credentials.key_dir
        return configured if configured is not None else self.database.path.parent / "keys"

    @property
    def feedback_photo_dir(self) -> Path:
        """Where workers' report photos are kept."""
        configured = self.feedback.photo_dir
        return (
            configured if configured is not None else self.database.path.parent / "feedback-photos"
        )


def load_central_settings(path: Path | None) -> CentralSettings:
    """Load and validate the central's configuration; raises `ConfigError` with the key."""
    return load_settings(CentralSettings, path)
