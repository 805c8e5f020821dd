"""CSV enrollment: a good file is imported whole; a file with any bad row imports nothing
and says what is wrong with each row."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dashboard.services.worker_csv import parse_workers_csv
from tests.support.running_central import RunningCentral
from tests.workers.support import enroll

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "workers.csv"
CSV = {"Content-Type": "text/csv"}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def import_csv(central: RunningCentral, text: str | bytes) -> tuple[int, dict[str, object]]:
    data = text.encode() if isinstance(text, str) else text
    response = central.http.post("/api/workers/import", content=data, headers=CSV)
    return response.status_code, response.json()


def test_the_documented_example_file_imports_whole(central: RunningCentral) -> None:
    status, body = import_csv(central, EXAMPLE.read_bytes())
    assert status == 201, body
    assert body["imported"] == 4
    workers = central.http.get("/api/workers").json()
    assert [w["display_name"] for w in workers] == ["李明", "王芳", "张伟", "赵强"]
    assert workers[1]["groups"] == ["delivery", "night"]
    assert workers[3]["card_numbers"] == ["87654321", "87654322"]
    assert workers[3]["valid_from"] == "2026-03-01T00:00:00Z"  # 08:00 in Shanghai


def test_every_bad_row_is_reported_and_nothing_is_imported(central: RunningCentral) -> None:
    text = (
        "display_name,platform,valid_from,valid_until,scope,card_numbers\n"
        "好人,meituan,,,any,100\n"  # row 2: fine
        ",eleme,,,any,\n"  # row 3: no name
        "坏平台,uber,,,any,\n"  # row 4: unknown platform
        "窗口,didi,2026-05-01,2026-04-01,any,\n"  # row 5: window ends before it starts
        "范围,didi,,,city:changsha,\n"  # row 6: bad scope
        "卡号,didi,,,any,12ab\n"  # row 7: not a card number
        "重复,didi,,,any,100\n"  # row 8: card also on row 2
        "日期,didi,yesterday,,any,\n"  # row 9: not a date
    )
    status, body = import_csv(central, text)
    assert status == 422
    assert "nothing was imported" in str(body["detail"])
    errors = body["errors"]
    assert isinstance(errors, list)
    found = {(e["row"], e["column"]) for e in errors}
    assert {
        (3, "display_name"),
        (4, "platform"),
        (5, "valid_until"),
        (6, "scope"),
        (7, "card_numbers"),
        (9, "valid_from"),
    } <= found
    assert all(e["row"] != 2 for e in errors)
    assert central.http.get("/api/workers").json() == []


def test_conflicts_with_enrolled_workers_are_reported_by_row(central: RunningCentral) -> None:
    holder = enroll(central.http, card_numbers=["555"])
    text = "display_name,platform,card_numbers\n甲,meituan,556\n乙,meituan,555\n"
    status, body = import_csv(central, text)
    assert status == 422
    assert body["errors"] == [
        {
            "row": 3,
            "column": "card_numbers",
            "problem": f"555 already belongs to {holder['worker_id']}",
        }
    ]
    assert len(central.http.get("/api/workers").json()) == 1


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"display_name,platform\n", "only a header"),
        (b"name,platform\nx,didi\n", "unknown column 'name'"),
        (b"display_name\nx\n", "required column is missing"),
        (b"display_name,platform\n\xff\xfe,didi\n", "neither UTF-8 nor Chinese GBK"),
        (b"display_name,platform\na,didi,extra\n", "3 fields but 2 columns"),
    ],
)
def test_whole_file_problems(central: RunningCentral, data: bytes, words: str) -> None:
    status, body = import_csv(central, data)
    assert status == 422
    assert words in str(body["errors"])


def test_a_multipart_upload_is_refused_with_how_to_send_it(central: RunningCentral) -> None:
    response = central.http.post(
        "/api/workers/import", files={"file": ("w.csv", b"display_name,platform\na,didi\n")}
    )
    assert response.status_code == 415
    assert "text/csv" in response.json()["detail"]


def test_a_spreadsheet_byte_order_mark_and_blank_lines_are_fine() -> None:
    data = "\ufeffdisplay_name,platform\r\n甲,didi\r\n\r\n,\r\n".encode()
    parsed = parse_workers_csv(data, SHANGHAI)
    assert parsed.problems == []
    assert [w.display_name for w in parsed.workers] == ["甲"]
    assert parsed.rows == [2]
