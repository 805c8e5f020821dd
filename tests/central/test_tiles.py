"""The map's base layer: presets, the tile URLs and datum the map page is given, the CSP
that allows exactly their hosts, and offline tiles served from an MBTiles file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from dashboard.core.config import HttpSettings
from dashboard.core.tile_presets import base_map
from dashboard.storage.mbtiles import MbtilesFile, tms_row
from dashboard.web.security_headers import page_policy
from dashboard.web.tiles import base_map_of
from servicekit.settings import BrokerSettings, ConfigError
from tests.central.conftest import central_settings
from tests.support.mbtiles import make_mbtiles, png
from tests.support.mosquitto import free_port
from tests.support.running_central import run_central

TILES = {(0, 0, 0): png(10), (1, 0, 0): png(20), (1, 0, 1): png(30), (2, 3, 1): png(40)}


def test_tms_rows_count_from_the_south() -> None:
    assert tms_row(0, 0) == 0
    assert tms_row(1, 0) == 1 and tms_row(1, 1) == 0
    assert tms_row(3, 2) == 5


def test_each_preset_names_its_tiles_and_only_their_hosts() -> None:
    osm = base_map("osm")
    assert osm.tile_url == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert osm.datum == "wgs84"
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in page_policy(osm.image_origins)

    tianditu = base_map("tianditu", tianditu_key="abc123")
    urls = [layer.url for layer in tianditu.layers]
    assert [("vec_w/" in u, "cva_w/" in u) for u in urls] == [(True, False), (False, True)]
    assert all(u.startswith("https://t{s}.tianditu.gov.cn/") and "tk=abc123" in u for u in urls)
    assert {layer.subdomains for layer in tianditu.layers} == {"01234567"}
    policy = page_policy(tianditu.image_origins)
    assert all(f"https://t{n}.tianditu.gov.cn" in policy for n in range(8))
    assert "autonavi" not in policy and "openstreetmap" not in policy

    amap = base_map("amap")
    assert amap.datum == "gcj02"
    assert amap.tile_url.startswith("https://webrd0{s}.is.autonavi.com/appmaptile?")
    assert amap.layers[0].subdomains == "1234"
    assert "https://webrd01.is.autonavi.com" in page_policy(amap.image_origins)

    none = base_map("none")
    assert none.layers == () and none.image_origins == ()
    assert "img-src 'self' data:;" in page_policy(none.image_origins)

    custom = base_map("custom", tile_url="https://{s}.tiles.example.cn/{z}/{x}/{y}.png")
    assert custom.image_origins == ("https://*.tiles.example.cn",)
    tencent = base_map(
        "custom", tile_url="https://rt0.map.gtimg.com/tile?z={z}&x={x}&y={y}", tile_datum="gcj02"
    )
    assert tencent.datum == "gcj02" and tencent.image_origins == ("https://rt0.map.gtimg.com",)


def test_incomplete_presets_are_refused() -> None:
    with pytest.raises(ValidationError, match="tianditu_key"):
        HttpSettings(tiles="tianditu")
    with pytest.raises(ValidationError, match="mbtiles_path"):
        HttpSettings(tiles="mbtiles")
    with pytest.raises(ValidationError, match="choose one"):
        HttpSettings(tiles="osm", tile_url="https://tiles.example/{z}/{x}/{y}.png")
    with pytest.raises(ValidationError, match="tile_url"):
        HttpSettings(tiles="custom")
    with pytest.raises(ValidationError):
        HttpSettings.model_validate({"tiles": "google"})
    assert HttpSettings(tile_url="https://tiles.example/{z}/{x}/{y}.png").base_preset == "custom"
    assert HttpSettings().base_preset == "none"


def test_a_wrong_mbtiles_file_stops_the_central_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no file"):
        base_map_of(HttpSettings(tiles="mbtiles", mbtiles_path=tmp_path / "absent.mbtiles"))
    not_sqlite = tmp_path / "text.mbtiles"
    not_sqlite.write_text("hello, this is not a database at all" * 10)
    with pytest.raises(ConfigError, match="not an MBTiles file"):
        base_map_of(HttpSettings(tiles="mbtiles", mbtiles_path=not_sqlite))
    vector = make_mbtiles(tmp_path / "vector.mbtiles", {}, fmt="pbf")
    with pytest.raises(ConfigError, match="raster"):
        base_map_of(HttpSettings(tiles="mbtiles", mbtiles_path=vector))


def test_the_map_page_gets_the_amap_preset_and_its_csp(
    tmp_path: Path, broker_settings: BrokerSettings
) -> None:
    settings = central_settings(
        tmp_path,
        broker_settings.url,
        f"sqlite:///{tmp_path / 'amap.db'}",
        http=HttpSettings(port=free_port(), tiles="amap"),
    )
    for running in run_central(settings):
        config = running.http.get("/ui/config.json").json()
        assert config["tiles"]["preset"] == "amap"
        assert config["tiles"]["datum"] == "gcj02"
        assert config["tile_url"].startswith("https://webrd0{s}.is.autonavi.com/")
        page = running.http.get("/ui/")
        policy = page.headers["content-security-policy"]
        assert "https://webrd04.is.autonavi.com" in policy
        assert "openstreetmap" not in policy and "tianditu" not in policy
        assert running.http.get("/tiles/0/0/0.png").status_code == 404, "no MBTiles: no route"


def test_offline_tiles_from_an_mbtiles_file(
    tmp_path: Path, broker_settings: BrokerSettings
) -> None:
    path = make_mbtiles(tmp_path / "city.mbtiles", TILES)
    settings = central_settings(
        tmp_path,
        broker_settings.url,
        f"sqlite:///{tmp_path / 'mbtiles.db'}",
        http=HttpSettings(port=free_port(), tiles="mbtiles", mbtiles_path=path),
    )
    for running in run_central(settings):
        config = running.http.get("/ui/config.json").json()
        assert config["tiles"]["layers"] == [
            {
                "url": "/tiles/{z}/{x}/{y}.png",
                "subdomains": "",
                "attribution": "© test tiles",
                "max_zoom": 2,
            }
        ]
        policy = running.http.get("/ui/").headers["content-security-policy"]
        assert "img-src 'self' data:;" in policy, "own tiles need no other host"

        # Anyone may fetch tiles, as they may the page's scripts: no session needed.
        with httpx.Client(base_url=running.base_url, timeout=10) as anonymous:
            for (z, x, y), data in TILES.items():
                answer = anonymous.get(f"/tiles/{z}/{x}/{y}.png")
                assert answer.status_code == 200, (z, x, y)
                assert answer.content == data, "the TMS row was flipped to the XYZ one"
                assert answer.headers["content-type"] == "image/png"
                assert answer.headers["cache-control"] == "public, max-age=86400"

        missing = running.http.get("/tiles/2/0/0.png")
        assert missing.status_code == 404 and "no tile 2/0/0" in missing.json()["detail"]
        assert running.http.get("/tiles/1/5/0.png").status_code == 404, "outside the grid"
        assert running.http.get("/tiles/0/0/0.jpg").status_code == 404, "tiles are png"
        for bad in (
            "/tiles/a/0/0.png",
            "/tiles/0/-1/0.png",
            "/tiles/31/0/0.png",
            "/tiles/0/0/0.gif",
            "/tiles/0/0/x.png",
        ):
            answer = running.http.get(bad)
            assert answer.status_code == 422, bad
            assert answer.json()["detail"], bad

        # The file is changed under the running central: a reason per tile, no crash.
        other = sqlite3.connect(path)
        other.execute("ALTER TABLE tiles RENAME TO old_tiles")
        other.commit()
        other.close()
        broken = running.http.get("/tiles/0/0/0.png")
        assert broken.status_code == 503
        assert "the tile file cannot be read" in broken.json()["detail"]
        assert running.http.get("/healthz").status_code == 200


def test_the_reader_refuses_nothing_it_should_serve(tmp_path: Path) -> None:
    tiles = MbtilesFile(make_mbtiles(tmp_path / "t.mbtiles", TILES))
    try:
        assert tiles.info.format == "png" and tiles.info.max_zoom == 2
        assert tiles.tile(2, 3, 1) == TILES[(2, 3, 1)]
        assert tiles.tile(2, 3, 2) is None
    finally:
        tiles.close()
