"""The public availability feed: GBFS documents, GeoJSON and nearest stations, with
nothing personal in them (`test_gbfs_feed.py` validates the GBFS files)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dashboard.core.config import FeedSettings
from dashboard.core.stations import open_at
from servicekit.settings import BrokerSettings
from tests.central.conftest import central_settings
from tests.central.support import Gateway
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central
from tests.support.waiting import wait_until


def test_feed_documents_and_nearest(any_central: RunningCentral, probe: MqttProbe) -> None:
    http = any_central.http
    gw = Gateway(probe)
    gw.availability(True)
    gw.access("in", worker="w424242")
    wait_until(lambda: http.get("/api/stations/cs-0001").json()["occupancy"] == 1, 10, "one inside")
    index = http.get("/feed/gbfs.json").json()
    assert index["ttl"] == 30 and isinstance(index["last_updated"], int)
    names = {f["name"] for f in index["data"]["zh"]["feeds"]}
    assert names == {"system_information", "station_information", "station_status"}

    info = {
        s["station_id"]: s
        for s in http.get("/feed/station_information.json").json()["data"]["stations"]
    }
    assert info["cs-0001"]["_amenities"] == ["water", "charging"]
    assert info["cs-0001"]["_opening_hours"] == "24/7"
    status = {
        s["station_id"]: s for s in http.get("/feed/station_status.json").json()["data"]["stations"]
    }
    assert status["cs-0001"]["num_docks_available"] == 11
    assert status["cs-0001"]["is_returning"] is True
    assert status["cs-0001"]["last_reported"] > 0
    assert status["cs-0002"]["is_returning"] is False, "no gateway online"

    geo = http.get("/feed/stations.geojson")
    assert geo.headers["content-type"].startswith("application/geo+json")
    (feature,) = [f for f in geo.json()["features"] if f["id"] == "cs-0001"]
    assert feature["geometry"]["coordinates"] == [112.977, 28.196]
    assert feature["properties"]["num_places_available"] == 11
    assert feature["properties"]["is_accepting_entries"] is True

    near = http.get("/feed/nearest", params={"lat": 28.19, "lon": 112.97, "limit": 3}).json()
    assert [s["station_id"] for s in near["data"]["stations"]] == ["cs-0001"]
    assert near["data"]["stations"][0]["distance_km"] < 2
    assert http.get("/feed/nearest", params={"lat": 95, "lon": 0}).status_code == 422
    assert http.get("/feed/nearest", params={"lat": 28}).status_code == 422

    for path in (
        "/feed/station_information.json",
        "/feed/station_status.json",
        "/feed/stations.geojson",
        "/feed/nearest?lat=28.19&lon=112.97",
    ):
        body = http.get(path).text
        assert "w424242" not in body and "gw-1" not in body, path


def test_opening_hours_in_the_station_time_zone() -> None:
    # 21:30 in Changsha is 13:30 UTC.
    evening = datetime(2026, 11, 23, 13, 30, tzinfo=UTC)
    assert open_at(None, "Asia/Shanghai", evening)
    assert open_at("20:00-08:00", "Asia/Shanghai", evening)
    assert not open_at("06:00-21:00", "Asia/Shanghai", evening)
    assert open_at("06:00-24:00", "Asia/Shanghai", evening)
    assert not open_at("20:00-08:00", "Asia/Shanghai", datetime(2026, 11, 23, 4, 0, tzinfo=UTC))


FEED_PATHS = (
    "/feed/gbfs.json",
    "/feed/system_information.json",
    "/feed/station_information.json",
    "/feed/station_status.json",
    "/feed/stations.geojson",
    "/feed/nearest?lat=28.19&lon=112.97",
)


def test_feed_links_ignore_a_forged_host(any_central: RunningCentral) -> None:
    """Unconfigured, the index's links are relative: a request's Host header never
    becomes a link that a shared cache would hand to the next reader."""
    http = any_central.http
    index = http.get("/feed/gbfs.json", headers={"Host": "evil.example"})
    assert index.status_code == 200
    urls = [feed["url"] for feed in index.json()["data"]["zh"]["feeds"]]
    assert "/feed/station_status.json" in urls
    assert all(url.startswith("/feed/") for url in urls), urls
    assert "evil.example" not in index.text
    for path in FEED_PATHS:
        answer = http.get(path, headers={"Host": "evil.example"})
        assert answer.headers["cache-control"] == "public, max-age=30", path
        assert "private" not in answer.headers["cache-control"]


def test_feed_links_start_with_the_configured_public_url(
    tmp_path: Path, broker_settings: BrokerSettings
) -> None:
    settings = central_settings(
        tmp_path,
        broker_settings.url,
        f"sqlite:///{tmp_path / 'feed.db'}",
        feed=FeedSettings(ttl_s=120, public_url="https://map.example.cn/yizhan/"),
    )
    for running in run_central(settings):
        index = running.http.get("/feed/gbfs.json", headers={"Host": "evil.example"})
        urls = {feed["name"]: feed["url"] for feed in index.json()["data"]["zh"]["feeds"]}
        assert urls["station_status"] == "https://map.example.cn/yizhan/feed/station_status.json"
        assert (
            urls["system_information"]
            == "https://map.example.cn/yizhan/feed/system_information.json"
        )
        assert "evil.example" not in index.text
        for path in FEED_PATHS:
            answer = running.http.get(path)
            assert answer.json().get("ttl", 120) == 120
            assert answer.headers["cache-control"] == "public, max-age=120", path
