"""What an operator says about a station: place, hours, capacity, zones, amenities, doors.

Opening hours are either absent (open 24 hours, as most stations are) or one daily
window `HH:MM-HH:MM` in the station's time zone; a window that ends before it starts
runs past midnight (`20:00-08:00`).
"""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from contract.payloads import SLUG_PATTERN
from contract.tokens import MAX_STATION_NUMBER
from dashboard.core.occupancy import DEFAULT_ZONE, ZONE_KINDS

HOURS_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$"
TIME_ZONES = sorted(available_timezones())
"""The IANA time zones this machine knows, as the API's schema lists them."""

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
Capacity = Annotated[int, Field(ge=0, le=100_000)]
StationNumber = Annotated[int, Field(ge=1, le=MAX_STATION_NUMBER)]
"""The number QR tokens name a station by (`contract.tokens.Scope.station`)."""
RegionCode = Annotated[int, Field(ge=100000, le=999999)]
"""GB/T 2260 six-digit code of the district a station is in, for region scopes."""


class Amenity(StrEnum):
    """What a station offers."""

    WATER = "water"
    MICROWAVE = "microwave"
    CHARGING = "charging"
    SHOWER = "shower"
    LAUNDRY = "laundry"
    MEDICINE_BOX = "medicine_box"


class Zone(StrEnum):
    """Parts of a station counted apart."""

    REST = "rest"
    SLEEPING = "sleeping"
    SHOWERS = "showers"
    CHARGING = "charging"


assert tuple(Zone) == ZONE_KINDS


class DoorSpec(BaseModel):
    """A door: which zone it leads into, whether beams count it, which gateway runs it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=SLUG_PATTERN)
    zone: Zone = Zone.REST
    beams: bool = False
    gateway_id: str | None = Field(default=None, pattern=SLUG_PATTERN)


class StationInput(BaseModel):
    """A station as created or replaced through the API or an import."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    number: StationNumber | None = Field(
        default=None,
        description="The station number tokens carry. Left out, the registry gives the "
        "next unused one; given, it must never have been given to another station. A "
        "station keeps its number for good.",
    )
    region_code: RegionCode | None = Field(
        default=None, description="GB/T 2260 district code, for `region:` worker scopes."
    )
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    address: str | None = Field(default=None, max_length=500)
    time_zone: str = Field(default="Asia/Shanghai", json_schema_extra={"enum": [*TIME_ZONES]})
    opening_hours: str | None = Field(
        default=None,
        pattern=HOURS_PATTERN,
        description="Daily window HH:MM-HH:MM in the station's time zone; absent = 24 hours.",
    )
    capacity: Capacity | None = None
    zones: dict[Zone, Capacity | None] = Field(
        default_factory=dict,
        description="Zone → its own capacity (null: none); `rest` is always there.",
    )
    amenities: list[Amenity] = Field(default_factory=list, max_length=len(Amenity))
    doors: list[DoorSpec] = Field(default_factory=list, max_length=64)
    gateways: list[Slug] = Field(default_factory=list, max_length=64)
    accepting: bool = Field(
        default=True, description="False while an operator closes the station to entries."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("gateways")
    @classmethod
    def _distinct_gateways(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("amenities")
    @classmethod
    def _distinct(cls, value: list[Amenity]) -> list[Amenity]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _doors_unique(self) -> StationInput:
        ids = [door.id for door in self.doors]
        if len(ids) != len(set(ids)):
            raise ValueError("a door id appears twice")
        return self

    def zone_capacities(self) -> dict[str, int | None]:
        """Every zone of the station with its capacity; `rest` always."""
        zones: dict[str, int | None] = {DEFAULT_ZONE: None}
        zones.update({zone.value: cap for zone, cap in self.zones.items()})
        for door in self.doors:
            zones.setdefault(door.zone.value, None)
        return zones


def open_at(opening_hours: str | None, time_zone: str, when: datetime) -> bool:
    """Whether a station with these hours is open at `when` (an aware datetime)."""
    if opening_hours is None:
        return True
    start_text, end_text = opening_hours.split("-")
    local = when.astimezone(ZoneInfo(time_zone)).time()
    start = _clock(start_text)
    end = _clock(end_text)
    if start == end:
        return True
    if start < end:
        return start <= local < end
    return local >= start or local < end


def _clock(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    return time(23, 59, 59, 999999) if hours == 24 else time(hours, minutes)
