"""The pass page's station list as a plain function: who is listed, in which order."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard.core.workers import ScopeText
from dashboard.services.nearby import NearbyStation, nearby_stations
from dashboard.storage.stations import StationLocationRow, StationRow

NOON_IN_CHANGSHA = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
NIGHT_IN_CHANGSHA = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


def station(
    station_id: str, lat: float, lon: float, occupancy: int = 0, opening_hours: str | None = None
) -> StationRow:
    """An online, registered station with room for ten."""
    return StationRow(
        id=station_id,
        name=station_id,
        lat=lat,
        lon=lon,
        capacity=10,
        occupancy=occupancy,
        online=True,
        opening_hours=opening_hours,
    )


HOME = station("home", 28.196, 112.977)
NEAR = station("near", 28.183, 112.938)  # 4 km
DAYTIME = station("daytime", 28.20, 112.98, opening_hours="08:00-20:00")  # under 1 km
FAR = station("far", 22.512, 113.951)  # Shenzhen
LOCATIONS = [
    StationLocationRow("home", 1, 430102),
    StationLocationRow("near", 2, 430104),
    StationLocationRow("daytime", 3, 430102),
    StationLocationRow("far", 4, 440305),
]


def ids(listed: list[NearbyStation]) -> list[str]:
    return [n.id for n in listed]


def test_a_station_pass_measures_from_its_station_and_names_it() -> None:
    listed, sorted_by = nearby_stations(
        [FAR, NEAR, DAYTIME, HOME],
        LOCATIONS,
        ScopeText.parse("station:home"),
        None,
        NOON_IN_CHANGSHA,
    )
    assert sorted_by == "station"
    assert ids(listed) == ["home", "daytime", "near"]
    assert listed[0].home and listed[0].pass_valid
    assert not listed[1].pass_valid and not listed[1].home


def test_closed_and_full_stations_come_after_open_ones_and_others_are_left_out() -> None:
    full_home = station("home", 28.196, 112.977, occupancy=10)
    listed, _ = nearby_stations(
        [FAR, NEAR, DAYTIME, full_home],
        LOCATIONS,
        ScopeText.parse("station:home"),
        None,
        NIGHT_IN_CHANGSHA,
    )
    # At midnight the daytime station is closed: not suggested, since the pass does not
    # open it; the full home station is still listed, last, and says why.
    assert [(n.id, n.status) for n in listed] == [("near", "open"), ("home", "full")]


def test_a_region_pass_lists_its_stations_first_and_keeps_the_home_one_past_the_limit() -> None:
    listed, sorted_by = nearby_stations(
        [FAR, NEAR, DAYTIME, HOME],
        LOCATIONS,
        ScopeText.parse("region:430102"),
        (28.19, 112.96),
        NOON_IN_CHANGSHA,
    )
    assert sorted_by == "position"
    # Both Furong stations first (the pass works there), then Yuelu, marked.
    assert ids(listed) == ["home", "daytime", "near"]
    assert [n.pass_valid for n in listed] == [True, True, False]

    many = [station(f"s{n}", 28.19 + n * 0.001, 112.96) for n in range(6)]
    home_full = station("home", 28.196, 112.977, occupancy=10)
    listed, _ = nearby_stations(
        [*many, home_full], [], ScopeText.parse("station:home"), (28.19, 112.96), NOON_IN_CHANGSHA
    )
    assert len(listed) == 5 and listed[-1].id == "home" and listed[-1].status == "full"
