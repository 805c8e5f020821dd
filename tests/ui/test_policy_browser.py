"""The station page shows the station's policy and where each gateway stands with it.

Headless Chromium against the real central, a private Mosquitto and the real gateway
service on gpiozero mock pins, trusting the central's operator key: an admin's bad value
is named, an admin sets the capacity and the gateway's row turns `applied`; a
maintainer's change on the spot shows as drift, "Adopt" makes it the policy and "Push
back" sends the policy again. A viewer
sees the same section without the form. Every wait is on the page (Playwright's
`expect`) or on the API (`wait_until`), never on the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from playwright.sync_api import Browser, Page, expect

from dashboard.core.stations import StationInput
from gateway.config import DoorSettings, GatewaySettings, MaintenanceSettings
from gateway.service import Gateway
from servicekit.settings import BrokerSettings
from tests.central.conftest import central_settings
from tests.reliability.site import one_door_board
from tests.support.running_central import RunningCentral, run_central
from tests.support.waiting import wait_until
from tests.ui.support import logged_in_page

STATION = StationInput.model_validate(
    dict(
        id="cs-0001",
        name="五一广场驿站",
        lat=28.196,
        lon=112.977,
        capacity=12,
        doors=[{"id": "main", "gateway_id": "gw-1"}],
        gateways=["gw-1"],
    )
)
ROW = "#policy-gateways li[data-policy-gateway=gw-1]"


@dataclass
class Site:
    central: RunningCentral
    gateway: Gateway


@pytest.fixture()
def site(tmp_path: Path, broker_settings: BrokerSettings) -> Iterator[Site]:
    settings = central_settings(
        tmp_path, broker_settings.url, f"sqlite:///{tmp_path / 'central.db'}"
    )
    for central in run_central(settings, stations=[STATION]):
        key = central.service.operator_key
        gateway = Gateway(
            GatewaySettings(
                station_id="cs-0001",
                gateway_id="gw-1",
                broker=broker_settings,
                doors={"main": DoorSettings(unlock_s=0.2)},
                state_dir=tmp_path / "gw",
                maintenance=MaintenanceSettings(operators={key.name: key.public_key}),
            ),
            one_door_board(),
            pin_factory=MockFactory(),
        )
        gateway.start()
        try:
            assert gateway.link.wait_connected(10)
            yield Site(central, gateway)
        finally:
            gateway.stop()


def station_page(page: Page) -> None:
    page.goto(page.url.split("#")[0] + "#map")
    page.goto(page.url.split("#")[0] + "#station/cs-0001")
    expect(page.locator("#station-name")).to_contain_text("cs-0001")


def test_an_admin_sets_the_policy_and_adopts_a_drift(browser: Browser, site: Site) -> None:
    page = logged_in_page(browser, site.central, "admin")
    station_page(page)
    expect(page.locator("#policy-none")).to_be_visible()
    page.on("dialog", lambda dialog: dialog.accept())

    # A value the API refuses is named, and nothing is sent.
    page.fill("#policy-form input[name=unlock_s]", "600")
    page.click("#policy-form button[type=submit]")
    expect(page.locator("#policy-message")).to_contain_text("unlock_s: ")
    expect(page.locator("#policy-message")).to_contain_text("60")
    expect(page.locator("#policy-none")).to_be_visible()

    page.fill("#policy-form input[name=unlock_s]", "")
    page.fill("#policy-form input[name=capacity]", "7")
    page.click("#policy-form button[type=submit]")
    expect(page.locator("#policy-values [data-policy-value=capacity]")).to_have_text("7")
    expect(page.locator(ROW)).to_have_attribute("data-status", "applied", timeout=10_000)
    expect(page.locator(f"{ROW} .policy-status")).to_have_text("applied")
    assert site.gateway.live.values()["policy.capacity"] == 7

    # A maintainer changes the capacity on the spot: the page shows it as drift.
    site.gateway.apply_config({"policy.capacity": 3})
    wait_until(lambda: drift_of(site), 10, "drift reported")
    station_page(page)
    drift = page.locator(f"{ROW} li[data-drift-key='policy.capacity']")
    expect(drift).to_contain_text("policy 7 · gateway 3")

    drift.locator("button[data-policy-action=adopt]").click()
    expect(page.locator("#policy-values [data-policy-value=capacity]")).to_have_text("3")
    expect(page.locator(ROW)).to_have_attribute("data-status", "applied", timeout=10_000)
    expect(drift).to_have_count(0)

    # Changed again on the spot: "Push back" sends the policy again and the gateway follows.
    site.gateway.apply_config({"policy.capacity": 2})
    wait_until(lambda: drift_of(site), 10, "drift reported")
    station_page(page)
    expect(drift).to_contain_text("policy 3 · gateway 2")
    drift.locator("button[data-policy-action=push_back]").click()
    # Gone once the new version is out (pending), then applied: in that order.
    expect(drift).to_have_count(0)
    expect(page.locator(ROW)).to_have_attribute("data-status", "applied", timeout=10_000)
    expect(page.locator("#policy-values [data-policy-value=capacity]")).to_have_text("3")
    assert site.gateway.live.values()["policy.capacity"] == 3


def test_a_viewer_sees_the_policy_without_the_form(browser: Browser, site: Site) -> None:
    assert site.central.http.put("/api/stations/cs-0001/policy", json={"capacity": 5}).is_success
    wait_until(lambda: status_of(site) == "applied", 10, "policy applied")
    site.gateway.apply_config({"policy.capacity": 4})
    wait_until(lambda: drift_of(site), 10, "drift reported")
    page = logged_in_page(browser, site.central, "viewer")
    station_page(page)
    expect(page.locator("#policy-values [data-policy-value=capacity]")).to_have_text("5")
    expect(page.locator(ROW)).to_have_attribute("data-status", "applied")
    expect(page.locator(f"{ROW} li[data-drift-key='policy.capacity']")).to_contain_text(
        "policy 5 · gateway 4"
    )
    expect(page.locator("#policy-form")).to_be_hidden()
    expect(page.locator("#policy-gateways button")).to_have_count(0)


def status_of(site: Site) -> str:
    states = site.central.http.get("/api/stations/cs-0001/policy").json()["gateways"]
    return str(states[0]["status"]) if states else ""


def drift_of(site: Site) -> dict[str, object]:
    states = site.central.http.get("/api/stations/cs-0001/policy").json()["gateways"]
    return dict(states[0]["drift"]) if states else {}
