"""Workers' reports and suggestions through the pages, in a real headless Chromium: a
phone sends from the pass page or the public map (anonymously, solving the proof of work
in the page), an operator answers in a second browser, and the phone sees the answer.

The phone pages run under their Content Security Policy; the operator's page bypasses
it only as every operator UI test does (`logged_in_page`).
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import (
    Browser,
    BrowserContext,
    FilePayload,
    Page,
    ViewportSize,
    expect,
)

from dashboard.core.config import FeedbackSettings
from tests.support.mosquitto import MosquittoBroker
from tests.support.running_central import RunningCentral, run_central
from tests.ui.support import logged_in_page
from tests.workers.conftest import STATIONS, central_settings
from tests.workers.support import enroll, pass_secret

PHONE = ViewportSize(width=390, height=844)
XSS = "<img src=x onerror=window.__xss=1><script>window.__xss=2</script>"


@pytest.fixture()
def central(tmp_path: Path, own_broker: MosquittoBroker) -> Iterator[RunningCentral]:
    """A central on SQLite and its own broker; one anonymous report an hour per address,
    so that the second one shows the page's "too many" message."""
    settings = central_settings(tmp_path, own_broker.url, f"sqlite:///{tmp_path / 'central.db'}")
    settings = settings.model_copy(update={"feedback": FeedbackSettings(address_per_hour=1)})
    yield from run_central(settings, retained_out=True, stations=STATIONS)


