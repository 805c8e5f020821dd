"""The reports page in Chromium: a district's figures, the busy-hours heat map, the
station list, the workers' reports and suggestions beside the visits, an Excel download
in the page's language, and a refusal shown as said."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from playwright.sync_api import Browser, expect

from tests.reports.data import load
from tests.reports.feedback_data import load_feedback
from tests.support.running_central import RunningCentral
from tests.ui.support import logged_in_page


def test_a_district_report_with_its_heat_map_and_workbook(
    browser: Browser, ui_central: RunningCentral
) -> None:
    load(ui_central.service.store)
    load_feedback(ui_central.service.store)
    page = logged_in_page(browser, ui_central, "viewer")
    page.click("#nav a[href='#reports']")
    expect(page.locator("#reports-view")).to_be_visible()
    form = page.locator("#reports-form")
    form.locator("select[name=scope]").select_option("district")
    form.locator("input[name=id]").fill("430102")
    form.locator("input[name=from]").fill("2026-11-01")
    form.locator("input[name=to]").fill("2026-11-03")
    form.locator("button[type=submit]").click()

    rows = page.locator("#reports-table tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#reports-table tr.total td").nth(1)).to_have_text("9")
    expect(page.locator("#reports-table tr[data-period='2026-11-01'] td").nth(4)).to_have_text(
        "30.0"  # the median stay of Nov 1, 1800 s
    )
    expect(page.locator("#reports-head th")).to_contain_text(["Station full", "Code expired"])
    cells = page.locator("#reports-heat rect.cell")
    expect(cells).to_have_count(7 * 24)
    counts = cells.evaluate_all("cells => cells.map(c => Number(c.dataset.count))")
    assert sum(counts) == 9
    sunday_nine = page.locator("#reports-heat rect[data-day='6'][data-hour='9']")
    expect(sunday_nine).to_have_attribute("data-count", "1")
    expect(page.locator("#reports-stations tr")).to_have_count(2)
    expect(page.locator("#reports-zones")).to_have_text("Asia/Shanghai")

    # Workers' reports: each station's line beside its visits, its categories, the total.
    feedback = page.locator("#reports-feedback")
    cs_a = feedback.locator("tr[data-station='cs-a'][data-category='all'] td")
    expect(cs_a).to_have_text(
        ["五一广场驿站", "cs-a", "All categories", "8", "4", "3", "2.0", "2", "2", "2.0"]
    )
    expect(feedback.locator("tr[data-station='cs-a']")).to_have_count(1 + 5)
    expect(
        feedback.locator("tr[data-station='cs-b'][data-category='door'] td").nth(2)
    ).to_have_text("Door or lock")
    whole = feedback.locator("tr.total td")
    expect(whole).to_have_text(
        ["430102", "", "All categories", "9", "5", "3", "2.0", "4", "3", "2.0"]
    )
    expect(feedback.locator("tr[data-station='']")).to_have_count(1 + 7)

    # The page in Chinese: headers redrawn, and the workbook speaks it too.
    page.select_option("#lang", "zh-CN")
    expect(page.locator("#reports-head th").first).to_have_text("周期起始")
    expect(page.locator("#reports-feedback-head th").nth(6)).to_have_text("解决时长中位数（小时）")
    expect(whole.nth(2)).to_have_text("全部类别")
    with page.expect_download() as download:
        page.click("#reports-xlsx")
    book = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    sheet = book["报表"]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[3][2] == "服务人次"
    (total,) = [row for row in values if row[1] == "合计" and row[0] == "430102"]
    assert total[2] == 9
    feedback_rows = list(book["报告和建议"].iter_rows(values_only=True))
    assert feedback_rows[1][:7] == ("五一广场驿站", "cs-a", "全部类别", 8, 4, 3, 2.0)

    # A refused range says why, and hides the last figures.
    form.locator("input[name=from]").fill("2024-01-01")
    form.locator("button[type=submit]").click()
    expect(page.locator("#reports-message")).to_contain_text("13")
    expect(page.locator("#reports-result")).to_be_hidden()
    page.context.close()
