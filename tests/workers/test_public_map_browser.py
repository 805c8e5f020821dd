"""The workers' public map, `/map`, on a phone-sized Chromium: nearest station with room
first, links that open the phone's map apps at the right place, one language at a time."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, Geolocation, Page, ViewportSize, expect

from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.workers.support import bring_online, fill

PHONE = ViewportSize(width=390, height=844)
FURONG = Geolocation(latitude=28.196, longitude=112.977)
"""Standing at cs-0001, 五一广场驿站."""
UI_TEXT = "h1, #where, #locate, .badge, .distance, .hours, .amenities, .navigate"
"""What the page itself says (station names and addresses are the operators' data)."""
CJK = re.compile(r"[\u3000-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")


def ui_text(page: Page) -> str:
    return "\n".join(page.locator(UI_TEXT).all_inner_texts())


def query_of(href: str, scheme_host_path: str) -> dict[str, str]:
    """The query of a link, after checking where it goes."""
    parts = urlsplit(href)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == scheme_host_path, href
    return {key: values[0] for key, values in parse_qs(parts.query, strict_parsing=True).items()}


def test_the_map_lists_the_nearest_station_with_room_first(
    browser: Browser, central: RunningCentral, probe: MqttProbe
) -> None:
    bring_online(central, probe, "cs-0001", "cs-0002", "sz-0001")
    context = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        geolocation=FURONG,
        permissions=["geolocation"],
    )
    page = context.new_page()
    try:
        answer = page.goto(f"{central.base_url}/map")
        assert answer is not None and answer.status == 200
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        expect(page.locator("#where")).to_have_text("离您最近、有空位的驿站在前")
        stations = page.locator("#stations li")
        # The one at the door, then Yuelu 4 km off; Shenzhen is 640 km away.
        expect(stations).to_have_count(2)
        assert stations.first.get_attribute("data-station") == "cs-0001"
        expect(stations.first.locator(".distance")).to_have_text(re.compile(r"^距您 \d+ 米$"))

        # Full, the station at the door gives way to the next one with room. (The feed may
        # be cached for its ttl: a step down the street asks again.)
        fill(central, "cs-0001", 12)
        context.set_geolocation(Geolocation(latitude=28.19, longitude=112.97))
        page.reload()
        expect(stations).to_have_count(1)
        expect(stations.first).to_have_attribute("data-station", "cs-0002")
        first = stations.first
        expect(first.locator(".badge")).to_have_text("空位 8 个")
        expect(first.locator(".distance")).to_have_text(re.compile(r"^距您 [34]\.\d 公里$"))
        expect(first.locator(".hours")).to_have_text("24 小时开放")

        amap = query_of(
            first.locator("a.amap").get_attribute("href") or "", "https://uri.amap.com/marker"
        )
        assert amap["position"] == "112.938,28.183"  # lon,lat
        assert amap["coordinate"] == "wgs84" and amap["name"] == "岳麓山驿站"
        baidu = query_of(
            first.locator("a.baidu").get_attribute("href") or "",
            "https://api.map.baidu.com/marker",
        )
        assert baidu["location"] == "28.183,112.938"  # lat,lon
        assert baidu["coord_type"] == "wgs84" and baidu["output"] == "html"
        assert baidu["title"] == "岳麓山驿站" and baidu["src"].startswith("webapp.")
        apple = query_of(
            first.locator("a.apple").get_attribute("href") or "", "https://maps.apple.com/"
        )
        assert apple["ll"] == "28.183,112.938" and apple["q"] == "岳麓山驿站"

        # Chinese only, then English only once switched, and still after a reload.
        assert not LATIN.search(ui_text(page)), ui_text(page)
        page.click("#lang")
        expect(page.locator("h1")).to_have_text("Rest stations near you")
        expect(first.locator(".badge")).to_have_text("8 free")
        assert not CJK.search(ui_text(page)), ui_text(page)
        page.reload()
        expect(page.locator("#where")).to_have_text("Nearest stations with free places first")
        expect(page.locator("#stations li").first.locator(".nav.amap")).to_have_text("Amap")
        assert not CJK.search(ui_text(page)), ui_text(page)
    finally:
        context.close()


def test_without_a_position_the_map_lists_by_name_with_a_filter(
    browser: Browser, central: RunningCentral
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True)  # geolocation refused
    page = context.new_page()
    try:
        page.goto(f"{central.base_url}/map")
        expect(page.locator("#where")).to_have_text("无法获取位置：驿站按名称排列")
        expect(page.locator("#stations li")).to_have_count(3)
        expect(page.locator("#stations .distance")).to_have_count(0)
        # Offline stations (no gateway has reported) are listed, marked.
        expect(page.locator("#stations .badge").first).to_have_text("暂停服务")
        page.fill("#filter", "深圳")
        expect(page.locator("#stations li")).to_have_count(1)
        expect(page.locator("#stations li")).to_have_attribute("data-station", "sz-0001")
        page.fill("#filter", "no such place")
        expect(page.locator("#empty")).to_be_visible()
        expect(page.locator("#empty")).to_have_text("没有找到驿站")
    finally:
        context.close()