def phone(browser: Browser) -> tuple[BrowserContext, Page, list[str]]:
    """A phone-sized page in Chinese, and the script errors it raises."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


def open_pass_page(page: Page, central: RunningCentral) -> None:
    worker = enroll(central.http, scope="station:cs-0001")
    secret = pass_secret(central.http, worker["worker_id"])
    page.goto(f"{central.base_url}/pass/{secret}")
    expect(page.locator("#stations [data-report='cs-0001']")).to_be_visible(timeout=10_000)


def report_from_pass_page(page: Page, category: str, text: str) -> None:
    page.click("#stations [data-report='cs-0001']")
    expect(page.locator("#voice-station")).to_have_value("cs-0001")
    form = page.locator("#voice-form form")
    form.locator("select[name=category]").select_option(category)
    form.locator("textarea").fill(text)
    expect(form.locator(".voice-counter")).to_have_text(f"{len(text)} / 500 字")
    form.locator("button[type=submit]").click()
    expect(form.locator(".voice-message")).to_have_text("谢谢，已提交，驿站会处理。")


def test_a_broken_door_reported_on_the_pass_page_reaches_the_operator_and_comes_back_done(
    browser: Browser, central: RunningCentral
) -> None:
    operator = logged_in_page(browser, central, "operator")
    expect(operator.locator("#live-state")).to_have_text("Live")
    operator.goto(operator.url.split("#")[0] + "#alerts")
    context, page, errors = phone(browser)
    try:
        page.clock.install()
        open_pass_page(page, central)
        report_from_pass_page(page, "door", "门锁卡住了，刷码开不了")
        mine = page.locator("#reports li")
        expect(mine).to_have_count(1)
        expect(mine.first.locator(".state")).to_have_text("已收到")
        expect(mine.first).to_contain_text("门或门锁")

        # Live on the operator's alerts panel, without a reload.
        alert = operator.locator("#alerts tr[data-kind='worker_report']")
        expect(alert).to_have_count(1)
        expect(alert).to_contain_text("Workers reported a problem")
        expect(alert).to_contain_text("door")
        alert.locator("input[name=note]").fill("换了门锁")
        alert.locator("button[data-action=resolve]").click()
        expect(operator.locator("#alerts tr[data-kind='worker_report']")).to_have_count(0)

        # The pass page asks again every 30 s: the worker sees it done.
        page.clock.run_for(31_000)
        expect(mine.first.locator(".state")).to_have_text("已处理")
        expect(mine.first).to_have_attribute("data-status", "done")

        # In the Feedback view the problem is done too, and leads to its (resolved) alert.
        operator.click("a[href='#feedback']")
        problem = operator.locator("#feedback tr[data-kind='problem']")
        expect(problem).to_have_attribute("data-status", "done")
        alert_id = problem.locator("a.alert-link").get_attribute("data-alert")
        problem.locator("a.alert-link").click()
        resolved = operator.locator(f"#alerts tr[data-alert='{alert_id}']")
        expect(resolved).to_have_attribute("data-status", "resolved")
        expect(resolved).to_contain_text("换了门锁")
        assert not errors, errors
    finally:
        context.close()
        operator.context.close()


def test_an_anonymous_suggestion_answered_done_shows_on_the_public_map(
    browser: Browser, central: RunningCentral
) -> None:
    context, page, errors = phone(browser)
    try:
        page.goto(f"{central.base_url}/map")
        card = page.locator("#stations li[data-station='cs-0001']")
        expect(card).to_be_visible(timeout=20_000)
        card.locator("details.report summary").click()
        form = card.locator("details.report form")
        form.locator("input[data-kind=suggestion]").check()
        form.locator("select[name=category]").select_option("power")
        form.locator("textarea").fill("希望多装几个充电口")
        form.locator("button[type=submit]").click()
        # The page solved the proof of work itself before sending.
        expect(form.locator(".voice-message")).to_have_text(
            "谢谢，已提交，驿站会处理。", timeout=30_000
        )
        # A second one from this address within the hour is refused, in the worker's words.
        form.locator("textarea").fill("再来一条")
        form.locator("button[type=submit]").click()
        expect(form.locator(".voice-message")).to_have_text(
            "提交太频繁，请 60 分钟后再试。", timeout=30_000
        )

        operator = logged_in_page(browser, central, "operator")
        operator.click("a[href='#feedback']")
        operator.select_option("#feedback-filter select[name=kind]", "suggestion")
        row = operator.locator("#feedback tr[data-kind='suggestion']")
        expect(row).to_have_count(1)
        # Every district of the registry is offered, also those without a report.
        district = operator.locator("#feedback-filter select[name=region_code] option")
        expect(district).to_have_text(["All", "430102", "430104", "440305"])
        operator.select_option("#feedback-filter select[name=region_code]", "430104")
        expect(operator.locator("#feedback-none")).to_be_visible()
        expect(row).to_have_count(0)
        operator.select_option("#feedback-filter select[name=region_code]", "430102")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("希望多装几个充电口")
        expect(row).to_contain_text("Power or charging")
        row.locator("select[name=status]").select_option("declined")
        row.locator("button[type=submit]").click()
        expect(row.locator(".error")).to_have_text("Declining needs a reason as the reply.")
        row.locator("select[name=status]").select_option("done")
        row.locator("input[name=reply]").fill("已加装 6 个 USB 充电口")
        row.locator("button[type=submit]").click()
        expect(operator.locator("#feedback tr[data-status='done']")).to_have_count(1)
        operator.context.close()

        card.locator("details.changes summary").click()
        change = card.locator("details.changes li.change")
        expect(change).to_have_count(1)
        expect(change.locator(".suggestion")).to_have_text("电源或充电：希望多装几个充电口")
        expect(change.locator(".reply")).to_have_text("驿站回复：已加装 6 个 USB 充电口")
        assert not errors, errors
    finally:
        context.close()


def test_markup_in_a_report_is_shown_as_text_everywhere(
    browser: Browser, central: RunningCentral
) -> None:
    context, page, errors = phone(browser)
    operator = logged_in_page(browser, central, "operator")
    try:
        open_pass_page(page, central)
        report_from_pass_page(page, "other", XSS)
        shown = page.locator("#reports li .report-text")
        expect(shown).to_have_text(XSS)
        assert page.locator("#reports img").count() == 0
        assert page.evaluate("window.__xss") is None

        operator.click("a[href='#feedback']")
        text = operator.locator("#feedback tr[data-kind='problem'] .feedback-text")
        expect(text).to_have_text(XSS)
        assert operator.locator("#feedback img").count() == 0
        assert operator.evaluate("window.__xss") is None
        assert not errors, errors
    finally:
        context.close()
        operator.context.close()


def noisy_png(width: int, height: int) -> bytes:
    """A PNG of random pixels: it does not compress, so it is several megabytes."""
    image = Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_a_photo_over_2_mb_is_shrunk_on_the_phone_and_refusals_are_explained(
    browser: Browser, central: RunningCentral
) -> None:
    photo = noisy_png(2000, 1500)
    assert len(photo) > 2 * 1024 * 1024, "the photo must be over the limit as taken"
    context, page, errors = phone(browser)
    operator = logged_in_page(browser, central, "operator")
    try:
        open_pass_page(page, central)
        form = page.locator("#voice-form form")
        message = form.locator(".voice-message")
        # No signal: said so, and the text stays for the next try.
        page.context.set_offline(True)
        form.locator("textarea").fill("没水了")
        form.locator("button[type=submit]").click()
        expect(message).to_have_text("没有网络，请检查信号后重新提交。")
        page.context.set_offline(False)
        expect(form.locator("textarea")).to_have_value("没水了")
        # A file that is no image: the server refuses it (422), the page says what to check.
        form.locator("input[type=file]").set_input_files(
            files=FilePayload(name="water.jpg", mimeType="image/jpeg", buffer=b"not a picture")
        )
        form.locator("button[type=submit]").click()
        expect(message).to_have_text("提交内容不符合要求：请检查文字（最多 500 字）和照片。")
        assert central.http.get("/api/feedback").json() == []

        form.locator("input[type=file]").set_input_files(
            files=FilePayload(name="water.png", mimeType="image/png", buffer=photo)
        )
        report_from_pass_page(page, "water", "没水了")
        (sent,) = central.http.get("/api/feedback").json()
        assert sent["has_photo"] is True
        kept = central.http.get(f"/api/feedback/{sent['id']}/photo")
        assert kept.status_code == 200
        # Drawn smaller in the browser (a JPEG at most 1600 pixels wide), in proportion.
        width, height = Image.open(io.BytesIO(kept.content)).size
        assert width <= 1600 and abs(width / height - 4 / 3) < 0.01, (width, height)

        operator.click("a[href='#feedback']")
        link = operator.locator(f"#feedback tr[data-feedback='{sent['id']}'] a.photo")
        expect(link).to_have_attribute("href", f"/api/feedback/{sent['id']}/photo")
        expect(link.locator("img")).to_be_visible()
        # The thumbnail is the kept photo itself, loaded with the operator's session.
        operator.wait_for_function(
            f"document.querySelector('#feedback a.photo img').naturalWidth === {width}"
        )
        assert not errors, errors
    finally:
        context.close()
        operator.context.close()
