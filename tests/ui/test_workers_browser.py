"""The workers view in a real headless Chromium, end to end: an operator enrols a worker
and issues a pass link; the printed card's QR opens the worker's pass page; its QR,
held under a simulated door's scanner, opens the door; the station page then lists the
worker as inside. Revoking with a reason, a CSV file's problems and a viewer's read-only
view are checked on the same central."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from gpiozero.pins.mock import MockFactory
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect

from gateway.config import DoorSettings, GatewaySettings
from gateway.service import Gateway
from hardware.sim.radar import VirtualRadar
from hardware.sim.scanner import VirtualScanner
from servicekit.settings import BrokerSettings
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until
from tests.ui.support import logged_in_page
from yizhan.simulated_station import DOOR, PINS, simulated_board


def read_qr(element: Locator) -> str:
    """Screenshot an element and decode the one QR code in it, as a phone camera would."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(element.screenshot())))
    assert len(found) == 1, "no QR code could be read"
    return str(found[0].text)


@pytest.fixture()
def door(
    central: RunningCentral, broker_settings: BrokerSettings, mock_pins: MockFactory, tmp_path: Path
) -> Iterator[tuple[Gateway, VirtualScanner]]:
    """A simulated door of station cs-0001: its gateway, entry scanner on a pty."""
    entry, exit_, radar = VirtualScanner(), VirtualScanner(), VirtualRadar(period_s=0.2)
    settings = GatewaySettings(
        station_id="cs-0001",
        gateway_id=f"gw-{uuid.uuid4().hex[:8]}",
        broker=broker_settings,
        doors={DOOR: DoorSettings(unlock_s=0.2)},
        state_dir=tmp_path / "gateway",
    )
    service = Gateway(settings, simulated_board(entry.port, exit_.port, radar.port), mock_pins)
    service.start()
    try:
        assert service.link.wait_connected(10)
        assert service.devices.wait_serial_open(5)
        wait_until(lambda: service.access.trust.keys_version, 10, "the central's keys")
        yield service, entry
    finally:
        service.stop()
        for device in (entry, exit_, radar):
            device.close()


def test_enrol_issue_a_pass_scan_it_and_see_the_worker_inside(
    browser: Browser,
    central: RunningCentral,
    door: tuple[Gateway, VirtualScanner],
    mock_pins: MockFactory,
) -> None:
    gateway, scanner = door
    # Under the pages' Content Security Policy: the card's QR is a data: image.
    page = logged_in_page(browser, central, "operator", enforce_csp=True)
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("a[href='#workers']")
    expect(page.locator("#workers-view")).to_be_visible()

    # Enrol one worker through the form: the new worker opens at once.
    page.fill("#worker-enrol input[name=display_name]", "李明")
    page.select_option("#worker-enrol select[name=platform]", "eleme")
    page.click("#worker-enrol button[type=submit]")
    expect(page.locator("#worker-panel h3")).to_contain_text("李明")
    worker_id = page.get_attribute("#worker-panel", "data-worker")
    assert worker_id is not None and worker_id.startswith("w")
    expect(page.locator(f"#workers-list tr[data-worker={worker_id}]")).to_contain_text("李明")

    # Issue a pass link: the card shows name, id and the link's QR code.
    page.click("#worker-issue-link")
    expect(page.locator("#pass-card")).to_be_visible()
    expect(page.locator("#pass-card-name")).to_have_text("李明")
    expect(page.locator("#pass-card-id")).to_have_text(worker_id)
    expect(page.locator("#worker-links li[data-link]")).to_have_count(1)
    url = read_qr(page.locator("#pass-card-qr"))
    assert url == page.inner_text("#pass-card-url")
    assert "/pass/" in url

    # Printing the card prints the card alone.
    page.evaluate("document.body.classList.add('yz-print-card')")
    page.emulate_media(media="print")
    expect(page.locator("#workers-search")).to_be_hidden()
    expect(page.locator("#pass-card-qr")).to_be_visible()
    page.emulate_media(media="screen")

    # The phone opens the card's address; the pass page's QR is held under the scanner.
    phone = browser.new_page(viewport={"width": 412, "height": 915})
    try:
        response = phone.goto(url)
        assert response is not None and response.status == 200
        phone.wait_for_selector("#qr svg", timeout=10_000)
        token = read_qr(phone.locator("#qr"))
    finally:
        phone.close()
    relay = mock_pins.pin(PINS["relay"])
    relay.clear_states()
    scanner.scan(token)
    # The door opened: the fail-safe lock's relay dropped.
    wait_until(lambda: any(s.state is False for s in relay.states), 5, "the door to open")

    # The station page lists the worker inside, in the station's time zone.
    page.goto(f"{central.base_url}/ui/#station/cs-0001")
    inside = page.locator(f"#station-inside li[data-worker={worker_id}]")
    expect(inside).to_contain_text("李明", timeout=15_000)
    expect(page.locator("#station-inside-count")).to_have_text("1")

    # Revoked with a reason: the reason is shown with the worker.
    page.goto(f"{central.base_url}/ui/#workers")
    page.fill("#workers-search input[name=q]", "李")
    page.click("#workers-search button[type=submit]")
    page.click(f"#workers-list [data-open={worker_id}]")
    # The panel from before is drawn again: type into the new one, not the one it replaces.
    expect(page.locator("#worker-panel[aria-busy]")).to_have_count(0)
    page.fill("#worker-revoke input[name=reason]", "借给他人使用")
    page.click("#worker-revoke button[type=submit]")
    status = page.locator(f"#workers-list tr[data-worker={worker_id}] .worker-status")
    expect(status).to_contain_text("借给他人使用")
    expect(page.locator("#worker-panel")).to_contain_text("借给他人使用")
    expect(page.locator("#worker-links li[data-revoked]")).to_have_count(1)
    assert gateway.access.trust is not None  # the gateway was up the whole time
    assert not violations, violations


