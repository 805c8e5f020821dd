"""What an operator says about a station: place, hours, capacity, zones, amenities, doors.

Opening hours are either absent (open 24 hours, as most stations are) or one daily
window `HH:MM-HH:MM` in the station's time zone; a window that ends before it starts
runs past midnight (`20:00-08:00`).
"""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.payloads import SLUG_PATTERN
from dashboard.core.occupancy import DEFAULT_ZONE, ZONE_KINDS

HOURS_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$"


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
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    address: str | None = Field(default=None, max_length=500)
    time_zone: str = "Asia/Shanghai"
    opening_hours: str | None = Field(
        default=None,
        pattern=HOURS_PATTERN,
        description="Daily window HH:MM-HH:MM in the station's time zone; absent = 24 hours.",
    )
    capacity: int | None = Field(default=None, ge=0, le=100_000)
    zones: dict[Zone, int | None] = Field(
        default_factory=dict,
        description="Zone → its own capacity (null: none); `rest` is always there.",
    )
    amenities: list[Amenity] = Field(default_factory=list, max_length=len(Amenity))
    doors: list[DoorSpec] = Field(default_factory=list, max_length=64)
    gateways: list[str] = Field(default_factory=list, max_length=64)
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
    def _gateway_ids(cls, value: list[str]) -> list[str]:
        import re

        for gateway in value:
            if not re.match(SLUG_PATTERN, gateway):
                raise ValueError(f"gateway id {gateway!r} is not a slug")
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
