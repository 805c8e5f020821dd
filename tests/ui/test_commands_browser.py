"""Every command on the station page shows how it ended, and lockdown shows on the map.

Headless Chromium against the real central, a private Mosquitto and the real gateway
service on gpiozero mock pins, trusting the central's operator key: the operator puts a
door in lockdown, an unlock is refused with the gateway's own words, the marker and the
station banner show the lockdown (live, and to a page opened afterwards), lockdown is
lifted and the unlock is done. A station whose gateway never answers gives "no answer in
N s", N being the central's `[commands] answer_timeout_s`. Every wait is on the page
(Playwright's `expect`), never on the clock. Fire and a forced door come from a scripted
health report, as the gateway sends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from playwright.sync_api import Browser, Locator, Page, expect

from contract.maintenance_payloads import DeviceHealth
from contract.topics import gateway_topic
from dashboard.core.config import CommandSettings
from dashboard.core.stations import StationInput
from gateway.config import DoorSettings, GatewaySettings, MaintenanceSettings
from gateway.service import Gateway
from servicekit.settings import BrokerSettings
from tests.central.conftest import central_settings
from tests.central.support import health_report
from tests.reliability.site import one_door_board
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central
from tests.ui.support import logged_in_page

ANSWER_WITHIN_S = 2
"""Seconds the central waits for an answer: short, so the silent gateway's test is quick."""

STATIONS = [
    StationInput.model_validate(
        dict(
            id="cs-0001",
            name="五一广场驿站",
            lat=28.196,
            lon=112.977,
            capacity=12,
            doors=[{"id": "main", "gateway_id": "gw-1"}],
            gateways=["gw-1"],
        )
    ),
    # Its gateway is never started: nobody answers there.
    StationInput.model_validate(
        dict(
            id="cs-0002",
            name="岳麓山驿站",
            lat=28.183,
            lon=112.938,
            capacity=2,
            doors=[{"id": "main", "gateway_id": "gw-1"}],
            gateways=["gw-1"],
        )
    ),
]
DRAWN = "() => window.yzMap && window.yzMap.drawn"


@dataclass
class Site:
    central: RunningCentral
    gateway: Gateway


@pytest.fixture()
def site(tmp_path: Path, broker_settings: BrokerSettings) -> Iterator[Site]:
    settings = central_settings(
        tmp_path,
        broker_settings.url,
        f"sqlite:///{tmp_path / 'central.db'}",
        commands=CommandSettings(answer_timeout_s=ANSWER_WITHIN_S),
    )
    for central in run_central(settings, stations=STATIONS):
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


def station_page(page: Page, station: str) -> None:
    page.goto(page.url.split("#")[0] + f"#station/{station}")
    expect(page.locator("#station-name")).to_contain_text(station)


def command(page: Page, name: str, where: str) -> None:
    """Click a command's button (`where` is the door's or gateway's attribute) and accept
    the confirmation it may ask for."""
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"{where} button[data-command={name}]")


def outcome(page: Page, name: str) -> Locator:
    """The newest line of the station page's command list for command `name`."""
    return page.locator(f"#station-commands li[data-command={name}]").last