def test_a_bad_csv_file_shows_each_row_and_imports_nothing(
    browser: Browser, central: RunningCentral
) -> None:
    page = logged_in_page(browser, central, "operator")
    page.goto(f"{central.base_url}/ui/#workers")
    data = "display_name,platform\n甲,meituan\n乙,uber\n,didi\n".encode("gbk")
    page.set_input_files(
        "#worker-import input[type=file]",
        {"name": "workers.csv", "mimeType": "text/csv", "buffer": data},
    )
    page.click("#worker-import button[type=submit]")
    expect(page.locator("#worker-import-problems")).to_be_visible()
    expect(page.locator("#worker-import-problems tr[data-row='3']")).to_contain_text("platform")
    expect(page.locator("#worker-import-problems tr[data-row='4']")).to_contain_text("display_name")
    expect(page.locator("#worker-import-message")).to_contain_text("Nothing was imported")
    assert central.http.get("/api/workers").json() == []
    # The same file without its bad rows goes in whole, its GBK names intact.
    good = "display_name,platform\n甲,meituan\n".encode("gbk")
    page.set_input_files(
        "#worker-import input[type=file]",
        {"name": "workers.csv", "mimeType": "text/csv", "buffer": good},
    )
    page.click("#worker-import button[type=submit]")
    expect(page.locator("#worker-import-message")).to_contain_text("1 workers imported")
    expect(page.locator("#workers-list")).to_contain_text("甲")


def test_a_viewer_reads_workers_but_has_no_actions(
    browser: Browser, central: RunningCentral
) -> None:
    central.http.post("/api/workers", json={"display_name": "王芳", "platform": "didi"})
    page: Page = logged_in_page(browser, central, "viewer")
    page.goto(f"{central.base_url}/ui/#workers")
    expect(page.locator("#workers-list")).to_contain_text("王芳")
    expect(page.locator("#workers-actions")).to_be_hidden()
    page.click("#workers-list [data-open]")
    expect(page.locator("#worker-panel")).to_contain_text("王芳")
    expect(page.locator("#worker-revoke")).to_have_count(0)
    expect(page.locator("#worker-issue-link")).to_have_count(0)
