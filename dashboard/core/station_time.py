"""Times as people at a station read them: its own time zone, its own day.

The wire and the store keep UTC; what an operator reads (the entries log, its CSV, the
day's totals) is in the station's zone, because a night shift in Ürümqi and one in
Shanghai each count their day from their own midnight.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FALLBACK_ZONE = "Asia/Shanghai"
"""The zone used for a station whose zone this machine does not know."""


def zone_of(time_zone: str | None) -> ZoneInfo:
    """The zone named `time_zone`, or the fallback for an unknown or missing name."""
    try:
        return ZoneInfo(time_zone or FALLBACK_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(FALLBACK_ZONE)


def day_start(time_zone: str | None, now: datetime) -> datetime:
    """The start of the station's current day (its local midnight), as an aware UTC-able
    datetime; `now` must be aware."""
    zone = zone_of(time_zone)
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time(0), tzinfo=zone)


def local_text(utc_iso: str | None, time_zone: str | None) -> str:
    """A stored UTC time as the station's wall clock, `YYYY-MM-DD HH:MM:SS` (what
    spreadsheets read as a date and time); empty for None, unchanged if not a time."""
    if not utc_iso:
        return ""
    try:
        moment = datetime.fromisoformat(utc_iso.replace("Z", "+00:00"))
    except ValueError:
        return utc_iso
    if moment.tzinfo is None:
        return utc_iso
    return moment.astimezone(zone_of(time_zone)).strftime("%Y-%m-%d %H:%M:%S")
