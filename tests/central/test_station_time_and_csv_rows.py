"""The pure parts of the operator console: station days, local times, readable CSV rows."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from dashboard.core.csv_export import BOM, csv_text, readable_entry_row, readable_header
from dashboard.core.station_time import FALLBACK_ZONE, day_start, local_text, zone_of


def test_a_station_day_starts_at_its_own_midnight() -> None:
    # 17:30 UTC is 01:30 the next day in Shanghai, still the same day in London.
    now = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)
    assert day_start("Asia/Shanghai", now).astimezone(UTC) == datetime(
        2026, 12, 1, 16, 0, tzinfo=UTC
    )
    assert day_start("Europe/London", now).astimezone(UTC) == datetime(
        2026, 12, 1, 0, 0, tzinfo=UTC
    )
    assert day_start("Asia/Urumqi", now).astimezone(UTC) == datetime(
        2026, 11, 30, 18, 0, tzinfo=UTC
    )


def test_an_unknown_zone_falls_back_rather_than_failing() -> None:
    assert zone_of("Mars/Olympus") == zone_of(FALLBACK_ZONE) == zone_of(None)


def test_a_stored_time_reads_as_the_station_clock() -> None:
    assert local_text("2026-12-01T16:05:09.123Z", "Asia/Shanghai") == "2026-12-02 00:05:09"
    assert local_text("2026-12-01T16:05:09.123Z", "Europe/Berlin") == "2026-12-01 17:05:09"
    assert local_text(None, "Asia/Shanghai") == ""
    assert local_text("not a time", "Asia/Shanghai") == "not a time"


@dataclass(frozen=True)
class Entry:
    at: str = "2026-12-01T16:05:09.123Z"
    time_zone: str = "Asia/Shanghai"
    station_id: str = "cs-0001"
    station_name: str | None = "五一广场驿站"
    door_id: str = "main"
    direction: str = "in"
    worker_id: str | None = "w1001"
    worker_name: str | None = "=李明"
    credential: str = "qr"
    decision: str = "denied"
    reason: str = "full"
    event_id: str = "e-1"


ZH = {
    "csv.at": "时间",
    "csv.station_name": "驿站",
    "direction.in": "进",
    "decision.denied": "拒绝",
    "reason.full": "驿站已满",
    "credential.qr": "二维码",
}


def test_a_readable_row_has_local_time_names_and_translated_values() -> None:
    row = readable_entry_row(Entry(), ZH)
    assert row[:4] == ["2026-12-02 00:05:09", "Asia/Shanghai", "五一广场驿站", "cs-0001"]
    assert row[5] == "进" and row[8] == "二维码" and row[9] == "拒绝" and row[10] == "驿站已满"
    # A value without a word in the catalogue stays as it is rather than vanishing.
    assert readable_entry_row(Entry(reason="brand_new"), ZH)[10] == "brand_new"
    header = readable_header(ZH)
    assert header[0] == "时间" and header[2] == "驿站" and header[-1] == "csv.event_id"
    text = BOM + csv_text([header, row])
    assert text.encode("utf-8")[:3] == b"\xef\xbb\xbf", "Excel reads UTF-8 only after a BOM"
    rows = list(csv.reader(io.StringIO(text.encode("utf-8").decode("utf-8-sig"))))
    assert rows[1][6] == "'=李明", "a name is still neutralised as a formula"
