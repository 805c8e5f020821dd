"""Workers as the central knows them, and the validation of what operators enroll.

A worker's personal data (the display name) stays in the central. Everything that
leaves it, on the wire or in logs, names the worker only by the pseudonymous id
`w<number>` (`contract.tokens.worker_id_of`), where the number is drawn at random.

One input model (`WorkerInput`) checks enrollments from the API, the CLI and CSV files
alike, so the three can never disagree about what a valid worker is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from contract.payloads import SLUG_PATTERN
from contract.tokens import ANY_STATION, Scope, ScopeKind, worker_id_of


class Platform(StrEnum):
    """The platform a worker rides or drives for; stations report visits by platform."""

    MEITUAN = "meituan"
    ELEME = "eleme"
    SF_EXPRESS = "sf_express"
    JD_LOGISTICS = "jd_logistics"
    DIDI = "didi"
    DADA = "dada"
    TRUCK_FREIGHT = "truck_freight"
    OTHER = "other"


class WorkerStatus(StrEnum):
    """`active` workers get tokens; `suspended` and `revoked` ones are refused at once.

    `suspended` can be lifted; `revoked` is final (the operator enrolls the person again
    under a new number if they come back).
    """

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


REFUSED_STATUSES = frozenset({WorkerStatus.SUSPENDED, WorkerStatus.REVOKED})
"""Statuses whose worker numbers go on the revocation list."""

MAX_GROUPS = 8
MAX_FACE_IDS = 4
MAX_CARDS = 4

_FACE_ID = r"^[A-Za-z0-9_.:-]{1,64}$"
_CARD = r"^[0-9]{1,20}$"
_SCOPE = re.compile(
    r"^(any|region:(?P<region>\d{6})|station:(?P<station>[a-z0-9][a-z0-9_-]{0,63}))$"
)

GroupName = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
FaceId = Annotated[str, StringConstraints(pattern=_FACE_ID)]
CardNumber = Annotated[str, Field(json_schema_extra={"pattern": _CARD})]
"""Checked (and made canonical) by `_cards_canonical`, which names the bad number."""
ScopeSpelling = Annotated[
    str,
    Field(
        json_schema_extra={"pattern": r"^(any|region:[1-9]\d{5}|station:[a-z0-9][a-z0-9_-]{0,63})$"}
    ),
]
"""Checked by `ScopeText.parse`, which says what is accepted."""
OperatorTime = Annotated[
    datetime | None,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date"},
                {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"},
                {"type": "string", "maxLength": 0},
                {"type": "null"},
            ],
            "description": "A time with its offset; a day alone, or a time without an offset, "
            "in the central's time zone; empty or null for none.",
        }
    ),
]
"""What `parse_local_time` reads, as the API's schema shows it."""


@dataclass(frozen=True, slots=True)
class ScopeText:
    """Where a worker's tokens may be used, as operators write it.

    `any`, `region:430102` (a GB/T 2260 code: province `430000`, city `430100` or a
    district) or `station:cs-0001` (a station id; tokens carry its number).
    """

    kind: ScopeKind
    region: int | None = None
    station_id: str | None = None

    @classmethod
    def parse(cls, text: str) -> ScopeText:
        """Parse the operator's spelling; `ValueError` says what is accepted."""
        match = _SCOPE.match(text.strip())
        if match is None:
            raise ValueError("scope must be 'any', 'region:<6-digit code>' or 'station:<id>'")
        if match["region"] is not None:
            code = int(match["region"])
            Scope.region(code)  # raises on a code a token cannot carry
            return cls(ScopeKind.REGION, region=code)
        if match["station"] is not None:
            return cls(ScopeKind.STATION, station_id=match["station"])
        return cls(ScopeKind.ANY)

    def __str__(self) -> str:
        if self.kind is ScopeKind.REGION:
            return f"region:{self.region}"
        if self.kind is ScopeKind.STATION:
            return f"station:{self.station_id}"
        return "any"

    def to_token_scope(self, station_numbers: dict[str, int]) -> Scope:
        """The scope a token carries; `LookupError` when a station has no number."""
        if self.kind is ScopeKind.REGION and self.region is not None:
            return Scope.region(self.region)
        if self.kind is ScopeKind.STATION and self.station_id is not None:
            number = station_numbers.get(self.station_id)
            if number is None:
                raise LookupError(f"station {self.station_id!r} has no station number")
            return Scope.station(number)
        return ANY_STATION


