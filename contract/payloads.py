"""Payload models of wire contract v1.

Every payload is a JSON object whose `schema` field names its kind and version, for
example `"access/1"`. Times are UTC in ISO 8601 with milliseconds and a `Z` suffix.
Station and gateway ids are lower-case slugs so that they are safe inside MQTT topics.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


INT64_MAX = 2**63 - 1
"""The largest integer the wire carries: what both databases store in a BIGINT."""

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Times on the wire lie in [EARLIEST, LATEST): a gateway whose clock was lost still reports
1970, while a year like 0001 or 9999 is nobody's clock and breaks date arithmetic."""


def _to_utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time is outside the years any clock reports") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"time must lie between {EARLIEST.year} and {LATEST.year}")
    return utc


def format_utc(value: datetime) -> str:
    """Render an aware datetime as the wire's time format: `2026-11-23T03:00:00.123Z`."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


UtcTime = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A point in time on the wire: must carry a zone offset, is normalised to UTC."""

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
"""An id that can stand as one MQTT topic level: lower-case letters, digits, `-` and `_`."""

WORKER_ID_PATTERN = r"^w[1-9][0-9]{0,9}$"
MAX_WORKER_NUMBER = 0xFFFF_FFFF


def _worker_number_in_range(value: str) -> str:
    if int(value[1:]) > MAX_WORKER_NUMBER:
        raise ValueError(f"worker numbers go up to {MAX_WORKER_NUMBER}")
    return value


WorkerId = Annotated[
    str, StringConstraints(pattern=WORKER_ID_PATTERN), AfterValidator(_worker_number_in_range)
]
"""A pseudonymous worker id, `w<number>` (docs/credentials.md); never a name or a phone
number, and never text that a spreadsheet would run as a formula."""

EventId = Annotated[str, StringConstraints(pattern=r"^[!-~]{1,64}$")]
"""A globally unique event id: printable ASCII without spaces (gateways send UUIDs)."""

WireInt = Annotated[int, Field(ge=0, le=INT64_MAX)]
"""A count or number on the wire: never negative, and small enough for a BIGINT column."""

Version = Annotated[int, Field(ge=1, le=INT64_MAX)]
"""A document's version: counts up from 1."""


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def new_event_id() -> str:
    """A globally unique id for one event, in UUID version 7 layout (RFC 9562): the
    first 48 bits are the Unix time in milliseconds, the rest random.

    Ids that sort by creation time land at the end of the central's event-id indexes
    instead of at random places in them, which keeps those inserts cheap as the tables
    grow. Nothing may rely on the order: only uniqueness is part of the contract.
    """
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC variant
    return str(uuid.UUID(int=value))


class Direction(StrEnum):
    """Which way a person passes a door."""

    IN = "in"
    OUT = "out"


class CredentialKind(StrEnum):
    """What a person presented at the door."""

    QR = "qr"
    FACE = "face"
    CARD = "card"
    BUTTON = "button"
    REMOTE = "remote"
    PHONE = "phone"
    """A worker opened the door from their phone (the door's sticker QR and their pass
    session); the central decided and sent the gateway a signed `phone_open`."""


class Decision(StrEnum):
    """The outcome of an access request."""

    GRANTED = "granted"
    DENIED = "denied"


class Reason(StrEnum):
    """Why an access request was decided the way it was."""

    GRANTED = "granted"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    REVOKED = "revoked"
    FULL = "full"
    CLOSED = "closed"
    PASSBACK = "passback"
    UNKNOWN_CREDENTIAL = "unknown_credential"
    UNKNOWN_FACE = "unknown_face"
    WRONG_SCOPE = "wrong_scope"
    REPLAYED = "replayed"
    THROTTLED = "throttled"
    MALFORMED = "malformed"
    LOCKDOWN = "lockdown"


class Payload(BaseModel):
    """Base of every wire payload: frozen, strict about unknown fields, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    SCHEMA: ClassVar[str]
    """`kind/version`, written into the payload's `schema` field."""

    def to_json(self) -> bytes:
        """Serialise for the wire."""
        return self.model_dump_json(by_alias=True).encode()


