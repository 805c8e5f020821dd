"""The base map in Chromium: AutoNavi tiles (GCJ-02) with WGS-84 stations drawn where the
tiles have them, and offline tiles from the central's own MBTiles file.

Tile servers outside are never reached: Playwright answers their requests, which it only
sees when the page's CSP let the browser make them."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Route, expect

from dashboard.core.config import HttpSettings
from dashboard.core.gcj02 import wgs84_to_gcj02
from servicekit.settings import BrokerSettings
from tests.central.conftest import STATIONS, central_settings
from tests.support.mbtiles import make_mbtiles, png
from tests.support.mosquitto import free_port
from tests.support.running_central import RunningCentral, run_central
from tests.ui.support import logged_in_page

TILE_PX = 256


def world_px(lat: float, lon: float, zoom: int) -> tuple[float, float]:
    """Web Mercator pixel of a point at a zoom level."""
    size = TILE_PX * 2**zoom
    x = (lon + 180.0) / 360.0 * size
    phi = math.radians(lat)
    y = (1.0 - math.log(math.tan(phi) + 1.0 / math.cos(phi)) / math.pi) / 2.0 * size
    return x, y


def central_with(
    tmp_path: Path, broker: BrokerSettings, http: HttpSettings
) -> Iterator[RunningCentral]:
    settings = central_settings(tmp_path, broker.url, f"sqlite:///{tmp_path / 'map.db'}", http=http)
    yield from run_central(settings, stations=STATIONS)


@pytest.fixture()
def amap_central(tmp_path: Path, broker_settings: BrokerSettings) -> Iterator[RunningCentral]:
    yield from central_with(tmp_path, broker_settings, HttpSettings(port=free_port(), tiles="amap"))


def test_the_browser_shift_matches_the_reference(
    browser: Browser, amap_central: RunningCentral
) -> None:
    page = logged_in_page(browser, amap_central, "viewer")
    rng = random.Random(15)
    points = [(rng.uniform(18, 53), rng.uniform(74, 134)) for _ in range(200)]
    points += [(28.196, 112.977), (48.8566, 2.3522), (45.0, 183.0)]
    shifted: list[list[float]] = page.evaluate(
        "(points) => points.map(([lat, lon]) => window.yzTiles.wgsToGcj(lat, lon))", points
    )
    for (lat, lon), (js_lat, js_lon) in zip(points, shifted, strict=True):
        py_lat, py_lon = wgs84_to_gcj02(lat, lon)
        assert js_lat == pytest.approx(py_lat, abs=1e-9) and js_lon == pytest.approx(
            py_lon, abs=1e-9
        ), (lat, lon)
    back: list[list[float]] = page.evaluate(
        "(points) => points.map(([lat, lon]) => "
        "window.yzTiles.gcjToWgs(...window.yzTiles.wgsToGcj(lat, lon)))",
        points,
    )
    for (lat, lon), (b_lat, b_lon) in zip(points, back, strict=True):
        assert b_lat == pytest.approx(lat, abs=1e-8) and b_lon == pytest.approx(lon, abs=1e-8)


def test_amap_tiles_and_stations_drawn_in_gcj02(
    browser: Browser, amap_central: RunningCentral
) -> None:
    # The policy is enforced: a tile request it refused would never reach the route.
    page = logged_in_page(browser, amap_central, "viewer", enforce_csp=True)
    requested: list[str] = []

    def answer(route: Route) -> None:
        requested.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=png(200))

    page.route(re.compile(r"^https://[^/]+\.autonavi\.com/.*"), answer)
    page.reload()
    expect(page.locator(".yz-marker[data-station='cs-0001']")).to_be_visible()
    expect(page.locator(".leaflet-tile-loaded").first).to_be_attached()
    assert requested, "the map asked AutoNavi for tiles"
    assert all(
        re.match(r"^https://webrd0[1-4]\.is\.autonavi\.com/appmaptile\?.*&x=\d+&y=\d+&z=\d+$", u)
        for u in requested
    ), requested[:3]

    # Where cs-0001's marker stands within the tile under it, against where its WGS-84
    # position shifted to GCJ-02 falls in that tile.
    found: dict[str, Any] = page.evaluate(
        """() => {
          const marker = document.querySelector(".yz-marker[data-station='cs-0001']").parentElement;
          const box = marker.getBoundingClientRect();
          const tiles = [...document.querySelectorAll("img.leaflet-tile")].map((img) => {
            const r = img.getBoundingClientRect();
            return { src: img.src, left: r.left, top: r.top };
          });
          return { x: box.left + 20, y: box.top + 11, tiles };
        }"""
    )
    # Leaflet blanks a tile it drops with an inline empty GIF: only AutoNavi's count.
    shown = [t for t in found["tiles"] if "autonavi.com" in t["src"]]
    zooms = {int(m.group(1)) for t in shown if (m := re.search(r"&z=(\d+)$", t["src"]))}
    # The view's own level is the deepest: the first view's tiles may linger until the
    # fitted view's have loaded.
    zoom = max(zooms)
    assert zoom >= 10, zooms
    lat, lon = 28.196, 112.977
    gx, gy = world_px(*wgs84_to_gcj02(lat, lon), zoom)
    tx, ty = int(gx // TILE_PX), int(gy // TILE_PX)
    (tile,) = [t for t in shown if t["src"].endswith(f"&x={tx}&y={ty}&z={zoom}")]
    assert found["x"] - tile["left"] == pytest.approx(gx - tx * TILE_PX, abs=1.5)
    assert found["y"] - tile["top"] == pytest.approx(gy - ty * TILE_PX, abs=1.5)
    # Drawn unshifted it would stand visibly elsewhere: the test tells the two apart.
    wx, wy = world_px(lat, lon, zoom)
    assert math.hypot(gx - wx, gy - wy) > 10


@pytest.fixture()
def offline_central(tmp_path: Path, broker_settings: BrokerSettings) -> Iterator[RunningCentral]:
    # Every tile of zoom 0 to 3: whatever view the map fits, it has tiles to draw.
    tiles = {(z, x, y): png(10 * z + 1) for z in range(4) for x in range(2**z) for y in range(2**z)}
    path = make_mbtiles(tmp_path / "offline.mbtiles", tiles, max_zoom=3)
    http = HttpSettings(port=free_port(), tiles="mbtiles", mbtiles_path=path)
    yield from central_with(tmp_path, broker_settings, http)


def test_offline_tiles_load_from_the_central(
    browser: Browser, offline_central: RunningCentral
) -> None:
    central = offline_central
    page = logged_in_page(browser, central, "viewer", enforce_csp=True)
    outside: list[str] = []

    def note(url: str) -> None:
        if not url.startswith(central.base_url):
            outside.append(url)

    page.on("request", lambda request: note(request.url))
    page.reload()
    expect(page.locator(".yz-marker[data-station='cs-0001']")).to_be_visible()
    expect(page.locator("img.leaflet-tile-loaded").first).to_be_attached(timeout=10_000)
    sources = page.eval_on_selector_all("img.leaflet-tile-loaded", "els => els.map(e => e.src)")
    # Leaflet blanks a tile it drops (zooming to the stations) with an inline empty GIF.
    sources = [s for s in sources if not s.startswith("data:")]
    assert sources and all(
        re.match(rf"^{re.escape(central.base_url)}/tiles/\d+/\d+/\d+\.png$", s) for s in sources
    ), sources[:3]
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("© test tiles")
    assert outside == []
