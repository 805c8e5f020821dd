"""Screenshots of the dashboard for the README: `python -m tests.ui.screenshots`.

Starts a central (no broker needed) with the UI tests' stations, gives them counts, an
alarm, a door in lockdown, a few entries, sensors and a day of occupancy history, logs
Chromium in, and writes the map, a station page and the alerts panel in English and
Chinese to `docs/screenshots/` (1280 pixels wide; the station page as long as it is),
the reports (with a few workers' reports and suggestions) and the workers view, then on
a phone (390 pixels wide) the workers' public map, a pass page, and a worker reporting a
broken door from it.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Browser, expect

from contract.maintenance_payloads import DeviceHealth
from contract.payloads import (
    AccessEvent,
    AlarmEvent,
    Availability,
    DoorEvent,
    PresenceEvent,
    format_utc,
    utc_now,
)
from dashboard.central import Central, serve_in_thread
from dashboard.core.changes import BatchResult
from dashboard.core.config import CentralSettings, DatabaseSettings, HttpSettings
from dashboard.core.worker_voice import Category, FeedbackKind, FeedbackStatus
from dashboard.core.workers import WorkerInput
from dashboard.ingest import batch
from dashboard.storage import worker_feedback
from dashboard.storage.operators import Role
from tests.central.conftest import STATIONS
from tests.central.support import health_report
from tests.support.browser import chromium
from tests.ui.conftest import spread_stations

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def populate(central: Central) -> None:
    """Counts, gateways online, one alarm, a few entries, a gateway's health report and a
    day of occupancy history, straight into the store."""
    rng = random.Random(3)
    events: list[object] = []
    for station in central.store.stations():
        events.append(Availability(station_id=station.id, gateway_id="gw-1", online=True))
    for seq, station in enumerate(central.store.stations()[:30], start=1):
        for n in range(rng.randrange(0, (station.capacity or 4) + 1)):
            events.append(
                AccessEvent(
                    station_id=station.id,
                    gateway_id="gw-1",
                    seq=seq * 100 + n,
                    at=utc_now(),
                    door_id="main",
                    direction="in",
                    credential="qr",
                    worker_id=f"w{1000 + n}",
                    decision="granted",
                    reason="granted",
                )
            )
    # The station page's doors: one closed and secured, the dormitory's left open too long.
    events.append(
        DoorEvent(
            station_id="cs-0001",
            gateway_id="gw-1",
            seq=9996,
            at=utc_now(),
            door_id="main",
            state="closed",
        )
    )
    events.append(
        AlarmEvent(
            station_id="cs-0001",
            gateway_id="gw-1",
            seq=9997,
            at=utc_now(),
            door_id="dorm",
            alarm="held_open",
            active=True,
        )
    )
    events.append(
        AlarmEvent(
            station_id="cs-0002",
            gateway_id="gw-1",
            seq=9999,
            at=utc_now(),
            door_id="main",
            alarm="held_open",
            active=True,
        )
    )
    events.append(
        PresenceEvent(
            station_id="cs-0001",
            gateway_id="gw-1",
            seq=9998,
            at=utc_now(),
            sensor_id="radar-1",
            present=True,
        )
    )
    batch.record(central.database, central.thresholds, events)  # type: ignore[arg-type]
    health = health_report(
        {
            "scanner-main": DeviceHealth(kind="scanner", ok=True, detail="port open"),
            "radar-1": DeviceHealth(
                kind="radar", ok=True, last_frame_age_s=0.1, state={"present": True}
            ),
            # In lockdown: the map's marker and the station page's banner show it.
            "door-main": DeviceHealth(
                kind="door",
                ok=True,
                state={"lock": "secured", "open": False, "lockdown": True},
            ),
            "beams-main": DeviceHealth(
                kind="beams", ok=True, state={"a_broken": False, "b_broken": False}
            ),
            "wiegand-dorm": DeviceHealth(kind="wiegand", ok=False, detail="no frames"),
        },
        occupancy=central.store.station("cs-0001").station.occupancy,
    )
    batch.record(central.database, central.thresholds, [health])
    day_of_history(central, "cs-0001", rng)
    # One alert taken by an operator, with the note the next shift reads.
    (held,) = [a for a in central.store.alerts(kind="held_open") if a.station_id == "cs-0002"]
    central.store.acknowledge_alert(held.id, "operator", "值班员已前往查看 / guard on the way")
    workers_voices(central)


def workers_voices(central: Central) -> None:
    """Workers' reports at cs-0001, made hours ago: a broken door since fixed, water
    still out, a suggestion answered done. The reports page counts them, and the times
    to close are the hours since they were made."""
    made = [
        (FeedbackKind.PROBLEM, Category.DOOR, "门锁卡住了", 5, True),
        (FeedbackKind.PROBLEM, Category.DOOR, "门打不开", 3, True),
        (FeedbackKind.PROBLEM, Category.WATER, "没水了", 2, False),
        (FeedbackKind.SUGGESTION, Category.POWER, "希望多装几个充电口", 20, True),
    ]
    alerts: set[int] = set()
    for kind, category, text, hours_ago, closed in made:
        at = format_utc(utc_now() - timedelta(hours=hours_ago))
        with central.database.transaction() as db:
            row, _ = worker_feedback.add(db, kind, "cs-0001", category, text, "zh-CN", None, None)
            # The store stamps the present; these were made earlier.
            db.execute("UPDATE worker_feedback SET created_at = ? WHERE id = ?", (at, row.id))
            if closed and kind is FeedbackKind.SUGGESTION:
                worker_feedback.reply(
                    db, row.id, FeedbackStatus.DONE, "已加装 6 个 USB 充电口", "operator"
                )
        if closed and row.alert_id is not None:
            alerts.add(row.alert_id)
    for alert_id in alerts:
        central.store.resolve_alert(alert_id, "operator", "换了门锁")


def day_of_history(central: Central, station_id: str, rng: random.Random) -> None:
    """A day of counts, one sample a minute where it changed: quiet at night, full around
    lunch and busy in the evening (Beijing time), ending at the count the station has."""
    station = central.store.station(station_id).station
    capacity = station.capacity or 12
    now = time.time()
    count = 0
    for minute in range(24 * 60, 0, -1):
        at = now - minute * 60
        hour = (datetime.fromtimestamp(at, UTC).hour + 8) % 24 + (at % 3600) / 3600
        want = capacity * max(
            0.1 if 1 <= hour < 6 else 0.25,
            1.05 - abs(hour - 12.5) / 1.5,
            0.8 - abs(hour - 19.5) / 2.5,
        )
        # People come and go a few at a time, not every minute.
        step = max(-2, min(2, round(want - count))) if rng.random() < 0.2 else 0
        if step:
            count = max(0, min(capacity, count + step))
            central.history.note(BatchResult(occupancy={station_id: (count, capacity)}), at)
    central.history.note(BatchResult(occupancy={station_id: (station.occupancy, capacity)}), now)
    central.history.flush(everything=True)


def public_map(browser: Browser, base: str, lang: str) -> None:
    """The workers' public map on a phone standing near 五一广场驿站, without a login."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        device_scale_factor=2,
        geolocation={"latitude": 28.19, "longitude": 112.97},
        permissions=["geolocation"],
    )
    context.add_init_script(f"localStorage.setItem('yz-lang', '{lang}')")
    page = context.new_page()
    page.goto(f"{base}/map")
    expect(page.locator("#stations .distance").first).to_be_visible()
    page.screenshot(path=str(OUT / f"public-map-{lang}.png"))
    context.close()