class EventPayload(Payload):
    """Fields every gateway event carries: identity, order and the gateway's clock."""

    event_id: EventId = Field(default_factory=new_event_id)
    station_id: Slug
    gateway_id: Slug
    seq: int = Field(
        ge=1, le=INT64_MAX, description="Per-gateway sequence number, counting up by one."
    )
    at: UtcTime = Field(description="When it happened, by the gateway's clock.")


class AccessEvent(EventPayload):
    """A person asked to pass a door and the gateway decided."""

    SCHEMA: ClassVar[str] = "access/1"
    schema_: Literal["access/1"] = Field(default="access/1", alias="schema")
    door_id: Slug
    direction: Direction
    credential: CredentialKind
    worker_id: WorkerId | None = Field(
        default=None, description="Pseudonymous worker id when the credential named one."
    )
    token_not_before: UtcTime | None = Field(
        default=None,
        description="The `not_before` of the QR token presented, when its signature was "
        "good: with `worker_id` it names the token, so the station's other gateways refuse "
        "it again and the central can see one token used at two stations.",
    )
    decision: Decision
    reason: Reason


class DoorState(StrEnum):
    """A door's observable state change."""

    UNLOCKED = "unlocked"
    LOCKED = "locked"
    OPENED = "opened"
    CLOSED = "closed"
    LOCKDOWN_STARTED = "lockdown_started"
    LOCKDOWN_ENDED = "lockdown_ended"


class DoorEvent(EventPayload):
    """A door's lock, contact or lockdown mode changed; `cause` says why where known."""

    SCHEMA: ClassVar[str] = "door/1"
    schema_: Literal["door/1"] = Field(default="door/1", alias="schema")
    door_id: Slug
    state: DoorState
    cause: str | None = Field(default=None, max_length=64)


class AlarmKind(StrEnum):
    """Conditions an operator must hear about."""

    HELD_OPEN = "held_open"
    FORCED = "forced"
    TAMPER = "tamper"
    FIRE = "fire"


class AlarmEvent(EventPayload):
    """An alarm was raised (`active` true) or cleared (`active` false)."""

    SCHEMA: ClassVar[str] = "alarm/1"
    schema_: Literal["alarm/1"] = Field(default="alarm/1", alias="schema")
    door_id: Slug | None = None
    alarm: AlarmKind
    active: bool


class CrossingSource(StrEnum):
    """What saw a person pass without a credential decision."""

    BEAM = "beam"
    REX = "rex"
    EXIT_READER = "exit_reader"


class CrossingEvent(EventPayload):
    """Someone passed a door in a known direction (beams, exit button)."""

    SCHEMA: ClassVar[str] = "crossing/1"
    schema_: Literal["crossing/1"] = Field(default="crossing/1", alias="schema")
    door_id: Slug
    direction: Direction
    source: CrossingSource


class PresenceEvent(EventPayload):
    """A presence sensor changed its mind about whether anyone is in a zone."""

    SCHEMA: ClassVar[str] = "presence/1"
    schema_: Literal["presence/1"] = Field(default="presence/1", alias="schema")
    sensor_id: Slug
    zone: Slug = "rest"
    present: bool


class DropReport(EventPayload):
    """The gateway's outbox hit its disk ceiling and deleted undelivered events.

    Telemetry goes first; access and alarm events only when nothing else is left. The
    report names every dropped sequence number (as inclusive ranges) so the central can
    tell a reported drop from a gap that still waits to be filled.
    """

    SCHEMA: ClassVar[str] = "dropped/1"
    schema_: Literal["dropped/1"] = Field(default="dropped/1", alias="schema")
    reason: Literal["disk_ceiling"] = "disk_ceiling"
    count: int = Field(ge=1, le=INT64_MAX, description="How many events were dropped.")
    kinds: dict[str, WireInt] = Field(description="Event kind → how many of it were dropped.")
    seq_ranges: list[tuple[WireInt, WireInt]] = Field(
        max_length=1000,
        description="Dropped sequence numbers as inclusive [first, last] ranges, oldest first.",
    )
    truncated: bool = Field(
        default=False, description="True when more ranges were dropped than the report lists."
    )


