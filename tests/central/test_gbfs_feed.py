"""The public feed is GBFS 2.3: every file it lists validates against MobilityData's
official JSON Schemas (vendored in `gbfs_schema/`), its links start with the configured
public URL whatever Host a request names, and places and people map onto GBFS as
`dashboard/web/gbfs.py` documents."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft7Validator, FormatChecker

from dashboard.core.config import FeedSettings
from dashboard.core.stations import StationInput
from dashboard.web.gbfs import GBFS_FEEDS
from servicekit.settings import BrokerSettings
from tests.central.conftest import STATIONS, central_settings
from tests.central.support import Gateway
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central
from tests.support.waiting import wait_until

SCHEMAS = Path(__file__).parent / "gbfs_schema" / "v2.3"
PUBLIC_URL = "https://map.example.cn/yizhan"
EXTRA_STATIONS = [
    # Somewhere, but without a capacity: GBFS leaves its docks out rather than null.
    StationInput(id="cs-0003", name="橘子洲驿站", lat=28.17, lon=112.96),
    # Nowhere yet: GBFS requires a location, so its station files leave it out.
    StationInput(id="cs-0004", name="待定驿站", capacity=6),
]


def validator(feed_name: str) -> Draft7Validator:
    schema = json.loads((SCHEMAS / f"{feed_name}.json").read_text("utf-8"))
    return Draft7Validator(schema, format_checker=FormatChecker())


def problems(feed_name: str, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator(feed_name).iter_errors(document)
    ]


def nulls(value: object, path: str = "") -> list[str]:
    """Where a document holds null."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nulls(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls(v, f"{path}/{i}")]
    return []


@pytest.fixture()
def gbfs_central(
    tmp_path: Path, broker_settings: BrokerSettings, database_url: str
) -> Iterator[RunningCentral]:
    """A central with a public URL and a described system, on each backend."""
    settings = central_settings(
        tmp_path,
        broker_settings.url,
        database_url,
        feed=FeedSettings(
            public_url=f"{PUBLIC_URL}/",
            language="zh-CN",
            system_id="yizhan-changsha",
            system_name="长沙户外劳动者驿站",
            operator="长沙市总工会",
            contact_email="feed@example.cn",
        ),
    )
    yield from run_central(settings, stations=[*STATIONS, *EXTRA_STATIONS])


def test_every_feed_file_is_valid_gbfs_2_3(gbfs_central: RunningCentral, probe: MqttProbe) -> None:
    http = gbfs_central.http
    gw = Gateway(probe)
    gw.availability(True)
    gw.access("in", worker="w424242")
    wait_until(lambda: http.get("/api/stations/cs-0001").json()["occupancy"] == 1, 10, "one inside")

    discovery = http.get("/feed/gbfs.json", headers={"Host": "evil.example"}).json()
    assert problems("gbfs", discovery) == []
    feeds = {feed["name"]: feed["url"] for feed in discovery["data"]["zh-CN"]["feeds"]}
    assert tuple(feeds) == GBFS_FEEDS
    documents: dict[str, dict[str, Any]] = {"gbfs": discovery}
    for name, url in feeds.items():
        # GBFS readers need absolute URLs; they start where the operator said.
        assert url == f"{PUBLIC_URL}/feed/{name}.json"
        document = http.get(urlsplit(url).path.removeprefix("/yizhan")).json()
        assert problems(name, document) == [], name
        assert nulls(document) == [], name
        assert document["version"] == "2.3" and document["ttl"] == 30
        documents[name] = document

    system = documents["system_information"]["data"]
    assert system == {
        "system_id": "yizhan-changsha",
        "language": "zh-CN",
        "name": "长沙户外劳动者驿站",
        "timezone": "Asia/Shanghai",
        "operator": "长沙市总工会",
        "url": PUBLIC_URL,
        "feed_contact_email": "feed@example.cn",
    }

    info = {s["station_id"]: s for s in documents["station_information"]["data"]["stations"]}
    assert set(info) == {"cs-0001", "cs-0002", "cs-0003"}, "cs-0004 has no location"
    assert info["cs-0001"]["capacity"] == 12
    assert info["cs-0001"]["address"] == "长沙市芙蓉区五一大道 1 号"
    assert info["cs-0001"]["_amenities"] == ["water", "charging"]
    assert info["cs-0001"]["_opening_hours"] == "24/7"
    assert "address" not in info["cs-0002"], "no address: left out, never null"
    assert "capacity" not in info["cs-0003"]

    status = {s["station_id"]: s for s in documents["station_status"]["data"]["stations"]}
    assert set(status) == set(info)
    one = status["cs-0001"]
    assert one["num_docks_available"] == 11, "free places are docks"
    assert one["num_bikes_available"] == 0, "nothing is rented out of a rest station"
    assert one["_num_people_present"] == 1
    assert one["is_installed"] and one["is_renting"] and one["is_returning"]
    assert one["last_reported"] > 1_700_000_000
    never = status["cs-0002"]
    assert never["is_installed"] is False, "no gateway of cs-0002 ever reported"
    assert never["is_renting"] is False and never["is_returning"] is False
    assert never["num_docks_available"] == 2
    assert "num_docks_available" not in status["cs-0003"]

    for document in documents.values():
        text = json.dumps(document, ensure_ascii=False)
        assert "w424242" not in text and "gw-1" not in text and "evil.example" not in text


def test_the_schemas_catch_what_the_old_feed_did(gbfs_central: RunningCentral) -> None:
    """The validation can fail: the shapes the feed used to publish are refused."""
    http = gbfs_central.http
    discovery = http.get("/feed/gbfs.json").json()
    with_geojson = copy.deepcopy(discovery)
    with_geojson["data"]["zh-CN"]["feeds"].append(
        {"name": "stations_geojson", "url": f"{PUBLIC_URL}/feed/stations.geojson"}
    )
    assert problems("gbfs", with_geojson), "a feed name GBFS does not know"
    without_system = copy.deepcopy(discovery)
    without_system["data"]["zh-CN"]["feeds"] = [
        f for f in discovery["data"]["zh-CN"]["feeds"] if f["name"] != "system_information"
    ]
    assert problems("gbfs", without_system), "system_information is required"

    information = http.get("/feed/station_information.json").json()
    information["data"]["stations"][0]["address"] = None
    assert problems("station_information", information), "address: null"
    status = http.get("/feed/station_status.json").json()
    del status["data"]["stations"][0]["is_returning"]
    assert problems("station_status", status), "is_returning is required"


def test_links_ignore_forged_host_headers(gbfs_central: RunningCentral) -> None:
    http = gbfs_central.http
    for headers in (
        {"Host": "evil.example"},
        {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"},
        {"Forwarded": "host=evil.example;proto=http"},
    ):
        for path in ("/feed/gbfs.json", "/feed/system_information.json"):
            answer = http.get(path, headers=headers)
            assert answer.status_code == 200, (path, headers)
            assert "evil.example" not in answer.text, (path, headers)
            assert answer.headers["cache-control"] == "public, max-age=30"
        urls = [
            f["url"]
            for f in http.get("/feed/gbfs.json", headers=headers).json()["data"]["zh-CN"]["feeds"]
        ]
        assert all(url.startswith(f"{PUBLIC_URL}/feed/") for url in urls), urls
