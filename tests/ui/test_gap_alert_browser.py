"""A sequence gap in the alerts panel of a page that stays open: the alert appears when
the gap has lasted, and goes when the missing events arrive, without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from contract.payloads import AccessEvent, utc_now
from contract.topics import event_topic
from dashboard.core.config import AlertSettings
from servicekit.settings import BrokerSettings
from tests.central.conftest import STATIONS, central_settings
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central
from tests.ui.support import logged_in_page

DRAWN = "() => window.yzMap && window.yzMap.drawn"


@pytest.fixture()
def gap_central(tmp_path: Path, broker_settings: BrokerSettings) -> Iterator[RunningCentral]:
    """The real central, alerting on a gap that lasts a second."""
    settings = central_settings(
        tmp_path,
        broker_settings.url,
        f"sqlite:///{tmp_path / 'central.db'}",
        alerts=AlertSettings(check_interval_s=0.1, gap_after_s=1.0),
    )
    yield from run_central(settings, stations=STATIONS)


def scan(seq: int) -> bytes:
    """A refused scan at gw-7, numbered `seq`."""
    return AccessEvent(
        station_id="cs-0001",
        gateway_id="gw-7",
        seq=seq,
        at=utc_now(),
        door_id="main",
        direction="in",
        credential="qr",
        decision="denied",
        reason="unknown_credential",
    ).to_json()


def test_a_filled_gap_leaves_the_alerts_panel_of_an_open_page(
    browser: Browser, gap_central: RunningCentral, probe: MqttProbe
) -> None:
    page = logged_in_page(browser, gap_central, "viewer")
    page.wait_for_function(DRAWN)
    expect(page.locator("#live-state")).to_have_text("Live")
    page.goto(page.url.split("#")[0] + "#alerts")
    page.evaluate("window.yzSamePage = true")
    topic = event_topic("cs-0001", "gw-7", "access")
    gap = "#alerts tr[data-kind=seq_gap]"

    for seq in (1, 2, 5):
        probe.publish(topic, scan(seq))
    expect(page.locator(gap)).to_have_count(1)
    expect(page.locator(gap)).to_have_attribute("data-status", "open")

    for seq in (3, 4):
        probe.publish(topic, scan(seq))
    expect(page.locator(gap)).to_have_count(0)
    assert page.evaluate("window.yzSamePage") is True, "the page was not reloaded"
    page.context.close()
