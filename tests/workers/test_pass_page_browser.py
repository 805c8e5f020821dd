"""The worker's pass page in a real headless Chromium: the QR on screen is a token the
gateway grants, it changes at the rotation, and pre-fetched codes carry it offline.

The page's clock is Playwright's fake clock (`page.clock`), so 30 s of rotation pass in
no time; the server and the gateway rules run on real time, and the page keeps the
offset between the two, as it does on a phone whose clock is wrong.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, ViewportSize, expect

from contract.payloads import Availability, Reason
from contract.tokens import decode_token
from contract.topics import gateway_topic
from gateway.access_rules import QrCredential
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until
from tests.workers.support import bring_online, enroll, gate, gateway_trust, pass_secret


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
        assert "空位 12 个" in page.inner_text("#stations")
        assert "秒后更新" in page.inner_text("#countdown")

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
        assert "离线" in page.inner_text("#status")
        offline = shown_token(page)
        offline_claims = decode_token(offline).claims
        assert offline_claims.not_before == claims.not_before + 120
        at_offline = datetime.fromtimestamp(offline_claims.not_before + 1, UTC)
        assert gate(QrCredential(offline), trust, at_offline).reason is Reason.GRANTED
    finally:
        page.context.set_offline(False)
        page.close()


def test_a_dead_link_shows_a_message_not_a_pass(browser: Browser, central: RunningCentral) -> None:
    # A phone set to Chinese: its browser's first language decides the page's.
    page = browser.new_page(locale="zh-CN")
    try:
        response = page.goto(f"{central.base_url}/pass/{'x' * 32}")
        assert response is not None and response.status == 404
        assert "此通行链接已失效" in page.inner_text("body")
        assert page.query_selector("#qr") is None
    finally:
        page.close()


PHONE = ViewportSize(width=390, height=844)
PAGE_TEXT = "h1, #countdown, #status, #order, .state, li .note, #locate, a[href='/map']"
"""What the page itself says (the worker's id and station names are data)."""
CJK = re.compile(r"[\u3000-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")


def page_text(page: Page) -> str:
    return "\n".join(page.locator(PAGE_TEXT).all_inner_texts())


def test_the_pass_page_opens_offline_after_one_visit_and_says_when_codes_run_out(
    browser: Browser, central: RunningCentral, probe: MqttProbe, own_broker: MosquittoBroker
) -> None:
    bring_online(central, probe, "cs-0001", "cs-0002")
    worker = enroll(central.http, scope="station:cs-0001")
    secret = pass_secret(central.http, worker["worker_id"])
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    try:
        page.clock.install(time=datetime.now(UTC))
        page.goto(f"{central.base_url}/pass/{secret}")
        page.wait_for_selector("#qr svg", timeout=10_000)
        # One visit is enough once the service worker has kept the page.
        expect(page.locator("html")).to_have_attribute("data-offline-ready", "1")
        # Nearby: the worker's own station by name, not "0.0 km", and Yuelu marked as
        # a station this pass does not open.
        expect(page.locator("#stations li")).to_have_count(2)
        expect(page.locator("#stations li").first).to_contain_text("五一广场驿站 · 您的驿站")
        expect(page.locator("#stations li").nth(1)).to_contain_text("您的通行码不能进此驿站")
        assert "0.0" not in page.inner_text("#stations")
        assert not LATIN.search(page_text(page)), page_text(page)

        page.context.set_offline(True)
        reloaded = page.reload()
        assert reloaded is not None and reloaded.status == 200
        assert reloaded.from_service_worker, "the kept copy answered"
        page.wait_for_selector("#qr svg", timeout=10_000)
        # The page's own fetch failed: it knows it is offline, and still has codes.
        expect(page.locator("#status")).to_contain_text("离线：还能显示")
        expect(page.locator("#stations li")).to_have_count(2)
        shown = shown_token(page)
        claims = decode_token(shown).claims
        assert claims.worker_id == worker["worker_id"]
        trust = gateway_trust(own_broker.url)
        at = datetime.fromtimestamp(claims.not_before + 1, UTC)
        assert gate(QrCredential(shown), trust, at).reason is Reason.GRANTED

        # Past the last kept code: no grey code, but until when it worked and what to do.
        page.clock.run_for(15 * 60_000)
        expect(page.locator("#countdown")).to_have_text(
            re.compile(r"^通行码已用完。保存的通行码可用到 (\d\d-\d\d )?\d\d:\d\d。请连接网络")
        )
        expect(page.locator("#qr svg")).to_have_count(0)
        assert not LATIN.search(page_text(page)), page_text(page)
    finally:
        context.set_offline(False)
        context.close()


def test_the_servers_refusals_are_shown_in_the_workers_language(
    browser: Browser, central: RunningCentral
) -> None:
    later = pass_secret(central.http, enroll(central.http, valid_from="2099-01-01")["worker_id"])
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(f"{central.base_url}/pass/{later}")
        expect(page.locator("#status")).to_have_text("此通行证尚未生效。")
        expect(page.locator("#qr svg")).to_have_count(0)
        page.click("#lang")
        expect(page.locator("#status")).to_have_text("This pass is not valid yet.")
        assert not CJK.search(page_text(page)), page_text(page)

        # A working link revoked while its page is open: the next refill is refused, the
        # codes go, and the page says so in the language chosen before (remembered).
        worker_id = enroll(central.http)["worker_id"]
        link = central.http.post(f"/api/workers/{worker_id}/pass-links").json()
        page.clock.install(time=datetime.now(UTC))
        page.goto(link["url"])
        page.wait_for_selector("#qr svg", timeout=10_000)
        expect(page.locator("#countdown")).to_contain_text("New code in")
        assert central.http.delete(f"/api/pass-links/{link['id']}").status_code == 200
        page.clock.run_for(120_000)
        expect(page.locator("#status")).to_have_text(
            "This pass link no longer works. Ask the station staff for a new one."
        )
        expect(page.locator("#qr svg")).to_have_count(0)
        assert not CJK.search(page_text(page)), page_text(page)
    finally:
        context.close()
