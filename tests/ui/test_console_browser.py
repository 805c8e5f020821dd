"""The operator console in headless Chromium: totals, the station list in step with the
map, the address that keeps a view, the entries log by name and in station time, live,
and the night theme. Real central, real Mosquitto, a fake gateway publishing real
payloads; every wait is on a page condition."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Page, expect

from contract.payloads import utc_now
from tests.central.support import Gateway
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.ui.support import logged_in_page

DRAWN = "() => window.yzMap && window.yzMap.drawn"
LIVE = "#live-state"
SELECTED = re.compile(r"\bselected\b")


def row(page: Page, station_id: str) -> str:
    return f"#station-rows tr[data-station={station_id}]"


def test_list_and_map_stay_in_step_under_live_updates(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    page = logged_in_page(browser, ui_central, "viewer")
    page.wait_for_function(DRAWN)
    expect(page.locator(LIVE)).to_have_text("Live")
    expect(page.locator("#station-rows tr")).to_have_count(40)
    expect(page.locator("#total-offline")).to_have_text("40")
    expect(page.locator("#total-inside")).to_have_text("0")
    expect(page.locator("#total-entries")).to_have_text("0")

    # Chosen in the list: the marker is chosen too and brought out of its cluster.
    page.click(f"{row(page, 'cs-0001')} button.link")
    expect(page.locator(row(page, "cs-0001"))).to_have_class(SELECTED)
    marker = page.locator(".yz-marker[data-station=cs-0001]")
    expect(marker).to_have_class(re.compile(r"\byz-selected\b"))
    assert "station=cs-0001" in page.url
    # Zoomed in to show it: names are on the markers now.
    expect(marker.locator(".yz-name")).to_have_text("五一广场驿站")
    expect(marker.locator(".yz-name")).to_be_visible()

    # A live entry changes the marker, the list's row and the totals together.
    gateway = Gateway(probe, "cs-0001", "gw-1")
    gateway.access("in")
    page.wait_for_function("window.yzMap.station('cs-0001').label === '1/12'", timeout=5000)
    expect(page.locator(f"{row(page, 'cs-0001')} td:nth-child(3)")).to_have_text("1 / 12")
    expect(page.locator("#total-inside")).to_have_text("1")
    expect(page.locator("#total-entries")).to_have_text("1")
    # The station's gateway comes online: the list's state and the marker's follow.
    gateway.availability(True)
    expect(page.locator(row(page, "cs-0001"))).to_have_attribute("data-state", "space")
    expect(page.locator("#total-online")).to_have_text("1")
    for _ in range(9):
        gateway.access("in")
    expect(page.locator(row(page, "cs-0001"))).to_have_attribute("data-state", "busy")
    expect(marker).to_have_attribute("data-state", "busy")

    # Chosen on the map (its marker is off screen at this zoom: Leaflet's own click
    # event, as a tap would fire it): the list follows.
    page.evaluate("window.yzMap.get('cs-0002').marker.fire('click')")
    expect(page.locator(row(page, "cs-0002"))).to_have_class(SELECTED)
    expect(page.locator(row(page, "cs-0001"))).not_to_have_class(SELECTED)
    assert page.evaluate("window.yzMap.selected") == "cs-0002"

    # Sorted by occupancy, fullest first; filtered by state: both views narrow alike.
    page.click("#station-list th[data-sort=occupancy]")
    page.click("#station-list th[data-sort=occupancy]")
    expect(page.locator("#station-rows tr").first).to_have_attribute("data-station", "cs-0001")
    page.select_option("#filter-state", "busy")
    expect(page.locator("#station-rows tr")).to_have_count(1)
    expect(page.locator("#shown")).to_have_text("1")

    # The address keeps the view: a reload (or a shared link) shows the same.
    assert "state=busy" in page.url and "sort=-occupancy" in page.url
    page.reload()
    page.wait_for_function(DRAWN)
    expect(page.locator("#filter-state")).to_have_value("busy")
    expect(page.locator("#station-rows tr")).to_have_count(1)
    expect(page.locator(row(page, "cs-0001"))).to_be_visible()
    page.select_option("#filter-state", "")
    expect(page.locator(row(page, "cs-0002"))).to_have_class(SELECTED)
    # Found by name in the list's search box.
    page.fill("#filter-text", "岳麓")
    expect(page.locator("#station-rows tr")).to_have_count(1)
    page.fill("#filter-text", "没有这个驿站")
    expect(page.locator("#list-none")).to_be_visible()
    page.context.close()


def test_a_station_found_in_the_list_centres_the_map_on_it(
    browser: Browser, ui_central: RunningCentral
) -> None:
    page = logged_in_page(browser, ui_central, "viewer", lang="zh-CN")
    page.wait_for_function(DRAWN)
    # Looking at another city: none of the stations is in view, so the list is empty.
    page.evaluate("window.yzMap.setView(39.90, 116.40, 12)")
    expect(page.locator("#station-rows tr")).to_have_count(0)
    # A search looks everywhere, not only in view; choosing the one found brings the
    # map to it, zoomed in far enough that its marker stands alone.
    page.fill("#filter-text", "驿站 137")
    expect(page.locator("#station-rows tr")).to_have_count(1)
    page.click(f"{row(page, 'cs-0137')} button.link")
    view = page.evaluate("window.yzMap.view()")
    assert abs(view["lat"] - 28.16) < 1e-6 and abs(view["lon"] - 113.05) < 1e-6, view
    assert view["zoom"] > 12, view
    marker = page.locator(".yz-marker[data-station=cs-0137]")
    expect(marker).to_be_visible()
    expect(marker).to_have_class(re.compile(r"\byz-selected\b"))
    expect(page.locator(row(page, "cs-0137"))).to_have_class(SELECTED)
    assert "station=cs-0137" in page.url
    page.context.close()


def test_a_station_found_by_its_chinese_name_and_entries_arrive_live(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    worker = ui_central.http.post(
        "/api/workers", json={"display_name": "王芳", "platform": "meituan"}
    ).json()
    one, two = Gateway(probe, "cs-0001", "gw-1"), Gateway(probe, "cs-0002", "gw-9")
    one.access("in", worker=worker["worker_id"])
    two.access("in", worker=None)
    page = logged_in_page(browser, ui_central, "viewer", lang="zh-CN")
    page.goto(page.url.split("#")[0] + "#entries")
    expect(page.locator("#entries tr")).to_have_count(2)
    page.fill("#entries-filter input[name=station]", "五一广场")
    page.click("#entries-filter button[type=submit]")
    expect(page.locator("#entries tr")).to_have_count(1)
    expect(page.locator("#entries tr td:nth-child(2)")).to_have_text("五一广场驿站")
    expect(page.locator("#entries tr td:nth-child(5)")).to_have_text("王芳")
    assert "#entries?station=" in page.url
    # A name no station has: no rows, and the page says so.
    page.fill("#entries-filter input[name=station]", "火星驿站")
    page.click("#entries-filter button[type=submit]")
    expect(page.locator("#entries-none")).to_be_visible()
    expect(page.locator("#entries-none")).to_have_text("没有符合条件的通行记录")
    expect(page.locator("#entries tr")).to_have_count(0)

    # Back to the station: a new entry there appears without a reload.
    page.fill("#entries-filter input[name=station]", "五一广场")
    page.click("#entries-filter button[type=submit]")
    expect(page.locator("#entries tr")).to_have_count(1)
    expect(page.locator(LIVE)).to_have_text("实时")
    one.access("in", decision="denied", reason="full", worker=worker["worker_id"])
    expect(page.locator("#entries tr")).to_have_count(2)
    expect(page.locator("#entries tr").first).to_have_attribute("data-reason", "full")
    expect(page.locator("#entries-none")).to_be_hidden()
    # One at another station does not join this filtered list.
    two.access("in", worker=None)
    expect(page.locator("#total-entries")).to_have_text("3")
    expect(page.locator("#entries tr")).to_have_count(2)
    page.context.close()


def test_times_are_shown_in_station_time_whatever_the_browser_zone(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    at = (utc_now() - timedelta(hours=1)).replace(microsecond=0)
    Gateway(probe, "cs-0001", "gw-1").access("in", at=at)
    page = logged_in_page(browser, ui_central, "viewer", timezone_id="America/New_York")
    page.goto(page.url.split("#")[0] + "#entries")
    expect(page.locator("#entries tr")).to_have_count(1)
    expect(page.locator("#entries-tz")).to_have_text("Times in station time (Asia/Shanghai)")
    shanghai = at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M:%S")
    new_york = at.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M:%S")
    shown = page.locator("#entries tr td.at").inner_text()
    assert shanghai in shown and new_york not in shown, shown
    # From/Until are read as station time as well: an hour window around the entry.
    start = at.astimezone(ZoneInfo("Asia/Shanghai")) - timedelta(minutes=30)
    page.fill("#entries-filter input[name=since]", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill(
        "#entries-filter input[name=until]", (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    )
    page.click("#entries-filter button[type=submit]")
    expect(page.locator("#entries tr")).to_have_count(1)
    later = start + timedelta(hours=1)
    page.fill("#entries-filter input[name=since]", later.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#entries-filter input[name=until]", "")
    page.click("#entries-filter button[type=submit]")
    expect(page.locator("#entries-none")).to_be_visible()
    assert datetime.now(UTC) > at
    page.context.close()


def test_the_night_theme_follows_the_system_and_remembers_a_choice(
    browser: Browser, ui_central: RunningCentral
) -> None:
    page = logged_in_page(browser, ui_central, "viewer", color_scheme="dark")
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "dark")
    expect(page.locator("#theme-night")).to_be_checked()
    page.uncheck("#theme-night")
    expect(html).to_have_attribute("data-theme", "light")
    page.reload()
    expect(html).to_have_attribute("data-theme", "light")
    page.check("#theme-night")
    expect(html).to_have_attribute("data-theme", "dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 23, 29)", background
    page.context.close()


def test_a_flapping_full_station_is_one_alert_counted_in_station_time(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    page = logged_in_page(browser, ui_central, "viewer", timezone_id="Europe/London")
    page.wait_for_function(DRAWN)
    expect(page.locator(LIVE)).to_have_text("Live")
    page.goto(page.url.split("#")[0] + "#alerts")
    small = Gateway(probe, "cs-0002", "gw-9")  # capacity 2
    small.access("in")
    small.access("in")
    alert = page.locator("#alerts tr[data-kind=station_full]")
    expect(alert).to_have_count(1)
    expect(page.locator("#total-alerts")).to_have_text("1")
    small.access("out")
    expect(alert).to_have_count(0)
    expect(page.locator("#total-alerts")).to_have_text("0")
    small.access("in")
    expect(alert).to_have_count(1)
    expect(alert.locator(".repeats")).to_have_text("2 times")
    # Named, and opened at the station's clock (Shanghai), not the browser's (London).
    expect(alert.locator("td:nth-child(2)")).to_have_text("岳麓山驿站")
    opened = ui_central.http.get("/api/alerts").json()[0]["opened_at"]
    at = datetime.fromisoformat(opened.replace("Z", "+00:00"))
    shown = alert.locator("td:nth-child(4)").inner_text()
    assert at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M:%S") in shown, shown
    page.context.close()


CUT_CELLS = """() => {
  const list = document.getElementById('station-list');
  const cut = [...list.querySelectorAll('th, td')]
    .filter((cell) => cell.offsetParent !== null && cell.scrollWidth > cell.clientWidth + 1)
    .map((cell) => cell.textContent);
  if (list.scrollWidth > list.clientWidth + 1) cut.push('the list is wider than its box');
  return cut;
}"""


def test_the_station_list_shows_every_column_whole_on_a_desk_and_a_phone(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    gateway = Gateway(probe, "cs-0001", "gw-1")
    gateway.availability(True)
    for _ in range(12):
        gateway.access("in")
    for lang in ("zh-CN", "en"):
        page = logged_in_page(browser, ui_central, "viewer", lang=lang)
        page.wait_for_function(DRAWN)
        expect(page.locator(f"{row(page, 'cs-0001')} td:nth-child(3)")).to_have_text("12 / 12")
        expect(page.locator(f"{row(page, 'cs-0001')} td:nth-child(5)")).not_to_be_empty()
        assert page.evaluate(CUT_CELLS) == [], lang
        # A phone: the list under the map, without district and last seen.
        page.set_viewport_size({"width": 390, "height": 844})
        expect(page.locator("#station-list th[data-sort=district]")).to_be_hidden()
        expect(page.locator("#station-list th[data-sort=last_seen]")).to_be_hidden()
        expect(page.locator("#station-list th[data-sort=alerts]")).to_be_visible()
        assert page.evaluate(CUT_CELLS) == [], lang
        page.context.close()