FACE_PERSON_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
"""A person id on a face terminal, as the central's face ids are spelled (a pairing makes
the worker's number one; ids set by hand may use the other characters)."""


class FaceAction(StrEnum):
    """What happened to a person on a face terminal."""

    PAIRED = "paired"
    REMOVED = "removed"


class FacePairingEvent(EventPayload):
    """A face terminal now holds a worker's face (`paired`), or no longer does (`removed`).

    Never carries an image or a template: the face stays in the terminal. A pairing names
    the worker's confirmation (the QR token they scanned: `worker_id` and
    `token_not_before`) and the version of the consent notice the terminal showed.
    """

    SCHEMA: ClassVar[str] = "face_pairing/1"
    schema_: Literal["face_pairing/1"] = Field(default="face_pairing/1", alias="schema")
    action: FaceAction
    terminal_id: Slug
    door_id: Slug | None = None
    person_id: Annotated[str, StringConstraints(pattern=FACE_PERSON_PATTERN)]
    worker_id: WorkerId | None = Field(
        default=None, description="The worker the person is (always named on a pairing)."
    )
    notice_version: str | None = Field(
        default=None,
        max_length=32,
        pattern=r"^[A-Za-z0-9._:-]{1,32}$",
        description="Which consent notice the terminal showed (on a pairing).",
    )
    token_not_before: UtcTime | None = Field(
        default=None,
        description="The `not_before` of the QR token the worker confirmed with: with "
        "`worker_id` it names the token.",
    )
    cause: str | None = Field(
        default=None,
        max_length=64,
        description="Why a person was removed: `withdrawn`, `revoked`, `maintenance`.",
    )


class Availability(Payload):
    """A gateway's retained online state: its birth message, or its last will."""

    SCHEMA: ClassVar[str] = "availability/1"
    schema_: Literal["availability/1"] = Field(default="availability/1", alias="schema")
    station_id: Slug
    gateway_id: Slug
    online: bool
    at: UtcTime | None = Field(
        default=None,
        description="When the gateway said it; absent in the last will, which the broker sends.",
    )
    version: str | None = Field(default=None, max_length=64)


class CentralStatus(Payload):
    """A central replica's retained online state; gateways re-announce themselves on `online`."""

    SCHEMA: ClassVar[str] = "central/1"
    schema_: Literal["central/1"] = Field(default="central/1", alias="schema")
    central_id: Slug
    online: bool
    at: UtcTime | None = Field(
        default=None,
        description="When the central said it; absent in the last will, which the broker sends.",
    )
    version: str | None = Field(default=None, max_length=64)


class ClockTick(Payload):
    """A central replica's time, as it publishes it every `clock.tick_s` (30 s by default).

    Sent at QoS 0 and never retained, so it is only ever delivered live, within moments
    of being sent: gateways measure their clock's offset from it and verify tokens (which
    the central's clock dates) against the central's time.
    """

    SCHEMA: ClassVar[str] = "clock/1"
    schema_: Literal["clock/1"] = Field(default="clock/1", alias="schema")
    central_id: Slug
    at: UtcTime = Field(description="The central's time when it sent the tick.")


MAX_COMMAND_TTL_S = 300.0
"""The longest time-to-live a command may ask for: an unlock that waited in a broker for
longer is never wanted. Gateways cap it further (`[maintenance] max_command_ttl_s`)."""


