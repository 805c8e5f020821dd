"""A sequence gap, seen by an operator whose page stays open: the alert appears when the
gap has been open too long and disappears when the missing event arrives, without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from dashboard.core.config import AlertSettings
from servicekit.settings import BrokerSettings
from tests.central.conftest import STATIONS, central_settings
from tests.central.support import Gateway
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral, run_central
from tests.ui.support import logged_in_page

ROW = "#alerts tr[data-alert]"


@pytest.fixture()
def gap_central(tmp_path: Path, broker_settings: BrokerSettings) -> Iterator[RunningCentral]:
    """A central that raises a gap alert half a second after the gap opens."""
    settings = central_settings(
        tmp_path,
        broker_settings.url,
        f"sqlite:///{tmp_path / 'central.db'}",
        stations=STATIONS,
        alerts=AlertSettings(check_interval_s=0.1, gap_after_s=0.5),
    )
    yield from run_central(settings)


def test_a_filled_gap_leaves_the_open_page_by_itself(
    browser: Browser, gap_central: RunningCentral, probe: MqttProbe
) -> None:
    page = logged_in_page(browser, gap_central, "viewer")
    page.goto(page.url.split("#")[0] + "#alerts")
    expect(page.locator("#live-state")).to_have_text("Live")
    expect(page.locator(ROW)).to_have_count(0)

    gateway = Gateway(probe, "cs-0001", "gw-7")
    gateway.access("in")  # seq 1: the baseline
    gateway.seq += 1  # seq 2 is held back
    late = gateway.access("out")  # seq 3 opens the gap [2, 2]
    assert late.seq == 3

    expect(page.locator(ROW)).to_have_count(1, timeout=10_000)
    expect(page.locator(ROW)).to_have_attribute("data-kind", "seq_gap")

    gateway.seq = 1
    filled = gateway.access("in")  # seq 2 arrives at last
    assert filled.seq == 2
    expect(page.locator(ROW)).to_have_count(0, timeout=10_000)
    expect(page.locator("#alert-count")).to_have_text("")
    assert [a for a in gap_central.http.get("/api/alerts").json() if a["kind"] == "seq_gap"] == []
    page.context.close()
