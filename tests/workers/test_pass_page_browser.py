"""The worker's pass page in a real headless Chromium: the QR on screen is a token the
gateway grants, it changes at the rotation, and pre-fetched codes carry it offline.

The page's clock is Playwright's fake clock (`page.clock`), so 30 s of rotation pass in
no time; the server and the gateway rules run on real time, and the page keeps the
offset between the two, as it does on a phone whose clock is wrong.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page

from contract.payloads import Availability, Reason
from contract.tokens import decode_token
from contract.topics import gateway_topic
from gateway.access_rules import QrCredential
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until
from tests.workers.support import enroll, gate, gateway_trust


def shown_token(page: Page) -> str:
    """Screenshot the QR element and decode it as a scanner would."""
    png = page.locator("#qr").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, "no QR code could be read from the page"
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    return str(found[0].text)


def test_the_pass_page_shows_a_rotating_token_the_gateway_grants(
    browser: Browser, central: RunningCentral, probe: MqttProbe, own_broker: MosquittoBroker
) -> None:
    # Station cs-0001 has a gateway online, so the page lists it as open.
    birth = Availability(station_id="cs-0001", gateway_id="gw-1", online=True)
    probe.publish(gateway_topic("cs-0001", "gw-1", "availability"), birth.to_json(), True)
    wait_until(
        lambda: any(s["online"] for s in central.http.get("/api/stations").json()),
        what="cs-0001 online",
    )
    worker = enroll(central.http, scope="station:cs-0001")
    link = central.http.post(f"/api/workers/{worker['worker_id']}/pass-links").json()

    page = browser.new_page(viewport={"width": 412, "height": 915})
    try:
        start = datetime.now(UTC)
        page.clock.install(time=start)
        response = page.goto(link["url"])
        assert response is not None and response.status == 200
        assert response.headers["referrer-policy"] == "no-referrer"
        page.wait_for_selector("#qr svg", timeout=10_000)
        # Freeze the page's time so that nothing rotates between two looks.
        page.clock.pause_at(start + timedelta(seconds=10))
        page.wait_for_selector("#stations li", timeout=10_000)
        assert "五一广场驿站" in page.inner_text("#stations")
        assert "open" in page.inner_text("#stations")
        assert "s" in page.inner_text("#countdown")

        first = shown_token(page)
        assert first == page.get_attribute("#qr", "data-token")
        trust = gateway_trust(own_broker.url)
        claims = decode_token(first).claims
        assert claims.worker_id == worker["worker_id"]
        # The gateway scans it inside its window (the page runs 10 s ahead of real time).
        at_first = datetime.fromtimestamp(claims.not_before + 1, UTC)
        assert gate(QrCredential(first), trust, at_first).reason is Reason.GRANTED

        # One rotation later the page shows the next step's token, also granted.
        page.clock.run_for(30_000)
        second = shown_token(page)
        assert second != first
        second_claims = decode_token(second).claims
        assert second_claims.not_before == claims.not_before + 30
        at_second = datetime.fromtimestamp(second_claims.not_before + 1, UTC)
        assert gate(QrCredential(second), trust, at_second).reason is Reason.GRANTED

        # Without signal the pre-fetched tokens keep it going for several steps.
        page.context.set_offline(True)
        page.clock.run_for(90_000)
        page.wait_for_selector("#status.warn", timeout=10_000)
        assert "Offline" in page.inner_text("#status")
        offline = shown_token(page)
        offline_claims = decode_token(offline).claims
        assert offline_claims.not_before == claims.not_before + 120
        at_offline = datetime.fromtimestamp(offline_claims.not_before + 1, UTC)
        assert gate(QrCredential(offline), trust, at_offline).reason is Reason.GRANTED
    finally:
        page.context.set_offline(False)
        page.close()


def test_a_dead_link_shows_a_message_not_a_pass(browser: Browser, central: RunningCentral) -> None:
    page = browser.new_page()
    try:
        response = page.goto(f"{central.base_url}/pass/{'x' * 32}")
        assert response is not None and response.status == 404
        assert "通行链接无效" in page.inner_text("body")
        assert page.query_selector("#qr") is None
    finally:
        page.close()