REPORTS = {
    "en": ("door", "The door lock sticks: my code does not open it."),
    "zh-CN": ("door", "门锁卡住了，刷码开不了。"),
}
"""What the worker writes in the report-flow screenshots, in each language."""


def report_flow(browser: Browser, base: str, secret: str, lang: str) -> None:
    """A worker's pass page on a phone: a broken door reported and listed as received."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        device_scale_factor=2,
        locale=lang,
    )
    context.add_init_script(f"localStorage.setItem('yz-lang', '{lang}')")
    page = context.new_page()
    page.goto(f"{base}/pass/{secret}")
    expect(page.locator("#qr svg, #qr img").first).to_be_visible()
    page.screenshot(path=str(OUT / f"pass-{lang}.png"))
    page.click("#stations [data-report='cs-0001']")
    form = page.locator("#voice-form form")
    category, text = REPORTS[lang]
    form.locator("select[name=category]").select_option(category)
    form.locator("textarea").fill(text)
    form.locator("button[type=submit]").click()
    expect(form.locator(".voice-message.ok")).to_be_visible()
    expect(page.locator("#reports li[data-status=received]")).to_have_count(1)
    page.evaluate("document.getElementById('voice').scrollIntoView()")
    page.screenshot(path=str(OUT / f"report-{lang}.png"))
    context.close()


def pass_link(central: Central) -> str:
    """A worker of cs-0001 and the secret of their pass link."""
    worker = central.credentials.enroll(
        [WorkerInput(display_name="李明", platform="meituan", scope="station:cs-0001")]
    )[0]
    _, secret = central.credentials.store.create_pass_link(worker.number)
    return secret


def main() -> int:
    """Write the screenshots: console, station page, alerts, reports and workers in both
    languages on a desktop; the public map, the pass page and a report on a phone."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        central = Central(
            CentralSettings(
                http=HttpSettings(port=0),
                database=DatabaseSettings(path=Path(tmp) / "shots.db"),
            )
        )
        central.store.put_stations([*STATIONS, *spread_stations(38)])
        populate(central)
        central.operators.add("operator", "screenshot-pass", Role.OPERATOR)
        login = central.operators.login("operator", "screenshot-pass")
        assert login is not None
        server = central.http_server(port=0)
        serve_in_thread(server)
        base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        try:
            secrets = {lang: pass_link(central) for lang in ("en", "zh-CN")}
            with chromium() as browser:
                for lang in ("en", "zh-CN"):
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    context.add_cookies([{"name": "yz_session", "value": login[0], "url": base}])
                    context.add_init_script(f"localStorage.setItem('yz-lang', '{lang}')")
                    page = context.new_page()
                    page.goto(f"{base}/ui/#map")
                    page.wait_for_function("() => window.yzMap && window.yzMap.drawn")
                    page.wait_for_function(
                        "() => window.yzMap.station('cs-0002').state === 'alarm'"
                    )
                    page.wait_for_function(
                        "() => window.yzMap.station('cs-0001').state === 'lockdown'"
                    )
                    # cs-0001 is clustered at this zoom: the cluster's rim shows the lockdown.
                    expect(page.locator(".yz-cluster[data-condition=lockdown]")).to_be_visible()
                    page.screenshot(path=str(OUT / f"map-{lang}.png"))
                    page.goto(f"{base}/ui/#station/cs-0001")
                    expect(page.locator("#station-doors li")).to_have_count(2)
                    expect(page.locator("#station-gateways li")).to_have_count(1)
                    expect(page.locator("#station-sensors tr")).to_have_count(5)
                    expect(page.locator("#station-chart svg path.line")).to_have_count(1)
                    expect(
                        page.locator("#station-banner [data-condition=lockdown]")
                    ).to_be_visible()
                    # The page is longer than the window: chart, sensors, doors, entries.
                    page.screenshot(path=str(OUT / f"station-{lang}.png"), full_page=True)
                    page.goto(f"{base}/ui/#alerts")
                    expect(page.locator("#alerts tr[data-alert]").first).to_be_visible()
                    page.screenshot(path=str(OUT / f"alerts-{lang}.png"))
                    page.goto(f"{base}/ui/#reports")
                    page.fill("#reports-form input[name=id]", "cs-0001")
                    page.click("#reports-form button[type=submit]")
                    expect(page.locator("#reports-table tr").first).to_be_visible()
                    expect(page.locator("#reports-feedback tr.total")).to_be_visible()
                    page.screenshot(path=str(OUT / f"reports-{lang}.png"), full_page=True)
                    page.goto(f"{base}/ui/#workers")
                    page.click("#workers-search button[type=submit]")
                    expect(page.locator("#workers-list tr").first).to_be_visible()
                    page.screenshot(path=str(OUT / f"workers-{lang}.png"))
                    context.close()
                    public_map(browser, base, lang)
                    report_flow(browser, base, secrets[lang], lang)
        finally:
            server.should_exit = True
            central.store.close()
    print(f"screenshots in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
