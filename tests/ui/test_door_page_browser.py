"""A worker opens the door from a phone: headless Chromium on a phone's viewport
(390x844) under the page's Content Security Policy, the real central, a private
Mosquitto and the real gateway on gpiozero mock pins. The phone opens its pass link once
(the pass session), then the door sticker's address, as a camera or WeChat would after a
scan, and taps Open: "门已开" and the relay moved; with the station full, "驿站已满" (and
in English for a worker who chose English on the pass page) and the relay stays. Every
wait is on the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from servicekit.settings import BrokerSettings
from tests.phone.support import PhoneSite, run_phone_site
from tests.support.waiting import wait_until
from tests.ui.support import logged_in_page

PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture()
def site(tmp_path: Path, broker_settings: BrokerSettings) -> Iterator[PhoneSite]:
    yield from run_phone_site(tmp_path, broker_settings, f"sqlite:///{tmp_path / 'c.db'}")


def phone(browser: Browser, locale: str) -> tuple[BrowserContext, Page, list[str]]:
    """A phone's browser, its page, and the errors and policy violations it reports."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True, locale=locale
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    return context, page, problems


def open_door(page: Page, sticker_url: str) -> None:
    page.goto(sticker_url)
    button = page.locator("#open")
    expect(button).to_be_enabled()
    button.tap()


def test_the_sticker_opens_the_door_and_a_full_station_says_so(
    browser: Browser, site: PhoneSite
) -> None:
    sticker = site.sticker()
    _, secret = site.worker()
    context, page, problems = phone(browser, "zh-CN")
    page.goto(f"{site.central.base_url}/pass/{secret}")
    expect(page.locator("h1")).to_contain_text("驿站通行码")

    seen = len(site.relay_states)
    open_door(page, sticker)
    expect(page.locator("#where")).to_have_text("五一广场驿站 · main")
    expect(page.locator("#nopass")).to_be_hidden()
    expect(page.locator("#result")).to_have_text("门已开")
    assert site.relay_released_after(seen)

    # The entry is counted first, so the correction below is not raced by it.
    wait_until(
        lambda: site.central.http.get("/api/stations/cs-0001").json()["occupancy"] == 1,
        what="the phone open to count as an entry",
    )
    site.set_count(5)
    # The relay has relocked after its short unlock; from here on it must stay secured.
    wait_until(lambda: site.relay_states[-1] is True, what="the relay to relock")
    seen = len(site.relay_states)
    open_door(page, sticker)
    expect(page.locator("#result")).to_have_text("驿站已满")
    assert not site.relay_released_after(seen)
    assert problems == []
    context.close()

    # A worker who chose English on the pass page reads the same outcome in English.
    _, other = site.worker(display_name="王芳")
    context, page, problems = phone(browser, "en-US")
    page.goto(f"{site.central.base_url}/pass/{other}")
    page.locator("#lang").tap()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    open_door(page, sticker)
    expect(page.locator("#open")).to_have_text("Open")
    expect(page.locator("#result")).to_have_text("The station is full")
    assert not site.relay_released_after(seen)
    assert problems == []
    context.close()


def test_a_rotated_sticker_shows_a_clear_page(browser: Browser, site: PhoneSite) -> None:
    old = site.sticker()
    site.sticker()
    _, secret = site.worker()
    context, page, _ = phone(browser, "zh-CN")
    page.goto(f"{site.central.base_url}/pass/{secret}")
    seen = len(site.relay_states)
    page.goto(old)
    expect(page.locator("#gone")).to_have_text("此贴纸已失效")
    expect(page.locator("#open")).to_have_count(0)
    assert not site.relay_released_after(seen)
    context.close()


def test_an_operator_makes_and_rotates_a_sticker_on_the_station_page(
    browser: Browser, site: PhoneSite
) -> None:
    page = logged_in_page(browser, site.central, "operator")
    page.goto(page.url.split("#")[0] + "#station/cs-0001")
    row = page.locator("#sticker-list li[data-sticker-door=main]")
    expect(row).to_contain_text("No sticker yet")
    row.locator("button[data-sticker-action=make]").click()
    url = row.locator(".sticker-url")
    expect(url).to_contain_text("/door/")
    first = url.inner_text()
    expect(row.locator("img.sticker-qr")).to_be_visible()
    expect(row.locator("a")).to_have_attribute(
        "href", "/api/stations/cs-0001/doors/main/sticker/print"
    )
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button[data-sticker-action=rotate]").click()
    expect(url).not_to_have_text(first)
    expect(page.locator("#sticker-message")).to_have_text(
        "New sticker made: print it and replace the old one."
    )
    # The old sticker stopped working at once.
    gone = site.phone(None).get("/door/" + first.rsplit("/door/", 1)[1])
    assert gone.status_code == 404
    # A viewer sees the sticker but cannot rotate it.
    viewer = logged_in_page(browser, site.central, "viewer")
    viewer.goto(viewer.url.split("#")[0] + "#station/cs-0001")
    expect(viewer.locator("#sticker-list .sticker-url")).to_have_text(url.inner_text())
    expect(viewer.locator("#sticker-list button")).to_have_count(0)