def parse_local_time(value: object, zone: ZoneInfo, *, end_of_day: bool) -> object:
    """Turn an operator's date or time into an aware datetime.

    `2026-03-01` alone is the start of that day in `zone`, or, with `end_of_day`, the
    start of the next day (so a "valid until 31 March" includes 31 March). A time
    without an offset is read in `zone`. Other values are returned for pydantic to judge.
    """
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            if end_of_day:
                day += timedelta(days=1)
            return datetime.combine(day, time(0), zone)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                "expected a date (2026-03-01) or a time (2026-03-01T08:00, +08:00 optional)"
            ) from None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value


def _zone(info: ValidationInfo) -> ZoneInfo:
    context = info.context or {}
    zone = context.get("zone")
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo("Asia/Shanghai")


def _dedupe(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class _WorkerFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("valid_from", mode="before", check_fields=False)
    @classmethod
    def _from_local(cls, value: object, info: ValidationInfo) -> object:
        return parse_local_time(value, _zone(info), end_of_day=False)

    @field_validator("valid_until", mode="before", check_fields=False)
    @classmethod
    def _until_local(cls, value: object, info: ValidationInfo) -> object:
        return parse_local_time(value, _zone(info), end_of_day=True)

    @field_validator("scope", check_fields=False)
    @classmethod
    def _scope_syntax(cls, value: str | None) -> str | None:
        return None if value is None else str(ScopeText.parse(value))

    @field_validator("card_numbers", check_fields=False)
    @classmethod
    def _cards_canonical(cls, value: list[str] | None) -> list[str] | None:
        # Card readers report numbers in decimal without leading zeros; store them so.
        if value is None:
            return None
        for card in value:
            if not card.isascii() or not card.isdigit() or len(card) > 20:
                raise ValueError(f"card number {card!r} must be 1-20 decimal digits")
        return _dedupe([str(int(card)) for card in value])

    @field_validator("groups", "face_ids", check_fields=False)
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _dedupe(value)


class WorkerInput(_WorkerFields):
    """One worker to enroll. Times without an offset are read in the configured zone."""

    display_name: str = Field(min_length=1, max_length=100)
    platform: Platform
    groups: list[GroupName] = Field(default_factory=list, max_length=MAX_GROUPS)
    valid_from: OperatorTime = None
    valid_until: OperatorTime = None
    scope: ScopeSpelling = "any"
    face_ids: list[FaceId] = Field(default_factory=list, max_length=MAX_FACE_IDS)
    card_numbers: list[CardNumber] = Field(default_factory=list, max_length=MAX_CARDS)

    @model_validator(mode="after")
    def _window(self) -> WorkerInput:
        check_window(self.valid_from, self.valid_until)
        return self


class WorkerUpdate(_WorkerFields):
    """A change to a worker: only the fields given are changed."""

    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    platform: Platform | None = None
    groups: list[GroupName] | None = Field(default=None, max_length=MAX_GROUPS)
    valid_from: OperatorTime = None
    valid_until: OperatorTime = None
    scope: ScopeSpelling | None = None
    face_ids: list[FaceId] | None = Field(default=None, max_length=MAX_FACE_IDS)
    card_numbers: list[CardNumber] | None = Field(default=None, max_length=MAX_CARDS)
    status: WorkerStatus | None = None


def check_window(valid_from: datetime | None, valid_until: datetime | None) -> None:
    """`ValueError` unless the validity window ends after it starts."""
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise ValueError("valid_until must be after valid_from")


@dataclass(frozen=True, slots=True)
class Worker:
    """A worker record as stored."""

    number: int
    display_name: str
    platform: Platform
    groups: tuple[str, ...]
    valid_from: datetime | None
    valid_until: datetime | None
    status: WorkerStatus
    scope: str
    face_ids: tuple[str, ...]
    card_numbers: tuple[str, ...]
    created_at: datetime
    updated_at: datetime

    @property
    def worker_id(self) -> str:
        """The pseudonymous id used on the wire and in logs."""
        return worker_id_of(self.number)

    @property
    def erased(self) -> bool:
        """Whether the worker's personal data was erased: the record stays, revoked and
        nameless, only so that its number is never given to anyone else."""
        return self.status is WorkerStatus.REVOKED and not self.display_name

    def valid_at(self, now: datetime) -> bool:
        """Whether the worker may enter at `now`: active and inside the validity window."""
        if self.status is not WorkerStatus.ACTIVE:
            return False
        if self.valid_from is not None and now < self.valid_from:
            return False
        return self.valid_until is None or now < self.valid_until
