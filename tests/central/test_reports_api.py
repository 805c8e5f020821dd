"""`/api/reports` and its CSV and XLSX exports on the real central, on both databases:
roles, refusals of bad input, and exports whose figures are the API's."""

from __future__ import annotations

import csv
import io
import json
from importlib import resources
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from dashboard.core.feedback_figures import CATEGORIES
from tests.reports.data import load
from tests.reports.feedback_data import load_feedback
from tests.support.operators import add_operator, bearer
from tests.support.running_central import RunningCentral

DISTRICT = {"scope": "district", "id": "430102", "from": "2026-11-01", "to": "2026-11-03"}


def words(language: str) -> dict[str, str]:
    text = resources.files("dashboard").joinpath(f"i18n/{language}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)
    return data


@pytest.fixture()
def central(any_central: RunningCentral) -> RunningCentral:
    load(any_central.service.store)
    load_feedback(any_central.service.store)
    return any_central


def figures_of(report: dict[str, Any]) -> list[list[object]]:
    """Each period's and the total's figures as the exports show them (stays in minutes)."""
    rows = [*report["rows"], report["total"]]
    reasons = report["reasons"]

    def minutes(seconds: int | None) -> float | None:
        return None if seconds is None else round(seconds / 60, 1)

    return [
        [
            row["visits"],
            row["unique_workers"],
            row["stays"],
            minutes(row["stay_median_s"]),
            minutes(row["stay_p90_s"]),
            row["refused"],
            *(row["refused_by_reason"].get(reason, 0) for reason in reasons),
        ]
        for row in rows
    ]


def test_a_viewer_reads_a_report_and_nobody_else(central: RunningCentral) -> None:
    viewer = bearer(central.http, *add_operator(central.service.operators, "viewer"))
    answer = central.http.get("/api/reports", params={**DISTRICT, "period": "day"}, headers=viewer)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert [row["period"] for row in report["rows"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert (report["total"]["visits"], report["total"]["unique_workers"]) == (9, 5)
    assert report["total"]["refused_by_reason"] == {"full": 2, "expired": 1}
    assert [s["station_id"] for s in report["stations"]] == ["cs-a", "cs-b"]
    assert len(report["heat_map"]) == 7 and {len(day) for day in report["heat_map"]} == {24}
    with httpx.Client(base_url=central.base_url) as anonymous:
        refused = anonymous.get("/api/reports", params=DISTRICT)
    assert refused.status_code == 401


BAD_INPUT = [
    ({"from": "2026-11-03", "to": "2026-11-01"}, 422, "from (2026-11-03) is after to"),
    ({"from": "2025-11-01", "to": "2026-12-01"}, 422, "at most 13 months at once"),
    ({"scope": "station", "id": "cs-nowhere"}, 404, "no station 'cs-nowhere'"),
    ({"id": "430199"}, 404, "no station is in district '430199'"),
    ({"id": "Furong"}, 422, "six-digit GB/T 2260 code"),
    ({"period": "year"}, 422, "period"),
    ({"from": "2026-11-31"}, 422, "from"),
    ({"scope": "city"}, 422, "scope"),
    ({"from": "0001-01-01", "to": "0001-01-02"}, 422, "dates must be from 1970-01-01"),
    ({"from": "9999-12-30", "to": "9999-12-31"}, 422, "dates must be from 1970-01-01"),
]
"""(parameters over `DISTRICT`, the status, what the answer says)."""


def test_bad_input_is_refused_with_a_reason(central: RunningCentral) -> None:
    for params, status, says in BAD_INPUT:
        for path in ("/api/reports", "/api/reports.csv", "/api/reports.xlsx"):
            answer = central.http.get(path, params={**DISTRICT, **params})
            assert answer.status_code == status, (path, params, answer.text)
            assert says in answer.text, (params, answer.text)


def test_thirteen_months_are_allowed(central: RunningCentral) -> None:
    answer = central.http.get(
        "/api/reports",
        params={**DISTRICT, "from": "2025-11-01", "to": "2026-11-30", "period": "month"},
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["rows"]) == 13
    # Besides the 9 of Nov 1-3: cs-a's w7 on Oct 31 and w9 on Nov 4.
    assert answer.json()["total"]["visits"] == 11


def test_the_workbook_holds_the_api_figures(central: RunningCentral) -> None:
    params = {**DISTRICT, "period": "day"}
    report = central.http.get("/api/reports", params=params).json()
    answer = central.http.get("/api/reports.xlsx", params={**params, "lang": "zh-CN"})
    assert answer.status_code == 200, answer.text
    assert "report-district-430102" in answer.headers["content-disposition"]
    book = load_workbook(io.BytesIO(answer.content))
    zh = words("zh-CN")
    sheet = book[zh["reports.sheet.report"]]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert "430102" in str(rows[0][0]) and "Asia/Shanghai" in str(rows[0][0])
    header = rows[3]
    assert header[:3] == [
        zh["reports.col.name"],
        zh["reports.col.period"],
        zh["reports.col.visits"],
    ]
    assert header[8:] == [zh["reason.full"], zh["reason.expired"]]
    body = rows[4 : 4 + len(report["rows"]) + 1]
    assert [row[1] for row in body] == [*(r["period"] for r in report["rows"]), zh["reports.total"]]
    assert [row[2:] for row in body] == figures_of(report)
    stations = rows[4 + len(body) :]
    assert [(row[0], row[2], row[3], row[7]) for row in stations] == [
        (s["name"], s["visits"], s["unique_workers"], s["refused"]) for s in report["stations"]
    ]
    hours = book[zh["reports.sheet.hours"]]
    heat = [list(row[1:]) for row in hours.iter_rows(min_row=2, values_only=True)]
    assert heat == report["heat_map"]


def test_the_csv_has_a_bom_and_english_headers(central: RunningCentral) -> None:
    params = {"scope": "station", "id": "cs-a", "from": "2026-11-01", "to": "2026-11-03"}
    report = central.http.get("/api/reports", params={**params, "period": "week"}).json()
    answer = central.http.get("/api/reports.csv", params={**params, "period": "week", "lang": "en"})
    assert answer.status_code == 200, answer.text
    assert answer.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    # The report's table, an empty line, the workers' reports and suggestions.
    rows = lines[: lines.index([])]
    en = words("en")
    assert rows[0][:4] == [
        en["reports.col.name"],
        en["reports.col.period"],
        en["reports.col.visits"],
        en["reports.col.unique"],
    ]
    assert [row[0] for row in rows[1:]] == ["五一广场驿站"] * 3
    assert [row[1] for row in rows[1:]] == ["2026-10-26", "2026-11-02", en["reports.total"]]
    as_text = [["" if v is None else str(v) for v in row] for row in figures_of(report)]
    assert [row[2:] for row in rows[1:]] == as_text
    feedback = lines[len(rows) + 1 :]
    assert feedback[0][:4] == [
        en["reports.col.name"],
        en["reports.station_id"],
        en["feedback.category"],
        en["reports.col.visits"],
    ]
    assert feedback[1] == [
        "五一广场驿站",
        "cs-a",
        en["reports.fb.all"],
        "8",
        "4",
        "3",
        "2.0",
        "2",
        "2",
        "2.0",
    ]
    assert len(feedback) == 2 + len(report["feedback"]["categories"])


def feedback_of(report: dict[str, Any], name: str) -> list[list[object]]:
    """The feedback section's rows as the workbook shows them, categories by key."""

    def hours(seconds: int | None) -> float | None:
        return None if seconds is None else round(seconds / 3600, 1)

    def line(
        name: str, station_id: str | None, label: str, visits: int | None, part: dict[str, Any]
    ) -> list[object]:
        cells: list[object] = [name, station_id, label, visits]
        for kind in ("problems", "suggestions"):
            handled = part[kind]
            cells += [handled["made"], handled["closed"], hours(handled["median_s"])]
        return cells

    made = report["feedback"]
    rows = []
    for station in made["stations"]:
        rows.append(line(station["name"], station["station_id"], "all", station["visits"], station))
        rows += [
            line(station["name"], station["station_id"], c["category"], None, c)
            for c in station["categories"]
        ]
    rows.append(line(name, None, "all", made["visits"], made))
    rows += [line(name, None, c["category"], None, c) for c in made["categories"]]
    return rows


def test_the_workbook_holds_the_api_feedback_figures(central: RunningCentral) -> None:
    params = {**DISTRICT, "period": "week"}
    report = central.http.get("/api/reports", params=params).json()
    assert report["feedback"]["problems"] == {"made": 5, "closed": 3, "median_s": 7200}
    answer = central.http.get("/api/reports.xlsx", params={**params, "lang": "zh-CN"})
    assert answer.status_code == 200, answer.text
    book = load_workbook(io.BytesIO(answer.content))
    zh = words("zh-CN")
    rows = [list(row) for row in book[zh["reports.sheet.feedback"]].iter_rows(values_only=True)]
    assert rows[0] == [
        zh[key]
        for key in (
            "reports.col.name",
            "reports.station_id",
            "feedback.category",
            "reports.col.visits",
            "reports.fb.problems",
            "reports.fb.resolved",
            "reports.fb.resolve_median",
            "reports.fb.suggestions",
            "reports.fb.answered",
            "reports.fb.answer_median",
        )
    ]
    labels = {zh["reports.fb.all"]: "all"}
    labels |= {zh[f"feedback.category.{c}"]: c for c in CATEGORIES}
    shown = [[*row[:2], labels[str(row[2])], *row[3:]] for row in rows[1:]]
    assert shown == feedback_of(report, "430102")
    # cs-a: 8 visits beside 4 problems (3 resolved, median 2 hours) and 2 suggestions.
    assert rows[1] == ["五一广场驿站", "cs-a", zh["reports.fb.all"], 8, 4, 3, 2.0, 2, 2, 2.0]
