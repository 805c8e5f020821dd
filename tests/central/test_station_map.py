"""The map's station load: descriptions (built once per registry change, gzipped, 304
while unchanged) and live columns in the same order, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from dashboard.core.occupancy import DEFAULT_ZONE
from dashboard.web.map_state import StationMapState
from tests.central.support import Gateway
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until


def rows_of(described: dict[str, Any], live: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The two answers joined as the page joins them: station id -> fields."""
    tables = described["tables"]
    return {
        station_id: {
            "name": described["name"][n],
            "lat": described["lat"][n],
            "lon": described["lon"][n],
            "district": tables["district"][described["district"][n]],
            "amenities": tables["amenities"][described["amenities"][n]],
            "time_zone": tables["time_zone"][described["time_zone"][n]],
            "occupancy": live["occupancy"][n],
            "capacity": live["capacity"][n],
            "online": bool(live["online"][n]),
        }
        for n, station_id in enumerate(described["id"])
    }


def test_the_map_load_says_what_the_station_list_says(any_central: RunningCentral) -> None:
    http = any_central.http
    created = http.post(
        "/api/stations",
        json={
            "id": "cs-0300",
            "name": "芙蓉路驿站",
            "lat": 28.19,
            "lon": 112.98,
            "capacity": 6,
            "address": "湖南省长沙市芙蓉区五一大道 1 号",
            "amenities": ["water", "shower"],
        },
    )
    assert created.status_code == 201, created.text
    described = http.get("/api/stations/map")
    live = http.get("/api/stations/live")
    assert described.status_code == live.status_code == 200, (described.text, live.text)
    assert described.headers["content-encoding"] == "gzip"
    assert live.headers["content-encoding"] == "gzip"
    assert live.json()["version"] == described.headers["etag"].strip('"')

    joined = rows_of(described.json(), live.json())
    listed = {s["id"]: s for s in http.get("/api/stations").json()}
    assert joined.keys() == listed.keys()
    for station_id, row in joined.items():
        full = listed[station_id]
        for key in ("name", "lat", "lon", "occupancy", "capacity", "online", "time_zone"):
            assert row[key] == full[key], (station_id, key)
        assert sorted(row["amenities"]) == sorted(full["amenities"])
    assert joined["cs-0300"]["district"] == "芙蓉区"


def test_an_unchanged_description_is_not_sent_again(any_central: RunningCentral) -> None:
    http = any_central.http
    first = http.get("/api/stations/map")
    etag = first.headers["etag"]
    again = http.get("/api/stations/map", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""

    # Describing a station changes the description: a new version, sent in full.
    created = http.post("/api/stations", json={"id": "cs-0301", "name": "新驿站", "capacity": 4})
    assert created.status_code == 201, created.text
    changed = http.get("/api/stations/map", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert "cs-0301" in changed.json()["id"]
    assert http.get("/api/stations/live").json()["version"] == changed.headers["etag"].strip('"')


def test_without_gzip_the_body_is_plain_json(any_central: RunningCentral) -> None:
    plain = any_central.http.get("/api/stations/map", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    assert plain.json()["count"] == len(plain.json()["id"])
    # And gzipped it is the same document.
    packed = any_central.http.get("/api/stations/map", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.json() == plain.json()


def live_rows(central: RunningCentral) -> dict[str, dict[str, Any]]:
    """The two map answers joined, as the page joins them."""
    return rows_of(
        central.http.get("/api/stations/map").json(), central.http.get("/api/stations/live").json()
    )


def listed(central: RunningCentral) -> dict[str, dict[str, Any]]:
    """The station list, read from the database on each request."""
    return {s["id"]: s for s in central.http.get("/api/stations").json()}


def same(left: dict[str, dict[str, Any]], right: dict[str, dict[str, Any]]) -> bool:
    keys = ("occupancy", "capacity", "online")
    return left.keys() == right.keys() and all(
        left[sid][key] == right[sid][key] for sid in left for key in keys
    )


def test_the_live_columns_follow_ingest_and_a_new_state_reads_the_same(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    central = any_central.service
    before = live_rows(any_central)
    assert (before["cs-0001"]["occupancy"], before["cs-0001"]["online"]) == (0, False)

    # Two entries and a birth message, through the broker and the ingest writer: the
    # kept columns move only because the batches marked the station.
    gw = Gateway(probe)
    gw.availability(True)
    gw.access("in")
    gw.access("in")
    moved = wait_until(
        lambda: (
            (rows := live_rows(any_central))["cs-0001"]["occupancy"] == 2
            and rows["cs-0001"]["online"]
            and rows
        ),
        what="the map's live columns show two inside and the gateway online",
    )
    assert same(moved, listed(any_central))
    seen = any_central.http.get("/api/stations/live").json()["last_seen"]
    assert seen[moved_index(any_central, "cs-0001")] is not None

    # What a restarted central reads once from the database is what this one kept.
    fresh = StationMapState(central.store)
    assert fresh.live().body == central.map_state.live().body
    assert fresh.described().version == central.map_state.described().version


def moved_index(central: RunningCentral, station_id: str) -> int:
    ids: list[str] = central.http.get("/api/stations/map").json()["id"]
    return ids.index(station_id)


def test_a_row_written_behind_the_state_is_found_by_the_reread(
    any_central: RunningCentral,
) -> None:
    central = any_central.service
    assert live_rows(any_central)["cs-0002"]["occupancy"] == 0
    # Written as another replica would: straight into the database, nothing marked.
    central.store.correct_occupancy("cs-0002", DEFAULT_ZONE, 2, "elsewhere", "another replica")
    assert listed(any_central)["cs-0002"]["occupancy"] == 2
    assert live_rows(any_central)["cs-0002"]["occupancy"] == 0
    assert central.map_state.reread() == 1
    assert same(live_rows(any_central), listed(any_central))
    assert live_rows(any_central)["cs-0002"]["occupancy"] == 2


def test_a_removed_gateway_leaves_the_map_at_once(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    gw = Gateway(probe)
    gw.availability(True)
    wait_until(
        lambda: live_rows(any_central)["cs-0001"]["online"],
        what="the map shows cs-0001 online",
    )
    gone = any_central.http.delete(f"/api/stations/cs-0001/gateways/{gw.gateway_id}")
    assert gone.status_code == 204, gone.text
    # No ingest batch tells the kept columns that the only gateway went: the registry
    # does, on the very next load.
    assert not live_rows(any_central)["cs-0001"]["online"]
    assert same(live_rows(any_central), listed(any_central))
