"""The station page lists the persons each face terminal holds by the registry: who,
since when, which notice, and whether a deletion is under way. Never a face.

Headless Chromium against the real central; the pairing arrives over MQTT as a gateway
would send it."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.central.support import Gateway
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until
from tests.ui.support import logged_in_page


def test_the_station_page_shows_each_terminals_paired_persons(
    browser: Browser, central: RunningCentral, probe: MqttProbe
) -> None:
    created = central.http.post(
        "/api/workers", json={"display_name": "赵强", "platform": "meituan"}
    ).json()
    worker_id = created["worker_id"]
    page = logged_in_page(browser, central, "viewer")
    page.goto(page.url.split("#")[0] + "#station/cs-0001")
    expect(page.locator("#station-faces-none")).to_be_visible()

    Gateway(probe).face_paired("hik-main", worker_id)
    wait_until(lambda: central.http.get("/api/stations/cs-0001/faces").json(), 10, "the pairing")
    page.goto(page.url.split("#")[0] + "#map")
    page.goto(page.url.split("#")[0] + "#station/cs-0001")
    row = page.locator(f"#station-faces tr[data-person='{worker_id[1:]}']")
    expect(row).to_contain_text("hik-main · gw-1 · main")
    expect(row).to_contain_text(worker_id)
    expect(row).to_contain_text("face-consent-1")
    expect(row.locator("td.face-state")).to_have_text("paired")
    expect(page.locator("#station-faces-none")).to_be_hidden()
    page.context.close()
