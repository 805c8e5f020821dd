"""The feed's stations in GBFS 2.3 terms (https://github.com/MobilityData/gbfs/blob/v2.3/gbfs.md).

GBFS describes docks and vehicles; a rest station has places and people. The mapping:

- a station's free places are its docks: `capacity` is its capacity and
  `num_docks_available` its free places (both left out when it has no capacity set, as
  GBFS does for a station of unlimited docks);
- nothing is rented out of a rest station, so `num_bikes_available` is always 0; the
  people inside are the extension field `_num_people_present`;
- `is_installed`: a gateway of the station has reported at least once;
  `is_renting`: open now and online, that is in service;
  `is_returning`: accepting entries (in service, not paused by an operator, a free place);
- `last_reported`: the last report of its gateways (the document's own time for a
  station never heard from, which `is_installed: false` marks).

Fields GBFS does not have are extensions, named with a leading underscore as GBFS asks:
`_opening_hours`, `_time_zone`, `_amenities`, `_is_open`, `_is_online`,
`_num_people_present`. No field is ever null: an unknown value is left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.core.config import FeedSettings
from dashboard.storage.store import StationRow

GBFS_VERSION = "2.3"
GBFS_FEEDS = ("system_information", "station_information", "station_status")


def free_places(station: StationRow) -> int | None:
    """Places left, or None when the station has no capacity set."""
    return None if station.capacity is None else max(station.capacity - station.occupancy, 0)


def epoch(text: str | None) -> int | None:
    """An ISO 8601 time from the store as POSIX seconds."""
    return None if text is None else int(datetime.fromisoformat(text).timestamp())


def system_information(feed: FeedSettings, public_url: str) -> dict[str, Any]:
    """The `system_information` data: who runs the network, its language and time zone."""
    data: dict[str, Any] = {
        "system_id": feed.system_id,
        "language": feed.language,
        "name": feed.system_name,
        "timezone": feed.timezone,
    }
    if feed.operator:
        data["operator"] = feed.operator
    if public_url:
        data["url"] = public_url
    if feed.contact_email:
        data["feed_contact_email"] = feed.contact_email
    return data


def station_information(station: StationRow) -> dict[str, Any]:
    """One located station as a GBFS `station_information` entry."""
    if station.lat is None or station.lon is None:
        raise ValueError(f"station {station.id} has no location: GBFS needs one")
    entry: dict[str, Any] = {
        "station_id": station.id,
        "name": station.name,
        "lat": station.lat,
        "lon": station.lon,
    }
    if station.address:
        entry["address"] = station.address
    if station.capacity is not None:
        entry["capacity"] = station.capacity
    entry["_opening_hours"] = station.opening_hours or "24/7"
    entry["_time_zone"] = station.time_zone
    entry["_amenities"] = list(station.amenities)
    return entry


def station_status(station: StationRow, now_open: bool, now_s: int) -> dict[str, Any]:
    """One station's live state as a GBFS `station_status` entry."""
    free = free_places(station)
    in_service = station.online and now_open
    reported = epoch(station.last_seen)
    entry: dict[str, Any] = {
        "station_id": station.id,
        "num_bikes_available": 0,
        "is_installed": reported is not None,
        "is_renting": in_service,
        "is_returning": in_service and station.accepting and free != 0,
        "last_reported": now_s if reported is None else reported,
    }
    if free is not None:
        entry["num_docks_available"] = free
    entry["_num_people_present"] = station.occupancy
    entry["_is_open"] = now_open
    entry["_is_online"] = station.online
    return entry