class Command(Payload):
    """A request to one gateway. It is ignored once `issued_at + ttl_s` has passed.

    The station and gateway it is for are part of the payload, so part of what an operator
    signs: a signed unlock copied onto another gateway's command topic is refused there.
    """

    SCHEMA: ClassVar[str] = "command/1"
    schema_: Literal["command/1"] = Field(default="command/1", alias="schema")
    request_id: str = Field(min_length=1, max_length=64)
    station_id: Slug = Field(description="The station the command is for.")
    gateway_id: Slug = Field(description="The gateway the command is for.")
    reply_to: str | None = Field(
        default=None,
        max_length=256,
        description="Topic for the reply; the gateway's reply topic when absent.",
    )
    issued_at: UtcTime
    ttl_s: float = Field(
        default=30.0,
        gt=0,
        le=MAX_COMMAND_TTL_S,
        description="Seconds after `issued_at` that the command stays valid; gateways "
        "cap it (60 s by default).",
    )
    command: str = Field(min_length=1, max_length=64)
    args: dict[str, Any] = Field(default_factory=dict)
    sender: str | None = Field(
        default=None,
        max_length=64,
        description="The operator whose key signed the command (commands that can open a door).",
    )
    signature: str | None = Field(
        default=None,
        max_length=128,
        description="Base64 Ed25519 signature over the canonical command without this field.",
    )


class ReplyStatus(StrEnum):
    """How a command ended."""

    OK = "ok"
    ERROR = "error"
    EXPIRED = "expired"
    REPLAYED = "replayed"
    UNKNOWN_COMMAND = "unknown_command"
    BAD_ARGS = "bad_args"
    UNAUTHORISED = "unauthorised"
    """A command that can open a door came without a valid operator signature."""
    WRONG_TARGET = "wrong_target"
    """The command names another station, gateway or door than the one it reached."""
    INVALID = "invalid"
    """The command is not a valid `command/1` payload (the message says what is wrong)."""


class CommandReply(Payload):
    """A gateway's answer to one command, echoing its request id."""

    SCHEMA: ClassVar[str] = "reply/1"
    schema_: Literal["reply/1"] = Field(default="reply/1", alias="schema")
    request_id: str = Field(min_length=1, max_length=64)
    station_id: Slug
    gateway_id: Slug
    at: UtcTime
    status: ReplyStatus
    message: str = Field(max_length=1024, description="What happened, for a person to read.")
    data: dict[str, Any] = Field(default_factory=dict)


class StationOccupancy(Payload):
    """The central's retained view of how many people are in a station."""

    SCHEMA: ClassVar[str] = "occupancy/1"
    schema_: Literal["occupancy/1"] = Field(default="occupancy/1", alias="schema")
    station_id: Slug
    occupancy: WireInt
    capacity: WireInt | None = None
    at: UtcTime
    zones: dict[Slug, WireInt] | None = Field(
        default=None,
        description="People per zone (`rest`, `sleeping`, `showers`, `charging`); they add "
        "up to `occupancy`. Added in 1.1 of the schema; older readers may ignore it.",
    )


class StoredMark(Payload):
    """The central's word to one gateway that its events are stored, retained.

    Every event of the gateway numbered up to `seq` is in the central's database, or was
    reported dropped by the gateway itself; the gateway deletes them from its outbox and
    publishes again whatever lies above `seq` that the central still lacks.
    """

    SCHEMA: ClassVar[str] = "stored/1"
    schema_: Literal["stored/1"] = Field(default="stored/1", alias="schema")
    station_id: Slug
    gateway_id: Slug
    seq: WireInt = Field(
        description="The highest sequence number up to which every event is stored: above "
        "the first number the central saw from the gateway, nothing up to it is missing."
    )
    at: UtcTime = Field(description="When the central said it, by the central's clock.")


EVENT_MODELS: tuple[type[EventPayload], ...] = (
    AccessEvent,
    DoorEvent,
    AlarmEvent,
    CrossingEvent,
    PresenceEvent,
    DropReport,
    FacePairingEvent,
)
STATION_MODELS: tuple[type[Payload], ...] = (
    *EVENT_MODELS,
    Availability,
    CentralStatus,
    ClockTick,
    Command,
    CommandReply,
    StationOccupancy,
    StoredMark,
)
"""Payloads of the station and gateway topics; `contract.models.ALL_MODELS` adds the
credential payloads, which live in `contract.credential_payloads` (it imports this module,
so this module cannot list them)."""