def test_unlock_in_lockdown_is_refused_and_lockdown_shows_on_the_map(
    browser: Browser, site: Site
) -> None:
    page = logged_in_page(browser, site.central, "operator")
    page.wait_for_function(DRAWN)
    expect(page.locator("#live-state")).to_have_text("Live")
    station_page(page, "cs-0001")
    door = "#station-doors li:has(button[data-door=main])"
    expect(page.locator("#station-banner")).to_be_hidden()

    command(page, "lockdown_on", door)
    expect(outcome(page, "lockdown_on")).to_have_attribute("data-outcome", "done")
    expect(outcome(page, "lockdown_on")).to_have_text(
        "Lockdown on main: done", timeout=ANSWER_WITHIN_S * 1000
    )
    # The gateway's health report after the change carries the lockdown: banner, live.
    banner = page.locator("#station-banner [data-condition=lockdown]")
    expect(banner).to_have_text("Lockdown, entry refused at: main")

    command(page, "unlock", door)
    refusal = "Unlock main: refused: door 'main' is in lockdown; not released"
    expect(outcome(page, "unlock")).to_have_text(refusal)
    expect(page.locator("#station-message")).to_have_text(refusal)
    # In the other language too, the gateway's words as it sent them.
    page.select_option("#lang", "zh-CN")
    expect(outcome(page, "unlock")).to_have_text(
        "远程开门 main: 被拒绝: door 'main' is in lockdown; not released"
    )
    page.select_option("#lang", "en")

    # The marker: a state of its own, named in its title and in the legend.
    page.goto(page.url.split("#")[0] + "#map")
    marker = page.locator(".yz-marker[data-station=cs-0001]")
    expect(marker).to_have_attribute("data-state", "lockdown")
    expect(marker).to_have_attribute("title", "五一广场驿站 · Lockdown")
    expect(page.locator("#map-legend [data-legend=lockdown]")).to_have_text("0/9 Lockdown")

    # A page opened now learns it from the snapshot and the station API, not from a change.
    viewer = logged_in_page(browser, site.central, "viewer")
    viewer.wait_for_function(DRAWN)
    expect(viewer.locator(".yz-marker[data-station=cs-0001]")).to_have_attribute(
        "data-state", "lockdown"
    )
    station_page(viewer, "cs-0001")
    expect(viewer.locator("#station-banner [data-condition=lockdown]")).to_be_visible()
    # And of the commands sent before it opened, with how they ended.
    expect(outcome(viewer, "unlock")).to_have_text(refusal)
    assert viewer.locator("#station-doors button, #station-gateways button").count() == 0

    # Lifted: the banner goes, the marker is a count again, and the unlock is done.
    station_page(page, "cs-0001")
    command(page, "lockdown_off", door)
    expect(outcome(page, "lockdown_off")).to_have_attribute("data-outcome", "done")
    expect(page.locator("#station-banner")).to_be_hidden()
    expect(viewer.locator("#station-banner")).to_be_hidden()
    command(page, "unlock", door)
    expect(outcome(page, "unlock")).to_have_text("Unlock main: done")
    page.goto(page.url.split("#")[0] + "#map")
    expect(page.locator(".yz-marker[data-station=cs-0001]")).not_to_have_attribute(
        "data-state", "lockdown"
    )

    # The rest of the gateway's commands answer too.
    station_page(page, "cs-0001")
    gateway = "#station-gateways li[data-gateway=gw-1]"
    command(page, "ping", gateway)
    expect(outcome(page, "ping")).to_have_text("Ping gw-1: done")
    command(page, "lock", door)
    expect(outcome(page, "lock")).to_have_attribute("data-outcome", "done")
    for context in (page.context, viewer.context):
        context.close()


def test_a_gateway_that_never_answers_gives_no_answer(browser: Browser, site: Site) -> None:
    page = logged_in_page(browser, site.central, "operator")
    expect(page.locator("#live-state")).to_have_text("Live")
    station_page(page, "cs-0002")
    command(page, "unlock", "#station-doors li:has(button[data-door=main])")
    expect(outcome(page, "unlock")).to_have_attribute("data-outcome", "pending")
    expect(outcome(page, "unlock")).to_have_text(
        f"Unlock main: no answer in {ANSWER_WITHIN_S} s", timeout=ANSWER_WITHIN_S * 1000 + 5000
    )
    page.select_option("#lang", "zh-CN")
    expect(outcome(page, "unlock")).to_have_text(f"远程开门 main: {ANSWER_WITHIN_S} 秒内无应答")
    audit = site.central.http.get("/api/audit").json()
    assert any(r["status"] == 504 and r["detail"].endswith("no answer in 2 s") for r in audit)
    page.context.close()


def test_fire_and_a_forced_door_show_on_the_marker_and_the_banner(
    browser: Browser, site: Site, broker_settings: BrokerSettings
) -> None:
    page = logged_in_page(browser, site.central, "viewer", lang="zh-CN")
    page.wait_for_function(DRAWN)
    station_page(page, "cs-0002")
    probe = MqttProbe(broker_settings.url)
    topic = gateway_topic("cs-0002", "gw-1", "health")

    def report(**state: bool) -> bytes:
        door = DeviceHealth(kind="door", ok=True, state={"lock": "released", **state})
        return health_report({"door-main": door}, station_id="cs-0002").to_json()

    try:
        # As cs-0002's gateway would report them (it is not running: the report is scripted).
        probe.publish(topic, report(fire=True, forced_open=True, lockdown=False))
        expect(page.locator("#station-banner [data-condition=fire]")).to_have_text(
            "消防释放，门锁已打开的门: main"
        )
        expect(page.locator("#station-banner [data-condition=forced_open]")).to_be_visible()
        # Fire outranks a forced door on the marker.
        page.goto(page.url.split("#")[0] + "#map")
        marker = page.locator(".yz-marker[data-station=cs-0002]")
        expect(marker).to_have_attribute("data-state", "fire")
        expect(marker).to_have_attribute("title", "岳麓山驿站 · 消防释放")
        probe.publish(topic, report(fire=False, forced_open=True, lockdown=False))
        expect(marker).to_have_attribute("data-state", "forced")
        probe.publish(topic, report(fire=False, forced_open=False, lockdown=False))
        expect(marker).not_to_have_attribute("data-state", "forced")
    finally:
        probe.close()
        page.context.close()
