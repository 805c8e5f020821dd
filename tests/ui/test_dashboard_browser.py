"""The operator dashboard in headless Chromium against the real central and Mosquitto.

Stations are fed through the broker by a fake gateway (real MQTT client, real payloads);
every wait is on a page condition, never a sleep.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, expect

from contract.maintenance_payloads import DeviceHealth
from contract.topics import gateway_topic
from tests.central.support import Gateway, health_report
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until
from tests.ui.support import csrf_of, logged_in_page

DRAWN = "() => window.yzMap && window.yzMap.drawn"


def test_the_map_shows_every_station_and_a_scan_live(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    stations = ui_central.http.get("/api/stations").json()
    page = logged_in_page(browser, ui_central, "viewer")
    page.wait_for_function(DRAWN)
    assert page.evaluate("window.yzMap.count()") == len(stations) == 40
    expect(page.locator("#shown")).to_have_text("40")
    # Markers and clusters are on screen: the clusters' counts add up to what is not single.
    on_screen = page.evaluate(
        "document.querySelectorAll('.yz-marker').length + [...document.querySelectorAll("
        "'.yz-cluster span:first-child')].reduce((n, e) => n + Number(e.textContent), 0)"
    )
    assert on_screen == 40
    # The plain background and the scale: no tiles are configured.
    expect(page.locator(".leaflet-control-scale")).to_be_visible()
    assert page.locator(".leaflet-tile").count() == 0
    expect(page.locator("#live-state")).to_have_text("Live")
    assert page.evaluate("window.yzMap.station('cs-0001').label") == "0/12"

    gateway = Gateway(probe, "cs-0001", "gw-1")
    gateway.access("in")
    # How fast is measured by benchmarks.live_latency; here only that it arrives, live.
    page.wait_for_function("window.yzMap.station('cs-0001').label === '1/12'", timeout=5000)
    assert page.evaluate("window.yzMap.station('cs-0002').label") == "0/2", "only that marker"

    # Filters: by amenity (every third extra station has a shower), then by state.
    page.select_option("#filter-amenity", "shower")
    expect(page.locator("#shown")).to_have_text("13")
    page.select_option("#filter-amenity", "")
    # The district comes from the address: only cs-0001 has one (长沙市芙蓉区…).
    page.select_option("#filter-district", "芙蓉区")
    expect(page.locator("#shown")).to_have_text("1")
    page.select_option("#filter-district", "")
    page.select_option("#filter-state", "offline")
    expect(page.locator("#shown")).to_have_text("40")
    page.select_option("#filter-state", "space")
    expect(page.locator("#shown")).to_have_text("0")
    page.context.close()


def test_an_acknowledged_alert_updates_a_second_browser(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    operator = logged_in_page(browser, ui_central, "operator")
    watcher = logged_in_page(browser, ui_central, "viewer")
    for page in (operator, watcher):
        page.wait_for_function(DRAWN)
        expect(page.locator("#live-state")).to_have_text("Live")
        page.goto(page.url.split("#")[0] + "#alerts")
    Gateway(probe, "cs-0001", "gw-1").alarm("held_open", True)
    row = "#alerts tr[data-alert]"
    expect(operator.locator(row)).to_have_count(1)
    expect(watcher.locator(row)).to_have_attribute("data-status", "open")
    expect(watcher.locator(row)).to_have_class("fresh")
    expect(watcher.locator("#alert-count")).to_have_text("1")
    assert watcher.evaluate("window.yzCues") == 1, "one cue for one new alert"
    # A viewer sees no buttons; the operator acknowledges.
    assert watcher.locator(f"{row} button").count() == 0
    operator.click(f"{row} button[data-action=acknowledge]")
    expect(watcher.locator(row)).to_have_attribute("data-status", "acknowledged")
    alert = ui_central.http.get("/api/alerts").json()[0]
    assert alert["acknowledged_by"] == operator.locator("#me").inner_text().split(" · ")[0]
    # The station with the open alert shows as alarm on the map.
    watcher.wait_for_function("window.yzMap.station('cs-0001').state === 'alarm'")
    for page in (operator, watcher):
        page.context.close()


def test_a_viewer_cannot_unlock_and_an_operator_confirms_the_unlock(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    viewer = logged_in_page(browser, ui_central, "viewer")
    viewer.goto(viewer.url.split("#")[0] + "#station/cs-0001")
    expect(viewer.locator("#station-doors li")).to_have_count(2)
    assert viewer.locator("#station-doors button").count() == 0
    # The API itself refuses, even with the viewer's valid session and CSRF token.
    refused = viewer.request.post(
        f"{ui_central.base_url}/api/stations/cs-0001/doors/main/unlock",
        headers={"X-CSRF-Token": csrf_of(viewer)},
    )
    assert refused.status == 403

    operator = logged_in_page(browser, ui_central, "operator")
    operator.goto(operator.url.split("#")[0] + "#station/cs-0001")
    operator.once("dialog", lambda dialog: dialog.accept())
    operator.click("#station-doors button[data-door=main][data-command=unlock]")
    # No gateway runs here: the command waits for its answer (tests/ui/test_commands_browser.py
    # follows it to the end).
    expect(operator.locator("#station-commands li[data-command=unlock]")).to_have_attribute(
        "data-outcome", "pending"
    )
    expect(operator.locator("#station-message")).to_have_text(
        "Unlock main: sent, waiting for the gateway…"
    )
    command = probe.wait_for(lambda m: m.topic.endswith("/st/cs-0001/gw/gw-1/command"))
    assert b'"unlock"' in command.payload
    audit = ui_central.http.get("/api/audit").json()
    assert any(r["target"].endswith("/cs-0001/commands") and r["status"] == 202 for r in audit)
    for page in (viewer, operator):
        page.context.close()


def test_the_csv_download_matches_the_filter(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    one, two = Gateway(probe, "cs-0001", "gw-1"), Gateway(probe, "cs-0002", "gw-9")
    one.access("in")
    one.access("in", decision="denied", worker="w2002")
    two.access("in")
    one.access("out")
    http = ui_central.http
    wanted = {"station_id": "cs-0001", "decision": "granted"}
    page = logged_in_page(browser, ui_central, "viewer")
    page.goto(page.url.split("#")[0] + "#entries")
    expect(page.locator("#entries tr")).to_have_count(4)
    page.fill("#entries-filter input[name=station]", "cs-0001")
    page.select_option("#entries-filter select[name=decision]", "granted")
    page.click("#entries-filter button[type=submit]")
    expect(page.locator("#entries tr")).to_have_count(2)
    with page.expect_download() as download:
        page.click("#entries-csv")
    # For a spreadsheet: a BOM, the page's language, names beside ids.
    raw = download.value.path().read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    expected = http.get("/api/entries", params=wanted).json()
    assert [r["Event id"] for r in rows] == [e["event_id"] for e in expected]
    assert {r["Decision"] for r in rows} == {"Granted"}
    assert {r["Station id"] for r in rows} == {"cs-0001"}
    assert {r["Station"] for r in rows} == {"五一广场驿站"}
    page.context.close()


def test_the_language_switch_changes_every_label(
    browser: Browser, ui_central: RunningCentral
) -> None:
    page = logged_in_page(browser, ui_central, "viewer", lang="en")
    nav = page.locator("#nav a")
    expect(nav).to_have_text(["Map", "Alerts", "Entries", "Workers", "Reports", "Feedback"])
    page.select_option("#lang", "zh-CN")
    expect(nav).to_have_text(["地图", "告警", "通行记录", "劳动者", "报表", "反馈"])
    expect(page.locator("#logout")).to_have_text("退出登录")
    # No label is left untranslated: each shown text is a catalogue entry.
    untranslated = page.evaluate(
        "[...document.querySelectorAll('[data-i18n]')]"
        ".filter(e => e.textContent === e.dataset.i18n).map(e => e.dataset.i18n)"
    )
    assert untranslated == []
    page.reload()
    expect(nav).to_have_text(["地图", "告警", "通行记录", "劳动者", "报表", "反馈"])
    page.context.close()


def test_the_station_page_shows_its_sensors_and_a_chart_of_the_day(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    http = ui_central.http
    gateway = Gateway(probe, "cs-0001", "gw-1")
    for _ in range(3):
        gateway.access("in")
    gateway.presence(True, sensor="radar-1")
    # Before the page opens: it must learn these from the live stream's snapshot.
    gateway.door("closed")
    gateway.alarm("held_open", True, door="dorm")
    report = health_report(
        {
            "door-main": DeviceHealth(kind="door", ok=True, state={"lock": "secured"}),
            "scanner-main": DeviceHealth(kind="scanner", ok=False, detail="port not open"),
        },
        occupancy=3,
    )
    probe.publish(gateway_topic("cs-0001", "gw-1", "health"), report.to_json())

    def ready() -> bool:
        history = http.get("/api/stations/cs-0001/occupancy/history").json()["points"]
        sensors = http.get("/api/stations/cs-0001/sensors").json()
        held = [a for a in http.get("/api/alerts").json() if a["kind"] == "held_open"]
        return len(history) >= 2 and len(sensors) == 3 and len(held) == 1

    wait_until(ready, 10, "history written and sensors known")
    page = logged_in_page(browser, ui_central, "viewer")
    page.goto(page.url.split("#")[0] + "#station/cs-0001")
    chart = page.locator("#station-chart svg")
    expect(chart).to_have_attribute("data-last", "3")
    assert int(chart.get_attribute("data-points") or 0) >= 2
    expect(chart.locator("path.line")).to_have_count(1)
    expect(chart.locator(".capacity-label")).to_have_text("capacity 12")
    expect(chart.locator("title")).to_have_text("Occupancy, last 24 hours")
    # Five time ticks over the day, in the station's zone (Asia/Shanghai, HH:MM).
    ticks = chart.locator("text.time").all_text_contents()
    shanghai = ZoneInfo("Asia/Shanghai")
    now = datetime.now(shanghai)
    recent = {(now - timedelta(minutes=m)).strftime("%H:%M") for m in (0, 1)}
    assert len(ticks) == 5 and ticks[0] == ticks[4] in recent, ticks

    sensors = page.locator("#station-sensors tr")
    expect(sensors).to_have_count(3)
    door = page.locator("#station-sensors tr[data-sensor=door-main]")
    expect(door.locator("td").nth(1)).to_have_text("Door contact and lock")
    expect(door.locator("td.reading")).to_have_text("lock: secured")
    scanner = page.locator("#station-sensors tr[data-sensor=scanner-main]")
    expect(scanner.locator("td.sensor-status")).to_have_text("Not answering")
    radar = page.locator("#station-sensors tr[data-sensor=radar-1]")
    expect(radar.locator("td.reading")).to_contain_text("someone there: yes")
    # Doors show the state they were in before the page opened, and their open alarms.
    expect(page.locator("#station-doors [data-door-state=main]")).to_have_text("Closed")
    expect(page.locator("#station-doors .door-alarm")).to_have_text("Door held open")

    # Door changes and counts arrive live while the page is open.
    gateway.door("opened")
    expect(page.locator("#station-doors [data-door-state=main]")).to_have_text("Opened")
    gateway.access("in")
    expect(page.locator("#station-occupancy")).to_have_text("4 / 12")
    expect(chart).to_have_attribute("data-last", "4")

    page.select_option("#lang", "zh-CN")
    expect(door.locator("td").nth(1)).to_have_text("门磁与门锁")
    expect(door.locator("td.reading")).to_have_text("门锁: 已上锁")
    expect(page.locator("#station-chart svg title")).to_have_text("过去 24 小时人数")
    page.context.close()


def test_entries_filtered_by_reason_and_the_csv_of_exactly_that(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    gateway = Gateway(probe, "cs-0001", "gw-1")
    gateway.access("in")
    gateway.access("in", decision="denied", reason="full")
    gateway.access("in", decision="denied", reason="full", worker="w2002")
    gateway.access("in", decision="denied", reason="expired")
    page = logged_in_page(browser, ui_central, "viewer")
    page.goto(page.url.split("#")[0] + "#entries")
    expect(page.locator("#entries tr")).to_have_count(4)
    page.select_option("#entries-filter select[name=reason]", "full")
    page.click("#entries-filter button[type=submit]")
    expect(page.locator("#entries tr")).to_have_count(2)
    expect(page.locator("#entries tr td:nth-child(7)")).to_have_text(["Station full"] * 2)
    expect(page.locator("#entries tr td:nth-child(6)")).to_have_text(["Denied"] * 2)
    assert "reason=full" in (page.get_attribute("#entries-csv", "href") or "")
    with page.expect_download() as download:
        page.click("#entries-csv")
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = ui_central.http.get("/api/entries", params={"reason": "full"}).json()
    assert [r["Event id"] for r in rows] == [e["event_id"] for e in expected]
    assert len(rows) == 2 and {r["Reason"] for r in rows} == {"Station full"}
    page.context.close()


def test_a_resolution_with_a_note_reaches_a_second_browser(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    operator = logged_in_page(browser, ui_central, "operator")
    watcher = logged_in_page(browser, ui_central, "viewer", lang="zh-CN")
    for page in (operator, watcher):
        expect(page.locator("#live-state")).to_have_attribute("data-i18n", "map.live")
        page.goto(page.url.split("#")[0] + "#alerts")
    watcher.check("#alerts-resolved")
    Gateway(probe, "cs-0001", "gw-1").alarm("forced", True)
    row = "#alerts tr[data-alert]"
    expect(watcher.locator(row)).to_have_attribute("data-status", "open")
    expect(watcher.locator(f"{row} td").first).to_have_text("门被强行打开")
    expect(operator.locator(f"{row} td").first).to_have_text("Door forced open")
    name = operator.locator("#me").inner_text().split(" · ")[0]

    operator.fill(f"{row} input[name=note]", "guard checking the door")
    operator.click(f"{row} button[data-action=acknowledge]")
    expect(watcher.locator(row)).to_have_attribute("data-status", "acknowledged")
    expect(watcher.locator(f"{row} td.status")).to_have_text("已确认")
    expect(watcher.locator(f"{row} .note")).to_have_text([f"{name}: guard checking the door"])

    operator.fill(f"{row} input[name=note]", "lock bolt bent, replaced")
    operator.click(f"{row} button[data-action=resolve]")
    # The operator's open list empties; the watcher, showing resolved ones, keeps the row.
    expect(operator.locator(row)).to_have_count(0)
    expect(watcher.locator(row)).to_have_attribute("data-status", "resolved")
    expect(watcher.locator(f"{row} .note")).to_have_text(
        [f"{name}: guard checking the door", f"{name}: lock bolt bent, replaced"]
    )
    expect(watcher.locator("#alert-count")).to_have_text("")
    alert = ui_central.http.get("/api/alerts", params={"status": "resolved"}).json()[0]
    assert (alert["resolved_by"], alert["resolved_note"]) == (name, "lock bolt bent, replaced")
    for page in (operator, watcher):
        page.context.close()


def test_a_note_being_typed_survives_another_alert_arriving(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    operator = logged_in_page(browser, ui_central, "operator")
    expect(operator.locator("#live-state")).to_have_attribute("data-i18n", "map.live")
    operator.goto(operator.url.split("#")[0] + "#alerts")
    Gateway(probe, "cs-0001", "gw-1").alarm("forced", True)
    rows = operator.locator("#alerts tr[data-alert]")
    expect(rows).to_have_count(1)
    first = rows.first.get_attribute("data-alert")
    note = operator.locator(f'#alerts tr[data-alert="{first}"] input[name=note]')
    note.fill("guard on the way")

    # Another station's alarm redraws the list while the note is being typed.
    Gateway(probe, "cs-0002", "gw-1").alarm("forced", True)
    expect(rows).to_have_count(2)
    expect(note).to_have_value("guard on the way")
    expect(note).to_be_focused()

    operator.click(f'#alerts tr[data-alert="{first}"] button[data-action=resolve]')
    expect(rows).to_have_count(1)
    operator.click("#alerts tr[data-alert] button[data-action=resolve]")
    expect(rows).to_have_count(0)
    resolved = ui_central.http.get("/api/alerts", params={"status": "resolved"}).json()
    assert {a["id"]: a["resolved_note"] for a in resolved}[int(first or 0)] == "guard on the way"
    operator.context.close()


# Every cluster's and single marker's figures on screen, added up in the page.
MAP_TOTALS = """() => {
  const sum = (key) => [...document.querySelectorAll('.yz-cluster')]
    .reduce((n, e) => n + Number(e.dataset[key]), 0);
  const singles = [...document.querySelectorAll('.yz-marker')]
    .map((e) => window.yzMap.station(e.dataset.station));
  return {
    clusters: document.querySelectorAll('.yz-cluster').length,
    stations: sum('stations') + singles.length,
    inside: sum('inside') + singles.reduce((n, s) => n + s.occupancy, 0),
    offline: sum('offline') + singles.filter((s) => s.state === 'offline').length,
    full: sum('full') + singles.filter((s) => s.state === 'full').length,
  };
}"""


def test_cluster_totals_at_country_zoom_equal_the_api(
    browser: Browser, ui_central: RunningCentral, probe: MqttProbe
) -> None:
    one, two = Gateway(probe, "cs-0001", "gw-1"), Gateway(probe, "cs-0002", "gw-9")
    one.availability(True)
    two.availability(True)
    for _ in range(3):
        one.access("in")
    # cs-0002 holds two: two people make it full.
    two.access("in")
    two.access("in")
    wait_until(lambda: ui_central.http.get("/api/overview").json()["inside"] == 5)
    overview = ui_central.http.get("/api/overview").json()
    stations = ui_central.http.get("/api/stations").json()
    full = sum(1 for s in stations if s["capacity"] and s["occupancy"] >= s["capacity"])
    assert full == 1

    page = logged_in_page(browser, ui_central, "viewer")
    page.wait_for_function(DRAWN)
    page.wait_for_function("window.yzMap.station('cs-0002').state === 'full'")
    # The whole country in view: every station is in some cluster.
    page.evaluate("window.yzMap.setView(35, 105, 4)")
    page.wait_for_function("document.querySelectorAll('.yz-cluster').length > 0")
    expected = {
        "stations": len(stations),
        "inside": overview["inside"],
        "offline": overview["stations_offline"],
        "full": full,
    }
    page.wait_for_function(
        f"(() => {{ const t = ({MAP_TOTALS})(); return t.stations === {len(stations)}"
        f" && t.inside === {overview['inside']}; }})()"
    )
    totals = page.evaluate(MAP_TOTALS)
    assert {key: totals[key] for key in expected} == expected
    # A live entry moves the cluster's count of people inside, without a reload.
    one.access("in")
    page.wait_for_function(
        f"(() => ({MAP_TOTALS})().inside === {overview['inside'] + 1})()", timeout=5000
    )
    page.context.close()
